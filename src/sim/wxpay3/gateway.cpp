// WeChat Pay v3 gateway calls against paysim's trade table (shared with v2: one merchant speaks
// one API). Scan codes behave as for v2 (sim/wxpay/scan.hpp).
#include "sim/wxpay3/gateway.hpp"

#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/wxpay/common.hpp"
#include "orderpay/providers/wxpay/v3_sign.hpp"
#include "sim/core/gateway.hpp"
#include "sim/wxpay/call.hpp"
#include "sim/wxpay/notify.hpp"
#include "sim/wxpay/scan.hpp"
#include "sim/wxpay3/call.hpp"
#include "sim/wxpay3/refund.hpp"

namespace orderpay::sim {

namespace {

constexpr std::string_view kPrefix = "/v3/pay/transactions/out-trade-no/";

std::string_view StateDesc(std::string_view state) {
    if (state == "SUCCESS") return "支付成功";
    if (state == "REFUND") return "转入退款";
    if (state == "NOTPAY") return "未支付";
    if (state == "CLOSED") return "已关闭";
    if (state == "REVOKED") return "已撤销（付款码支付）";
    if (state == "USERPAYING") return "用户支付中（付款码支付）";
    return "支付失败(其他原因，如银行返回失败)";
}

// Reads the order fields native/jsapi/codepay share into `t`; "" or the PARAM_ERROR message.
std::string ReadOrder(const Wx3Call& call, wx_store::Trade& t) {
    const rapidjson::Value& b = call.body;
    if (JsonStr(b, "mchid") != call.merchant.row.mch_id) return "mchid does not match the Authorization";
    t.app_id = JsonStr(b, "appid");
    if (t.app_id != call.merchant.row.app_id) return "appid does not belong to this mchid";
    t.key = {"wx", call.merchant.row.mch_id, JsonStr(b, "out_trade_no")};
    if (!ValidOutTradeNo(t.key.out_trade_no) || t.key.out_trade_no.size() < 6)
        return "out_trade_no must be 6-32 characters";
    t.body = JsonStr(b, "description");
    if (t.body.empty() || t.body.size() > 127) return "description must be 1-127 bytes";
    if (!b.HasMember("amount") || !b["amount"].IsObject() || !b["amount"].HasMember("total") ||
        !b["amount"]["total"].IsInt64() || b["amount"]["total"].GetInt64() <= 0 ||
        b["amount"]["total"].GetInt64() > 2147483647)
        return "amount.total must be a positive integer (fen)";
    t.total_fee = b["amount"]["total"].GetInt64();
    t.fee_type = JsonStr(b, "amount", "currency").empty() ? "CNY" : JsonStr(b, "amount", "currency");
    if (t.fee_type != "CNY") return "amount.currency must be CNY";
    t.attach = JsonStr(b, "attach");
    t.sign_type = "RSA2";
    return {};
}

bool SameOrder(const wx_store::Trade& a, const wx_store::Trade& b) {
    return a.app_id == b.app_id && a.trade_type == b.trade_type && a.total_fee == b.total_fee &&
           a.fee_type == b.fee_type && a.body == b.body && a.notify_url == b.notify_url &&
           a.openid == b.openid;
}

http::Response Prepay(Ctx& ctx, const Wx3Call& call, bool jsapi) {
    const Wx3Merchant& m = call.merchant;
    wx_store::Trade want;
    if (std::string bad = ReadOrder(call, want); !bad.empty()) return Wx3Error(400, "PARAM_ERROR", bad, &m);
    want.trade_type = jsapi ? "JSAPI" : "NATIVE";
    want.notify_url = JsonStr(call.body, "notify_url");
    if (!ValidNotifyUrl(want.notify_url)) return Wx3Error(400, "PARAM_ERROR", "notify_url is not a URL", &m);
    if (jsapi) {
        want.openid = JsonStr(call.body, "payer", "openid");
        if (want.openid.empty()) return Wx3Error(400, "PARAM_ERROR", "payer.openid is required", &m);
    } else {
        want.product_id = want.key.out_trade_no;
    }
    want.prepay_id = "wx" + TimeEnd(std::time(nullptr)) + crypto::RandomId(20);
    if (!jsapi) want.code_url = "weixin://wxpay/bizpayurl?pr=" + crypto::RandomId(7);
    std::optional<wx_store::Trade> t = wx_store::InsertTrade(ctx.db, want);
    if (!t) {
        t = wx_store::FindTrade(ctx.db, want.key);
        if (!t) return Wx3Error(500, "SYSTEM_ERROR", "系统错误", &m);
        if (t->state == "SUCCESS") return Wx3Error(400, "ORDERPAID", "该订单已支付", &m);
        if (t->state == "CLOSED" || t->state == "REVOKED")
            return Wx3Error(400, "ORDER_CLOSED", "订单已关闭", &m);
        if (!SameOrder(*t, want)) return Wx3Error(400, "INVALID_REQUEST", "商户订单号重复", &m);
    }
    return Wx3Signed(m, 200,
                     jsapi ? "{\"prepay_id\":" + http::JsonString(t->prepay_id.value_or("")) + "}"
                           : "{\"code_url\":" + http::JsonString(t->code_url.value_or("")) + "}");
}

http::Response Codepay(Ctx& ctx, const Wx3Call& call) {
    const Wx3Merchant& m = call.merchant;
    wx_store::Trade t;
    if (std::string bad = ReadOrder(call, t); !bad.empty()) return Wx3Error(400, "PARAM_ERROR", bad, &m);
    t.auth_code = JsonStr(call.body, "payer", "auth_code");
    const ScanBehaviour& b = ScanFor(t.auth_code);
    if (b.kind == ScanKind::kInvalid) return Wx3Error(400, b.err_code, b.err_code_des, &m);
    t.trade_type = "MICROPAY";
    t.openid = "o" + crypto::RandomId(27);
    t.scan = std::string(b.name);
    t.state = std::string(b.state);
    std::optional<wx_store::Trade> created = wx_store::InsertTrade(ctx.db, t);
    if (!created) return Wx3Error(400, "OUT_TRADE_NO_USED", "商户订单号重复", &m);
    if (b.kind == ScanKind::kPaid) return Wx3Signed(m, 200, Wx3TransactionJson(*created));
    if (b.kind == ScanKind::kSystemError) return Wx3Error(500, "SYSTEM_ERROR", b.err_code_des, &m);
    // USERPAYING or a definite refusal (AUTHCODEEXPIRE): 4xx with the v2 code names.
    return Wx3Error(b.err_code == "USERPAYING" ? 403 : 400, b.err_code, b.err_code_des, &m);
}

http::Response Query(Ctx& ctx, const Wx3Call& call, const std::string& out_trade_no,
                     const http::Request& req) {
    const Wx3Merchant& m = call.merchant;
    if (req.Arg("mchid").value_or("") != m.row.mch_id)
        return Wx3Error(400, "PARAM_ERROR", "mchid must be the caller's", &m);
    std::optional<wx_store::Trade> t = wx_store::CountQuery(ctx.db, {"wx", m.row.mch_id, out_trade_no});
    if (!t) return Wx3Error(404, "ORDER_NOT_EXIST", "订单不存在", &m);
    return Wx3Signed(m, 200, Wx3TransactionJson(*t));
}

http::Response Close(Ctx& ctx, const Wx3Call& call, const std::string& out_trade_no) {
    const Wx3Merchant& m = call.merchant;
    if (JsonStr(call.body, "mchid") != m.row.mch_id) return Wx3Error(400, "PARAM_ERROR", "mchid", &m);
    const wx_store::TradeKey key{"wx", m.row.mch_id, out_trade_no};
    // As v2's closeorder (sim/wxpay/gateway.cpp): a codepay trade is ended by reverse, and this
    // close does not know it.
    if (std::optional<wx_store::Trade> t = wx_store::FindTrade(ctx.db, key); t && t->trade_type == "MICROPAY")
        return Wx3Error(404, "ORDER_NOT_EXIST", "订单不存在", &m);
    if (wx_store::Transition(ctx.db, key, {"NOTPAY", "USERPAYING", "PAYERROR"}, "CLOSED"))
        return Wx3Signed(m, 204, "");
    std::optional<wx_store::Trade> t = wx_store::FindTrade(ctx.db, key);
    if (!t) return Wx3Error(404, "ORDER_NOT_EXIST", "订单不存在", &m);
    if (t->state == "SUCCESS") return Wx3Error(400, "ORDERPAID", "订单已支付，不能发起关单", &m);
    return Wx3Signed(m, 204, "");  // already closed or revoked: closing again changes nothing
}

http::Response Reverse(Ctx& ctx, const Wx3Call& call, const std::string& out_trade_no) {
    const Wx3Merchant& m = call.merchant;
    if (JsonStr(call.body, "mchid") != m.row.mch_id || JsonStr(call.body, "appid") != m.row.app_id)
        return Wx3Error(400, "PARAM_ERROR", "appid and mchid must be the caller's", &m);
    const wx_store::TradeKey key{"wx", m.row.mch_id, out_trade_no};
    if (!wx_store::Transition(ctx.db, key, {"NOTPAY", "USERPAYING", "SUCCESS", "PAYERROR", "CLOSED"},
                              "REVOKED") &&
        !wx_store::FindTrade(ctx.db, key))
        return Wx3Error(404, "ORDER_NOT_EXIST", "订单不存在", &m);
    return Wx3Signed(m, 200, "{}");
}

http::Response Certificates(const Wx3Call& call) {
    const Wx3Merchant& m = call.merchant;
    if (m.platform_cert.empty())
        return Wx3Error(404, "RESOURCE_NOT_EXISTS", "no platform certificate: public-key mode", &m);
    const std::string nonce = crypto::RandomId(12);
    const std::string ct = wxpay::v3::EncryptResource(m.row.api_key, nonce, "certificate", m.platform_cert);
    const std::int64_t now = std::time(nullptr);
    const std::string body =
        "{\"data\":[{\"serial_no\":" + http::JsonString(m.platform_serial) +
        ",\"effective_time\":" + http::JsonString(wxpay::V3Time(now - 86400)) +
        ",\"expire_time\":" + http::JsonString(wxpay::V3Time(now + 5 * 365 * 86400)) +
        ",\"encrypt_certificate\":{\"algorithm\":\"AEAD_AES_256_GCM\",\"nonce\":" + http::JsonString(nonce) +
        ",\"associated_data\":\"certificate\",\"ciphertext\":" + http::JsonString(ct) + "}}]}";
    // Signed with the certificate being served: the list vouches for itself through the APIv3 key.
    Wx3Merchant cert_signed = m;
    cert_signed.public_key_id.clear();
    return Wx3Signed(cert_signed, 200, body);
}

}  // namespace

std::string Wx3TransactionJson(const wx_store::Trade& t, std::int64_t amount_delta,
                               const std::string* app_id) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    auto str = [&w](const char* k, std::string_view v) {
        w.Key(k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("appid", app_id != nullptr ? *app_id : t.app_id);
    str("mchid", t.key.mch_id);
    str("out_trade_no", t.key.out_trade_no);
    if ((t.state == "SUCCESS" || t.state == "REFUND") && t.transaction_id)
        str("transaction_id", *t.transaction_id);
    str("trade_type", t.trade_type);
    str("trade_state", t.state);
    str("trade_state_desc", StateDesc(t.state));
    str("bank_type", "OTHERS");
    str("attach", t.attach);
    if (t.paid_at) str("success_time", wxpay::V3Time(*t.paid_at));
    w.Key("payer");
    w.StartObject();
    str("openid", t.openid);
    w.EndObject();
    w.Key("amount");
    w.StartObject();
    w.Key("total");
    w.Int64(t.total_fee + amount_delta);
    w.Key("payer_total");
    w.Int64(t.total_fee + amount_delta);
    str("currency", t.fee_type);
    str("payer_currency", t.fee_type);
    w.EndObject();
    w.EndObject();
    return buf.GetString();
}

http::Response Wx3Gateway(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    std::optional<Wx3Call> call = OpenWx3Call(ctx, req, reply);
    if (!call) return reply;
    const std::string& p = req.path;
    if (req.method == "POST" && p == "/v3/pay/transactions/native") return Prepay(ctx, *call, false);
    if (req.method == "POST" && p == "/v3/pay/transactions/jsapi") return Prepay(ctx, *call, true);
    if (req.method == "POST" && p == "/v3/pay/transactions/codepay") return Codepay(ctx, *call);
    if (req.method == "GET" && p == "/v3/certificates") return Certificates(*call);
    constexpr std::string_view kRefunds = "/v3/refund/domestic/refunds";
    if (req.method == "POST" && p == kRefunds) return Wx3RefundCall(ctx, *call);
    if (req.method == "GET" && p.rfind(std::string(kRefunds) + "/", 0) == 0)
        return Wx3RefundQuery(ctx, *call, p.substr(kRefunds.size() + 1));
    if (p.rfind(kPrefix, 0) == 0) {
        std::string rest = p.substr(kPrefix.size());
        const std::size_t slash = rest.find('/');
        const std::string no = rest.substr(0, slash);
        const std::string tail = slash == std::string::npos ? "" : rest.substr(slash);
        if (!ValidOutTradeNo(no)) return Wx3Error(400, "PARAM_ERROR", "out_trade_no", &call->merchant);
        if (req.method == "GET" && tail.empty()) return Query(ctx, *call, no, req);
        if (req.method == "POST" && tail == "/close") return Close(ctx, *call, no);
        if (req.method == "POST" && tail == "/reverse") return Reverse(ctx, *call, no);
    }
    return Wx3Error(404, "RESOURCE_NOT_EXISTS", "no such v3 API", &call->merchant);
}

}  // namespace orderpay::sim
