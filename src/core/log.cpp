// Writes one log line to stderr with time, pid and level, in a single write() so lines from
// forked workers never interleave; as text, or as one JSON object per line (log_format = json).
#include "orderpay/core/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace orderpay::log {

namespace {

Format g_format = Format::kText;

struct RequestContext {
    bool active = false;
    std::string request_id, route, order_id, slip_id, provider;
};
RequestContext g_ctx;

constexpr const char* kNames[] = {"debug", "info", "warn", "error"};

bool PlainId(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs, surrogates
// or code points above U+10FFFF).
std::size_t Utf8Len(std::string_view s, std::size_t i) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
        return k < s.size() && b(k) >= lo && b(k) <= hi;
    };
    unsigned c = b(i);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    return 0;
}

// Characters a terminal acts on, or that hide or reorder what it shows, in their UTF-8 form: the
// C1 controls U+0080..U+009F (CSI, OSC, ST: xterm and VTE act on them as on ESC [, ESC ]), the
// bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
// U+202A..U+202E, U+2066..U+2069), which make a line read otherwise than its bytes (Trojan
// Source, CVE-2021-42574), the zero-width ones (U+200B..U+200D, U+FEFF) and the line and
// paragraph separators (U+2028, U+2029). A sender's text printed by the CLI or a log shows
// them as bytes.
bool ShownAsBytes(std::string_view ch) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(ch[k]); };
    if (ch.size() == 2) return (b(0) == 0xC2 && b(1) <= 0x9F) || (b(0) == 0xD8 && b(1) == 0x9C);
    if (ch.size() == 3 && b(0) == 0xE2 && b(1) == 0x80)
        return (b(2) >= 0x8B && b(2) <= 0x8F) || (b(2) >= 0xA8 && b(2) <= 0xAE);
    if (ch.size() == 3 && b(0) == 0xE2 && b(1) == 0x81) return b(2) >= 0xA6 && b(2) <= 0xA9;
    return ch.size() == 3 && b(0) == 0xEF && b(1) == 0xBB && b(2) == 0xBF;
}

std::string Timestamp() {
    timeval tv{};
    gettimeofday(&tv, nullptr);
    tm t{};
    gmtime_r(&tv.tv_sec, &t);
    char buf[40];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900,
                          t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, tv.tv_usec / 1000);
    return std::string(buf, n > 0 ? n : 0);
}

void Field(std::string& out, const char* name, std::string_view value) {
    if (value.empty()) return;
    out += ",\"";
    out += name;
    out += "\":\"";
    out += JsonEscape(value);
    out += '"';
}

// The common head of a JSON line, without the closing brace.
std::string JsonHead(Level level) {
    std::string out = "{\"time\":\"" + Timestamp() + "\",\"level\":\"" + kNames[static_cast<int>(level)] +
                      "\",\"pid\":" + std::to_string(getpid());
    if (g_ctx.active) {
        Field(out, "request_id", g_ctx.request_id);
        Field(out, "route", g_ctx.route);
        Field(out, "order_id", g_ctx.order_id);
        Field(out, "slip_id", g_ctx.slip_id);
        Field(out, "provider", g_ctx.provider);
    }
    return out;
}

void Emit(std::string& out) {
    out += '\n';
    ssize_t ignored = ::write(2, out.data(), out.size());
    (void)ignored;
}

}  // namespace

std::string JsonEscape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
            ++i;
        } else if (std::size_t n = Utf8Len(s, i)) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\\ufffd";
            ++i;
        }
    }
    return out;
}

bool SetFormat(std::string_view name) {
    if (name == "text") {
        g_format = Format::kText;
    } else if (name == "json") {
        g_format = Format::kJson;
    } else {
        return false;
    }
    return true;
}

Format CurrentFormat() {
    return g_format;
}

void BeginRequest(std::string_view request_id, std::string_view route) {
    g_ctx = RequestContext{};
    g_ctx.active = true;
    if (PlainId(request_id, 64)) g_ctx.request_id = request_id;
    g_ctx.route = route;
}

void SetOrder(std::string_view order_id) {
    g_ctx.order_id = order_id.substr(0, 64);
}

void SetSlip(std::string_view slip_id) {
    g_ctx.slip_id = slip_id.substr(0, 64);
}

void SetProvider(std::string_view provider) {
    g_ctx.provider = provider.substr(0, 16);
}

const std::string& RequestId() {
    return g_ctx.request_id;
}

void EndRequest(int status, double seconds) {
    if (g_format == Format::kJson && g_ctx.active) {
        std::string out = JsonHead(Level::kInfo);
        char tail[96];
        std::snprintf(tail, sizeof tail, ",\"status\":%d,\"duration_ms\":%.3f,\"msg\":\"request\"}", status,
                      seconds * 1000.0);
        out += tail;
        Emit(out);
    }
    g_ctx = RequestContext{};
}

// The text format's message with every control byte (and DEL) written as \xNN: a message may
// quote what a stranger sent (an unsigned header in a rejected notification), and one line must
// stay one line, without terminal escapes that clear or recolour an operator's screen.
std::string TextEscape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    auto hex = [&out](std::string_view bytes) {
        for (unsigned char c : bytes) {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    };
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const std::size_t n = Utf8Len(s, i);
        if (c < 0x20 || c == 0x7f || c == '\\' || n == 0) {
            hex(s.substr(i, 1));  // a byte that is no character of UTF-8 is shown, never passed on
            ++i;
        } else if (n > 1 && ShownAsBytes(s.substr(i, n))) {
            hex(s.substr(i, n));
            i += n;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

void Write(Level level, const std::string& line) {
    std::string out;
    if (g_format == Format::kJson) {
        out = JsonHead(level);
        out += ",\"msg\":\"";
        out += JsonEscape(line);
        out += "\"}";
    } else {
        out = Timestamp() + " [" + std::to_string(getpid()) + "] " + kNames[static_cast<int>(level)] + ": ";
        // The request id ties a line to nginx's access log (which logs $request_id too).
        if (g_ctx.active && !g_ctx.request_id.empty()) out += "req=" + g_ctx.request_id + " ";
        out += TextEscape(line);
    }
    Emit(out);
}

}  // namespace orderpay::log
