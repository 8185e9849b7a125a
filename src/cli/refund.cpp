// CLI commands for refunds and the operator API's keys: `refund ORDER`, `refund --slip SLIP` (a
// refund_needed late or double payment), `refund list`, `apikey issue|revoke|list`. They run the
// same app/refund flow as POST /api/{site}/admin/refund.
#include "orderpay/app/refund.hpp"

#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/refund_checks.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/handlers/refund_input.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/store/admin.hpp"
#include "orderpay/store/check_view.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/refunds.hpp"

namespace orderpay::cli {

namespace {

constexpr const char* kRefundUsage =
    "refund ORDER [--amount X] --reason R [--key K] [--despite-conflict] | refund --slip SLIP --reason R "
    "[--key K] [--despite-conflict] | "
    "refund list [--site S] [--limit N] [--json] | refund finish REFUND ok|fail --note TEXT "
    "[--despite-no-answer]";

int Fail(const std::string& msg) {
    std::cerr << "orderpay: " << msg << '\n';
    return 1;
}

int ListCmd(Env& env, const Args& a) {
    const std::optional<std::string> site = a.Flag("site");
    if (site && !store::SiteCurrency(env.db, *site)) throw Refusal("no such site " + *site);
    db::Result r = store::ListRefunds(env.db, site, a.Limit(50));
    if (a.json) std::cout << '[';
    for (int i = 0; i < r.Rows(); ++i) {
        const int exp = domain::CurrencyExponent(r.Get(i, "currency")).value_or(2);
        const std::string amount = domain::FormatDecimal(r.GetInt(i, "amount"), exp);
        if (a.json) {
            std::cout << (i ? "," : "") << "{\"id\":" << http::JsonString(r.Get(i, "id"))
                      << ",\"order\":" << http::JsonString(r.Get(i, "order_id"))
                      << ",\"slip\":" << http::JsonString(r.Get(i, "slip_id"))
                      << ",\"site\":" << http::JsonString(r.Get(i, "site_id"))
                      << ",\"provider\":" << http::JsonString(r.Get(i, "provider"))
                      << ",\"amount\":" << amount
                      << ",\"currency\":" << http::JsonString(r.Get(i, "currency"))
                      << ",\"st\":" << http::JsonString(r.Get(i, "st"))
                      << ",\"reason\":" << http::JsonString(r.Get(i, "reason"))
                      << ",\"requested_by\":" << http::JsonString(r.Get(i, "requested_by"))
                      << ",\"note\":" << http::JsonString(r.Get(i, "note")) << ",\"ct\":" << r.Get(i, "ct")
                      << '}';
        } else {
            std::cout << r.Get(i, "id") << '\t' << r.Get(i, "st") << '\t' << amount << ' '
                      << r.Get(i, "currency") << "\torder " << r.Get(i, "order_id") << "\tsite "
                      << r.Get(i, "site_id") << '\t' << r.Get(i, "requested_by") << '\t' << r.Get(i, "reason")
                      << '\n';
        }
    }
    if (a.json) std::cout << "]\n";
    return 0;
}

// Prints the refund's outcome; exit 0 when it is OK or still being processed (reconcile
// resolves it), 1 when it failed or could not be opened.
int Report(const Args& a, const app::RefundAnswer& ans) {
    if (ans.refund && a.json) std::cout << app::RenderRefund(*ans.refund, ans.replay) << '\n';
    if (ans.err) {
        const http::ErrInfo& e = http::Info(*ans.err);
        // The store's own detail of too_much counts in minor units, as the database does.
        const std::string units = *ans.err == http::Err::kRefundTooMuch ? "in minor units: " : "";
        // "exceeds" would name nothing for a refund of all that is left when nothing is.
        std::string msg = ans.nothing_left ? "nothing is left to refund of this payment" : std::string(e.msg);
        // e.msg names pay/buy's Idempotency-Key header; here it is the operator's own --key, which
        // replays only the same order and --amount, or again none (migration 027).
        if (*ans.err == http::Err::kIdemMismatch && a.Flag("key"))
            msg =
                "this --key was used for another refund: it replays only the same order and --amount, or "
                "again no --amount";
        // Without --key the words are the key (DerivedKey): a refund of them made before migration
        // 027 as "all that was left" is no replay of this one, which the operator never keyed.
        else if (*ans.err == http::Err::kIdemMismatch)
            msg =
                "a refund with the same words (order or slip, --amount, reason) was made before for another "
                "amount: to refund again on purpose, give --key";
        return Fail(std::string(e.code) + ": " + msg + (ans.why.empty() ? "" : " (" + units + ans.why + ")") +
                    (*ans.err == http::Err::kRefundConflict
                         ? ": check at the provider what it paid out of this payment (reconcile lists it "
                           "CONFLICT); to refund anyway, give --despite-conflict"
                         : ""));
    }
    const store::RefundRow& r = *ans.refund;
    if (!a.json) {
        std::cout << "refund " << r.id << ' ' << domain::ToString(r.st) << ' '
                  << domain::FormatAmount(r.amount, r.currency) << ' ' << r.currency << " order "
                  << r.order_id << " slip " << r.slip_id << (ans.replay ? " (replay)" : "")
                  << (r.note.empty() ? "" : " note: " + r.note) << '\n';
    }
    return 0;
}

// Without --key, the refund's own words are its key: the same command run again (after a crash,
// a dropped SSH session, a timeout) replays that refund rather than opening a second one of the
// same money (review s21 F4). Refunding the same amount for the same reason twice on purpose
// takes a --key; a re-run that finds the refund already finished says so (RequestWithWords).
std::string DerivedKey(const std::string& what, const std::optional<std::int64_t>& amount,
                       const std::string& reason) {
    const std::string words =
        what + "|" + (amount ? std::to_string(*amount) : std::string("all")) + "|" + reason;
    return "cli:" + crypto::HexLower(crypto::Sha256(words)).substr(0, 40);
}

// The refund of a command without --key. A refund of the same words still under way (NEW, sent
// now, or PROCESSING) is this one; one finished before is not silently taken for it (the buyer
// would get nothing while the command said OK): the operator is told, and exits 1.
int RequestWithWords(const Args& a, app::Context& ctx, const store::RefundRequest& req) {
    app::RefundAnswer ans = app::RequestRefund(ctx, req);
    if (ans.replay && !ans.sent && ans.refund &&
        (ans.refund->st == domain::RefundState::kOk || ans.refund->st == domain::RefundState::kFail)) {
        const store::RefundRow& r = *ans.refund;
        if (a.json) std::cout << app::RenderRefund(r, true) << '\n';
        return Fail("refund " + r.id +
                    " with the same words (order or slip, amount, reason) was made before and is " +
                    std::string(domain::ToString(r.st)) + (r.note.empty() ? "" : " (" + r.note + ")") +
                    ": to refund again on purpose, give --key");
    }
    return Report(a, ans);
}

int RefundCmd(Env& env, const Args& a) {
    if (a.pos.size() > 1 && a.pos[1] == "list") return ListCmd(env, a);
    if (a.pos.size() > 1 && a.pos[1] == "finish") return RefundFinish(env, a);
    const std::string reason = a.Need("reason");
    // The API's reason is UTF-8 because its JSON body is; a shell's argument need not be.
    if (std::string why = handlers::ReasonProblem(reason); !why.empty())
        throw UsageError("--reason: 1 to 80 characters of plain UTF-8 text: " + why);
    std::optional<std::string> key = a.Flag("key");
    if (key && !handlers::ValidIdempotencyKey(*key))
        throw UsageError("--key: 1 to 128 printable ASCII characters");
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    store::RefundRequest req;
    req.reason = reason;
    req.idempotency_key = key;
    req.despite_conflict = a.Has("despite-conflict");
    // Kept on the refund, for whoever later wonders why a payment in conflict was refunded.
    req.requested_by = req.despite_conflict ? "cli --despite-conflict" : "cli";
    if (std::optional<std::string> slip_id = a.Flag("slip")) {
        if (a.pos.size() > 1 || a.Flag("amount"))
            throw UsageError("--slip refunds the whole slip: no ORDER, no --amount");
        std::optional<store::SlipRow> slip = store::FindSlip(env.db, *slip_id);
        if (!slip) return Fail("no such slip " + log::TextEscape(*slip_id));
        // --slip is for a payment its order does not count (a late or double payment); the slip
        // an order is paid through is refunded as the order (app::OrderPaidBy).
        if (const std::optional<store::OrderRecord> o = app::OrderPaidBy(env.db, *slip))
            return Fail("slip " + slip->id + " pays order " + o->id + " (" +
                        std::string(domain::ToString(o->or_st)) + "): refund the order (orderpay refund " +
                        o->id +
                        " --reason ...); --slip is for a payment its order does not count "
                        "(a late or double payment, listed REFUND by reconcile)");
        req.slip = slip->id;
        req.site = slip->site_id;
        if (!key) req.idempotency_key = DerivedKey("slip " + slip->id, std::nullopt, reason);
        if (std::string why = app::RefundBlocker(ctx, *slip, req.idempotency_key); !why.empty())
            return Fail("e.www.refund.unsupported: " + why);
        return key ? Report(a, app::RequestRefund(ctx, req)) : RequestWithWords(a, ctx, req);
    }
    if (a.pos.size() != 2) throw UsageError(kRefundUsage);
    const std::string& order_id = a.pos[1];
    std::optional<std::string> site = store::OrderSite(env.db, order_id);
    std::optional<store::OrderView> v = site ? store::LoadOrderView(env.db, *site, order_id) : std::nullopt;
    if (!v) return Fail("no such order " + log::TextEscape(order_id));
    if (!v->slip || v->slip->st != domain::SlipState::kOk)
        return Fail("e.www.refund.not_paid: order " + order_id + " is " +
                    std::string(domain::ToString(v->order.or_st)));
    if (std::optional<std::string> amount = a.Flag("amount")) {
        const int exp = domain::CurrencyExponent(v->order.currency).value_or(2);
        req.amount = handlers::RefundAmount(*amount, exp);
        if (!req.amount)
            throw UsageError("--amount: a positive decimal with at most " + std::to_string(exp) +
                             " decimals");
    }
    req.site = *site;
    req.order = order_id;
    if (!key) req.idempotency_key = DerivedKey("order " + order_id, req.amount, reason);
    if (std::string why = app::RefundBlocker(ctx, *v->slip, req.idempotency_key); !why.empty())
        return Fail("e.www.refund.unsupported: " + why);
    return key ? Report(a, app::RequestRefund(ctx, req)) : RequestWithWords(a, ctx, req);
}

int ApiKeyCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "issue") {
        std::optional<store::IssuedKey> k = store::IssueApiKey(env.db, a.Need("site"));
        if (!k) return Fail("no such site");
        // The key alone on stdout (scripts capture it); it is shown once and stored hashed.
        if (a.json) {
            std::cout << "{\"key\":" << http::JsonString(k->key) << ",\"id\":" << http::JsonString(k->id)
                      << "}\n";
        } else {
            std::cout << k->key << '\n';
        }
        return 0;
    }
    if (verb == "revoke") {
        if (a.pos.size() != 3) throw UsageError("apikey revoke KEY-or-ID");
        if (!store::RevokeApiKey(env.db, a.pos[2])) return Fail("no such live key");
        std::cout << (a.json ? "{\"revoked\":true}" : "revoked") << '\n';
        return 0;
    }
    if (verb == "list") {
        const std::optional<std::string> site = a.Flag("site");
        if (site && !store::SiteCurrency(env.db, *site)) throw Refusal("no such site " + *site);
        db::Result r = store::ListApiKeys(env.db, site);
        if (a.json) std::cout << '[';
        for (int i = 0; i < r.Rows(); ++i) {
            if (a.json) {
                std::cout << (i ? "," : "") << "{\"id\":" << http::JsonString(r.Get(i, "id"))
                          << ",\"site\":" << http::JsonString(r.Get(i, "site_id"))
                          << ",\"ct\":" << r.Get(i, "ct")
                          << ",\"revoked\":" << (r.Get(i, "revoked") == "t" ? "true" : "false") << '}';
            } else {
                std::cout << r.Get(i, "id") << '\t' << r.Get(i, "site_id") << '\t'
                          << (r.Get(i, "revoked") == "t" ? "revoked" : "live") << '\n';
            }
        }
        if (a.json) std::cout << "]\n";
        return 0;
    }
    throw UsageError(
        "apikey issue --site S [--json] | apikey revoke KEY-or-ID | apikey list [--site S] [--json]");
}

}  // namespace

int Refunds(Env& env, const std::string& group, const Args& a) {
    if (group == "refund") return RefundCmd(env, a);
    if (group == "apikey") return ApiKeyCmd(env, a);
    throw UsageError("unknown command " + group);
}

}  // namespace orderpay::cli
