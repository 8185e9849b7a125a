// WeChat Pay API v2 client: unifiedorder (NATIVE/JSAPI), micropay with its query/reverse loop,
// orderquery and closeorder, every response's signature verified (PROTOCOLS.md §1.2-§1.4).
#pragma once

#include <map>
#include <string>

#include "orderpay/core/config.hpp"
#include "orderpay/providers/fields.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::wxpay {

struct WxOptions {
    std::string gateway;  // e.g. https://api.mch.weixin.qq.com (or paysim's URL)
    providers::Timeouts timeouts;
    int scan_poll_ms = 3000;  // wait between orderquery calls while the buyer confirms
    int scan_poll_tries = 10;
    int reverse_tries = 3;
};

class WxPayV2 final : public providers::Provider {
  public:
    explicit WxPayV2(WxOptions opts) : opts_(std::move(opts)) {}
    std::string_view Id() const override { return "wx"; }
    std::string_view MerchantUsage() const override;
    providers::Merchant MakeMerchant(const std::string& id,
                                     const providers::MerchantInput& in) const override;
    std::optional<providers::ChargeRefusal> CheckCharge(std::int64_t amount,
                                                        std::string_view currency) const override;
    providers::Notice ParseNotification(const providers::RawNotification& raw) const override;
    bool VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                            providers::PaidEvent& out, std::string& reason) const override;
    providers::ProviderReply NotificationReply(providers::NotifyAnswer a) const override;
    providers::CreateResult Create(const providers::Merchant& m, const providers::CreateParams& p) override;
    providers::QueryResult Query(const providers::Merchant& m, const std::string& slip_id) override;
    providers::CloseResult Close(const providers::Merchant& m, const std::string& slip_id) override;
    /// A micropay trade is ended by reverse, not closeorder (PROTOCOLS.md §1.4), asked first.
    providers::CloseResult EndScan(const providers::Merchant& m, const std::string& slip_id) override;

    // Refunds (src/providers/wxpay/refund.cpp): /secapi/pay/refund with the merchant's client
    // certificate, /pay/refundquery, and the refund notification (sealed: req_info).
    bool Refunds() const override { return true; }
    providers::RefundResult Refund(const providers::Merchant& m, const providers::RefundParams& p) override;
    std::string RefundBlocker(const providers::Merchant& m) const override;
    providers::RefundResult QueryRefund(const providers::Merchant& m,
                                        const providers::RefundParams& p) override;
    /// Decrypts req_info with `m`'s key and names the refunded slip; another mch_id or appid is
    /// kNotAddressed, and a req_info that does not decrypt with the addressee's key kRefused.
    providers::OpenOutcome OpenNotification(const providers::Merchant& m, providers::Notice& n,
                                            std::string& reason,
                                            providers::KeyFetches& fetches) const override;
    /// A refund notification checked with `m` (the slip's merchant): PaidEvent::refund filled.
    bool VerifyRefundNotification(const providers::Merchant& m, const providers::Notice& n,
                                  providers::PaidEvent& out, std::string& reason) const;

    /// The five JSAPI parameters with paySign, as a JSON object text (PROTOCOLS.md §1.4).
    static std::string JsapiParams(const providers::Merchant& m, const std::string& prepay_id,
                                   const std::string& timestamp, const std::string& nonce);

  private:
    using Call = providers::FieldsCall;  // ok: return_code SUCCESS, signed by the merchant's key
    Call Post(const providers::Merchant& m, const std::string& path,
              std::map<std::string, std::string> fields);
    providers::CreateResult Micropay(const providers::Merchant& m, const providers::CreateParams& p);
    bool Reverse(const providers::Merchant& m, const std::string& slip_id);

    WxOptions opts_;
};

/// True for a v2 refund notification (it carries req_info and no sign): a sealed notice.
bool IsV2RefundNotice(const providers::Notice& n);

/// An orderquery answer (its signature checked) for slip `slip_id`, as a QueryResult. REFUND is
/// paid, then refunded in part or whole: kPaid with `refunded` set.
providers::QueryResult ReadOrderQuery(const providers::Fields& f, const std::string& slip_id);

/// Adds what a refundquery answer by out_trade_no (its signature checked) lists of a trade's
/// refunds to `q` (a REFUND answer of ReadOrderQuery): each refund that took money (SUCCESS,
/// PROCESSING, CHANGE) with its amount, in `q.currency` only. False (and `q` unchanged) when the
/// answer is not a readable listing of that trade's refunds.
bool ReadRefundListing(const providers::Fields& f, const std::string& slip_id, providers::QueryResult& q);

/// The registry's factory: options from wxpay.* and http.* config keys.
std::unique_ptr<providers::Provider> MakeProvider(const Config& cfg);

/// Verifies a v2 notification's fields against the merchant (signature over every received
/// field) and extracts the payment. `reason` explains a failure.
bool VerifyNotification(const std::map<std::string, std::string>& fields, const providers::Merchant& m,
                        providers::PaidEvent& out, std::string& reason);

}  // namespace orderpay::wxpay
