// WeChat Pay v2's orderquery and, for a trade it answers REFUND, its refund listing
// (/pay/refundquery by out_trade_no): what the provider says became of a slip. Split from
// client.cpp, whose calls these use.
#include "orderpay/domain/money.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/providers/wxpay/common.hpp"

namespace orderpay::wxpay {

using providers::Field;
using providers::QueryResult;

QueryResult ReadOrderQuery(const providers::Fields& f, const std::string& slip_id) {
    QueryResult q;
    if (Field(f, "result_code") != "SUCCESS") {
        std::string err = Field(f, "err_code");
        q.state = err == "ORDERNOTEXIST" ? QueryResult::State::kNotFound : QueryResult::State::kUnknown;
        q.message = err;
        return q;
    }
    if (Field(f, "out_trade_no") != slip_id) {
        q.message = "query answered for another trade";
        return q;
    }
    std::string ts = Field(f, "trade_state");
    q.message = ts;
    q.state = TradeState(ts);
    if (q.state == QueryResult::State::kPaid) {
        // REFUND: paid, then refunded in part or whole (WeChat says which only in refundquery).
        // The money did arrive, so it settles; the refund is recorded beside it for the operator.
        q.refunded = ts == "REFUND";
        q.txn_id = Field(f, "transaction_id");
        q.amount = domain::ParseProviderAmount(Field(f, "total_fee"), 0).value_or(-1);
        q.currency = Field(f, "fee_type").empty() ? "CNY" : Field(f, "fee_type");
    }
    return q;
}

bool ReadRefundListing(const providers::Fields& f, const std::string& slip_id, QueryResult& q) {
    // WeChat lists at most 20 per answer (offset pages the rest); a count past 50 is not WeChat's.
    constexpr std::int64_t kMaxListed = 50;
    if (Field(f, "result_code") != "SUCCESS" || Field(f, "out_trade_no") != slip_id) return false;
    const std::optional<std::int64_t> count = domain::ParseDecimal(Field(f, "refund_count"), 0);
    if (!count || *count < 1 || *count > kMaxListed) return false;
    // refund_fee_type is the trade's currency, CNY when not said: amounts in another are not believed.
    const std::string ft = Field(f, "refund_fee_type");
    const bool same_currency = ft.empty() || ft == q.currency;
    std::vector<QueryResult::RefundSeen> seen;
    for (std::int64_t i = 0; i < *count; ++i) {
        const std::string n = std::to_string(i);
        const std::string st = Field(f, "refund_status_" + n);
        if (st.empty()) return false;  // a listing that does not hold what it counts
        // REFUNDCLOSE: closed, nothing went back.
        if (st != "SUCCESS" && st != "PROCESSING" && st != "CHANGE") continue;
        QueryResult::RefundSeen r;
        r.no = Field(f, "out_refund_no_" + n);
        r.id = Field(f, "refund_id_" + n);
        const std::optional<std::int64_t> fee = domain::ParseProviderAmount(Field(f, "refund_fee_" + n), 0);
        r.amount = same_currency && fee && *fee > 0 ? *fee : -1;
        seen.push_back(std::move(r));
    }
    q.refunds = std::move(seen);
    q.refunds_listed = true;
    return true;
}

QueryResult WxPayV2::Query(const providers::Merchant& m, const std::string& slip_id) {
    Call call = Post(m, "/pay/orderquery", {{"out_trade_no", slip_id}});
    if (!call.ok) {
        QueryResult q;
        q.message = call.error;
        return q;
    }
    QueryResult q = ReadOrderQuery(call.fields, slip_id);
    if (q.state == QueryResult::State::kPaid && q.refunded) {
        // Which refunds, and how much: refundquery by the trade. Unanswered, the amount is unknown;
        // the payment stands either way.
        Call r = Post(m, "/pay/refundquery", {{"out_trade_no", slip_id}});
        if (!r.ok || !ReadRefundListing(r.fields, slip_id, q))
            q.message += " (its refunds not listed: " + (r.ok ? Field(r.fields, "err_code") : r.error) + ")";
    }
    return q;
}

}  // namespace orderpay::wxpay
