// The record of a payment an order query found refunded at the provider before orderpay recorded
// it: which refunds, how much (or that the provider does not say), as an OUTSIDE report.
#include "orderpay/app/query_refunded.hpp"

#include <algorithm>
#include <cstdint>

#include "orderpay/domain/money.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/refunds.hpp"

namespace orderpay::app {

std::string ReportName(std::string_view name) {
    if (name.empty()) return "(unnamed)";
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : name) {
        const auto b = static_cast<unsigned char>(ch);
        // Parentheses too, so no name reads as the placeholders "(unnamed)" and "(unknown)".
        if (b <= ' ' || b >= 0x7f || ch == ',' || ch == ':' || ch == '%' || ch == '(' || ch == ')') {
            out += '%';
            out += kHex[b >> 4];
            out += kHex[b & 15];
        } else {
            out += ch;
        }
    }
    return out;
}

std::string ReportNames(const std::string& ours, const std::string& providers) {
    if (ours.empty() && providers.empty()) return "(unnamed)";
    if (providers.empty() || providers == ours) return ReportName(ours);
    if (ours.empty()) return ReportName(providers);
    return ReportName(ours) + "," + ReportName(providers);
}

RefundedRecord DescribeQueryRefunded(const providers::QueryResult& q, const std::vector<RefundKnown>& known,
                                     bool reported_before) {
    RefundedRecord out;
    if (q.state != providers::QueryResult::State::kPaid || !q.refunded) return out;
    if (!q.refunds_listed && q.refunds.empty() && reported_before) return out;
    const std::string cur = q.currency;
    const std::string total = domain::FormatAmount(q.amount, cur) + " " + cur;
    std::string names, body = "paid " + total + " (" + q.txn_id + "), then refunded: " + q.message;
    std::int64_t sum = 0;
    bool known_amount = q.refunds_listed;
    int fresh = 0;
    for (std::size_t i = 0; i < q.refunds.size(); ++i) {
        const providers::QueryResult::RefundSeen& r = q.refunds[i];
        const RefundKnown k = i < known.size() ? known[i] : RefundKnown::kNew;
        body += "; refund " + ReportNames(r.no, r.id) + " of " +
                (r.amount < 0 ? std::string("an unknown amount") : domain::FormatAmount(r.amount, cur)) +
                (k == RefundKnown::kOurs       ? ", orderpay's own"
                 : k == RefundKnown::kReported ? ", reported before"
                                               : "");
        if (k == RefundKnown::kOurs) continue;
        // Reported before: its money went back all the same (the amount says all that did), but its
        // name is not reported twice.
        // A provider's amount may be anything up to int64: past it, more than was paid went back.
        if (r.amount < 0)
            known_amount = false;
        else
            sum = domain::CheckedAdd(sum, r.amount).value_or(INT64_MAX);
        if (k == RefundKnown::kReported) continue;
        ++fresh;
        // Both names, escaped so each reads back as it was (review s30-diff L1, s30b F2, F3).
        names += (names.empty() ? "" : ",") + ReportNames(r.no, r.id);
    }
    // Listed, and every refund that took money is orderpay's own or reported already (or none took
    // any): nothing new outside.
    if (q.refunds_listed && fresh == 0) return out;
    std::string what;
    if (!known_amount)
        what = "refunded at the provider, amount unknown (the provider's answer does not say how much)";
    else if (sum >= q.amount)
        what = "all " + total + " refunded at the provider";
    else
        what = domain::FormatAmount(sum, cur) + " of " + total + " refunded at the provider";
    // The summary must survive the reason's 2000 bytes (settle.cpp): past 1000 bytes of names the
    // rest are counted, not named (their notifications may then be reported on their own).
    if (names.size() > 1000) {
        const std::size_t cut = names.rfind(',', 1000);
        const std::size_t kept = cut == std::string::npos ? 0 : cut;
        const auto more = std::count(names.begin() + static_cast<std::ptrdiff_t>(kept), names.end(), ',');
        names = names.substr(0, kept) + (kept ? "," : "") + "(and-" + std::to_string(more + (kept ? 0 : 1)) +
                "-more)";
    }
    out.reason = "no refund of ours named " + (names.empty() ? std::string("(unknown)") : names) +
                 ": found by the order query before orderpay recorded the payment (" + q.message +
                 "): " + what;
    out.body = body;
    return out;
}

std::optional<std::string> RefundReportedBefore(db::Connection& c, const std::string& slip_id,
                                                const std::string& ours, const std::string& providers,
                                                bool ours_unique) {
    // A merchant's own refund number, where the provider keeps it unique (WeChat's out_refund_no,
    // Alipay's out_request_no), names one refund: found by it first, as a previous release named
    // the refund by it alone (review s30c #2). A free-text one (PayPal's invoice_id), which two
    // refunds can share, only when the provider gives no id of its own (review s30b F3).
    if (ours_unique && !ours.empty())
        if (std::optional<std::string> row = store::RefundReported(c, slip_id, ReportName(ours))) return row;
    const std::string& key = providers.empty() ? ours : providers;
    if (key.empty() || (ours_unique && key == ours)) return std::nullopt;
    return store::RefundReported(c, slip_id, ReportName(key));
}

RefundedRecord NoteQueryRefunded(db::Connection& c, const providers::Provider& p, const std::string& slip_id,
                                 const providers::QueryResult& q) {
    if (q.state != providers::QueryResult::State::kPaid || !q.refunded) return {};
    std::vector<RefundKnown> known;
    for (const providers::QueryResult::RefundSeen& r : q.refunds) {
        std::optional<store::RefundRow> row = r.no.empty() ? std::nullopt : store::FindRefund(c, r.no);
        if ((!row || row->slip_id != slip_id) && !r.id.empty())
            row = store::FindRefundByProviderId(c, std::string(p.Id()), r.id);
        if (row && row->slip_id == slip_id)
            known.push_back(RefundKnown::kOurs);
        else if (RefundReportedBefore(c, slip_id, r.no, r.id, p.RefundNamesUnique()))
            known.push_back(RefundKnown::kReported);
        else
            known.push_back(RefundKnown::kNew);
    }
    // WeChat v3's answer names no refund and says no refunded amount (its Transaction's amount is
    // total, payer_total and their currencies only), and v3 lists no refunds by trade: with the
    // slip reported OUTSIDE already, a second console refund cannot be told from the first. Nothing
    // is written then: in the usual case, that one refund, a nameless record would report its money
    // a second time, and it could never stand for a refund a later notification names. A second
    // refund's own notification, sent until acknowledged, reports it by name, and reconcile lists
    // the slip OUTSIDE all along (test_notify_query_race). Nor when orderpay refunded the slip
    // itself: a query that lost the settlement (a duplicate) may answer after an operator's refund,
    // and a nameless REFUND cannot be told from it (review s31-105 B1).
    const bool accounted =
        q.refunds.empty() && (store::OutsideReported(c, slip_id) || store::SlipRefundedByUs(c, slip_id));
    return DescribeQueryRefunded(q, known, accounted);
}

store::RefundedNote QueryRefundedNote(db::Connection& c, const providers::Provider& p,
                                      const std::string& slip_id, const providers::QueryResult& q) {
    if (q.state != providers::QueryResult::State::kPaid || !q.refunded) return {};
    return [&c, &p, slip_id, q] {
        RefundedRecord rec = NoteQueryRefunded(c, p, slip_id, q);
        return store::RefundedReport{std::move(rec.reason), std::move(rec.body)};
    };
}

}  // namespace orderpay::app
