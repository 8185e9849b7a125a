// WeChat Pay API v3 for provider "wx" (PROTOCOLS.md §1.1, §1.6-§1.8): JSON requests signed with
// the merchant's RSA key, answers and notifications verified with the WeChat Pay public key
// (public-key-ID mode) or a platform certificate fetched from /v3/certificates, resources
// decrypted with the APIv3 key. A merchant speaks v2 or v3, as its options say ("api":"v3").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "orderpay/crypto/rsa.hpp"
#include "orderpay/providers/provider.hpp"
#include "orderpay/providers/wxpay/client.hpp"

namespace orderpay::wxpay {

/// True when the merchant is a v3 merchant (options {"api":"v3",...}).
bool IsV3(const providers::Merchant& m);

/// True when the request is a v3 notification: any Wechatpay-* header, or a JSON body. Anything
/// else on pay/re_wx is v2 XML.
bool IsV3Request(const providers::RawNotification& raw);

/// A v3 merchant's keys, loaded from the files its options name:
///   {"api":"v3","private_key_file":..,"cert_serial":..,
///    "wechatpay_public_key_file":..,"wechatpay_public_key_id":"PUB_KEY_ID_..",  (public-key mode)
///    "platform_certificates":true}                                            (certificate mode)
/// Either mode or both (WeChat's migration); the APIv3 key is the merchant's api_key.
struct V3Keys {
    crypto::PKey merchant_private;
    std::string cert_serial;  // the merchant certificate's serial, sent as serial_no
    crypto::PKey wechatpay_public;
    std::string public_key_id;
    bool platform_certificates = false;
};

/// Loads (and caches per process, keyed by merchant id and options) the merchant's keys.
std::shared_ptr<const V3Keys> LoadV3Keys(const providers::Merchant& m, std::string& error);

/// What a CertificateFetcher did: kNotTried looked nowhere (no call was allowed), so the caller's
/// own pacing is not spent on it.
enum class FetchOutcome { kGot, kFailed, kNotTried };

/// A merchant's platform certificates from wherever the caller allows (the deployment's shared
/// copy, GET /v3/certificates): serial -> PEM, or kFailed/kNotTried with `error`.
using CertificateFetcher =
    std::function<FetchOutcome(const providers::Merchant& m, const V3Keys& keys,
                               std::map<std::string, std::string>& pem_by_serial, std::string& error)>;

/// The key that signed a message carrying `serial`: the WeChat Pay public key when `serial` is
/// its id, else a platform certificate this process holds; an unknown serial makes one refresh
/// through `fetch` (at most one per merchant every few seconds; none when `fetch` is empty).
/// nullptr with `why` otherwise.
crypto::PKey KeyForSerial(const providers::Merchant& m, const V3Keys& keys, const std::string& serial,
                          const CertificateFetcher& fetch, std::string& why);

/// The shared copy of certificates in the providers' cache: serial -> PEM as JSON, and back
/// (false for anything else).
std::string CertificatesJson(const std::map<std::string, std::string>& pem_by_serial);
bool CertificatesFromJson(const std::string& json, std::map<std::string, std::string>& pem_by_serial);

/// Forgets cached platform certificates (tests).
void ClearPlatformCertificates();

/// WeChat's limit for a refund's reason, in characters.
inline constexpr std::size_t kV3RefundReasonMax = 80;

/// The body of POST /v3/refund/domestic/refunds: out_trade_no, out_refund_no, reason (cut to
/// kV3RefundReasonMax characters on a character boundary), notify_url, amount{refund, total =
/// what the slip was paid, currency}. Empty when an id cannot be sent.
std::string V3RefundBody(const providers::RefundParams& p);

/// A verified v3 query answer (a Transaction) for slip `slip_id` of merchant `m`, as a
/// QueryResult: REFUND is paid, then refunded in part or whole (kPaid with `refunded`, no refunds
/// listed: v3 has no listing by trade).
providers::QueryResult ReadV3Transaction(const providers::Merchant& m, const std::string& body,
                                         const std::string& slip_id);

/// A Refund object (the create or query answer, already verified) in provider-neutral terms:
/// SUCCESS -> kOk, PROCESSING -> kProcessing, ABNORMAL/CLOSED -> kFailed; an answer about another
/// out_refund_no or trade is not believed (kUnknown).
providers::RefundResult V3RefundAnswer(const std::string& body, const providers::RefundParams& p);

/// A refund call's failure in provider-neutral terms: no answer, a 5xx, 429, SYSTEM_ERROR or an
/// unverifiable answer is kUnknown (it may have been carried out); other 4xx are WeChat's refusal
/// (kFailed, the code in the message); never connected is kFailed (nothing was sent).
providers::RefundResult V3RefundFailure(bool timeout, long status, const std::string& code,
                                        const std::string& error);

/// v3 calls and notifications; the "wx" provider hands a v3 merchant's work to this.
class WxPayV3 {
  public:
    explicit WxPayV3(WxOptions opts);

