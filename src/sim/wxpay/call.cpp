// Authentication and the reply envelope shared by every WeChat v2 endpoint of paysim.
#include "sim/wxpay/call.hpp"

#include "orderpay/crypto/digest.hpp"
#include "sim/core/gateway.hpp"

namespace orderpay::sim {

namespace {

constexpr std::size_t kMaxXml = 64 * 1024;

http::Response XmlReply(const http::XmlFields& fields, int status) {
    return TextReply(status, "text/xml; charset=utf-8", http::BuildFlatXml(fields));
}

// Signs an answer the way the gateway does: return_code/appid/mch_id/nonce_str first filled in,
// then sign over everything with the algorithm the request used.
http::Response Signed(const WxCall& call, http::XmlFields fields) {
    fields["return_code"] = "SUCCESS";
    fields["return_msg"] = "OK";
    fields["appid"] = call.merchant.app_id;
    fields["mch_id"] = call.merchant.mch_id;
    fields["nonce_str"] = crypto::RandomId(16);
    if (const std::string& dev = call.Field("device_info"); !dev.empty()) fields["device_info"] = dev;
    fields.erase("sign");
    fields["sign"] = wxpay::Sign(fields, call.merchant.api_key, call.sign_type);
    return XmlReply(fields, 200);
}

}  // namespace

const std::string& WxCall::Field(const std::string& name) const {
    static const std::string kEmpty;
    auto it = in.find(name);
    return it == in.end() ? kEmpty : it->second;
}

http::Response WxReturnFail(std::string_view msg, int status) {
    return XmlReply({{"return_code", "FAIL"}, {"return_msg", std::string(msg)}}, status);
}

std::optional<WxCall> OpenWxCall(Ctx& ctx, const http::Request& req,
                                 std::initializer_list<const char*> required, http::Response& reply) {
    if (req.method != "POST") {
        reply = WxReturnFail("require POST method");
        return std::nullopt;
    }
    if (req.body.empty()) {
        reply = WxReturnFail("post数据为空");
        return std::nullopt;
    }
    http::FlatXmlResult parsed = http::ParseFlatXml(req.body, kMaxXml);
    if (!parsed.fields) {
        reply = WxReturnFail("XML格式错误");
        return std::nullopt;
    }
    WxCall call;
    call.in = std::move(*parsed.fields);
    const std::string& mch_id = call.Field("mch_id");
    if (mch_id.empty()) {
        reply = WxReturnFail("缺少参数mch_id");
        return std::nullopt;
    }
    std::optional<wx_store::Merchant> m = wx_store::FindMerchant(ctx.db, "wx", mch_id);
    if (!m) {
        reply = WxReturnFail("mch_id参数错误，商户号不存在");
        return std::nullopt;
    }
    call.merchant = std::move(*m);
    // The request's sign_type picks the algorithm (MD5 when absent), as at the real gateway.
    const std::string& st = call.Field("sign_type");
    std::optional<wxpay::SignType> type = st.empty() ? wxpay::SignType::kMd5 : wxpay::ParseSignType(st);
    if (!type) {
        reply = WxReturnFail("sign_type参数格式错误");
        return std::nullopt;
    }
    call.sign_type = *type;
    if (!wxpay::Verify(call.in, call.merchant.api_key, call.sign_type)) {
        reply = WxReturnFail("签名错误");
        return std::nullopt;
    }
    for (const char* name : required) {
        if (call.Field(name).empty()) {
            reply = WxReturnFail(std::string("缺少参数") + name);
            return std::nullopt;
        }
    }
    if (call.Field("appid") != call.merchant.app_id) {
        reply = WxReturnFail("appid和mch_id不匹配");
        return std::nullopt;
    }
    return call;
}

http::Response WxOk(const WxCall& call, http::XmlFields fields) {
    fields["result_code"] = "SUCCESS";
    return Signed(call, std::move(fields));
}

http::Response WxBizFail(const WxCall& call, std::string_view err_code, std::string_view err_code_des,
                         http::XmlFields fields) {
    fields["result_code"] = "FAIL";
    fields["err_code"] = std::string(err_code);
    fields["err_code_des"] = std::string(err_code_des);
    return Signed(call, std::move(fields));
}

bool ParseFen(std::string_view text, std::int64_t& out) {
    // total_fee and refund_fee are int fields of fen at the gateway (PROTOCOLS.md, unifiedorder).
    if (text.empty() || text.size() > 10) return false;
    std::int64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    if (v <= 0 || v > 2147483647) return false;
    out = v;
    return true;
}

bool ValidOutTradeNo(std::string_view text) {
    return ValidId(text, 32, "_-|*@");
}

std::string CheckOrderFields(const WxCall& call, std::int64_t& total_fee) {
    if (!ValidOutTradeNo(call.Field("out_trade_no"))) return "out_trade_no参数格式错误";
    if (!ParseFen(call.Field("total_fee"), total_fee)) return "total_fee参数格式错误";
    const std::string& fee_type = call.Field("fee_type");
    if (!fee_type.empty() && fee_type != "CNY") return "fee_type参数格式错误";
    return {};
}

std::optional<wx_store::TradeKey> FindKey(Ctx& ctx, const WxCall& call, http::Response& reply) {
    const std::string& txn = call.Field("transaction_id");
    if (!txn.empty()) {
        auto t = wx_store::FindTradeByTransaction(ctx.db, "wx", call.merchant.mch_id, txn);
        if (!t) {
            reply = WxBizFail(call, "ORDERNOTEXIST", "订单不存在");
            return std::nullopt;
        }
        return t->key;
    }
    const std::string& out_trade_no = call.Field("out_trade_no");
    if (out_trade_no.empty()) {
        reply = WxReturnFail("out_trade_no和transaction_id不能同时为空");
        return std::nullopt;
    }
    return wx_store::TradeKey{"wx", call.merchant.mch_id, out_trade_no};
}

}  // namespace orderpay::sim
