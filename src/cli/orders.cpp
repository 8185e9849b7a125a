// CLI commands on orders: show, list, ship and done, and expire (timer-driven); reconcile is in
// reconcile.cpp.
#include "orderpay/store/orders.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/fulfil.hpp"
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/domain/states.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/admin.hpp"
#include "orderpay/store/cache.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/refunds.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/settle.hpp"
#include "orderpay/store/tickets.hpp"

namespace orderpay::cli {

namespace {

int OrderCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "show") {
        if (a.pos.size() < 3) throw UsageError("order show ID [--json]");
        std::optional<std::string> site = store::OrderSite(env.db, a.pos[2]);
        std::string json;
        std::optional<store::OrderRecord> o;
        if (site) o = app::LoadOrder(env.db, *site, a.pos[2], &json, app::Audience::kOperator);
        // The id as log::TextEscape shows it: it is whatever the operator typed.
        if (!o) throw Refusal("no such order " + log::TextEscape(a.pos[2]));
        if (a.json) {
            std::cout << json << '\n';
            return 0;
        }
        // Amounts as --price and --amount take them (12.50 CNY; 1250 JPY): "1250 CNY (minor units)"
        // invited a price 100 times too high (review s28-newuser #1). --json keeps minor units.
        std::cout << "order " << o->id << " site " << o->site_id << " buyer " << o->buyer_id << " state "
                  << domain::ToString(o->or_st) << " fee " << domain::FormatAmount(o->fee, o->currency) << ' '
                  << o->currency << " via " << o->pay_tp << '\n';
        // Why a paid order is not shipped, long after reconcile stops listing it (a week).
        if (o->chargeback_at)
            std::cout << "  CHARGEBACK: its provider took the payment back (confirmed "
                      << Utc(*o->chargeback_at) << "): do not ship it; settle with the buyer"
                      << (o->or_st == domain::OrderState::kOK || o->or_st == domain::OrderState::kSP
                              ? ", then close it: orderpay order done " + o->id + " --charged-back"
                              : "")
                      << '\n';
        for (const store::SlipRow& s : store::OrderSlips(env.db, o->id)) {
            std::cout << "  slip " << s.id << " " << domain::ToString(s.st) << " " << s.provider << " txn "
                      << s.provider_txn_id.value_or("-") << (s.superseded ? " superseded" : "")
                      << (s.refund_needed ? " REFUND-NEEDED" : "")
                      << (s.note.empty() ? "" : " note: " + s.note) << '\n';
        }
        for (const store::RefundLine& r : o->refunds)
            std::cout << "  refund " << r.id << " " << r.st << " "
                      << domain::FormatAmount(r.amount, o->currency) << ' ' << o->currency
                      << " reason: " << r.reason << '\n';
        return 0;
    }
    if (verb == "list") {
        // A misspelt filter lists nothing, which reads as "no such orders": say which is wrong.
        const std::optional<std::string> site = a.Flag("site"), state = a.Flag("state");
        if (site && !store::SiteCurrency(env.db, *site)) throw Refusal("no such site " + *site);
        if (state && !domain::ParseOrderState(*state))
            throw UsageError("--state NW, WT, OK, FA, SP, DN or RF (upper case)");
        // --refund-needed: the orders holding a late or double payment not yet given back (the
        // rule of admin/orders?refund_needed=1), in any state unless --state says one.
        db::Result r = store::ListOrders(env.db, site, state, a.Has("refund-needed"), a.Limit(50));
        if (a.json) {
            std::cout << '[';
            for (int i = 0; i < r.Rows(); ++i) {
                std::cout << (i ? "," : "") << "{\"id\":" << http::JsonString(r.Get(i, 0))
                          << ",\"site\":" << http::JsonString(r.Get(i, 1))
                          << ",\"buyer_id\":" << http::JsonString(r.Get(i, 2))
                          << ",\"or_st\":" << http::JsonString(r.Get(i, 3))
                          << ",\"fee_minor\":" << r.Get(i, 4)
                          << ",\"fee\":" << domain::FormatAmount(r.GetInt(i, 4), r.Get(i, 5))
                          << ",\"currency\":" << http::JsonString(r.Get(i, 5))
                          << ",\"chargeback_at\":" << (r.IsNull(i, 8) ? std::string("null") : r.Get(i, 8))
                          << ",\"held_minor\":" << r.Get(i, 9)
                          << ",\"held\":" << domain::FormatAmount(r.GetInt(i, 9), r.Get(i, 5)) << '}';
            }
            std::cout << "]\n";
        } else {
            for (int i = 0; i < r.Rows(); ++i)
                std::cout << r.Get(i, 0) << '\t' << r.Get(i, 1) << '\t' << r.Get(i, 2) << '\t' << r.Get(i, 3)
                          << '\t' << domain::FormatAmount(r.GetInt(i, 4), r.Get(i, 5)) << ' ' << r.Get(i, 5)
                          << '\t' << r.Get(i, 6) << (r.IsNull(i, 8) ? "" : "\tCHARGEBACK")
                          << (r.GetInt(i, 9) > 0
                                  ? "\tREFUND-NEEDED " + domain::FormatAmount(r.GetInt(i, 9), r.Get(i, 5)) +
                                        ' ' + r.Get(i, 5)
                                  : std::string())
                          << '\n';
        }
        return 0;
    }
    if (verb == "ship" || verb == "done") {
        if (a.pos.size() != 3)
            throw UsageError("order " + verb + " ID [--site S]" +
                             (verb == "done" ? " [--charged-back]" : ""));
        // --site guards a script against an id of another shop; without it, the order's own.
        const std::string& id = a.pos[2];
        std::optional<std::string> site = a.Flag("site");
        if (!site) site = store::OrderSite(env.db, id);
        if (!site) {
            std::cerr << "orderpay: no such order " << id << '\n';
            return 1;
        }
        // --charged-back: the end of an order whose payment its provider took back, which is
        // never shipped or closed otherwise (README: Shipping and closing orders).
        const bool charged_back = verb == "done" && a.Has("charged-back");
        const app::FulfilAnswer r = app::Fulfil(env.db, *site, id,
                                                verb == "ship" ? store::FulfilStep::kShip
                                                : charged_back ? store::FulfilStep::kCloseChargedBack
                                                               : store::FulfilStep::kDone);
        // The journal keeps who ended such an order without shipping it, beside the chargeback
        // the inbox keeps for good (`orderpay audit` accepts the order on that record).
        if (charged_back && r.outcome == app::FulfilOutcome::kMoved)
            log::Warn("order ", id, " (site ", *site,
                      ") closed after its chargeback by the operator: ", r.message);
        // A repeat (after a timeout, or another operator first) succeeds: the order is where it
        // was asked to be. Any other state is a refusal that names it.
        if (r.outcome == app::FulfilOutcome::kMoved || r.outcome == app::FulfilOutcome::kAlready) {
            std::cout << r.message << '\n';
            return 0;
        }
        std::cerr << "orderpay: " << r.message << (r.cli_hint.empty() ? "" : " (" + r.cli_hint + ")") << '\n';
        return 1;
    }
    throw UsageError(
        "order show ID | order list [--site S] [--state ST] [--refund-needed] [--limit N] [--json] | "
        "order ship ID [--site S] | order done ID [--site S] [--charged-back]");
}

