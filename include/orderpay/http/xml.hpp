// The flat XML dialect of WeChat Pay API v2: <xml><key>value</key>...</xml>, parsed strictly by our own code.
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
/// notification is <root>) and whose children are elements holding only text or CDATA, with our
/// own strict scanner (no libxml2): UTF-8 of XML 1.0 characters, an optional BOM and
/// `<?xml version="1.0"?>` declaring no encoding but UTF-8, comments and PIs only outside the
/// root, child names [A-Za-z_][A-Za-z0-9_.-]*, the five predefined entities and character
/// references only. Any "<!DOCTYPE" or "<!ENTITY" text is refused before parsing ("doctype").
/// Rejects: bodies over `max_bytes` ("too large"), another root ("root"), attributes or
/// namespaces ("attributes"), nested elements ("nested"), text, comments or PIs in the root or
/// comments/PIs in a value ("unexpected node"), more than 200 children ("too many fields"),
/// duplicate keys ("duplicate"), anything else ("malformed"). Values are the exact text (CDATA
/// and text concatenated, line ends normalised to "\n" as XML requires), not trimmed. Never
/// accepts a document libxml2 would refuse or read differently (tests/unit/xml_test.cpp and
/// tests/fuzz/xml_fuzz.cpp compare the two).
FlatXmlResult ParseFlatXml(std::string_view body, std::size_t max_bytes = 64 * 1024,
                           std::string_view root_name = "xml");

/// True for a code point XML 1.0 allows in a document (its Char production).
bool IsXmlChar(char32_t cp);

/// True when `v` is UTF-8 made only of XML 1.0 characters. `allow_cr` is false for values we
/// write: a parser turns CR into LF even inside CDATA, so a value carrying it could not round-trip.
bool IsXmlText(std::string_view v, bool allow_cr);

/// Serialises fields as <xml><k><![CDATA[v]]></k>...</xml> in key order; values made only of
/// digits are written bare. Keys must be [A-Za-z0-9_]; a value containing "]]>" or "<!" is split
/// across CDATA sections so the output always parses back to the same value.
std::string BuildFlatXml(const XmlFields& fields);

}  // namespace orderpay::http
