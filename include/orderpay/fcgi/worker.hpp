// One worker process: accept, build the Request, call the App, write the reply, repeat.
#pragma once

#include "orderpay/fcgi/pool.hpp"

namespace orderpay::fcgi {

/// Runs in a forked child until SIGTERM (finishing the current request) or until the master
/// is gone. Returns the exit status for _exit().
int RunWorker(int listen_fd, const PoolOptions& opts, const AppFactory& factory);

}  // namespace orderpay::fcgi
