// Alipay gateway v1 signing: sign content, RSA2, signed-response extraction, timestamps, GBK.
#include "orderpay/providers/alipay/sign.hpp"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <limits>
#include <memory>
#include <type_traits>

#include "orderpay/http/form.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::alipay {

namespace {

// Sorted "k=v&..." over the parameters that are signed. A stable sort keeps a repeated name in
// arrival order; VerifyNotification refuses repeated names anyway. std::string compares as
// unsigned bytes, which is Alipay's "ASCII order".
std::string SignContent(const Params& params, bool drop_sign_type) {
    std::vector<const std::pair<std::string, std::string>*> kept;
    kept.reserve(params.size());
    for (const auto& p : params) {
        if (p.first.empty() || p.second.empty() || p.first == "sign") continue;
        if (drop_sign_type && p.first == "sign_type") continue;
        kept.push_back(&p);
    }
    std::stable_sort(kept.begin(), kept.end(),
                     [](const auto* a, const auto* b) { return a->first < b->first; });
    std::string out;
    for (const auto* p : kept) {
        if (!out.empty()) out += '&';
        out += p->first;
        out += '=';
        out += p->second;
    }
    return out;
}

const std::string* Find(const Params& params, std::string_view name) {
    for (const auto& p : params)
        if (p.first == name) return &p.second;
    return nullptr;
}

// Just enough JSON to walk the top-level object of a gateway response without building a tree:
// the signed value must stay the exact bytes Alipay sent (PROTOCOLS.md §2.3), so nothing is
// re-serialised. No recursion, so hostile nesting cannot exhaust the stack.
class Scanner {
  public:
    explicit Scanner(std::string_view text) : s_(text) {}

    std::size_t pos() const { return i_; }
    bool AtEnd() const { return i_ == s_.size(); }
    char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }

