// Buyer accounts and their tickets (login sessions, stored as the ticket's SHA-256): one set of
// functions for the CLI (`account add`, `ticket issue`, `ticket revoke`) and the operator API
// (admin/ticket, admin/ticket_revoke), so both create and end them the same way; and their
// retention (`expire`, `ticket prune`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "orderpay/db/connection.hpp"

namespace orderpay::store {

/// A ticket's life in hours, as `ticket issue --ttl-hours` and admin/ticket's ttl_hours take it:
/// 1 to 8784 (a leap year).
constexpr bool ValidTicketHours(long long hours) {
    return hours >= 1 && hours <= 24 * 366;
}

/// Adds the account, or changes an existing one's fields that are given (an empty openid clears
/// it); false when there is no such store.
bool UpsertAccount(db::Connection& c, const std::string& store, const std::string& id,
                   const std::optional<std::string>& name, const std::optional<std::string>& openid);

struct IssuedTicket {
    std::string ticket;      // shown once; only its hash is stored
    std::string expires_at;  // ISO 8601 UTC, "2026-05-01T12:00:00Z"
};
/// A new random ticket for an existing account of `store`, valid for `ttl_hours`
/// (ValidTicketHours, checked by the caller).
IssuedTicket IssueTicket(db::Connection& c, const std::string& store, const std::string& account,
                         int ttl_hours);

/// Ends the ticket now if it is live (and, when `store` is given, of an account of that store):
/// 1 when it ended, 0 when it was unknown, already ended or another store's.
std::int64_t EndTicket(db::Connection& c, const std::string& ticket, const std::optional<std::string>& store);
/// Ends every live ticket of the account; how many.
std::int64_t EndAccountTickets(db::Connection& c, const std::string& store, const std::string& account);

/// Deletes tickets that ended (expired, or revoked) more than `ended_s` seconds ago, oldest first,
/// in batches of 1000, at most `most` of them; how many went. Never a live ticket, whatever
/// `ended_s` (0: every ended one). Rows a concurrent run holds are left to it.
std::int64_t PruneEndedTickets(db::Connection& c, std::int64_t ended_s, std::int64_t most);
/// Whether migration 026's index on the tickets' expiry is there (`expire` prunes only then).
bool EndedTicketsIndexed(db::Connection& c);

}  // namespace orderpay::store
