// admin/refund's request body: a small JSON object read strictly. Money arrives in major units,
// as a string ("7.50") or a JSON number (7.5); a number is taken by the characters it is written
// in, never through floating-point arithmetic, so 7.555, 1e0 and 7.5000000000000001 are refused
// like the same strings rather than rounded or rewritten.
#include "orderpay/handlers/refund_input.hpp"

#include <utility>

#include "orderpay/http/json.hpp"
#include "orderpay/http/json_body.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::handlers {

namespace {

const rapidjson::Value* Given(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

}  // namespace

std::optional<domain::Minor> RefundAmount(std::string_view text, int exponent) {
    std::optional<domain::Minor> v = domain::ParseDecimal(text, exponent);
    if (!v || *v <= 0) return std::nullopt;
    return v;
}

std::string ReasonProblem(std::string_view reason) {
    // Shown to operators, logged, and sent to the provider with the refund: plain text that
    // says something (a reason of spaces, or one a bidi override turns around, says nothing).
    // Each refusal says which rule it broke: a 4-character reason told "1 to 80 characters"
    // could not tell what to change (review s25-newuser #7).
    if (reason.empty()) return "it is empty";
    if (!http::IsUtf8(reason)) return "it is not UTF-8 text";
    if (!http::IsPlainText(reason))
        return "it holds a control character, a bidi control, an invisible character or a line separator";
    if (http::IsBlank(reason)) return "it is blank (only spaces)";
    if (http::Utf8Chars(reason) > kMaxReasonChars)
        return "it is over " + std::to_string(kMaxReasonChars) + " characters";
    return {};
}

bool ValidReason(std::string_view reason) {
    return ReasonProblem(reason).empty();
}

bool ValidIdempotencyKey(std::string_view key) {
    if (key.empty() || key.size() > 128) return false;
    for (char c : key)
        if (c < '!' || c > '~') return false;
    return true;
}

std::optional<http::Response> ParseRefundInput(const http::Request& req, RefundInput& in) {
    if (req.body.size() > kMaxRefundBody)
        return http::Fail(http::Err::kTooLarge, "a refund request is at most 4096 bytes");
    rapidjson::Document doc;
    if (auto bad = http::ParseJsonObjectBody(req, doc)) return bad;
    // Refused by name, never dropped: without "amount" a refund is all that is left, so a misspelt
    // "amout": "1.00" read leniently would give the whole payment back.
    if (auto bad = http::RefuseUnknownFields(doc, {"order", "slip", "amount", "reason", "idempotency_key"}))
        return bad;

    // An empty field is a missing one, as admin/order's "id=" is: not an order that does not exist.
    for (auto [name, out] : {std::pair{"order", &in.order}, std::pair{"slip", &in.slip}}) {
        const rapidjson::Value* v = Given(doc, name);
        if (!v) continue;
        if (!v->IsString())
            return http::Fail(http::Err::kInvalidField, std::string(name) + " must be a string");
        out->assign(v->GetString(), v->GetStringLength());
    }
    // Both would leave it to the server which money goes back.
    if (!in.order.empty() && !in.slip.empty())
        return http::Fail(http::Err::kInvalidField,
                          "give order or slip, not both: slip is for a payment its order does not count");
    if (in.order.empty() && in.slip.empty()) return http::Fail(http::Err::kNilId, "order is missing");
    // A refund_needed slip is owed back whole, as `orderpay refund --slip` gives it: an amount
    // (even null) is refused rather than ignored, so no caller believes it gave back a part.
    if (!in.slip.empty() && doc.HasMember("amount"))
        return http::Fail(http::Err::kInvalidRefundAmount,
                          "amount is not taken with slip: a refund_needed slip is refunded in full");

    // No amount means "all that is left", so null must not mean that too: a form whose empty
    // amount field serialises as null would refund the whole payment.
    if (auto it = doc.FindMember("amount"); it != doc.MemberEnd() && it->value.IsNull())
        return http::Fail(
            http::Err::kInvalidRefundAmount,
            "amount is null: give an amount, or leave the field out to refund all that is left");
    if (const rapidjson::Value* amount = Given(doc, "amount")) {
        if (amount->IsString()) {
            in.amount.emplace(amount->GetString(), amount->GetStringLength());
        } else if (amount->IsNumber()) {
            in.amount = http::NumberAsWritten(req.body, "amount");
        } else {
            return http::Fail(http::Err::kInvalidRefundAmount, "amount must be a decimal string or number");
        }
        if (!in.amount || in.amount->empty() || in.amount->size() > 32)
            return http::Fail(http::Err::kInvalidRefundAmount, "amount must be a positive decimal");
    }

    const rapidjson::Value* reason = Given(doc, "reason");
    if (!reason || !reason->IsString()) return http::Fail(http::Err::kInvalidReason, "reason is missing");
    in.reason.assign(reason->GetString(), reason->GetStringLength());
    if (std::string why = ReasonProblem(in.reason); !why.empty())
        return http::Fail(http::Err::kInvalidReason, "a refund needs a reason of 1 to " +
                                                         std::to_string(kMaxReasonChars) +
                                                         " characters of plain text: " + why);

    const rapidjson::Value* key = Given(doc, "idempotency_key");
    if (!key || !key->IsString() ||
        !ValidIdempotencyKey(std::string_view(key->GetString(), key->GetStringLength())))
        return http::Fail(http::Err::kInvalidField,
                          "idempotency_key is required: 1 to 128 printable ASCII characters");
    in.idempotency_key.assign(key->GetString(), key->GetStringLength());
    return std::nullopt;
}

}  // namespace orderpay::handlers
