// Pieces of SQL text the store's statement files share.
#pragma once

// A timestamp column as milliseconds since the epoch, as every reply carries times.
#define MS(col) "(extract(epoch from " col ") * 1000)::bigint"

// A provider's refund report that contradicts a recorded refund result (app/refund_notice.cpp
// writes the reason; migration 020 indexes it), and how long after it a slip stays in conflict:
// reconcile lists it CONFLICT, and new refunds of it wait, for exactly the same reports.
#define REFUND_CONFLICT_RE "'^conflict: refund '"
#define REFUND_CONFLICT_WEEK "interval '7 days'"
// Inbox row `n`, a refund conflict, is still open: the refund it names is not (any longer) in the
// state the provider said. The operator's correction of a FAIL refund the provider said was
// refunded (`refund finish R ok`, migration 030's orderpay_refund_correct) makes the books agree
// with the provider, so the conflict no longer lists the slip CONFLICT nor holds its new refunds;
// the row itself stays as it was, kept (NOTIFY_KEPT), the record of what happened. Read from the
// reason's own words (the refund, what was said), so no column is needed: a reason of another
// form (another refund under ours) names no refund here and stays open.
#define REFUND_CONFLICT_OPEN(n)                                                                 \
    "NOT EXISTS (SELECT 1 FROM refunds rc WHERE rc.id = substring(" n                           \
    ".reason from '^conflict: refund "                                                          \
    "([^ ]+) (?:answered|notified|confirmed) (?:OK|FAIL), recorded ') AND rc.st = substring(" n \
    ".reason "                                                                                  \
    "from '^conflict: refund [^ ]+ (?:answered|notified|confirmed) (OK|FAIL), recorded '))"

// The reasons of the provider reports `orderpay reconcile` lists a slip for (MISMATCH: another
// amount or currency reported paid; PAID_AGAIN: a paid slip reported paid under another
// transaction; OUTSIDE: a refund orderpay did not make), written by app/notify and store/settle.
// MISMATCH is anchored to exactly what writes one: a signed message's business check, or the
// settlement's own detail, bare or after the words app/notify_confirm puts before an answer of
// PayPal's (each with no blank inside what it quotes). A refusal quoting a sender's text (a
// claimed sign_type, an auth-algo header, a refund id) must never read as one: unanchored, one
// did, from anyone knowing a slip id, and hid a genuine report's figures behind its own (review
// s28-attack #1, s28b-attack #1). Migration 025's index holds this text exactly.
#define MISMATCH_RE                                                                                    \
    "'^((amount|currency) check failed: |(completed: |confirmed by query( \\(capture [^ ]*, notified " \
    "[^ ]*\\))?: |notified [^ ]*, but paid by query: )?amount/currency [^ ]* [^ ]* != slip )'"
#define MISMATCH_REPORT(n) "(" n ".verdict = 'rejected' AND " n ".reason ~ " MISMATCH_RE ")"
#define PAID_AGAIN_RE "'^slip already OK with transaction '"
#define OUTSIDE_RE "'^no refund of ours named '"
// The method of an inbox row that no request brought: what our own order query found, a payment
// refunded at the provider before orderpay recorded it (app/query_refunded.cpp). Its reason is an
// OUTSIDE report's, so everything that reads those reads it.
#define QUERY_REFUNDED_METHOD "'QUERY'"
// The method of an inbox row that no request brought either: a provider's answer to orderpay's own
// refund request or query that contradicts the refund's recorded result (app/refund.cpp). Its
// reason is a refund conflict's (REFUND_CONFLICT_RE), so everything that reads those reads it;
// migration 029 keeps one such row per reason and slip. Only GET and POST are ever stored for a
// request (handlers/dispatch), so no sender can write a row of this method.
#define ANSWER_CONFLICT_METHOD "'ANSWER'"
// A payment its provider took back after it was paid (PayPal's capture REVERSED: a chargeback the
// buyer won), confirmed by our own query (app/notify_reversal.cpp writes it, after the capture id
// of our record, which has no blank). An OUTSIDE report too, so migration 017's index finds it and
// the inbox keeps it for good; reconcile lists it CHARGEBACK, and ship and done refuse the order.
// Its words in full up to what PayPal's record said (the capture id, letters and digits, then
// "the provider's"): a refund report a previous release wrote with a free-text name raw (a PayPal
// invoice_id reading "x: chargeback: …", review s30b F1, s30c #1) is no chargeback.
#define CHARGEBACK_RE "'^no refund of ours named [0-9A-Za-z]+: chargeback: the provider''s '"
// Inbox row `n` is a confirmed chargeback. Its verdict is tested IS TRUE (never NULL: the same
// rows) so that, with the row's slip given, the planner reads the slip's rows by their index
// (notifications_slip): on a new shop's empty inbox a generic plan took a (verdict, ct) index
// instead, which reads every `ignored` row of the inbox, and CRC32 twins make any number of those
// (tests/integration/test_plans).
#define CHARGEBACK_ROW(n) "(" n ".verdict = 'ignored') IS TRUE AND " n ".reason ~ " CHARGEBACK_RE
// Whether the payment order `o` is paid with was taken back (its paying slip's chargeback, kept
// in the inbox for good); and when orderpay confirmed it first, in epoch ms or NULL, as every
// operator's order read carries it (chargeback_at, OPERATOR_ORDER_COLS).
#define CHARGEBACK_OF(o) \
    "EXISTS (SELECT 1 FROM notifications n WHERE n.slip_id = " o ".pay_id AND " CHARGEBACK_ROW("n") ")"
