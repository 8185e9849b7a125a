// The trade.pay test-code table (sim/alipay/scan.hpp), kept apart from I/O so a unit test pins it down.
#include "sim/alipay/scan.hpp"

#include <array>

#include "sim/core/scan.hpp"

namespace orderpay::sim {

namespace {

using Row = ScanRow<ZfbScanBehaviour>;

constexpr std::string_view kAuthCodeInvalidMsg =
    "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款，如再次收款失败，请联系管理员处理。"
    "[SOUNDWAVE_PARSER_FAIL]";

constexpr std::array kRows = {
    Row{"280", {ZfbScanKind::kPaid, "paid", "TRADE_SUCCESS", "10000", "", ""}},
    Row{"281", {ZfbScanKind::kSlow, "slow", "WAIT_BUYER_PAY", "10003", "", ""}},
    Row{"282",
        {ZfbScanKind::kDeclined, "", "", "40004", "ACQ.PAYMENT_AUTH_CODE_INVALID", kAuthCodeInvalidMsg}},
    Row{"283", {ZfbScanKind::kStuck, "stuck", "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR", "系统错误"}},
    Row{"284",
        {ZfbScanKind::kLostPaid, "lost_paid", "TRADE_SUCCESS", "20000", "ACQ.SYSTEM_ERROR", "系统错误"}},
    Row{"285",
        {ZfbScanKind::kCancelRetry, "retry", "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR", "系统错误"}},
    Row{"286",
        {ZfbScanKind::kCancelFails, "cancel_fails", "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR",
         "系统错误"}},
    Row{"287",
        {ZfbScanKind::kPaidAtCancel, "paid_at_cancel", "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR",
         "系统错误"}},
};

constexpr ZfbScanBehaviour kInvalid{ZfbScanKind::kInvalid, "", "", "40004", "ACQ.PAYMENT_AUTH_CODE_INVALID",
                                    kAuthCodeInvalidMsg};

}  // namespace

const ZfbScanBehaviour& ZfbScanFor(std::string_view auth_code) {
    return PickScan(auth_code, 16, 24, kRows, kInvalid);
}

std::string_view ZfbStateAfterQuery(std::string_view name, std::string_view state, int query_number) {
    if (name == "slow" && state == "WAIT_BUYER_PAY" && query_number > kZfbSlowPendingQueries)
        return "TRADE_SUCCESS";
    return state;
}

bool ZfbCancelAsksRetry(std::string_view name, std::string_view state, int cancel_number) {
    const bool unpaid = state == "WAIT_BUYER_PAY" || state == "NOT_SCANNED";
    return name == "retry" && unpaid && cancel_number == 1;
}

bool ZfbCancelFails(std::string_view name, std::string_view state) {
    return name == "cancel_fails" && state == "WAIT_BUYER_PAY";
}

bool ZfbCancelFindsPaid(std::string_view name, std::string_view state) {
    return name == "paid_at_cancel" && (state == "WAIT_BUYER_PAY" || state == "NOT_SCANNED");
}

}  // namespace orderpay::sim
