// The master: owns the listening socket, forks workers, respawns the dead with backoff, drains on
// SIGTERM and rolls workers over on SIGHUP. It never touches a request or the database.
#include "orderpay/fcgi/pool.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"
#include "orderpay/fcgi/worker.hpp"

namespace orderpay::fcgi {

namespace {

volatile sig_atomic_t g_term = 0, g_hup = 0;

void OnSignal(int sig) {
    if (sig == SIGTERM || sig == SIGINT) g_term = 1;
    if (sig == SIGHUP) g_hup = 1;
}

bool IsListeningSocket(int fd) {
    int val = 0;
    socklen_t len = sizeof val;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) == 0 && val;
}

// Opens the unix socket ourselves rather than with FCGX_OpenSocket, which unlinks a live
// socket (letting a second instance steal it) and exit()s on error (FASTCGI.md §1.5).
int OpenUnixSocket(const std::string& path, int backlog) {
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof addr.sun_path) {
        log::Error("listen: socket path empty or too long");
        return -1;
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int probe = socket(AF_UNIX, SOCK_STREAM, 0);
    if (probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        close(probe);
        log::Error("listen: another process already serves ", path);
        return -1;
    }
    if (probe >= 0) close(probe);
    unlink(path.c_str());  // stale socket from a crash: nobody answered the probe
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0117);  // 0660: only our group (nginx's) may connect
    int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    umask(old);
    if (rc != 0 || listen(fd, backlog) != 0) {
        log::Error("listen on ", path, ": ", std::strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int ListenFd(const PoolOptions& opts, bool& owned) {
    owned = false;
    // spawn-fcgi and systemd's StandardInput=socket hand us the socket as fd 0.
    if (IsListeningSocket(0)) return 0;
    // systemd's LISTEN_FDS protocol (sd_listen_fds) without linking libsystemd.
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    if (pid && fds && std::atoi(pid) == getpid() && std::atoi(fds) >= 1 && IsListeningSocket(3)) return 3;
    owned = true;
    return OpenUnixSocket(opts.socket_path, opts.backlog);
}

struct Child {
    int generation;
    std::chrono::steady_clock::time_point started;
    int slot;  // metrics slot (metrics.hpp): the lowest one no live child holds
};

int FreeSlot(const std::map<pid_t, Child>& children) {
    const int n = metrics::SlotCount();
    if (n == 0) return -1;
    std::vector<bool> used(n);
    for (const auto& [pid, c] : children)
        if (c.slot >= 0) used[c.slot] = true;
    for (int i = 0; i < n; ++i)
        if (!used[i]) return i;
    return static_cast<int>(children.size() % n);  // shared slot: still exact, see UseSlot
}

}  // namespace

RespawnPacer::RespawnPacer(int workers) : budget_(std::max(4, workers)), rate_(std::max(4, workers)) {}

std::chrono::milliseconds RespawnPacer::OnDeath(Clock::time_point now, bool was_ready) {
    using std::chrono::milliseconds;
    if (!was_ready) {
        backoff_ = std::min(milliseconds(30000), backoff_.count() > 0 ? backoff_ * 2 : milliseconds(250));
        return backoff_;
    }
    backoff_ = milliseconds(0);
    if (refilled_ != Clock::time_point{}) {
        const double elapsed = std::chrono::duration<double>(now - refilled_).count();
        budget_ = std::min(rate_, budget_ + std::max(0.0, elapsed) * rate_);
    }
    refilled_ = now;
    if (budget_ >= 1) {
        budget_ -= 1;
        return milliseconds(0);
    }
    // Out of budget: wait for the next replacement's share, which it then spends.
    const auto wait = milliseconds(static_cast<long>((1 - budget_) / rate_ * 1000) + 1);
    budget_ = 0;
    refilled_ = now + wait;
    return wait;
}

int RunPool(PoolOptions opts, AppFactory factory, ReloadHook reload) {
    bool owned = false;
    int fd = ListenFd(opts, owned);
    if (fd < 0) return 1;
    opts.drain_backlog = owned;
    // accept() wakes every second so a worker notices SIGTERM even in libfcgi's window between
    // its shutdown check and accept() (FASTCGI.md §1.6).
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaction(sig, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    sigset_t block, orig;
    sigemptyset(&block);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&block, sig);
    sigprocmask(SIG_BLOCK, &block, &orig);

    std::map<pid_t, Child> children;
    int generation = 0;
    auto fork_backoff = std::chrono::milliseconds(0);
    auto next_spawn = std::chrono::steady_clock::now();
    RespawnPacer pacer(opts.workers);

    auto spawn = [&]() {
        const int slot = FreeSlot(children);
        pid_t pid = fork();
        if (pid == 0) {
            metrics::UseSlot(slot);
            // Default actions first, then unblock: a SIGTERM the master sent between fork() and
            // here is pending, and must kill this new worker rather than reach the master's
            // handler copy (which would drop it and leave the worker running, the master
            // waiting for it forever).
            struct sigaction dfl {};
            dfl.sa_handler = SIG_DFL;
            for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaction(sig, &dfl, nullptr);
            sigprocmask(SIG_SETMASK, &orig, nullptr);
            _exit(RunWorker(fd, opts, factory));
        }
        if (pid < 0) {
            // Out of processes or memory: try again later, doubling the wait, and keep serving
            // signals meanwhile (a SIGTERM must still stop us).
            fork_backoff = std::min(std::chrono::milliseconds(30000),
                                    fork_backoff.count() ? fork_backoff * 2 : std::chrono::milliseconds(250));
            next_spawn = std::chrono::steady_clock::now() + fork_backoff;
            log::Error("fork: ", std::strerror(errno), "; next try in ", fork_backoff.count(), " ms");
            return false;
        }
        fork_backoff = std::chrono::milliseconds(0);
        children[pid] = Child{generation, std::chrono::steady_clock::now(), slot};
        return true;
    };
    auto live_current = [&]() {
        int n = 0;
        for (auto& [pid, c] : children) n += c.generation == generation;
        return n;
    };

    metrics::SetWorkersConfigured(opts.workers);
    log::Info(opts.name, " master started: ", opts.workers, " workers");
    while (!g_term) {
        auto now = std::chrono::steady_clock::now();
        while (!g_term && live_current() < opts.workers && now >= next_spawn && spawn()) {
        }
        // Wait for a signal; poll every 100 ms while a respawn is pending behind the backoff.
        timespec ts{0, 100 * 1000 * 1000};
        // sigtimedwait consumes the signal without running the handler: record it by hand.
        int sig = sigtimedwait(&block, nullptr, &ts);
        if (sig == SIGTERM || sig == SIGINT) g_term = 1;
        if (sig == SIGHUP) g_hup = 1;

        int status = 0;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            auto it = children.find(pid);
            if (it == children.end()) continue;
            bool current = it->second.generation == generation;
            auto lived = std::chrono::steady_clock::now() - it->second.started;
            const int slot = it->second.slot;
            // Its own ready mark, read before the slot is cleared. Without the shared region, or
            // when a slot-mate overwrote the mark (more workers than slots), a worker that lived
            // 2 s counts as one that was serving, as before the mark.
            const bool ready =
                (metrics::Enabled() && metrics::WasReady(slot, pid)) || lived >= std::chrono::seconds(2);
            // A worker killed inside a request leaves its busy flag set: cleared for the next.
            metrics::ClearSlot(slot, pid);
            children.erase(it);
            if (!current) continue;  // retired by a reload: its replacement already runs
            metrics::WorkerRestarted();
            if (WIFSIGNALED(status)) {
                log::Warn("worker ", pid, " killed by signal ", WTERMSIG(status), "; respawning");
            } else {
                log::Warn("worker ", pid, " exited with status ", WEXITSTATUS(status), "; respawning");
            }
            const auto now_dead = std::chrono::steady_clock::now();
            const std::chrono::milliseconds wait = pacer.OnDeath(now_dead, ready);
            next_spawn = now_dead + wait;
            if (wait.count()) log::Warn("next worker start in ", wait.count(), " ms");
        }
        if (g_hup && !g_term) {
            g_hup = 0;
            // A refused config keeps the workers too: they run the config the master kept.
            if (reload && !reload(opts)) continue;
            metrics::SetWorkersConfigured(opts.workers);
            ++generation;
            log::Info("reload: replacing workers (generation ", generation, ")");
            pacer = RespawnPacer(opts.workers);
            fork_backoff = std::chrono::milliseconds(0);
            next_spawn = std::chrono::steady_clock::now();
            for (int i = 0; i < opts.workers && spawn(); ++i) {
            }
            for (auto& [cpid, c] : children)
                if (c.generation != generation) kill(cpid, SIGTERM);
        }
    }

    log::Info(opts.name, " stopping: draining ", children.size(), " workers");
    // Nothing new can queue once the path is gone (nginx's connect fails at once and it may try
    // another upstream); what is queued already is served by the draining workers.
    if (owned) unlink(opts.socket_path.c_str());
    for (auto& [pid, c] : children) kill(pid, SIGTERM);
    while (!children.empty()) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == ECHILD) break;
        if (pid <= 0) continue;
        children.erase(pid);
        // A worker that crashes while draining is a bug worth seeing, not a quiet exit.
        if (WIFSIGNALED(status))
            log::Warn("worker ", pid, " died draining: signal ", WTERMSIG(status));
        else if (WEXITSTATUS(status) != 0)
            log::Warn("worker ", pid, " exited draining with status ", WEXITSTATUS(status));
    }
    if (owned) close(fd);
    log::Info(opts.name, " stopped");
    return 0;
}

}  // namespace orderpay::fcgi