#define CHARGEBACK_AT_OF(o)                                                 \
    "(SELECT " MS("min(n.ct)") " FROM notifications n WHERE n.slip_id = " o \
                               ".pay_id AND " CHARGEBACK_ROW("n") ") AS chargeback_at"
// A notification whose signature could not be checked when it came (app/notify.cpp writes the
// reason: PayPal's certificate not downloadable then): kept `error`, never verified.
#define UNCHECKED_RE "'^not checked now: '"
// A rejected notification that was never verified (unreadable, its signature not ours, or, from a
// provider whose signature does not bind the message (PayPal), refused on what it claims):
// app::Decide writes the prefix.
#define UNVERIFIED_RE "'^unverified: '"
// A browser's return (Alipay's GET return, PayPal's return and cancel), whatever came of it but a
// settlement: anyone may send or replay one, and it is never a provider's report (app::Decide).
#define RETURN_RE "'^return: '"
// A webhook whose provider call was paced (app/notify_confirm.cpp, app/notify_reversal.cpp:
// another message for the slip asked a moment before): nothing was done on its word, and a CRC32
// twin makes any number of them.
#define PACED_RE "'^paced: '"
// A webhook from a provider whose word is only a cue (PayPal) acknowledged on its own word and our
// rows, its provider's answer confirming nothing (app::MarkForRetention: a slip already paid or no
// longer open, a refund already finished, no slip of ours, no payment): a CRC32 twin makes any
// number of them, and the slip's or refund's own record is what counts (review s28-diff #2).
#define UNCONFIRMED_RE "'^unconfirmed: '"
// A stored notification that is such a report, or a refund conflict: the inbox keeps it whatever
// its age (store::PruneNotifications), since it is the only record of money in doubt.
#define NOTIFY_KEPT(n)                                                                                    \
    "(" MISMATCH_REPORT(n) " OR (" n ".verdict = 'rejected' AND " n ".reason ~ " PAID_AGAIN_RE ") OR (" n \
                           ".verdict = 'ignored' AND (" n ".reason ~ " OUTSIDE_RE " OR " n                \
                           ".reason ~ " REFUND_CONFLICT_RE ")))"

// For a WAIT slip, the age of its code at the most (store::SlipRow::code_age_ms), in ms by the
// database's clock, read in the statement that reads the slip, so no view costs a round trip more
// or trusts a worker's clock. Counted from the slip's creation (ct, before its first provider
// call), not from when its code was recorded (lm): a slip sent again under the same id long after
// (app/resend: its sender died after the provider call) gets back the code its provider issued
// then, which lm would count as new for another lifetime (review s33-113 F2). lm when older (a row
// aged by hand), so the count is never less than either.
#define SLIP_CODE_AGE(p) "(extract(epoch from now() - least(" p ".ct, " p ".lm)) * 1000)::bigint"

// A slip's columns under s_ names, for a statement that also returns its order's or a merchant's.
#define PREFIXED_SLIP_COLS(p)                                                                               \
    p ".id AS s_id, " p ".order_id AS s_order_id, " p ".site_id AS s_site_id, " p ".pay_tp AS s_pay_tp, " p \
      ".provider AS s_provider, " p ".merchant_id AS s_merchant_id, " p ".amount AS s_amount, " p           \
      ".currency AS s_currency, " p ".st AS s_st, " p ".re_tp AS s_re_tp, " p ".re_obj AS s_re_obj, " p     \
      ".provider_txn_id AS s_provider_txn_id, " p ".superseded AS s_superseded, " p                         \
      ".refund_needed AS s_refund_needed, " p ".note AS s_note, " p                                         \
      ".provider_ref AS s_provider_ref, " SLIP_CODE_AGE(p) " AS s_code_age_ms"

// An order's refunds ride along in every order read (no extra round trip): what went back (the
// OK ones) and every refund as a JSON array in creation order. Both subqueries use refunds_order.
#define REFUND_COLS_OF(o) \
    "(SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.order_id = " o ".id AND r.st = 'OK') "  \
    "AS refunded, (SELECT coalesce(json_agg(json_build_object('id', r.id, 'amount', r.amount, 'st', r.st, " \
    "'reason', r.reason, 'ct', " MS("r.ct") ", 'ok_at', " MS("r.ok_at") ") ORDER BY r.ct, r.id), '[]')::text " \
    "FROM refunds r WHERE r.order_id = " o ".id) AS refunds_json"

