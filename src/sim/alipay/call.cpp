// Authentication and the answer envelope shared by every method of paysim's Alipay gateway.
#include "sim/alipay/call.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

#include "orderpay/providers/alipay/sign.hpp"
#include "sim/core/gateway.hpp"

namespace orderpay::sim {

namespace {

// The real gateway's sub_msg when the body was decoded with the default charset because charset
// was only in the body (yansongda/pay PR #249).
constexpr std::string_view kCharsetNotInUrl =
    "验签出错，请确认charset参数放在了URL查询字符串中且各参数值使用charset参数指示的字符集编码";

http::Response JsonReply(std::string body, int status = 200) {
    return TextReply(status, "application/json;charset=utf-8", std::move(body));
}

ZfbMembers Result(std::string_view code, std::string_view msg, std::string_view sub_code,
                  std::string_view sub_msg) {
    ZfbMembers m{{"code", std::string(code)}, {"msg", std::string(msg)}};
    if (!sub_code.empty()) m.push_back({"sub_code", std::string(sub_code)});
    if (!sub_msg.empty()) m.push_back({"sub_msg", std::string(sub_msg)});
    return m;
}

const std::string* Find(const http::FormPairs& pairs, std::string_view name) {
    for (const auto& [k, v] : pairs)
        if (k == name) return &v;
    return nullptr;
}

bool HasRepeatedName(const http::FormPairs& pairs) {
    for (std::size_t i = 0; i < pairs.size(); ++i)
        for (std::size_t j = i + 1; j < pairs.size(); ++j)
            if (pairs[i].first == pairs[j].first) return true;
    return false;
}

bool AnyNonAscii(const http::FormPairs& pairs) {
    for (const auto& [k, v] : pairs)
        for (unsigned char c : k + v)
            if (c >= 0x80) return true;
    return false;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// "yyyy-MM-dd HH:mm:ss", digits where digits belong.
bool GatewayTimestampShape(std::string_view t) {
    constexpr std::string_view kShape = "0000-00-00 00:00:00";
    if (t.size() != kShape.size()) return false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (kShape[i] == '0' ? (t[i] < '0' || t[i] > '9') : t[i] != kShape[i]) return false;
    }
    return true;
}

}  // namespace

crypto::PKey ZfbMerchantKey(const zfb_store::Merchant& m, bool alipay_private) {
    std::string err;
    crypto::PKey key = alipay_private ? crypto::PrivateKeyFromPem(m.alipay_private_key, err)
                                      : crypto::PublicKeyFromPem(m.app_public_key, err);
    // A merchant row we stored ourselves after checking it: unusable means a broken database.
    if (!key)
        throw std::runtime_error("zfb merchant " + m.seller_id + ": " +
                                 (alipay_private ? "Alipay private key" : "app public key") +
                                 " unusable: " + err);
    return key;
}

std::string ZfbCall::Param(std::string_view name) const {
    const std::string* v = Find(params, name);
    return v ? *v : std::string();
}

std::string ZfbCall::Biz(const char* name) const {
    return http::GetString(biz, name).value_or("");
}

http::Response ZfbRefusal(std::string_view node, std::string_view code, std::string_view sub_code,
                          std::string_view sub_msg, const crypto::PKey& key) {
    const std::string_view msg = code == "40001" ? "Missing Required Arguments" : "Invalid Arguments";
    return JsonReply(ZfbSignedBody(node, ZfbObjectText(Result(code, msg, sub_code, sub_msg)), key));
}

http::Response ZfbErrorResponse(std::string_view code, std::string_view sub_code, std::string_view sub_msg,
                                const crypto::PKey& key) {
    return ZfbRefusal("error_response", code, sub_code, sub_msg, key);
}

http::Response ZfbInvalidSignature(std::string_view method, std::string_view sub_msg,
                                   const crypto::PKey& key) {
    return ZfbRefusal(ZfbResponseNode(method), "40002", "isv.invalid-signature", sub_msg, key);
}

std::optional<ZfbCall> OpenZfbCall(Ctx& ctx, const http::Request& req, http::Response& reply) {
    const crypto::PKey none;
    if (req.method != "POST" && req.method != "GET") {
        reply = ZfbErrorResponse("40002", "isv.invalid-http-method", "HTTP方法错误", none);
        return std::nullopt;
    }
    std::optional<http::FormPairs> params = RequestArguments(req);
    if (!params) {
        reply = ZfbErrorResponse("40002", "isv.invalid-parameter", "参数编码错误", none);
        return std::nullopt;
    }
    ZfbCall call;
    call.params = std::move(*params);
    const std::string app_id = call.Param("app_id");
    if (app_id.empty()) {
        reply = ZfbErrorResponse("40001", "isv.missing-app-id", "缺少AppID参数", none);
        return std::nullopt;
    }
    std::optional<zfb_store::Merchant> m = zfb_store::FindMerchantByApp(ctx.db, app_id);
    if (!m) {
        reply = ZfbErrorResponse("40002", "isv.invalid-app-id", "无效的AppID参数", none);
        return std::nullopt;
    }
    call.merchant = std::move(*m);
    call.alipay_key = ZfbMerchantKey(call.merchant, true);
    const crypto::PKey& key = call.alipay_key;

    // From here on every refusal is signed, as Alipay signs what it answers to a known app.
    auto refuse = [&](std::string_view code, std::string_view sub_code, std::string_view sub_msg) {
        reply = ZfbErrorResponse(code, sub_code, sub_msg, key);
        return std::nullopt;
    };
    if (HasRepeatedName(call.params)) return refuse("40002", "isv.invalid-parameter", "参数重复");
    call.method = call.Param("method");
    if (call.method.empty()) return refuse("40001", "isv.missing-method", "缺少方法名参数");
    const std::string* url_charset = Find(req.query, "charset");
    const std::string charset = call.Param("charset");
    if (charset.empty()) return refuse("40001", "isv.missing-charset", "缺少字符集参数");
    // paysim speaks UTF-8 only; the real gateway also takes GBK requests.
    if (!EqualsNoCase(charset, "utf-8") || (url_charset && !EqualsNoCase(*url_charset, charset)))
        return refuse("40002", "isv.invalid-charset", "字符集错误");
    if (const std::string f = call.Param("format"); !f.empty() && !EqualsNoCase(f, "JSON"))
        return refuse("40002", "isv.invalid-format", "参数format错误");
    const std::string timestamp = call.Param("timestamp");
    if (timestamp.empty()) return refuse("40001", "isv.missing-timestamp", "缺少时间戳参数");
    if (!GatewayTimestampShape(timestamp))
        return refuse("40002", "isv.invalid-timestamp", "非法的时间戳参数");
    const std::string sign_type = call.Param("sign_type");
    if (sign_type.empty()) return refuse("40001", "isv.missing-signature-type", "缺少签名类型参数");
    if (sign_type != "RSA2") return refuse("40002", "isv.invalid-signature-type", "无效的签名类型");
    const std::string sign = call.Param("sign");
    if (sign.empty()) return refuse("40001", "isv.missing-signature", "缺少签名参数");
    // Without charset in the URL the real gateway decodes the body as GBK before verifying, so
    // any non-ASCII value breaks the signature.
    // A signature that fails is answered in the method's own node, as the real gateway does.
    auto bad_signature = [&](std::string_view sub_msg) {
        reply = ZfbInvalidSignature(call.method, sub_msg, key);
        return std::nullopt;
    };
    if (!url_charset && AnyNonAscii(call.params)) return bad_signature(kCharsetNotInUrl);
    const crypto::PKey app_key = ZfbMerchantKey(call.merchant, false);
    if (!crypto::RsaSha256VerifyBase64(app_key, alipay::RequestSignContent(call.params), sign))
        return bad_signature("验签出错");

    const std::string biz = call.Param("biz_content");
    if (biz.empty()) return refuse("40001", "isv.missing-biz-content", "缺少biz_content参数");
    if (!http::ParseJson(biz, call.biz).empty() || !call.biz.IsObject())
        return refuse("40002", "isv.invalid-biz-content", "biz_content不是合法的JSON对象");
    return call;
}

http::Response ZfbAnswer(const ZfbCall& call, std::string_view code, std::string_view msg,
                         std::string_view sub_code, std::string_view sub_msg, ZfbMembers fields) {
    std::stable_sort(fields.begin(), fields.end(),
                     [](const ZfbMember& a, const ZfbMember& b) { return a.name < b.name; });
    ZfbMembers all = Result(code, msg, sub_code, sub_msg);
    for (ZfbMember& f : fields) all.push_back(std::move(f));
    return JsonReply(ZfbSignedBody(ZfbResponseNode(call.method), ZfbObjectText(all), call.alipay_key));
}

http::Response ZfbOk(const ZfbCall& call, ZfbMembers fields) {
    return ZfbAnswer(call, "10000", "Success", "", "", std::move(fields));
}

http::Response ZfbBizFail(const ZfbCall& call, std::string_view sub_code, std::string_view sub_msg,
                          ZfbMembers fields) {
    return ZfbAnswer(call, "40004", "Business Failed", sub_code, sub_msg, std::move(fields));
}

http::Response ZfbSystemError(const ZfbCall& call) {
    return ZfbAnswer(call, "20000", "Service Currently Unavailable", "ACQ.SYSTEM_ERROR", "系统错误");
}

http::Response ZfbUnavailable(int status) {
    return JsonReply(ZfbSignedBody("error_response",
                                   ZfbObjectText(Result("20000", "Service Currently Unavailable",
                                                        "isp.unknow-error", "系统繁忙")),
                                   nullptr),
                     status);
}

std::optional<zfb_store::TradeKey> ZfbFindKey(Ctx& ctx, const ZfbCall& call, http::Response& reply) {
    const std::string trade_no = call.Biz("trade_no");
    if (!trade_no.empty()) {
        auto t = zfb_store::FindTradeByNo(ctx.db, call.merchant.seller_id, trade_no);
        if (!t) {
            reply = ZfbBizFail(call, "ACQ.TRADE_NOT_EXIST", "交易不存在", {{"trade_no", trade_no}});
            return std::nullopt;
        }
        return t->key;
    }
    const std::string out_trade_no = call.Biz("out_trade_no");
    if (out_trade_no.empty()) {
        reply = ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: out_trade_no和trade_no不能同时为空");
        return std::nullopt;
    }
    return zfb_store::TradeKey{call.merchant.seller_id, out_trade_no};
}

std::string RandomDigits(std::size_t n) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<int> digit(0, 9);
    std::string out(n, '0');
    for (char& c : out) c = static_cast<char>('0' + digit(rng));
    return out;
}

zfb_store::Buyer NewZfbBuyer() {
    const std::string tail = RandomDigits(12);
    return {"2088" + tail, "138******" + tail.substr(8)};
}

}  // namespace orderpay::sim
