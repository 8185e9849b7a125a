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
#include "sim/core/store.hpp"

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
    std::optional<std::string> capture_value;  // test knob: the capture amount answers report
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
std::optional<Order> FindOrderByCapture(db::Connection& c, std::string_view capture_id);
std::vector<Order> FindOrdersByCustomId(db::Connection& c, std::string_view custom_id);

/// PAYER_ACTION_REQUIRED -> APPROVED with the payer; nullopt when not in that state.
std::optional<Order> Approve(db::Connection& c, std::string_view id, std::string_view payer_id);
/// APPROVED -> COMPLETED with one capture of `capture_status` under `request_id`; nullopt when
/// the order was not APPROVED (counts the call either way).
std::optional<Order> Capture(db::Connection& c, std::string_view id, std::string_view capture_status,
                             std::string_view request_id);
/// Sets (or, with "", clears) the capture amount the answers about the orders of `custom_id`
/// report; how many orders it set.
int SetCaptureValue(db::Connection& c, std::string_view custom_id, std::string_view value);
/// Counts a capture request that captured nothing.
void CountCaptureCall(db::Connection& c, std::string_view id);

/// A refund of a capture (sql/paysim/006_pp_wx3_refunds.sql).
struct Refund {
    std::string id, client_id, request_id, order_id, capture_id, invoice_id, note, currency, value;
    std::int64_t minor = 0;
    std::string status;  // PENDING, COMPLETED, FAILED, CANCELLED
    int calls = 0, notify_count = 0;
    std::int64_t ct_s = 0, lm_s = 0;
};

using Made = store::Made;

/// Inserts `r` (for the capture of order r.order_id, which captured `captured_minor`) unless
/// its request id was used (then `out` is that refund, its call counted) or the refunds of the
/// capture that are not FAILED/CANCELLED would then exceed `captured_minor` (kNoTrade when the
/// order no longer has that capture). The order row is locked first, so concurrent refunds of one capture are
/// judged one after the other.
Made InsertRefund(db::Connection& c, const Refund& r, std::int64_t captured_minor, Refund& out);
std::optional<Refund> FindRefund(db::Connection& c, std::string_view id);
/// The refunds whose invoice_id (orderpay's refund id) is `invoice_id`.
std::vector<Refund> RefundsByInvoice(db::Connection& c, std::string_view invoice_id);
std::vector<Refund> RefundsOfOrder(db::Connection& c, std::string_view order_id);
/// PENDING -> `status`; nullopt when the refund was not PENDING.
std::optional<Refund> FinishRefund(db::Connection& c, std::string_view id, std::string_view status);
/// Counts `n` webhooks sent about the refund.
void CountRefundNotify(db::Connection& c, std::string_view id, int n);

}  // namespace orderpay::sim::pp_store
