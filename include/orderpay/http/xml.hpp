// The flat XML dialect of WeChat Pay API v2: <xml><key>value</key>...</xml>, parsed safely.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace orderpay::http {

using XmlFields = std::map<std::string, std::string>;

struct FlatXmlResult {
    std::optional<XmlFields> fields;  // set on success
    std::string error;                // short reason on failure: "too large", "doctype", ...
};

/// Parses a document whose root is <xml> (or <root_name>: the decrypted part of WeChat's refund
/// notification is <root>) and whose children are elements holding only text or
/// CDATA. Uses libxml2 with XML_PARSE_NONET, without XML_PARSE_NOENT/DTDLOAD, and rejects any
/// document containing "<!DOCTYPE" or "<!ENTITY" before parsing (error "doctype"). Rejects:
/// bodies over `max_bytes` ("too large"), a root other than <xml>, nested elements, attributes,
/// duplicate keys, more than 200 children, malformed XML. Values are the exact text (CDATA and
/// text concatenated), not trimmed.
FlatXmlResult ParseFlatXml(std::string_view body, std::size_t max_bytes = 64 * 1024,
                           std::string_view root_name = "xml");

/// Serialises fields as <xml><k><![CDATA[v]]></k>...</xml> in key order; values made only of
/// digits are written bare. Keys must be [A-Za-z0-9_]; a value containing "]]>" or "<!" is split
/// across CDATA sections so the output always parses back to the same value.
std::string BuildFlatXml(const XmlFields& fields);

}  // namespace orderpay::http
