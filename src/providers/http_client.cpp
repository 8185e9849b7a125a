// libcurl easy-handle wrapper for provider calls: one easy handle per thread, reset before each
// call, and a connection cache per thread that keeps the TLS connections to each provider open.
#include "orderpay/providers/http_client.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <cctype>
#include <chrono>

#include "orderpay/core/c_handles.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/providers/breaker.hpp"

namespace orderpay::providers {

namespace {

struct Sink {
    std::string* out;
    std::size_t max;
    bool overflow = false;
};

std::size_t OnData(char* ptr, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    std::size_t len = size * n;
    if (sink->out->size() + len > sink->max) {
        sink->overflow = true;
        return 0;  // abort the transfer
    }
    sink->out->append(ptr, len);
    return len;
}

// One header line of the response. A new status line (after a redirect or 100 Continue) starts
// the list again, so only the final response's headers remain. At most 64 headers of 8 KiB.
std::size_t OnHeader(char* ptr, std::size_t size, std::size_t n, void* user) {
    auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
    const std::size_t len = size * n;
    std::string_view line(ptr, len);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.substr(0, 5) == "HTTP/") {
        headers->clear();
        return len;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line.size() > 8192 || headers->size() >= 64)
        return len;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    headers->emplace_back(std::move(name), std::string(value));
    return len;
}

// Process-wide, set once at startup (before workers fork) from tls.ca_file.
std::string& DefaultCaFile() {
    static std::string path;
    return path;
}

// The connections (and TLS sessions, and DNS answers) a thread's calls leave open for its next
// calls: without it every provider call paid a TCP and TLS handshake. One share per thread, so
// it needs no locks (paysim's notifier sends from several threads); one per process too: a share
// inherited over fork() holds the parent's sockets, so a child starts its own and never touches
// (or closes) the parent's. curl re-sends a request once when a reused connection turns out dead
// before any answer byte; every provider call we make is idempotent on its request number.
struct ThreadCurl {
    CurlSharePtr share;
    CurlPtr easy;
    pid_t pid = 0;
};

ThreadCurl& ThisThreadCurl() {
    thread_local ThreadCurl h;
    if (h.pid != getpid()) {
        (void)h.share.release();  // the parent's: never cleaned up here
        (void)h.easy.release();
        h.share.reset(curl_share_init());
        h.pid = getpid();
        if (h.share) {
            for (curl_lock_data d : {CURL_LOCK_DATA_CONNECT, CURL_LOCK_DATA_SSL_SESSION, CURL_LOCK_DATA_DNS})
                curl_share_setopt(h.share.get(), CURLSHOPT_SHARE, d);
        }
    }
    return h;
}

// The thread's easy handle, every option back at its default. Kept between calls because
// curl_easy_perform builds an internal multi handle per easy handle (a socketpair, two fcntl,
// SIGPIPE juggling and buffers at every cleanup): ~11 of a pay/buy's 41 system calls in a worker
// when the handle was made per call. curl_easy_reset keeps only live connections, TLS sessions and
// DNS answers (libcurl's curl_easy_reset(3)), which the share holds anyway.
CURL* ResetEasyHandle(ThreadCurl& h) {
    if (h.easy)
        curl_easy_reset(h.easy.get());
    else
        h.easy.reset(curl_easy_init());
    return h.easy.get();
}

}  // namespace

void SetDefaultCaFile(std::string path) {
    DefaultCaFile() = std::move(path);
}

std::string HttpResult::Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
        if (k == lower_name) return v;
    return {};
}

void HttpGlobalInit() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    breaker::InitShared();
}

namespace {

HttpResult Perform(const std::string& method, const std::string& url, const std::string& body,
                   const std::string& content_type, const HttpOptions& opts) {
    HttpResult res;
    ThreadCurl& thread_curl = ThisThreadCurl();
    CURL* c = ResetEasyHandle(thread_curl);
    if (!c) {
        res.fail = HttpFail::kOther;
        res.error = "curl_easy_init failed";
        return res;
    }
    Sink sink{&res.body, opts.max_response};
    CurlSlistPtr headers;
    // curl_slist_append returns NULL on failure and leaves the list as it was: keep owning it
    // then (releasing it first, as this used to, leaked the whole list on that path).
    auto add_header = [&](const std::string& line) {
        if (curl_slist* next = curl_slist_append(headers.get(), line.c_str())) {
            (void)headers.release();
            headers.reset(next);
        }
    };
    if (!content_type.empty()) add_header("Content-Type: " + content_type);
    for (const auto& [k, v] : opts.headers) add_header(k + ": " + v);
    add_header("Expect:");  // no 100-continue round trip

    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    if (CURLSH* share = thread_curl.share.get()) curl_easy_setopt(c, CURLOPT_SHARE, share);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM in a forked worker
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &res.headers);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_USERAGENT, "orderpay/1");
    // Stated, not left to defaults: a provider call never goes to a peer it cannot verify.
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    const std::string& ca_file = opts.ca_file.empty() ? DefaultCaFile() : opts.ca_file;
    if (!ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
    if (!opts.client_cert_file.empty()) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, opts.client_cert_file.c_str());
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY, opts.client_key_file.c_str());
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (method == "POST" || !body.empty()) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.status);
        return res;
    }
    res.error = curl_easy_strerror(rc);
    if (sink.overflow) {
        res.fail = HttpFail::kOther;
        res.error = "response too large";
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        res.fail = HttpFail::kTimeout;
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
        res.fail = HttpFail::kConnect;
    } else {
        res.fail = HttpFail::kOther;
    }
    return res;
}

std::int64_t NowMs() {
    // CLOCK_MONOTONIC: the same clock in every process of the pool.
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

HttpResult HttpRequest(const std::string& method, const std::string& url, const std::string& body,
                       const std::string& content_type, const HttpOptions& opts) {
    const breaker::Policy& policy = breaker::CurrentPolicy();
    if (policy.timeouts <= 0) return Perform(method, url, body, content_type, opts);
    const std::string origin = breaker::Origin(url);
    breaker::Slot* slot = breaker::SlotFor(origin);
    if (!slot) return Perform(method, url, body, content_type, opts);
    if (breaker::Before(*slot, policy, NowMs()) == breaker::Gate::kRefuse) {
        HttpResult res;
        res.fail = HttpFail::kConnect;  // never sent: certainly not processed
        res.error = "not called: " + origin + " timed out " + std::to_string(policy.timeouts) +
                    " times in a row (http.breaker_timeouts); asked again within http.breaker_open_ms";
        return res;
    }
    HttpResult res = Perform(method, url, body, content_type, opts);
    const bool answered = res.fail == HttpFail::kNone;
    switch (breaker::After(*slot, policy, answered, res.fail == HttpFail::kTimeout, NowMs())) {
        case breaker::Change::kOpened:
            log::Warn("provider gateway ", origin, " timed out ", policy.timeouts,
                      " times in a row: calls to it fail at once for ", policy.open_ms,
                      " ms, then one probes it");
            break;
        case breaker::Change::kClosed:
            log::Info("provider gateway ", origin, " answers again");
            break;
        case breaker::Change::kNone:
            break;
    }
    return res;
}

}  // namespace orderpay::providers