    void SkipWs() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
    }

    bool Eat(char c) {
        if (AtEnd() || s_[i_] != c) return false;
        ++i_;
        return true;
    }

    // A string at the cursor; decoded into *out unless out is null.
    bool ReadString(std::string* out) {
        if (!Eat('"')) return false;
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;  // raw control characters are not JSON
            if (c != '\\') {
                if (out) *out += c;
                continue;
            }
            if (i_ >= s_.size()) return false;
            const char e = s_[i_++];
            char plain = '\0';
            switch (e) {
                case '"':
                    plain = '"';
                    break;
                case '\\':
                    plain = '\\';
                    break;
                case '/':
                    plain = '/';
                    break;
                case 'b':
                    plain = '\b';
                    break;
                case 'f':
                    plain = '\f';
                    break;
                case 'n':
                    plain = '\n';
                    break;
                case 'r':
                    plain = '\r';
                    break;
                case 't':
                    plain = '\t';
                    break;
                case 'u': {
                    unsigned cp = 0;
                    if (!Hex4(cp)) return false;
                    if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // lone low surrogate
                    if (cp >= 0xd800 && cp <= 0xdbff) {
                        unsigned low = 0;
                        if (!Eat('\\') || !Eat('u') || !Hex4(low) || low < 0xdc00 || low > 0xdfff)
                            return false;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                    }
                    if (out) http::AppendUtf8(*out, cp);
                    continue;
                }
                default:
                    return false;
            }
            if (out) *out += plain;
        }
        return false;  // unterminated
    }

    // Any value at the cursor. Objects and arrays are skipped by bracket matching that steps over
    // strings (so braces and escaped quotes inside them do not count); their inner grammar is not
    // checked, as in Alipay's own SDK.
    bool SkipValue() {
        const char c = Peek();
        if (c == '"') return ReadString(nullptr);
        if (c == '{' || c == '[') {
            std::string closers;
            while (i_ < s_.size()) {
                const char d = s_[i_];
                if (d == '"') {
                    if (!ReadString(nullptr)) return false;
                    continue;
                }
                ++i_;
                if (d == '{') {
                    closers.push_back('}');
                } else if (d == '[') {
                    closers.push_back(']');
                } else if (d == '}' || d == ']') {
                    if (closers.empty() || closers.back() != d) return false;
                    closers.pop_back();
                    if (closers.empty()) return true;
                }
            }
            return false;
        }
        // Number, true, false or null.
        const std::size_t start = i_;
        while (i_ < s_.size()) {
            const char d = s_[i_];
            const bool ok = (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || d == '-' || d == '+' ||
                            d == '.' || d == 'E';
            if (!ok) break;
            ++i_;
        }
        return i_ > start;
    }

  private:
    bool Hex4(unsigned& v) {
        if (s_.size() - i_ < 4) return false;
        v = 0;
        for (int k = 0; k < 4; ++k) {
            const char h = s_[i_++];
            v <<= 4;
            if (h >= '0' && h <= '9')
                v |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f')
                v |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
                v |= static_cast<unsigned>(h - 'A' + 10);
            else
                return false;
        }
        return true;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

struct IconvCloser {
    void operator()(std::remove_pointer_t<iconv_t>* cd) const noexcept { iconv_close(cd); }
};
using IconvPtr = std::unique_ptr<std::remove_pointer_t<iconv_t>, IconvCloser>;

}  // namespace

std::string RequestSignContent(const Params& params) {
    return SignContent(params, false);
}

std::string NotifySignContent(const Params& params) {
    return SignContent(params, true);
}

std::string SignRequest(const Params& params, const crypto::PKey& app_private_key) {
    return crypto::RsaSha256SignBase64(app_private_key, RequestSignContent(params));
}

bool VerifyNotification(const Params& params, const crypto::PKey& alipay_public_key, std::string& reason) {
    if (!alipay_public_key) {
        reason = "no Alipay public key configured";
        return false;
    }
    const std::string* sign = Find(params, "sign");
    if (sign == nullptr || sign->empty()) {
        reason = "sign is missing or empty";
        return false;
    }
    const std::string* sign_type = Find(params, "sign_type");
    if (sign_type != nullptr && *sign_type != "RSA2") {
        reason = "sign_type is not RSA2";  // legacy SHA1 "RSA" is refused (PROTOCOLS.md §2.6)
        return false;
    }
    // With a repeated name the signed set and the values the caller reads could differ.
    if (std::optional<std::string> twice = http::RepeatedName(params)) {
        reason = "parameter " + http::QuotedName(*twice) + " is given more than once";
        return false;
    }
    if (!crypto::RsaSha256VerifyBase64(alipay_public_key, NotifySignContent(params), *sign)) {
        reason = "signature does not verify";
        return false;
    }
    return true;
}

std::optional<SignedResponse> ExtractSignedResponse(std::string_view body, std::string_view method) {
    if (method.empty()) return std::nullopt;
    std::string node(method);
    std::replace(node.begin(), node.end(), '.', '_');
    node += "_response";

    Scanner sc(body);
    sc.SkipWs();
    if (!sc.Eat('{')) return std::nullopt;
    std::optional<std::string_view> ok_value;
    std::optional<std::string_view> error_value;
    std::optional<std::string> sign;
    sc.SkipWs();
    if (!sc.Eat('}')) {
        for (;;) {
            std::string key;
            sc.SkipWs();
            if (!sc.ReadString(&key)) return std::nullopt;
            sc.SkipWs();
            if (!sc.Eat(':')) return std::nullopt;
            sc.SkipWs();
            const std::size_t start = sc.pos();
            if (key == "sign") {
                // A second "sign" could make us verify one signature while a reader trusts another.
                if (sign) return std::nullopt;
                sign.emplace();
                if (!sc.ReadString(&*sign)) return std::nullopt;
            } else if (key == node || key == "error_response") {
                auto& slot = key == node ? ok_value : error_value;
                // An object normally; a quoted base64 string in encrypted mode.
                if (slot || (sc.Peek() != '{' && sc.Peek() != '"')) return std::nullopt;
                if (!sc.SkipValue()) return std::nullopt;
                slot = body.substr(start, sc.pos() - start);
            } else if (!sc.SkipValue()) {
                return std::nullopt;
            }
            sc.SkipWs();
            if (sc.Eat(',')) continue;
            if (sc.Eat('}')) break;
            return std::nullopt;
        }
    }
    sc.SkipWs();
    if (!sc.AtEnd()) return std::nullopt;

    // The method's own node wins over error_response, as in alipay-sdk-java-all.
    SignedResponse out;
    if (ok_value) {
        out.content = std::string(*ok_value);
    } else if (error_value) {
        out.content = std::string(*error_value);
        out.is_error_response = true;
    } else {
        return std::nullopt;
    }
    out.sign = sign.value_or("");
    return out;
}

bool VerifyResponse(std::string_view body, std::string_view method, const crypto::PKey& alipay_public_key,
                    std::string& content, std::string& reason, bool* error_response) {
    if (!alipay_public_key) {
        reason = "no Alipay public key configured";
        return false;
    }
    const std::optional<SignedResponse> r = ExtractSignedResponse(body, method);
    if (!r) {
        reason = "response is not JSON with a " + std::string(method) + " response node";
        return false;
    }
    if (r->sign.empty()) {
        reason = "response sign is missing or empty";
        return false;
    }
    if (!crypto::RsaSha256VerifyBase64(alipay_public_key, r->content, r->sign)) {
        reason = "response signature does not verify";
        return false;
    }
    content = r->content;
    if (error_response) *error_response = r->is_error_response;
    return true;
}

std::string GatewayTimestamp(long long epoch_seconds) {
    constexpr long long kGmt8 = 8 * 3600;  // Alipay reads the timestamp as Beijing time
    if (epoch_seconds > std::numeric_limits<long long>::max() - kGmt8) return {};
    const std::time_t t = static_cast<std::time_t>(epoch_seconds + kGmt8);
    std::tm tm{};
    if (gmtime_r(&t, &tm) == nullptr) return {};
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return std::string(buf, n);
}

std::optional<std::string> GbkToUtf8(std::string_view gbk) {
    // GB18030 is a superset of GBK (and of GB2312), so one converter covers every charset value
    // Alipay uses for Chinese text.
    const iconv_t raw = iconv_open("UTF-8", "GB18030");
    if (raw == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    const IconvPtr cd(raw);

    // glibc's iconv takes char** input but never writes through it.
    char* in = const_cast<char*>(gbk.data());
    std::size_t in_left = gbk.size();
    // Two GBK bytes become at most three UTF-8 bytes and four GB18030 bytes at most four, so the
    // E2BIG branch below is only a safety net.
    std::string out(gbk.size() * 2 + 16, '\0');
    std::size_t used = 0;
    // One pass over the input, then one flush call (a no-op for GB18030, which is stateless);
    // each is repeated only after growing the output on E2BIG.
    bool flushed = false;
    while (!flushed) {
        char* dst = out.data() + used;
        std::size_t dst_left = out.size() - used;
        const bool flushing = in_left == 0;
        const std::size_t rc = flushing ? iconv(cd.get(), nullptr, nullptr, &dst, &dst_left)
                                        : iconv(cd.get(), &in, &in_left, &dst, &dst_left);
        used = out.size() - dst_left;
        if (rc == static_cast<std::size_t>(-1)) {
            if (errno != E2BIG) return std::nullopt;  // EILSEQ: invalid bytes; EINVAL: truncated input
            out.resize(out.size() * 2);
            continue;
        }
        flushed = flushing;
    }
    out.resize(used);
    return out;
}

}  // namespace orderpay::alipay
