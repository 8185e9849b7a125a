// Refunds (migration 011's functions do the checking under the slip lock) and API keys.
#include "orderpay/store/refunds.hpp"

#include <cstdio>
#include <stdexcept>

#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/store/retry.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::store {

namespace {

OpenOutcome ParseOpen(const std::string& s) {
    static const std::pair<const char*, OpenOutcome> kNames[] = {
        {"created", OpenOutcome::kCreated},          {"existing", OpenOutcome::kExisting},
        {"key_conflict", OpenOutcome::kKeyConflict}, {"no_order", OpenOutcome::kNoOrder},
        {"no_slip", OpenOutcome::kNoSlip},           {"not_paid", OpenOutcome::kNotPaid},
        {"too_much", OpenOutcome::kTooMuch},
    };
    for (const auto& [name, o] : kNames)
        if (s == name) return o;
    throw std::runtime_error("orderpay_refund_open answered an unknown outcome: " + s);
}

db::Param Opt(const std::optional<std::string>& v) {
    return v ? db::Param(*v) : db::Param(std::nullopt);
}

// "opk_<id>_<secret>" -> id; "" when the text is not shaped like a key.
std::string KeyId(const std::string& key) {
    if (key.size() > 200 || !key.starts_with("opk_")) return "";
    std::size_t end = key.find('_', 4);
    if (end == std::string::npos || end + 1 >= key.size()) return "";
    std::string id = key.substr(4, end - 4);
    return domain::IsOrderId(id) ? id : "";
}

}  // namespace

OpenResult OpenRefund(db::Connection& c, const RefundRequest& req) {
    const std::string id = crypto::RandomId(26);
    const db::Param amount = req.amount ? db::Param(*req.amount) : db::Param(std::nullopt);
    db::Result r = RetryTransient<db::Result>([&] {
        return c.Exec(kRefundOpen, {Opt(req.site), req.order, Opt(req.slip), amount, req.reason,
                                    req.requested_by, Opt(req.idempotency_key), id});
    });
    OpenResult out;
    out.outcome = ParseOpen(r.Get(0, "outcome"));
    out.refund_id = r.GetOpt(0, "refund_id").value_or("");
    out.detail = r.GetOpt(0, "detail").value_or("");
    // The counts are in the detail only (migration 011 fixed its outputs): read back from the
    // function's own format rather than asked again, which could see a refund committed since.
    if (out.outcome == OpenOutcome::kTooMuch) {
        long long paid = 0, taken = 0, asked = 0;
        if (std::sscanf(out.detail.c_str(), "paid %lld, refunded or refunding %lld, asked %lld", &paid,
                        &taken, &asked) == 3) {
            out.paid = paid;
            out.taken = taken;
        }
    }
    return out;
}

std::optional<std::string> FindRefundConflict(db::Connection& c, const RefundRequest& req,
                                              std::optional<std::int64_t> since_ms) {
    const db::Param since = since_ms ? db::Param(*since_ms) : db::Param(std::nullopt);
    db::Result r = RetryTransient<db::Result>([&] {
        return c.Exec(kRefundConflict,
                      {Opt(req.site), req.order, Opt(req.slip), Opt(req.idempotency_key), since});
    });
    if (r.Rows() == 0) return std::nullopt;
    return r.Get(0, "reason");
}

std::optional<std::string> FindRefundChargeback(db::Connection& c, const RefundRequest& req) {
    db::Result r = RetryTransient<db::Result>([&] {
        return c.Exec(kRefundChargeback, {Opt(req.site), req.order, Opt(req.slip), Opt(req.idempotency_key)});
    });
    if (r.Rows() == 0) return std::nullopt;
    return r.Get(0, "reason");
}

namespace {

std::optional<RefundRow> RefundFrom(const db::Result& r) {
    if (r.Rows() == 0) return std::nullopt;
    RefundRow f;
    f.id = r.Get(0, "id");
    f.order_id = r.Get(0, "order_id");
    f.slip_id = r.Get(0, "slip_id");
    f.site_id = r.Get(0, "site_id");
    f.provider = r.Get(0, "provider");
    f.merchant_id = r.Get(0, "merchant_id");
    f.amount = r.GetInt(0, "amount");
    f.currency = r.Get(0, "currency");
    f.reason = r.Get(0, "reason");
    f.st = domain::ParseRefundState(r.Get(0, "st")).value_or(domain::RefundState::kProcessing);
    f.provider_refund_id = r.Get(0, "provider_refund_id");
    f.note = r.Get(0, "note");
    f.requested_by = r.Get(0, "requested_by");
    f.idempotency_key = r.GetOpt(0, "idempotency_key");
    f.ct = r.GetInt(0, "ct");
    if (!r.IsNull(0, r.Col("ok_at"))) f.ok_at = r.GetInt(0, "ok_at");
    f.txn_id = r.Get(0, "txn_id");
    f.provider_ref = r.Get(0, "provider_ref");
    f.paid_amount = r.GetInt(0, "paid_amount");
    return f;
}

// orderpay_refund_finish's answer, read alike for the provider's result and the operator's word.
FinishResult FinishOf(const db::Result& r) {
    FinishResult f;
    f.outcome = r.Get(0, "outcome");
    if (std::optional<std::string> st = r.GetOpt(0, "order_st")) f.order_st = domain::ParseOrderState(*st);
    return f;
}

}  // namespace

