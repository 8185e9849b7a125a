// RapidJSON parsing with size and depth limits, and a small writer for replies.
#pragma once

// RapidJSON asserts abort() by default; make misuse a C++ exception caught at the dispatcher.
#include <stdexcept>
#ifndef RAPIDJSON_ASSERT
#define RAPIDJSON_ASSERT(x)                                           \
    do {                                                              \
        if (!(x)) throw std::logic_error("rapidjson assertion: " #x); \
    } while (0)
#endif
#define RAPIDJSON_HAS_STDSTRING 1
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

namespace orderpay::http {

struct JsonLimits {
    std::size_t max_bytes = 64 * 1024;
    unsigned max_depth = 16;
};

/// Parses `text` into `doc`. Returns an empty string on success, else a short reason
/// ("too large", "too deep", or RapidJSON's message with the offset).
std::string ParseJson(std::string_view text, rapidjson::Document& doc, const JsonLimits& limits = {});

/// Why ParseJsonInput refused a body: its JSON (e.www.api.invalid.json) or its text
/// (e.www.api.invalid.encoding).
enum class JsonFault { kNone, kSyntax, kEncoding };

struct JsonCheck {
    JsonFault fault = JsonFault::kNone;
    std::string reason;  // short, for the reply's msg
};

/// ParseJson for a request body whose strings end up in PostgreSQL text: the body must be UTF-8
/// without NUL (also RapidJSON's kParseValidateEncodingFlag), every decoded string and key too
/// (so "\u0000" and a lone surrogate escape are refused), and no object may repeat a key (which
/// copy wins differs between parsers, and a checker and a user of one body must agree).
JsonCheck ParseJsonInput(std::string_view text, rapidjson::Document& doc, const JsonLimits& limits = {});

/// ParseJson with every number kept as the string of its source characters ("1e0" stays "1e0"),
/// for reading money that must not pass through a double; a number and a string of the same
/// characters then look alike.
std::string ParseJsonNumbersAsWritten(std::string_view text, rapidjson::Document& doc,
                                      const JsonLimits& limits = {});

/// The text of the top-level object's number member `name` exactly as `text` spells it ("7.50",
/// "1e0", "7.5000000000000001"), for money that must not pass through a double, whose shortest
/// round-trip form would turn those into a valid-looking 7.5, 1.0 and 7.5. For a `text` that
/// ParseJsonInput accepted as an object; nullopt when the member is absent or not a number.
std::optional<std::string> NumberAsWritten(std::string_view text, const char* name,
                                           const JsonLimits& limits = {});

/// Member lookups that tolerate wrong types (nullopt when absent or of another type).
std::optional<std::string> GetString(const rapidjson::Value& obj, const char* name);
std::optional<std::int64_t> GetInt(const rapidjson::Value& obj, const char* name);
std::optional<bool> GetBool(const rapidjson::Value& obj, const char* name);

/// Null-tolerant member lookups for reading providers' nested answers: Member is the member
/// `name` of `v` when `v` is an object that has it, else nullptr, so lookups chain
/// (Member(Member(&doc, "resource"), "amount")); MemberString is that member's string, "" when
/// anything on the way is missing or of another type.
const rapidjson::Value* Member(const rapidjson::Value* v, const char* name);
std::string MemberString(const rapidjson::Value* v, const char* name);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes `key` and the string, or null when absent.
void WriteOptString(JsonWriter& w, const char* key, const std::optional<std::string>& v);

/// Writes `key` and epoch seconds as epoch milliseconds, or null when absent.
void WriteOptMs(JsonWriter& w, const char* key, const std::optional<std::int64_t>& epoch_s);

/// Writes minor units as a JSON number with `exponent` decimals (32156 -> 321.56).
void WriteMoney(JsonWriter& w, std::int64_t minor, int exponent);

}  // namespace orderpay::http
