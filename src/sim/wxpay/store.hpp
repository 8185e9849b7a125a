// paysim's WeChat SQL: wx merchants (API keys) and paysim.trades, every state change a
// conditional UPDATE (sql/paysim/001_init.sql).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::sim::wx_store {

/// The statements below (store::Statements() prepares them with Alipay's).
std::span<const db::Statement> Statements();

struct Merchant {
    std::string provider;  // "wx"
    std::string mch_id;
    std::string app_id;
    std::string sign_type;       // "MD5" | "HMAC-SHA256": the merchant's default
    std::string api_key;         // secret: never logged or replied (v3: the APIv3 key)
    std::string options = "{}";  // JSON; a v3 merchant's keys (sim/wxpay3/call.hpp)
};

struct TradeKey {
    std::string provider;
    std::string mch_id;
    std::string out_trade_no;
};

struct Trade {
    TradeKey key;
    std::string app_id, trade_type;
    std::int64_t total_fee = 0;
    std::string fee_type = "CNY", sign_type = "MD5";
    std::string body, attach, notify_url, product_id, openid, auth_code, scan;
    std::optional<std::string> prepay_id, code_url, transaction_id;
    std::string state = "NOTPAY";
    int queries = 0;
    std::optional<std::string> notify_nonce;
    int notify_count = 0;
    std::int64_t ct_ms = 0;
    std::optional<std::int64_t> paid_at;  // epoch seconds
};

std::optional<Merchant> FindMerchant(db::Connection& c, std::string_view provider, std::string_view mch_id);
void UpsertMerchant(db::Connection& c, const Merchant& m);

std::optional<Trade> FindTrade(db::Connection& c, const TradeKey& k);
std::optional<Trade> FindTradeByTransaction(db::Connection& c, std::string_view provider,
                                            std::string_view mch_id, std::string_view transaction_id);
/// Trades of `provider` with this out_trade_no, under `mch_id` or, when it is "", under any
/// merchant (the control API need not name one).
std::vector<Trade> FindTradesByOutTradeNo(db::Connection& c, std::string_view provider,
                                          std::string_view out_trade_no, std::string_view mch_id);

/// Inserts `t` unless its key exists (then nullopt). When t.state is SUCCESS the row gets its
/// transaction_id and paid_at at once (a micropay paid on the spot).
std::optional<Trade> InsertTrade(db::Connection& c, const Trade& t);

/// Counts one orderquery and, for a slow scan past its pending queries, turns USERPAYING into
/// SUCCESS (with transaction_id and paid_at). nullopt when the trade does not exist.
std::optional<Trade> CountQuery(db::Connection& c, const TradeKey& k);

/// state := `to` when the current state is one of `from`; nullopt when it was not (or no row).
std::optional<Trade> Transition(db::Connection& c, const TradeKey& k,
                                std::initializer_list<std::string_view> from, std::string_view to);

/// Pays a trade that is in state `from`: SUCCESS, paid_at now, transaction_id assigned once,
/// openid := `payer_openid` when the trade has none. nullopt when the state was not `from`.
std::optional<Trade> MarkPaid(db::Connection& c, const TradeKey& k, std::string_view from,
                              std::string_view payer_openid);

/// Before sending notifications of a paid trade: fixes its notify nonce (first call wins) and
/// adds `copies` to notify_count.
std::optional<Trade> PrepareNotify(db::Connection& c, const TradeKey& k, std::string_view nonce, int copies);

}  // namespace orderpay::sim::wx_store
