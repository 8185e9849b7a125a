// The alipay.trade.pay (zfb.scan) test codes: like test card numbers, the auth_code prefix picks
// the outcome, including the unknown (20000) answers that must be resolved by query and cancel.
#pragma once

#include <string_view>

namespace orderpay::sim {

enum class ZfbScanKind {
    kPaid,      // 280...: 10000, paid at once
    kSlow,      // 281...: 10003; query says WAIT_BUYER_PAY kZfbSlowPendingQueries times, then TRADE_SUCCESS
    kDeclined,  // 282...: 40004 ACQ.PAYMENT_AUTH_CODE_INVALID, a definite failure, no trade
    kStuck,     // 283...: 20000; WAIT_BUYER_PAY until cancelled (or closed)
    kLostPaid,  // 284...: 20000, but the trade is in fact paid
    kCancelRetry,   // 285...: 20000; WAIT_BUYER_PAY; the first cancel answers retry_flag=Y and does nothing
    kCancelFails,   // 286...: 20000; WAIT_BUYER_PAY; every cancel answers 20000 (outcome stays unknown)
    kPaidAtCancel,  // 287...: 20000; WAIT_BUYER_PAY until the buyer pays just as the cancel arrives,
                    // which then refunds it (action=refund)
    kInvalid,       // anything else: 40004 ACQ.PAYMENT_AUTH_CODE_INVALID, no trade
};

struct ZfbScanBehaviour {
    ZfbScanKind kind;
    std::string_view name;      // stored in paysim.zfb_trades.scan ("" when no trade is created)
    std::string_view state;     // trade state right after trade.pay ("" when no trade is created)
    std::string_view code;      // trade.pay's answer: "10000", "10003", "20000" or "40004"
    std::string_view sub_code;  // "" for 10000 and 10003
    std::string_view sub_msg;
};

/// Queries answered WAIT_BUYER_PAY before a kSlow trade turns TRADE_SUCCESS.
inline constexpr int kZfbSlowPendingQueries = 2;

/// The behaviour of an auth_code: 16 to 24 ASCII digits (Alipay's payment codes) whose first
/// three pick a row; anything else is kInvalid.
const ZfbScanBehaviour& ZfbScanFor(std::string_view auth_code);

/// The state a query reports for a trade with scan `name` in `state` on its `query_number`-th
/// query (1-based). Mirrors the promotion done in SQL by zfb_store::CountQuery.
std::string_view ZfbStateAfterQuery(std::string_view name, std::string_view state, int query_number);

/// True when the `cancel_number`-th cancel (1-based) of a trade with scan `name` in `state` must
/// answer retry_flag=Y and change nothing (only the first cancel of an unpaid kCancelRetry trade).
bool ZfbCancelAsksRetry(std::string_view name, std::string_view state, int cancel_number);

/// True when every cancel of the trade fails with 20000 (an unpaid kCancelFails trade), so the
/// payment stays unknown and orderpay must leave it for the operator.
bool ZfbCancelFails(std::string_view name, std::string_view state);

/// True when a cancel must first let the buyer pay the trade (and be notified), then refund it:
/// an unpaid kPaidAtCancel trade. Tests also give a precreated trade this scan name, for the same
/// race behind alipay.trade.close's "not exist, so cancel".
bool ZfbCancelFindsPaid(std::string_view name, std::string_view state);

}  // namespace orderpay::sim
