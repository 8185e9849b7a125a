// PayPal refunds: POST /v2/payments/captures/{capture_id}/refund with PayPal-Request-Id = our
// refund id, so a repeated call (a retry, or reconcile asking again) is answered with the same
// refund rather than refunding twice; GET /v2/payments/refunds/{id} when PayPal's id is known.
// A timeout or 5xx is "unknown", never "failed": the money may have gone back.
#include "orderpay/providers/paypal/refund.hpp"

#include <cctype>

#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/paypal/webhook.hpp"

namespace orderpay::paypal {

using providers::RefundResult;

namespace {

using http::Member;
constexpr auto Str = &http::MemberString;

// PayPal's error answer as "http 422 UNPROCESSABLE_ENTITY REFUND_AMOUNT_EXCEEDED" (no request data).
std::string ErrorText(const std::string& body, long status) {
    rapidjson::Document doc;
    std::string text = "http " + std::to_string(status);
    if (http::ParseJson(body, doc).empty() && doc.IsObject()) {
        const rapidjson::Value* details = Member(&doc, "details");
        const rapidjson::Value* first =
            details && details->IsArray() && !details->Empty() ? &(*details)[0] : nullptr;
        for (const std::string& part : {Str(&doc, "name"), Str(first, "issue"), Str(&doc, "error")})
            if (!part.empty()) text += " " + http::FitUtf8(part, 80);
    }
    return text;
}

// Capture and refund ids go into URL paths: PayPal's are upper-case letters and digits.
bool PathSafe(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    return true;
}

RefundResult RefundOfJson(const rapidjson::Value& doc, const std::string& refund_id,
                          std::string_view currency);

}  // namespace

std::string NoteToPayer(std::string_view reason) {
    std::string out;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < reason.size() && chars < kNoteToPayerMax;) {
        const unsigned char c = static_cast<unsigned char>(reason[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool valid = len > 0 && i + len <= reason.size();
        for (std::size_t k = 1; valid && k < len; ++k)
            valid = (static_cast<unsigned char>(reason[i + k]) >> 6) == 2;
        if (!valid) {  // the core checked it is UTF-8; a stray byte is dropped, never cut into
            ++i;
            continue;
        }
        if (len == 1 && (c < 0x20 || c == 0x7f))
            out += ' ';
        else
            out.append(reason.substr(i, len));
        i += len;
        ++chars;
    }
    return out;
}

std::string RefundBody(const providers::RefundParams& p) {
    std::optional<std::string> value = FormatAmount(p.amount, p.currency);
    if (!value || p.amount <= 0) return {};
    std::string body = "{\"amount\":{\"value\":" + http::JsonString(*value) +
                       ",\"currency_code\":" + http::JsonString(p.currency) +
                       "},\"invoice_id\":" + http::JsonString(p.refund_id);
    if (std::string note = NoteToPayer(p.reason); !note.empty())
        body += ",\"note_to_payer\":" + http::JsonString(note);
    return body + "}";
}

std::string CaptureOfRefundLinks(const std::string& up_href) {
    const std::string_view kMarker = "/v2/payments/captures/";
    const std::size_t at = up_href.rfind(kMarker);
    if (at == std::string::npos) return {};
    std::string id = up_href.substr(at + kMarker.size());
    if (std::size_t end = id.find_first_of("/?#"); end != std::string::npos) id.resize(end);
    return PathSafe(id) ? id : std::string();
}

RefundResult RefundQueryAnswer(long status, const std::string& body, const std::string& refund_id,
                               const std::string& provider_refund_id, std::string_view currency) {
    if (status >= 200 && status <= 299) return RefundAnswer(status, body, refund_id, currency);
    RefundResult r;
    r.message = status == 404 ? "refund query: PayPal does not know refund " + provider_refund_id
                              : "refund query refused: " + ErrorText(body, status);
    r.not_known = status == 404;
    r.timeout = status >= 500;
    return r;
}

RefundResult RefundConfirmAnswer(long status, const std::string& body, const std::string& refund_id,
                                 const std::string& provider_refund_id, const std::string& capture_id,
                                 std::string_view currency) {
    RefundResult r;
    if (status == 404) {
        r.not_this_refund = true;
        r.message = "PayPal knows no refund " + provider_refund_id;
        return r;
    }
    if (status < 200 || status > 299)
        return RefundQueryAnswer(status, body, refund_id, provider_refund_id, currency);
    rapidjson::Document doc;
    if (!http::ParseJson(body, doc).empty() || !doc.IsObject()) {
        r.message = "refund confirmation: answer is not JSON";
        return r;
    }
    const std::string id = Str(&doc, "id"), invoice = Str(&doc, "invoice_id");
    std::string capture;
    if (const rapidjson::Value* links = Member(&doc, "links"); links && links->IsArray())
        for (const auto& l : links->GetArray())
            if (Str(&l, "rel") == "up") capture = CaptureOfRefundLinks(Str(&l, "href"));
    // Each mismatch is a message about some other refund, or none: never believed for this one.
    std::string other;
    if (id != provider_refund_id)
        other = "PayPal answered for refund " + http::FitUtf8(id, 64);
    else if (capture.empty() || capture != capture_id)
        other = "PayPal's refund " + id + " is of capture " + (capture.empty() ? "(none named)" : capture) +
                ", not " + capture_id;
    else if (!refund_id.empty() && invoice != refund_id)
        other = "PayPal's refund " + id + " is invoice " +
                (invoice.empty() ? "(none)" : http::FitUtf8(invoice, 64)) + ", not " + refund_id;
    if (!other.empty()) {
        r.not_this_refund = true;
        r.message = other;
        return r;
    }
    // Checked above; a refund made outside orderpay is read under its own invoice.
    r = RefundAnswer(status, body, refund_id.empty() ? invoice : refund_id, currency);
    r.refund_no = invoice;
    return r;
}

RefundResult RefundAnswer(long status, const std::string& body, const std::string& refund_id,
                          std::string_view currency) {
    RefundResult r;
    using S = RefundResult::State;
    if (status >= 500 || status == 408 || status == 409 || status == 429 || status < 200) {
        // 409: the same PayPal-Request-Id is still being processed; 5xx: it may have been.
        r.state = S::kUnknown;
        r.timeout = status >= 500;
        r.message = ErrorText(body, status);
        return r;
    }
    if (status >= 300) {
        // 422 is PayPal's business refusal (REFUND_AMOUNT_EXCEEDED, CAPTURE_FULLY_REFUNDED,
        // REFUND_TIME_LIMIT_EXCEEDED, ...); 400/403/404 refuse the request itself. Nothing moved.
        r.state = S::kFailed;
        r.message = ErrorText(body, status);
        // Our token (401) or the app's permission (403), not the refund, was refused.
        r.not_sent = status == 401 || status == 403;
        if (status == 422)
            // DUPLICATE_REFUND: "Requested invoice_id has been previously refunded"; our invoice_id
            // is our refund id, so that refund was made (review s21 F2, a partial one).
            r.already_refunded = r.message.find(" REFUND_AMOUNT_EXCEEDED") != std::string::npos ||
                                 r.message.find(" CAPTURE_FULLY_REFUNDED") != std::string::npos ||
                                 r.message.find(" DUPLICATE_REFUND") != std::string::npos;
        return r;
    }
    rapidjson::Document doc;
    if (!http::ParseJson(body, doc).empty() || !doc.IsObject()) {
        r.message = "refund: answer is not JSON";
        return r;
    }
    return RefundOfJson(doc, refund_id, currency);
}

namespace {

// A refund resource (an answer's, or one an order lists) in provider-neutral terms.
RefundResult RefundOfJson(const rapidjson::Value& doc, const std::string& refund_id,
                          std::string_view currency) {
    RefundResult r;
    using S = RefundResult::State;
    const std::string id = Str(&doc, "id"), st = Str(&doc, "status"), invoice = Str(&doc, "invoice_id");
    if (!PathSafe(id)) {
        r.message = "refund: answer has no refund id";
        r.disputed = true;  // a refund resource all the same: money may have moved
        return r;
    }
    if (!invoice.empty() && invoice != refund_id) {
        r.message = "refund: answer is about invoice " + invoice.substr(0, 64) + ", not " + refund_id;
        r.disputed = true;  // a refund under our request, but not of ours: for an operator
        return r;
    }
    r.provider_refund_id = id;
    // PayPal's refund always states its amount: one in another currency, unreadable or missing is
    // not ours (-1), so a COMPLETED answer with it is held for an operator, never recorded OK.
    r.amount = -1;
    const rapidjson::Value* amount = Member(&doc, "amount");
    if (amount && Str(amount, "currency_code") == currency)
        if (std::optional<std::int64_t> minor = ParseAmount(Str(amount, "value"), currency);
            minor && *minor > 0)
            r.amount = *minor;
    r.message = "refund " + id + " " + st.substr(0, 32);
    if (st == "COMPLETED") {
        r.state = S::kOk;
    } else if (st == "PENDING") {
        r.state = S::kProcessing;
        if (std::string why = Str(Member(&doc, "status_details"), "reason"); !why.empty())
            r.message += " (" + why.substr(0, 64) + ")";
    } else if (st == "FAILED" || st == "CANCELLED") {
        r.state = S::kFailed;
    } else {
        r.disputed = true;  // a refund, in a status we do not know: money may be moving
    }
    return r;
}

}  // namespace

InvoiceLookup RefundOfInvoice(long status, const std::string& body, const std::string& refund_id,
                              const std::string& capture_id, std::string_view currency) {
    InvoiceLookup out;
    rapidjson::Document doc;
    if (status < 200 || status > 299 || !http::ParseJson(body, doc).empty() || !doc.IsObject()) {
        out.message = "order unreadable: " + ErrorText(body, status);
        return out;
    }
    const rapidjson::Value* units = Member(&doc, "purchase_units");
    if (!units || !units->IsArray()) {
        out.message = "order without purchase units";
        return out;
    }
    // Only the unit holding our capture speaks for our refund: an order that does not list it
    // (another order answering, or one shown without its payments) says nothing about it, so its
    // "no refund of yours" is no answer (review s23-finish2 M-B).
    auto holds_capture = [&capture_id](const rapidjson::Value& unit) {
        const rapidjson::Value* captures = Member(Member(&unit, "payments"), "captures");
        if (capture_id.empty() || !captures || !captures->IsArray()) return false;
        for (const auto& c : captures->GetArray())
            if (c.IsObject() && Str(&c, "id") == capture_id) return true;
        return false;
    };
    // Every refund listed under our invoice: one that went through (or is going through) wins
    // over ones PayPal failed; two that went through are a second refund of the same money,
    // which no answer of ours can settle: held for an operator, never sent again.
    int live = 0;
    for (const auto& unit : units->GetArray()) {
        if (!unit.IsObject() || !holds_capture(unit)) continue;
        out.read = true;
        const rapidjson::Value* refunds = Member(Member(&unit, "payments"), "refunds");
        if (!refunds || !refunds->IsArray()) continue;
        for (const auto& one : refunds->GetArray()) {
            if (!one.IsObject() || Str(&one, "invoice_id") != refund_id) continue;
            RefundResult r = RefundOfJson(one, refund_id, currency);
            const bool failed = r.state == RefundResult::State::kFailed;
            if (!failed) ++live;
            if (!out.found || !failed) out.refund = std::move(r);
            out.found = true;
        }
    }
    if (live > 1) {
        out.refund = RefundResult{};
        out.refund.disputed = true;
        out.refund.message = "PayPal's order lists " + std::to_string(live) + " refunds under invoice " +
                             refund_id + ": a second refund of the same money, for an operator";
    }
    if (!out.read)
        out.message = "the order does not list capture " + capture_id.substr(0, 64) +
                      " (another order, or no payments shown)";
    else if (!out.found)
        out.message = "the order lists no refund with invoice " + refund_id;
    return out;
}

RefundResult PaypalClient::Refund(const providers::Merchant& m, const providers::RefundParams& p) {
    RefundResult r;
    const std::string body = RefundBody(p);
    if (body.empty() || !PathSafe(p.txn_id) || p.refund_id.empty()) {
        r.state = RefundResult::State::kFailed;
        r.message = body.empty() ? "PayPal cannot refund this amount in " + p.currency
                                 : "no PayPal capture id recorded for the slip";
        return r;
    }
    // Sent before: PayPal may have made it and since forgotten the PayPal-Request-Id, and then a
    // repeat is a second refund of a partial amount (review s21 F2(a)). The order lists its
    // refunds with their invoice_id (our refund id): asked first, and only a refund it does not
    // list is sent again. An order we cannot read sends nothing.
    if (p.sent_before) {
        if (!PathSafe(p.provider_ref)) {
            r.message = "refund lookup: no PayPal order id recorded for the slip to look the refund up in";
            return r;
        }
        Call g = Api(m, "GET", "/v2/checkout/orders/" + p.provider_ref, "", "");
        if (!g.answered) {
            r.message = "refund lookup: " + g.error;
            return r;
        }
        InvoiceLookup found = RefundOfInvoice(g.status, g.body, p.refund_id, p.txn_id, p.currency);
        if (found.found) {
            found.refund.message = "found in PayPal's order: " + found.refund.message;
            return found.refund;
        }
        if (!found.read) {
            r.message = "refund lookup: " + found.message;
            return r;
        }
    }
    if (p.read_only) {
        r.message =
            "refund lookup: PayPal's order lists no refund under our id (nothing sent: a read-only look)";
        r.not_known = true;
        return r;
    }
    Call c = Api(m, "POST", "/v2/payments/captures/" + p.txn_id + "/refund", body, p.refund_id,
                 /*representation=*/true);
    if (!c.answered) {
        // Not connected (or no token): certainly not refunded. Anything later: unknown.
        r.state = c.connect_failed ? RefundResult::State::kFailed : RefundResult::State::kUnknown;
        r.timeout = !c.connect_failed;
        r.not_sent = c.connect_failed;
        r.message = "refund: " + c.error;
        return r;
    }
    return RefundAnswer(c.status, c.body, p.refund_id, p.currency);
}

RefundResult PaypalClient::QueryRefund(const providers::Merchant& m, const providers::RefundParams& p) {
    if (!PathSafe(p.provider_refund_id)) {
        // PayPal's id is not known (the first answer never came): looked up in the order, else
        // the same request id again, answered with the refund it made, or made now, once.
        RefundResult r;
        if (RefundBody(p).empty() || !PathSafe(p.txn_id)) {
            r.message = "refund query: nothing to ask PayPal with";
            return r;
        }
        providers::RefundParams again = p;
        again.sent_before = true;
        // This refund was sent before: "already refunded" may be PayPal no longer recognising
        // the request id of a first request it carried out.
        return providers::AsRepeatOfASentRefund(Refund(m, again));
    }
    Call c = Api(m, "GET", "/v2/payments/refunds/" + p.provider_refund_id, "", "", /*representation=*/false);
    RefundResult r;
    if (!c.answered) {
        r.message = "refund query: " + c.error;
        return r;
    }
    return RefundQueryAnswer(c.status, c.body, p.refund_id, p.provider_refund_id, p.currency);
}

// Only a read, by PayPal's own refund id: what a webhook claims about a refund is recorded on
// this answer alone (its signature covers a CRC32 of the body, which anyone can match).
RefundResult PaypalClient::ConfirmRefund(const providers::Merchant& m,
                                         const providers::RefundParams& p) const {
    RefundResult r;
    if (!PathSafe(p.provider_refund_id) || !PathSafe(p.txn_id)) {
        r.not_this_refund = true;
        r.message = "no PayPal refund and capture id to confirm it with";
        return r;
    }
    Call c = Api(m, "GET", "/v2/payments/refunds/" + p.provider_refund_id, "", "", /*representation=*/false);
    if (!c.answered) {
        r.message = "refund confirmation: " + c.error;
        return r;
    }
    return RefundConfirmAnswer(c.status, c.body, p.refund_id, p.provider_refund_id, p.txn_id, p.currency);
}

}  // namespace orderpay::paypal
