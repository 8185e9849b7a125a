// The JSON-object body preamble shared by the JSON endpoints, so that all answer a wrong media
// type, bad text, bad JSON or (where they read strictly) an unknown field with the same codes.
#include "orderpay/http/json_body.hpp"

#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::http {

std::optional<Response> ParseJsonObjectBody(const Request& req, rapidjson::Document& doc) {
    if (!IsJsonMediaType(req.content_type)) return Fail(Err::kUnsupportedType);
    JsonCheck check = ParseJsonInput(req.body, doc);
    if (check.fault == JsonFault::kEncoding) return Fail(Err::kBadEncoding, "request body: " + check.reason);
    if (check.fault != JsonFault::kNone)
        return Fail(Err::kBadJson, "request body is not valid JSON: " + check.reason);
    if (!doc.IsObject()) return Fail(Err::kBadJson, "request body must be a JSON object");
    return std::nullopt;
}

std::optional<Response> RefuseUnknownFields(const rapidjson::Value& obj,
                                            std::span<const std::string_view> known, std::string_view where) {
    for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
        std::string_view name(it->name.GetString(), it->name.GetStringLength());
        bool ok = false;
        for (std::string_view k : known) ok = ok || k == name;
        if (ok) continue;
        // Cut on a character boundary: a cut inside one made the reply's JSON invalid UTF-8.
        std::string shown = TextOrEscaped(name, kMaxEchoedName);
        if (shown.size() < name.size()) shown += "…";
        return Fail(Err::kInvalidField, "unknown field " + std::string(where) + shown);
    }
    return std::nullopt;
}

std::optional<Response> RefuseUnknownFields(const rapidjson::Value& obj,
                                            std::initializer_list<std::string_view> known,
                                            std::string_view where) {
    return RefuseUnknownFields(obj, std::span<const std::string_view>(known.begin(), known.size()), where);
}

}  // namespace orderpay::http
