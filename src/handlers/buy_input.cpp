// pay/buy's request body: JSON parsed within limits (text only, no repeated keys), fields read
// into a BuyInput.
#include "orderpay/handlers/buy_input.hpp"

#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

namespace {

// Contact and address fields the shop may collect at checkout; anything else is ignored.
constexpr const char* kContactFields[] = {"name", "phone",    "email",   "country",  "province",
                                          "city", "district", "address", "postcode", "company"};

}  // namespace

std::optional<http::Response> ParseInput(const http::Request& req, BuyInput& in) {
    rapidjson::Document doc;
    http::JsonCheck check = http::ParseJsonInput(req.body, doc);
    if (check.fault == http::JsonFault::kEncoding)
        return http::Fail(http::Err::kBadEncoding, "request body: " + check.reason);
    if (check.fault != http::JsonFault::kNone)
        return http::Fail(http::Err::kBadJson, "request body is not valid JSON: " + check.reason);
    if (!doc.IsObject()) return http::Fail(http::Err::kBadJson, "request body must be a JSON object");
    auto products = doc.FindMember("products");
    if (products == doc.MemberEnd() || !products->value.IsArray() || products->value.Empty())
        return http::Fail(http::Err::kNilProducts);
    if (products->value.Size() > domain::kMaxLines)
        return http::Fail(http::Err::kInvalidField, "too many products");
    for (const auto& p : products->value.GetArray()) {
        std::optional<std::string> id = http::GetString(p, "id");
        if (!id || id->empty() || id->size() > 64)
            return http::Fail(http::Err::kInvalidField, "each product needs a string id");
        domain::LineRequest line{*id, 1};
        if (p.HasMember("amount")) {
            std::optional<std::int64_t> amount = http::GetInt(p, "amount");
            if (!amount) return http::Fail(http::Err::kInvalidAmount, "amount must be an integer");
            line.amount = *amount;
        }
        in.lines.push_back(std::move(line));
    }
    if (auto v = http::GetString(doc, "pay_tp")) in.pay_tp = *v;
    if (doc.HasMember("tp")) {
        auto tp = http::GetString(doc, "tp");
        if (!tp || (*tp != "A" && *tp != "Q")) return http::Fail(http::Err::kInvalidTp);
        in.tp = *tp;
    }
    in.title = http::GetString(doc, "title").value_or("");
    in.note = http::GetString(doc, "note").value_or("");
    if (in.title.size() > 128 || in.note.size() > 1024)
        return http::Fail(http::Err::kInvalidField, "title or note too long");
    in.pay.auth_code = http::GetString(doc, "auth_code").value_or("");
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    for (const char* f : kContactFields) {
        if (auto v = http::GetString(doc, f)) {
            if (v->size() > 256) return http::Fail(http::Err::kInvalidField, std::string(f) + " too long");
            w.Key(f);
            w.String(v->data(), static_cast<rapidjson::SizeType>(v->size()));
        }
    }
    w.EndObject();
    in.contact_json = buf.GetString();
    return std::nullopt;
}

}  // namespace orderpay::handlers
