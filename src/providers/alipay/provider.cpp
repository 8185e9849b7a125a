// Alipay as a registry provider: its config, its merchant flags (keys stay in PEM files, checked
// when the merchant is added), and its notification: the POST form, or the buyer's return URL
// (GET), which is verified the same way but never settles (PROTOCOLS.md §2.5-§2.6).
#include "orderpay/http/form.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/alipay/client.hpp"
#include "orderpay/providers/registry.hpp"

namespace orderpay::alipay {

std::unique_ptr<providers::Provider> MakeProvider(const Config& cfg) {
    AlipayOptions o;
    o.gateway = cfg.Get("alipay.gateway", "https://openapi.alipay.com/gateway.do");
    o.timeouts = providers::TimeoutsFrom(cfg);
    o.scan_poll_ms = static_cast<int>(cfg.GetInt("alipay.scan_poll_ms", 5000));
    o.scan_poll_tries = static_cast<int>(cfg.GetInt("alipay.scan_poll_tries", 5));
    o.cancel_tries = static_cast<int>(cfg.GetInt("alipay.cancel_tries", 3));
    return std::make_unique<AlipayClient>(std::move(o));
}

std::string_view AlipayClient::MerchantUsage() const {
    return "merchant add ID --provider zfb --app-id A --seller-id PID --app-private-key-file F\n"
           "             (--alipay-public-key-file F | --app-cert-file F --alipay-cert-file F "
           "--alipay-root-cert-file F)";
}

// The files are loaded here with the service's own loader, so a bad path or key fails now.
providers::Merchant AlipayClient::MakeMerchant(const std::string& id,
                                               const providers::MerchantInput& in) const {
    std::string options = "{";
    auto add = [&](const char* flag, const char* key) {
        std::optional<std::string> path = in.Path(flag);
        if (!path) return false;
        options += std::string(options.size() > 1 ? "," : "") + http::JsonString(key) + ":" +
                   http::JsonString(*path);
        return true;
    };
    if (!add("app-private-key-file", "app_private_key_file"))
        throw providers::MerchantError("missing --app-private-key-file");
    if (add("alipay-cert-file", "alipay_cert_file")) {
        if (!add("app-cert-file", "app_cert_file") || !add("alipay-root-cert-file", "alipay_root_cert_file"))
            throw providers::MerchantError(
                "certificate mode needs --app-cert-file, --alipay-cert-file and --alipay-root-cert-file");
    } else if (!add("alipay-public-key-file", "alipay_public_key_file")) {
        throw providers::MerchantError("missing --alipay-public-key-file (or the three certificate files)");
    }
    options += "}";
    auto need = [&](const char* flag) {
        std::optional<std::string> v = in.Flag(flag);
        if (!v || v->empty()) throw providers::MerchantError(std::string("missing --") + flag);
        return *v;
    };
    providers::Merchant m{id, "zfb", need("app-id"), need("seller-id"), "RSA2", "", options};
    std::string error;
    if (!LoadKeys(m, error)) throw providers::MerchantRefusal(error);
    return m;
}

// total_amount is CNY yuan with two decimals, [0.01, 100000000.00] (alipay.trade.precreate/pay).
std::optional<providers::ChargeRefusal> AlipayClient::CheckCharge(std::int64_t amount,
                                                                  std::string_view currency) const {
    using K = providers::ChargeRefusal::Kind;
    if (currency != "CNY") return providers::ChargeRefusal{K::kCurrency, "Alipay charges CNY only"};
    if (amount < 1) return providers::ChargeRefusal{K::kAmount, "Alipay charges at least 0.01 CNY"};
    if (amount > 10000000000)
        return providers::ChargeRefusal{K::kAmount, "Alipay charges at most 100000000.00 CNY"};
    return std::nullopt;
}

namespace {

// The signed `charset` names the encoding of the bytes (PROTOCOLS.md §2.6). orderpay verifies
// the bytes as received and reads only ASCII fields, so the encodings Alipay sends (utf-8 mostly,
// gbk or gb2312 for older apps) all verify and settle; absent, it is UTF-8 (the Java SDK's
// default). Any other name (latin1, iso-8859-1, garbage) is a message orderpay cannot say it
// read as its sender wrote it: refused, not verified as if it were UTF-8 (review s30 Info).
std::string CharsetRefusal(const http::FormPairs& pairs) {
    const std::string charset = http::FormValue(pairs, "charset").value_or("");
    if (charset.empty()) return {};
    for (std::string_view known : {"utf-8", "gbk", "gb2312"})
        if (http::EqualsAsciiNoCase(charset, known)) return {};
    return "charset " + http::QuotedName(charset) + " is not one orderpay reads (utf-8, gbk, gb2312)";
}

}  // namespace

providers::Notice AlipayClient::ParseNotification(const providers::RawNotification& raw) const {
    providers::Notice n;
    n.may_settle = raw.method == "POST";
    // The return URL carries its parameters in the query string; the notification in the body.
    std::optional<http::FormPairs> pairs = http::ParseForm(n.may_settle ? raw.body : raw.query);
    if (!pairs || pairs->empty()) {
        n.error = "malformed form";
        return n;
    }
    // One value verified and another used is what a repeated name could give (the signature
    // check refuses it too; here it is refused before anything is read, naming it).
    if (std::optional<std::string> twice = http::RepeatedName(*pairs)) {
        n.error = "parameter " + http::QuotedName(*twice) + " is given more than once";
        return n;
    }
    if (std::string why = CharsetRefusal(*pairs); !why.empty()) {
        n.error = why;
        return n;
    }
    // Every asynchronous notification says notify_type=trade_status_sync (PROTOCOLS.md §2.6); the
    // buyer's return carries the same signed fields without it. POSTed here, a return was taken
    // for a notification: answered "success" and stored `ignored`, unmarked, for good (review
    // s28-attack #2). It is no notification: refused unread, Alipay's "fail", with the unverified.
    if (n.may_settle && http::FormValue(*pairs, "notify_type").value_or("") != "trade_status_sync") {
        n.error = "not an Alipay notification (no notify_type=trade_status_sync)";
        return n;
    }
    n.parsed = true;
    n.slip_id = http::FormValue(*pairs, "out_trade_no").value_or("");
    n.fields = std::move(*pairs);
    return n;
}

bool AlipayClient::VerifyNotification(const providers::Merchant& m, const providers::Notice& n,
                                      providers::PaidEvent& out, std::string& reason) const {
    if (!VerifyNotificationFor(m, n.fields, out, reason)) return false;
    out.closed = out.status == "TRADE_CLOSED";
    return true;
}

// Exactly the 7 bytes "success": anything else makes Alipay retry for 25 hours (§2.6).
providers::ProviderReply AlipayClient::NotificationReply(providers::NotifyAnswer a) const {
    providers::ProviderReply r;
    r.status = a == providers::NotifyAnswer::kError ? 500 : 200;
    r.content_type = "text/plain";
    r.body = a == providers::NotifyAnswer::kAccepted ? "success" : "fail";
    return r;
}

}  // namespace orderpay::alipay
