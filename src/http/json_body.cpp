// The JSON-object body preamble shared by pay/buy and admin/refund, so that both answer a wrong
// media type, bad text or bad JSON with the same codes and messages.
#include "orderpay/http/json_body.hpp"

#include "orderpay/http/reply.hpp"

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

}  // namespace orderpay::http
