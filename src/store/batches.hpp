// Deleting rows in bounded batches (the inbox's and the tickets' retention): each batch its own
// statement and transaction, so no DELETE holds more than a batch's rows locked or grows the WAL
// of one transaction without bound.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

namespace orderpay::store {

/// Runs `one(batch)` (a DELETE of at most `batch` rows, its own statement) until it deletes fewer
/// than it may, or `most` rows are gone; how many went.
inline std::int64_t InBatches(std::int64_t most, const std::function<std::int64_t(std::int64_t)>& one) {
    constexpr std::int64_t kBatch = 1000;
    std::int64_t gone = 0;
    while (gone < most) {
        const std::int64_t batch = std::min(kBatch, most - gone);
        const std::int64_t n = one(batch);
        gone += n;
        if (n < batch) break;
    }
    return gone;
}

}  // namespace orderpay::store
