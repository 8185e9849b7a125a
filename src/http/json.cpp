// JSON parsing with limits enforced before and during parse (RapidJSON SAX depth check), and the
// stricter variant for request bodies (text, duplicate keys).
#include "orderpay/http/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include <algorithm>
#include <vector>

#include "orderpay/domain/money.hpp"
#include "orderpay/http/utf8.hpp"

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

template <unsigned kFlags>
std::string Parse(std::string_view text, rapidjson::Document& doc, const JsonLimits& limits) {
    if (text.size() > limits.max_bytes) return "too large";
    if (TooDeep(text, limits.max_depth)) return "too deep";
    rapidjson::MemoryStream ms(text.data(), text.size());
    doc.ParseStream<rapidjson::kParseStopWhenDoneFlag | kFlags>(ms);
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

std::string_view View(const rapidjson::Value& s) {
    return {s.GetString(), s.GetStringLength()};
}

// Checks what the raw-text check cannot see: strings as decoded from their escapes, and
// repeated keys. Recursion is bounded by the depth limit checked before parsing.
JsonCheck CheckTree(const rapidjson::Value& v) {
    if (v.IsString()) {
        if (!IsText(View(v))) return {JsonFault::kEncoding, "a string is not UTF-8 text without NUL"};
    } else if (v.IsArray()) {
        for (const auto& item : v.GetArray())
            if (JsonCheck c = CheckTree(item); c.fault != JsonFault::kNone) return c;
    } else if (v.IsObject()) {
        std::vector<std::string_view> keys;
        keys.reserve(v.MemberCount());
        for (const auto& m : v.GetObject()) {
            if (!IsText(View(m.name))) return {JsonFault::kEncoding, "a key is not UTF-8 text without NUL"};
            keys.push_back(View(m.name));
            if (JsonCheck c = CheckTree(m.value); c.fault != JsonFault::kNone) return c;
        }
        std::sort(keys.begin(), keys.end());
        auto dup = std::adjacent_find(keys.begin(), keys.end());
        if (dup != keys.end()) {
            std::string reason = "duplicate key";
            if (dup->size() <= 64) reason += " \"" + std::string(*dup) + "\"";
            return {JsonFault::kSyntax, reason};
        }
    }
    return {};
}

}  // namespace

std::string ParseJson(std::string_view text, rapidjson::Document& doc, const JsonLimits& limits) {
    return Parse<rapidjson::kParseNoFlags>(text, doc, limits);
}

JsonCheck ParseJsonInput(std::string_view text, rapidjson::Document& doc, const JsonLimits& limits) {
    if (text.size() > limits.max_bytes) return {JsonFault::kSyntax, "too large"};
    // RFC 8259 §8.1: JSON text exchanged between systems is UTF-8. Checking the raw bytes first
    // also catches a NUL byte, which RapidJSON would take for the end of its input.
    if (!IsText(text)) return {JsonFault::kEncoding, "request body is not UTF-8 text without NUL"};
    std::string err = Parse<rapidjson::kParseValidateEncodingFlag>(text, doc, limits);
    if (!err.empty()) {
        // RapidJSON 1.1 checks a high surrogate escape's partner but not a lone low one ("\uDC00"):
        // CheckTree's IsText catches that one.
        bool text_fault = doc.HasParseError() &&
                          (doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding ||
                           doc.GetParseError() == rapidjson::kParseErrorStringUnicodeSurrogateInvalid);
        return {text_fault ? JsonFault::kEncoding : JsonFault::kSyntax, err};
    }
    return CheckTree(doc);
}

std::optional<std::string> NumberAsWritten(std::string_view text, const char* name,
                                           const JsonLimits& limits) {
    rapidjson::Document typed;
    if (!Parse<rapidjson::kParseNoFlags>(text, typed, limits).empty() || !typed.IsObject())
        return std::nullopt;
    auto it = typed.FindMember(name);
    if (it == typed.MemberEnd() || !it->value.IsNumber()) return std::nullopt;
    // The typed parse above says this member is a number, not a string of the same characters.
    rapidjson::Document raw;
    if (!ParseJsonNumbersAsWritten(text, raw, limits).empty()) return std::nullopt;
    return GetString(raw, name);
}

std::string ParseJsonNumbersAsWritten(std::string_view text, rapidjson::Document& doc,
                                      const JsonLimits& limits) {
    return Parse<rapidjson::kParseNumbersAsStringsFlag>(text, doc, limits);
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

const rapidjson::Value* Member(const rapidjson::Value* v, const char* name) {
    if (!v || !v->IsObject()) return nullptr;
    auto it = v->FindMember(name);
    return it == v->MemberEnd() ? nullptr : &it->value;
}

std::string MemberString(const rapidjson::Value* v, const char* name) {
    const rapidjson::Value* m = Member(v, name);
    return m && m->IsString() ? std::string(m->GetString(), m->GetStringLength()) : std::string();
}

}  // namespace orderpay::http
