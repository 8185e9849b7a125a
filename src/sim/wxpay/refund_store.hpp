// paysim's WeChat v2 refunds in SQL (sql/paysim/004_wx_refunds.sql): a refund is inserted only
// while the trade's refunds that are not closed stay within its total_fee, under its row lock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::sim::wx_refund_store {

std::span<const db::Statement> Statements();

struct Refund {
    std::string mch_id, out_refund_no, out_trade_no, refund_id;
    std::int64_t total_fee = 0, refund_fee = 0;
    std::string refund_desc, notify_url;
    std::string state;  // PROCESSING, SUCCESS, REFUNDCLOSE, CHANGE
    std::string notify_nonce;
    int notify_count = 0;
    std::optional<std::int64_t> success_at;  // epoch seconds
};

/// What asking for a refund came to.
struct Asked {
    enum class Outcome {
        kCreated,     // a new refund row (`refund`)
        kExisting,    // out_refund_no was used before (`refund` is that row, maybe different)
        kNoTrade,     // no such trade of this merchant
        kNotPaid,     // the trade is not SUCCESS
        kTotalFee,    // total_fee is not the trade's
        kTooMuch,     // the refunds would exceed the trade's total_fee
        kRefusedKnob  // the trade's refund_mode is 'fail'
    } outcome = Outcome::kNoTrade;
    std::optional<Refund> refund;
    std::string mode;  // the trade's refund_mode
    std::string transaction_id;
};

/// Records a refund of `want` (mch_id, out_refund_no, out_trade_no, total_fee, refund_fee,
/// refund_desc, notify_url, notify_nonce) in one transaction holding the trade's row lock.
Asked AskRefund(db::Connection& c, const Refund& want);

std::optional<Refund> Find(db::Connection& c, std::string_view mch_id, std::string_view out_refund_no);
std::optional<Refund> FindById(db::Connection& c, std::string_view mch_id, std::string_view refund_id);
/// A trade's refunds, oldest first; `mch_id` "" for any merchant (the control API).
std::vector<Refund> OfTrade(db::Connection& c, std::string_view mch_id, std::string_view out_trade_no);

/// state := `to` from PROCESSING or CHANGE (the merchant redirected it), or already `to` (a resend);
/// notify_count += `copies`.
/// nullopt when the refund is in another final state or does not exist.
std::optional<Refund> Finish(db::Connection& c, std::string_view mch_id, std::string_view out_refund_no,
                             std::string_view to, int copies);

/// Sets the trade's refund_mode ("", "fail", "timeout"); false when there is no such trade.
bool SetMode(db::Connection& c, std::string_view mch_id, std::string_view out_trade_no,
             std::string_view mode);

}  // namespace orderpay::sim::wx_refund_store
