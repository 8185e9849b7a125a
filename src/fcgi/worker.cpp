// The worker loop: libfcgi accept with a 1 s wake-up, SIGTERM held off while a request is in
// flight (FASTCGI.md §1.6), body read to exactly CONTENT_LENGTH with a size cap.
#include "orderpay/fcgi/worker.hpp"

#include <fastcgi.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::fcgi {

namespace {

volatile sig_atomic_t g_stop = 0;

void OnStop(int) {
    g_stop = 1;
    FCGX_ShutdownPending();
}

// Owns an FCGX_Request so Finish runs on every path, including exceptions from the App.
class RequestGuard {
  public:
    explicit RequestGuard(FCGX_Request& r) : r_(r) {}
    ~RequestGuard() { FCGX_Finish_r(&r_); }
    RequestGuard(const RequestGuard&) = delete;
    RequestGuard& operator=(const RequestGuard&) = delete;

  private:
    FCGX_Request& r_;
};

const char* StatusText(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 204:
            return "No Content";
        case 302:
            return "Found";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 409:
            return "Conflict";
        case 413:
            return "Payload Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

// A repeated header line (nginx before 1.23 passes each line as a parameter of its own) is one
// field whose value is the lines' values joined by ", " (RFC 9110 section 5.3), as nginx 1.23 and
// later pass it: a handler sees "K1, K2" for two Idempotency-Key lines, never the first alone.
void AddHeader(std::map<std::string, std::string>& headers, std::string_view name, const char* value) {
    auto [it, inserted] = headers.emplace(std::string(name), value);
    if (!inserted) (it->second += ", ") += value;
}

// Copies what we need out of envp: its pointers die at FCGX_Finish_r.
http::Request BuildRequest(FCGX_ParamArray envp) {
    http::Request req;
    std::string request_uri, client_dn;
    bool client_verified = false;
    for (char** p = envp; p && *p; ++p) {
        const char* eq = std::strchr(*p, '=');
        if (!eq) continue;
        std::string_view name(*p, eq - *p);
        const char* value = eq + 1;
        if (name == "REQUEST_METHOD")
            req.method = value;
        else if (name == "DOCUMENT_URI")
            req.path = value;
        else if (name == "REQUEST_URI")
            request_uri = value;
        else if (name == "QUERY_STRING")
            req.query_string = value;
        else if (name == "CONTENT_TYPE")
            req.content_type = value;
        else if (name == "REMOTE_ADDR")
            req.remote_addr = value;
        else if (name == "REQUEST_ID")
            req.request_id = value;
        else if (name == "SSL_CLIENT_VERIFY")
            client_verified = std::string_view(value) == "SUCCESS";
        else if (name == "SSL_CLIENT_S_DN")
            client_dn = value;
        else if (name.substr(0, 5) == "HTTP_")
            AddHeader(req.headers, name, value);
    }
    // nginx sets CONTENT_TYPE from the first Content-Type line only; the request's header says
    // whether there were more, and then the type is their list (never application/json alone).
    if (auto all = req.headers.find("HTTP_CONTENT_TYPE");
        all != req.headers.end() && all->second != req.content_type)
        req.content_type = all->second;
    if (client_verified) req.client_cert_dn = std::move(client_dn);
    if (req.path.empty()) req.path = request_uri.substr(0, request_uri.find('?'));
    req.ReadQuery();
    return req;
}

// Reads the body: false with `too_large` when CONTENT_LENGTH exceeds the cap. Oversized bodies
// are drained (up to a bound) so nginx never sees us close on unread input.
bool ReadBody(FCGX_Request& r, std::size_t max_body, std::string& body, bool& too_large) {
    too_large = false;
    const char* cl = FCGX_GetParam("CONTENT_LENGTH", r.envp);
    if (!cl || !*cl) return true;
    char* end = nullptr;
    errno = 0;
    unsigned long long len = std::strtoull(cl, &end, 10);
    if (errno || !end || *end || cl[0] == '-') return false;
    if (len > max_body) {
        too_large = true;
        char sink[8192];
        std::size_t left = len > (16u << 20) ? (16u << 20) : len;
        while (left > 0) {
            int n = FCGX_GetStr(sink, static_cast<int>(left < sizeof sink ? left : sizeof sink), r.in);
            if (n <= 0) break;
            left -= static_cast<std::size_t>(n);
        }
        return true;
    }
    body.resize(len);
    std::size_t got = 0;
    while (got < len) {
        int n = FCGX_GetStr(body.data() + got, static_cast<int>(len - got), r.in);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got != len) return false;  // client went away mid-body
    return true;
}

void WriteResponse(FCGX_Request& r, const http::Response& resp) {
    std::string head = "Status: " + std::to_string(resp.status) + " " + StatusText(resp.status) + "\r\n";
    // A 204 (WeChat Pay v3's "received") has no body, so neither a type nor a length.
    if (!resp.content_type.empty()) head += "Content-Type: " + resp.content_type + "\r\n";
    if (resp.status != 204) head += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    for (const auto& [k, v] : resp.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), r.out);
    FCGX_PutStr(resp.body.data(), static_cast<int>(resp.body.size()), r.out);
}

void Serve(FCGX_Request& r, const PoolOptions& opts, App& app) {
    RequestGuard guard(r);
    const auto start = std::chrono::steady_clock::now();
    metrics::BusyBegin();
    http::Response resp;
    std::string path;
    try {
        http::Request req = BuildRequest(r.envp);
        path = req.path;
        log::BeginRequest(req.request_id, metrics::RouteLabel(req.path));
        bool too_large = false;
        if (!ReadBody(r, opts.max_body, req.body, too_large)) {
            resp = http::Fail(http::Err::kBadRequest, "incomplete request body");
        } else if (r.role != FCGI_RESPONDER) {
            // nginx only asks as a RESPONDER. An AUTHORIZER would read our 200 as "allowed" and
            // a FILTER's data stream would go unread, so neither is answered as if it were one.
            resp = http::Fail(http::Err::kBadRequest,
                              "FastCGI role " + std::to_string(r.role) + " is not served (RESPONDER only)");
        } else if (too_large) {
            resp = http::Fail(http::Err::kTooLarge);
        } else {
            resp = app.Handle(req);
        }
    } catch (const std::exception& e) {
        log::Error("unhandled exception: ", e.what());
        resp = http::Fail(http::Err::kInternal);
    }
    WriteResponse(r, resp);
    // Measured to the reply's hand-over to libfcgi (the stream flushes at Finish, on return).
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics::Request(path, resp.status, seconds);
    log::EndRequest(resp.status, seconds);
    metrics::BusyEnd();
}

// After SIGTERM, on a socket of our own: serve what is already queued, until the queue is empty
// or drain_ms has passed. The master has removed the socket path, so the queue only shrinks.
// libfcgi's accept refuses to run once it considers the process shutting down (it answers
// -9999 without accepting), so the connection is accepted here and handed to it: with ipcFd set
// and keepConnection on, FCGX_Accept_r reads the request from that connection instead of
// accepting (fcgiapp.c: "If a connection isn't open, accept a new connection"), and the
// request's own FCGI_KEEP_CONN flag (off with nginx's fastcgi_keep_conn off) closes it after.
void Drain(int listen_fd, FCGX_Request& r, const PoolOptions& opts, App& app) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.drain_ms);
    int served = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{listen_fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) break;
        // Another worker may take it first: then accept waits out the socket's 1 s timeout.
        int conn = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0) continue;
        r.ipcFd = conn;
        r.keepConnection = 1;
        if (FCGX_Accept_r(&r) < 0) {
            if (r.ipcFd >= 0) close(r.ipcFd);
            r.ipcFd = -1;
            continue;
        }
        Serve(r, opts, app);
        ++served;
    }
    if (served) log::Info("drained ", served, " queued requests");
}

}  // namespace

