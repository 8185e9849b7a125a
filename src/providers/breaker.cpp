// The gateway circuit breaker's state machine (pure, on atomics) and its shared table.
#include "orderpay/providers/breaker.hpp"

#include <sys/mman.h>

#include <array>
#include <cctype>
#include <new>

namespace orderpay::providers::breaker {

namespace {

static_assert(std::atomic<std::int64_t>::is_always_lock_free &&
                  std::atomic<std::uint64_t>::is_always_lock_free,
              "the table is shared by processes: its atomics must not hide a process-local lock");

constexpr std::size_t kSlots = 64;  // gateways per pool: a handful of providers, a few hosts each

struct Table {
    std::array<Slot, kSlots> slots;
};

Table* LocalTable() {
    static Table t;
    return &t;
}

Table*& TablePtr() {
    static Table* t = LocalTable();
    return t;
}

Policy& PolicyRef() {
    static Policy p;
    return p;
}

// FNV-1a, never 0 (0 marks a free slot).
std::uint64_t Hash(std::string_view s) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h ? h : 1;
}

}  // namespace

Gate Before(Slot& s, const Policy& p, std::int64_t now_ms) {
    if (p.timeouts <= 0) return Gate::kPass;
    std::int64_t until = s.open_until_ms.load();
    if (until == 0) return Gate::kPass;
    if (now_ms < until) return Gate::kRefuse;
    // The open period is over: exactly one caller moves the deadline on and probes; a probe that
    // never reports back (its worker died) is given up after another open period.
    if (s.open_until_ms.compare_exchange_strong(until, now_ms + p.open_ms)) return Gate::kProbe;
    return Gate::kRefuse;
}

Change After(Slot& s, const Policy& p, bool answered, bool timed_out, std::int64_t now_ms) {
    if (answered) {
        s.timeouts.store(0);
        return s.open_until_ms.exchange(0) != 0 ? Change::kClosed : Change::kNone;
    }
    if (!timed_out || p.timeouts <= 0) return Change::kNone;
    const int n = s.timeouts.fetch_add(1) + 1;
    if (n < p.timeouts) return Change::kNone;
    return s.open_until_ms.exchange(now_ms + p.open_ms) == 0 ? Change::kOpened : Change::kNone;
}

std::string Origin(std::string_view url) {
    const std::size_t scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    const std::size_t end = url.find_first_of("/?#", scheme + 3);
    std::string out(url.substr(0, end));
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

void InitShared() {
    void* p = mmap(nullptr, sizeof(Table), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    TablePtr() = new (p) Table();  // lock-free atomics work across processes in shared memory
}

Slot* SlotFor(std::string_view origin) {
    const std::uint64_t key = Hash(origin);
    Table* t = TablePtr();
    for (std::size_t i = 0; i < kSlots; ++i) {
        Slot& s = t->slots[(key + i) % kSlots];
        std::uint64_t have = s.key.load();
        if (have == key) return &s;
        if (have == 0 && (s.key.compare_exchange_strong(have, key) || have == key)) return &s;
    }
    return nullptr;
}

void SetPolicy(const Policy& p) {
    PolicyRef() = p;
}

const Policy& CurrentPolicy() {
    return PolicyRef();
}

}  // namespace orderpay::providers::breaker
