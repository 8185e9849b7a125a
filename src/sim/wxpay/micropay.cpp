// WeChat v2 micropay (wx.scan): the outcome comes from the auth_code test table (sim/wxpay/scan.hpp).
// It is synchronous and sends no notification, like the real one.
#include "orderpay/crypto/digest.hpp"
#include "sim/wxpay/call.hpp"
#include "sim/wxpay/gateway.hpp"
#include "sim/wxpay/notify.hpp"
#include "sim/wxpay/scan.hpp"

namespace orderpay::sim {

namespace {

// The paid answer carries what a query of the paid trade would show.
http::Response Paid(const WxCall& call, const wx_store::Trade& t) {
    return WxOk(call, {{"openid", t.openid},
                       {"is_subscribe", "N"},
                       {"trade_type", "MICROPAY"},
                       {"bank_type", "CFT"},
                       {"fee_type", t.fee_type},
                       {"total_fee", std::to_string(t.total_fee)},
                       {"cash_fee", std::to_string(t.total_fee)},
                       {"transaction_id", t.transaction_id.value_or("")},
                       {"out_trade_no", t.key.out_trade_no},
                       {"attach", t.attach},
                       {"time_end", TimeEnd(t.paid_at.value_or(0))}});
}

// A second micropay for an out_trade_no already used: the code says how that trade ended.
http::Response Reused(const WxCall& call, const wx_store::Trade& t) {
    if (t.state == "SUCCESS") return WxBizFail(call, "ORDERPAID", "订单已支付");
    if (t.state == "CLOSED") return WxBizFail(call, "ORDERCLOSED", "订单已关闭");
    if (t.state == "REVOKED") return WxBizFail(call, "ORDERREVERSED", "订单已撤销");
    return WxBizFail(call, "OUT_TRADE_NO_USED", "商户订单号重复");
}

}  // namespace

http::Response WxMicropay(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    auto call = OpenWxCall(
        ctx, req,
        {"appid", "nonce_str", "body", "out_trade_no", "total_fee", "spbill_create_ip", "auth_code"}, reply);
    if (!call) return reply;
    wx_store::Trade t;
    if (std::string bad = CheckOrderFields(*call, t.total_fee); !bad.empty()) return WxReturnFail(bad);
    const ScanBehaviour& b = ScanFor(call->Field("auth_code"));
    if (b.kind == ScanKind::kInvalid) return WxBizFail(*call, b.err_code, b.err_code_des);

    t.key = {"wx", call->merchant.mch_id, call->Field("out_trade_no")};
    t.app_id = call->Field("appid");
    t.trade_type = "MICROPAY";
    t.sign_type = std::string(wxpay::ToString(call->sign_type));
    t.body = call->Field("body");
    t.attach = call->Field("attach");
    t.openid = "o" + crypto::RandomId(27);  // the buyer whose code was scanned
    t.auth_code = call->Field("auth_code");
    t.scan = std::string(b.name);
    t.state = std::string(b.state);
    std::optional<wx_store::Trade> created = wx_store::InsertTrade(ctx.db, t);
    if (!created) {
        std::optional<wx_store::Trade> have = wx_store::FindTrade(ctx.db, t.key);
        return have ? Reused(*call, *have) : WxBizFail(*call, "SYSTEMERROR", "系统超时");
    }
    if (b.kind == ScanKind::kPaid) return Paid(*call, *created);
    return WxBizFail(*call, b.err_code, b.err_code_des);
}

}  // namespace orderpay::sim