int RunWorker(int listen_fd, const PoolOptions& opts, const AppFactory& factory) {
    const pid_t master = getppid();
    // libfcgi ends every request with OS_Close: shutdown(SHUT_WR), then it waits for the peer to
    // close first, up to LIBFCGI_OS_CLOSE_POLL_TIMEOUT ms (default 2000; libfcgi/os_unix.c), so
    // that unread input cannot turn into a reset that loses the reply. Every request here is read
    // to CONTENT_LENGTH (ReadBody drains an oversized one) and nginx has sent it whole before it
    // reads the reply, so nothing is left to reset: with 0, libfcgi still reads what is already
    // queued (the empty STDIN record) and closes, and the worker takes the next request instead
    // of idling until nginx gets round to closing (healthz and pay/check +20-40 % in make bench).
    // An operator's own value in the environment wins.
    setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", "0", 0);
    if (FCGX_Init() != 0) {
        log::Error("FCGX_Init failed");
        return 2;
    }
    // Our handler replaces libfcgi's; no SA_RESTART, so blocking calls see EINTR and we notice.
    struct sigaction sa {};
    sa.sa_handler = OnStop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    std::unique_ptr<App> app = factory();
    if (!app) return 2;

    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);

    FCGX_Request r;
    FCGX_InitRequest(&r, listen_fd, 0);
    metrics::WorkerReady();
    while (!g_stop) {
        sigprocmask(SIG_UNBLOCK, &term, nullptr);
        int rc = FCGX_Accept_r(&r);
        sigprocmask(SIG_BLOCK, &term, nullptr);
        if (rc < 0) {
            if (getppid() != master) break;  // orphaned: the master is gone, so are we
            if (rc == -EAGAIN || rc == -EINTR || rc == -EWOULDBLOCK) continue;
            if (g_stop) break;
            log::Warn("accept failed: ", rc);
            usleep(100000);
            continue;
        }
        Serve(r, opts, *app);
    }
    if (opts.drain_backlog) Drain(listen_fd, r, opts, *app);
    return 0;
}

}  // namespace orderpay::fcgi