    std::string_view MerchantUsage() const;
    providers::Merchant MakeMerchant(const std::string& id, const providers::MerchantInput& in) const;

    providers::CreateResult Create(const providers::Merchant& m, const providers::CreateParams& p);
    providers::QueryResult Query(const providers::Merchant& m, const std::string& slip_id);
    providers::CloseResult Close(const providers::Merchant& m, const std::string& slip_id);
    /// A codepay trade is ended by reverse, not close (PROTOCOLS.md §1.7), asked first.
    providers::CloseResult EndScan(const providers::Merchant& m, const std::string& slip_id);

    /// POST /v3/refund/domestic/refunds (out_refund_no = our refund id, so asking twice refunds
    /// once) and GET /v3/refund/domestic/refunds/{out_refund_no}; src/providers/wxpay/v3_refund.cpp.
    providers::RefundResult Refund(const providers::Merchant& m, const providers::RefundParams& p);
    providers::RefundResult QueryRefund(const providers::Merchant& m, const providers::RefundParams& p);

    /// Parses the envelope and keeps the headers and raw body; the slip is named only inside the
    /// encrypted resource, so the notice is sealed until Open.
    providers::Notice ParseNotification(const providers::RawNotification& raw) const;
    /// Verifies with `m`'s keys and decrypts; names the slip on success. A v2 merchant, or a
    /// resource its APIv3 key does not open, is kNotAddressed.
    providers::OpenOutcome OpenNotification(const providers::Merchant& m, providers::Notice& n,
                                            std::string& reason, providers::KeyFetches& fetches) const;
    bool VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                            providers::PaidEvent& out, std::string& reason) const;
    /// 204 with no body when accepted; 4xx/5xx with {"code":"FAIL","message":...} otherwise.
    static providers::ProviderReply NotificationReply(providers::NotifyAnswer a);

    /// The JSAPI object with the RSA paySign (PROTOCOLS.md §1.7).
    static std::string JsapiParams(const V3Keys& keys, const std::string& app_id,
                                   const std::string& prepay_id, const std::string& timestamp,
                                   const std::string& nonce);

    /// GET /v3/certificates, verified and decrypted.
    bool FetchCertificates(const providers::Merchant& m, const V3Keys& keys,
                           std::map<std::string, std::string>& pem_by_serial, std::string& error) const;
    /// The certificates for a message under `serial`: the deployment's shared copy when it has
    /// that serial, else GET /v3/certificates (stored as the shared copy). With `fetches` (a
    /// notification: anyone can send one) the call is also taken off its allowance and made by
    /// one worker of all per merchant every few seconds; without, it is an answer to our own call.
    FetchOutcome Certificates(const providers::Merchant& m, const V3Keys& keys, const std::string& serial,
                              std::map<std::string, std::string>& pem_by_serial, std::string& error,
                              providers::KeyFetches* fetches) const;
    void UseCache(providers::SharedCache* cache) { cache_ = cache; }

  private:
    struct Answer {
        bool ok = false;       // a 2xx whose signature verified
        bool timeout = false;  // no trustworthy answer: the outcome is unknown
        long status = 0;
        std::string body;
        std::string code;     // the error code of a 4xx/5xx JSON answer
        std::string message;  // and its message
        std::string error;
        std::string serial, timestamp, nonce, signature;  // the Wechatpay-* headers
    };
    /// With verify=false the 2xx comes back unchecked: only /v3/certificates, which checks itself.
    Answer Call(const providers::Merchant& m, const std::string& method, const std::string& path_query,
                const std::string& body, bool verify = true) const;
    /// Whether WeChat Pay signed answer `a` (`why` says why not).
    bool Signed(const providers::Merchant& m, const V3Keys& keys, const Answer& a, std::string& why) const;
    /// The same for a 4xx/5xx, which Call leaves unchecked: only a signed error is WeChat's own
    /// word about a thing (a refund it has no record of), so a caller that acts on one asks.
    bool SignedError(const providers::Merchant& m, const Answer& a, std::string& why) const;
    providers::CreateResult Codepay(const providers::Merchant& m, const providers::CreateParams& p);
    bool Reverse(const providers::Merchant& m, const std::string& slip_id);

    WxOptions opts_;
    providers::SharedCache* cache_ = nullptr;
};

}  // namespace orderpay::wxpay
