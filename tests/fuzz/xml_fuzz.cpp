// Fuzz target: WeChat Pay v2 flat XML (http::ParseFlatXml and http::BuildFlatXml): shape rules of
// what parses, agreement with the libxml2 oracle (what we accept libxml2 reads the same; what it
// refuses we refuse), and parse(build(fields)) == fields from parsed documents and raw fields.
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "../unit/xml_libxml2_reference.hpp"
#include "fuzz_check.hpp"
#include "orderpay/http/xml.hpp"

namespace {

using namespace orderpay;

constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

// `upper_needle` (upper-case letters and punctuation) occurs in `hay`, ignoring ASCII case.
bool ContainsFolded(std::string_view hay, std::string_view upper_needle) {
    for (std::size_t i = 0; i + upper_needle.size() <= hay.size(); ++i) {
        std::size_t j = 0;
        for (; j < upper_needle.size(); ++j) {
            const char h = hay[i + j];
            const char n = upper_needle[j];
            if (h != n && !(n >= 'A' && n <= 'Z' && h == n - 'A' + 'a')) break;
        }
        if (j == upper_needle.size()) return true;
    }
    return false;
}

// Keys BuildFlatXml promises to write: [A-Za-z_][A-Za-z0-9_]*.
bool PlainKey(std::string_view k) {
    if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
    for (char c : k)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    return true;
}

// Values it promises to write: UTF-8 of XML 1.0 characters, CR excepted (a parser turns it into LF).
bool PlainValue(std::string_view v) {
    if (!fuzz::IsUtf8(v)) return false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c < 0x20 && c != '\t' && c != '\n') return false;
        // U+FFFE and U+FFFF (EF BF BE / EF BF BF) are not XML characters.
        if (c == 0xEF && i + 2 < v.size() && static_cast<unsigned char>(v[i + 1]) == 0xBF &&
            static_cast<unsigned char>(v[i + 2]) >= 0xBE)
            return false;
    }
    return true;
}

// Builds, and checks the promise: it throws exactly for fields outside the plain rules, and what
// it writes parses back to the same fields.
void CheckBuild(const http::XmlFields& fields) {
    bool plain = true;
    for (const auto& [k, v] : fields) plain = plain && PlainKey(k) && PlainValue(v);
    std::string xml;
    try {
        xml = http::BuildFlatXml(fields);
    } catch (const std::invalid_argument&) {
        FUZZ_CHECK(!plain);
        return;
    }
    FUZZ_CHECK(plain);
    if (fields.size() > 200) return;  // the writer has no count limit; the parser does
    const http::FlatXmlResult back = http::ParseFlatXml(xml, kNoLimit);
    FUZZ_CHECK(back.fields);
    FUZZ_CHECK(*back.fields == fields);
}

// Our parser may refuse what libxml2 reads (it is stricter by design), never the reverse, and
// what it accepts must carry exactly the fields libxml2 reads: a signature checked over one
// reading must mean the same document under the other.
void CheckAgainstLibxml2(std::string_view body, std::string_view root_name) {
    const http::FlatXmlResult ours = http::ParseFlatXml(body, 64 * 1024, root_name);
    const http::FlatXmlResult ref = http::reference::ParseFlatXmlLibxml2(body, 64 * 1024, root_name);
    if (!ref.fields) FUZZ_CHECK(!ours.fields);
    if (ours.fields) FUZZ_CHECK(ref.fields && *ref.fields == *ours.fields);
}

void CheckParse(std::string_view body) {
    CheckAgainstLibxml2(body, "xml");
    CheckAgainstLibxml2(body, "root");  // the refund notice's decrypted document
    const http::FlatXmlResult r = http::ParseFlatXml(body);
    FUZZ_CHECK(r.fields.has_value() == r.error.empty());
    if (body.size() > 64 * 1024) FUZZ_CHECK(r.error == "too large");
    if (!body.empty()) FUZZ_CHECK(http::ParseFlatXml(body, body.size() - 1).error == "too large");
    if (!r.fields) return;
    FUZZ_CHECK(!ContainsFolded(body, "<!DOCTYPE") && !ContainsFolded(body, "<!ENTITY"));
    FUZZ_CHECK(body.find('\0') == std::string_view::npos);
    FUZZ_CHECK(r.fields->size() <= 200);
    for (const auto& [k, v] : *r.fields) {
        FUZZ_CHECK(!k.empty() && fuzz::IsUtf8(k) && fuzz::IsUtf8(v));
        FUZZ_CHECK(v.find('\0') == std::string::npos);
    }
    CheckBuild(*r.fields);
}

// Raw fields from the input: NUL-separated key, value, key, value...
http::XmlFields SplitFields(std::string_view text) {
    http::XmlFields fields;
    std::string key;
    bool want_key = true;
    for (std::size_t start = 0; start <= text.size();) {
        std::size_t end = text.find('\0', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view part = text.substr(start, end - start);
        if (want_key) {
            key = part;
        } else {
            fields[key] = part;
        }
        want_key = !want_key;
        start = end + 1;
    }
    return fields;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::AsText(data, size);
    CheckParse(text);
    if (text.find('\0') != std::string_view::npos) CheckBuild(SplitFields(text));
    return 0;
}
