// WeChat Pay v3 platform certificates by serial: what a message's serial may cost. A serial
// nobody holds must not turn into a gateway call per merchant, per worker or per message.
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <map>

#include "orderpay/core/c_handles.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/providers/wxpay/v3.hpp"

namespace orderpay::wxpay {
namespace {

std::string PublicPem() {
    static const std::string pem = [] {
        crypto::PKey key(EVP_RSA_gen(2048), CDeleter<EVP_PKEY_free>{});
        std::unique_ptr<BIO, CDeleter<BIO_free>> bio(BIO_new(BIO_s_mem()));
        PEM_write_bio_PUBKEY(bio.get(), key.get());
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(n));
    }();
    return pem;
}

providers::Merchant CertModeMerchant(const std::string& id) {
    return providers::Merchant{id, "wx", "wxd0", "1900000109", "SHA256withRSA", "key", "{\"api\":\"v3\"}"};
}

V3Keys CertModeKeys() {
    V3Keys k;
    k.platform_certificates = true;
    return k;
}

// Counts the calls and answers as told.
struct Fetcher {
    int calls = 0;
    FetchOutcome outcome = FetchOutcome::kGot;
    std::map<std::string, std::string> pems;
    CertificateFetcher Fn() {
        return [this](const providers::Merchant&, const V3Keys&, std::map<std::string, std::string>& out,
                      std::string& error) {
            ++calls;
            out = pems;
            if (outcome != FetchOutcome::kGot) error = "told to fail";
            return outcome;
        };
    }
};

class KeyForSerialTest : public ::testing::Test {
  protected:
    void SetUp() override { ClearPlatformCertificates(); }
    void TearDown() override { ClearPlatformCertificates(); }
};

TEST_F(KeyForSerialTest, WithoutAFetcherOnlyHeldKeysAnswerAndNothingIsCalled) {
    const V3Keys keys = CertModeKeys();
    std::string why;
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m1"), keys, "ABC123", CertificateFetcher(), why), nullptr);
    EXPECT_NE(why.find("not among the certificates held for merchant m1"), std::string::npos) << why;
    // Once fetched, the same serial is held: no fetcher needed, any case of hex.
    Fetcher f;
    f.pems = {{"abc123", PublicPem()}};
    EXPECT_NE(KeyForSerial(CertModeMerchant("m1"), keys, "ABC123", f.Fn(), why), nullptr) << why;
    EXPECT_NE(KeyForSerial(CertModeMerchant("m1"), keys, "abc123", CertificateFetcher(), why), nullptr)
        << why;
    EXPECT_EQ(f.calls, 1);
    // Held for m1 is not held for m2: a merchant's certificates vouch only for its own messages.
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m2"), keys, "ABC123", CertificateFetcher(), why), nullptr);
}

TEST_F(KeyForSerialTest, AFailedLookIsPacedButOneNotTriedIsNot) {
    const V3Keys keys = CertModeKeys();
    std::string why;
    Fetcher f;
    f.outcome = FetchOutcome::kNotTried;
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m1"), keys, "ABC123", f.Fn(), why), nullptr);
    // Nothing was looked at, so the next message may look at once.
    f.outcome = FetchOutcome::kFailed;
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m1"), keys, "ABC123", f.Fn(), why), nullptr);
    EXPECT_EQ(f.calls, 2);
    // That one looked and failed: for a few seconds this merchant is not asked again, whatever
    // serial the next message names.
    f.outcome = FetchOutcome::kGot;
    f.pems = {{"DEF456", PublicPem()}};
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m1"), keys, "DEF456", f.Fn(), why), nullptr);
    EXPECT_NE(why.find("refreshed moments ago"), std::string::npos) << why;
    EXPECT_EQ(f.calls, 2);
    // Another merchant has its own pace.
    EXPECT_NE(KeyForSerial(CertModeMerchant("m2"), keys, "DEF456", f.Fn(), why), nullptr) << why;
    EXPECT_EQ(f.calls, 3);
}

TEST_F(KeyForSerialTest, RealCertificatesFoundWhileLookingForAnotherSerialAreKept) {
    const V3Keys keys = CertModeKeys();
    std::string why;
    Fetcher f;
    f.outcome = FetchOutcome::kFailed;  // the shared copy had real ones, not the serial asked for
    f.pems = {{"REAL01", PublicPem()}};
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m1"), keys, "FORGED", f.Fn(), why), nullptr);
    EXPECT_NE(why.find("unknown Wechatpay-Serial FORGED"), std::string::npos) << why;
    EXPECT_NE(KeyForSerial(CertModeMerchant("m1"), keys, "REAL01", CertificateFetcher(), why), nullptr)
        << why;
}

TEST_F(KeyForSerialTest, PublicKeyModeNeverFetches) {
    V3Keys keys;
    keys.public_key_id = "PUB_KEY_ID_1";
    std::string error;
    keys.wechatpay_public = crypto::PublicKeyFromPem(PublicPem(), error);
    ASSERT_NE(keys.wechatpay_public, nullptr) << error;
    Fetcher f;
    std::string why;
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m1"), keys, "PUB_KEY_ID_1", f.Fn(), why), keys.wechatpay_public);
    EXPECT_EQ(KeyForSerial(CertModeMerchant("m1"), keys, "ABC123", f.Fn(), why), nullptr);
    EXPECT_EQ(f.calls, 0);
}

TEST(CertificatesJson, RoundTripsAndRefusesAnythingElse) {
    const std::map<std::string, std::string> pems = {{"ABC", "-----BEGIN X-----\n\"q\"\n"}, {"DEF", ""}};
    std::map<std::string, std::string> back;
    ASSERT_TRUE(CertificatesFromJson(CertificatesJson(pems), back));
    EXPECT_EQ(back, pems);
    ASSERT_TRUE(CertificatesFromJson(CertificatesJson({}), back));
    EXPECT_TRUE(back.empty());
    for (const char* bad : {"", "[]", "{\"A\":1}", "{\"A\":\"x\"", "null", "\"s\""})
        EXPECT_FALSE(CertificatesFromJson(bad, back)) << bad;
}

// The shared copy and the allowance, with a cache standing in for provider_cache and a merchant
// whose calls cannot succeed (no key to sign them, a gateway nobody listens on): the test sees
// from the allowance and the claims whether one was attempted.
class SharedMap final : public providers::SharedCache {
  public:
    std::map<std::string, std::string> values;
    int claims = 0;
    bool claim_answer = true;
    std::optional<std::string> Get(const std::string& key) override {
        auto it = values.find(key);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    void Put(const std::string& key, const std::string& value, std::int64_t) override { values[key] = value; }
    void Drop(const std::string& key) override { values.erase(key); }
    bool Claim(const std::string&, std::int64_t) override {
        ++claims;
        return claim_answer;
    }
};

// CertModeMerchant's key in the shared cache: its id, then a digest of its account and APIv3 key.
std::string SharedKey(const std::string& id) {
    const providers::Merchant m = CertModeMerchant(id);
    return "wx3-certs/" + id + "/" +
           crypto::HexLower(crypto::Sha256(m.mch_id + '\n' + m.api_key)).substr(0, 16);
}

WxPayV3 ClosedGateway() {
    WxOptions o;
    o.gateway = "http://127.0.0.1:9";
    o.timeouts.connect_ms = 500;
    o.timeouts.total_ms = 1000;
    return WxPayV3(o);
}

TEST(V3Certificates, TheSharedCopyAnswersWithoutACallOrTheAllowance) {
    WxPayV3 p = ClosedGateway();
    SharedMap cache;
    p.UseCache(&cache);
    cache.values[SharedKey("m1")] = CertificatesJson({{"abc123", PublicPem()}});
    providers::KeyFetches fetches{false, 1};
    std::map<std::string, std::string> pems;
    std::string error;
    EXPECT_EQ(p.Certificates(CertModeMerchant("m1"), CertModeKeys(), "ABC123", pems, error, &fetches),
              FetchOutcome::kGot)
        << error;
    EXPECT_EQ(pems.count("abc123"), 1U);
    EXPECT_EQ(fetches.gateway_calls, 1);
    EXPECT_EQ(cache.claims, 0);
}

TEST(V3Certificates, ANotificationCallsOnlyWithinItsAllowanceAndTheSharedPace) {
    WxPayV3 p = ClosedGateway();
    SharedMap cache;
    p.UseCache(&cache);
    std::map<std::string, std::string> pems;
    std::string error;
    // Keys at hand only: neither a claim nor a call, and nothing tried (the worker's pace kept).
    providers::KeyFetches held{true, 0};
    EXPECT_EQ(p.Certificates(CertModeMerchant("m1"), CertModeKeys(), "ABC", pems, error, &held),
              FetchOutcome::kNotTried);
    EXPECT_EQ(cache.claims, 0);
    // Another worker holds the claim: no call and the allowance kept, but this worker's own pace
    // is spent (kFailed), so replays do not make it read and claim on every message.
    providers::KeyFetches one{false, 1};
    cache.claim_answer = false;
    cache.values[SharedKey("m1")] = CertificatesJson({{"REAL01", PublicPem()}});
    EXPECT_EQ(p.Certificates(CertModeMerchant("m1"), CertModeKeys(), "ABC", pems, error, &one),
              FetchOutcome::kFailed);
    EXPECT_NE(error.find("another worker"), std::string::npos) << error;
    EXPECT_EQ(one.gateway_calls, 1);
    EXPECT_EQ(pems.count("REAL01"), 1U);  // handed back all the same, for the worker to hold
    cache.values.clear();
    // The pace is ours: the one call is attempted (and fails), then none is left.
    cache.claim_answer = true;
    EXPECT_EQ(p.Certificates(CertModeMerchant("m1"), CertModeKeys(), "ABC", pems, error, &one),
              FetchOutcome::kFailed);
    EXPECT_EQ(one.gateway_calls, 0);
    EXPECT_EQ(cache.claims, 2);
    EXPECT_EQ(p.Certificates(CertModeMerchant("m2"), CertModeKeys(), "ABC", pems, error, &one),
              FetchOutcome::kNotTried);
    EXPECT_NE(error.find("fetch is spent"), std::string::npos) << error;
    EXPECT_EQ(cache.claims, 2);
    EXPECT_TRUE(cache.values.empty());
}

}  // namespace
}  // namespace orderpay::wxpay
