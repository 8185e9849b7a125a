// CLI commands on orders: show, list, expire (timer-driven) and reconcile (query waiting slips,
// list slips that need a refund).
#include "orderpay/store/orders.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/app/refund.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/domain/states.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/admin.hpp"
#include "orderpay/store/refunds.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::cli {

namespace {

int OrderCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "show") {
        if (a.pos.size() < 3) throw UsageError("order show ID [--json]");
        std::optional<std::string> site = store::OrderSite(env.db, a.pos[2]);
        if (!site) {
            std::cerr << "no such order\n";
            return 1;
        }
        std::string json;
        std::optional<store::OrderRecord> o = app::LoadOrder(env.db, *site, a.pos[2], &json);
        if (!o) {
            std::cerr << "no such order\n";
            return 1;
        }
        if (a.json) {
            std::cout << json << '\n';
            return 0;
        }
        std::cout << "order " << o->id << " site " << o->site_id << " buyer " << o->buyer_id << " state "
                  << domain::ToString(o->or_st) << " fee " << o->fee << ' ' << o->currency
                  << " (minor units) via " << o->pay_tp << '\n';
        for (const store::SlipRow& s : store::OrderSlips(env.db, o->id)) {
            std::cout << "  slip " << s.id << " " << domain::ToString(s.st) << " " << s.provider << " txn "
                      << s.provider_txn_id.value_or("-") << (s.superseded ? " superseded" : "")
                      << (s.refund_needed ? " REFUND-NEEDED" : "")
                      << (s.note.empty() ? "" : " note: " + s.note) << '\n';
        }
        for (const store::RefundLine& r : o->refunds)
            std::cout << "  refund " << r.id << " " << r.st << " " << r.amount
                      << " (minor units) reason: " << r.reason << '\n';
        return 0;
    }
    if (verb == "list") {
        // A misspelt filter lists nothing, which reads as "no such orders": say which is wrong.
        const std::optional<std::string> site = a.Flag("site"), state = a.Flag("state");
        if (site && !store::SiteCurrency(env.db, *site)) throw UsageError("no such site " + *site);
        if (state && !domain::ParseOrderState(*state))
            throw UsageError("--state NW, WT, OK, FA, SP, DN or RF (upper case)");
        db::Result r = store::ListOrders(env.db, site, state, a.Limit(50));
        if (a.json) {
            std::cout << '[';
            for (int i = 0; i < r.Rows(); ++i) {
                std::cout << (i ? "," : "") << "{\"id\":" << http::JsonString(r.Get(i, 0))
                          << ",\"site\":" << http::JsonString(r.Get(i, 1))
                          << ",\"buyer_id\":" << http::JsonString(r.Get(i, 2))
                          << ",\"or_st\":" << http::JsonString(r.Get(i, 3))
                          << ",\"fee_minor\":" << r.Get(i, 4)
                          << ",\"currency\":" << http::JsonString(r.Get(i, 5)) << '}';
            }
            std::cout << "]\n";
        } else {
            for (int i = 0; i < r.Rows(); ++i)
                std::cout << r.Get(i, 0) << '\t' << r.Get(i, 1) << '\t' << r.Get(i, 2) << '\t' << r.Get(i, 3)
                          << '\t' << r.Get(i, 4) << ' ' << r.Get(i, 5) << '\t' << r.Get(i, 6) << '\n';
        }
        return 0;
    }
    throw UsageError("order show ID | order list [--site S] [--state ST] [--limit N] [--json]");
}

