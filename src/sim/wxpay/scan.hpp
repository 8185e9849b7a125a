// The micropay (wx.scan) test codes: like test card numbers, the auth_code prefix picks the outcome.
#pragma once

#include <string_view>

namespace orderpay::sim {

enum class ScanKind {
    kPaid,         // 130...: paid at once
    kSlow,         // 131...: USERPAYING; orderquery says USERPAYING kSlowPendingQueries times, then SUCCESS
    kExpired,      // 132...: AUTHCODEEXPIRE, a definite failure (trade PAYERROR)
    kSystemError,  // 133...: SYSTEMERROR answered, but the trade is in fact paid
    kStuck,        // 134...: USERPAYING until reversed
    kInvalid,      // anything else: AUTH_CODE_INVALID, no trade is created
};

struct ScanBehaviour {
    ScanKind kind;
    std::string_view name;          // stored in paysim.trades.scan ("" for kInvalid)
    std::string_view state;         // trade state right after micropay ("" for kInvalid)
    std::string_view err_code;      // "" when micropay answers result_code SUCCESS
    std::string_view err_code_des;  // WeChat's description of err_code
};

/// Orderquery calls answered USERPAYING before a kSlow trade turns SUCCESS.
inline constexpr int kSlowPendingQueries = 2;

/// The behaviour of an auth_code: 18 ASCII digits whose first three pick a row; anything else
/// is kInvalid.
const ScanBehaviour& ScanFor(std::string_view auth_code);

/// The trade state an orderquery reports for a trade with scan `name` in `state`, when this is
/// its `query_number`-th query (1-based). Mirrors the promotion done in SQL by wx_store::CountQuery.
std::string_view StateAfterQuery(std::string_view name, std::string_view state, int query_number);

}  // namespace orderpay::sim
