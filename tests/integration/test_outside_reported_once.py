"""A refund made outside orderpay is reported once, whichever tells of it first: its own
notification or the order query that finds the payment refunded (review s30-diff M1), under a name
that does not read back as it was (L1), and PayPal twins naming a reported refund ask nothing and
go with the unconfirmed rows (L2)."""
import secrets

import pytest

from conftest import STACK, cli, psql
from test_hostile_notify import forged_twin, paypal_webhook, post_paypal, refund_event, signed_paypal
from test_outside_refunds import CASES, key_of, notify, outside_refund
from test_paypal_refund import capture_of, paid_paypal_order, paypal_token, pp_refund
from test_paypal_twin_retention import paypal_asked
from test_refund import admin
from test_query_refunded import check, console_refund, lost_payment, outside_rows


@pytest.mark.parametrize("prov", ["wx", "wx3"])
def test_notification_first_then_query_reports_the_refund_once(prov):
    site, order = lost_payment(prov)
    rid = console_refund(prov, order, 100)
    # The console refund's notification comes first (sent at once; the payment's was lost).
    assert notify(prov, order, rid) == [CASES[prov][3]]
    first = outside_rows(order["pay_id"])
    assert len(first) == 1 and first[0].startswith("POST|no refund of ours named "), first
    # Then pay/check asks the order (REFUND): it settles, and reports nothing twice (WeChat v3's
    # answer names no refund: the report there stands for it).
    assert check(site, order)["or_st"] in ("OK", "DN")
    assert outside_rows(order["pay_id"]) == first
    # The refund told again (a resend) is a duplicate of the report, not a second one.
    assert notify(prov, order, rid) == [CASES[prov][3]]
    assert outside_rows(order["pay_id"]) == first


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_a_paypal_refund_named_with_a_blank_is_reported_once():
    site, order = lost_payment("paypal")
    rid = "RMA " + secrets.token_hex(4)  # an invoice number typed in PayPal's console
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % order["pay_id"])
    st, got, raw, _ = pp_refund(capture, {"invoice_id": rid, "amount": {"value": "1.00", "currency_code": "USD"}},
                                secrets.token_hex(6), paypal_token())
    assert st == 201, raw
    assert check(site, order)["or_st"] in ("OK", "DN")
    rows = outside_rows(order["pay_id"])
    assert len(rows) == 1 and rows[0].startswith("QUERY|no refund of ours named %s,%s:" % (rid.replace(" ", "%20"),
                                                                                           got["id"])), rows
    headers, body = signed_paypal(dict(refund_event(rid, got["id"], capture, "1.00", "COMPLETED", order["pay_id"]),
                                       event_version="1.0", create_time="2026-12-01T12:00:00Z", summary="late"))
    assert post_paypal(headers, body) == 200
    assert outside_rows(order["pay_id"]) == rows


def twins_leave_nothing_kept(slip, rid, pp_rid, capture):
    """Five CRC32 twins of a genuine transmission rewritten as refund `rid`'s REFUNDED: no PayPal
    query, no second report, and every row they made gone with the unverified rows."""
    n0 = int(psql("SELECT max(id) FROM notifications"))
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    asked = paypal_asked("/v2/payments/refunds/")
    for _ in range(5):
        assert post_paypal(headers, forged_twin(genuine, refund_event(rid, pp_rid, capture, "1.00", "COMPLETED",
                                                                       slip))) == 200
    assert paypal_asked("/v2/payments/refunds/") == asked
    made = psql("SELECT id || '|' || verdict || '|' || reason FROM notifications WHERE id > %d AND slip_id = '%s' "
                "ORDER BY id" % (n0, slip)).splitlines()
    assert len(made) == 5 and all("|duplicate|unconfirmed: refund " in r for r in made), made
    ids = ",".join(r.split("|")[0] for r in made)
    psql("UPDATE notifications SET ct = ct - interval '30 days' WHERE id IN (%s)" % ids)
    cli("inbox", "prune", "--rejected-older-than", "7d")
    assert psql("SELECT count(*) FROM notifications WHERE id IN (%s)" % ids) == "0"


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_twins_of_a_refund_the_query_reported_ask_nothing_and_are_not_kept():
    site, order = lost_payment("paypal")
    rid = console_refund("paypal", order, 100)
    check(site, order)
    slip = order["pay_id"]
    rows = outside_rows(slip)
    assert len(rows) == 1 and rows[0].startswith("QUERY|"), rows
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % slip)
    body = psql("SELECT convert_from(body, 'UTF8') FROM notifications WHERE slip_id = '%s' AND method = 'QUERY'" % slip)
    pp_rid = body.split("refund %s," % rid)[1].split(" ")[0]  # the body names it: "refund OURS,PAYPALS of …"
    twins_leave_nothing_kept(slip, rid, pp_rid, capture)
    assert outside_rows(slip) == rows


