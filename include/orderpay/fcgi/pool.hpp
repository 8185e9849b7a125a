// The prefork FastCGI worker pool: master supervises N single-threaded workers on one socket.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "orderpay/http/request.hpp"

namespace orderpay::fcgi {

/// One worker's application: built after fork (so it can own a database connection), then
/// asked to handle requests one at a time.
class App {
  public:
    virtual ~App() = default;
    virtual http::Response Handle(const http::Request& req) = 0;
};

struct PoolOptions {
    std::string name = "orderpayd";  // process title prefix in logs
    std::string socket_path;         // used when fd 0 is not already a listening socket
    int workers = 8;
    int backlog = 256;
    std::size_t max_body = 64 * 1024;  // larger bodies get 413 without being handled
    // On SIGTERM with a socket of our own, workers go on accepting what is already queued (up to
    // this long) before they exit, so a connection nginx made before the stop is served, not
    // reset. An inherited socket (systemd) keeps its queue for the next instance instead.
    int drain_ms = 10000;
    bool drain_backlog = false;  // set by RunPool: true when it bound the socket itself
};

/// Builds the per-worker App; called in the child after fork. Returning nullptr makes the worker
/// exit with status 2 (the master then backs off before respawning).
using AppFactory = std::function<std::unique_ptr<App>()>;

/// How long the master waits before it replaces a worker that died (pure: unit-tested).
/// A worker that never got ready to take requests (its App could not be built) is retried after
/// 250 ms, doubling up to 30 s, so one that cannot start does not spin the CPU. One that was
/// serving is replaced at once: what killed it was a request (or the OOM killer), and a backoff
/// there let a run of such requests keep the pool empty for up to 30 s. Those immediate
/// replacements come out of a budget of max(4, workers), refilled at that many per second: a
/// stream of requests that each crash a worker costs at most that many forks (and database
/// connections) a second, and the pool is refilled within 1 / that rate once the stream stops.
class RespawnPacer {
  public:
    using Clock = std::chrono::steady_clock;
    explicit RespawnPacer(int workers);
    /// A worker died at `now`; the wait before the pool may be refilled.
    std::chrono::milliseconds OnDeath(Clock::time_point now, bool was_ready);

  private:
    double budget_;  // immediate replacements left (refilled at `rate_` per second up to `rate_`)
    double rate_;
    Clock::time_point refilled_{};
    std::chrono::milliseconds backoff_{0};
};

/// Called in the master on SIGHUP; may update `opts.workers`. When it took the new config (true)
/// the workers are replaced one by one so they pick it up; a refused one (false) leaves them be.
using ReloadHook = std::function<bool(PoolOptions& opts)>;

/// Runs the pool until SIGTERM/SIGINT: every in-flight request finishes (and, on a socket of our
/// own, every queued one: the path is removed first so nothing new queues), then all exit.
/// Returns the process exit code.
int RunPool(PoolOptions opts, AppFactory factory, ReloadHook reload);

}  // namespace orderpay::fcgi
