// Fuzz target: Alipay gateway responses (alipay::ExtractSignedResponse, the raw "<method>_response"
// substring and sign, and VerifyResponse), checked against RapidJSON on valid JSON, and the
// extracted bytes signed with a test key must verify when put back into a response.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "fuzz_check.hpp"
#include "json_same.hpp"
#include "orderpay/crypto/rsa.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/alipay/sign.hpp"

#ifndef ORDERPAY_FUZZ_KEY_DIR
#define ORDERPAY_FUZZ_KEY_DIR "tests/fuzz/keys"
#endif

namespace {

using namespace orderpay;

// The methods AlipayClient calls.
constexpr std::string_view kMethods[] = {"alipay.trade.precreate", "alipay.trade.pay", "alipay.trade.query",
                                         "alipay.trade.close", "alipay.trade.cancel"};

std::string KeyDir() {
    const char* env = std::getenv("ORDERPAY_FUZZ_KEY_DIR");
    return env != nullptr && *env != '\0' ? env : ORDERPAY_FUZZ_KEY_DIR;
}

crypto::PKey LoadKey(const char* file, bool is_private) {
    std::string error;
    std::optional<std::string> pem = crypto::ReadSmallFile(KeyDir() + "/" + file, error);
    crypto::PKey key;
    if (pem)
        key = is_private ? crypto::PrivateKeyFromPem(*pem, error) : crypto::PublicKeyFromPem(*pem, error);
    if (!key) {
        std::fprintf(stderr, "alipay_response_fuzz: %s (set ORDERPAY_FUZZ_KEY_DIR)\n", error.c_str());
        std::abort();
    }
    return key;
}

// What the extractor must answer for a body RapidJSON reads as strict JSON: the method's node or
// else error_response, each an object or a string and not repeated, and a string "sign" if any.
struct Expected {
    bool ok = false;
    const rapidjson::Value* content = nullptr;
    bool is_error = false;
    std::string sign;
};

Expected FromJson(const rapidjson::Document& doc, std::string_view node) {
    Expected e;
    if (!doc.IsObject()) return e;
    const rapidjson::Value* ok_value = nullptr;
    const rapidjson::Value* error_value = nullptr;
    const rapidjson::Value* sign = nullptr;
    for (const auto& m : doc.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name == "sign") {
            if (sign != nullptr || !m.value.IsString()) return e;
            sign = &m.value;
        } else if (name == node || name == "error_response") {
            const rapidjson::Value*& slot = name == node ? ok_value : error_value;
            if (slot != nullptr || !(m.value.IsObject() || m.value.IsString())) return e;
            slot = &m.value;
        }
    }
    if (ok_value == nullptr && error_value == nullptr) return e;
    e.ok = true;
    e.content = ok_value != nullptr ? ok_value : error_value;
    e.is_error = ok_value == nullptr;
    if (sign != nullptr) e.sign.assign(sign->GetString(), sign->GetStringLength());
    return e;
}

// RapidJSON 1.1 accepts a lone low surrogate escape (\uDC00-\uDFFF); the extractor refuses it.
bool HasLowSurrogateEscape(std::string_view body) {
    for (std::size_t i = 0; i + 3 < body.size(); ++i) {
        if (body[i] != '\\' || body[i + 1] != 'u' || (body[i + 2] != 'd' && body[i + 2] != 'D')) continue;
        const char c = body[i + 3];
        if ((c >= 'c' && c <= 'f') || (c >= 'C' && c <= 'F')) return true;
    }
    return false;
}

void CheckMethod(std::string_view body, std::string_view method, const rapidjson::Document* doc) {
    static const crypto::PKey private_key = LoadKey("alipay_fuzz_private.pem", true);
    static const crypto::PKey public_key = LoadKey("alipay_fuzz_public.pem", false);

    std::string node(method);
    std::replace(node.begin(), node.end(), '.', '_');
    node += "_response";

    const std::optional<alipay::SignedResponse> r = alipay::ExtractSignedResponse(body, method);
    std::string content;
    std::string reason;
    const bool verified = alipay::VerifyResponse(body, method, public_key, content, reason);
    FUZZ_CHECK(verified || !reason.empty());
    if (verified)
        FUZZ_CHECK(r && content == r->content && crypto::RsaSha256VerifyBase64(public_key, content, r->sign));

    if (doc != nullptr) {
        const Expected e = FromJson(*doc, node);
        FUZZ_CHECK(r.has_value() == e.ok);
        if (r) {
            FUZZ_CHECK(r->is_error_response == e.is_error && r->sign == e.sign);
            rapidjson::Document content_doc;
            content_doc.Parse<rapidjson::kParseIterativeFlag>(r->content.data(), r->content.size());
            FUZZ_CHECK(!content_doc.HasParseError() && fuzz::SameJson(content_doc, *e.content));
        }
    }
    if (!r) return;
    // The content is the exact bytes of the body, an object or a string.
    FUZZ_CHECK(body.find(r->content) != std::string_view::npos);
    FUZZ_CHECK((r->content.front() == '{' && r->content.back() == '}') ||
               (r->content.front() == '"' && r->content.back() == '"' && r->content.size() >= 2));

    // Signed by "Alipay" and put into a response of its own, the same bytes verify.
    const std::string key = r->is_error_response ? "error_response" : node;
    const std::string sign = crypto::RsaSha256SignBase64(private_key, r->content);
    FUZZ_CHECK(!sign.empty());
    const std::string resigned =
        "{\"" + key + "\":" + r->content + ",\"sign\":" + http::JsonString(sign) + "}";
    std::string content2;
    FUZZ_CHECK(alipay::VerifyResponse(resigned, method, public_key, content2, reason));
    FUZZ_CHECK(content2 == r->content);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body = fuzz::AsText(data, size);
    rapidjson::Document doc;
    rapidjson::MemoryStream ms(body.data(), body.size());
    doc.ParseStream<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(ms);
    bool strict = !doc.HasParseError() && !HasLowSurrogateEscape(body);
    for (std::size_t i = ms.Tell(); strict && i < body.size(); ++i)
        strict = body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t';
    for (std::string_view method : kMethods) CheckMethod(body, method, strict ? &doc : nullptr);
    return 0;
}
