// The record of a payment an order query found refunded at the provider before orderpay recorded
// it: which refunds, how much (or that the provider does not say), as an OUTSIDE report.
#include "orderpay/app/query_refunded.hpp"

#include "orderpay/domain/money.hpp"
#include "orderpay/store/refunds.hpp"

namespace orderpay::app {

namespace {

// A refund's name as the reason carries it: no blank, comma or colon, which delimit the names
// (kNotifyQueryRefundNamed reads them back); anything else is shown as '?'.
std::string NameOf(const providers::QueryResult::RefundSeen& r) {
    std::string n = r.no.empty() ? r.id : r.no;
    if (n.empty()) return "(unnamed)";
    for (char& ch : n)
        if (ch <= ' ' || ch == ',' || ch == ':' || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
    return n;
}

}  // namespace

RefundedRecord DescribeQueryRefunded(const providers::QueryResult& q, const std::vector<bool>& ours) {
    RefundedRecord out;
    if (q.state != providers::QueryResult::State::kPaid || !q.refunded) return out;
    const std::string cur = q.currency;
    const std::string total = domain::FormatAmount(q.amount, cur) + " " + cur;
    std::string names, amounts, body = "paid " + total + " (" + q.txn_id + "), then refunded: " + q.message;
    std::int64_t sum = 0;
    bool known = q.refunds_listed;
    int listed = 0;
    for (std::size_t i = 0; i < q.refunds.size(); ++i) {
        const providers::QueryResult::RefundSeen& r = q.refunds[i];
        const bool mine = i < ours.size() && ours[i];
        body += "; refund " + NameOf(r) + (r.id.empty() || r.id == r.no ? "" : " (" + r.id + ")") + " of " +
                (r.amount < 0 ? std::string("an unknown amount") : domain::FormatAmount(r.amount, cur)) +
                (mine ? ", orderpay's own" : "");
        if (mine) continue;
        ++listed;
        names += (names.empty() ? "" : ",") + NameOf(r);
        if (r.amount < 0)
            known = false;
        else
            sum += r.amount;
    }
    // Listed, and every refund that took money is orderpay's own (or none took any): nothing outside.
    if (q.refunds_listed && listed == 0) return out;
    std::string what;
    if (!known)
        what = "refunded at the provider, amount unknown (the provider's answer does not say how much)";
    else if (sum >= q.amount)
        what = "all " + total + " refunded at the provider";
    else
        what = domain::FormatAmount(sum, cur) + " of " + total + " refunded at the provider";
    out.reason = "no refund of ours named " + (names.empty() ? std::string("(unknown)") : names) +
                 ": found by the order query before orderpay recorded the payment (" + q.message +
                 "): " + what;
    out.body = body;
    return out;
}

void NoteQueryRefunded(db::Connection& c, const std::string& provider, const std::string& slip_id,
                       const providers::QueryResult& q, providers::PaidEvent& ev) {
    if (q.state != providers::QueryResult::State::kPaid || !q.refunded) return;
    std::vector<bool> ours;
    for (const providers::QueryResult::RefundSeen& r : q.refunds) {
        std::optional<store::RefundRow> row = r.no.empty() ? std::nullopt : store::FindRefund(c, r.no);
        if ((!row || row->slip_id != slip_id) && !r.id.empty())
            row = store::FindRefundByProviderId(c, provider, r.id);
        ours.push_back(row && row->slip_id == slip_id);
    }
    RefundedRecord rec = DescribeQueryRefunded(q, ours);
    ev.refunded_reason = std::move(rec.reason);
    ev.refunded_body = std::move(rec.body);
}

}  // namespace orderpay::app
