// One authenticated WeChat Pay v3 call in paysim, and its signed answers (PROTOCOLS.md §1.6).
#include "sim/wxpay3/call.hpp"

#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/wxpay/v3_sign.hpp"

namespace orderpay::sim {

std::string JsonStr(const rapidjson::Value& obj, const char* a, const char* b) {
    return b ? http::MemberString(http::Member(&obj, a), b) : http::MemberString(&obj, a);
}

std::optional<Wx3Merchant> AsWx3Merchant(const wx_store::Merchant& row) {
    rapidjson::Document o;
    if (!http::ParseJson(row.options, o, {1 << 20, 8}).empty() || !o.IsObject() || JsonStr(o, "api") != "v3")
        return std::nullopt;
    Wx3Merchant m;
    m.row = row;
    std::string err;
    m.merchant_public = crypto::PublicKeyFromPem(JsonStr(o, "merchant_public_key"), err);
    m.platform_private = crypto::PrivateKeyFromPem(JsonStr(o, "platform_private_key"), err);
    m.cert_serial = JsonStr(o, "cert_serial");
    m.public_key_id = JsonStr(o, "public_key_id");
    m.platform_cert = JsonStr(o, "platform_cert");
    m.platform_serial = JsonStr(o, "platform_serial");
    if (!m.merchant_public || !m.platform_private || m.SigningSerial().empty()) return std::nullopt;
    return m;
}

http::Response Wx3Signed(const Wx3Merchant& m, int status, std::string body) {
    http::Response r;
    r.status = status;
    r.content_type = body.empty() ? "" : "application/json";
    const std::string ts = std::to_string(std::time(nullptr));
    const std::string nonce = crypto::RandomId(32);
    r.headers = {{"Wechatpay-Timestamp", ts},
                 {"Wechatpay-Nonce", nonce},
                 {"Wechatpay-Serial", m.SigningSerial()},
                 {"Wechatpay-Signature", wxpay::v3::SignAnswer(m.platform_private, ts, nonce, body)},
                 {"Wechatpay-Signature-Type", std::string(wxpay::v3::kSchema)},
                 {"Request-ID", crypto::RandomId(24)}};
    r.body = std::move(body);
    return r;
}

http::Response Wx3Error(int status, std::string_view code, std::string_view message, const Wx3Merchant* m) {
    const std::string body = "{\"code\":" + http::JsonString(std::string(code)) +
                             ",\"message\":" + http::JsonString(std::string(message)) + "}";
    if (m != nullptr) return Wx3Signed(*m, status, body);
    http::Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = body;
    return r;
}

std::optional<Wx3Call> OpenWx3Call(Ctx& ctx, const http::Request& req, http::Response& reply) {
    auto auth = wxpay::v3::ParseAuthorization(req.Header("HTTP_AUTHORIZATION").value_or(""));
    if (!auth) {
        reply = Wx3Error(401, "SIGN_ERROR", "Authorization missing or malformed");
        return std::nullopt;
    }
    auto param = [&auth](const char* name) {
        auto it = auth->find(name);
        return it == auth->end() ? std::string() : it->second;
    };
    std::optional<wx_store::Merchant> row = wx_store::FindMerchant(ctx.db, "wx", param("mchid"));
    std::optional<Wx3Merchant> m = row ? AsWx3Merchant(*row) : std::nullopt;
    if (!m) {
        reply = Wx3Error(401, "SIGN_ERROR", "mchid is not a v3 merchant");
        return std::nullopt;
    }
    if (param("serial_no") != m->cert_serial) {
        reply = Wx3Error(401, "SIGN_ERROR", "serial_no is not the merchant certificate's", &*m);
        return std::nullopt;
    }
    if (!wxpay::v3::TimestampFresh(param("timestamp"), std::time(nullptr))) {
        reply = Wx3Error(401, "SIGN_ERROR", "timestamp missing or not within 5 minutes", &*m);
        return std::nullopt;
    }
    const std::string url = req.path + (req.query_string.empty() ? "" : "?" + req.query_string);
    const std::string message =
        wxpay::v3::RequestMessage(req.method, url, param("timestamp"), param("nonce_str"), req.body);
    if (param("nonce_str").empty() ||
        !crypto::RsaSha256VerifyBase64(m->merchant_public, message, param("signature"))) {
        reply = Wx3Error(401, "SIGN_ERROR", "signature invalid", &*m);
        return std::nullopt;
    }
    Wx3Call call{std::move(*m), {}};
    if (req.method == "POST") {
        if (!http::ParseJson(req.body, call.body).empty() || !call.body.IsObject()) {
            reply = Wx3Error(400, "PARAM_ERROR", "body is not a JSON object", &call.merchant);
            return std::nullopt;
        }
    } else {
        call.body.SetObject();
    }
    return call;
}

}  // namespace orderpay::sim