std::optional<RefundRow> FindRefund(db::Connection& c, const std::string& id) {
    if (!domain::IsOrderId(id)) return std::nullopt;
    return RefundFrom(c.Exec(kRefundGet, {id}));
}

bool SlipRefundedByUs(db::Connection& c, const std::string& slip_id) {
    return c.Exec(kRefundOfSlip, {slip_id}).Rows() > 0;
}

bool SlipRefundInFlight(db::Connection& c, const std::string& slip_id) {
    return c.Exec(kRefundInFlightOfSlip, {slip_id}).Rows() > 0;
}

void MarkSentDespiteConflict(db::Connection& c, const std::string& id) {
    c.Exec(kRefundSentDespite, {id});
}

std::optional<RefundRow> FindRefundByKey(db::Connection& c, const std::string& site, const std::string& key) {
    if (key.empty() || key.size() > 128) return std::nullopt;
    return RefundFrom(c.Exec(kRefundByKey, {site, key}));
}

std::optional<RefundRow> FindRefundByProviderId(db::Connection& c, const std::string& provider,
                                                const std::string& provider_refund_id) {
    if (provider_refund_id.empty() || provider_refund_id.size() > 128) return std::nullopt;
    return RefundFrom(c.Exec(kRefundByProviderId, {provider, provider_refund_id}));
}

bool ClaimRefund(db::Connection& c, const std::string& id) {
    return c.Exec(kRefundClaim, {id}).Affected() == 1;
}

std::optional<RefundTalk> RefundTalk::Try(db::Connection& c, const std::string& refund_id) {
    if (c.Exec(kRefundTalkTry, {refund_id}).Get(0, "got") != "t") return std::nullopt;
    return RefundTalk(c, refund_id);
}

RefundTalk::~RefundTalk() {
    // Never reconnects to let go (a new session holds nothing), never throws: a lock that cannot
    // be let go on a live session is ended with the session, so it cannot outlive its holder.
    if (!c_ || c_->Session() != session_) return;
    try {
        if (c_->Live()) {
            c_->ResetTransaction();  // an unlock inside a failed transaction would fail
            // The ROLLBACK may have found the session gone: then so is the lock.
            if (c_->Session() == session_ && c_->Live() &&
                c_->Exec(kRefundTalkDone, {id_}).Get(0, "held") == "t")
                return;
        }
    } catch (...) {
    }
    try {
        log::Warn("refund ", id_, ": its talk lock could not be let go; ending the database session");
    } catch (...) {
    }
    c_->Drop();
}

bool RefundTalk::StillHeld() const {
    if (!c_ || c_->Session() != session_) return false;
    try {
        return c_->Exec(kRefundTalkHeld, {id_}).Get(0, "held") == "t" && c_->Session() == session_;
    } catch (const db::Unavailable&) {
        return false;  // the session ended (a failover, pg_terminate_backend): and the lock with it
    }
}

bool RefundTalkBusy(db::Connection& c, const std::string& refund_id) {
    return c.Exec(kRefundTalkBusy, {refund_id}).Get(0, "busy") == "t";
}

std::string RefundTalkHolder(db::Connection& c, const std::string& refund_id) {
    if (!domain::IsOrderId(refund_id)) return "";
    db::Result r = c.Query(
        "SELECT a.pid, coalesce(a.application_name, '') AS app, coalesce(host(a.client_addr), 'local') AS "
        "addr, "
        "to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') AS since, coalesce(a.state, '') AS state "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.classid = 1380339268 AND l.objid = hashtext($1)::oid AND l.objsubid = 2 AND l.granted LIMIT 1",
        {refund_id});
    if (r.Rows() == 0) return "";
    return r.Get(0, "app") + " (database backend pid " + r.Get(0, "pid") + ", from " + r.Get(0, "addr") +
           ", connected " + r.Get(0, "since") + ", " + r.Get(0, "state") + ")";
}

