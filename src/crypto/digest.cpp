// Digests, HMAC, constant-time comparison and base64 on top of OpenSSL 3; random ids from the
// kernel.
#include "orderpay/crypto/digest.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <utility>

namespace orderpay::crypto {

namespace {

struct EvpMacDeleter {
    void operator()(EVP_MAC* p) const noexcept { EVP_MAC_free(p); }
};
struct EvpMacCtxDeleter {
    void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};
struct EvpMdDeleter {
    void operator()(EVP_MD* p) const noexcept { EVP_MD_free(p); }
};
using EvpMac = std::unique_ptr<EVP_MAC, EvpMacDeleter>;
using EvpMd = std::unique_ptr<EVP_MD, EvpMdDeleter>;
using EvpMacCtx = std::unique_ptr<EVP_MAC_CTX, EvpMacCtxDeleter>;

// OpenSSL only fails here on allocation failure or a broken installation; there is no sensible
// fallback for a digest, so this surfaces as an exception caught at the dispatcher.
[[noreturn]] void Fail(const char* what) {
    throw std::runtime_error(what);
}

std::string Digest(const EVP_MD* md, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) Fail("EVP_Digest failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

// Given EVP_sha256() and the like, OpenSSL 3 looks the algorithm up in its providers again on
// every call (an "implicit fetch", which crypto(7) "Performance" calls expensive); pay/check
// hashes a ticket per request. Fetched once per process instead.
EVP_MD* Fetched(const char* name) {
    EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
    if (!md) Fail("EVP_MD_fetch failed");
    return md;
}

// Written in place: push_back's capacity check per character made hex-encoding a notification's
// body for the inbox 12 % of re_wx's instructions.
std::string Hex(std::string_view bytes, const char* digits) {
    std::string out(bytes.size() * 2, '\0');
    char* p = out.data();
    for (unsigned char c : bytes) {
        *p++ = digits[c >> 4];
        *p++ = digits[c & 0x0f];
    }
    return out;
}

char FoldAscii(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The kernel's CSPRNG directly: OpenSSL 3's RAND_bytes runs its DRBG through the provider
// layer (a parameter lookup and a cipher init on every call), which perf showed as 5 % of a
// worker's CPU in pay/buy for three ids. getrandom(2) is as strong, needs no state of ours, so
// nothing is copied into the workers at fork, and never returns fewer than 256 bytes once the
// pool is ready (it blocks only before that, early at boot).
void RandomFill(unsigned char* buf, std::size_t n) {
    while (n > 0) {
        const ssize_t got = getrandom(buf, n > 256 ? 256 : n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            Fail("getrandom failed");
        }
        buf += got;
        n -= static_cast<std::size_t>(got);
    }
}

bool IsB64Char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// EVP_DecodeBlock is permissive (skips surrounding whitespace, accepts '=' anywhere it can
// make sense of), so the shape is checked strictly here and it only does the arithmetic.
bool ValidB64(std::string_view text, std::size_t& pad) {
    pad = 0;
    if (text.size() % 4 != 0) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (IsB64Char(c)) {
            if (pad != 0) return false;  // data after '='
            continue;
        }
        if (c != '=' || i + 2 < text.size()) return false;  // '=' only in the last two places
        ++pad;
    }
    return true;
}

}  // namespace

std::string Md5(std::string_view data) {
    static const EvpMd md{Fetched("MD5")};
    return Digest(md.get(), data);
}

std::string Sha256(std::string_view data) {
    static const EvpMd md{Fetched("SHA256")};
    return Digest(md.get(), data);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
    EvpMac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) Fail("EVP_MAC_fetch(HMAC) failed");
    EvpMacCtx ctx(EVP_MAC_CTX_new(mac.get()));
    if (!ctx) Fail("EVP_MAC_CTX_new failed");

    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    // A null key pointer means "keep the previous key" to EVP_MAC_init, so an empty key must
    // still be passed as a valid pointer.
    static const unsigned char kEmpty = 0;
    const auto* key_ptr = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_MAC_init(ctx.get(), key_ptr, key.size(), params) != 1) Fail("EVP_MAC_init failed");
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
        Fail("EVP_MAC_update failed");

    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    if (EVP_MAC_final(ctx.get(), out, &len, sizeof out) != 1) Fail("EVP_MAC_final failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string HexLower(std::string_view bytes) {
    return Hex(bytes, "0123456789abcdef");
}

std::string HexUpper(std::string_view bytes) {
    return Hex(bytes, "0123456789ABCDEF");
}

bool EqualsIgnoreCaseConstTime(std::string_view a, std::string_view b) {
    // Signature lengths are public (fixed per algorithm), so only the contents need hiding.
    if (a.empty() || a.size() != b.size()) return false;
    std::string fa(a.size(), '\0');
    std::string fb(b.size(), '\0');
    for (std::size_t i = 0; i < a.size(); ++i) {
        fa[i] = FoldAscii(a[i]);
        fb[i] = FoldAscii(b[i]);
    }
    return CRYPTO_memcmp(fa.data(), fb.data(), fa.size()) == 0;
}

std::string Base64Encode(std::string_view bytes) {
    // EVP_EncodeBlock takes an int length; encode in whole 3-byte groups so chunks concatenate.
    constexpr std::size_t kChunk = 3 * 16384;
    const std::size_t total = (bytes.size() + 2) / 3 * 4;
    std::string out(total + 1, '\0');  // EVP_EncodeBlock writes a trailing NUL
    std::size_t pos = 0;
    for (std::size_t off = 0; off < bytes.size(); off += kChunk) {
        const std::size_t n = std::min(kChunk, bytes.size() - off);
        const int w =
            EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + pos),
                            reinterpret_cast<const unsigned char*>(bytes.data() + off), static_cast<int>(n));
        pos += static_cast<std::size_t>(w);
    }
    out.resize(pos);
    return out;
}