#define ORDER_COLS \
    "o.id, o.site_id, o.tp, o.title, o.note, o.buyer_store, o.buyer_id, o.pro_c, o.total, o.freight, "       \
    "o.discount, o.price, o.fee, o.currency, o.pay_tp, o.pay_id, o.seller, o.or_st, o.contact::text AS contact, " \
    MS("o.ct") " AS ct, " MS("o.lm") " AS lm, " MS("o.wt_at") " AS wt_at, " MS(             \
        "o.ok_at") " AS ok_at, " MS("o.fa_at") " AS fa_at, " MS("o.sp_at") " AS sp_at, " MS(                 \
        "o.dn_at") " AS dn_at, " MS("o.expi") " AS expi, (o.expi < now()) AS expired, " MS(                  \
        "o.rf_at") " AS rf_at, " REFUND_COLS_OF("o")
// The order's refund_needed slips (a late or double payment it does not count: money held, owed
// back), oldest first, each with its refunds as REFUND_COLS_OF shows the order's, as one JSON
// array: the back office sees them with the order, and admin/orders' page stays one statement.
// A subplan per order on pay_slips_order (its few slips) that finds none for almost every order.
#define HELD_SLIPS_OF(o) \
    "(SELECT coalesce(json_agg(json_build_object('slip', s.id, 'pay_tp', s.pay_tp, 'provider', "           \
    "s.provider, 'amount', s.amount, 'note', s.note, 'paid_at', " MS("s.paid_at") ", 'refunds', "            \
    "(SELECT coalesce(json_agg(json_build_object('id', r.id, 'amount', r.amount, 'st', r.st, 'reason', "     \
    "r.reason, 'ct', " MS("r.ct") ", 'ok_at', " MS("r.ok_at") ") ORDER BY r.ct, r.id), '[]') FROM refunds r " \
    "WHERE r.slip_id = s.id)) ORDER BY s.ct, s.id), '[]')::text FROM pay_slips s WHERE s.order_id = " o     \
    ".id AND s.refund_needed) AS refund_needed_json"
// What of refund_needed slip `s` went back: its OK refunds (a refund NEW, PROCESSING or FAIL has
// not given the buyer anything yet). A held slip owes money while its amount is more than this
// (admin/orders?refund_needed=1, order list --refund-needed).
#define SLIP_REFUNDED_OK(s) \
    "(SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.slip_id = " s ".id AND r.st = 'OK')"
// Refund_needed slip `s` still owes the buyer something: what its OK refunds gave back is short of
// its amount, and its provider did not take the payment back (a chargeback on record: the buyer
// has the money, a refund of it is refused, and reconcile lists it CHARGEBACK, never REFUND: the
// same rule as reconcile's `owed`, review s36 helper-125 #2). The chargeback is read through the
// slip's own inbox rows (CHARGEBACK_ROW), after the cheaper sum; OFFSET 0 keeps it a subplan run
// per held slip: pulled up into an anti join, a generic plan on an empty inbox read the whole
// inbox (tests/integration/test_plans).
#define SLIP_OWES(s) \
    s ".refund_needed AND " s ".amount > " SLIP_REFUNDED_OK(s) " AND NOT EXISTS (SELECT 1 FROM " \
      "notifications n WHERE n.slip_id = " s ".id AND " CHARGEBACK_ROW("n") " OFFSET 0)"
// ORDER_COLS, chargeback_at and the refund_needed slips, for the views an operator reads
// (admin/*, the CLI): an inbox read per order, which pay/check's one statement (issue #8's
// benchmarked path: about 10 % of pgbench of it, a subplan started on every execution) and
// pay/buy's do not carry.
#define OPERATOR_ORDER_COLS ORDER_COLS ", " CHARGEBACK_AT_OF("o") ", " HELD_SLIPS_OF("o")

// An order line under i_ names (check_view, order_view, order_views).
#define ITEM_COLS(i)                                                                      \
    i ".product_id AS i_product_id, " i ".title AS i_title, " i ".amount AS i_amount, " i \
      ".price AS i_price, " i ".subtotal AS i_subtotal"

// An order's current slip: the one it pays with, or before a slip is chosen its newest not superseded.
#define CURRENT_SLIP_OF(o)                                                                    \
    "LEFT JOIN LATERAL (SELECT * FROM pay_slips s WHERE s.order_id = " o ".id AND (s.id = " o \
    ".pay_id OR (" o ".pay_id IS NULL AND NOT s.superseded)) ORDER BY s.ct DESC LIMIT 1) sl ON true "
