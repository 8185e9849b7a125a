// POST /api/{site}/admin/ticket (a shop's login server, API key): a buyer ticket for an account
// of the site's account store, the account created (or its given fields changed) first, exactly
// as `orderpay account add` and `orderpay ticket issue` do, in one transaction: a ticket is never
// issued for an account whose fields were not written, nor an account left half-made.
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/ticket_input.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/tickets.hpp"

namespace orderpay::handlers {

http::Response AdminTicket(app::Context& ctx, app::Call& call, const http::Request& req) {
    if (!call.site.account_store) return http::Fail(http::Err::kNilAccounts);
    TicketInput in;
    if (std::optional<http::Response> bad = ParseTicketInput(req, in)) return *bad;
    const std::string& accounts = *call.site.account_store;

    db::Tx tx(ctx.db());
    // The site's store is a foreign key of the site, so it exists: false here would be a bug.
    if (!store::UpsertAccount(ctx.db(), accounts, in.account, in.name, in.openid))
        return http::Fail(http::Err::kNilAccounts);
    store::IssuedTicket t = store::IssueTicket(ctx.db(), accounts, in.account, in.ttl_hours);
    tx.Commit();
    return http::Ok("{\"ticket\":" + http::JsonString(t.ticket) + ",\"account\":" +
                    http::JsonString(in.account) + ",\"expires_at\":" + http::JsonString(t.expires_at) + "}");
}

}  // namespace orderpay::handlers
