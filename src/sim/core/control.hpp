// The test-control API: /sim/pay ("the buyer pays", then the provider's signed notification with
// fault knobs) and /sim/trade, for a trade of either provider. What only one provider has lives
// in wxpay/control and alipay/control.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "orderpay/http/form.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/request.hpp"
#include "sim/alipay/store.hpp"
#include "sim/core/context.hpp"
#include "sim/paypal/store.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

/// /sim/pay's arguments every provider has (each provider's own: WxPayArgs, ZfbPayArgs).
struct PayArgs {
    std::string out_trade_no;
    std::string provider;  // optional: "wx" or "zfb" when both have a trade with this out_trade_no
    std::string mch_id;    // optional: needed only when two merchants used the same out_trade_no
    int times = 1;         // 0..50 copies sent at once; 0: paid, but the notification is lost
    int delay_ms = 0;      // 0..10000, slept before sending
    bool force = false;  // pay a closed (CLOSED/REVOKED/PAYERROR, TRADE_CLOSED) trade anyway: a late payment
};

/// `text` as a whole decimal int in [lo, hi] into `out`; false (out unchanged) otherwise.
bool ParseIntIn(const std::string& text, int lo, int hi, int& out);

/// Reads and range-checks out_trade_no, provider, mch_id, times, delay_ms and force; returns a
/// message for the first bad one, or "".
std::string ParsePayArgs(const http::FormPairs& form, PayArgs& out);

/// Reads the yes/no argument `name` into `out`: true for a value in `yes`, false when absent or
/// in `no`. Returns `bad` for any other value, else "".
std::string ReadFlag(const http::FormPairs& form, std::string_view name,
                     std::initializer_list<std::string_view> yes, std::initializer_list<std::string_view> no,
                     std::string_view bad, bool& out);

/// /sim/trade's views of a trade (WxTradeJson, ZfbTradeJson) write their members with these.
void WriteStrings(http::JsonWriter& w,
                  std::initializer_list<std::pair<const char*, std::string_view>> members);
void WriteInts(http::JsonWriter& w, std::initializer_list<std::pair<const char*, std::int64_t>> members);

/// One trade of any provider: exactly one is set.
struct AnyTrade {
    std::optional<wx_store::Trade> wx;
    std::optional<zfb_store::Trade> zfb;
    std::optional<pp_store::Order> pp;
};

/// The trade a GET /sim endpoint's query names: out_trade_no (required), mch_id, and provider, which
/// is `provider` when the endpoint fixes it, else the query's. On nullopt `err` is the reply.
std::optional<AnyTrade> TradeOfQuery(Ctx& ctx, const http::Request& req, std::string_view provider,
                                     http::Response& err);

/// Moves a trade towards what /sim/pay asks despite concurrent changes. `step(t, raced, err)`
/// returns the trade once it is where it should be, or nullopt: a refusal (with `err` set), or,
/// when it sets `raced`, a conditional UPDATE that another request beat; then the row is read
/// again with `reread(key)` and the step retried, five times at most.
template <class Trade, class Step, class Reread>
std::optional<Trade> RetryRaces(Trade t, Step step, Reread reread, http::Response& err) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        bool raced = false;
        std::optional<Trade> next = step(t, raced, err);
        if (next || !raced) return next;
        std::optional<Trade> again = reread(t.key);
        if (!again) break;
        t = std::move(*again);
    }
    err = http::Fail(http::Err::kInternal, "the trade kept changing state");
    return std::nullopt;
}

http::Response SimPay(Ctx& ctx, const http::Request& req);    // POST /sim/pay (form)
http::Response SimTrade(Ctx& ctx, const http::Request& req);  // GET /sim/trade?out_trade_no=

}  // namespace orderpay::sim
