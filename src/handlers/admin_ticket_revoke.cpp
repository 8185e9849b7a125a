// POST /api/{site}/admin/ticket_revoke (a shop's login server, API key): ends one ticket (at
// logout, or one that leaked: tickets travel in URLs) or every ticket of an account, in the
// site's account store only. Workers keep no tickets in memory: every pay/* call looks its
// ticket up, so the very next one is answered 401. Revoking nothing is not an error ("revoked":0):
// a logout that is retried, or a ticket already expired, must not look like a failure.
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/ticket_input.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/tickets.hpp"

namespace orderpay::handlers {

http::Response AdminTicketRevoke(app::Context& ctx, app::Call& call, const http::Request& req) {
    if (!call.site.account_store) return http::Fail(http::Err::kNilAccounts);
    TicketRevokeInput in;
    if (std::optional<http::Response> bad = ParseTicketRevokeInput(req, in)) return *bad;
    // Another shop sharing nothing with this site cannot end its buyers' tickets with its key.
    const std::string& accounts = *call.site.account_store;
    std::int64_t n = in.ticket ? store::EndTicket(ctx.db(), *in.ticket, accounts)
                               : store::EndAccountTickets(ctx.db(), accounts, *in.account);
    return http::Ok("{\"revoked\":" + std::to_string(n) + "}");
}

}  // namespace orderpay::handlers
