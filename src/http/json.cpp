// JSON parsing with limits enforced before and during parse (RapidJSON SAX depth check).
#include "orderpay/http/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include "orderpay/domain/money.hpp"

namespace orderpay::http {

namespace {

// RapidJSON has no depth limit and a deep document recurses in the DOM builder, so the depth is
// measured first with a scan that skips string contents (escapes included).
bool TooDeep(std::string_view text, unsigned max_depth) {
    unsigned depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

}  // namespace

std::string ParseJson(std::string_view text, rapidjson::Document& doc, const JsonLimits& limits) {
    if (text.size() > limits.max_bytes) return "too large";
    if (TooDeep(text, limits.max_depth)) return "too deep";
    rapidjson::MemoryStream ms(text.data(), text.size());
    doc.ParseStream<rapidjson::kParseStopWhenDoneFlag>(ms);
    if (doc.HasParseError()) {
        return std::string(rapidjson::GetParseError_En(doc.GetParseError())) + " at offset " +
               std::to_string(doc.GetErrorOffset());
    }
    // Trailing non-space bytes after the value are an error too.
    for (std::size_t i = ms.Tell(); i < text.size(); ++i) {
        char c = text[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return "trailing data after JSON value";
    }
    return {};
}

std::optional<std::string> GetString(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject()) return std::nullopt;
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<std::int64_t> GetInt(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject()) return std::nullopt;
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
    return it->value.GetInt64();
}

std::optional<bool> GetBool(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject()) return std::nullopt;
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsBool()) return std::nullopt;
    return it->value.GetBool();
}

void WriteOptString(JsonWriter& w, const char* key, const std::optional<std::string>& v) {
    w.Key(key);
    if (v) {
        w.String(v->data(), static_cast<rapidjson::SizeType>(v->size()));
    } else {
        w.Null();
    }
}

void WriteOptMs(JsonWriter& w, const char* key, const std::optional<std::int64_t>& epoch_s) {
    w.Key(key);
    if (epoch_s) {
        w.Int64(*epoch_s * 1000);
    } else {
        w.Null();
    }
}

void WriteMoney(JsonWriter& w, std::int64_t minor, int exponent) {
    std::string s = domain::FormatDecimal(minor, exponent);
    w.RawValue(s.data(), s.size(), rapidjson::kNumberType);
}

}  // namespace orderpay::http
