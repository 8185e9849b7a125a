// Fuzz target: Alipay notifications (http::ParseForm, then alipay::VerifyNotificationFor with a test
// merchant whose keys are tests/fuzz/keys/*.pem, RSA-512 for speed): forged input never verifies,
// the same form signed by "Alipay" verifies exactly when the rules allow, also after our own form
// encoding, and any signed change breaks it; plus the sign-content rules and base64 of `sign`.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "fuzz_check.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/form.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/alipay/client.hpp"

#ifndef ORDERPAY_FUZZ_KEY_DIR
#define ORDERPAY_FUZZ_KEY_DIR "tests/fuzz/keys"
#endif

namespace {

using namespace orderpay;
using alipay::Params;

std::string KeyDir() {
    const char* env = std::getenv("ORDERPAY_FUZZ_KEY_DIR");
    return env != nullptr && *env != '\0' ? env : ORDERPAY_FUZZ_KEY_DIR;
}

// The merchant: the app key and "Alipay's" key are the same test pair (one PEM each way).
const providers::Merchant& TestMerchant() {
    static const providers::Merchant m = [] {
        providers::Merchant t;
        t.id = "fuzz-zfb";
        t.provider = "zfb";
        t.app_id = "2021000000000001";
        t.mch_id = "2088000000000001";
        t.sign_type = "RSA2";
        t.options = "{\"app_private_key_file\":" + http::JsonString(KeyDir() + "/alipay_fuzz_private.pem") +
                    ",\"alipay_public_key_file\":" + http::JsonString(KeyDir() + "/alipay_fuzz_public.pem") +
                    "}";
        std::string error;
        if (!alipay::LoadKeys(t, error)) {
            std::fprintf(stderr, "alipay_notify_fuzz: %s (set ORDERPAY_FUZZ_KEY_DIR)\n", error.c_str());
            std::abort();
        }
        return t;
    }();
    return m;
}

// The merchant's keys as LoadKeys parsed them (the same cached object the verifier uses).
const alipay::Keys& TestKeys() {
    static const std::shared_ptr<const alipay::Keys> keys = [] {
        std::string error;
        return alipay::LoadKeys(TestMerchant(), error);
    }();
    return *keys;
}

std::string First(const Params& p, std::string_view name) {
    for (const auto& [k, v] : p)
        if (k == name) return v;
    return {};
}

bool Repeated(const Params& p) {
    for (std::size_t i = 0; i < p.size(); ++i)
        for (std::size_t j = i + 1; j < p.size(); ++j)
            if (p[i].first == p[j].first) return true;
    return false;
}

bool Verifies(const Params& p, providers::PaidEvent* out = nullptr) {
    providers::PaidEvent ev;
    std::string reason;
    const bool ok = alipay::VerifyNotificationFor(TestMerchant(), p, ev, reason);
    FUZZ_CHECK(!reason.empty());
    if (out) *out = ev;
    return ok;
}

void CheckSignContent(const Params& p) {
    const std::string notify = alipay::NotifySignContent(p);
    Params without_type;
    std::size_t expected_size = 0;
    std::size_t kept = 0;
    for (const auto& kv : p) {
        if (kv.first != "sign_type") without_type.push_back(kv);
        if (kv.first.empty() || kv.second.empty() || kv.first == "sign" || kv.first == "sign_type") continue;
        expected_size += kv.first.size() + 1 + kv.second.size();
        ++kept;
    }
    FUZZ_CHECK(notify.size() == expected_size + (kept > 0 ? kept - 1 : 0));
    FUZZ_CHECK(notify == alipay::RequestSignContent(without_type));
    // Arrival order does not matter while names are distinct.
    if (!Repeated(p)) {
        Params reversed(p.rbegin(), p.rend());
        FUZZ_CHECK(alipay::NotifySignContent(reversed) == notify);
    }
}

void CheckBase64(const std::string& text) {
    std::string bytes;
    if (!crypto::Base64Decode(text, bytes)) return;
    const std::size_t pad = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
    FUZZ_CHECK(text.size() % 4 == 0 && bytes.size() == text.size() / 4 * 3 - pad);
    const std::string encoded = crypto::Base64Encode(bytes);
    std::string again;
    FUZZ_CHECK(encoded.size() == text.size() && crypto::Base64Decode(encoded, again) && again == bytes);
}

void CheckSigned(const Params& received) {
    // Signed by "Alipay" over the form as received (minus its sign), then placed mid-form.
    Params p;
    for (const auto& kv : received)
        if (kv.first != "sign") p.push_back(kv);
    const std::string sign =
        crypto::RsaSha256SignBase64(TestKeys().app_private, alipay::NotifySignContent(p));
    FUZZ_CHECK(!sign.empty());
    p.insert(p.begin() + static_cast<long>(p.size() / 2), {"sign", sign});

    const std::string sign_type = First(p, "sign_type");
    const bool has_type =
        std::any_of(p.begin(), p.end(), [](const auto& kv) { return kv.first == "sign_type"; });
    const bool expect = !Repeated(p) && (!has_type || sign_type == "RSA2");
    providers::PaidEvent ev;
    FUZZ_CHECK(Verifies(p, &ev) == expect);
    // Our encoder (spaces as '+', as Alipay writes them) and decoder keep the signed bytes, GBK
    // included. (form_fuzz checks the %20 encoding byte for byte.)
    const std::optional<http::FormPairs> round = http::ParseForm(http::EncodeForm(p, true));
    FUZZ_CHECK(round && Verifies(*round) == expect);
    if (!expect) return;

    FUZZ_CHECK(ev.slip_id == First(p, "out_trade_no") && ev.txn_id == First(p, "trade_no"));
    FUZZ_CHECK(ev.app_id == First(p, "app_id") && ev.mch_id == First(p, "seller_id"));
    // Provider amounts are read by one exact-value rule (`25.000` is 2500), not the operator's strict one.
    FUZZ_CHECK(ev.amount == domain::ParseProviderAmount(First(p, "total_amount"), 2).value_or(-1));
    FUZZ_CHECK(ev.status == First(p, "trade_status"));
    FUZZ_CHECK(ev.paid == (ev.status == "TRADE_SUCCESS" || ev.status == "TRADE_FINISHED"));

    // sign_type is not signed, so dropping it changes nothing; an empty extra parameter neither.
    Params no_type;
    for (const auto& kv : p)
        if (kv.first != "sign_type") no_type.push_back(kv);
    FUZZ_CHECK(Verifies(no_type));
    Params extra = p;
    extra.emplace_back("zz_fuzz_extra", "");
    if (!Repeated(extra)) FUZZ_CHECK(Verifies(extra));

    // Any signed change fails.
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i].first.empty() || p[i].second.empty() || p[i].first == "sign" || p[i].first == "sign_type")
            continue;
        Params altered = p;
        altered[i].second.back() ^= 1;
        FUZZ_CHECK(!Verifies(altered));
        break;
    }
    Params wrong_type = no_type;
    wrong_type.emplace_back("sign_type", "RSA");
    FUZZ_CHECK(!Verifies(wrong_type));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::optional<http::FormPairs> pairs = http::ParseForm(fuzz::AsText(data, size));  // as pay/re_zfb
    if (!pairs || pairs->empty()) return 0;
    CheckSignContent(*pairs);
    const std::string sign = First(*pairs, "sign");
    CheckBase64(sign);
    // Whatever arrived verifies only with the real signature (the fuzzer cannot forge RSA).
    if (Verifies(*pairs))
        FUZZ_CHECK(
            crypto::RsaSha256VerifyBase64(TestKeys().alipay_public, alipay::NotifySignContent(*pairs), sign));
    CheckSigned(*pairs);
    return 0;
}
