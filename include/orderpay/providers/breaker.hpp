// A circuit breaker per provider gateway, shared by every worker of the pool: after
// http.breaker_timeouts calls in a row ran into http.timeout_ms, calls to that gateway fail at
// once for http.breaker_open_ms, as a refused connection does (certainly not processed), then one
// call probes it. Without it a hanging gateway held a worker for the whole timeout per buy, and
// /healthz and pay/check of other orders queued behind them (4 workers: 9 s and 19 s).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace orderpay::providers::breaker {

struct Policy {
    int timeouts = 0;  // in a row that open it; 0: never opens
    std::int64_t open_ms = 10000;
};

/// One gateway's state; lives in memory shared by the forked workers.
struct Slot {
    std::atomic<std::uint64_t> key{0};  // hash of the gateway's origin; 0: free
    std::atomic<std::int32_t> timeouts{0};
    std::atomic<std::int64_t> open_until_ms{0};  // 0: closed
};

enum class Gate { kPass, kProbe, kRefuse };
enum class Change { kNone, kOpened, kClosed };

/// Before a call at `now_ms`: kPass while closed; while open kRefuse, except that the first
/// caller after the open period takes the probe (kProbe) and the others still get kRefuse.
Gate Before(Slot& s, const Policy& p, std::int64_t now_ms);
/// After a call: any HTTP answer (`answered`) closes the breaker; a timeout counts toward opening
/// it (and reopens it after a failed probe). A refused connection is quick and changes nothing.
Change After(Slot& s, const Policy& p, bool answered, bool timed_out, std::int64_t now_ms);

/// "scheme://host:port" of a URL (what a breaker is kept for), lower-cased; the URL itself when
/// it has no "://".
std::string Origin(std::string_view url);

/// Maps the table in memory that processes forked afterwards share; before it (or when mapping
/// fails) each process has a table of its own.
void InitShared();
/// The slot kept for `origin`; nullptr when the table is full (then no breaker applies).
Slot* SlotFor(std::string_view origin);

/// The policy every call of this process follows (http.breaker_timeouts, http.breaker_open_ms).
void SetPolicy(const Policy& p);
const Policy& CurrentPolicy();

}  // namespace orderpay::providers::breaker
