// Fuzz target: WeChat Pay v2 notifications (http::ParseFlatXml, then wxpay::VerifyNotification
// against fixed MD5 and HMAC-SHA256 test merchants): forged input never verifies, the same fields
// signed with the merchant key always do unless sign_type disagrees, and any change breaks them.
#include <cstdint>

#include "fuzz_check.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/xml.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/providers/wxpay/sign.hpp"

namespace {

using namespace orderpay;
using Fields = std::map<std::string, std::string>;

// Test merchants of our own; the key is not used anywhere else.
providers::Merchant Merchant(const char* sign_type) {
    providers::Merchant m;
    m.id = "fuzz-wx";
    m.provider = "wx";
    m.app_id = "wxf0220000000000f0";
    m.mch_id = "1900000109";
    m.sign_type = sign_type;
    m.api_key = "orderpayFuzzKey0123456789abcdefX";
    return m;
}

std::string Get(const Fields& f, const std::string& k) {
    auto it = f.find(k);
    return it == f.end() ? std::string() : it->second;
}

bool Verifies(const Fields& f, const providers::Merchant& m, providers::PaidEvent* out = nullptr) {
    providers::PaidEvent ev;
    std::string reason;
    const bool ok = wxpay::VerifyNotification(f, m, ev, reason);
    FUZZ_CHECK(!reason.empty());
    if (out) *out = ev;
    return ok;
}

void CheckMerchant(const Fields& received, const providers::Merchant& m, const providers::Merchant& other) {
    const wxpay::SignType st = wxpay::ParseSignType(m.sign_type).value_or(wxpay::SignType::kMd5);
    // Whatever arrived verifies only if its sign is the real one (the fuzzer cannot forge MD5/HMAC).
    if (Verifies(received, m)) FUZZ_CHECK(wxpay::Verify(received, m.api_key, st));

    Fields f = received;
    f["sign"] = wxpay::Sign(f, m.api_key, st);
    const std::string claimed = Get(f, "sign_type");
    const bool expect = claimed.empty() || wxpay::ParseSignType(claimed) == st;
    providers::PaidEvent ev;
    FUZZ_CHECK(Verifies(f, m, &ev) == expect);
    if (!expect) return;

    FUZZ_CHECK(ev.slip_id == Get(f, "out_trade_no") && ev.txn_id == Get(f, "transaction_id"));
    FUZZ_CHECK(ev.app_id == Get(f, "appid") && ev.mch_id == Get(f, "mch_id"));
    if (Get(f, "return_code") != "SUCCESS") {
        // The message itself failed (return_code): it claims no money, whatever else it carries.
        FUZZ_CHECK(ev.amount == 0 && ev.currency.empty() && !ev.paid);
    } else {
        // Provider amounts are read by one exact-value rule (`2500.0` is 2500).
        FUZZ_CHECK(ev.amount == domain::ParseProviderAmount(Get(f, "total_fee"), 0).value_or(-1));
        FUZZ_CHECK(ev.currency == (Get(f, "fee_type").empty() ? "CNY" : Get(f, "fee_type")));
    }
    FUZZ_CHECK(ev.paid == (Get(f, "return_code") == "SUCCESS" && Get(f, "result_code") == "SUCCESS"));

    // The sign compares without case; a field that is empty is not signed.
    Fields lower = f;
    for (char& c : lower["sign"])
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    FUZZ_CHECK(Verifies(lower, m));
    Fields extra_empty = f;
    if (extra_empty.emplace("zz_fuzz_extra", "").second) FUZZ_CHECK(Verifies(extra_empty, m));

    // Any signed change fails: a value altered, a field added or removed, the other algorithm.
    Fields added = f;
    if (added.emplace("zz_fuzz_extra", "1").second) FUZZ_CHECK(!Verifies(added, m));
    for (const auto& [k, v] : f) {
        if (k == "sign" || v.empty()) continue;
        Fields altered = f;
        altered[k] += 'x';
        FUZZ_CHECK(!Verifies(altered, m));
        Fields removed = f;
        removed.erase(k);
        FUZZ_CHECK(!Verifies(removed, m));
        break;  // one field is enough per input; the fuzzer picks which one comes first
    }
    if (wxpay::ParseSignType(other.sign_type) != st) FUZZ_CHECK(!Verifies(f, other));
    Fields no_sign = f;
    no_sign.erase("sign");
    FUZZ_CHECK(!Verifies(no_sign, m));
    no_sign["sign"] = "";
    FUZZ_CHECK(!Verifies(no_sign, m));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const providers::Merchant md5 = Merchant("MD5");
    static const providers::Merchant hmac = Merchant("HMAC-SHA256");
    static const providers::Merchant unset = Merchant("");  // the merchant default: MD5

    const http::FlatXmlResult xml = http::ParseFlatXml(fuzz::AsText(data, size));  // as pay/re_wx does
    if (!xml.fields) return 0;
    CheckMerchant(*xml.fields, md5, hmac);
    CheckMerchant(*xml.fields, hmac, md5);
    CheckMerchant(*xml.fields, unset, hmac);
    return 0;
}
