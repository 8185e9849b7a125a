// `orderpay ticket prune`: the tickets' retention on demand. Every login adds a row to sessions
// and a revoke only ends it, so rows that ended long ago are deleted; `expire` (every minute)
// does the same with ticket.keep_ended_days.
#include <iostream>

#include "orderpay/cli/cli.hpp"
#include "orderpay/store/tickets.hpp"

namespace orderpay::cli {

std::optional<std::int64_t> KeepEndedTicketsS(const Config& cfg) {
    if (const std::int64_t days = cfg.GetInt("ticket.keep_ended_days", 7)) return days * 86400;
    return std::nullopt;
}

int TicketPrune(Env& env, const Args& a) {
    if (a.pos.size() != 2) throw UsageError("ticket prune [--ended-older-than 7d] [--limit N]");
    std::optional<std::int64_t> age = KeepEndedTicketsS(env.cfg);
    // Any age, none too (0: every ended ticket): an ended ticket is never valid again, and its row
    // is kept only as a record of the login.
    if (std::optional<std::string> v = a.Flag("ended-older-than"))
        age = DurationSeconds(*v, "ended-older-than");
    const int most = a.Limit(100000);
    if (!age) {
        std::cout << "pruned 0 ended tickets (kept: ticket.keep_ended_days is 0 and no --ended-older-than)\n";
        return 0;
    }
    std::cout << "pruned " << store::PruneEndedTickets(env.db, *age, most) << " ended tickets\n";
    return 0;
}

}  // namespace orderpay::cli
