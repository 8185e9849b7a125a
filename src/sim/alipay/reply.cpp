// Alipay answer text: objects written once with RapidJSON, then signed over those very bytes.
#include "sim/alipay/reply.hpp"

#include <algorithm>
#include <stdexcept>

#include "orderpay/domain/money.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/alipay/sign.hpp"

namespace orderpay::sim {

namespace {

constexpr std::int64_t kMaxFen = 100000000LL * 100;  // Alipay's upper bound: 100,000,000 yuan

}  // namespace

std::string ZfbResponseNode(std::string_view method) {
    std::string node(method);
    std::replace(node.begin(), node.end(), '.', '_');
    return node + "_response";
}

std::string ZfbObjectText(const ZfbMembers& members) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    for (const ZfbMember& m : members) {
        w.Key(m.name.data(), static_cast<rapidjson::SizeType>(m.name.size()));
        if (m.raw_json) {
            w.RawValue(m.value.data(), m.value.size(), rapidjson::kArrayType);
        } else {
            w.String(m.value);
        }
    }
    w.EndObject();
    return buf.GetString();
}

std::string ZfbSignedBody(std::string_view node, std::string_view object_text, const crypto::PKey& key) {
    std::string body = "{" + http::JsonString(node) + ":";
    body += object_text;
    if (key) {
        const std::string sign = crypto::RsaSha256SignBase64(key, object_text);
        if (sign.empty()) throw std::runtime_error("zfb answer: RSA signing failed");
        body += ",\"sign\":" + http::JsonString(sign);
    }
    body += "}";
    return body;
}

std::string ZfbTime(std::int64_t epoch_seconds) {
    return alipay::GatewayTimestamp(epoch_seconds);
}

std::string Yuan(std::int64_t fen) {
    return domain::FormatDecimal(fen, 2);
}

bool ParseYuan(std::string_view text, std::int64_t& fen) {
    std::optional<domain::Minor> v = domain::ParseDecimal(text, 2);
    if (!v || *v <= 0 || *v > kMaxFen) return false;
    fen = *v;
    return true;
}

}  // namespace orderpay::sim
