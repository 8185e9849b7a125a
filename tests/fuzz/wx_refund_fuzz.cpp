// Fuzz target: the WeChat v2 refund notification past its parse. The input is used twice: as the
// plaintext req_info (encrypted with the merchant's key, as WeChat would) and as the raw req_info.
// Properties: it never crashes; a notice opens exactly when its plaintext is a valid refund, and
// then names that refund's slip; a verified refund is exactly one of ok and failed, with positive
// amounts; raw bytes that were not encrypted with the key never verify into a successful refund
// with a slip the bytes do not hold.
#include <cstdint>

#include "fuzz_check.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/providers/wxpay/refund.hpp"

namespace {

using namespace orderpay;

// OpenNotification with the allowance a slip's own merchant gets (one certificate fetch).
template <typename P>
bool OpenWithOneFetch(const P& p, const providers::Merchant& m, providers::Notice& n, std::string& why) {
    providers::KeyFetches fetches;
    return p.OpenNotification(m, n, why, fetches) == providers::OpenOutcome::kOpened;
}

constexpr const char* kKey = "192006250b4c09247ec02edce69f6a2d";

providers::Provider& Wx() {
    static const Config cfg;
    static const std::unique_ptr<providers::Provider> wx = wxpay::MakeProvider(cfg);
    return *wx;
}

providers::RawNotification Raw(const std::string& req_info) {
    providers::RawNotification raw;
    raw.method = "POST";
    raw.body =
        "<xml><return_code>SUCCESS</return_code><appid>wxa</appid><mch_id>1900000109</mch_id>"
        "<nonce_str>n</nonce_str><req_info><![CDATA[" +
        req_info + "]]></req_info></xml>";
    return raw;
}

void Check(const std::string& req_info, const std::string& plain, bool encrypted) {
    const providers::Merchant m{"wx-m", "wx", "wxa", "1900000109", "MD5", kKey, "{}"};
    providers::Notice n = Wx().ParseNotification(Raw(req_info));
    if (!n.parsed) return;  // req_info with "]]>" in it: no longer one CDATA value
    FUZZ_CHECK(n.sealed && n.slip_id.empty());
    std::string why;
    std::string error;
    const std::optional<wxpay::RefundInfo> info = wxpay::ParseRefundInfo(plain, error);
    const bool opened = OpenWithOneFetch(Wx(), m, n, why);
    // (req_info over 16 KiB is refused before decryption, whatever it holds.)
    if (encrypted && req_info.size() <= 16 * 1024) FUZZ_CHECK(opened == info.has_value());
    if (!opened) {
        FUZZ_CHECK(n.slip_id.empty());
        return;
    }
    providers::PaidEvent ev;
    FUZZ_CHECK(Wx().VerifyNotification(m, n, ev, why));
    FUZZ_CHECK(ev.refund.has_value());
    FUZZ_CHECK(ev.refund->ok != ev.refund->failed);
    FUZZ_CHECK(ev.refund->amount > 0 && ev.amount > 0);
    FUZZ_CHECK(!ev.slip_id.empty() && ev.slip_id == n.slip_id);
    if (encrypted)
        FUZZ_CHECK(ev.slip_id == info->out_trade_no && ev.refund->refund_id == info->out_refund_no);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(fuzz::AsText(data, size));
    Check(wxpay::EncryptReqInfo(kKey, bytes), bytes, true);
    std::string plain, error;
    if (wxpay::DecryptReqInfo(kKey, bytes, plain, error)) {
        Check(bytes, plain, true);
    } else {
        FUZZ_CHECK(plain.empty());
        Check(bytes, "", false);
    }
    return 0;
}
