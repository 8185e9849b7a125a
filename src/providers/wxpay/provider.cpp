// WeChat Pay as the registry provider "wx": its config, and the split between API v2 (flat XML,
// the exact XML reply WeChat stops on; PROTOCOLS.md §1.5) and API v3 (JSON, RSA, AES-GCM; §1.8).
// A merchant speaks one of them (its options say "api":"v3"); a notification is told apart by
// the request itself and must match its slip's merchant.
#include "orderpay/http/xml.hpp"
#include "orderpay/providers/registry.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/providers/wxpay/refund.hpp"
#include "orderpay/providers/wxpay/v3.hpp"

namespace orderpay::wxpay {

namespace {

class WxPay final : public providers::Provider {
  public:
    explicit WxPay(const WxOptions& o) : v2_(o), v3_(o) {}
    std::string_view Id() const override { return "wx"; }
    std::string_view MerchantUsage() const override { return usage_; }
    providers::Merchant MakeMerchant(const std::string& id,
                                     const providers::MerchantInput& in) const override {
        const std::string api = in.Flag("api").value_or("v2");
        if (api == "v3") return v3_.MakeMerchant(id, in);
        if (api != "v2") throw providers::MerchantError("--api v2 or v3");
        for (const char* v3_only :
             {"private-key-file", "apiv3-key-file", "cert-serial", "wechatpay-public-key-file"})
            if (in.Flag(v3_only))
                throw providers::MerchantError(std::string("--") + v3_only + " needs --api v3");
        return v2_.MakeMerchant(id, in);
    }
    std::optional<providers::ChargeRefusal> CheckCharge(std::int64_t amount,
                                                        std::string_view currency) const override {
        return v2_.CheckCharge(amount, currency);  // the same limits: CNY fen, an Int total
    }
    providers::CreateResult Create(const providers::Merchant& m, const providers::CreateParams& p) override {
        return IsV3(m) ? v3_.Create(m, p) : v2_.Create(m, p);
    }
    providers::QueryResult Query(const providers::Merchant& m, const std::string& slip_id) override {
        return IsV3(m) ? v3_.Query(m, slip_id) : v2_.Query(m, slip_id);
    }
    providers::CloseResult Close(const providers::Merchant& m, const std::string& slip_id) override {
        return IsV3(m) ? v3_.Close(m, slip_id) : v2_.Close(m, slip_id);
    }
    providers::CloseResult EndScan(const providers::Merchant& m, const std::string& slip_id) override {
        return IsV3(m) ? v3_.EndScan(m, slip_id) : v2_.EndScan(m, slip_id);
    }
    providers::Notice ParseNotification(const providers::RawNotification& raw) const override {
        return IsV3Request(raw) ? v3_.ParseNotification(raw) : v2_.ParseNotification(raw);
    }
    providers::OpenOutcome OpenNotification(const providers::Merchant& m, providers::Notice& n,
                                            std::string& reason,
                                            providers::KeyFetches& fetches) const override {
        return IsV2RefundNotice(n) ? v2_.OpenNotification(m, n, reason, fetches)
                                   : v3_.OpenNotification(m, n, reason, fetches);
    }
    void UseCache(providers::SharedCache* cache) override { v3_.UseCache(cache); }
    bool VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                            providers::PaidEvent& out, std::string& reason) const override {
        // The dialect must be the merchant's: a v2 key never vouches for a v3 slip, or back.
        if (IsV2RefundNotice(n)) return v2_.VerifyRefundNotification(m, n, out, reason);
        if (n.sealed) return v3_.VerifyNotification(m, n, out, reason);
        if (IsV3(m)) {
            reason = "v2 notification for v3 merchant " + m.id;
            return false;
        }
        return v2_.VerifyNotification(m, n, out, reason);
    }
    providers::ProviderReply NotificationReply(providers::NotifyAnswer a) const override {
        return v2_.NotificationReply(a);
    }
    // Refunds: v2 in src/providers/wxpay/refund.cpp, v3 in v3_refund.cpp.
    bool Refunds() const override { return true; }
    std::string RefundBlocker(const providers::Merchant& m) const override {
        return IsV3(m) ? std::string() : v2_.RefundBlocker(m);
    }
    providers::RefundResult Refund(const providers::Merchant& m, const providers::RefundParams& p) override {
        return IsV3(m) ? v3_.Refund(m, p) : v2_.Refund(m, p);
    }
    providers::RefundResult QueryRefund(const providers::Merchant& m,
                                        const providers::RefundParams& p) override {
        return IsV3(m) ? v3_.QueryRefund(m, p) : v2_.QueryRefund(m, p);
    }
    providers::ProviderReply NotificationReplyFor(providers::NotifyAnswer a,
                                                  const providers::RawNotification& raw) const override {
        return IsV3Request(raw) ? WxPayV3::NotificationReply(a) : v2_.NotificationReply(a);
    }