def console_paypal_refund(slip, capture):
    """A refund of 1.00 USD of `capture` made in PayPal's console (not by orderpay), and its
    genuine webhook signed as PayPal signs it: (its invoice_id, PayPal's refund id, headers, body)."""
    rid = "console" + secrets.token_hex(6)
    pp_id = console_pp(capture, rid)
    headers, body = signed_paypal(dict(refund_event(rid, pp_id, capture, "1.00", "COMPLETED", slip),
                                       event_version="1.0", create_time="2026-12-01T12:00:00Z", summary="console"))
    return rid, pp_id, headers, body


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_twins_of_a_refund_its_webhook_reported_write_no_second_report():
    order = paid_paypal_order(site=STACK.get("DEMO_USD_SITE", "demo-usd"))
    slip, capture = order["pay_id"], capture_of(order["pay_id"])
    rid, pp_id, headers, body = console_paypal_refund(slip, capture)
    # Its genuine webhook, confirmed by PayPal's record: the report.
    assert post_paypal(headers, body) == 200
    rows = outside_rows(slip)
    assert len(rows) == 1 and rows[0].startswith("POST|"), rows
    twins_leave_nothing_kept(slip, rid, pp_id, capture)
    assert outside_rows(slip) == rows


# --- Names that are free text (PayPal's invoice_id): review s30b -----------------------------------

def console_pp(capture, invoice, value="1.00"):
    st, got, raw, _ = pp_refund(capture, {"invoice_id": invoice, "amount": {"value": value, "currency_code": "USD"}},
                                secrets.token_hex(6), paypal_token())
    assert st == 201, raw
    return got["id"]


def refund_webhook(invoice, pp_id, capture, slip, value="1.00"):
    headers, body = signed_paypal(dict(refund_event(invoice, pp_id, capture, value, "COMPLETED", slip),
                                       event_version="1.0", create_time="2026-12-01T12:00:00Z", summary="console"))
    assert post_paypal(headers, body) == 200


