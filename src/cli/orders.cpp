// CLI commands on orders: show, list, expire (timer-driven) and reconcile (query waiting slips,
// list slips that need a refund).
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/settle.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::cli {

namespace {

int OrderCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "show") {
        if (a.pos.size() < 3) throw UsageError("order show ID [--json]");
        db::Result r = env.db.Query("SELECT site_id FROM orders WHERE id = $1", {a.pos[2]});
        if (r.Rows() == 0) {
            std::cerr << "no such order\n";
            return 1;
        }
        std::string json;
        app::LoadOrder(env.db, r.Get(0, 0), a.pos[2], &json);
        if (a.json) {
            std::cout << json << '\n';
            return 0;
        }
        db::Result o = env.db.Query(
            "SELECT o.id, o.site_id, o.buyer_id, o.or_st, o.fee, o.currency, o.pay_tp, o.pay_id, "
            "s.id, s.st, s.provider_txn_id, s.superseded, s.refund_needed, s.note "
            "FROM orders o LEFT JOIN pay_slips s ON s.order_id = o.id WHERE o.id = $1 ORDER BY s.ct",
            {a.pos[2]});
        std::cout << "order " << o.Get(0, 0) << " site " << o.Get(0, 1) << " buyer " << o.Get(0, 2)
                  << " state " << o.Get(0, 3) << " fee " << o.Get(0, 4) << ' ' << o.Get(0, 5)
                  << " (minor units) via " << o.Get(0, 6) << '\n';
        for (int i = 0; i < o.Rows(); ++i) {
            if (o.IsNull(i, 8)) continue;
            std::cout << "  slip " << o.Get(i, 8) << " " << o.Get(i, 9) << " txn "
                      << o.GetOpt(i, 10).value_or("-") << (o.Get(i, 11) == "t" ? " superseded" : "")
                      << (o.Get(i, 12) == "t" ? " REFUND-NEEDED" : "")
                      << (o.Get(i, 13).empty() ? "" : " note: " + o.Get(i, 13)) << '\n';
        }
        return 0;
    }
    if (verb == "list") {
        db::Result r = env.db.Query(
            "SELECT id, site_id, buyer_id, or_st, fee, currency, pay_tp, ct FROM orders "
            "WHERE ($1::text IS NULL OR site_id = $1) AND ($2::text IS NULL OR or_st = $2) "
            "ORDER BY ct DESC LIMIT $3",
            {a.Flag("site"), a.Flag("state"), a.Flag("limit").value_or("50")});
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
    db::Result due = env.db.Exec(store::kOrderExpireDue, {a.Flag("limit").value_or("500")});
    int expired = 0, settled = 0;
    for (int i = 0; i < due.Rows(); ++i) {
        std::string id = due.Get(i, 0);
        if (std::optional<store::SlipRow> slip = store::LiveSlip(env.db, id)) {
            if (slip->st == "NEW" || slip->st == "WAIT") {
                if (providers::Provider* p = ctx.ProviderFor(slip->provider)) {
                    if (auto m = store::FindMerchant(env.db, slip->merchant_id)) {
                        providers::CloseResult c = p->Close(*m, slip->id);
                        if (c.already_paid || !c.closed) {
                            app::RefreshSlip(ctx, *slip);
                            db::Result st = env.db.Query("SELECT or_st FROM orders WHERE id = $1", {id});
                            if (st.Rows() && st.Get(0, 0) != "NW" && st.Get(0, 0) != "WT") {
                                ++settled;
                                continue;
                            }
                            // Close failed and the state is still unknown: try again next run.
                            if (!c.closed) continue;
                        }
                        env.db.Exec(store::kSlipFail, {slip->id, "order expired"});
                    }
                }
            }
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

int ReconcileCmd(Env& env, const Args& a) {
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    db::Result waiting = env.db.Exec(store::kSlipsWaitingDue, {a.Flag("limit").value_or("500")});
    for (int i = 0; i < waiting.Rows(); ++i) {
        if (auto slip = store::FindSlip(env.db, waiting.Get(i, 0))) app::RefreshSlip(ctx, *slip);
    }
    db::Result attention = env.db.Query(
        "SELECT id, order_id, site_id, st, amount, currency, refund_needed, note FROM pay_slips "
        "WHERE refund_needed OR (st IN ('NEW', 'WAIT') AND ct < now() - interval '10 minutes') ORDER BY ct",
        {});
    std::cout << "queried " << waiting.Rows() << " waiting slips; " << attention.Rows()
              << " need attention\n";
    for (int i = 0; i < attention.Rows(); ++i) {
        std::cout << (attention.Get(i, 6) == "t" ? "REFUND  " : "UNKNOWN ") << attention.Get(i, 0)
                  << " order " << attention.Get(i, 1) << " site " << attention.Get(i, 2) << ' '
                  << attention.Get(i, 3) << ' ' << attention.Get(i, 4) << ' ' << attention.Get(i, 5) << " "
                  << attention.Get(i, 7) << '\n';
    }
    return 0;
}

}  // namespace

int Orders(Env& env, const std::string& group, const Args& a) {
    if (group == "order") return OrderCmd(env, a);
    if (group == "expire") return ExpireCmd(env, a);
    if (group == "reconcile") return ReconcileCmd(env, a);
    throw UsageError("unknown command " + group);
}

}  // namespace orderpay::cli