// Before expiring an order whose slip may have been paid, ask the provider: a paid order must
// never be failed because its notification was lost.
int ExpireCmd(Env& env, const Args& a) {
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    int expired = 0, settled = 0;
    for (const std::string& id : store::OrdersDueToExpire(env.db, a.Limit(500))) {
        std::optional<std::string> site = store::OrderSite(env.db, id);
        std::optional<store::OrderRecord> order = site ? store::FindOrder(env.db, *site, id) : std::nullopt;
        std::optional<store::SlipRow> slip = order ? app::CurrentSlip(env.db, *order) : std::nullopt;
        if (slip && slip->Open()) {
            providers::Provider* p = ctx.ProviderFor(slip->provider);
            std::optional<providers::Merchant> m = store::FindMerchant(env.db, slip->merchant_id);
            if (!p || !m) continue;  // cannot ask: never fail a slip that may have been paid
            // A payment the close refunded is recorded by CloseSlip: the order is RF, not payable.
            providers::CloseResult c = app::CloseSlip(ctx, *p, *m, *slip);
            if (!c.reversed_txn.empty() || c.already_paid || !c.closed) {
                if (c.reversed_txn.empty()) app::RefreshSlip(ctx, *slip, app::QueryPace::kNow);
                std::optional<domain::OrderState> st = store::OrderState(env.db, id);
                if (st && !domain::IsPayable(*st)) {
                    ++settled;
                    continue;
                }
                // Close failed and the state is still unknown: try again next run.
                if (!c.closed) continue;
            }
            store::FailSlip(env.db, slip->id, "order expired");
        }
        if (store::ExpireOrder(env.db, id)) ++expired;
    }
    if (a.json) {
        std::cout << "{\"expired\":" << expired << ",\"settled\":" << settled << "}\n";
    } else {
        std::cout << "expired " << expired << " orders, " << settled << " found paid\n";
    }
    return 0;
}

