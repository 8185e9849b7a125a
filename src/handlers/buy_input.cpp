// pay/buy's request body: a JSON object (Content-Type application/json) within limits, read
// strictly into a BuyInput: a field that is given must have the type the README gives it, and a
// field it does not know is refused, since a misspelt one changed the buy silently (a misspelt
// idempotency key lost retry safety; a line's "qty" bought 1).
#include "orderpay/handlers/buy_input.hpp"

#include <span>
#include <string_view>

#include "orderpay/http/json.hpp"
#include "orderpay/http/json_body.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

namespace {

// Every field of the body (README, pay/buy), the contact and address fields the shop may collect
// at checkout last; anything else is refused.
constexpr std::string_view kFields[] = {
    "products", "pay_tp",  "auth_code", "tp",   "title",    "note",    "idempotency_key", "name",   "phone",
    "email",    "country", "province",  "city", "district", "address", "postcode",        "company"};
constexpr std::span<const std::string_view> kContactFields = std::span(kFields).subspan(7);
static_assert(kContactFields.front() == "name" && kContactFields.size() == 10);

http::Response WrongType(std::string_view field, std::string_view want) {
    return http::Fail(http::Err::kInvalidField, std::string(field) + " must be " + std::string(want));
}

// The member `name` unless it is absent or null: JSON's "no value", as the seed's nil codes
// read it ("pay_tp":null is e.www.order.nil.pay_tp).
const rapidjson::Value* Given(const rapidjson::Value& obj, std::string_view name) {
    auto it = obj.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
    return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

// Reads an optional string member into `out`, which keeps its default when none is given.
// False when it is given with another type: a wrong type used to be taken for "absent" and
// silently defaulted ("title":5 gave the product's title, "pay_tp":1 nil.pay_tp).
bool OptString(const rapidjson::Value& obj, const char* name, std::string& out) {
    const rapidjson::Value* v = Given(obj, name);
    if (!v) return true;
    if (!v->IsString()) return false;
    out.assign(v->GetString(), v->GetStringLength());
    return true;
}

std::optional<http::Response> ParseLine(const rapidjson::Value& p, std::size_t at,
                                        domain::LineRequest& line) {
    if (!p.IsObject()) return WrongType("each of products", "an object");
    if (auto bad = http::RefuseUnknownFields(p, {"id", "amount"}, "products[" + std::to_string(at) + "]."))
        return bad;
    const rapidjson::Value* id = Given(p, "id");
    if (!id) return http::Fail(http::Err::kInvalidField, "each product needs an id (products[].id)");
    if (!id->IsString()) return WrongType("products[].id", "a string");
    line.product_id.assign(id->GetString(), id->GetStringLength());
    if (line.product_id.empty() || line.product_id.size() > 64)
        return http::Fail(http::Err::kInvalidField, "products[].id must be 1 to 64 bytes");
    line.amount = 1;
    if (const rapidjson::Value* amount = Given(p, "amount")) {
        // A number that is not an integer (2.5, 1e30) is a bad amount; a string is a bad field.
        if (!amount->IsNumber()) return WrongType("products[].amount", "an integer");
        if (!amount->IsInt64()) return http::Fail(http::Err::kInvalidAmount, "amount must be an integer");
        line.amount = amount->GetInt64();
    }
    return std::nullopt;
}

}  // namespace

std::optional<http::Response> ParseInput(const http::Request& req, BuyInput& in) {
    rapidjson::Document doc;
    if (auto bad = http::ParseJsonObjectBody(req, doc)) return bad;
    if (auto bad = http::RefuseUnknownFields(doc, kFields)) return bad;

    const rapidjson::Value* products = Given(doc, "products");
    if (!products) return http::Fail(http::Err::kNilProducts);
    if (!products->IsArray()) return WrongType("products", "an array");
    if (products->Empty()) return http::Fail(http::Err::kNilProducts);
    if (products->Size() > domain::kMaxLines)
        return http::Fail(http::Err::kInvalidField, "too many products");
    for (rapidjson::SizeType i = 0; i < products->Size(); ++i) {
        domain::LineRequest line;
        if (auto bad = ParseLine((*products)[i], i, line)) return bad;
        in.lines.push_back(std::move(line));
    }

    if (!OptString(doc, "pay_tp", in.pay_tp)) return WrongType("pay_tp", "a string");
    if (!OptString(doc, "tp", in.tp)) return WrongType("tp", "a string");
    if (in.tp != "A" && in.tp != "Q") return http::Fail(http::Err::kInvalidTp);
    if (!OptString(doc, "title", in.title)) return WrongType("title", "a string");
    if (!OptString(doc, "note", in.note)) return WrongType("note", "a string");
    if (in.title.size() > 128 || in.note.size() > 1024)
        return http::Fail(http::Err::kInvalidField, "title or note too long");
    if (!OptString(doc, "auth_code", in.pay.auth_code)) return WrongType("auth_code", "a string");
    if (Given(doc, "idempotency_key")) {
        std::string key;
        if (!OptString(doc, "idempotency_key", key)) return WrongType("idempotency_key", "a string");
        in.idempotency_key = key;
    }

    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    for (std::string_view f : kContactFields) {
        const rapidjson::Value* v = Given(doc, f);
        if (!v) continue;
        if (!v->IsString()) return WrongType(f, "a string");
        if (v->GetStringLength() > 256)
            return http::Fail(http::Err::kInvalidField, std::string(f) + " too long");
        w.Key(f.data(), static_cast<rapidjson::SizeType>(f.size()));
        w.String(v->GetString(), v->GetStringLength());
    }
    w.EndObject();
    in.contact_json = buf.GetString();
    return std::nullopt;
}

}  // namespace orderpay::handlers
