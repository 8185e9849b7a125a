// Unit tests for crypto/rsa: key loading, SHA256withRSA, and Alipay certificate serials (V-ALI-3).
#include "orderpay/crypto/rsa.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <functional>

#include "test_keys.hpp"

namespace orderpay::crypto {
namespace {

using BioPtr = std::unique_ptr<BIO, CDeleter<BIO_free>>;

// A fresh 2048-bit key, made once: these tests own their key instead of shipping one.
const PKey& TestKey() {
    static const PKey key(EVP_RSA_gen(2048), CDeleter<EVP_PKEY_free>{});
    return key;
}

// PEM text written by one of OpenSSL's PEM_write_bio_* functions.
std::string WritePem(const std::function<int(BIO*)>& write) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    EXPECT_EQ(write(bio.get()), 1);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

// The base64 between the armour lines, joined into one line.
std::string StripArmour(const std::string& pem) {
    std::string out;
    std::size_t pos = 0;
    while (pos < pem.size()) {
        const std::size_t end = std::min(pem.find('\n', pos), pem.size());
        const std::string line = pem.substr(pos, end - pos);
        if (line.rfind("-----", 0) != 0) out += line;
        pos = end + 1;
    }
    return out;
}

TEST(RsaTest, SignAndVerifyRoundTrip) {
    const PKey& key = TestKey();
    ASSERT_TRUE(key);
    const std::string sig = RsaSha256SignBase64(key, "a=1&b=2");
    ASSERT_FALSE(sig.empty());
    EXPECT_EQ(sig, RsaSha256SignBase64(key, "a=1&b=2")) << "PKCS#1 v1.5 is deterministic";
    EXPECT_TRUE(RsaSha256VerifyBase64(key, "a=1&b=2", sig));
    EXPECT_FALSE(RsaSha256VerifyBase64(key, "a=1&b=3", sig));
    EXPECT_FALSE(RsaSha256VerifyBase64(key, "", sig));
    std::string bad = sig;
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(RsaSha256VerifyBase64(key, "a=1&b=2", bad));
    EXPECT_FALSE(RsaSha256VerifyBase64(key, "a=1&b=2", ""));
    EXPECT_FALSE(RsaSha256VerifyBase64(key, "a=1&b=2", "not base64!"));
    EXPECT_FALSE(RsaSha256VerifyBase64(key, "a=1&b=2", sig.substr(0, sig.size() - 4)));
    EXPECT_FALSE(RsaSha256VerifyBase64(nullptr, "a=1&b=2", sig));
    EXPECT_EQ(RsaSha256SignBase64(nullptr, "x"), "");
    EXPECT_EQ(ERR_peek_error(), 0u) << "failed verifications must not leave errors queued";
}

TEST(RsaTest, Pkcs8AndPkcs1PrivateKeysLoad) {
    const PKey& key = TestKey();
    const std::string pkcs8 = WritePem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    const std::string pkcs1 = WritePem([&](BIO* b) {
        return PEM_write_bio_PrivateKey_traditional(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    ASSERT_EQ(pkcs8.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
    ASSERT_EQ(pkcs1.rfind("-----BEGIN RSA PRIVATE KEY-----", 0), 0u);
    const std::string expected = RsaSha256SignBase64(key, "content");
    for (const std::string& pem : {pkcs8, pkcs1, StripArmour(pkcs8), StripArmour(pkcs1)}) {
        std::string error;
        const PKey loaded = PrivateKeyFromPem(pem, error);
        ASSERT_TRUE(loaded) << error << "\n" << pem.substr(0, 40);
        EXPECT_EQ(RsaSha256SignBase64(loaded, "content"), expected);
    }
}

TEST(RsaTest, EncryptedPrivateKeyIsRefusedWithoutPrompting) {
    const std::string pem = WritePem([&](BIO* b) {
        char pass[] = "secret";
        return PEM_write_bio_PKCS8PrivateKey(b, TestKey().get(), EVP_aes_256_cbc(), pass, 6, nullptr,
                                             nullptr);
    });
    ASSERT_NE(pem.find("ENCRYPTED PRIVATE KEY"), std::string::npos);
    std::string error;
    EXPECT_FALSE(PrivateKeyFromPem(pem, error));
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(RsaTest, GarbageKeysGiveAnError) {
    const std::string bad_pem = "-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n";
    const std::string bad_pub = "-----BEGIN PUBLIC KEY-----\nAAAAAAAA\n-----END PUBLIC KEY-----\n";
    const std::string bad_cert = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    for (const std::string& text : {std::string(), std::string("garbage!"), std::string("QUJD"), bad_pem}) {
        std::string error;
        EXPECT_FALSE(PrivateKeyFromPem(text, error)) << text;
        EXPECT_FALSE(error.empty()) << text;
    }
    for (const std::string& text :
         {std::string(), std::string("garbage!"), std::string("QUJD"), bad_pub, bad_cert, bad_pem}) {
        std::string error;
        EXPECT_FALSE(PublicKeyFromPem(text, error)) << text;
        EXPECT_FALSE(error.empty()) << text;
    }
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(RsaTest, NonRsaKeysAreRefused) {
    const PKey ec(EVP_EC_gen("P-256"), CDeleter<EVP_PKEY_free>{});
    ASSERT_TRUE(ec);
    const std::string priv = WritePem(
        [&](BIO* b) { return PEM_write_bio_PrivateKey(b, ec.get(), nullptr, nullptr, 0, nullptr, nullptr); });
    const std::string pub = WritePem([&](BIO* b) { return PEM_write_bio_PUBKEY(b, ec.get()); });
    std::string error;
    EXPECT_FALSE(PrivateKeyFromPem(priv, error));
    EXPECT_EQ(error, "key is not an RSA key");
    error.clear();
    EXPECT_FALSE(PublicKeyFromPem(pub, error));
    EXPECT_EQ(error, "key is not an RSA key");
}

TEST(RsaTest, PublicKeyFromSpkiPemAndBareBase64) {
    const PKey& key = TestKey();
    const std::string pem = WritePem([&](BIO* b) { return PEM_write_bio_PUBKEY(b, key.get()); });
    const std::string bare = StripArmour(pem);
    const std::string sig = RsaSha256SignBase64(key, "data");
    // The console shows one line; a copy from a file may keep its line breaks and a final newline.
    for (const std::string& text :
         {pem, bare, bare.substr(0, 64) + "\n" + bare.substr(64) + "\n", "\n" + pem}) {
        std::string error;
        const PKey pub = PublicKeyFromPem(text, error);
        ASSERT_TRUE(pub) << error;
        EXPECT_TRUE(RsaSha256VerifyBase64(pub, "data", sig));
        EXPECT_EQ(RsaSha256SignBase64(pub, "data"), "") << "a public key cannot sign";
    }
}

TEST(RsaTest, ReadSmallFileReportsMissingFile) {
    std::string error;
    EXPECT_FALSE(ReadSmallFile("/nonexistent/orderpay-key.pem", error));
    EXPECT_NE(error.find("/nonexistent/orderpay-key.pem"), std::string::npos);
}

TEST(RsaTest, SandboxCertificateAndKeyAgree) {
    VECTOR_OR_SKIP(cert_pem, "alipay_sandbox_public_cert.crt");
    VECTOR_OR_SKIP(key_pem, "alipay_sandbox_public_key.pem");
    std::string error;
    const PKey from_cert = PublicKeyFromPem(*cert_pem, error);  // expired: dates are not checked
    ASSERT_TRUE(from_cert) << error;
    const PKey from_key = PublicKeyFromPem(*key_pem, error);
    ASSERT_TRUE(from_key) << error;
    EXPECT_EQ(EVP_PKEY_eq(from_cert.get(), from_key.get()), 1);
}

// V-ALI-3.
TEST(RsaTest, AlipayAppCertSn) {
    VECTOR_OR_SKIP(pem, "alipay_sandbox_app_public_cert.crt");
    EXPECT_EQ(AlipayCertSn(*pem), "e90dd23a37c5c7b616e003970817ff82");
}

TEST(RsaTest, AlipayRootCertSnSkipsNonRsaRoots) {
    VECTOR_OR_SKIP(pem, "alipay_sandbox_root_cert.crt");
    EXPECT_EQ(AlipayRootCertSn(*pem), "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6");
    // A damaged certificate anywhere in the bundle is an error, not a shorter serial.
    const std::size_t second = pem->find("-----BEGIN CERTIFICATE-----", 1);
    ASSERT_NE(second, std::string::npos);
    std::string damaged = *pem;
    damaged.insert(second + 40, "!!!!");
    EXPECT_FALSE(AlipayRootCertSn(damaged));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(RsaTest, CertSnRejectsNonCertificates) {
    EXPECT_FALSE(AlipayCertSn(""));
    EXPECT_FALSE(AlipayCertSn("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
    EXPECT_FALSE(AlipayRootCertSn(""));
    EXPECT_FALSE(AlipayRootCertSn("no certificates here"));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace orderpay::crypto
