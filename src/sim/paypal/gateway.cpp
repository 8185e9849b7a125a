// paysim's PayPal REST API, strict where PayPal is: a Basic-authenticated token, a Bearer token
// on every orders call, PayPal-Request-Id idempotency on create and capture, intent CAPTURE,
// the amount's decimals per currency, capture only after approval. It accepts what PayPal's
// server SDK sends (capture with Content-Type application/json and no body; GET with a trailing
// "?") and answers with status values from the API's lists.
#include "sim/paypal/gateway.hpp"

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/paypal/webhook.hpp"
#include "sim/core/gateway.hpp"
#include "sim/paypal/refund.hpp"

namespace orderpay::sim {

namespace {

constexpr std::int64_t kTokenTtl = 32400;  // PayPal's usual 9 hours

http::Response Json(int status, const std::string& body) {
    return TextReply(status, "application/json", body);
}

// PayPal's error shape: {"name","message","details":[{"issue"}]}.
http::Response Error(int status, const std::string& name, const std::string& issue,
                     const std::string& message) {
    std::string body = "{\"name\":" + http::JsonString(name) + ",\"message\":" + http::JsonString(message);
    if (!issue.empty()) body += ",\"details\":[{\"issue\":" + http::JsonString(issue) + "}]";
    return Json(status, body + "}");
}

std::string Header(const http::Request& req, const char* cgi) {
    return req.Header(cgi).value_or("");
}

using http::Member;
constexpr auto Str = &http::MemberString;

// The token's merchant, or nullopt with `err` set to PayPal's 401.
std::optional<std::string> Bearer(Ctx& ctx, const http::Request& req, http::Response& err) {
    std::string auth = Header(req, "HTTP_AUTHORIZATION");
    std::optional<std::string> client;
    if (auth.rfind("Bearer ", 0) == 0 && auth.size() < 4200)
        client = pp_store::TokenClient(ctx.db, auth.substr(7));
    if (!client)
        err = Json(
            401,
            "{\"error\":\"invalid_token\",\"error_description\":\"Token signature verification failed\"}");
    return client;
}

// Compared without an early exit, like the real one would.
bool SameSecret(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

bool ValidUrl(const std::string& url) {
    return url.size() <= 2000 && (url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0);
}

http::Response Create(Ctx& ctx, const http::Request& req, const std::string& client) {
    rapidjson::Document doc;
    // PayPal takes UTF-8 JSON only: bytes that are not (a character cut in two) make the request
    // malformed, as they would at the gateway.
    if (http::ParseJsonInput(req.body, doc).fault != http::JsonFault::kNone || !doc.IsObject())
        return Error(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON", "body is not a UTF-8 JSON object");
    if (Str(&doc, "intent") != "CAPTURE")
        return Error(422, "UNPROCESSABLE_ENTITY", "INTENT_NOT_SUPPORTED", "paysim takes intent CAPTURE");
    const rapidjson::Value* units = Member(&doc, "purchase_units");
    if (!units || !units->IsArray() || units->Size() != 1)
        return Error(400, "INVALID_REQUEST", "INVALID_ARRAY_MAX_ITEMS", "one purchase unit");
    const rapidjson::Value* unit = &(*units)[0];
    const rapidjson::Value* amount = Member(unit, "amount");
    pp_store::Order o;
    o.currency = Str(amount, "currency_code");
    o.value = Str(amount, "value");
    std::optional<int> decimals = paypal::PaypalDecimals(o.currency);
    if (!decimals) return Error(422, "UNPROCESSABLE_ENTITY", "CURRENCY_NOT_SUPPORTED", o.currency);
    // PayPal's value pattern: digits, and exactly the currency's decimals when it has any.
    const std::size_t dot = o.value.find('.');
    bool ok = !o.value.empty() && o.value.size() <= 32 &&
              (*decimals == 0 ? dot == std::string::npos
                              : dot != std::string::npos &&
                                    o.value.size() - dot - 1 <= static_cast<std::size_t>(*decimals));
    for (char ch : o.value) ok = ok && ((ch >= '0' && ch <= '9') || ch == '.');
    if (!ok) return Error(422, "UNPROCESSABLE_ENTITY", "DECIMAL_PRECISION", "amount value " + o.value);
    // purchase_unit.description: 1 to 127 characters when present.
    if (const rapidjson::Value* d = Member(unit, "description");
        d && (!d->IsString() || d->GetStringLength() == 0 || http::Utf8Chars(d->GetString()) > 127))
        return Error(400, "INVALID_REQUEST", "INVALID_STRING_LENGTH", "description of 1 to 127 characters");
    o.custom_id = Str(unit, "custom_id").substr(0, 127);
    o.invoice_id = Str(unit, "invoice_id").substr(0, 127);
    const rapidjson::Value* ctx_obj =
        Member(Member(Member(&doc, "payment_source"), "paypal"), "experience_context");
    if (!ctx_obj) ctx_obj = Member(&doc, "application_context");
    o.return_url = Str(ctx_obj, "return_url");
    o.cancel_url = Str(ctx_obj, "cancel_url");
    if (!ValidUrl(o.return_url) || !ValidUrl(o.cancel_url))
        return Error(422, "UNPROCESSABLE_ENTITY", "INVALID_PARAMETER_VALUE", "return_url and cancel_url");
    o.id = "PS" + crypto::RandomId(15);
    for (char& ch : o.id) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    o.client_id = client;
    if (std::string rid = Header(req, "HTTP_PAYPAL_REQUEST_ID"); !rid.empty())
        o.request_id = rid.substr(0, 108);
    pp_store::Order made = pp_store::CreateOrder(ctx.db, o);
    // The same request id again returns the order it made (201 the first time, 200 after).
    return Json(made.id == o.id ? 201 : 200, PpOrderJson(made, PpBase(req), ctx.opts.paypal_web_base));
}

http::Response CaptureCall(Ctx& ctx, const http::Request& req, const std::string& client,
                           const std::string& id) {
    // PayPal's SDK sends Content-Type application/json with no body at all; "{}" is fine too.
    if (!req.body.empty()) {
        rapidjson::Document doc;
        if (!http::ParseJson(req.body, doc).empty() || !doc.IsObject())
            return Error(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON", "capture body");
    }
    std::optional<pp_store::Order> o = pp_store::FindOrder(ctx.db, id);
    if (!o || o->client_id != client)
        return Error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "no such order");
    const std::string rid = Header(req, "HTTP_PAYPAL_REQUEST_ID");
    if (o->status == "COMPLETED") {
        pp_store::CountCaptureCall(ctx.db, id);
        // A retry with the capture's own request id gets the capture's answer again.
        if (!rid.empty() && o->capture_request_id == rid)
            return Json(201, PpOrderJson(*o, PpBase(req), ctx.opts.paypal_web_base));
        return Error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED", "order already captured");
    }
    if (o->status != "APPROVED") {
        pp_store::CountCaptureCall(ctx.db, id);
        return Error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED", "the payer has not approved");
    }
    std::optional<pp_store::Order> done = PpCapture(ctx, id, "COMPLETED", rid);
    if (!done) {  // raced with another capture: answer as a retry would be answered
        std::optional<pp_store::Order> now = pp_store::FindOrder(ctx.db, id);
        if (now && now->status == "COMPLETED" && !rid.empty() && now->capture_request_id == rid)
            return Json(201, PpOrderJson(*now, PpBase(req), ctx.opts.paypal_web_base));
        return Error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED", "order already captured");
    }
    return Json(201, PpOrderJson(*done, PpBase(req), ctx.opts.paypal_web_base));
}

}  // namespace

std::optional<std::string> PpBearer(Ctx& ctx, const http::Request& req, http::Response& err) {
    return Bearer(ctx, req, err);
}

http::Response PpError(int status, const std::string& name, const std::string& issue,
                       const std::string& message) {
    return Error(status, name, issue, message);
}

std::string PpBase(const http::Request& req) {
    std::string host = req.Header("HTTP_HOST").value_or("127.0.0.1");
    bool https = req.Header("HTTPS").value_or("") == "on";
    for (char ch : host)
        if (ch <= ' ' || ch == '/' || ch == '"' || ch == '\\' || ch == 0x7f) return "http://127.0.0.1";
    return (https ? "https://" : "http://") + host;
}

std::optional<pp_store::Order> PpCapture(Ctx& ctx, const std::string& id, const std::string& status,
                                         const std::string& request_id) {
    return pp_store::Capture(ctx.db, id, status, request_id);
}

std::string PpOrderJson(const pp_store::Order& o, const std::string& base, const std::string& web_base,
                        const std::vector<pp_store::Refund>& refunds) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    auto str = [&w](const char* k, const std::string& v) {
        w.Key(k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    auto amount = [&](const std::string& value) {
        w.Key("amount");
        w.StartObject();
        str("currency_code", o.currency);
        str("value", value);
        w.EndObject();
    };
    auto link = [&](const std::string& href, const char* rel, const char* method) {
        w.StartObject();
        str("href", href);
        str("rel", rel);
        str("method", method);
        w.EndObject();
    };
    w.StartObject();
    str("id", o.id);
    str("intent", "CAPTURE");
    str("status", o.status);
    w.Key("purchase_units");
    w.StartArray();
    w.StartObject();
    str("reference_id", o.custom_id.empty() ? "default" : o.custom_id);
    str("custom_id", o.custom_id);
    str("invoice_id", o.invoice_id);
    amount(o.value);
    if (o.capture_id) {
        w.Key("payments");
        w.StartObject();
        w.Key("captures");
        w.StartArray();
        w.StartObject();
        str("id", *o.capture_id);
        // As PayPal shows it: a completed capture refunded in part or whole says so.
        std::string capture_status = o.capture_status.value_or("COMPLETED");
        if (capture_status == "COMPLETED" && !refunds.empty()) {
            std::int64_t back = 0;
            for (const pp_store::Refund& r : refunds)
                if (r.status == "COMPLETED") back += r.minor;
            const std::optional<std::int64_t> captured = paypal::ParseAmount(o.value, o.currency);
            if (back > 0) capture_status = captured && back >= *captured ? "REFUNDED" : "PARTIALLY_REFUNDED";
        }
        str("status", capture_status);
        amount(o.capture_value.value_or(o.value));  // what was captured, unless the knob says else
        w.Key("final_capture");
        w.Bool(true);
        str("custom_id", o.custom_id);
        str("invoice_id", o.invoice_id);
        w.EndObject();
        w.EndArray();
        if (!refunds.empty()) {
            w.Key("refunds");
            w.StartArray();
            for (const pp_store::Refund& r : refunds) {
                const std::string one = PpRefundJson(r, base);
                w.RawValue(one.data(), one.size(), rapidjson::kObjectType);
            }
            w.EndArray();
        }
        w.EndObject();
    }
    w.EndObject();
    w.EndArray();
    if (o.payer_id) {
        w.Key("payer");
        w.StartObject();
        str("payer_id", *o.payer_id);
        w.EndObject();
    }
    w.Key("links");
    w.StartArray();
    link(base + "/v2/checkout/orders/" + o.id, "self", "GET");
    if (o.status == "PAYER_ACTION_REQUIRED")
        link((web_base.empty() ? base : web_base) + "/sim/paypal/approve?token=" + o.id, "payer-action",
             "GET");
    if (o.status == "APPROVED") link(base + "/v2/checkout/orders/" + o.id + "/capture", "capture", "POST");
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

http::Response PpToken(Ctx& ctx, const http::Request& req) {
    if (req.method != "POST") return Error(405, "METHOD_NOT_SUPPORTED", "", "POST only");
    std::string auth = Header(req, "HTTP_AUTHORIZATION"), decoded;
    if (auth.rfind("Basic ", 0) != 0 || auth.size() > 1024 || !crypto::Base64Decode(auth.substr(6), decoded))
        return Json(401,
                    "{\"error\":\"invalid_client\",\"error_description\":\"Client Authentication failed\"}");
    const std::size_t colon = decoded.find(':');
    std::optional<pp_store::Merchant> m;
    if (colon != std::string::npos) m = pp_store::FindMerchant(ctx.db, decoded.substr(0, colon));
    if (!m || !SameSecret(m->secret, decoded.substr(colon + 1)))
        return Json(401,
                    "{\"error\":\"invalid_client\",\"error_description\":\"Client Authentication failed\"}");
    auto form = http::ParseForm(req.body);
    if (!form || http::FormValue(*form, "grant_type").value_or("") != "client_credentials")
        return Json(400,
                    "{\"error\":\"unsupported_grant_type\",\"error_description\":\"Grant Type is NULL\"}");
    const std::string token = "A21AA" + crypto::RandomToken(48);
    pp_store::InsertToken(ctx.db, token, m->client_id, kTokenTtl);
    return Json(200, "{\"scope\":\"https://uri.paypal.com/services/payments/payment\",\"access_token\":" +
                         http::JsonString(token) +
                         ",\"token_type\":\"Bearer\",\"app_id\":\"APP-PAYSIM\","
                         "\"expires_in\":" +
                         std::to_string(kTokenTtl) + ",\"nonce\":" + http::JsonString(crypto::RandomId(20)) +
                         "}");
}

http::Response PpOrders(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<std::string> client = Bearer(ctx, req, err);
    if (!client) return err;
    constexpr std::string_view kBase = "/v2/checkout/orders";
    std::string rest = req.path.substr(kBase.size());
    if (rest.empty() || rest == "/") {
        if (req.method != "POST") return Error(405, "METHOD_NOT_SUPPORTED", "", "POST to create");
        return Create(ctx, req, *client);
    }
    rest.erase(0, 1);
    std::string id = rest, action;
    if (std::size_t slash = rest.find('/'); slash != std::string::npos) {
        id = rest.substr(0, slash);
        action = rest.substr(slash + 1);
    }
    if (!ValidId(id, 64, "")) return Error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "no such order");
    if (action == "capture") {
        if (req.method != "POST") return Error(405, "METHOD_NOT_SUPPORTED", "", "POST to capture");
        return CaptureCall(ctx, req, *client, id);
    }
    if (!action.empty()) return Error(404, "RESOURCE_NOT_FOUND", "", "no such resource");
    if (req.method != "GET") return Error(405, "METHOD_NOT_SUPPORTED", "", "GET an order");
    std::optional<pp_store::Order> o = pp_store::FindOrder(ctx.db, id);
    if (!o || o->client_id != *client)
        return Error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "no such order");
    return Json(
        200, PpOrderJson(*o, PpBase(req), ctx.opts.paypal_web_base, pp_store::RefundsOfOrder(ctx.db, o->id)));
}

http::Response PpApprove(Ctx& ctx, const http::Request& req) {
    if (req.method != "GET") return http::Fail(http::Err::kMethodNotAllowed);
    const std::string id = req.Arg("token").value_or("");
    const bool cancel = req.Arg("cancel").value_or("") == "1";
    std::optional<pp_store::Order> o = ValidId(id, 64, "") ? pp_store::FindOrder(ctx.db, id) : std::nullopt;
    if (!o) return http::Fail(http::Err::kNoSuchObject, "no such PayPal order");
    std::string target;
    if (cancel) {
        target =
            o->cancel_url + (o->cancel_url.find('?') == std::string::npos ? "?" : "&") + "token=" + o->id;
    } else {
        std::optional<pp_store::Order> approved =
            pp_store::Approve(ctx.db, id, "PAYER" + crypto::RandomId(8));
        if (!approved && o->status != "APPROVED")
            return http::Fail(http::Err::kOrderClosed,
                              "the order is " + o->status + ", not awaiting approval");
        if (approved) o = approved;
        target = o->return_url + (o->return_url.find('?') == std::string::npos ? "?" : "&") +
                 "token=" + o->id + "&PayerID=" + o->payer_id.value_or("");
    }
    http::Response r = TextReply(302, "text/plain", "see " + target);
    r.headers.emplace_back("Location", target);
    return r;
}

}  // namespace orderpay::sim