FinishResult FinishRefund(db::Connection& c, const std::string& id, bool ok,
                          const std::string& provider_refund_id, const std::string& note) {
    db::Result r = RetryTransient<db::Result>([&] {
        return c.Exec(kRefundFinish, {id, ok, http::TextOrEscaped(provider_refund_id, 128),
                                      http::TextOrEscaped(note, 2000)});
    });
    return FinishOf(r);
}

std::optional<std::string> RecordRefundContradiction(db::Connection& c, const std::string& id, bool said_ok,
                                                     const std::string& said) {
    const std::string recorded = said_ok ? "FAIL" : "OK";
    const std::string reason =
        "conflict: refund " + id + " answered " + (said_ok ? "OK" : "FAIL") + ", recorded " + recorded;
    db::Result r = RetryTransient<db::Result>([&] {
        return c.Exec(kRefundContradicted, {id, recorded, reason, http::TextOrEscaped(said, 4000)});
    });
    if (r.Rows() == 0) return std::nullopt;
    return r.Get(0, "id");
}

// The CLI's, unprepared (as the two below): run once per operator command.
std::optional<RefundActivity> RefundActivityOf(db::Connection& c, const std::string& id) {
    if (!domain::IsOrderId(id)) return std::nullopt;
    db::Result r = c.Query(
        "SELECT st, lm::text AS lm, coalesce(queried_at::text, '') AS queried_at, "
        "(extract(epoch from now() - greatest(lm, coalesce(queried_at, lm))) * 1000)::bigint AS idle_ms, "
        "(extract(epoch from now() - ct) * 1000)::bigint AS age_ms FROM refunds WHERE id = $1",
        {id});
    if (r.Rows() == 0) return std::nullopt;
    return RefundActivity{r.Get(0, "st"), r.Get(0, "lm"), r.Get(0, "queried_at"), r.GetInt(0, "idle_ms"),
                          r.GetInt(0, "age_ms")};
}

// One transaction, so the refund checked is the refund finished; run again after a deadlock
// with a sender finishing it (nothing of it was committed, and the check is made again).
FinishResult FinishRefundAsOperator(db::Connection& c, const std::string& id, const RefundActivity& seen,
                                    bool ok, const std::string& note) {
    FinishResult f;
    if (!domain::IsOrderId(id)) {
        f.outcome = "no_refund";
        return f;
    }
    return RetryTransient<FinishResult>([&] {
        FinishResult out;
        db::Tx tx(c);
        db::Result cur = c.Query(
            "SELECT st, lm::text AS lm, coalesce(queried_at::text, '') AS queried_at FROM refunds "
            "WHERE id = $1 FOR UPDATE",
            {id});
        if (cur.Rows() == 0) {
            out.outcome = "no_refund";
            return out;
        }
        if (cur.Get(0, "st") != seen.st || cur.Get(0, "lm") != seen.lm ||
            cur.Get(0, "queried_at") != seen.queried_at) {
            out.outcome = "moved";
            return out;
        }
        db::Result r =
            c.Query("SELECT outcome, order_st FROM orderpay_refund_finish($1, $2::boolean, '', $3)",
                    {id, ok, http::TextOrEscaped(note, 2000)});
        tx.Commit();
        return FinishOf(r);
    });
}

// The CLI's, unprepared: once per operator command. The same three reasons as
// orderpay_refund_correct's.
bool RefundConflictSaysOk(db::Connection& c, const std::string& id) {
    if (!domain::IsOrderId(id)) return false;
    return c.Query(
                "SELECT EXISTS (SELECT 1 FROM refunds r JOIN notifications n ON n.slip_id = r.slip_id "
                "WHERE r.id = $1 AND n.verdict = 'ignored' AND n.reason IN ('conflict: refund ' || r.id || "
                "' answered OK, recorded FAIL', 'conflict: refund ' || r.id || ' notified OK, recorded "
                "otherwise', 'conflict: refund ' || r.id || ' confirmed OK, recorded otherwise')) AS says",
                {id})
               .Get(0, "says") == "t";
}

