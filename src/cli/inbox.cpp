// `orderpay inbox list|replay|prune` (show: inbox_show.cpp): the notification inbox. Replay decides rows a
// dying worker left "received" (or whose evaluation failed) through the endpoint's own code path; it is
// idempotent, and the reconcile timer runs it. Prune drops rows decided long ago (the expire timer
// runs it with the config's ages).
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
    "inbox list [--verdict V] [--limit N] [--json] | inbox show ID [--body-only | --headers-only] "
    "[--json] | inbox replay [--older-than 60s] [--verdict "
    "received|error] [--limit N] | inbox prune [--older-than 30d] [--rejected-older-than 7d] [--limit N]";

// Every provider resends an unanswered notification for at most three days (WeChat Pay about 24
// hours, Alipay 25, PayPal 3 days); PayPal's event ids dedupe against the rows kept. A row that
// settled, or was a duplicate, is kept at least a week past the last resend it could dedupe.
constexpr std::int64_t kMinKeepDecidedS = 7LL * 86400;

int List(Env& env, const Args& a) {
    // A misspelt verdict lists nothing, which reads as "no such notifications": say which are valid
    // (the notifications table's CHECK).
    const std::optional<std::string> verdict = a.Flag("verdict");
    if (verdict && *verdict != "received" && *verdict != "settled" && *verdict != "duplicate" &&
        *verdict != "ignored" && *verdict != "rejected" && *verdict != "error")
        throw UsageError("--verdict received, settled, duplicate, ignored, rejected or error");
    std::vector<store::StoredNotification> rows = store::ListNotifications(env.db, verdict, a.Limit(500));
    if (a.json) {
        std::cout << '[';
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& n = rows[i];
            std::cout << (i ? "," : "") << "{\"id\":" << n.id
                      << ",\"provider\":" << http::JsonString(n.provider)
                      << ",\"site\":" << http::JsonString(n.site_id)
                      << ",\"slip\":" << (n.slip_id.empty() ? "null" : http::JsonString(n.slip_id))
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
        env.db, verdict, DurationSeconds(a.Flag("older-than").value_or("60s"), "older-than"), a.Limit(500));
    int decided = 0, failed = 0, paced = 0, elsewhere = 0;
    for (const auto& n : rows) {
        const providers::Provider* p = ctx.ProviderFor(n.provider);
        if (!p) {
            std::cerr << "notification " << n.id << ": no provider " << n.provider << " in this build\n";
            ++failed;
            continue;
        }
        app::Handled h = app::HandleStored(env.db, *p, n.site_id, n.id, n.raw);
        // Decided meanwhile by another process (the timer on another host replaying the same
        // rows, or the provider's resend): not this run's to claim. The line gives the row's
        // verdict as recorded, not what this evaluation made of it (a duplicate of its own
        // settlement), and the count keeps it apart.
        if (!h.recorded) {
            ++elsewhere;
            std::optional<store::StoredNotification> now = store::FindNotification(env.db, n.id);
            std::cout << n.id << '\t' << n.provider << '\t' << (now ? now->verdict : "?") << '\t'
                      << "decided meanwhile by another process: " << (now ? log::TextEscape(now->reason) : "")
                      << '\n';
            continue;
        }
        // Paced: another message for the slip asked the provider under 2 s ago (a burst of
        // copies, replayed in a row). Not a failure to alert on: the next run asks (review s29).
        // One decided all the same (another capture of a paid slip) is decided.
        (h.decision.verdict != "error" ? decided : h.decision.paced ? paced : failed)++;
        std::cout << n.id << '\t' << n.provider << '\t' << h.decision.verdict << '\t' << h.decision.reason
                  << '\n';
    }
    std::cout << "replayed " << rows.size() << " notifications: " << decided << " decided, " << failed
              << " failed" << (paced ? ", " + std::to_string(paced) + " paced (asked again next run)" : "")
              << (elsewhere ? ", " + std::to_string(elsewhere) + " decided meanwhile by another process" : "")
              << '\n';
    return failed ? 1 : 0;
}

int Prune(Env& env, const Args& a) {
    InboxAges ages = InboxAges::From(env.cfg);
    if (std::optional<std::string> v = a.Flag("older-than")) {
        ages.decided_s = DurationSeconds(*v, "older-than");
        if (*ages.decided_s < kMinKeepDecidedS)
            throw UsageError("--older-than: at least 7d (providers resend for up to three days)");
    }
    // Any age, none too: in a flood of forgeries an operator may drop them all at once.
    if (std::optional<std::string> v = a.Flag("rejected-older-than"))
        ages.unverified_s = DurationSeconds(*v, "rejected-older-than");
    const InboxPruned p = PruneInbox(env, ages, a.Limit(100000));
    std::cout << "pruned " << p.unverified << " unverified notifications"
              << (ages.unverified_s ? "" : " (kept: no age given)") << ", " << p.decided << " decided"
              << (ages.decided_s ? "" : " (kept: no age given)") << '\n';
    return 0;
}

}  // namespace

InboxAges InboxAges::From(const Config& cfg) {
    InboxAges ages;
    if (const std::int64_t days = cfg.GetInt("notify.keep_rejected_days", 7))
        ages.unverified_s = days * 86400;
    if (const std::int64_t days = cfg.GetInt("notify.keep_days", 0)) ages.decided_s = days * 86400;
    return ages;
}

InboxPruned PruneInbox(Env& env, const InboxAges& ages, std::int64_t most) {
    InboxPruned p;
    if (ages.unverified_s)
        p.unverified = store::PruneUnverifiedNotifications(env.db, *ages.unverified_s, most);
    if (ages.decided_s) p.decided = store::PruneDecidedNotifications(env.db, *ages.decided_s, most);
    return p;
}

int Inbox(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "list") return List(env, a);
    if (verb == "replay") return Replay(env, a);
    if (verb == "prune") return Prune(env, a);
    if (verb == "show") return InboxShow(env, a);
    throw UsageError(kUsage);
}

}  // namespace orderpay::cli
