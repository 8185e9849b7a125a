// paysim's PayPal refunds, strict where PayPal is: a Bearer token, a capture of the caller's that
// COMPLETED, the amount in the capture's currency with the currency's decimals (no amount: the
// rest), PayPal-Request-Id idempotency (the same id answers the same refund), and never more
// refunded than captured (422 REFUND_AMOUNT_EXCEEDED). Test knobs ride in note_to_payer, the
// one field orderpay fills from the operator's reason: "sim:fail" is refused (422
// REFUND_FAILED_INSUFFICIENT_FUNDS), "sim:pending" stays PENDING until /sim/refund finishes it,
// "sim:unknown" is refunded but answered 500 (the outcome is unknown to the caller), "sim:timeout"
// is refunded but answered only after orderpay's HTTP timeout, "sim:lie-currency" is refunded but
// its first answer states the amount in another currency (later reads tell the truth), "sim:forget"
// is refunded and answered 500 with its request id forgotten at once (PayPal keeps them for a
// limited time: a repeat is then a new request). A repeated request id gets the refund as it is,
// knobs aside.
#include "sim/paypal/refund.hpp"

#include <cctype>
#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/paypal/webhook.hpp"
#include "sim/core/gateway.hpp"
#include "sim/paypal/gateway.hpp"