bool Base64Decode(std::string_view text, std::string& out) {
    std::size_t pad = 0;
    if (!ValidB64(text, pad)) return false;
    constexpr std::size_t kChunk = 4 * 16384;  // whole quads, so chunks decode independently
    std::string result(text.size() / 4 * 3, '\0');
    std::size_t pos = 0;
    for (std::size_t off = 0; off < text.size(); off += kChunk) {
        const std::size_t n = std::min(kChunk, text.size() - off);
        const int w =
            EVP_DecodeBlock(reinterpret_cast<unsigned char*>(result.data() + pos),
                            reinterpret_cast<const unsigned char*>(text.data() + off), static_cast<int>(n));
        if (w < 0) return false;
        pos += static_cast<std::size_t>(w);
    }
    // EVP_DecodeBlock counts each '=' as a decoded zero byte; the real length drops them.
    result.resize(pos - pad);
    out = std::move(result);
    return true;
}

std::string RandomId(std::size_t len) {
    static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    constexpr unsigned kSize = sizeof kAlphabet - 1;  // 36
    constexpr unsigned kLimit = 256 / kSize * kSize;  // 252: bytes above bias the modulo
    std::string out;
    out.reserve(len);
    unsigned char buf[64];
    while (out.size() < len) {
        RandomFill(buf, sizeof buf);
        for (unsigned char b : buf) {
            if (b >= kLimit) continue;
            out.push_back(kAlphabet[b % kSize]);
            if (out.size() == len) break;
        }
    }
    return out;
}

std::string RandomToken(std::size_t bytes) {
    std::string raw(bytes, '\0');
    RandomFill(reinterpret_cast<unsigned char*>(raw.data()), raw.size());
    std::string text = Base64Encode(raw);
    while (!text.empty() && text.back() == '=') text.pop_back();
    for (char& c : text) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    OPENSSL_cleanse(raw.data(), raw.size());
    return text;
}

}  // namespace orderpay::crypto

namespace orderpay::crypto {

void WarmUp() {
    // Each implicit fetch is cached in the default library context after the first use, so one
    // use (or fetch) of every algorithm the request paths need makes later uses a cache hit.
    (void)Md5("warm");
    (void)Sha256("warm");
    (void)HmacSha256("key", "warm");
    for (const char* name : {"RSA", "EC"}) {
        EVP_KEYMGMT_free(EVP_KEYMGMT_fetch(nullptr, name, nullptr));
        EVP_SIGNATURE_free(
            EVP_SIGNATURE_fetch(nullptr, name == std::string_view("EC") ? "ECDSA" : name, nullptr));
    }
    for (const char* name : {"AES-256-GCM", "AES-256-ECB"})
        EVP_CIPHER_free(EVP_CIPHER_fetch(nullptr, name, nullptr));
    for (const char* name : {"SHA1", "SHA384", "SHA512"}) EVP_MD_free(EVP_MD_fetch(nullptr, name, nullptr));
}

}  // namespace orderpay::crypto
