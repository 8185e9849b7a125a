// The scan gate's table: lock-free places in shared memory, freed by RAII or, for a worker that
// died holding one, by the next taker noticing its pid is gone.
#include "orderpay/app/scan_gate.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <new>

#include "orderpay/core/config.hpp"

namespace orderpay::app::scan_gate {

static_assert(std::atomic<std::int32_t>::is_always_lock_free, "places are shared by processes");

namespace {

Table*& TablePtr() {
    static Table own;  // until InitShared maps the shared one (the CLI, unit tests)
    static Table* t = &own;
    return t;
}

bool Alive(std::int32_t pid) {
    // EPERM: it exists under another user. Only ESRCH says it is gone.
    return kill(pid, 0) == 0 || errno != ESRCH;
}

}  // namespace

std::optional<int> Take(Table& t, int limit, std::int32_t pid,
                        const std::function<bool(std::int32_t)>& alive) {
    limit = std::clamp(limit, 0, kMaxPlaces);
    for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < limit; ++i) {
            std::int32_t have = t.pid[i].load();
            if (have == 0 || (pass == 1 && !alive(have))) {
                // A place another taker won between the load and here is left to it.
                if (t.pid[i].compare_exchange_strong(have, pid)) return i;
            }
        }
    }
    return std::nullopt;
}

void Give(Table& t, int index, std::int32_t pid) {
    if (index < 0 || index >= kMaxPlaces) return;
    std::int32_t have = pid;
    t.pid[index].compare_exchange_strong(have, 0);
}

int LimitFrom(const Config& cfg) {
    const std::int64_t set = cfg.GetInt("scan.max_waiting", 0);
    if (set > 0) return static_cast<int>(std::min<std::int64_t>(set, kMaxPlaces));
    return static_cast<int>(std::clamp<std::int64_t>(cfg.GetInt("workers", 8) / 2, 1, kMaxPlaces));
}

void InitShared() {
    void* p = mmap(nullptr, sizeof(Table), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    TablePtr() = new (p) Table();  // lock-free atomics work across processes in shared memory
}

std::optional<Pass> Pass::TryTake(int limit) {
    std::optional<int> i = Take(*TablePtr(), limit, static_cast<std::int32_t>(getpid()), Alive);
    if (!i) return std::nullopt;
    return Pass(*i);
}

Pass::~Pass() {
    if (index_ >= 0) Give(*TablePtr(), index_, static_cast<std::int32_t>(getpid()));
}

}  // namespace orderpay::app::scan_gate
