// Alipay OpenAPI gateway client (alipay.trade.precreate / pay / query / close / cancel / refund), RSA2
// signed requests and verified responses, in public-key or public-key-certificate mode.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <utility>

#include "orderpay/core/config.hpp"
#include "orderpay/crypto/rsa.hpp"
#include "orderpay/providers/alipay/sign.hpp"
#include "orderpay/providers/fields.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::alipay {

struct AlipayOptions {
    std::string gateway;  // full URL of gateway.do (paysim's in tests)
    providers::Timeouts timeouts;
    int scan_poll_ms = 5000;  // F2F demo: query_duration
    int scan_poll_tries = 5;  // F2F demo: max_query_retry
    int cancel_tries = 3;     // F2F demo: max_cancel_retry
};

/// A merchant's parsed keys. Built from the PEM files its options name:
///   {"app_private_key_file": ..., "alipay_public_key_file": ...}                  (public-key mode)
///   {"app_private_key_file": ..., "app_cert_file": ..., "alipay_cert_file": ...,
///    "alipay_root_cert_file": ...}                                                  (certificate mode)
struct Keys {
    crypto::PKey app_private;
    crypto::PKey alipay_public;
    std::string app_cert_sn;          // certificate mode only
    std::string alipay_root_cert_sn;  // certificate mode only
};

/// Loads (and caches per process, keyed by merchant id and options) the merchant's keys.
/// nullptr with `error` when a file is missing or does not parse.
std::shared_ptr<const Keys> LoadKeys(const providers::Merchant& m, std::string& error);

class AlipayClient final : public providers::Provider {
  public:
    explicit AlipayClient(AlipayOptions opts) : opts_(std::move(opts)) {}
    std::string_view Id() const override { return "zfb"; }
    std::string_view MerchantUsage() const override;
    providers::Merchant MakeMerchant(const std::string& id,
                                     const providers::MerchantInput& in) const override;
    std::optional<providers::ChargeRefusal> CheckCharge(std::int64_t amount,
                                                        std::string_view currency) const override;
    /// GET is the buyer's return URL: verified like a notification, but it never settles.
    bool AcceptsMethod(std::string_view method) const override { return method == "POST" || method == "GET"; }
    providers::Notice ParseNotification(const providers::RawNotification& raw) const override;
    bool VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                            providers::PaidEvent& out, std::string& reason) const override;
    providers::ProviderReply NotificationReply(providers::NotifyAnswer a) const override;
    providers::CreateResult Create(const providers::Merchant& m, const providers::CreateParams& p) override;
    providers::QueryResult Query(const providers::Merchant& m, const std::string& slip_id) override;
    providers::CloseResult Close(const providers::Merchant& m, const std::string& slip_id) override;
    /// alipay.trade.refund and alipay.trade.fastpay.refund.query (providers/alipay/refund.cpp),
    /// both keyed by out_request_no = our refund id.
    bool Refunds() const override { return true; }
    providers::RefundResult Refund(const providers::Merchant& m, const providers::RefundParams& p) override;
    providers::RefundResult QueryRefund(const providers::Merchant& m,
                                        const providers::RefundParams& p) override;

  private:
    using Call = providers::FieldsCall;  // fields: the string and number members of the response
    /// biz_content, a JSON object of string members, written with our JSON string escaper: never by
    /// hand-concatenating values.
    static std::string BizContent(std::initializer_list<std::pair<const char*, std::string>> fields);
    /// What an answer that is not 10000 said, for messages: "code sub_code: sub_msg".
    static std::string Said(const providers::Fields& f);
    Call Post(const providers::Merchant& m, const std::string& method, const std::string& biz_content,
              const std::string& notify_url = "");
    providers::CreateResult Pay(const providers::Merchant& m, const providers::CreateParams& p);
    providers::VoidResult Cancel(const providers::Merchant& m, const std::string& slip_id);

    AlipayOptions opts_;
};

/// The registry's factory: options from alipay.* and http.* config keys.
std::unique_ptr<providers::Provider> MakeProvider(const Config& cfg);

/// Notification verification for pay/re_zfb and `orderpay notify verify`: `params` are the
/// form's decoded bytes. Fills `out` (amount parsed exactly from total_amount; `paid` only for
/// TRADE_SUCCESS / TRADE_FINISHED).
bool VerifyNotificationFor(const providers::Merchant& m, const Params& params, providers::PaidEvent& out,
                           std::string& reason);

}  // namespace orderpay::alipay