namespace orderpay::sim {

namespace {

constexpr std::size_t kNoteMax = 255;  // PayPal's note_to_payer limit, in characters

http::Response Json(int status, const std::string& body) {
    return TextReply(status, "application/json", body);
}

using http::Member;
constexpr auto Str = &http::MemberString;

std::string Iso(std::int64_t epoch_s) {
    std::time_t t = static_cast<std::time_t>(epoch_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// PayPal's value pattern: digits, and at most the currency's decimals.
bool ValueOk(const std::string& value, int decimals) {
    const std::size_t dot = value.find('.');
    bool ok = !value.empty() && value.size() <= 32 &&
              (decimals == 0 ? dot == std::string::npos
                             : dot == std::string::npos ||
                                   value.size() - dot - 1 <= static_cast<std::size_t>(decimals));
    for (char ch : value) ok = ok && ((ch >= '0' && ch <= '9') || ch == '.');
    return ok;
}

std::string NewRefundId() {
    std::string id = crypto::RandomId(17);
    for (char& ch : id) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return id;
}

http::Response RefundCall(Ctx& ctx, const http::Request& req, const std::string& client,
                          const std::string& capture_id) {
    rapidjson::Document doc;
    if (req.body.empty()) {
        doc.SetObject();  // no body: refund the rest
    } else if (!http::ParseJson(req.body, doc).empty() || !doc.IsObject()) {
        return PpError(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON", "body is not a JSON object");
    }
    const bool representation =
        req.Header("HTTP_PREFER").value_or("").find("return=representation") != std::string::npos;
    std::string rid = req.Header("HTTP_PAYPAL_REQUEST_ID").value_or("");
    if (rid.size() > 108)
        return PpError(422, "UNPROCESSABLE_ENTITY", "INVALID_PARAMETER_VALUE", "request id");
    std::optional<pp_store::Order> o = pp_store::FindOrderByCapture(ctx.db, capture_id);
    if (!o || o->client_id != client)
        return PpError(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "no such capture");
    if (o->capture_status != "COMPLETED")
        return PpError(422, "UNPROCESSABLE_ENTITY", "REFUND_NOT_ALLOWED", "the capture is not COMPLETED");
    std::optional<std::int64_t> captured = paypal::ParseAmount(o->value, o->currency);
    if (!captured) return PpError(500, "INTERNAL_SERVER_ERROR", "", "stored capture amount");

    pp_store::Refund r;
    r.id = NewRefundId();
    r.client_id = client;
    r.request_id = rid.empty() ? "paysim-" + r.id : rid;
    r.order_id = o->id;
    r.capture_id = capture_id;
    r.invoice_id = Str(&doc, "invoice_id");
    r.note = Str(&doc, "note_to_payer");
    if (r.invoice_id.size() > 127)
        return PpError(422, "UNPROCESSABLE_ENTITY", "INVALID_STRING_LENGTH", "invoice_id over 127");
    if (http::Utf8Chars(r.note) > kNoteMax)
        return PpError(422, "UNPROCESSABLE_ENTITY", "INVALID_STRING_LENGTH", "note_to_payer over 255");
    const rapidjson::Value* amount = Member(&doc, "amount");
    r.currency = amount ? Str(amount, "currency_code") : o->currency;
    r.value = amount ? Str(amount, "value") : std::string();
    if (r.currency != o->currency)
        return PpError(422, "UNPROCESSABLE_ENTITY", "CURRENCY_MISMATCH", "refund in the capture's currency");
    std::optional<int> decimals = paypal::PaypalDecimals(r.currency);
    std::optional<std::int64_t> minor;
    if (amount) {
        if (!decimals || !ValueOk(r.value, *decimals))
            return PpError(422, "UNPROCESSABLE_ENTITY", "DECIMAL_PRECISION",
                           "amount value " + r.value.substr(0, 40));
        minor = paypal::ParseAmount(r.value, r.currency);
        if (!minor || *minor <= 0)
            return PpError(422, "UNPROCESSABLE_ENTITY", "INVALID_PARAMETER_VALUE", "amount must be positive");
    } else {
        // The rest of the capture: what the refunds that count leave.
        std::int64_t taken = 0;
        for (const pp_store::Refund& f : pp_store::RefundsOfOrder(ctx.db, o->id))
            if (f.status == "PENDING" || f.status == "COMPLETED") taken += f.minor;
        minor = *captured - taken;
        if (*minor <= 0)
            return PpError(422, "UNPROCESSABLE_ENTITY", "CAPTURE_FULLY_REFUNDED",
                           "the capture is fully refunded");
        r.value = paypal::FormatAmount(*minor, r.currency).value_or("");
    }
    r.minor = *minor;

    const bool fail = r.note.find("sim:fail") != std::string::npos;
    const bool pending = r.note.find("sim:pending") != std::string::npos;
    const bool unknown = r.note.find("sim:unknown") != std::string::npos;
    const bool timeout = r.note.find("sim:timeout") != std::string::npos;
    const bool forget = r.note.find("sim:forget") != std::string::npos;
    if (forget) r.request_id = "paysim-forgot-" + r.id;
    if (fail) {
        // Refused before anything is recorded: the same request id may be tried again.
        return PpError(422, "UNPROCESSABLE_ENTITY", "REFUND_FAILED_INSUFFICIENT_FUNDS",
                       "Capture could not be refunded due to insufficient funds");
    }
    r.status = pending ? "PENDING" : "COMPLETED";
    pp_store::Refund out;
    switch (pp_store::InsertRefund(ctx.db, r, *captured, out)) {
        case pp_store::Made::kNoTrade:  // the capture found above, gone since
            return PpError(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "no such capture");
        case pp_store::Made::kExceeded:
            return PpError(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED",
                           "The refund amount must be less than or equal to the capture amount that has "
                           "not yet been refunded");
        case pp_store::Made::kExisting:
            // The same request again: the refund as it is now (a different body changes nothing).
            return Json(200, representation ? PpRefundJson(out, PpBase(req))
                                            : "{\"id\":" + http::JsonString(out.id) +
                                                  ",\"status\":" + http::JsonString(out.status) + "}");
        case pp_store::Made::kMade:
            break;
    }
    if (unknown || forget) return PpError(500, "INTERNAL_SERVER_ERROR", "", "paysim: refunded, answer lost");
    if (timeout) SleepPastCallerTimeout();  // made and committed: only the answer is late
    if (r.note.find("sim:lie-currency") != std::string::npos) {
        pp_store::Refund lie = out;
        lie.currency = out.currency == "EUR" ? "USD" : "EUR";
        return Json(201, PpRefundJson(lie, PpBase(req)));
    }
    if (representation) return Json(201, PpRefundJson(out, PpBase(req)));
    return Json(
        201, "{\"id\":" + http::JsonString(out.id) + ",\"status\":" + http::JsonString(out.status) +
                 ",\"links\":[{\"href\":" + http::JsonString(PpBase(req) + "/v2/payments/refunds/" + out.id) +
                 ",\"rel\":\"self\",\"method\":\"GET\"}]}");
}

}  // namespace

std::string PpRefundJson(const pp_store::Refund& r, const std::string& base) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    auto str = [&w](const char* k, const std::string& v) {
        w.Key(k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    auto link = [&](const std::string& href, const char* rel) {
        w.StartObject();
        str("href", href);
        str("rel", rel);
        str("method", "GET");
        w.EndObject();
    };
    w.StartObject();
    str("id", r.id);
    w.Key("amount");
    w.StartObject();
    str("currency_code", r.currency);
    str("value", r.value);
    w.EndObject();
    if (!r.invoice_id.empty()) str("invoice_id", r.invoice_id);
    if (!r.note.empty()) str("note_to_payer", r.note);
    str("status", r.status);
    if (r.status == "PENDING") {
        w.Key("status_details");
        w.StartObject();
        str("reason", "ECHECK");
        w.EndObject();
    }
    str("create_time", Iso(r.ct_s));
    str("update_time", Iso(r.lm_s));
    w.Key("links");
    w.StartArray();
    link(base + "/v2/payments/refunds/" + r.id, "self");
    link(base + "/v2/payments/captures/" + r.capture_id, "up");
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

std::string PpRefundWebhookBody(const pp_store::Refund& r, const std::string& value) {
    const std::string type = "PAYMENT.CAPTURE.REFUNDED";
    // One event id per refund and status: PayPal redelivers an event under its own id.
    const std::string id =
        "WH-" + crypto::HexLower(crypto::Sha256(r.id + "|" + type + "|" + r.status)).substr(0, 24);
    pp_store::Refund shown = r;
    shown.value = value;
    return "{\"id\":" + http::JsonString(id) +
           ",\"event_version\":\"1.0\",\"create_time\":" + http::JsonString(Iso(std::time(nullptr))) +
           ",\"resource_type\":\"refund\",\"resource_version\":\"2.0\",\"event_type\":" +
           http::JsonString(type) + ",\"summary\":" +
           http::JsonString("A " + value + " " + r.currency + " capture payment was refunded") +
           ",\"resource\":" + PpRefundJson(shown, "https://api-m.paypal.com") + ",\"links\":[]}";
}

http::Response PpPayments(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<std::string> client = PpBearer(ctx, req, err);
    if (!client) return err;
    constexpr std::string_view kCaptures = "/v2/payments/captures/";
    constexpr std::string_view kRefunds = "/v2/payments/refunds/";
    const std::string& p = req.path;
    if (p.rfind(kCaptures, 0) == 0) {
        std::string rest = p.substr(kCaptures.size());
        const std::size_t slash = rest.find('/');
        const std::string id = rest.substr(0, slash);
        const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
        if (!ValidId(id, 64, ""))
            return PpError(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "no such capture");
        if (action == "refund") {
            if (req.method != "POST") return PpError(405, "METHOD_NOT_SUPPORTED", "", "POST to refund");
            return RefundCall(ctx, req, *client, id);
        }
        return PpError(404, "RESOURCE_NOT_FOUND", "", "no such resource");
    }
    if (p.rfind(kRefunds, 0) == 0) {
        const std::string id = p.substr(kRefunds.size());
        if (req.method != "GET") return PpError(405, "METHOD_NOT_SUPPORTED", "", "GET a refund");
        std::optional<pp_store::Refund> r =
            ValidId(id, 64, "") ? pp_store::FindRefund(ctx.db, id) : std::nullopt;
        if (!r || r->client_id != *client)
            return PpError(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "no such refund");
        return Json(200, PpRefundJson(*r, PpBase(req)));
    }
    return PpError(404, "RESOURCE_NOT_FOUND", "", "no such resource");
}

}  // namespace orderpay::sim
