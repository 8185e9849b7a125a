// The former libxml2 implementation of ParseFlatXml, kept as the oracle our own parser is tested against.
#include "xml_libxml2_reference.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <climits>
#include <memory>
#include <string>
#include <utility>

namespace orderpay::http::reference {

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
                return "unexpected node";
        }
    }
    return {};
}

}  // namespace

FlatXmlResult ParseFlatXmlLibxml2(std::string_view body, std::size_t max_bytes, std::string_view root_name) {
    if (body.size() > max_bytes || body.size() > static_cast<std::size_t>(INT_MAX)) return Error("too large");
    if (ContainsIgnoreCase(body, "<!DOCTYPE") || ContainsIgnoreCase(body, "<!ENTITY"))
        return Error("doctype");
    if (body.find('\0') != std::string_view::npos) return Error("malformed");

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

}  // namespace orderpay::http::reference
