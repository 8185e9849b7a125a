// RSA key loading, SHA256withRSA signatures and Alipay certificate serial numbers (OpenSSL 3).
#include "orderpay/crypto/rsa.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "orderpay/crypto/digest.hpp"

namespace orderpay::crypto {

namespace {

using BioPtr = std::unique_ptr<BIO, CDeleter<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, CDeleter<X509_free>>;
using BnPtr = std::unique_ptr<BIGNUM, CDeleter<BN_free>>;
using FilePtr = std::unique_ptr<std::FILE, CDeleter<std::fclose>>;

// OPENSSL_free is a macro (it passes __FILE__/__LINE__), so it cannot be a template argument.
struct OpensslStringDeleter {
    void operator()(char* p) const noexcept { OPENSSL_free(p); }
};
struct OpensslBytesDeleter {
    void operator()(unsigned char* p) const noexcept { OPENSSL_free(p); }
};
using OpensslString = std::unique_ptr<char, OpensslStringDeleter>;
using OpensslBytes = std::unique_ptr<unsigned char, OpensslBytesDeleter>;

constexpr std::size_t kMaxSmallFile = 1 << 20;
constexpr std::string_view kCertBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kPubBegin = "-----BEGIN PUBLIC KEY-----";

// The last queued OpenSSL error as text, then an empty queue: a stale error left behind would be
// reported by whichever unrelated call looks at the queue next. OpenSSL's messages name the
// failing step, never key bytes.
std::string TakeOpensslError(std::string_view what) {
    std::string out(what);
    const unsigned long code = ERR_peek_last_error();
    if (code != 0) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        out += ": ";
        out += buf;
    }
    ERR_clear_error();
    return out;
}

// Keys and certificates are tiny, so the length never exceeds int; a larger input is refused
// rather than truncated.
BioPtr MemBio(std::string_view text) {
    if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Without this callback OpenSSL would prompt on the controlling terminal for an encrypted key;
// a service must fail instead.
int NoPassphrase(char*, int, int, void*) {
    return -1;
}

PKey Share(EVP_PKEY* raw) {
    return PKey(raw, CDeleter<EVP_PKEY_free>{});
}

bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Alipay's console shows keys as bare base64, possibly wrapped over lines.
bool DecodeBareBase64(std::string_view text, std::string& der) {
    std::string compact;
    compact.reserve(text.size());
    for (char c : text)
        if (!IsSpace(c)) compact.push_back(c);
    return !compact.empty() && Base64Decode(compact, der);
}

// SHA256withRSA is the only algorithm in use, so a non-RSA key is a configuration mistake that
// must show up at load time, not as "signature invalid" on every request.
PKey RequireRsa(EVP_PKEY* raw, std::string& error) {
    PKey key = Share(raw);
    if (!key) return nullptr;
    if (EVP_PKEY_is_a(key.get(), "RSA") != 1) {
        error = "key is not an RSA key";
        return nullptr;
    }
    return key;
}

// md5_hex(issuer + serial_decimal). The issuer is the RDN sequence in reverse DER order with
// OpenSSL short names and UTF-8 values, which is what PHP's openssl_x509_parse hands to
// yansongda's alipayGetCertSn (and equals Java's RFC 2253 form for the CN/OU/O/C names that
// Alipay certificates use).
std::optional<std::string> CertSn(X509* cert) {
    const X509_NAME* issuer = X509_get_issuer_name(cert);
    if (issuer == nullptr) return std::nullopt;
    std::string text;
    for (int i = X509_NAME_entry_count(issuer) - 1; i >= 0; --i) {
        const X509_NAME_ENTRY* entry = X509_NAME_get_entry(issuer, i);
        if (entry == nullptr) return std::nullopt;
        const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(entry);
        const int nid = OBJ_obj2nid(obj);
        std::string name;
        if (nid != NID_undef) {
            name = OBJ_nid2sn(nid);
        } else {
            char oid[128];
            const int n = OBJ_obj2txt(oid, sizeof oid, obj, 1);
            if (n <= 0 || n >= static_cast<int>(sizeof oid)) return std::nullopt;
            name.assign(oid, static_cast<std::size_t>(n));
        }
        unsigned char* utf8_raw = nullptr;
        const int len = ASN1_STRING_to_UTF8(&utf8_raw, X509_NAME_ENTRY_get_data(entry));
        const OpensslBytes utf8(utf8_raw);
        if (len < 0) return std::nullopt;
        if (!text.empty()) text += ',';
        text += name;
        text += '=';
        text.append(reinterpret_cast<const char*>(utf8.get()), static_cast<std::size_t>(len));
    }
    const BnPtr serial(ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr));
    if (!serial) return std::nullopt;
    const OpensslString dec(BN_bn2dec(serial.get()));
    if (!dec) return std::nullopt;
    text += dec.get();
    return HexLower(Md5(text));
}

// Every certificate in a PEM bundle, in order; nullopt when any of them fails to parse or
// there is none.
std::optional<std::vector<X509Ptr>> ReadCertificates(std::string_view pem) {
    const BioPtr bio = MemBio(pem);
    if (!bio) return std::nullopt;
    std::vector<X509Ptr> certs;
    ERR_clear_error();
    while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) certs.emplace_back(raw);
    // The loop always ends in an error; only "no further BEGIN line" means a clean end.
    const unsigned long last = ERR_peek_last_error();
    const bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    if (!clean_end || certs.empty()) return std::nullopt;
    return certs;
}

}  // namespace

