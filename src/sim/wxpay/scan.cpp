// The micropay test-code table (sim/wxpay/scan.hpp), kept apart from I/O so a unit test pins it down.
#include "sim/wxpay/scan.hpp"

#include <array>

#include "sim/core/scan.hpp"

namespace orderpay::sim {

namespace {

using Row = ScanRow<ScanBehaviour>;

// The err_code_des texts are the ones WeChat's gateway gives for these codes.
constexpr std::array kRows = {
    Row{"130", {ScanKind::kPaid, "paid", "SUCCESS", "", ""}},
    Row{"131", {ScanKind::kSlow, "slow", "USERPAYING", "USERPAYING", "需要用户输入支付密码"}},
    Row{"132",
        {ScanKind::kExpired, "expired", "PAYERROR", "AUTHCODEEXPIRE",
         "二维码已过期，请用户在微信上刷新后再试"}},
    Row{"133", {ScanKind::kSystemError, "syserror", "SUCCESS", "SYSTEMERROR", "系统超时"}},
    Row{"134", {ScanKind::kStuck, "stuck", "USERPAYING", "USERPAYING", "需要用户输入支付密码"}},
};

constexpr ScanBehaviour kInvalid{ScanKind::kInvalid, "", "", "AUTH_CODE_INVALID", "请扫描微信支付授权码"};

}  // namespace

const ScanBehaviour& ScanFor(std::string_view auth_code) {
    return PickScan(auth_code, 18, 18, kRows, kInvalid);
}

std::string_view StateAfterQuery(std::string_view name, std::string_view state, int query_number) {
    if (name == "slow" && state == "USERPAYING" && query_number > kSlowPendingQueries) return "SUCCESS";
    return state;
}

}  // namespace orderpay::sim
