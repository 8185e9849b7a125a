// admin/ticket's and admin/ticket_revoke's request bodies: the JSON fields they read, checked and
// gathered, so a shop's login server that sends a wrong one is told which field and why.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "orderpay/http/request.hpp"

namespace orderpay::handlers {

/// The largest admin/ticket or admin/ticket_revoke body: a few short fields.
inline constexpr std::size_t kMaxTicketBody = 4096;
/// An account's display name, in characters.
inline constexpr std::size_t kMaxAccountNameChars = 64;
/// A WeChat openid (28 characters today), with room to spare.
inline constexpr std::size_t kMaxOpenidChars = 128;
/// A ticket to revoke: FindSession looks up none longer.
inline constexpr std::size_t kMaxTicketChars = 256;

struct TicketInput {
    std::string account;
    int ttl_hours = 24;
    std::optional<std::string> name;    // nullopt: keep the account's (or '' for a new one)
    std::optional<std::string> openid;  // nullopt: keep; "": clear
};

struct TicketRevokeInput {
    std::optional<std::string> ticket;  // exactly one of the two
    std::optional<std::string> account;
};

/// Reads admin/ticket's body into `in`: nullopt when it is acceptable, else the error reply.
std::optional<http::Response> ParseTicketInput(const http::Request& req, TicketInput& in);
/// Reads admin/ticket_revoke's body into `in`: nullopt when it is acceptable, else the error reply.
std::optional<http::Response> ParseTicketRevokeInput(const http::Request& req, TicketRevokeInput& in);

/// An openid as WeChat issues them: 1 to kMaxOpenidChars of A-Z a-z 0-9 _ - (or "" to clear it).
bool ValidOpenid(std::string_view openid);

}  // namespace orderpay::handlers
