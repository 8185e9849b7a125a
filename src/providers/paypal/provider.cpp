// PayPal as a registry provider: config, merchant flags, and its two kinds of message on
// pay/re_paypal: the buyer's return (GET ?token=ORDER&PayerID=..., unsigned, completed by our
// own capture) and webhooks (POST JSON, verified offline with PayPal's certificate, §3.3).

#include "orderpay/crypto/digest.hpp"
#include "orderpay/crypto/x509_chain.hpp"
#include "orderpay/http/form.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/paypal/refund.hpp"
#include "orderpay/providers/paypal/webhook.hpp"
#include "orderpay/providers/registry.hpp"

namespace orderpay::paypal {

namespace {

constexpr std::size_t kMaxBody = 64 * 1024;

std::vector<std::string> SplitHosts(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text + ",") {
        if (c == ',' || c == ' ') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    return out;
}

using http::Member;
constexpr auto Str = &http::MemberString;

std::string Field(const providers::Notice& n, std::string_view name) {
    for (const auto& [k, v] : n.fields)
        if (k == name) return v;
    return {};
}

}  // namespace

std::unique_ptr<providers::Provider> MakeProvider(const Config& cfg) {
    PaypalOptions o;
    o.gateway = cfg.Get("paypal.gateway", "https://api-m.paypal.com");
    while (!o.gateway.empty() && o.gateway.back() == '/') o.gateway.pop_back();
    o.timeouts = providers::TimeoutsFrom(cfg);
    o.cert_hosts = SplitHosts(
        cfg.Get("paypal.cert_hosts",
                "api-m.paypal.com,api-m.sandbox.paypal.com,api.paypal.com,api.sandbox.paypal.com"));
    o.ca_file = cfg.Get("paypal.ca_file", "");
    o.cert_cn_prefix = cfg.Get("paypal.cert_cn_prefix", "messageverificationcerts");
    o.cert_cn_suffix = cfg.Get("paypal.cert_cn_suffix", ".paypal.com");
    return std::make_unique<PaypalClient>(std::move(o));
}

std::string_view PaypalClient::MerchantUsage() const {
    return "merchant add ID --provider paypal --client-id C --secret-file F --webhook-id W";
}

providers::Merchant PaypalClient::MakeMerchant(const std::string& id,
                                               const providers::MerchantInput& in) const {
    auto need = [&](const char* flag) {
        std::optional<std::string> v = in.Flag(flag);
        if (!v || v->empty()) throw providers::MerchantError(std::string("missing --") + flag);
        if (v->size() > 128) throw providers::MerchantError(std::string("--") + flag + " too long");
        for (char c : *v)
            if (c <= ' ' || c == 0x7f)
                throw providers::MerchantError(std::string("--") + flag + " has spaces");
        return *v;
    };
    std::string client_id = need("client-id"), webhook_id = need("webhook-id");
    std::string secret = in.Secret("secret-file");
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) throw providers::MerchantRefusal("--secret-file is empty");
    // app_id: the REST client id; mch_id: the webhook id the signatures bind to.
    return providers::Merchant{id, "paypal", client_id, webhook_id, "SHA256withRSA", secret, "{}"};
}

bool PaypalClient::SetOfflineInput(const std::string& name, const std::string& value) {
    if (name == "cert-file") {
        offline_cert_pem_ = value;
        return true;
    }
    if (name == "webhook-id") {
        offline_webhook_id_ = value;
        return true;
    }
    return false;
}

