// AES-GCM with OpenSSL's EVP interface; the context is owned by RAII and any error leaves the
// output empty, so a caller can never act on a half-decrypted, unauthenticated plaintext.
#include "orderpay/crypto/aead.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <limits>
#include <memory>

#include "orderpay/core/c_handles.hpp"

namespace orderpay::crypto {

namespace {

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CDeleter<EVP_CIPHER_CTX_free>>;

constexpr std::size_t kTagLen = 16;
constexpr std::size_t kMaxLen = 1 << 20;  // resources and certificates are a few KiB

const EVP_CIPHER* CipherFor(std::string_view key) {
    if (key.size() == 32) return EVP_aes_256_gcm();
    if (key.size() == 16) return EVP_aes_128_gcm();
    return nullptr;
}

const unsigned char* U(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// Sets key, IV length and IV, then feeds the AAD.
bool Start(EVP_CIPHER_CTX* ctx, bool encrypt, std::string_view key, std::string_view nonce,
           std::string_view aad) {
    const EVP_CIPHER* cipher = CipherFor(key);
    if (cipher == nullptr || nonce.empty() || nonce.size() > 64 || aad.size() > kMaxLen) return false;
    int n = 0;
    return EVP_CipherInit_ex(ctx, cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
           EVP_CipherInit_ex(ctx, nullptr, nullptr, U(key), U(nonce), encrypt ? 1 : 0) == 1 &&
           (aad.empty() || EVP_CipherUpdate(ctx, nullptr, &n, U(aad), static_cast<int>(aad.size())) == 1);
}

}  // namespace

bool AesGcmDecrypt(std::string_view key, std::string_view nonce, std::string_view aad,
                   std::string_view ct_and_tag, std::string& plain) {
    plain.clear();
    if (ct_and_tag.size() < kTagLen || ct_and_tag.size() > kMaxLen) return false;
    const std::string_view ct = ct_and_tag.substr(0, ct_and_tag.size() - kTagLen);
    std::string tag(ct_and_tag.substr(ct.size()));
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    std::string out(ct.size() + kTagLen, '\0');
    int n = 0, fin = 0;
    const bool ok =
        ctx && Start(ctx.get(), false, key, nonce, aad) &&
        EVP_CipherUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n, U(ct),
                         static_cast<int>(ct.size())) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagLen), tag.data()) == 1 &&
        EVP_CipherFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &fin) == 1;
    ERR_clear_error();
    if (!ok) return false;
    out.resize(static_cast<std::size_t>(n + fin));
    plain = std::move(out);
    return true;
}

bool AesGcmEncrypt(std::string_view key, std::string_view nonce, std::string_view aad, std::string_view plain,
                   std::string& ct_and_tag) {
    ct_and_tag.clear();
    if (plain.size() > kMaxLen) return false;
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    std::string out(plain.size() + kTagLen, '\0');
    int n = 0, fin = 0;
    auto* buf = reinterpret_cast<unsigned char*>(out.data());
    const bool ok =
        ctx && Start(ctx.get(), true, key, nonce, aad) &&
        EVP_CipherUpdate(ctx.get(), buf, &n, U(plain), static_cast<int>(plain.size())) == 1 &&
        EVP_CipherFinal_ex(ctx.get(), buf + n, &fin) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagLen), buf + n + fin) == 1;
    ERR_clear_error();
    if (!ok) return false;
    out.resize(static_cast<std::size_t>(n + fin) + kTagLen);
    ct_and_tag = std::move(out);
    return true;
}

namespace {

// One pass of AES-256-ECB with OpenSSL's PKCS#7 padding on; `out` is resized to what came out.
bool EcbRun(bool encrypt, std::string_view key, std::string_view in, std::string& out) {
    out.clear();
    if (key.size() != 32 || in.size() > kMaxLen) return false;
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    std::string buf(in.size() + 16, '\0');
    auto* b = reinterpret_cast<unsigned char*>(buf.data());
    int n = 0, fin = 0;
    const bool ok =
        ctx &&
        EVP_CipherInit_ex(ctx.get(), EVP_aes_256_ecb(), nullptr, U(key), nullptr, encrypt ? 1 : 0) == 1 &&
        EVP_CipherUpdate(ctx.get(), b, &n, U(in), static_cast<int>(in.size())) == 1 &&
        EVP_CipherFinal_ex(ctx.get(), b + n, &fin) == 1;
    ERR_clear_error();
    if (!ok) return false;
    buf.resize(static_cast<std::size_t>(n + fin));
    out = std::move(buf);
    return true;
}

}  // namespace

bool Aes256EcbDecrypt(std::string_view key, std::string_view ct, std::string& plain) {
    if (ct.empty() || ct.size() % 16 != 0) {
        plain.clear();
        return false;
    }
    return EcbRun(false, key, ct, plain);
}

bool Aes256EcbEncrypt(std::string_view key, std::string_view plain, std::string& ct) {
    return EcbRun(true, key, plain, ct);
}

}  // namespace orderpay::crypto
