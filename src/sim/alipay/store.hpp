// paysim's Alipay SQL: zfb merchants (RSA keys) and paysim.zfb_trades, every state change a
// conditional UPDATE (sql/paysim/002_alipay.sql).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::sim::zfb_store {

/// The statements below (store::Statements() prepares them with WeChat's).
std::span<const db::Statement> Statements();

struct Merchant {
    std::string seller_id;  // paysim.merchants.mch_id
    std::string app_id;
    std::string app_public_key;      // PEM: verifies the app's requests
    std::string alipay_private_key;  // PEM, secret: signs answers and notifications
};

struct TradeKey {
    std::string seller_id;
    std::string out_trade_no;
};

struct Trade {
    TradeKey key;
    std::string app_id;
    std::string method;  // "precreate" | "pay" | "cancel" (a closed record made by cancel)
    std::int64_t total_fee = 0;
    std::string subject, notify_url, auth_code, scan;
    std::optional<std::string> qr_code, trade_no;
    std::string buyer_id, buyer_logon_id;
    std::string state = "NOT_SCANNED";
    bool refunded = false;
    int queries = 0, cancels = 0;
    std::optional<std::string> notify_seed;
    int notify_count = 0;
    std::int64_t ct = 0;  // epoch seconds
    std::int64_t ct_ms = 0;
    std::optional<std::int64_t> paid_at, closed_at;  // epoch seconds
    std::int64_t refund_total = 0;                   // fen refunded by alipay.trade.refund
};

/// TRADE_SUCCESS or TRADE_FINISHED: the buyer has paid.
inline bool Paid(const Trade& t) {
    return t.state == "TRADE_SUCCESS" || t.state == "TRADE_FINISHED";
}

/// The buyer a trade gets when its code is scanned (buyer_id and the masked buyer_logon_id).
struct Buyer {
    std::string id, logon_id;
};

std::optional<Merchant> FindMerchant(db::Connection& c, std::string_view seller_id);
std::optional<Merchant> FindMerchantByApp(db::Connection& c, std::string_view app_id);
/// Inserts or updates provider 'zfb', mch_id = seller_id, sign_type RSA2. Throws db::Error with
/// sqlstate 23505 when the app_id belongs to another seller.
void UpsertMerchant(db::Connection& c, const Merchant& m);

std::optional<Trade> FindTrade(db::Connection& c, const TradeKey& k);
std::optional<Trade> FindTradeByNo(db::Connection& c, std::string_view seller_id, std::string_view trade_no);
/// Trades with this out_trade_no under `seller_id` or, when it is "", under any seller (the
/// control API need not name one).
std::vector<Trade> FindTradesByOutTradeNo(db::Connection& c, std::string_view out_trade_no,
                                          std::string_view seller_id);

/// Inserts `t` unless its key exists (then nullopt). A "pay" trade gets its trade_no at once
/// (the buyer's code was scanned), a TRADE_SUCCESS one its paid_at, a TRADE_CLOSED one closed_at.
std::optional<Trade> InsertTrade(db::Connection& c, const Trade& t);

/// Counts one query and, for a slow scan past its pending queries, turns WAIT_BUYER_PAY into
/// TRADE_SUCCESS. nullopt when the trade does not exist.
std::optional<Trade> CountQuery(db::Connection& c, const TradeKey& k);

/// Counts one cancel (the row lock orders concurrent ones). nullopt when the trade does not exist.
std::optional<Trade> CountCancel(db::Connection& c, const TradeKey& k);

/// state := `to` when the current state is one of `from`; `refund` also sets refunded. Closing
/// stamps closed_at. nullopt when the state was not one of `from` (or no row).
std::optional<Trade> Transition(db::Connection& c, const TradeKey& k,
                                std::initializer_list<std::string_view> from, std::string_view to,
                                bool refund = false);

/// Pays a trade in state `from`: state := `to` (TRADE_SUCCESS or TRADE_FINISHED), paid_at now,
/// trade_no and buyer assigned once. nullopt when the state was not `from`.
std::optional<Trade> MarkPaid(db::Connection& c, const TradeKey& k, std::string_view from,
                              std::string_view to, const Buyer& buyer);

/// Before sending notifications: trade_no and buyer assigned once (a notification always names
/// them), notify_seed fixed (first call wins), `copies` added to notify_count.
std::optional<Trade> PrepareNotify(db::Connection& c, const TradeKey& k, std::string_view seed, int copies,
                                   const Buyer& buyer);

struct RefundAnswer {
    std::string outcome;  // refunded, repeated, no_trade, not_paid, amount_differs, too_much
    std::int64_t refunded_total = 0;
};

/// alipay.trade.refund's bookkeeping (paysim.zfb_refund): idempotent on out_request_no, never
/// more than the trade was paid.
RefundAnswer Refund(db::Connection& c, const TradeKey& k, std::string_view out_request_no, std::int64_t fee,
                    std::string_view reason);

struct RefundRecord {
    std::int64_t fee = 0;
    std::int64_t ct = 0;  // epoch seconds
};

/// The refund `out_request_no` of the trade, if Alipay made it.
std::optional<RefundRecord> FindRefund(db::Connection& c, const TradeKey& k, std::string_view out_request_no);

}  // namespace orderpay::sim::zfb_store
