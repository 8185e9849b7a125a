// paysim's PayPal prepared statements and their typed wrappers.
#include "sim/paypal/store.hpp"

#include <array>

#include "sim/core/store.hpp"

namespace orderpay::sim::pp_store {

namespace {

#define PP_ORDER_COLS                                                                                     \
    " id, client_id, request_id, custom_id, invoice_id, currency, value, return_url, cancel_url, status," \
    " payer_id, capture_id, capture_status, capture_request_id, captures, capture_calls, capture_value "

const db::Statement kFindMerchant{"pp_find_merchant",
                                  "SELECT mch_id, api_key, app_id FROM paysim.merchants"
                                  " WHERE provider = 'paypal' AND mch_id = $1"};
const db::Statement kUpsertMerchant{
    "pp_upsert_merchant",
    "INSERT INTO paysim.merchants (provider, mch_id, app_id, sign_type, api_key)"
    " VALUES ('paypal', $1, $2, 'SHA256withRSA', $3)"
    " ON CONFLICT (provider, mch_id) DO UPDATE SET app_id = EXCLUDED.app_id, api_key = EXCLUDED.api_key,"
    " sign_type = EXCLUDED.sign_type, lm = now()"};
const db::Statement kInsertToken{"pp_insert_token",
                                 "INSERT INTO paysim.pp_tokens (token, client_id, expires_at)"
                                 " VALUES ($1, $2, now() + make_interval(secs => $3::float8))"};
const db::Statement kTokenClient{
    "pp_token_client", "SELECT client_id FROM paysim.pp_tokens WHERE token = $1 AND expires_at > now()"};
// ON CONFLICT DO NOTHING then a read: two concurrent creates with one request id make one order.
const db::Statement kInsertOrder{
    "pp_insert_order",
    "INSERT INTO paysim.pp_orders (id, client_id, request_id, custom_id, invoice_id, currency, value,"
    " return_url, cancel_url, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'PAYER_ACTION_REQUIRED')"
    " ON CONFLICT (client_id, request_id) DO NOTHING"};
const db::Statement kOrderByRequest{"pp_order_by_request",
                                    "SELECT" PP_ORDER_COLS
                                    "FROM paysim.pp_orders WHERE client_id = $1 AND request_id = $2"};
const db::Statement kFindOrder{"pp_find_order", "SELECT" PP_ORDER_COLS "FROM paysim.pp_orders WHERE id = $1"};
const db::Statement kOrderByCapture{"pp_order_by_capture",
                                    "SELECT" PP_ORDER_COLS "FROM paysim.pp_orders WHERE capture_id = $1"};
const db::Statement kOrdersByCustom{"pp_orders_by_custom",
                                    "SELECT" PP_ORDER_COLS
                                    "FROM paysim.pp_orders WHERE custom_id = $1 ORDER BY ct LIMIT 10"};
const db::Statement kApprove{"pp_approve",
                             "UPDATE paysim.pp_orders SET status = 'APPROVED', payer_id = $2, lm = now()"
                             " WHERE id = $1 AND status = 'PAYER_ACTION_REQUIRED' RETURNING" PP_ORDER_COLS};
const db::Statement kCapture{
    "pp_capture",
    "UPDATE paysim.pp_orders SET status = 'COMPLETED', capture_status = $2, capture_request_id = $3,"
    " capture_id = upper(substr(md5(random()::text || id), 1, 17)), captures = captures + 1,"
    " capture_calls = capture_calls + 1, lm = now()"
    " WHERE id = $1 AND status = 'APPROVED' RETURNING" PP_ORDER_COLS};
const db::Statement kSetCaptureValue{"pp_set_capture_value",
                                     "UPDATE paysim.pp_orders SET capture_value = NULLIF($2, ''), lm = now() "
                                     "WHERE custom_id = $1 RETURNING id"};
const db::Statement kCountCall{"pp_count_capture_call",
                               "UPDATE paysim.pp_orders SET capture_calls = capture_calls + 1 WHERE id = $1"};

#define PP_REFUND_COLS                                                                                    \
    " id, client_id, request_id, order_id, capture_id, invoice_id, note, currency, value, minor, status," \
    " calls, notify_count, extract(epoch from ct)::bigint AS ct_s, extract(epoch from lm)::bigint AS lm_s "

const db::Statement kLockCapture{
    "pp_lock_capture", "SELECT id FROM paysim.pp_orders WHERE id = $1 AND capture_id = $2 FOR UPDATE"};
// Run after kLockCapture in the same transaction: the sum is read under the order's lock, by a
// statement that starts after any concurrent refund of the capture committed.
const db::Statement kInsertRefund{
    "pp_insert_refund",
    "INSERT INTO paysim.pp_refunds (id, client_id, request_id, order_id, capture_id, invoice_id, note,"
    " currency, value, minor, status)"
    " SELECT $1, $2, $3, $4, $5::text, $6, $7, $8, $9, $10::bigint, $11"
    " WHERE (SELECT coalesce(sum(minor), 0) FROM paysim.pp_refunds WHERE capture_id = $5::text"
    "        AND status IN ('PENDING', 'COMPLETED')) + $10::bigint <= $12::bigint"
    " ON CONFLICT (client_id, request_id) DO NOTHING RETURNING" PP_REFUND_COLS};
const db::Statement kRefundByRequest{
    "pp_refund_by_request",
    "UPDATE paysim.pp_refunds SET calls = calls + 1 WHERE client_id = $1 AND request_id = $2"
    " RETURNING" PP_REFUND_COLS};
const db::Statement kFindRefund{"pp_find_refund",
                                "SELECT" PP_REFUND_COLS "FROM paysim.pp_refunds WHERE id = $1"};
const db::Statement kRefundsByInvoice{"pp_refunds_by_invoice",
                                      "SELECT" PP_REFUND_COLS
                                      "FROM paysim.pp_refunds WHERE invoice_id = $1 ORDER BY ct LIMIT 10"};
const db::Statement kRefundsOfOrder{"pp_refunds_of_order",
                                    "SELECT" PP_REFUND_COLS
                                    "FROM paysim.pp_refunds WHERE order_id = $1 ORDER BY ct LIMIT 100"};
const db::Statement kFinishRefund{
    "pp_finish_refund",
    "UPDATE paysim.pp_refunds SET status = $2, lm = now() WHERE id = $1 AND status = 'PENDING'"
    " RETURNING" PP_REFUND_COLS};
const db::Statement kCountRefundNotify{
    "pp_count_refund_notify", "UPDATE paysim.pp_refunds SET notify_count = notify_count + $2 WHERE id = $1"};

Refund ReadRefund(const db::Result& r, int row) {
    Refund f;
    f.id = r.Get(row, "id");
    f.client_id = r.Get(row, "client_id");
    f.request_id = r.Get(row, "request_id");
    f.order_id = r.Get(row, "order_id");
    f.capture_id = r.Get(row, "capture_id");
    f.invoice_id = r.Get(row, "invoice_id");
    f.note = r.Get(row, "note");
    f.currency = r.Get(row, "currency");
    f.value = r.Get(row, "value");
    f.minor = r.GetInt(row, "minor");
    f.status = r.Get(row, "status");
    f.calls = static_cast<int>(r.GetInt(row, "calls"));
    f.notify_count = static_cast<int>(r.GetInt(row, "notify_count"));
    f.ct_s = r.GetInt(row, "ct_s");
    f.lm_s = r.GetInt(row, "lm_s");
    return f;
}

Order ReadOrder(const db::Result& r, int row) {
    Order o;
    o.id = r.Get(row, "id");
    o.client_id = r.Get(row, "client_id");
    o.request_id = r.GetOpt(row, "request_id");
    o.custom_id = r.Get(row, "custom_id");
    o.invoice_id = r.Get(row, "invoice_id");
    o.currency = r.Get(row, "currency");
    o.value = r.Get(row, "value");
    o.return_url = r.Get(row, "return_url");
    o.cancel_url = r.Get(row, "cancel_url");
    o.status = r.Get(row, "status");
    o.payer_id = r.GetOpt(row, "payer_id");
    o.capture_id = r.GetOpt(row, "capture_id");
    o.capture_status = r.GetOpt(row, "capture_status");
    o.capture_request_id = r.GetOpt(row, "capture_request_id");
    o.captures = static_cast<int>(r.GetInt(row, "captures"));
    o.capture_calls = static_cast<int>(r.GetInt(row, "capture_calls"));
    o.capture_value = r.GetOpt(row, "capture_value");
    return o;
}

}  // namespace

std::span<const db::Statement> Statements() {
    static const std::array kAll = {kFindMerchant,     kUpsertMerchant, kInsertToken,     kTokenClient,
                                    kInsertOrder,      kOrderByRequest, kFindOrder,       kOrdersByCustom,
                                    kApprove,          kCapture,        kCountCall,       kLockCapture,
                                    kOrderByCapture,   kInsertRefund,   kRefundByRequest, kFindRefund,
                                    kRefundsByInvoice, kRefundsOfOrder, kFinishRefund,    kCountRefundNotify,
                                    kSetCaptureValue};
    return kAll;
}

std::optional<Merchant> FindMerchant(db::Connection& c, std::string_view client_id) {
    db::Result r = c.Exec(kFindMerchant, {client_id});
    if (r.Rows() == 0) return std::nullopt;
    return Merchant{r.Get(0, "mch_id"), r.Get(0, "api_key"), r.Get(0, "app_id")};
}

void UpsertMerchant(db::Connection& c, const Merchant& m) {
    c.Exec(kUpsertMerchant, {m.client_id, m.webhook_id, m.secret});
}

void InsertToken(db::Connection& c, const std::string& token, const std::string& client_id,
                 std::int64_t ttl_s) {
    c.Exec(kInsertToken, {token, client_id, std::to_string(ttl_s)});
}

std::optional<std::string> TokenClient(db::Connection& c, std::string_view token) {
    db::Result r = c.Exec(kTokenClient, {token});
    if (r.Rows() == 0) return std::nullopt;
    return r.Get(0, "client_id");
}

Order CreateOrder(db::Connection& c, const Order& o) {
    c.Exec(kInsertOrder, {o.id, o.client_id, o.request_id, o.custom_id, o.invoice_id, o.currency, o.value,
                          o.return_url, o.cancel_url});
    if (!o.request_id) return *FindOrder(c, o.id);
    db::Result r = c.Exec(kOrderByRequest, {o.client_id, o.request_id});
    return ReadOrder(r, 0);
}

std::optional<Order> FindOrder(db::Connection& c, std::string_view id) {
    return store::First(c.Exec(kFindOrder, {id}), &ReadOrder);
}

std::optional<Order> FindOrderByCapture(db::Connection& c, std::string_view capture_id) {
    return store::First(c.Exec(kOrderByCapture, {capture_id}), &ReadOrder);
}

std::vector<Order> FindOrdersByCustomId(db::Connection& c, std::string_view custom_id) {
    return store::All(c.Exec(kOrdersByCustom, {custom_id}), &ReadOrder);
}

std::optional<Order> Approve(db::Connection& c, std::string_view id, std::string_view payer_id) {
    return store::First(c.Exec(kApprove, {id, payer_id}), &ReadOrder);
}

std::optional<Order> Capture(db::Connection& c, std::string_view id, std::string_view capture_status,
                             std::string_view request_id) {
    return store::First(c.Exec(kCapture, {id, capture_status, request_id}), &ReadOrder);
}

int SetCaptureValue(db::Connection& c, std::string_view custom_id, std::string_view value) {
    return c.Exec(kSetCaptureValue, {custom_id, value}).Rows();
}

void CountCaptureCall(db::Connection& c, std::string_view id) {
    c.Exec(kCountCall, {id});
}

Made InsertRefund(db::Connection& c, const Refund& r, std::int64_t captured_minor, Refund& out) {
    return store::RecordRefund<Refund>(
        c, out,
        [&]() -> std::optional<std::int64_t> {
            if (c.Exec(kLockCapture, {r.order_id, r.capture_id}).Rows() == 0) return std::nullopt;
            return captured_minor;
        },
        [&](std::int64_t most) {
            return store::First(
                c.Exec(kInsertRefund, {r.id, r.client_id, r.request_id, r.order_id, r.capture_id,
                                       r.invoice_id, r.note, r.currency, r.value, r.minor, r.status, most}),
                &ReadRefund);
        },
        [&] {
            return store::First(c.Exec(kRefundByRequest, {r.client_id, r.request_id}), &ReadRefund);
        });
}

std::optional<Refund> FindRefund(db::Connection& c, std::string_view id) {
    return store::First(c.Exec(kFindRefund, {id}), &ReadRefund);
}

std::vector<Refund> RefundsByInvoice(db::Connection& c, std::string_view invoice_id) {
    return store::All(c.Exec(kRefundsByInvoice, {invoice_id}), &ReadRefund);
}

std::vector<Refund> RefundsOfOrder(db::Connection& c, std::string_view order_id) {
    return store::All(c.Exec(kRefundsOfOrder, {order_id}), &ReadRefund);
}

std::optional<Refund> FinishRefund(db::Connection& c, std::string_view id, std::string_view status) {
    return store::First(c.Exec(kFinishRefund, {id, status}), &ReadRefund);
}

void CountRefundNotify(db::Connection& c, std::string_view id, int n) {
    c.Exec(kCountRefundNotify, {id, n});
}

}  // namespace orderpay::sim::pp_store