CorrectResult CorrectRefund(db::Connection& c, const std::string& id, const std::string& note) {
    CorrectResult out;
    if (!domain::IsOrderId(id)) {
        out.outcome = "no_refund";
        return out;
    }
    // One statement, one transaction: run again after a deadlock (nothing of it was committed).
    db::Result r = RetryTransient<db::Result>([&] {
        return c.Query(
            "SELECT outcome, order_st, coalesce(detail, '') AS detail FROM orderpay_refund_correct($1, $2)",
            {id, http::TextOrEscaped(note, 2000)});
    });
    out.outcome = r.Get(0, "outcome");
    if (std::optional<std::string> st = r.GetOpt(0, "order_st")) out.order_st = domain::ParseOrderState(*st);
    out.detail = r.Get(0, "detail");
    return out;
}

void NoteRefund(db::Connection& c, const std::string& id, const std::string& note,
                const std::string& provider_refund_id) {
    c.Exec(kRefundNote, {id, http::TextOrEscaped(note, 2000), http::TextOrEscaped(provider_refund_id, 128)});
}

std::vector<std::string> RefundsDue(db::Connection& c, int limit, std::int64_t min_age_s) {
    db::Result r = c.Exec(kRefundsDue, {limit, min_age_s});
    std::vector<std::string> out;
    for (int i = 0; i < r.Rows(); ++i) out.push_back(r.Get(i, 0));
    return out;
}

void StampRefundQueried(db::Connection& c, const std::string& id) {
    c.Exec(kRefundStampQueried, {id});
}

// The CLI's listings: unprepared, run once per command, never on a request path.
db::Result ListRefunds(db::Connection& c, const std::optional<std::string>& site, int limit) {
    return c.Query(
        "SELECT id, order_id, slip_id, site_id, provider, amount, currency, st, reason, requested_by, note, "
        "(extract(epoch from ct) * 1000)::bigint AS ct FROM refunds WHERE ($1::text IS NULL OR site_id = $1) "
        "ORDER BY ct DESC, id LIMIT $2",
        {Opt(site), limit});
}

db::Result SlipsToRefund(db::Connection& c) {
    return c.Query(
        "SELECT s.id, s.order_id, s.site_id, s.amount, s.currency, "
        "coalesce(sum(r.amount) FILTER (WHERE r.st = 'OK'), 0) AS refunded, "
        "coalesce(sum(r.amount) FILTER (WHERE r.st IN ('NEW', 'PROCESSING')), 0) AS refunding, s.note "
        "FROM pay_slips s LEFT JOIN refunds r ON r.slip_id = s.id WHERE s.refund_needed "
        "GROUP BY s.id HAVING coalesce(sum(r.amount) FILTER (WHERE r.st = 'OK'), 0) < s.amount "
        "ORDER BY s.ct LIMIT 1000",
        {});
}

std::optional<IssuedKey> IssueApiKey(db::Connection& c, const std::string& site) {
    IssuedKey k;
    k.id = crypto::RandomId(16);
    k.key = "opk_" + k.id + "_" + crypto::RandomToken(32);
    db::Result r = c.Query(
        "INSERT INTO api_keys (id, site_id, key_hash) SELECT $1, id, decode($3, 'hex') FROM sites WHERE id = "
        "$2",
        {k.id, site, crypto::HexLower(crypto::Sha256(k.key))});
    if (r.Affected() != 1) return std::nullopt;
    return k;
}

std::optional<ApiKey> FindApiKey(db::Connection& c, const std::string& key) {
    const std::string id = KeyId(key);
    if (id.empty()) return std::nullopt;
    db::Result r = c.Exec(kApiKeyGet, {id});
    if (r.Rows() == 0) return std::nullopt;
    // The id is not secret; the rest of the key is, so the hashes are compared in constant time.
    if (!crypto::EqualsIgnoreCaseConstTime(crypto::HexLower(crypto::Sha256(key)), r.Get(0, "key_hash")))
        return std::nullopt;
    return ApiKey{r.Get(0, "id"), r.Get(0, "site_id"), r.Get(0, "revoked") == "t"};
}

bool RevokeApiKey(db::Connection& c, const std::string& key_or_id) {
    std::string id = key_or_id;
    if (key_or_id.starts_with("opk_")) {
        std::optional<ApiKey> k = FindApiKey(c, key_or_id);
        if (!k) return false;
        id = k->id;
    }
    if (!domain::IsOrderId(id)) return false;
    return c.Query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", {id})
               .Affected() == 1;
}

db::Result ListApiKeys(db::Connection& c, const std::optional<std::string>& site) {
    return c.Query(
        "SELECT id, site_id, (extract(epoch from ct) * 1000)::bigint AS ct, revoked_at IS NOT NULL AS "
        "revoked "
        "FROM api_keys WHERE ($1::text IS NULL OR site_id = $1) ORDER BY ct, id",
        {Opt(site)});
}

}  // namespace orderpay::store