providers::Notice PaypalClient::ParseNotification(const providers::RawNotification& raw) const {
    providers::Notice n;
    if (raw.method == "GET") {
        n.may_settle = false;  // the buyer's browser: only our capture's answer settles
        n.signed_message = false;
        std::optional<http::FormPairs> q = http::ParseForm(raw.query);
        std::string token = q ? http::FormValue(*q, "token").value_or("") : "";
        if (token.empty() || token.size() > 64) {
            n.error = "return without a PayPal order token";
            return n;
        }
        n.parsed = true;
        n.provider_ref = token;
        n.fields = {
            {"kind", "return"}, {"token", token}, {"cancel", http::FormValue(*q, "cancel").value_or("")}};
        return n;
    }
    if (raw.body.size() > kMaxBody) {
        n.error = "body too large";
        return n;
    }
    rapidjson::Document doc;
    // Strict: UTF-8 without NUL in every string and no repeated key, so no id is cut or refused
    // by PostgreSQL and no reader of this body can see another copy of a member than we did.
    if (http::ParseJsonInput(raw.body, doc).fault != http::JsonFault::kNone || !doc.IsObject()) {
        n.error = "body is not a JSON object (of UTF-8 text, each key once)";
        return n;
    }
    const std::string type = Str(&doc, "event_type"), event_id = Str(&doc, "id");
    const rapidjson::Value* res = Member(&doc, "resource");
    if (type.empty() || event_id.empty() || !res || !res->IsObject()) {
        n.error = "no id, event_type or resource";
        return n;
    }
    auto header = [&raw](const char* cgi) {
        auto it = raw.headers.find(cgi);
        return it == raw.headers.end() ? std::string() : it->second;
    };
    n.parsed = true;
    // The slip: custom_id of the capture, or of the order's first purchase unit.
    const rapidjson::Value* units = Member(res, "purchase_units");
    const rapidjson::Value* unit = units && units->IsArray() && !units->Empty() ? &(*units)[0] : nullptr;
    n.slip_id = Str(res, "custom_id");
    if (n.slip_id.empty()) n.slip_id = Str(unit, "custom_id");
    if (n.slip_id.empty() && type.rfind("CHECKOUT.ORDER.", 0) == 0) n.provider_ref = Str(res, "id");
    // A refund's resource is the refund itself: its "up" link names the capture, and the slip
    // that recorded that capture is the one refunded (a refund made at PayPal's dashboard has
    // no id of ours at all).
    // A reversal (a chargeback the buyer won) is told the same way, PayPal taking the money back
    // as a refund of the capture; a resource that is the capture itself names it as its id.
    std::string capture;
    const bool reversal = type == "PAYMENT.CAPTURE.REVERSED";
    if (type == "PAYMENT.CAPTURE.REFUNDED" || reversal) {
        if (const rapidjson::Value* links = Member(res, "links"); links && links->IsArray())
            for (const auto& l : links->GetArray())
                if (Str(&l, "rel") == "up") capture = CaptureOfRefundLinks(Str(&l, "href"));
        if (reversal && capture.empty()) capture = Str(res, "id");
        if (n.slip_id.empty()) n.provider_ref = capture;
    }
    // The PayPal order the message is about: a capture names it in supplementary_data, an
    // order event is the order. Compared with the slip's own (BusinessChecks), so a capture of
    // another order that carries our slip id in custom_id settles nothing.
    std::string order_id;
    if (type.rfind("CHECKOUT.ORDER.", 0) == 0)
        order_id = Str(res, "id");
    else if (type.rfind("PAYMENT.CAPTURE.", 0) == 0)
        order_id = Str(Member(Member(res, "supplementary_data"), "related_ids"), "order_id");
    const rapidjson::Value* amount = Member(res, "amount");
    if (!amount) amount = Member(unit, "amount");
    n.fields = {{"kind", "webhook"},
                {"event_id", event_id},
                {"event_type", type},
                {"resource_id", Str(res, "id")},
                {"resource_status", Str(res, "status")},
                {"value", Str(amount, "value")},
                {"currency", Str(amount, "currency_code")},
                {"invoice_id", Str(res, "invoice_id")},
                {"capture_id", capture},
                {"order_id", order_id},
                {"transmission_id", header("HTTP_PAYPAL_TRANSMISSION_ID")},
                {"transmission_time", header("HTTP_PAYPAL_TRANSMISSION_TIME")},
                {"transmission_sig", header("HTTP_PAYPAL_TRANSMISSION_SIG")},
                {"cert_url", header("HTTP_PAYPAL_CERT_URL")},
                {"auth_algo", header("HTTP_PAYPAL_AUTH_ALGO")},
                {"body", raw.body}};
    return n;
}

providers::SignatureCheck PaypalClient::VerifyWebhook(const providers::Merchant& m,
                                                      const providers::Notice& n, std::string& reason) const {
    using S = providers::SignatureCheck;
    const std::string tid = Field(n, "transmission_id"), ttime = Field(n, "transmission_time");
    const std::string sig = Field(n, "transmission_sig"), url = Field(n, "cert_url");
    const std::string algo = Field(n, "auth_algo");
    if (tid.empty() || ttime.empty() || sig.empty() || url.empty() || algo.empty()) {
        reason = "missing PAYPAL-TRANSMISSION-ID/-TIME/-SIG, PAYPAL-CERT-URL or PAYPAL-AUTH-ALGO";
        return S::kInvalid;
    }
    // Pinned: never instantiate whatever algorithm the header names (§4.10).
    if (algo != "SHA256withRSA") {
        reason = "PAYPAL-AUTH-ALGO " + algo.substr(0, 40) + " is not SHA256withRSA";
        return S::kInvalid;
    }
    if (tid.size() > 128 || ttime.size() > 64 || sig.size() > 2048) {
        reason = "transmission headers too long";
        return S::kInvalid;
    }
    bool unchecked = false;
    crypto::PKey key = CertKey(url, reason, unchecked);
    if (!key) return unchecked ? S::kUnchecked : S::kInvalid;
    const std::string webhook_id = offline_webhook_id_.empty() ? m.mch_id : offline_webhook_id_;
    const std::string signed_text = SignedString(tid, ttime, webhook_id, Field(n, "body"));
    if (!crypto::RsaSha256VerifyBase64(key, signed_text, sig)) {
        reason = "signature does not verify (webhook " + webhook_id + ")";
        return S::kInvalid;
    }
    reason = "SHA256withRSA ok (webhook " + webhook_id + ")";
    return S::kValid;
}