  private:
    WxPayV2 v2_;
    WxPayV3 v3_;
    std::string usage_ = std::string(v2_.MerchantUsage()) + "\n" + std::string(v3_.MerchantUsage());
};

}  // namespace

std::unique_ptr<providers::Provider> MakeProvider(const Config& cfg) {
    WxOptions o;
    o.gateway = cfg.Get("wxpay.gateway", "https://api.mch.weixin.qq.com");
    while (!o.gateway.empty() && o.gateway.back() == '/') o.gateway.pop_back();
    o.timeouts = providers::TimeoutsFrom(cfg);
    o.scan_poll_ms = static_cast<int>(cfg.GetInt("wxpay.scan_poll_ms", 3000));
    o.scan_poll_tries = static_cast<int>(cfg.GetInt("wxpay.scan_poll_tries", 10));
    o.reverse_tries = static_cast<int>(cfg.GetInt("wxpay.reverse_tries", 3));
    return std::make_unique<WxPay>(o);
}

std::string_view WxPayV2::MerchantUsage() const {
    return "merchant add ID --provider wx [--api v2] --app-id A --mch-id M [--sign-type MD5|HMAC-SHA256] "
           "--key-file F|-\n"
           "             [--client-cert-file F --client-key-file F]   (the merchant's API certificate, "
           "for refunds and reverse)";
}

providers::Merchant WxPayV2::MakeMerchant(const std::string& id, const providers::MerchantInput& in) const {
    std::string sign_type = in.Flag("sign-type").value_or("MD5");
    if (sign_type != "MD5" && sign_type != "HMAC-SHA256")
        throw providers::MerchantError("--sign-type MD5 or HMAC-SHA256");
    auto need = [&](const char* flag) {
        std::optional<std::string> v = in.Flag(flag);
        if (!v || v->empty()) throw providers::MerchantError(std::string("missing --") + flag);
        return *v;
    };
    const std::string mch_id = need("mch-id");
    const std::string cert = ClientCertOptions(in, mch_id);  // "" or ",\"client_cert_file\":..."
    providers::Merchant m{id,
                          "wx",
                          need("app-id"),
                          mch_id,
                          sign_type,
                          in.Secret("key-file"),
                          cert.empty() ? "{}" : "{" + cert.substr(1) + "}"};
    // The v2 API key is 32 characters; anything else cannot sign what WeChat will check.
    if (m.api_key.size() != 32) throw providers::MerchantRefusal("the WeChat v2 key must be 32 characters");
    return m;
}

// v2 charges CNY in integer fen; total_fee is an Int field, so 1 .. 2^31-1 fen.
std::optional<providers::ChargeRefusal> WxPayV2::CheckCharge(std::int64_t amount,
                                                             std::string_view currency) const {
    using K = providers::ChargeRefusal::Kind;
    if (currency != "CNY") return providers::ChargeRefusal{K::kCurrency, "WeChat Pay v2 charges CNY only"};
    if (amount < 1) return providers::ChargeRefusal{K::kAmount, "WeChat Pay charges at least 0.01 CNY"};
    if (amount > 2147483647)
        return providers::ChargeRefusal{K::kAmount, "above WeChat Pay's total_fee range"};
    return std::nullopt;
}

providers::Notice WxPayV2::ParseNotification(const providers::RawNotification& raw) const {
    providers::Notice n;
    http::FlatXmlResult xml = http::ParseFlatXml(raw.body);
    if (!xml.fields) {
        n.error = "malformed xml: " + xml.error;
        return n;
    }
    n.parsed = true;
    for (auto& [k, v] : *xml.fields) {
        if (k == "out_trade_no") n.slip_id = v;
        n.fields.emplace_back(k, v);
    }
    // A refund notification names its slip only inside req_info, which the merchant's key opens.
    if (IsV2RefundNotice(n)) {
        n.sealed = true;
        n.sealed_api = "v2";
        n.slip_id.clear();
    }
    return n;
}

bool WxPayV2::VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                                 providers::PaidEvent& out, std::string& reason) const {
    std::map<std::string, std::string> fields(n.fields.begin(), n.fields.end());
    return wxpay::VerifyNotification(fields, m, out, reason);
}

// Exactly these bytes: anything around the XML makes WeChat retry forever (PROTOCOLS.md §1.5).
providers::ProviderReply WxPayV2::NotificationReply(providers::NotifyAnswer a) const {
    using A = providers::NotifyAnswer;
    const char* msg = a == A::kAccepted    ? "OK"
                      : a == A::kMalformed ? "报文格式错误"
                      : a == A::kRefused   ? "参数错误"
                                           : "系统繁忙";
    providers::ProviderReply r;
    r.status = a == A::kError ? 500 : 200;
    r.content_type = "text/xml";
    r.body = "<xml><return_code><![CDATA[" + std::string(a == A::kAccepted ? "SUCCESS" : "FAIL") +
             "]]></return_code><return_msg><![CDATA[" + msg + "]]></return_msg></xml>";
    return r;
}

}  // namespace orderpay::wxpay
