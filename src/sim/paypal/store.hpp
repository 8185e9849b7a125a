// paysim's PayPal SQL: merchants (REST apps), the tokens it issued, and Orders v2 orders whose
// every state change is a conditional UPDATE (sql/paysim/003_paypal.sql).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::sim::pp_store {

std::span<const db::Statement> Statements();

struct Merchant {
    std::string client_id;
    std::string secret;      // never logged or replied
    std::string webhook_id;  // what its webhooks are signed for
};

struct Order {
    std::string id, client_id, custom_id, invoice_id, currency, value, return_url, cancel_url, status;
    std::optional<std::string> request_id, payer_id, capture_id, capture_status, capture_request_id;
    int captures = 0, capture_calls = 0;
};

std::optional<Merchant> FindMerchant(db::Connection& c, std::string_view client_id);
void UpsertMerchant(db::Connection& c, const Merchant& m);

/// A new token for `client_id`, valid `ttl_s` seconds.
void InsertToken(db::Connection& c, const std::string& token, const std::string& client_id,
                 std::int64_t ttl_s);
/// The client id a live token belongs to.
std::optional<std::string> TokenClient(db::Connection& c, std::string_view token);

/// Inserts `o` unless (client_id, request_id) exists; either way the order for that request.
Order CreateOrder(db::Connection& c, const Order& o);
std::optional<Order> FindOrder(db::Connection& c, std::string_view id);
std::vector<Order> FindOrdersByCustomId(db::Connection& c, std::string_view custom_id);

/// PAYER_ACTION_REQUIRED -> APPROVED with the payer; nullopt when not in that state.
std::optional<Order> Approve(db::Connection& c, std::string_view id, std::string_view payer_id);
/// APPROVED -> COMPLETED with one capture of `capture_status` under `request_id`; nullopt when
/// the order was not APPROVED (counts the call either way).
std::optional<Order> Capture(db::Connection& c, std::string_view id, std::string_view capture_status,
                             std::string_view request_id);
/// Counts a capture request that captured nothing.
void CountCaptureCall(db::Connection& c, std::string_view id);

}  // namespace orderpay::sim::pp_store