PKey PrivateKeyFromPem(std::string_view pem, std::string& error) {
    ERR_clear_error();
    if (pem.find("-----BEGIN") == std::string_view::npos) {
        // Bare base64 DER, as Alipay's key tool prints it: PKCS#8 or PKCS#1.
        std::string der;
        if (!DecodeBareBase64(pem, der)) {
            error = "private key is neither PEM nor base64";
            return nullptr;
        }
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        EVP_PKEY* raw = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
        OPENSSL_cleanse(der.data(), der.size());
        if (raw == nullptr) {
            error = TakeOpensslError("cannot parse base64 private key");
            return nullptr;
        }
        return RequireRsa(raw, error);
    }
    const BioPtr bio = MemBio(pem);
    if (!bio) {
        error = "cannot allocate a BIO for the private key";
        return nullptr;
    }
    EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
    if (raw == nullptr) {
        error = TakeOpensslError("cannot parse PEM private key (encrypted keys are not supported)");
        return nullptr;
    }
    return RequireRsa(raw, error);
}

PKey PublicKeyFromPem(std::string_view pem, std::string& error) {
    ERR_clear_error();
    const std::size_t cert_at = pem.find(kCertBegin);
    const std::size_t pub_at = pem.find(kPubBegin);
    if (cert_at == std::string_view::npos && pub_at == std::string_view::npos) {
        if (pem.find("-----BEGIN") != std::string_view::npos) {
            error = "PEM holds neither a PUBLIC KEY nor a CERTIFICATE";
            return nullptr;
        }
        std::string der;
        if (!DecodeBareBase64(pem, der)) {
            error = "public key is neither PEM nor base64";
            return nullptr;
        }
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
        if (raw == nullptr) {
            error = TakeOpensslError("cannot parse base64 SubjectPublicKeyInfo");
            return nullptr;
        }
        return RequireRsa(raw, error);
    }
    // Whichever block comes first wins, so a file is read the way a person reads it.
    if (cert_at < pub_at) {
        const BioPtr bio = MemBio(pem.substr(cert_at));
        const X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
        if (!cert) {
            error = TakeOpensslError("cannot parse PEM certificate");
            return nullptr;
        }
        EVP_PKEY* raw = X509_get_pubkey(cert.get());  // a new reference, owned by the PKey
        if (raw == nullptr) {
            error = TakeOpensslError("cannot read the certificate's public key");
            return nullptr;
        }
        return RequireRsa(raw, error);
    }
    const BioPtr bio = MemBio(pem.substr(pub_at));
    EVP_PKEY* raw = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr;
    if (raw == nullptr) {
        error = TakeOpensslError("cannot parse PEM public key");
        return nullptr;
    }
    return RequireRsa(raw, error);
}

std::optional<std::string> ReadSmallFile(const std::string& path, std::string& error) {
    const FilePtr f(std::fopen(path.c_str(), "rb"));
    if (!f) {
        error = path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string out;
    char buf[8192];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
        out.append(buf, n);
        if (out.size() > kMaxSmallFile) {
            error = path + ": larger than 1 MiB";
            return std::nullopt;
        }
    }
    if (std::ferror(f.get())) {
        error = path + ": read error";
        return std::nullopt;
    }
    return out;
}

std::string RsaSha256SignBase64(const PKey& key, std::string_view data) {
    if (!key) return {};
    const EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    std::size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
        ERR_clear_error();
        return {};
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) != 1) {
        ERR_clear_error();
        return {};
    }
    sig.resize(len);
    return Base64Encode(sig);
}

bool RsaSha256VerifyBase64(const PKey& key, std::string_view data, std::string_view sig_base64) {
    std::string sig;
    if (!key || sig_base64.empty() || !Base64Decode(sig_base64, sig)) return false;
    const EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    const bool ok =
        ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    ERR_clear_error();  // a bad signature queues an error that nobody will read
    return ok;
}

std::optional<std::string> AlipayCertSn(std::string_view pem) {
    const std::size_t at = pem.find(kCertBegin);
    if (at == std::string_view::npos) return std::nullopt;
    const BioPtr bio = MemBio(pem.substr(at));
    const X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
    ERR_clear_error();
    if (!cert) return std::nullopt;
    return CertSn(cert.get());
}

std::optional<std::string> AlipayRootCertSn(std::string_view pem_bundle) {
    const std::optional<std::vector<X509Ptr>> certs = ReadCertificates(pem_bundle);
    if (!certs) return std::nullopt;
    std::string out;
    for (const X509Ptr& cert : *certs) {
        // SM2 and ECDSA roots are in Alipay's bundle but are not part of the RSA2 serial.
        const int nid = X509_get_signature_nid(cert.get());
        if (nid != NID_sha1WithRSAEncryption && nid != NID_sha256WithRSAEncryption) continue;
        const std::optional<std::string> sn = CertSn(cert.get());
        if (!sn) return std::nullopt;
        if (!out.empty()) out += '_';
        out += *sn;
    }
    // A bundle without any RSA root cannot produce a serial Alipay accepts.
    if (out.empty()) return std::nullopt;
    return out;
}

}  // namespace orderpay::crypto

namespace orderpay::crypto {

std::optional<std::string> CertSerialHex(std::string_view pem) {
    std::optional<std::vector<X509Ptr>> certs = ReadCertificates(pem);
    if (!certs || certs->empty()) return std::nullopt;
    const ASN1_INTEGER* serial = X509_get0_serialNumber(certs->front().get());
    const BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
    if (!bn) return std::nullopt;
    const OpensslString hex(BN_bn2hex(bn.get()));
    if (!hex) return std::nullopt;
    std::string out(hex.get());
    while (out.size() > 1 && out[0] == '0') out.erase(0, 1);
    return out;
}

bool KeysMatch(const PKey& priv, const PKey& pub) {
    const bool same = priv && pub && EVP_PKEY_eq(priv.get(), pub.get()) == 1;
    ERR_clear_error();
    return same;
}

}  // namespace orderpay::crypto