def last_row(slip):
    return psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' ORDER BY id DESC LIMIT 1"
                % slip)


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_a_refund_named_like_a_chargeback_is_no_chargeback():
    """F1 (High): a console refund whose invoice number reads `x: chargeback: …` was reported in
    words CHARGEBACK_RE matches: the order showed chargeback_at, a legitimate refund of the rest was
    refused 409 e.www.refund.chargeback, and `order done --charged-back` closed it unshipped."""
    site = STACK["DEMO_USD_SITE"]
    key = cli("apikey", "issue", "--site", site).stdout.strip()
    order = paid_paypal_order(site=site)
    slip, capture = order["pay_id"], capture_of(order["pay_id"])
    rid = "x: chargeback: " + secrets.token_hex(3)
    refund_webhook(rid, console_pp(capture, rid), capture, slip)
    rows = outside_rows(slip)
    assert len(rows) == 1 and rows[0].startswith("POST|no refund of ours named x%3A%20chargeback%3A%20"), rows
    assert psql("SELECT count(*) FROM notifications WHERE slip_id = '%s' AND verdict = 'ignored' AND reason ~ "
                "'^no refund of ours named [^ ]+: chargeback: '" % slip) == "0"
    st, body, raw, _ = admin("GET", "order", key, params={"id": order["id"]}, site=site)
    assert st == 200 and body["data"]["chargeback_at"] is None, raw
    st, body, raw, _ = admin("POST", "refund", key, {"order": order["id"], "reason": "the rest", "amount": "1.00",
                                                     "idempotency_key": secrets.token_hex(8)}, site=site)
    assert st == 200 and body["data"]["refund"]["st"] in ("OK", "PROCESSING"), raw
    done = cli("order", "done", order["id"], "--site", site, "--charged-back", check=False)
    assert done.returncode == 1, (done.stdout, done.stderr)


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_a_webhook_reported_name_with_a_blank_reads_back_and_hides_no_other_refund():
    """F2: the webhook's report named `RMA… box` raw, read back as `RMA…`: the same refund told
    again was reported twice, and another refund named `RMA…` was taken for it."""
    order = paid_paypal_order(site=STACK["DEMO_USD_SITE"])
    slip, capture = order["pay_id"], capture_of(order["pay_id"])
    tag = secrets.token_hex(4)
    pp1 = console_pp(capture, "RMA" + tag + " box")
    refund_webhook("RMA" + tag + " box", pp1, capture, slip)
    first = outside_rows(slip)
    assert len(first) == 1 and first[0].startswith("POST|no refund of ours named RMA%s%%20box,%s:" % (tag, pp1)), first
    refund_webhook("RMA" + tag + " box", pp1, capture, slip)  # told again
    assert last_row(slip).startswith("duplicate|unconfirmed: refund RMA%s%%20box,%s " % (tag, pp1)), last_row(slip)
    pp2 = console_pp(capture, "RMA" + tag, "2.00")  # another refund, named as the first one's first word
    refund_webhook("RMA" + tag, pp2, capture, slip, "2.00")
    rows = outside_rows(slip)
    assert sum(pp1 in r for r in rows) == 1 and sum(pp2 in r for r in rows) == 1, rows


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_a_new_refund_whose_name_differs_only_in_punctuation_is_reported():
    """F3: `RMA x` and `RMA:x` both showed as `RMA?x`: a new 2.00 refund was a duplicate of the
    query's report of the first, its money reported nowhere. Names are escaped reversibly and a
    refund is found by PayPal's own id."""
    site, order = lost_payment("paypal")
    slip = order["pay_id"]
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % slip)
    tag = secrets.token_hex(4)
    console_pp(capture, "RMA " + tag)
    check(site, order)
    rows = outside_rows(slip)
    assert len(rows) == 1 and rows[0].startswith("QUERY|"), rows
    pp2 = console_pp(capture, "RMA:" + tag, "2.00")
    refund_webhook("RMA:" + tag, pp2, capture, slip, "2.00")
    after = outside_rows(slip)
    assert len(after) == 2 and pp2 in after[1], after


# --- Rows the previous release wrote (review s30c) ------------------------------------------------

def as_previous_release(slip, reason):
    """Rewrites the slip's one OUTSIDE report to exactly what the previous release wrote."""
    (row,) = psql("SELECT id FROM notifications WHERE slip_id = '%s' AND verdict = 'ignored' "
                  "AND reason ~ '^no refund of ours named ' ORDER BY id" % slip).splitlines()
    psql("UPDATE notifications SET reason = '%s' WHERE id = %s" % (reason.replace("'", "''"), row))


@pytest.mark.parametrize("prov", ["wx", "wx3"])
def test_a_refund_the_previous_release_reported_by_our_number_is_not_reported_again(prov):
    """It named a WeChat console refund by out_refund_no alone; looked up by WeChat's refund id
    only, the resend after the upgrade was a second report (#2)."""
    if prov == "wx3" and STACK.get("DEMO_V3_SITE") is None:
        pytest.skip("no v3 site")
    _, order, rid = outside_refund(prov)
    assert notify(prov, order, rid) == [CASES[prov][3]]
    as_previous_release(order["pay_id"], "no refund of ours named " + rid)
    assert notify(prov, order, rid) == [CASES[prov][3]]
    assert len(outside_rows(order["pay_id"])) == 1


def test_a_report_the_previous_release_named_like_a_chargeback_is_no_chargeback():
    """A free-text name it wrote raw (`x: chargeback: …`) read as a chargeback after the upgrade:
    a legitimate refund refused (#1). CHARGEBACK_RE now reads the words up to PayPal's record."""
    site, order, rid = outside_refund("wx")
    assert notify("wx", order, rid) == [CASES["wx"][3]]
    as_previous_release(order["pay_id"], "no refund of ours named x: chargeback: PayPal says REVERSED: the "
                                         "provider's refund COMPLETED 0.01")
    body = {"order": order["id"], "reason": "probe", "idempotency_key": secrets.token_hex(8), "amount": 1}
    st, got, raw, _ = admin("POST", "refund", key_of(site), body, site=site)
    # Sent to WeChat (which finds nothing left to refund after the console's whole refund), not
    # refused here as a chargeback.
    assert b"e.www.refund.chargeback" not in raw and got["data"]["refund"] is not None, raw
