// paysim's WeChat Pay v3 refunds (sql/paysim/006_pp_wx3_refunds.sql): each a conditional
// statement; the sum of a trade's refunds that count is checked under the trade row's lock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "sim/core/store.hpp"

namespace orderpay::sim::wx3_store {

std::span<const db::Statement> Statements();

struct Refund {
    std::string refund_id, mch_id, out_refund_no, out_trade_no, transaction_id;
    std::int64_t refund = 0, total = 0;
    std::string currency = "CNY", reason, notify_url;
    std::string status;  // PROCESSING, SUCCESS, ABNORMAL, CLOSED
    int calls = 0, queries = 0, notify_count = 0;
    std::int64_t ct_s = 0;
    std::optional<std::int64_t> success_at;  // epoch seconds
};

using Made = store::Made;

/// Inserts `r` for the paid wx trade (r.mch_id, r.out_trade_no) of `total_fee` unless its
/// out_refund_no was used (then `out` is that refund, its call counted), the trade is not paid
/// (kNoTrade), or the trade's PROCESSING and SUCCESS refunds would exceed total_fee.
Made InsertRefund(db::Connection& c, const Refund& r, Refund& out);
/// The refund (mch_id, out_refund_no), its query counted.
std::optional<Refund> QueryRefund(db::Connection& c, std::string_view mch_id, std::string_view out_refund_no);
std::vector<Refund> RefundsByOutRefundNo(db::Connection& c, std::string_view out_refund_no);
std::vector<Refund> RefundsOfTrade(db::Connection& c, std::string_view mch_id, std::string_view out_trade_no);
/// PROCESSING or ABNORMAL (the merchant redirected it) -> `status` (SUCCESS stamps success_at);
/// nullopt when it was neither.
std::optional<Refund> FinishRefund(db::Connection& c, std::string_view refund_id, std::string_view status);
void CountNotify(db::Connection& c, std::string_view refund_id, int n);

}  // namespace orderpay::sim::wx3_store
