// WeChat Pay v2 flat XML: our own strict parser for <xml><key>value</key>...</xml>.
#include "orderpay/http/xml.hpp"

#include <climits>
#include <stdexcept>
#include <utility>

#include "orderpay/http/utf8.hpp"

namespace orderpay::http {

namespace {

constexpr std::size_t kMaxFields = 200;

FlatXmlResult Error(std::string reason) {
    FlatXmlResult r;
    r.error = std::move(reason);
    return r;
}

char Lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// True when "<!DOCTYPE" or "<!ENTITY" occurs in any ASCII case. Both start with "<!", so only the
// places of that pair are compared (a byte-by-byte case-folded search was most of a parse's time).
bool HasDeclaration(std::string_view body) {
    for (std::size_t i = body.find("<!"); i != std::string_view::npos; i = body.find("<!", i + 2)) {
        const std::string_view rest = body.substr(i + 2);
        if (EqualsAsciiNoCase(rest.substr(0, 7), "DOCTYPE") || EqualsAsciiNoCase(rest.substr(0, 6), "ENTITY"))
            return true;
    }
    return false;
}

bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

// The names we accept are ASCII [A-Za-z_][A-Za-z0-9_.-]*: every WeChat key is, and anything wider
// (namespaces, non-ASCII names) only widens what has to be proved equal to what was signed.
bool IsNameStart(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool IsNameChar(char c) {
    return IsNameStart(c) || IsDigit(c) || c == '.' || c == '-';
}

// What XML itself could read as part of a name: ours plus ':' and any non-ASCII byte. Used to
// tell a wrong or namespaced name (its own error) from broken markup.
bool IsWideNameChar(char c) {
    return IsNameChar(c) || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

// An index-based reader over the whole document; every method leaves `i` after what it consumed.
struct Scanner {
    std::string_view s;
    std::size_t i = 0;

    bool AtEnd() const { return i >= s.size(); }
    bool At(std::string_view prefix) const { return s.substr(i, prefix.size()) == prefix; }
    void SkipSpace() {
        while (i < s.size() && IsSpace(s[i])) ++i;
    }
    // Skips "S? = S?" (XML's Eq).
    bool Eq() {
        SkipSpace();
        if (!At("=")) return false;
        ++i;
        SkipSpace();
        return true;
    }
    // A token of wide name characters (possibly empty).
    std::string_view WideName() {
        const std::size_t start = i;
        while (i < s.size() && IsWideNameChar(s[i])) ++i;
        return s.substr(start, i - start);
    }
    // A quoted pseudo-attribute value of the XML declaration, without its quotes.
    bool Quoted(std::string_view& value) {
        if (AtEnd() || (s[i] != '"' && s[i] != '\'')) return false;
        const std::size_t end = s.find(s[i], i + 1);
        if (end == std::string_view::npos) return false;
        value = s.substr(i + 1, end - i - 1);
        i = end + 1;
        return true;
    }
};

// "<!--" ... "-->" with no "--" inside, as XML requires.
bool SkipComment(Scanner& sc) {
    sc.i += 4;
    const std::size_t dashes = sc.s.find("--", sc.i);
    if (dashes == std::string_view::npos || dashes + 2 >= sc.s.size() || sc.s[dashes + 2] != '>')
        return false;
    sc.i = dashes + 3;
    return true;
}

// "<?target" [S data] "?>" where the target is not "xml" in any case (reserved for the declaration).
bool SkipPi(Scanner& sc) {
    sc.i += 2;
    const std::size_t start = sc.i;
    if (sc.AtEnd() || !IsNameStart(sc.s[sc.i])) return false;
    while (!sc.AtEnd() && IsNameChar(sc.s[sc.i])) ++sc.i;
    if (EqualsAsciiNoCase(sc.s.substr(start, sc.i - start), "xml")) return false;
    if (sc.At("?>")) {
        sc.i += 2;
        return true;
    }
    if (sc.AtEnd() || !IsSpace(sc.s[sc.i])) return false;
    const std::size_t end = sc.s.find("?>", sc.i);
    if (end == std::string_view::npos) return false;
    sc.i = end + 2;
    return true;
}

// `<?xml version="1.0" [encoding="UTF-8"] [standalone="yes|no"]?>`, in that order. Another
// declared encoding is refused: the bytes are read as UTF-8 whatever a document claims.
bool SkipXmlDecl(Scanner& sc) {
    sc.i += 5;  // "<?xml", followed by whitespace (checked by the caller)
    sc.SkipSpace();
    std::string_view value;
    if (!sc.At("version")) return false;
    sc.i += 7;
    if (!sc.Eq() || !sc.Quoted(value) || value != "1.0") return false;
    bool spaced = !sc.AtEnd() && IsSpace(sc.s[sc.i]);
    sc.SkipSpace();
    if (spaced && sc.At("encoding")) {
        sc.i += 8;
        if (!sc.Eq() || !sc.Quoted(value) || !EqualsAsciiNoCase(value, "UTF-8")) return false;
        spaced = !sc.AtEnd() && IsSpace(sc.s[sc.i]);
        sc.SkipSpace();
    }
    if (spaced && sc.At("standalone")) {
        sc.i += 10;
        if (!sc.Eq() || !sc.Quoted(value) || (value != "yes" && value != "no")) return false;
        sc.SkipSpace();
    }
    if (!sc.At("?>")) return false;
    sc.i += 2;
    return true;
}

// XML's Misc*: whitespace, comments and processing instructions around the root element.
bool SkipMisc(Scanner& sc) {
    for (;;) {
        sc.SkipSpace();
        if (sc.At("<!--")) {
            if (!SkipComment(sc)) return false;
        } else if (sc.At("<?")) {
            if (!SkipPi(sc)) return false;
        } else {
            return true;
        }
    }
}

// After a start tag's name: "S? >" or "S? />". Sets `empty` for the latter. Returns an error
// reason, or empty on success.
std::string_view EndOfStartTag(Scanner& sc, bool& empty) {
    const std::size_t name_end = sc.i;
    sc.SkipSpace();
    if (sc.At(">")) {
        sc.i += 1;
        empty = false;
        return {};
    }
    if (sc.At("/>")) {
        sc.i += 2;
        empty = true;
        return {};
    }
    // An attribute (xmlns included) is a name after whitespace; anything else is broken markup.
    if (sc.i > name_end && !sc.AtEnd() && IsWideNameChar(sc.s[sc.i]) && !IsDigit(sc.s[sc.i]))
        return "attributes";
    return "malformed";
}

// "</name S? >" for the element `name`.
bool EndTag(Scanner& sc, std::string_view name) {
    sc.i += 2;
    if (sc.WideName() != name) return false;
    sc.SkipSpace();
    if (!sc.At(">")) return false;
    sc.i += 1;
    return true;
}

// Appends CDATA or text with XML's line-end handling: "\r\n" and a lone "\r" become "\n".
void AppendNormalised(std::string& out, std::string_view text) {
    for (std::size_t k = 0; k < text.size(); ++k) {
        if (text[k] != '\r') {
            out += text[k];
        } else {
            out += '\n';
            if (k + 1 < text.size() && text[k + 1] == '\n') ++k;
        }
    }
}

// A reference at '&': one of the five predefined entities or a character reference &#N; / &#xH;
// naming an XML Char. There is no DTD, so no other entity can be defined.
bool DecodeReference(Scanner& sc, std::string& out) {
    const std::string_view s = sc.s;
    std::size_t k = sc.i + 1;
    if (k < s.size() && s[k] == '#') {
        ++k;
        const bool hex = k < s.size() && s[k] == 'x';
        if (hex) ++k;
        const std::size_t digits_start = k;
        char32_t cp = 0;
        bool too_big = false;
        for (; k < s.size(); ++k) {
            const char c = s[k];
            unsigned d = 0;
            if (IsDigit(c)) {
                d = static_cast<unsigned>(c - '0');
            } else if (hex && Lower(c) >= 'a' && Lower(c) <= 'f') {
                d = static_cast<unsigned>(Lower(c) - 'a' + 10);
            } else {
                break;
            }
            cp = cp * (hex ? 16 : 10) + d;
            if (cp > 0x10FFFF) {
                too_big = true;
                cp = 0x110000;  // stays out of range without overflowing
            }
        }
        if (k == digits_start || k >= s.size() || s[k] != ';' || too_big || !IsXmlChar(cp)) return false;
        AppendUtf8(out, cp);
        sc.i = k + 1;
        return true;
    }
    static constexpr std::pair<std::string_view, char> kPredefined[] = {
        {"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}};
    for (const auto& [name, c] : kPredefined) {
        if (s.substr(k, name.size()) == name) {
            out += c;
            sc.i = k + name.size();
            return true;
        }
    }
    return false;
}

// The content of one child after its start tag, up to and including "</key>": text, references
// and CDATA sections, concatenated. Returns an error reason, or empty on success.
std::string_view ReadValue(Scanner& sc, std::string_view key, std::string& value) {
    const std::string_view s = sc.s;
    for (;;) {
        // Plain text up to the next character that needs a decision.
        const std::size_t stop = s.find_first_of("<&]\r", sc.i);
        if (stop == std::string_view::npos) return "malformed";  // unclosed element
        value.append(s.substr(sc.i, stop - sc.i));
        sc.i = stop;
        switch (s[stop]) {
            case '\r':  // "\r\n" and a lone "\r" are one "\n" (XML 1.0 section 2.11)
                value += '\n';
                sc.i += stop + 1 < s.size() && s[stop + 1] == '\n' ? 2 : 1;
                break;
            case ']':
                if (sc.At("]]>")) return "malformed";  // only a CDATA section may end with it
                value += ']';
                ++sc.i;
                break;
            case '&':
                if (!DecodeReference(sc, value)) return "malformed";
                break;
            default:  // '<'
                if (sc.At("</")) return EndTag(sc, key) ? std::string_view{} : "malformed";
                if (sc.At("<![CDATA[")) {
                    const std::size_t end = s.find("]]>", sc.i + 9);
                    if (end == std::string_view::npos) return "malformed";
                    AppendNormalised(value, s.substr(sc.i + 9, end - sc.i - 9));
                    sc.i = end + 3;
                    break;
                }
                // Comments and PIs have no place in a signed value; dropping them silently would
                // let two different documents carry the same signature.
                if (sc.At("<!--") || sc.At("<?")) return "unexpected node";
                if (sc.i + 1 < s.size() && IsWideNameChar(s[sc.i + 1]) && !IsDigit(s[sc.i + 1]))
                    return "nested";
                return "malformed";
        }
    }
}

}  // namespace

FlatXmlResult ParseFlatXml(std::string_view body, std::size_t max_bytes, std::string_view root_name) {
    if (body.size() > max_bytes || body.size() > static_cast<std::size_t>(INT_MAX)) return Error("too large");
    // A DTD is the only way to declare entities (XXE, billion laughs); no WeChat message has one.
    // The parser below cannot read one either; refusing the text anywhere keeps the old, blunt rule.
    if (HasDeclaration(body)) return Error("doctype");
    // A NUL cannot occur in XML text, and UTF-16 input (full of NULs) could hide "<!DOCTYPE"
    // from the check above.
    if (body.find('\0') != std::string_view::npos) return Error("malformed");
    // Checked once for the whole document, so the scanner below only looks at ASCII markup.
    if (!IsXmlText(body, /*allow_cr=*/true)) return Error("malformed");

    Scanner sc{body};
    if (sc.At("\xEF\xBB\xBF")) sc.i += 3;  // a UTF-8 byte order mark
    if (sc.At("<?xml") && sc.i + 5 < body.size() && IsSpace(body[sc.i + 5]) && !SkipXmlDecl(sc))
        return Error("malformed");
    if (!SkipMisc(sc) || !sc.At("<")) return Error("malformed");

    ++sc.i;
    const std::string_view root = sc.WideName();
    if (root.empty() ||
        !(IsNameStart(root[0]) || root[0] == ':' || static_cast<unsigned char>(root[0]) >= 0x80))
        return Error("malformed");
    if (root != root_name) return Error("root");
    bool empty_root = false;
    if (std::string_view reason = EndOfStartTag(sc, empty_root); !reason.empty())
        return Error(std::string(reason));

    XmlFields fields;
    while (!empty_root) {
        sc.SkipSpace();  // indentation
        if (sc.AtEnd()) return Error("malformed");
        if (sc.At("</")) {
            if (!EndTag(sc, root_name)) return Error("malformed");
            break;
        }
        // Text, CDATA, comments and PIs directly in the root carry nothing a key could be signed with.
        if (!sc.At("<") || sc.At("<!") || sc.At("<?")) return Error("unexpected node");
        ++sc.i;
        const std::string_view key = sc.WideName();
        if (key.empty() || !IsNameStart(key[0])) return Error("malformed");
        for (char c : key) {
            if (c == ':') return Error("attributes");  // a namespace prefix, refused like xmlns
            if (!IsNameChar(c)) return Error("malformed");
        }
        bool empty = false;
        if (std::string_view reason = EndOfStartTag(sc, empty); !reason.empty())
            return Error(std::string(reason));
        if (fields.size() == kMaxFields) return Error("too many fields");
        std::string value;
        if (!empty)
            if (std::string_view reason = ReadValue(sc, key, value); !reason.empty())
                return Error(std::string(reason));
        if (!fields.emplace(key, std::move(value)).second) return Error("duplicate");
    }
    if (!SkipMisc(sc) || !sc.AtEnd()) return Error("malformed");

    FlatXmlResult r;
    r.fields = std::move(fields);
    return r;
}

}  // namespace orderpay::http
