// `orderpay inbox list|replay`: the notification inbox. Replay decides rows a dying worker left
// "received" (or whose evaluation failed) through the endpoint's own code path; it is idempotent,
// and the reconcile timer runs it.
#include <cstdlib>
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/notify.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/notifications.hpp"

namespace orderpay::cli {

namespace {

constexpr const char* kUsage =
    "inbox list [--verdict V] [--limit N] [--json] | inbox replay [--older-than 60s] [--verdict "
    "received|error] "
    "[--limit N]";

// "60", "60s", "5m", "2h" -> seconds.
std::int64_t Seconds(const std::string& text) {
    char* end = nullptr;
    long long n = std::strtoll(text.c_str(), &end, 10);
    std::string unit(end ? end : "");
    std::int64_t mul = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
    if (text.empty() || end == text.c_str() || n < 0 || mul < 0 || n > 10LL * 366 * 86400)
        throw UsageError("--older-than: a duration like 60s, 5m or 2h");
    return n * mul;
}

int List(Env& env, const Args& a) {
    std::vector<store::StoredNotification> rows =
        store::ListNotifications(env.db, a.Flag("verdict"), a.Limit(500));
    if (a.json) {
        std::cout << '[';
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& n = rows[i];
            std::cout << (i ? "," : "") << "{\"id\":" << n.id
                      << ",\"provider\":" << http::JsonString(n.provider)
                      << ",\"site\":" << http::JsonString(n.site_id)
                      << ",\"slip\":" << http::JsonString(n.slip_id)
                      << ",\"method\":" << http::JsonString(n.raw.method)
                      << ",\"verdict\":" << http::JsonString(n.verdict)
                      << ",\"reason\":" << http::JsonString(n.reason) << ",\"ct\":" << n.ct_ms
                      << ",\"request_id\":"
                      << (n.request_id.empty() ? "null" : http::JsonString(n.request_id)) << '}';
        }
        std::cout << "]\n";
        return 0;
    }
    std::cout << "id\tprovider\tsite\tslip\tverdict\treason\n";
    for (const auto& n : rows)
        std::cout << n.id << '\t' << n.provider << '\t' << n.site_id << '\t'
                  << (n.slip_id.empty() ? "-" : n.slip_id) << '\t' << n.verdict << '\t'
                  << log::TextEscape(n.reason) << '\n';
    return 0;
}

int Replay(Env& env, const Args& a) {
    std::string verdict = a.Flag("verdict").value_or("received");
    if (verdict != "received" && verdict != "error") throw UsageError("--verdict received or error");
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    for (const auto& p : ctx.providers().all()) p->LiftKeyFetchPace();
    std::vector<store::StoredNotification> rows = store::UndecidedNotifications(
        env.db, verdict, Seconds(a.Flag("older-than").value_or("60s")), a.Limit(500));
    int decided = 0, failed = 0;
    for (const auto& n : rows) {
        const providers::Provider* p = ctx.ProviderFor(n.provider);
        if (!p) {
            std::cerr << "notification " << n.id << ": no provider " << n.provider << " in this build\n";
            ++failed;
            continue;
        }
        app::Handled h = app::HandleStored(env.db, *p, n.site_id, n.id, n.raw);
        (h.decision.verdict == "error" ? failed : decided)++;
        std::cout << n.id << '\t' << n.provider << '\t' << h.decision.verdict << '\t' << h.decision.reason
                  << '\n';
    }
    std::cout << "replayed " << rows.size() << " notifications: " << decided << " decided, " << failed
              << " failed\n";
    return failed ? 1 : 0;
}

}  // namespace

int Inbox(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "list") return List(env, a);
    if (verb == "replay") return Replay(env, a);
    throw UsageError(kUsage);
}

}  // namespace orderpay::cli
