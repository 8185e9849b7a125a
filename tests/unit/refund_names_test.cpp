// Provider::RefundNamesUnique, per provider: whether the merchant's own refund number names one
// refund of a payment, so an OUTSIDE report is found by it first (app::RefundReportedBefore), for
// an order query's record and a refund notification's report alike.
#include <gtest/gtest.h>

#include "orderpay/providers/alipay/client.hpp"
#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/wxpay/client.hpp"

namespace orderpay {
namespace {

// WeChat's out_refund_no (v2 and v3: one provider, "wx") is unique per merchant: a second refund
// under it is refused, or is the same refund.
TEST(RefundNamesUnique, WeChatKeepsOutRefundNoUnique) {
    wxpay::WxPayV2 p(wxpay::WxOptions{});
    EXPECT_TRUE(p.RefundNamesUnique());
}

// Alipay's out_request_no names one refund of a trade.
TEST(RefundNamesUnique, AlipayKeepsOutRequestNoUnique) {
    alipay::AlipayClient p(alipay::AlipayOptions{});
    EXPECT_TRUE(p.RefundNamesUnique());
}

// PayPal's invoice_id is the merchant's free text: two refunds of a capture may share it.
TEST(RefundNamesUnique, PaypalInvoiceIdIsFreeText) {
    paypal::PaypalClient p(paypal::PaypalOptions{});
    EXPECT_FALSE(p.RefundNamesUnique());
}

}  // namespace
}  // namespace orderpay