bool PaypalClient::VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                                      providers::PaidEvent& out, std::string& reason) const {
    return CheckNotification(m, n, out, reason) == providers::SignatureCheck::kValid;
}

providers::SignatureCheck PaypalClient::CheckNotification(const providers::Merchant& m,
                                                          const providers::Notice& n,
                                                          providers::PaidEvent& out,
                                                          std::string& reason) const {
    using S = providers::SignatureCheck;
    out.slip_id = n.slip_id;
    out.app_id = m.app_id;
    out.mch_id = m.mch_id;
    if (Field(n, "kind") == "return") {
        // Unsigned by nature: it only names an order; the capture we make is the proof.
        const bool cancel = !Field(n, "cancel").empty();
        out.status = cancel ? "CANCELLED" : "APPROVED";
        out.approved = !cancel;
        reason = cancel ? "buyer cancelled at PayPal" : "buyer return: completed by our own capture";
        return S::kValid;
    }
    if (const S s = VerifyWebhook(m, n, reason); s != S::kValid) return s;
    const std::string type = Field(n, "event_type");
    out.status = type;
    out.event_id = Field(n, "event_id");
    out.order_ref = Field(n, "order_id");
    out.currency = Field(n, "currency");
    if (std::optional<std::int64_t> minor = ParseAmount(Field(n, "value"), out.currency)) out.amount = *minor;
    if (type == "PAYMENT.CAPTURE.COMPLETED") {
        out.paid = Field(n, "resource_status") == "COMPLETED";
        out.txn_id = Field(n, "resource_id");
    } else if (type == "CHECKOUT.ORDER.APPROVED") {
        out.approved = true;
    } else if (type == "PAYMENT.CAPTURE.DENIED" || type == "PAYMENT.CAPTURE.DECLINED") {
        out.closed = true;
    } else if (type == "PAYMENT.CAPTURE.REFUNDED") {
        // invoice_id is our refund id (sent with the refund); PayPal's refund id is the resource.
        const std::string st = Field(n, "resource_status");
        out.txn_id = Field(n, "capture_id");
        providers::PaidEvent::Refund r;
        r.refund_id = Field(n, "invoice_id");
        r.provider_refund_id = Field(n, "resource_id");
        // Every refund event carries its amount: one that does not parse in its currency (a
        // missing or lower-case currency code, "abc") is refused, never read as "not reported".
        r.amount = out.amount;
        r.currency = out.currency;
        r.amount_unreadable = !ParseAmount(Field(n, "value"), out.currency).has_value();
        r.ok = st == "COMPLETED";
        r.failed = st == "FAILED" || st == "CANCELLED";
        out.refund = r;
    } else if (type == "PAYMENT.CAPTURE.REVERSED") {
        // A buyer's dispute won: a cue to ask PayPal whether the capture was taken back.
        out.reversed = true;
        out.txn_id = Field(n, "capture_id");
        if (Field(n, "resource_id") != out.txn_id) out.reversal_id = Field(n, "resource_id");
    }
    // PENDING changes nothing.
    return S::kValid;
}

// PayPal stops on any 2xx (§3.3); a refused one gets 400 and an error of ours 500 (resent).
providers::ProviderReply PaypalClient::NotificationReply(providers::NotifyAnswer a) const {
    providers::ProviderReply r;
    r.content_type = "application/json";
    switch (a) {
        case providers::NotifyAnswer::kAccepted:
            r.status = 200;
            r.body = "{\"result\":\"success\"}";
            break;
        case providers::NotifyAnswer::kMalformed:
        case providers::NotifyAnswer::kRefused:
            r.status = 400;
            r.body = "{\"result\":\"refused\"}";
            break;
        case providers::NotifyAnswer::kError:
            r.status = 500;
            r.body = "{\"result\":\"error\"}";
            break;
    }
    return r;
}

}  // namespace orderpay::paypal
