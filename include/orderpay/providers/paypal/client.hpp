// PayPal Orders v2 as a registry provider: OAuth2 token shared through the SharedCache, create
// (approval link), query, capture, and webhooks verified offline with PayPal's certificate.
#pragma once

#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/core/config.hpp"
#include "orderpay/crypto/rsa.hpp"
#include "orderpay/crypto/x509_chain.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::paypal {

struct PaypalOptions {
    std::string gateway;  // https://api-m.paypal.com (or the sandbox, or paysim)
    providers::Timeouts timeouts;
    std::vector<std::string> cert_hosts;  // hosts PAYPAL-CERT-URL may name
    std::string ca_file;                  // roots for the signing certificate ("" = system store)
    std::string cert_cn_prefix = "messageverificationcerts";
    std::string cert_cn_suffix = ".paypal.com";
};

class PaypalClient final : public providers::Provider {
  public:
    explicit PaypalClient(PaypalOptions opts) : opts_(std::move(opts)) {}
    /// An order (query or capture answer, HTTP `status`) in provider-neutral terms: only a
    /// COMPLETED capture is money; PARTIALLY_REFUNDED is paid with `refunded` and the order's refunds.
    static providers::QueryResult OrderState(const std::string& body, long status);
    std::string_view Id() const override { return "paypal"; }
    std::string_view MerchantUsage() const override;
    providers::Merchant MakeMerchant(const std::string& id,
                                     const providers::MerchantInput& in) const override;
    std::optional<providers::ChargeRefusal> CheckCharge(std::int64_t amount,
                                                        std::string_view currency) const override;
    providers::CreateResult Create(const providers::Merchant& m, const providers::CreateParams& p) override;
    providers::QueryResult Query(const providers::Merchant& m, const std::string& slip_id) override;
    providers::QueryResult QueryByRef(const providers::Merchant& m, const std::string& slip_id,
                                      const std::string& provider_ref) override;
    providers::QueryResult ConfirmPaid(const providers::Merchant& m, const std::string& slip_id,
                                       const std::string& provider_ref) const override;
    providers::CloseResult Close(const providers::Merchant& m, const std::string& slip_id) override;
    providers::QueryResult Complete(const providers::Merchant& m, const std::string& slip_id,
                                    const std::string& provider_ref) const override;
    void UseCache(providers::SharedCache* cache) override { cache_ = cache; }

    /// Refunds of the slip's capture (src/providers/paypal/refund.cpp), idempotent on the
    /// refund id sent as PayPal-Request-Id.
    bool Refunds() const override { return true; }
    providers::RefundResult Refund(const providers::Merchant& m, const providers::RefundParams& p) override;
    providers::RefundResult QueryRefund(const providers::Merchant& m,
                                        const providers::RefundParams& p) override;
    providers::RefundResult ConfirmRefund(const providers::Merchant& m,
                                          const providers::RefundParams& p) const override;

    /// POST: webhooks; GET: the buyer's return (token = PayPal order id), which names the slip
    /// and is completed by a capture, never believed by itself.
    bool AcceptsMethod(std::string_view method) const override { return method == "POST" || method == "GET"; }
    bool AcknowledgesForeignEvents() const override { return true; }
    bool SettlesOnOwnQuery() const override { return true; }
    // invoice_id is the merchant's free text: two refunds may share it.
    bool RefundNamesUnique() const override { return false; }
    providers::Notice ParseNotification(const providers::RawNotification& raw) const override;
    bool VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                            providers::PaidEvent& out, std::string& reason) const override;
    /// kUnchecked when the certificate could not be had now: its download failed with no answer
    /// or a 5xx (kept 30 s, not five minutes), or this minute's downloads are spent.
    providers::SignatureCheck CheckNotification(const providers::Merchant& m, const providers::Notice& n,
                                                providers::PaidEvent& out,
                                                std::string& reason) const override;
    providers::ProviderReply NotificationReply(providers::NotifyAnswer a) const override;
    bool SetOfflineInput(const std::string& name, const std::string& value) override;
    // Ten a second, not unlimited: the URLs a replay downloads were chosen by whoever sent the
    // rows, and go to the host orderpay captures and refunds at (review s26-diff #6); yet a
    // flood's rows, older than the genuine one, must not spend a replay's budget before it is
    // reached, so the default --limit (500) never meets it.
    void LiftKeyFetchPace() override { new_certs_per_minute_ = 600; }

  private:
    struct Call {
        long status = 0;
        bool answered = false;  // an HTTP response arrived
        bool connect_failed = false;
        std::string body, error;
    };
    /// With `representation` PayPal answers with the whole resource (Prefer: return=representation),
    /// so a refund's answer carries its amount and invoice_id.
    Call Api(const providers::Merchant& m, const std::string& method, const std::string& path,
             const std::string& body, const std::string& request_id, bool representation = false) const;
    /// The merchant's token: this process's copy, else the shared cache's, else a new one. With
    /// `refused` (a token PayPal answered 401 to) never that one again.
    std::string Token(const providers::Merchant& m, const std::string& refused, std::string& error) const;
    providers::SignatureCheck VerifyWebhook(const providers::Merchant& m, const providers::Notice& n,
                                            std::string& reason) const;
    /// Null with `unchecked` set: the certificate could not be had now (see CheckNotification).
    crypto::PKey CertKey(const std::string& url, std::string& reason, bool& unchecked) const;

    PaypalOptions opts_;
    providers::SharedCache* cache_ = nullptr;
    mutable std::map<std::string, std::pair<std::string, long long>> tokens_;  // key -> token, expiry
    struct CachedCert {
        std::string pem;
        crypto::PKey key;  // null: the certificate at this URL failed (why)
        std::string why;
        long long checked_ms = 0;  // when its chain and dates were last checked
        bool transient = false;    // failed with no answer or a 5xx: may pass in a moment
    };
    void RememberCert(const std::string& url, CachedCert c) const;
    crypto::LeafCert CheckCert(const std::string& pem, bool chain) const;
    std::optional<std::string> FetchCertPem(const std::string& url, long long now, bool& shared,
                                            std::string& reason, bool& unchecked) const;
    mutable std::map<std::string, CachedCert> certs_;  // url -> its certificate, passed or failed
    mutable long long download_window_ms_ = 0;         // the minute new certificate URLs are counted in
    mutable int downloads_in_window_ = 0;
    int new_certs_per_minute_ = 4;       // new certificate URLs a minute (a worker: a flood's cost)
    mutable int refused_in_window_ = 0;  // downloads refused this minute (logged once a minute)
    std::string offline_cert_pem_;       // notify verify --cert-file: taken as given
    std::string offline_webhook_id_;     // notify verify --webhook-id
};

/// The registry's factory: options from paypal.* and http.* config keys.
std::unique_ptr<providers::Provider> MakeProvider(const Config& cfg);

}  // namespace orderpay::paypal