// Asks about open slips whose notification may be lost, and about failed ones (superseded,
// expired, refused) until their provider confirms them closed: a payment on either is recorded
// as if its notification had come. Then lists what needs an operator.
int ReconcileCmd(Env& env, const Args& a) {
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    const int limit = a.Limit(500);
    std::string age = a.Flag("min-age").value_or("60");
    char* end = nullptr;
    long long min_age = std::strtoll(age.c_str(), &end, 10);
    if (age.empty() || *end || min_age < 0 || min_age > 366LL * 86400)
        throw UsageError("--min-age SECONDS (at most a year)");
    int confirmed = 0, found_paid = 0;
    // Closed at once (not left to the failed-slip queue below, which may be long): the order is
    // paid, and every minute such a slip stays open its QR code can take a second payment.
    for (const store::SupersededByPayment& s : store::FailSlipsOfPaidOrders(env.db, limit)) {
        std::optional<store::SlipRow> slip = store::FindSlip(env.db, s.slip_id);
        if (!slip) continue;
        std::string detail;
        app::FailedSlipCheck r = app::CheckFailedSlip(ctx, *slip, detail);
        if (r == app::FailedSlipCheck::kPaid) ++found_paid;
        std::cout << (r == app::FailedSlipCheck::kPaid ? "PAID    " : "CLOSING ") << s.slip_id << " order "
                  << s.order_id << " (paid through slip " << s.paid_slip_id << "; " << detail << ")\n";
    }
    std::vector<std::string> waiting = store::WaitingSlipsDue(env.db, limit, min_age);
    for (const std::string& id : waiting)
        if (auto slip = store::FindSlip(env.db, id)) app::RefreshSlip(ctx, *slip, app::QueryPace::kNow);
    // Paid slips a void was sent for, whose caller may have died before recording that the
    // void refunded them: the order would stay paid while the buyer has the money back.
    int reversed = 0, errors = 0;
    std::vector<std::string> voided = store::VoidedPaidSlips(env.db, limit, min_age);
    for (const std::string& id : voided) {
        std::optional<store::SlipRow> slip = store::FindSlip(env.db, id);
        if (!slip) continue;
        std::string detail;
        app::VoidedSlipCheck r = app::VoidedSlipCheck::kUnknown;
        try {
            r = app::CheckVoidedSlip(ctx, *slip, min_age, detail);
        } catch (const std::exception& e) {
            // One slip whose record keeps failing must not stop the queues after it; the run
            // still ends in failure, so the timer unit shows it.
            ++errors;
            detail = std::string("error: ") + e.what();
            log::Error("reconcile: slip ", slip->id, ": ", e.what());
        }
        if (r == app::VoidedSlipCheck::kReversed) ++reversed;
        if (r != app::VoidedSlipCheck::kKept)
            std::cout << (r == app::VoidedSlipCheck::kReversed ? "REVERSED " : "VOIDING  ") << slip->id
                      << " order " << slip->order_id << " (" << detail << ")\n";
    }
    std::vector<std::string> failed = store::UnconfirmedFailedSlips(env.db, limit);
    for (const std::string& id : failed) {
        std::optional<store::SlipRow> slip = store::FindSlip(env.db, id);
        if (!slip) continue;
        std::string detail;
        app::FailedSlipCheck r = app::CheckFailedSlip(ctx, *slip, detail);
        if (r == app::FailedSlipCheck::kConfirmedClosed) ++confirmed;
        if (r == app::FailedSlipCheck::kPaid) {
            ++found_paid;
            std::cout << "PAID    " << slip->id << " order " << slip->order_id << " (" << detail << ")\n";
        }
    }
    // Refunds whose outcome is not known yet: a NEW one's worker died before asking, a
    // PROCESSING one is pending or its call went unanswered. Asked about, never guessed.
    int refunds_ok = 0, refunds_failed = 0;
    std::vector<std::string> refunds = store::RefundsDue(env.db, limit, min_age);
    for (const std::string& id : refunds) {
        std::optional<store::RefundRow> r = store::FindRefund(env.db, id);
        if (!r) continue;
        std::string detail;
        app::RefundCheck c = app::ResolveRefund(ctx, *r, detail);
        if (c == app::RefundCheck::kOk) ++refunds_ok;
        if (c == app::RefundCheck::kFailed) ++refunds_failed;
        if (c == app::RefundCheck::kPending || c == app::RefundCheck::kUnknown)
            std::cout << "REFUNDING " << r->id << " order " << r->order_id << " still " << detail << '\n';
    }
    db::Result attention = store::SlipsNeedingAttention(env.db);
    std::cout << "queried " << waiting.size() << " waiting slips; checked " << voided.size()
              << " paid slips sent a void (" << reversed << " refunded by it); checked " << failed.size()
              << " failed slips (" << confirmed << " confirmed closed, " << found_paid << " found paid); "
              << "resolved refunds " << refunds.size() << " (" << refunds_ok << " OK, " << refunds_failed
              << " FAIL); " << attention.Rows() << " need attention\n";
    for (int i = 0; i < attention.Rows(); ++i) {
        const std::string kind = attention.Get(i, 6);
        std::string label = kind;
        label.resize(std::max<std::size_t>(8, kind.size() + 1), ' ');
        std::cout << label << attention.Get(i, 0) << " order " << attention.Get(i, 1) << " site "
                  << attention.Get(i, 2) << ' ' << attention.Get(i, 3) << ' ' << attention.Get(i, 4) << ' '
                  << attention.Get(i, 5) << " " << log::TextEscape(attention.Get(i, 7)) << '\n';
        // What gives a kept payment back: the whole slip, under its own refund id.
        if (kind == "REFUND")
            std::cout << "        refund with: orderpay refund --slip " << attention.Get(i, 0)
                      << " --reason 'paid order could not be fulfilled'\n";
        // Nothing to run: every reconcile asks again, and an answer for the slip's own trade is
        // recorded (refunded: REVERSED) or clears the mark (still paid).
        if (kind == "VOID")
            std::cout
                << "        ask the provider whether its void refunded the payment; reconcile asks on every "
                   "run\n";
    }
    return errors ? 1 : 0;
}

}  // namespace

int Orders(Env& env, const std::string& group, const Args& a) {
    if (group == "order") return OrderCmd(env, a);
    if (group == "expire") return ExpireCmd(env, a);
    if (group == "reconcile") return ReconcileCmd(env, a);
    throw UsageError("unknown command " + group);
}

}  // namespace orderpay::cli