// Before expiring an order whose slip may have been paid, ask the provider: a paid order must
// never be failed because its notification was lost.
int ExpireCmd(Env& env, const Args& a) {
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    int expired = 0, settled = 0, left = 0, errors = 0;
    // One order whose expiry throws (its row locked past db.lock_timeout_ms by a transaction
    // left open, a lost connection) must not stop the orders after it: the next run tries it
    // again, and this one ends in failure so the timer unit shows it.
    // An order left open (or failing) is marked and taken after every order never tried: 500 of
    // a provider that is down once held back all orders behind them, run after run. A failed mark
    // only costs the order its place; it is not counted as an error of its own.
    const bool marks = store::ExpireMarks(env.db);
    auto mark = [&](const std::string& id) {
        if (!marks) return;
        try {
            store::MarkExpireTried(env.db, id);
        } catch (const std::exception& e) {
            env.db.ResetTransaction();
            log::Warn("expire: order ", id, " not marked as tried: ", e.what());
        }
    };
    auto expire_one = [&](const std::string& id) {
        std::optional<std::string> site = store::OrderSite(env.db, id);
        std::optional<store::OrderRecord> order = site ? store::FindOrder(env.db, *site, id) : std::nullopt;
        std::optional<store::SlipRow> slip = order ? app::CurrentSlip(env.db, *order) : std::nullopt;
        if (slip && slip->Open()) {
            providers::Provider* p = ctx.ProviderFor(slip->provider);
            std::optional<providers::Merchant> m = store::FindMerchant(env.db, slip->merchant_id);
            if (!p || !m) {  // cannot ask: never fail a slip that may have been paid
                ++left;
                mark(id);
                log::Warn("expire: order ", id, " left open: slip ", slip->id, "'s ",
                          !p ? "provider " + slip->provider + " is not configured"
                             : "merchant " + slip->merchant_id + " is not on record");
                return;
            }
            // A payment the close refunded is recorded by CloseSlip: the order is RF, not payable.
            bool reversal_first = false;
            providers::CloseResult c = app::CloseSlip(ctx, *p, *m, *slip, &reversal_first);
            if (!c.reversed_txn.empty() || c.already_paid || !c.closed) {
                // "found paid" counts what this run found and recorded: with the timers on two
                // hosts the other run's query may settle the order (ours is then a duplicate), or
                // its expiry fail it, between our reading and our close; neither is ours to count.
                bool ours = !c.reversed_txn.empty() && reversal_first;
                if (c.reversed_txn.empty()) {
                    std::optional<store::SettleOutcome> o;
                    app::RefreshSlip(ctx, *slip, app::QueryPace::kNow, std::nullopt, &o);
                    ours = o == store::SettleOutcome::kSettled || o == store::SettleOutcome::kLateSettled ||
                           o == store::SettleOutcome::kRefundFlagged;
                }
                std::optional<domain::OrderState> st = store::OrderState(env.db, id);
                if (st && !domain::IsPayable(*st)) {
                    if (ours) ++settled;
                    return;
                }
                // Close failed and the state is still unknown: try again next run.
                if (!c.closed) {
                    ++left;
                    mark(id);
                    log::Warn("expire: order ", id, " left open for the next run: slip ", slip->id,
                              " not closed (", c.message.empty() ? "no reason given" : c.message, ")");
                    return;
                }
            }
            store::FailSlip(env.db, slip->id, "order expired");
        }
        if (store::ExpireOrder(env.db, id)) ++expired;
    };
    for (const std::string& id : store::OrdersDueToExpire(env.db, a.Limit(500), marks)) {
        try {
            expire_one(id);
        } catch (const std::exception& e) {
            ++errors;
            env.db.ResetTransaction();
            log::Error("expire: order ", id, ": ", e.what());
            mark(id);  // behind the others next run, as an order left open is
        }
    }
    try {
        if (const std::int64_t pruned = store::CachePrune(env.db))
            log::Info("expire: dropped ", pruned, " provider cache rows expired an hour ago");
    } catch (const std::exception& e) {
        env.db.ResetTransaction();
        log::Warn("expire: provider cache not pruned: ", e.what());
    }
    // Every minute, at most this many of each kind: forgeries stored at nginx's limit for one
    // address (50 a second) are dropped faster than they come once they are old enough. What each
    // prune dropped is in the report (nullopt: it failed, and the log says why).
    std::optional<std::int64_t> unverified, decided, tickets;
    try {
        // Not before `orderpay migrate`: without 021's index every run would read the inbox.
        const InboxPruned p = store::RetentionIndexed(env.db)
                                  ? PruneInbox(env, InboxAges::From(env.cfg), 20000)
                                  : InboxPruned{};
        unverified = p.unverified;
        decided = p.decided;
        if (p.unverified || p.decided)
            log::Info("expire: dropped ", p.unverified,
                      " unverified notifications (notify.keep_rejected_days) and ", p.decided,
                      " decided ones (notify.keep_days)");
    } catch (const std::exception& e) {
        env.db.ResetTransaction();
        log::Warn("expire: notifications not pruned: ", e.what());
    }
    // Every login adds a ticket's row: 20000 a minute is over three times what admin/ticket's rate
    // limit (100 r/s an address) lets one login server make.
    try {
        // Not before `orderpay migrate`: without 026's index every run would read every ticket.
        const std::optional<std::int64_t> age = KeepEndedTicketsS(env.cfg);
        tickets =
            age && store::EndedTicketsIndexed(env.db) ? store::PruneEndedTickets(env.db, *age, 20000) : 0;
        if (*tickets)
            log::Info("expire: dropped ", *tickets, " tickets ended over ticket.keep_ended_days ago");
    } catch (const std::exception& e) {
        env.db.ResetTransaction();
        log::Warn("expire: tickets not pruned: ", e.what());
    }
    const auto number = [](const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : "null"; };
    if (a.json) {
        std::cout << "{\"expired\":" << expired << ",\"settled\":" << settled << ",\"left\":" << left
                  << ",\"errors\":" << errors << ",\"pruned\":{\"tickets\":" << number(tickets)
                  << ",\"unverified_notifications\":" << number(unverified)
                  << ",\"decided_notifications\":" << number(decided) << "}}\n";
    } else {
        std::cout << "expired " << expired << " orders, " << settled << " found paid";
        if (left) std::cout << ", " << left << " left open (their slip could not be closed; see the log)";
        if (errors) std::cout << ", " << errors << " failed (see the log; the next run tries them again)";
        const auto said = [](const std::optional<std::int64_t>& n, const char* what) {
            return (n ? std::to_string(*n) : std::string("?")) + " " + what +
                   (n ? "" : " (failed: see the log)");
        };
        std::cout << "\npruned " << said(tickets, "ended tickets") << ", "
                  << said(unverified, "unverified notifications") << ", "
                  << said(decided, "decided notifications") << '\n';
    }
    return errors ? 1 : 0;
}

}  // namespace

int Orders(Env& env, const std::string& group, const Args& a) {
    if (group == "order") return OrderCmd(env, a);
    if (group == "expire") return ExpireCmd(env, a);
    throw UsageError("unknown command " + group);
}

}  // namespace orderpay::cli
