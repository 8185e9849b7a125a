// WeChat Pay v2 flat XML: a libxml2 parse locked down against XXE/entity bombs, and its writer.
#include "orderpay/http/xml.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <climits>
#include <memory>
#include <stdexcept>
#include <utility>

namespace orderpay::http {

namespace {

constexpr std::size_t kMaxFields = 200;

struct XmlDocDeleter {
    void operator()(xmlDoc* d) const noexcept { xmlFreeDoc(d); }
};
using XmlDoc = std::unique_ptr<xmlDoc, XmlDocDeleter>;

FlatXmlResult Error(std::string reason) {
    FlatXmlResult r;
    r.error = std::move(reason);
    return r;
}

bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        std::size_t j = 0;
        while (j < needle.size() && lower(hay[i + j]) == lower(needle[j])) ++j;
        if (j == needle.size()) return true;
    }
    return false;
}

bool IsXmlSpace(const xmlChar* s) {
    for (; s != nullptr && *s != 0; ++s)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
    return true;
}

const char* Str(const xmlChar* s) {
    return reinterpret_cast<const char*>(s);
}

// Reads one <key>value</key> child. Returns an error reason, or empty on success.
std::string ReadField(const xmlNode* el, std::string& value) {
    if (el->properties != nullptr || el->nsDef != nullptr || el->ns != nullptr) return "attributes";
    for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
        switch (n->type) {
            case XML_TEXT_NODE:
            case XML_CDATA_SECTION_NODE:
                if (n->content != nullptr) value += Str(n->content);
                break;
            case XML_ELEMENT_NODE:
                return "nested";
            default:
                // Comments, PIs and entity references have no place in a signed value; dropping
                // them silently would let two different documents carry the same signature.
                return "unexpected node";
        }
    }
    return {};
}

bool ValidKey(std::string_view key) {
    if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;  // XML names cannot start with a digit
    for (char c : key) {
        const bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

// True when `v` is UTF-8 made only of XML 1.0 Char code points, except CR: a parser normalises
// CR to LF even inside CDATA, so a value carrying it could not round-trip.
bool ValidXmlText(std::string_view v) {
    std::size_t i = 0;
    while (i < v.size()) {
        const auto b = static_cast<unsigned char>(v[i]);
        const std::size_t len = b < 0x80             ? 1
                                : (b & 0xE0) == 0xC0 ? 2
                                : (b & 0xF0) == 0xE0 ? 3
                                : (b & 0xF8) == 0xF0 ? 4
                                                     : 0;
        if (len == 0) return false;
        char32_t cp = len == 1 ? b : b & (0x7F >> len);  // payload bits of the lead byte
        if (i + len > v.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(v[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        static constexpr char32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMinForLen[len]) return false;  // overlong
        const bool is_char = cp == 0x9 || cp == 0xA || (cp >= 0x20 && cp <= 0xD7FF) ||
                             (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
        if (!is_char) return false;
        i += len;
    }
    return true;
}

bool AllDigits(std::string_view v) {
    if (v.empty()) return false;
    for (char c : v)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

FlatXmlResult ParseFlatXml(std::string_view body, std::size_t max_bytes, std::string_view root_name) {
    if (body.size() > max_bytes || body.size() > static_cast<std::size_t>(INT_MAX)) return Error("too large");
    // A DTD is the only way to declare entities (XXE, billion laughs); no WeChat message has one,
    // so refuse it before libxml2 sees it rather than trusting parser options alone.
    if (ContainsIgnoreCase(body, "<!DOCTYPE") || ContainsIgnoreCase(body, "<!ENTITY"))
        return Error("doctype");
    // A NUL cannot occur in XML text, and UTF-16 input (full of NULs) could hide "<!DOCTYPE"
    // from the check above.
    if (body.find('\0') != std::string_view::npos) return Error("malformed");

    // The encoding is forced to UTF-8 for the same reason: a declared encoding must not change
    // how the bytes checked above are read.
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    XmlDoc doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), nullptr, "UTF-8", options));
    if (!doc) return Error("malformed");
    if (doc->intSubset != nullptr || doc->extSubset != nullptr) return Error("doctype");

    const xmlNode* root = xmlDocGetRootElement(doc.get());
    if (root == nullptr || root->ns != nullptr || std::string_view(Str(root->name)) != root_name)
        return Error("root");
    if (root->properties != nullptr || root->nsDef != nullptr) return Error("attributes");

    XmlFields fields;
    for (const xmlNode* n = root->children; n != nullptr; n = n->next) {
        if (n->type == XML_TEXT_NODE && IsXmlSpace(n->content)) continue;  // indentation
        if (n->type != XML_ELEMENT_NODE) return Error("unexpected node");
        if (fields.size() == kMaxFields) return Error("too many fields");
        std::string value;
        if (std::string reason = ReadField(n, value); !reason.empty()) return Error(std::move(reason));
        if (!fields.emplace(Str(n->name), std::move(value)).second) return Error("duplicate");
    }

    FlatXmlResult r;
    r.fields = std::move(fields);
    return r;
}

std::string BuildFlatXml(const XmlFields& fields) {
    std::string out = "<xml>";
    for (const auto& [key, value] : fields) {
        // Keys and values come from our own code; a bad one is a programming error, and writing
        // it anyway would produce XML the provider (or our own parser) reads differently.
        if (!ValidKey(key)) throw std::invalid_argument("BuildFlatXml: invalid key");
        if (!ValidXmlText(value)) throw std::invalid_argument("BuildFlatXml: value is not XML text");
        out += '<' + key + '>';
        if (AllDigits(value)) {
            out += value;
        } else {
            out += "<![CDATA[";
            // "]]>" would close the section early, and a "<!DOCTYPE" or "<!ENTITY" anywhere makes
            // ParseFlatXml refuse the whole document: end the section after "]]" and after "<",
            // and start a new one for the rest.
            for (std::size_t i = 0; i < value.size(); ++i) {
                out += value[i];
                const bool lt_bang = value[i] == '<' && value.compare(i + 1, 1, "!") == 0;
                const bool cdata_end = i > 0 && value.compare(i - 1, 3, "]]>") == 0;
                if (lt_bang || cdata_end) out += "]]><![CDATA[";
            }
            out += "]]>";
        }
        out += "</" + key + '>';
    }
    out += "</xml>";
    return out;
}

}  // namespace orderpay::http
