// How many workers may serve a scan payment at once. A scan the buyer has not confirmed yet
// (WeChat USERPAYING, Alipay WAIT_BUYER_PAY) is polled inside the worker for up to
// scan_poll_ms x scan_poll_tries and then voided (PROTOCOLS.md §1.4): with no cap, one ticket's
// never-confirmed scans held every worker for that long (4 workers, 300 ms x 10: /healthz and
// other buyers' pay/check waited 2.7 s; 30 s with the defaults), so at most scan.max_waiting
// workers take one and the next scan is refused before anything is written or sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

namespace orderpay {
class Config;
}

namespace orderpay::app::scan_gate {

inline constexpr int kMaxPlaces = 256;  // the most workers a pool has (config key `workers`)

/// One place per scan being served: the pid of the worker serving it, 0 when free. Lives in
/// memory the forked workers share.
struct Table {
    std::atomic<std::int32_t> pid[kMaxPlaces] = {};
};

/// Takes a free place among the first `limit` for `pid` and returns its index; a place whose
/// process no longer exists (`alive` says no: a worker killed mid-poll) counts as free.
/// nullopt: all `limit` places are held by live processes.
std::optional<int> Take(Table& t, int limit, std::int32_t pid,
                        const std::function<bool(std::int32_t)>& alive);
/// Frees place `index` if `pid` still holds it.
void Give(Table& t, int index, std::int32_t pid);

/// scan.max_waiting, or when it is 0 half the workers (at least 1): the rest of the pool always
/// stays free for other requests.
int LimitFrom(const Config& cfg);

/// Maps the table the processes forked afterwards share; before it (or when mapping fails) each
/// process has a table of its own, which caps only itself.
void InitShared();

/// A place held by this process for as long as it lives.
class Pass {
  public:
    /// nullopt when `limit` scans are being served already.
    static std::optional<Pass> TryTake(int limit);
    Pass(Pass&& o) noexcept : index_(o.index_) { o.index_ = -1; }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    Pass& operator=(Pass&&) = delete;
    ~Pass();

  private:
    explicit Pass(int index) : index_(index) {}
    int index_;
};

}  // namespace orderpay::app::scan_gate
