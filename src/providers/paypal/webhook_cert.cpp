// PayPal's webhook certificates: where a webhook's PAYPAL-CERT-URL is downloaded, checked,
// remembered per worker and shared with the others, and what a flood of forged URLs may cost
// (split from provider.cpp, which keeps parsing and verifying the messages themselves).
#include <chrono>

#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"
#include "orderpay/crypto/x509_chain.hpp"
#include "orderpay/providers/http_client.hpp"
#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/paypal/webhook.hpp"

namespace orderpay::paypal {

namespace {

constexpr std::size_t kMaxCerts = 32;
constexpr long long kCertRecheckMs = 600 * 1000;
constexpr std::int64_t kCertShareS = 24 * 3600;
const std::string kCertCachePrefix = "paypal.cert:";
constexpr long long kCertFailedMs = 300 * 1000;
// A download that got no answer or a 5xx says nothing of the certificate: it is tried again
// soon, but not by every webhook naming it, each of which would hold the worker for a timeout.
constexpr long long kCertUnreachableMs = 30 * 1000;

}  // namespace

// The leaf of `pem` checked as a webhook's certificate: chain to a trusted root (not for an
// operator's --cert-file) with valid dates, and the CN rule.
crypto::LeafCert PaypalClient::CheckCert(const std::string& pem, bool chain) const {
    crypto::LeafCert leaf = crypto::CheckLeafCert(pem, opts_.ca_file, chain);
    if (leaf.ok && !CnAllowed(leaf.cn, opts_.cert_cn_prefix, opts_.cert_cn_suffix)) {
        leaf.ok = false;
        leaf.error =
            "certificate CN " + leaf.cn + " is not " + opts_.cert_cn_prefix + "*" + opts_.cert_cn_suffix;
    }
    return leaf;
}

// The PEM at `url` not held by this process: another worker's verified copy (provider_cache),
// else a download, at most new_certs_per_minute_ a minute per process. A flood of forged webhooks
// naming new URLs spends the downloads, but not the certificates the workers already share.
std::optional<std::string> PaypalClient::FetchCertPem(const std::string& url, long long now, bool& shared,
                                                      std::string& reason, bool& unchecked) const {
    shared = false;
    unchecked = false;
    if (cache_) {
        if (std::optional<std::string> pem = cache_->Get(kCertCachePrefix + url)) {
            shared = true;
            return pem;
        }
    }
    if (now - download_window_ms_ >= 60000) {
        if (refused_in_window_ > 1)
            log::Warn("paypal: ", refused_in_window_, " webhook certificate downloads refused in the ",
                      "previous counted minute (budget ", new_certs_per_minute_,
                      " new URLs a minute a worker)");
        download_window_ms_ = now;
        downloads_in_window_ = 0;
        refused_in_window_ = 0;
    }
    if (downloads_in_window_ >= new_certs_per_minute_) {
        // Someone is naming many new certificate URLs (PayPal uses a handful): an attack to
        // watch for, logged once a minute (the next minute's first call sums it up) and counted.
        metrics::KeyFetchRefused("paypal");
        if (refused_in_window_++ == 0)
            log::Warn("paypal: webhook certificate download budget spent (", new_certs_per_minute_,
                      " new URLs this minute in this worker); webhooks naming other new URLs are answered ",
                      "as a temporary error until the minute ends; first refused: ", url.substr(0, 200));
        reason = "certificate not downloaded: " + std::to_string(new_certs_per_minute_) +
                 " new certificate URLs already this minute in this process";
        unchecked = true;
        return std::nullopt;
    }
    ++downloads_in_window_;
    providers::HttpOptions ho;
    ho.connect_timeout_ms = opts_.timeouts.connect_ms;
    ho.timeout_ms = opts_.timeouts.total_ms;
    ho.max_response = 64 * 1024;
    ho.ca_file = opts_.ca_file;
    providers::HttpResult r = providers::HttpRequest("GET", url, "", "", ho);
    if (r.fail != providers::HttpFail::kNone || r.status != 200) {
        // Only an answer about the URL itself (404, 403...) says there is no certificate there;
        // no answer, or a busy host's, is "not now". A reply too large, a URL curl refuses or a
        // TLS failure (kOther) would fail the same way on every replay: refused, not kept
        // `error` for ever (review s26-diff #5).
        unchecked =
            r.fail == providers::HttpFail::kTimeout || r.fail == providers::HttpFail::kConnect ||
            (r.fail == providers::HttpFail::kNone && (r.status >= 500 || r.status == 408 || r.status == 429));
        reason = "certificate download failed: " +
                 (r.fail != providers::HttpFail::kNone ? r.error : "http " + std::to_string(r.status));
        RememberCert(url, {"", nullptr, reason, now, unchecked});
        return std::nullopt;
    }
    return std::move(r.body);
}

crypto::PKey PaypalClient::CertKey(const std::string& url, std::string& reason, bool& unchecked) const {
    unchecked = false;
    if (!offline_cert_pem_.empty()) {
        // notify verify --cert-file: taken as given (no chain), nothing cached.
        crypto::LeafCert leaf = CheckCert(offline_cert_pem_, false);
        reason = leaf.error;
        return leaf.ok ? leaf.key : nullptr;
    }
    if (!CertUrlAllowed(url, opts_.cert_hosts, reason)) return nullptr;
    // A webhook costs its sender nothing, forged or not, so what it makes us do is bounded: a
    // certificate's verdict is kept per URL (a passed one checked again from its kept PEM every
    // 10 minutes, for its dates; a failed one for five minutes, one that could not be downloaded
    // for 30 seconds), a passed one is shared with the other workers, and a worker downloads at
    // most a few new URLs a minute. PayPal signs with a handful of certificates and rotates them
    // rarely (review s25-attack #2).
    //
    // A URL not downloaded (the budget spent, no answer, a 5xx) is "unchecked", not forged: the
    // webhook is kept as `error` and answered 500, so PayPal resends it (for three days) and
    // `inbox replay --verdict error` judges it again; refusing it would file a genuine payment
    // as rejected, where nothing looks again. The price: while a flood of forged new URLs keeps
    // the budget spent, each of them is also answered 500 and kept as `error`, not `rejected`.
    // That gains its sender nothing (a 500 settles nothing, and costs us no more than a 400: the
    // row is stored either way and no download is made), the certificates in use are cached and
    // shared so the flood cannot turn known-good webhooks into errors, and the error verdicts,
    // the log line and orderpay_key_fetches_refused_total make the flood visible. `inbox
    // replay` raises the pace to 600 new URLs a minute (LiftKeyFetchPace): it downloads each of
    // the flood's URLs once, PayPal's host answers 404, and those rows are rejected for good; the
    // rest stay `error` for the next replay, or go with the unverified rows (notify.keep_rejected_days).
    const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
    std::string pem;
    bool shared = false;
    if (auto it = certs_.find(url); it != certs_.end()) {
        const CachedCert& c = it->second;
        if (c.key && now - c.checked_ms < kCertRecheckMs) return c.key;
        if (!c.key && c.transient && now - c.checked_ms < kCertUnreachableMs) {
            reason =
                "the certificate at this URL could not be downloaded within the last 30 seconds: " + c.why;
            unchecked = true;
            return nullptr;
        }
        if (!c.key && !c.transient && now - c.checked_ms < kCertFailedMs) {
            reason = "the certificate at this URL failed within the last 5 minutes: " + c.why;
            return nullptr;
        }
        pem = c.pem;
    }
    if (pem.empty()) {
        std::optional<std::string> got = FetchCertPem(url, now, shared, reason, unchecked);
        if (!got) return nullptr;
        pem = std::move(*got);
    }
    crypto::LeafCert leaf = CheckCert(pem, true);
    if (!leaf.ok) {
        reason = leaf.error;
        RememberCert(url, {"", nullptr, reason, now});
        return nullptr;
    }
    if (cache_ && !shared) cache_->Put(kCertCachePrefix + url, pem, kCertShareS);
    RememberCert(url, {std::move(pem), leaf.key, "", now});
    return leaf.key;
}

void PaypalClient::RememberCert(const std::string& url, CachedCert c) const {
    // Bounded. Failed URLs go first, so a flood of them does not push out the certificates in
    // use, which could then not be fetched again within the minute's downloads.
    if (certs_.size() >= kMaxCerts && !certs_.count(url))
        std::erase_if(certs_, [](const auto& e) { return !e.second.key; });
    if (certs_.size() >= kMaxCerts && !certs_.count(url)) certs_.clear();
    certs_[url] = std::move(c);
}

}  // namespace orderpay::paypal
