// The prefork FastCGI worker pool: master supervises N single-threaded workers on one socket.
#pragma once

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
};

/// Builds the per-worker App; called in the child after fork. Returning nullptr makes the worker
/// exit with status 2 (the master then backs off before respawning).
using AppFactory = std::function<std::unique_ptr<App>()>;

/// Called in the master on SIGHUP; may update `opts.workers`. Workers are then replaced one by
/// one so they pick up the new config.
using ReloadHook = std::function<void(PoolOptions& opts)>;

/// Runs the pool until SIGTERM/SIGINT: every in-flight request finishes, then all exit.
/// Returns the process exit code.
int RunPool(PoolOptions opts, AppFactory factory, ReloadHook reload);

}  // namespace orderpay::fcgi
