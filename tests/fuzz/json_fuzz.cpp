// Fuzz target: the JSON body parser (http::ParseJson with its size and depth limits) against
// RapidJSON's own iterative parser, plus a write/re-parse round trip and the typed getters.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "json_same.hpp"
#include "orderpay/http/json.hpp"

namespace {

using namespace orderpay;

// Nesting depth of a parsed value ([] is 1), without recursion: the reference parse has no limit.
// `non_finite` is set when a number is infinite: RapidJSON 1.1 rejects 1e309 but reads 10e308
// (an overflow in its scaling) as inf, which no JSON writer can write back.
unsigned Depth(const rapidjson::Value& root, bool* non_finite = nullptr) {
    unsigned max = 0;
    std::vector<std::pair<const rapidjson::Value*, unsigned>> stack = {{&root, 0}};
    while (!stack.empty()) {
        auto [v, d] = stack.back();
        stack.pop_back();
        if (non_finite && v->IsDouble() && !std::isfinite(v->GetDouble())) *non_finite = true;
        if (v->IsArray()) {
            max = std::max(max, d + 1);
            for (const auto& e : v->GetArray()) stack.emplace_back(&e, d + 1);
        } else if (v->IsObject()) {
            max = std::max(max, d + 1);
            for (const auto& m : v->GetObject()) stack.emplace_back(&m.value, d + 1);
        }
    }
    return max;
}

// RapidJSON without our limits: the iterative parser (no recursion), one value, then only
// JSON whitespace. (RapidJSON's own end check would stop at a NUL byte, so it is done here.)
bool ReferenceParse(std::string_view text, rapidjson::Document& doc) {
    rapidjson::MemoryStream ms(text.data(), text.size());
    doc.ParseStream<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(ms);
    if (doc.HasParseError()) return false;
    for (std::size_t i = ms.Tell(); i < text.size(); ++i)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t') return false;
    return true;
}

void CheckLimits(std::string_view text, const http::JsonLimits& limits, bool ref_ok, unsigned ref_depth) {
    rapidjson::Document doc;
    const std::string error = http::ParseJson(text, doc, limits);
    if (text.size() > limits.max_bytes) {
        FUZZ_CHECK(error == "too large");
        return;
    }
    const bool expect_ok = ref_ok && ref_depth <= limits.max_depth;
    FUZZ_CHECK(error.empty() == expect_ok);
    if (ref_ok && ref_depth > limits.max_depth) FUZZ_CHECK(error == "too deep");
    if (!expect_ok) return;
    FUZZ_CHECK(!doc.HasParseError());
    bool non_finite = false;
    FUZZ_CHECK(Depth(doc, &non_finite) == ref_depth);

    // Written back and read again (full precision, so doubles compare exactly) it is the same value.
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    FUZZ_CHECK(doc.Accept(w) != non_finite);
    if (non_finite) return;
    rapidjson::Document again;
    again.Parse<rapidjson::kParseFullPrecisionFlag>(buf.GetString(), buf.GetSize());
    FUZZ_CHECK(!again.HasParseError());
    FUZZ_CHECK(fuzz::SameJson(again, doc));

    // The getters answer only for a member of the right type; they never throw.
    if (!doc.IsObject()) {
        FUZZ_CHECK(!http::GetString(doc, "a") && !http::GetInt(doc, "a") && !http::GetBool(doc, "a"));
        return;
    }
    int n = 0;
    for (const auto& m : doc.GetObject()) {
        if (++n > 8) break;
        const std::string name(m.name.GetString(), m.name.GetStringLength());
        if (name.find('\0') != std::string::npos) continue;  // the getters take a C string
        const rapidjson::Value& first = doc.FindMember(name.c_str())->value;
        const auto s = http::GetString(doc, name.c_str());
        FUZZ_CHECK(s.has_value() == first.IsString());
        if (s) FUZZ_CHECK(*s == std::string_view(first.GetString(), first.GetStringLength()));
        const auto i = http::GetInt(doc, name.c_str());
        FUZZ_CHECK(i.has_value() == first.IsInt64());
        if (i) FUZZ_CHECK(*i == first.GetInt64());
        FUZZ_CHECK(http::GetBool(doc, name.c_str()).has_value() == first.IsBool());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::AsText(data, size);
    rapidjson::Document ref;
    const bool ref_ok = ReferenceParse(text, ref);
    const unsigned ref_depth = ref_ok ? Depth(ref) : 0;

    CheckLimits(text, {}, ref_ok, ref_depth);  // pay/buy's limits: 64 KiB, depth 16
    // Tighter limits that move with the input, so both edges of each limit are reached.
    CheckLimits(text, {size - size % 3, static_cast<unsigned>(size % 7)}, ref_ok, ref_depth);
    return 0;
}
