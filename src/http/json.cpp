// JSON parsing with limits enforced before and during parse (RapidJSON SAX depth check).
#include "orderpay/http/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "orderpay/domain/money.hpp"

namespace orderpay::http {

namespace {

// Wraps the DOM builder to count nesting; RapidJSON has no depth limit of its own, and a deep
// document would otherwise recurse in Accept() and blow the stack.
struct DepthGuard : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DepthGuard> {
    rapidjson::Document& doc;
    unsigned depth = 0, max_depth;
    bool too_deep = false;
    DepthGuard(rapidjson::Document& d, unsigned m) : doc(d), max_depth(m) {}
    bool Null() { return doc.Null(); }
    bool Bool(bool b) { return doc.Bool(b); }
    bool Int(int i) { return doc.Int(i); }
    bool Uint(unsigned i) { return doc.Uint(i); }
    bool Int64(int64_t i) { return doc.Int64(i); }
    bool Uint64(uint64_t i) { return doc.Uint64(i); }
    bool Double(double d) { return doc.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool c) { return doc.RawNumber(s, n, c); }
    bool String(const char* s, rapidjson::SizeType n, bool c) { return doc.String(s, n, c); }
    bool Key(const char* s, rapidjson::SizeType n, bool c) { return doc.Key(s, n, c); }
    bool Enter() {
        if (++depth > max_depth) {
            too_deep = true;
            return false;
        }
        return true;
    }
    bool StartObject() { return Enter() && doc.StartObject(); }
    bool EndObject(rapidjson::SizeType n) { --depth; return doc.EndObject(n); }
    bool StartArray() { return Enter() && doc.StartArray(); }
    bool EndArray(rapidjson::SizeType n) { --depth; return doc.EndArray(n); }
};

}  // namespace

std::string ParseJson(std::string_view text, rapidjson::Document& doc, const JsonLimits& limits) {
    if (text.size() > limits.max_bytes) return "too large";
    // Parse into a scratch document through the depth guard, then move it into `doc`.
    rapidjson::Document scratch;
    DepthGuard guard(scratch, limits.max_depth);
    rapidjson::Reader reader;
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::ParseResult ok = reader.Parse<rapidjson::kParseStopWhenDoneFlag>(ms, guard);
    if (guard.too_deep) return "too deep";
    if (!ok) {
        return std::string(rapidjson::GetParseError_En(ok.Code())) + " at offset " + std::to_string(ok.Offset());
    }
    // Trailing non-space bytes after the value are an error too.
    for (std::size_t i = ok.Offset(); i < text.size(); ++i) {
        char c = text[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return "trailing data after JSON value";
    }
    doc.SetNull();
    doc.Swap(scratch);
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

void WriteMoney(JsonWriter& w, std::int64_t minor, int exponent) {
    std::string s = domain::FormatDecimal(minor, exponent);
    w.RawValue(s.data(), s.size(), rapidjson::kNumberType);
}

}  // namespace orderpay::http
