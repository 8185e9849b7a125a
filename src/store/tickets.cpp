// Accounts and tickets through named statements (statements.cpp): the operator API runs them on
// the request path, where only prepared statements are used. Their retention is the CLI's alone.
#include "orderpay/store/tickets.hpp"

#include "orderpay/crypto/digest.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/statements.hpp"
#include "store/batches.hpp"

namespace orderpay::store {

bool UpsertAccount(db::Connection& c, const std::string& store, const std::string& id,
                   const std::optional<std::string>& name, const std::optional<std::string>& openid) {
    // From the store's row, so a store that does not exist is "no such store", not a foreign key.
    return c.Exec(kAccountUpsert, {id, store, name, openid}).Rows() == 1;
}

IssuedTicket IssueTicket(db::Connection& c, const std::string& store, const std::string& account,
                         int ttl_hours) {
    IssuedTicket t;
    t.ticket = crypto::RandomToken(24);
    db::Result r = c.Exec(kSessionInsert, {TicketHash(t.ticket), store, account, std::to_string(ttl_hours)});
    t.expires_at = r.Get(0, "expires_at");
    return t;
}

std::int64_t EndTicket(db::Connection& c, const std::string& ticket,
                       const std::optional<std::string>& store) {
    // Longer than any ticket FindSession would look up: no session can have it.
    if (ticket.empty() || ticket.size() > 256) return 0;
    return c.Exec(kSessionEnd, {TicketHash(ticket), store}).Affected();
}

std::int64_t EndAccountTickets(db::Connection& c, const std::string& store, const std::string& account) {
    return c.Exec(kSessionsEndOfAccount, {store, account}).Affected();
}

std::int64_t PruneEndedTickets(db::Connection& c, std::int64_t ended_s, std::int64_t most) {
    // Unprepared (CliStatements): only the CLI prunes.
    return InBatches(most, [&](std::int64_t batch) {
        return c.Query(kSessionsPrune.sql, {ended_s, batch}).Affected();
    });
}

bool EndedTicketsIndexed(db::Connection& c) {
    return c.Query(kSessionsPruneIndexed.sql, {}).Rows() == 1;
}

}  // namespace orderpay::store
