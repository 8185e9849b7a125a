// The differential oracle for http::ParseFlatXml: the former libxml2-based parser, kept for tests only.
#pragma once

#include <cstddef>
#include <string_view>

#include "orderpay/http/xml.hpp"

namespace orderpay::http::reference {

/// ParseFlatXml as it was before our own parser replaced it: libxml2 (XML_PARSE_NONET, no entity
/// substitution, encoding forced to UTF-8) behind the same pre-checks, with the same errors.
/// Unit tests and tests/fuzz/xml_fuzz.cpp compare the two; production code never links libxml2.
FlatXmlResult ParseFlatXmlLibxml2(std::string_view body, std::size_t max_bytes = 64 * 1024,
                                  std::string_view root_name = "xml");

}  // namespace orderpay::http::reference
