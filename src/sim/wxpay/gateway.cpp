// WeChat v2 unifiedorder, orderquery, closeorder and reverse against paysim's trade table.
#include "sim/wxpay/gateway.hpp"

#include "orderpay/crypto/digest.hpp"
#include "sim/core/gateway.hpp"
#include "sim/wxpay/call.hpp"
#include "sim/wxpay/notify.hpp"
#include "sim/wxpay/refund.hpp"

namespace orderpay::sim {

namespace {

// Checks unifiedorder's own fields and fills `t` from them; returns the gateway's message for a
// bad field, empty when all is well.
std::string ReadOrder(const WxCall& call, wx_store::Trade& t) {
    t.key = {"wx", call.merchant.mch_id, call.Field("out_trade_no")};
    t.app_id = call.Field("appid");
    t.trade_type = call.Field("trade_type");
    t.fee_type = call.Field("fee_type").empty() ? "CNY" : call.Field("fee_type");
    t.sign_type = std::string(wxpay::ToString(call.sign_type));
    t.body = call.Field("body");
    t.attach = call.Field("attach");
    t.notify_url = call.Field("notify_url");
    t.product_id = call.Field("product_id");
    t.openid = call.Field("openid");
    if (std::string bad = CheckOrderFields(call, t.total_fee); !bad.empty()) return bad;
    if (t.trade_type != "NATIVE" && t.trade_type != "JSAPI") return "trade_type参数格式错误";
    if (t.trade_type == "NATIVE" && t.product_id.empty()) return "NATIVE支付必须传product_id";
    if (t.trade_type == "JSAPI" && t.openid.empty()) return "JSAPI支付必须传openid";
    if (!ValidNotifyUrl(t.notify_url)) return "notify_url参数格式错误";
    return {};
}

// unifiedorder called again for an existing out_trade_no is idempotent only with the same order.
bool SameOrder(const wx_store::Trade& a, const wx_store::Trade& b) {
    return a.app_id == b.app_id && a.trade_type == b.trade_type && a.total_fee == b.total_fee &&
           a.fee_type == b.fee_type && a.body == b.body && a.attach == b.attach &&
           a.notify_url == b.notify_url && a.product_id == b.product_id && a.openid == b.openid;
}

http::Response OrderCreated(const WxCall& call, const wx_store::Trade& t) {
    http::XmlFields out{{"trade_type", t.trade_type}, {"prepay_id", t.prepay_id.value_or("")}};
    if (t.code_url) out["code_url"] = *t.code_url;
    return WxOk(call, std::move(out));
}

std::string_view TradeStateDesc(std::string_view state) {
    if (state == "SUCCESS") return "支付成功";
    if (state == "REFUND") return "转入退款";
    if (state == "NOTPAY") return "订单未支付";
    if (state == "CLOSED") return "订单已关闭";
    if (state == "REVOKED") return "已撤销（付款码支付）";
    if (state == "USERPAYING") return "用户支付中（付款码支付）";
    return "支付失败(其他原因，如银行返回失败)";
}

}  // namespace

http::Response WxUnifiedOrder(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    auto call = OpenWxCall(ctx, req,
                           {"appid", "nonce_str", "body", "out_trade_no", "total_fee", "spbill_create_ip",
                            "notify_url", "trade_type"},
                           reply);
    if (!call) return reply;
    wx_store::Trade want;
    if (std::string bad = ReadOrder(*call, want); !bad.empty()) return WxReturnFail(bad);
    want.prepay_id = "wx" + TimeEnd(std::time(nullptr)) + crypto::RandomId(20);
    if (want.trade_type == "NATIVE") want.code_url = "weixin://wxpay/bizpayurl?pr=" + crypto::RandomId(7);
    if (auto created = wx_store::InsertTrade(ctx.db, want)) return OrderCreated(*call, *created);

    std::optional<wx_store::Trade> have = wx_store::FindTrade(ctx.db, want.key);
    if (!have) return WxBizFail(*call, "SYSTEMERROR", "系统错误");
    if (have->state == "SUCCESS") return WxBizFail(*call, "ORDERPAID", "该订单已支付");
    if (have->state == "CLOSED" || have->state == "REVOKED")
        return WxBizFail(*call, "ORDERCLOSED", "该订单已关闭");
    if (!SameOrder(*have, want)) return WxBizFail(*call, "INVALID_REQUEST", "201 商户订单号重复");
    return OrderCreated(*call, *have);
}

http::Response WxOrderQuery(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    auto call = OpenWxCall(ctx, req, {"appid", "nonce_str"}, reply);
    if (!call) return reply;
    std::optional<wx_store::TradeKey> key = FindKey(ctx, *call, reply);
    if (!key) return reply;
    std::optional<wx_store::Trade> t = wx_store::CountQuery(ctx.db, *key);
    if (!t) return WxBizFail(*call, "ORDERNOTEXIST", "订单不存在");

    http::XmlFields out{{"trade_state", t->state},
                        {"trade_state_desc", std::string(TradeStateDesc(t->state))},
                        {"out_trade_no", t->key.out_trade_no},
                        {"total_fee", std::to_string(t->total_fee)},
                        {"fee_type", t->fee_type},
                        {"trade_type", t->trade_type},
                        {"attach", t->attach}};
    if ((t->state == "SUCCESS" || t->state == "REFUND") && t->transaction_id)
        out["transaction_id"] = *t->transaction_id;
    if (t->paid_at) {
        out["time_end"] = TimeEnd(*t->paid_at);
        out["cash_fee"] = std::to_string(t->total_fee);
        out["bank_type"] = "CFT";
        out["is_subscribe"] = "N";
        out["openid"] = t->openid;
    }
    return WxOk(*call, std::move(out));
}

http::Response WxCloseOrder(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    auto call = OpenWxCall(ctx, req, {"appid", "nonce_str", "out_trade_no"}, reply);
    if (!call) return reply;
    const wx_store::TradeKey key{"wx", call->merchant.mch_id, call->Field("out_trade_no")};
    // closeorder is documented for unifiedorder trades, a micropay one is ended by reverse. What
    // WeChat answers for a micropay trade is not documented: paysim takes the reading that
    // hurts most, that closeorder does not know it (the trade stays payable).
    if (std::optional<wx_store::Trade> t = wx_store::FindTrade(ctx.db, key); t && t->trade_type == "MICROPAY")
        return WxBizFail(*call, "ORDERNOTEXIST", "订单不存在");
    if (wx_store::Transition(ctx.db, key, {"NOTPAY", "USERPAYING", "PAYERROR"}, "CLOSED"))
        return WxOk(*call, {{"result_msg", "OK"}});
    // Not closable: say why, from the state that won.
    std::optional<wx_store::Trade> t = wx_store::FindTrade(ctx.db, key);
    if (!t) return WxBizFail(*call, "ORDERNOTEXIST", "订单不存在");
    if (t->state == "SUCCESS") return WxBizFail(*call, "ORDERPAID", "订单已支付，不能发起关单");
    return WxBizFail(*call, "ORDERCLOSED", "订单已关闭，无法重复关闭");
}

// Reverse cancels whatever the trade's state: an unpaid one is closed, a paid one refunded.
http::Response WxReverse(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    auto call = OpenWxCall(ctx, req, {"appid", "nonce_str"}, reply);
    if (!call) return reply;
    if (!CheckClientCert(req, *call, reply)) return reply;  // /secapi/*: the merchant's certificate
    std::optional<wx_store::TradeKey> key = FindKey(ctx, *call, reply);
    if (!key) return reply;
    if (!wx_store::Transition(ctx.db, *key, {"NOTPAY", "USERPAYING", "SUCCESS", "PAYERROR", "CLOSED"},
                              "REVOKED") &&
        !wx_store::FindTrade(ctx.db, *key))
        return WxBizFail(*call, "ORDERNOTEXIST", "订单不存在", {{"recall", "N"}});
    return WxOk(*call, {{"recall", "N"}});
}

}  // namespace orderpay::sim
