// The shared metrics region and its Prometheus exposition. Every label set is a fixed table, so
// the region has a fixed size and a hostile path can never create a new time series.
#include "orderpay/core/metrics.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <utility>

namespace orderpay::metrics {

namespace {

// Every route handlers/dispatch.cpp serves, and every provider's pay/re_<id>: a unit test
// (metrics_routes_test.cpp) fails when one is missing, since its requests would count as "other".
constexpr std::array<std::string_view, 19> kRoutes = {
    "pay/buy",      "pay/check",           "pay/check_order", "pay/pay",      "pay/qr",      "pay/products",
    "pay/re_wx",    "pay/re_zfb",          "pay/re_paypal",   "admin/refund", "admin/order", "admin/orders",
    "admin/ticket", "admin/ticket_revoke", "admin/ship",      "admin/done",   "healthz",     "metrics",
    "other"};
constexpr std::array<int, 14> kStatuses = {200, 400, 401, 403, 404, 405, 409,
                                           413, 415, 429, 500, 502, 503, 504};
constexpr std::size_t kStatusSlots = kStatuses.size() + 1;  // + "other"
constexpr std::array<std::string_view, 4> kProviders = {"wx", "zfb", "paypal", "other"};
constexpr std::array<std::string_view, 5> kOps = {"create", "query", "close", "refund", "refund_query"};
constexpr std::array<std::string_view, 5> kOutcomes = {"ok", "failed", "unknown", "timeout", "error"};
// Stored verdicts, and "paced": a PayPal message whose capture call another message for the slip
// made a moment before (stored `error` for a webhook, so PayPal sends it again; not our failure).
constexpr std::array<std::string_view, 7> kVerdicts = {"settled", "duplicate", "ignored", "rejected",
                                                       "error",   "paced",     "other"};
constexpr std::array<std::string_view, 3> kDbErrorKinds = {"unavailable", "statement", "connect"};
// Seconds. Requests are milliseconds (pay/check) to seconds (a buy waiting on a slow gateway).
constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
constexpr int kSlots = 64;

// Plain integers updated only through std::atomic_ref: the mapping is zero-filled memory,
// never constructed as C++ objects, and lock-free 64-bit atomics are address-free, so two
// processes updating one word through their own mappings of the same page is well defined.
using Counter = std::uint64_t;

struct Histogram {
    Counter buckets[kBuckets.size() + 1];  // per bucket (not cumulative); the last is +Inf
    Counter sum_us;
    Counter count;
};

struct Slot {
    Counter requests[kRoutes.size()][kStatusSlots];
    Histogram latency[kRoutes.size()];
    Counter calls[kProviders.size()][kOps.size()][kOutcomes.size()];
    Histogram call_latency[kProviders.size()][kOps.size()];
    Counter notifications[kProviders.size()][kVerdicts.size()];
    Counter key_fetches_refused[kProviders.size()];
    Counter db_round_trips[kRoutes.size()];
    Counter db_errors[kDbErrorKinds.size()];
    Counter db_reconnects;
    Counter busy;   // 0 or 1: this slot's worker is inside a request
    Counter ready;  // the pid of the slot's last worker that got as far as taking requests
};

struct Region {
    Counter worker_restarts;
    Counter workers_configured;
    Slot slots[kSlots];
};

static_assert(std::atomic_ref<Counter>::is_always_lock_free, "metrics need lock-free 64-bit atomics");

Region* g_region = nullptr;
Slot* g_slot = nullptr;     // this process's slot (workers); null in the master
Counter g_round_trips = 0;  // of the request this (single-threaded) worker is answering

void Add(Counter& c, Counter n = 1) {
    std::atomic_ref<Counter>(c).fetch_add(n, std::memory_order_relaxed);
}
void Set(Counter& c, Counter v) {
    std::atomic_ref<Counter>(c).store(v, std::memory_order_relaxed);
}
Counter Load(Counter& c) {
    return std::atomic_ref<Counter>(c).load(std::memory_order_relaxed);
}

template <std::size_t N>
std::size_t IndexOf(const std::array<std::string_view, N>& table, std::string_view v) {
    for (std::size_t i = 0; i + 1 < N; ++i)
        if (table[i] == v) return i;
    return N - 1;  // the table's last entry is the catch-all
}

std::size_t StatusIndex(int status) {
    for (std::size_t i = 0; i < kStatuses.size(); ++i)
        if (kStatuses[i] == status) return i;
    return kStatuses.size();
}

void Observe(Histogram& h, double seconds) {
    if (seconds < 0) seconds = 0;
    std::size_t b = 0;
    while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
    Add(h.buckets[b]);
    Add(h.sum_us, static_cast<Counter>(seconds * 1e6));
    Add(h.count);
}

// Summing reader: a scrape reads each word once; concurrent updates make the totals at most
// one request stale, never torn.
template <typename F>
Counter Sum(F&& get) {
    Counter total = 0;
    for (Slot& s : g_region->slots) total += Load(get(s));
    return total;
}

void Line(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Line(std::string& out, const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) out.append(buf, static_cast<std::size_t>(n) < sizeof buf ? n : sizeof buf - 1);
}

void Head(std::string& out, const char* name, const char* type, const char* help) {
    Line(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

std::string Sv(std::string_view v) {
    return std::string(v);
}

// One histogram series (labels already formatted as `a="b",c="d"`), summed over slots.
template <typename F>
void WriteHistogram(std::string& out, const char* name, const std::string& labels, F&& get) {
    Counter cumulative = 0;
    for (std::size_t b = 0; b <= kBuckets.size(); ++b) {
        cumulative += Sum([&](Slot& s) -> Counter& { return get(s).buckets[b]; });
        char le[32];
        if (b < kBuckets.size())
            std::snprintf(le, sizeof le, "%g", kBuckets[b]);
        else
            std::snprintf(le, sizeof le, "+Inf");
        Line(out, "%s_bucket{%s,le=\"%s\"} %" PRIu64 "\n", name, labels.c_str(), le, cumulative);
    }
    Counter sum_us = Sum([&](Slot& s) -> Counter& { return get(s).sum_us; });
    Line(out, "%s_sum{%s} %.6f\n", name, labels.c_str(), static_cast<double>(sum_us) / 1e6);
    Line(out, "%s_count{%s} %" PRIu64 "\n", name, labels.c_str(),
         Sum([&](Slot& s) -> Counter& { return get(s).count; }));
}

}  // namespace

bool Init() {
    if (g_region) return true;
    void* p = mmap(nullptr, sizeof(Region), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    g_region = static_cast<Region*>(p);
    return true;
}

bool Enabled() {
    return g_region != nullptr;
}

int SlotCount() {
    return g_region ? kSlots : 0;
}

void UseSlot(int slot) {
    if (!g_region) return;
    g_slot = &g_region->slots[(slot < 0 ? 0 : slot) % kSlots];
    Set(g_slot->busy, 0);
}

void WorkerReady() {
    if (g_slot) Set(g_slot->ready, static_cast<Counter>(getpid()));
}

bool WasReady(int slot, pid_t pid) {
    return g_region && slot >= 0 && pid > 0 &&
           Load(g_region->slots[slot % kSlots].ready) == static_cast<Counter>(pid);
}

void WorkerRestarted() {
    if (g_region) Add(g_region->worker_restarts);
}

void ClearSlot(int slot, pid_t pid) {
    if (!g_region || slot < 0) return;
    Slot& sl = g_region->slots[slot % kSlots];
    Set(sl.busy, 0);
    // Only its own mark: a worker sharing the slot (more workers than slots) keeps its own.
    Counter mine = static_cast<Counter>(pid);
    std::atomic_ref<Counter>(sl.ready).compare_exchange_strong(mine, 0, std::memory_order_relaxed);
}

void SetWorkersConfigured(int n) {
    if (g_region) Set(g_region->workers_configured, n < 0 ? 0 : static_cast<Counter>(n));
}

void BusyBegin() {
    g_round_trips = 0;  // a reconnect's or the last request's leftovers are not this request's
    if (g_slot) Set(g_slot->busy, 1);
}

void BusyEnd() {
    if (g_slot) Set(g_slot->busy, 0);
}

std::string_view RouteLabel(std::string_view path) {
    if (path == "/healthz") return "healthz";
    if (path == "/metrics") return "metrics";
    // /api/{site}/{pay,admin}/{action}: the site is not a label (unbounded); the action must be known.
    constexpr std::string_view kApi = "/api/";
    if (!path.starts_with(kApi)) return "other";
    std::string_view rest = path.substr(kApi.size());
    std::size_t slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos) return "other";
    std::string_view action = rest.substr(slash + 1);
    std::size_t area = action.find('/');
    if (area == std::string_view::npos || action.find('/', area + 1) != std::string_view::npos)
        return "other";
    return kRoutes[IndexOf(kRoutes, action)];
}

void Request(std::string_view path, int status, double seconds) {
    if (!g_slot) return;
    std::size_t r = IndexOf(kRoutes, RouteLabel(path));
    Add(g_slot->requests[r][StatusIndex(status)]);
    Observe(g_slot->latency[r], seconds);
    Add(g_slot->db_round_trips[r], std::exchange(g_round_trips, 0));
}

void DbRoundTrip() {
    ++g_round_trips;
}

void ProviderCall(std::string_view provider, Op op, Outcome outcome, double seconds) {
    if (!g_slot) return;
    std::size_t p = IndexOf(kProviders, provider);
    Add(g_slot->calls[p][static_cast<int>(op)][static_cast<int>(outcome)]);
    Observe(g_slot->call_latency[p][static_cast<int>(op)], seconds);
}

void Notification(std::string_view provider, std::string_view verdict) {
    if (!g_slot) return;
    Add(g_slot->notifications[IndexOf(kProviders, provider)][IndexOf(kVerdicts, verdict)]);
}

void KeyFetchRefused(std::string_view provider) {
    if (!g_slot) return;
    Add(g_slot->key_fetches_refused[IndexOf(kProviders, provider)]);
}

void DbError(std::string_view kind) {
    if (!g_slot) return;
    for (std::size_t i = 0; i < kDbErrorKinds.size(); ++i)
        if (kDbErrorKinds[i] == kind) Add(g_slot->db_errors[i]);
}

void DbReconnect() {
    if (g_slot) Add(g_slot->db_reconnects);
}

std::string Exposition() {
    std::string out;
    if (!g_region) return out;
    out.reserve(64 * 1024);

    Head(out, "orderpay_http_requests_total", "counter", "Requests answered, by route and HTTP status.");
    for (std::size_t r = 0; r < kRoutes.size(); ++r) {
        for (std::size_t s = 0; s < kStatusSlots; ++s) {
            Counter n = Sum([&](Slot& sl) -> Counter& { return sl.requests[r][s]; });
            if (!n) continue;  // series appear once they have happened
            std::string status = s < kStatuses.size() ? std::to_string(kStatuses[s]) : "other";
            Line(out, "orderpay_http_requests_total{route=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                 Sv(kRoutes[r]).c_str(), status.c_str(), n);
        }
    }
    Head(out, "orderpay_http_request_duration_seconds", "histogram",
         "Time from the request's arrival at a worker to its reply, by route.");
    for (std::size_t r = 0; r < kRoutes.size(); ++r) {
        if (!Sum([&](Slot& sl) -> Counter& { return sl.latency[r].count; })) continue;
        WriteHistogram(out, "orderpay_http_request_duration_seconds", "route=\"" + Sv(kRoutes[r]) + "\"",
                       [&](Slot& sl) -> Histogram& { return sl.latency[r]; });
    }

    Head(out, "orderpay_db_round_trips_total", "counter",
         "Database round trips made while answering requests, by route (divided by the route's "
         "orderpay_http_requests_total: round trips per request).");
    for (std::size_t r = 0; r < kRoutes.size(); ++r) {
        if (!Sum([&](Slot& sl) -> Counter& { return sl.latency[r].count; })) continue;
        Line(out, "orderpay_db_round_trips_total{route=\"%s\"} %" PRIu64 "\n", Sv(kRoutes[r]).c_str(),
             Sum([&](Slot& sl) -> Counter& { return sl.db_round_trips[r]; }));
    }

    Head(out, "orderpay_provider_calls_total", "counter",
         "Calls to the payment providers' gateways, by provider, operation and outcome.");
    for (std::size_t p = 0; p < kProviders.size(); ++p)
        for (std::size_t o = 0; o < kOps.size(); ++o)
            for (std::size_t k = 0; k < kOutcomes.size(); ++k) {
                Counter n = Sum([&](Slot& sl) -> Counter& { return sl.calls[p][o][k]; });
                if (!n) continue;
                Line(out,
                     "orderpay_provider_calls_total{provider=\"%s\",operation=\"%s\",outcome=\"%s\"} %" PRIu64
                     "\n",
                     Sv(kProviders[p]).c_str(), Sv(kOps[o]).c_str(), Sv(kOutcomes[k]).c_str(), n);
            }
    Head(out, "orderpay_provider_call_duration_seconds", "histogram",
         "Duration of provider gateway calls, by provider and operation.");
    for (std::size_t p = 0; p < kProviders.size(); ++p)
        for (std::size_t o = 0; o < kOps.size(); ++o) {
            if (!Sum([&](Slot& sl) -> Counter& { return sl.call_latency[p][o].count; })) continue;
            WriteHistogram(out, "orderpay_provider_call_duration_seconds",
                           "provider=\"" + Sv(kProviders[p]) + "\",operation=\"" + Sv(kOps[o]) + "\"",
                           [&](Slot& sl) -> Histogram& { return sl.call_latency[p][o]; });
        }

    Head(out, "orderpay_notifications_total", "counter",
         "Provider notifications decided, by provider and verdict.");
    for (std::size_t p = 0; p < kProviders.size(); ++p)
        for (std::size_t v = 0; v < kVerdicts.size(); ++v) {
            Counter n = Sum([&](Slot& sl) -> Counter& { return sl.notifications[p][v]; });
            if (!n) continue;
            Line(out, "orderpay_notifications_total{provider=\"%s\",verdict=\"%s\"} %" PRIu64 "\n",
                 Sv(kProviders[p]).c_str(), Sv(kVerdicts[v]).c_str(), n);
        }

    // Always present (also at 0): alerts on these should not depend on a first error.
    Head(out, "orderpay_key_fetches_refused_total", "counter",
         "Notification verification keys (PayPal certificate URLs) not downloaded because the worker's "
         "budget of new downloads was spent; those notifications are answered as a temporary error.");
    for (std::size_t p = 0; p + 1 < kProviders.size(); ++p)
        Line(out, "orderpay_key_fetches_refused_total{provider=\"%s\"} %" PRIu64 "\n",
             Sv(kProviders[p]).c_str(), Sum([&](Slot& sl) -> Counter& { return sl.key_fetches_refused[p]; }));
    Head(out, "orderpay_db_errors_total", "counter",
         "Failed database statements (unavailable: connection lost; statement: refused by the server) and "
         "failed connection attempts (connect).");
    for (std::size_t k = 0; k < kDbErrorKinds.size(); ++k)
        Line(out, "orderpay_db_errors_total{kind=\"%s\"} %" PRIu64 "\n", Sv(kDbErrorKinds[k]).c_str(),
             Sum([&](Slot& sl) -> Counter& { return sl.db_errors[k]; }));
    Head(out, "orderpay_db_reconnects_total", "counter", "Successful reconnections to the database.");
    Line(out, "orderpay_db_reconnects_total %" PRIu64 "\n",
         Sum([](Slot& sl) -> Counter& { return sl.db_reconnects; }));
    Head(out, "orderpay_worker_restarts_total", "counter",
         "Workers that died and were replaced by the master.");
    Line(out, "orderpay_worker_restarts_total %" PRIu64 "\n", Load(g_region->worker_restarts));
    Head(out, "orderpay_workers_busy", "gauge", "Workers inside a request (this scrape's included).");
    Line(out, "orderpay_workers_busy %" PRIu64 "\n", Sum([](Slot& sl) -> Counter& { return sl.busy; }));
    Head(out, "orderpay_workers", "gauge", "Workers the pool is configured to run.");
    Line(out, "orderpay_workers %" PRIu64 "\n", Load(g_region->workers_configured));
    return out;
}

}  // namespace orderpay::metrics
