// Unit tests for a query answer saying "paid, then refunded": WeChat v2's orderquery REFUND and
// its refundquery listing, v3's Transaction REFUND (no listing), PayPal's order with a capture
// PARTIALLY_REFUNDED and its refunds, and the OUTSIDE record app::DescribeQueryRefunded makes
// of them (amount, unknown, whole, orderpay's own refunds left out).
#include "orderpay/app/query_refunded.hpp"

#include <gtest/gtest.h>

#include <cstdint>

#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/providers/wxpay/v3.hpp"

namespace orderpay {
namespace {

using S = providers::QueryResult::State;

providers::Fields Wx2Query(const std::string& state) {
    return {{"return_code", "SUCCESS"},   {"result_code", "SUCCESS"}, {"out_trade_no", "sl1"},
            {"trade_state", state},       {"total_fee", "2500"},      {"fee_type", "CNY"},
            {"transaction_id", "4200001"}};
}

TEST(QueryRefundedWx2, RefundIsPaidAndRefunded) {
    providers::QueryResult q = wxpay::ReadOrderQuery(Wx2Query("REFUND"), "sl1");
    EXPECT_EQ(q.state, S::kPaid);
    EXPECT_TRUE(q.refunded);
    EXPECT_EQ(q.txn_id, "4200001");
    EXPECT_EQ(q.amount, 2500);
    EXPECT_EQ(q.currency, "CNY");
    EXPECT_FALSE(q.refunds_listed);
    providers::QueryResult plain = wxpay::ReadOrderQuery(Wx2Query("SUCCESS"), "sl1");
    EXPECT_EQ(plain.state, S::kPaid);
    EXPECT_FALSE(plain.refunded);
    // About another trade: not believed, whatever its state.
    EXPECT_EQ(wxpay::ReadOrderQuery(Wx2Query("REFUND"), "sl2").state, S::kUnknown);
}

providers::Fields Listing() {
    return {{"return_code", "SUCCESS"},      {"result_code", "SUCCESS"},
            {"out_trade_no", "sl1"},         {"refund_count", "3"},
            {"out_refund_no_0", "ours1"},    {"refund_id_0", "501"},
            {"refund_fee_0", "500"},         {"refund_status_0", "SUCCESS"},
            {"out_refund_no_1", "console1"}, {"refund_id_1", "502"},
            {"refund_fee_1", "1000"},        {"refund_status_1", "PROCESSING"},
            {"out_refund_no_2", "closed1"},  {"refund_id_2", "503"},
            {"refund_fee_2", "700"},         {"refund_status_2", "REFUNDCLOSE"}};
}

TEST(QueryRefundedWx2, ListingKeepsWhatTookMoney) {
    providers::QueryResult q = wxpay::ReadOrderQuery(Wx2Query("REFUND"), "sl1");
    ASSERT_TRUE(wxpay::ReadRefundListing(Listing(), "sl1", q));
    ASSERT_TRUE(q.refunds_listed);
    ASSERT_EQ(q.refunds.size(), 2u);  // REFUNDCLOSE gave nothing back
    EXPECT_EQ(q.refunds[0].no, "ours1");
    EXPECT_EQ(q.refunds[0].amount, 500);
    EXPECT_EQ(q.refunds[1].no, "console1");
    EXPECT_EQ(q.refunds[1].id, "502");
    EXPECT_EQ(q.refunds[1].amount, 1000);
}

TEST(QueryRefundedWx2, UnreadableListingsAreRefused) {
    providers::QueryResult q = wxpay::ReadOrderQuery(Wx2Query("REFUND"), "sl1");
    providers::Fields other = Listing();
    other["out_trade_no"] = "sl2";
    EXPECT_FALSE(wxpay::ReadRefundListing(other, "sl1", q));
    providers::Fields short_list = Listing();
    short_list["refund_count"] = "4";  // counts a refund it does not hold
    EXPECT_FALSE(wxpay::ReadRefundListing(short_list, "sl1", q));
    for (const char* bad : {"", "0", "51", "-1", "x"}) {
        providers::Fields f = Listing();
        f["refund_count"] = bad;
        EXPECT_FALSE(wxpay::ReadRefundListing(f, "sl1", q)) << bad;
    }
    providers::Fields failed = Listing();
    failed["result_code"] = "FAIL";
    EXPECT_FALSE(wxpay::ReadRefundListing(failed, "sl1", q));
    EXPECT_FALSE(q.refunds_listed);
    EXPECT_TRUE(q.refunds.empty());
    // Amounts in another currency than the trade's, or unreadable: listed, amount unknown.
    providers::Fields usd = Listing();
    usd["refund_fee_type"] = "USD";
    usd["refund_fee_1"] = "ten";
    ASSERT_TRUE(wxpay::ReadRefundListing(usd, "sl1", q));
    EXPECT_EQ(q.refunds[0].amount, -1);
    EXPECT_EQ(q.refunds[1].amount, -1);
}

providers::Merchant V3Merchant() {
    providers::Merchant m;
    m.id = "wx3";
    m.provider = "wx";
    m.app_id = "wxapp";
    m.mch_id = "1900";
    return m;
}

std::string V3Transaction(const std::string& state) {
    return R"({"appid":"wxapp","mchid":"1900","out_trade_no":"sl1","transaction_id":"4200009",)"
           R"("trade_state":")" +
           state + R"(","amount":{"total":2500,"payer_total":2500,"currency":"CNY","payer_currency":"CNY"}})";
}

TEST(QueryRefundedWx3, RefundIsPaidAndRefundedWithNoListing) {
    providers::QueryResult q = wxpay::ReadV3Transaction(V3Merchant(), V3Transaction("REFUND"), "sl1");
    EXPECT_EQ(q.state, S::kPaid);
    EXPECT_TRUE(q.refunded);
    EXPECT_EQ(q.txn_id, "4200009");
    EXPECT_EQ(q.amount, 2500);
    EXPECT_FALSE(q.refunds_listed);
    EXPECT_FALSE(wxpay::ReadV3Transaction(V3Merchant(), V3Transaction("SUCCESS"), "sl1").refunded);
    EXPECT_EQ(wxpay::ReadV3Transaction(V3Merchant(), V3Transaction("REFUND"), "sl2").state, S::kUnknown);
    EXPECT_EQ(wxpay::ReadV3Transaction(V3Merchant(), "not json", "sl1").state, S::kUnknown);
}

std::string PaypalOrder(const std::string& capture_status, const std::string& refunds) {
    return R"({"id":"PP1","status":"COMPLETED","purchase_units":[{"custom_id":"sl1","payments":{"captures":[)"
           R"({"id":"CAP1","status":")" +
           capture_status + R"(","amount":{"currency_code":"USD","value":"25.00"}}])" +
           (refunds.empty() ? "" : R"(,"refunds":)" + refunds) + "}}]}";
}

TEST(QueryRefundedPaypal, PartiallyRefundedListsTheOrdersRefunds) {
    providers::QueryResult q = paypal::PaypalClient::OrderState(
        PaypalOrder("PARTIALLY_REFUNDED",
                    R"([{"id":"R1","status":"COMPLETED","invoice_id":"console1",)"
                    R"("amount":{"currency_code":"USD","value":"10.00"}},)"
                    R"({"id":"R2","status":"FAILED","amount":{"currency_code":"USD","value":"5.00"}},)"
                    R"({"id":"R3","status":"PENDING","amount":{"currency_code":"EUR","value":"1.00"}}])"),
        200);
    EXPECT_EQ(q.state, S::kPaid);
    EXPECT_TRUE(q.refunded);
    EXPECT_EQ(q.txn_id, "CAP1");
    EXPECT_EQ(q.amount, 2500);
    ASSERT_TRUE(q.refunds_listed);
    ASSERT_EQ(q.refunds.size(), 2u);  // FAILED gave nothing back
    EXPECT_EQ(q.refunds[0].no, "console1");
    EXPECT_EQ(q.refunds[0].id, "R1");
    EXPECT_EQ(q.refunds[0].amount, 1000);
    EXPECT_EQ(q.refunds[1].amount, -1);  // another currency: not believed
    // No refunds shown: refunded, amount unknown. COMPLETED: plainly paid.
    providers::QueryResult bare =
        paypal::PaypalClient::OrderState(PaypalOrder("PARTIALLY_REFUNDED", ""), 200);
    EXPECT_TRUE(bare.refunded);
    EXPECT_FALSE(bare.refunds_listed);
    EXPECT_FALSE(paypal::PaypalClient::OrderState(PaypalOrder("COMPLETED", ""), 200).refunded);
    // Refunded whole before orderpay recorded it: no money to settle on (review s21-diff F6).
    EXPECT_EQ(paypal::PaypalClient::OrderState(PaypalOrder("REFUNDED", ""), 200).state, S::kFailed);
}

providers::QueryResult Refunded(std::int64_t amount, std::vector<providers::QueryResult::RefundSeen> seen,
                                bool listed) {
    providers::QueryResult q;
    q.state = S::kPaid;
    q.refunded = true;
    q.txn_id = "T1";
    q.amount = amount;
    q.currency = "CNY";
    q.message = "REFUND";
    q.refunds = std::move(seen);
    q.refunds_listed = listed;
    return q;
}

using K = app::RefundKnown;

TEST(QueryRefundedRecord, NamesReadBackAsThemselvesAndWriteNoOtherReport) {
    // Reversible: two names that differ stay different (review s30b F3: "RMA 1" and "RMA:1").
    EXPECT_EQ(app::ReportName("RMA 1"), "RMA%201");
    EXPECT_EQ(app::ReportName("RMA:1"), "RMA%3A1");
    EXPECT_EQ(app::ReportName("100%"), "100%25");
    EXPECT_EQ(app::ReportName("a,b\x01\xe9"), "a%2Cb%01%E9");
    EXPECT_EQ(app::ReportName("console-1_A.b"), "console-1_A.b");
    EXPECT_EQ(app::ReportName(""), "(unnamed)");
    // No name reads as a placeholder (review s30c #5).
    EXPECT_EQ(app::ReportName("(unnamed)"), "%28unnamed%29");
    // A free-text name cannot write the words of a chargeback report (F1).
    const std::string named =
        "no refund of ours named " + app::ReportName("x: chargeback: abc") + ": the provider's OK";
    EXPECT_EQ(named.find(": chargeback: "), std::string::npos) << named;
    EXPECT_EQ(app::ReportNames("inv 1", "PP1"), "inv%201,PP1");
    EXPECT_EQ(app::ReportNames("same", "same"), "same");
    EXPECT_EQ(app::ReportNames("", "PP1"), "PP1");
    EXPECT_EQ(app::ReportNames("", ""), "(unnamed)");
}

TEST(QueryRefundedRecord, SaysHowMuchWentBackOrThatItIsUnknown) {
    app::RefundedRecord part = app::DescribeQueryRefunded(
        Refunded(2500, {{"ours1", "501", 500}, {"console1", "502", 1000}}, true), {K::kOurs, K::kNew});
    // Both of a refund's names, so a late notification naming either finds the report.
    EXPECT_EQ(
        part.reason,
        "no refund of ours named console1,502: found by the order query before orderpay recorded the payment "
        "(REFUND): 10.00 of 25.00 CNY refunded at the provider");
    EXPECT_NE(part.body.find("refund ours1,501 of 5.00, orderpay's own"), std::string::npos) << part.body;
    app::RefundedRecord whole =
        app::DescribeQueryRefunded(Refunded(2500, {{"c1", "", 1500}, {"c2", "", 1000}}, true), {});
    EXPECT_EQ(whole.reason.substr(0, 30), "no refund of ours named c1,c2:");
    EXPECT_NE(whole.reason.find(": all 25.00 CNY refunded at the provider"), std::string::npos)
        << whole.reason;
    app::RefundedRecord unknown = app::DescribeQueryRefunded(Refunded(2500, {}, false), {});
    EXPECT_EQ(
        unknown.reason,
        "no refund of ours named (unknown): found by the order query before orderpay recorded the "
        "payment (REFUND): refunded at the provider, amount unknown (the provider's answer does not say "
        "how much)");
    // A listed refund of unknown amount makes the sum unknown; a name that would break the list is
    // escaped (blank, comma, colon as %XX); one with no name at all is "(unnamed)".
    app::RefundedRecord odd =
        app::DescribeQueryRefunded(Refunded(2500, {{"a b,c:d", "", -1}, {"", "", 100}}, true), {});
    EXPECT_EQ(odd.reason.substr(0, 48), "no refund of ours named a%20b%2Cc%3Ad,(unnamed):");
    EXPECT_NE(odd.reason.find("amount unknown"), std::string::npos);
}

TEST(QueryRefundedRecord, ManyLongNamesLeaveTheSummaryWhole) {
    // 16 refunds named with PayPal's longest invoice_id (127 bytes) and an id: the names were cut
    // mid-list at the reason's 2000 bytes, and the amount with them (review s30c #4).
    std::vector<providers::QueryResult::RefundSeen> seen;
    for (int i = 0; i < 16; ++i)
        seen.push_back({std::string(120, 'a') + std::to_string(1000000 + i), "PP" + std::to_string(i), 10});
    app::RefundedRecord r = app::DescribeQueryRefunded(Refunded(2500, seen, true), {});
    EXPECT_LT(r.reason.size(), 2000u) << r.reason;
    EXPECT_NE(r.reason.find(",(and-"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find(": 1.60 of 25.00 CNY refunded at the provider"), std::string::npos) << r.reason;
}

TEST(QueryRefundedRecord, AmountsThatOverflowTheSumReadAsAllRefunded) {
    // A provider amount is read up to int64 (ParseProviderAmount; ParseDecimal stopped at 15
    // digits, so 50 listed refunds could not overflow): two huge listed refunds wrapped the sum
    // negative, signed overflow, and the record said "-92233720368547758.08 of 25.00 CNY".
    providers::Fields f = {
        {"return_code", "SUCCESS"},     {"result_code", "SUCCESS"}, {"out_trade_no", "sl1"},
        {"refund_count", "2"},          {"out_refund_no_0", "c1"},  {"refund_fee_0", "9223372036854775807"},
        {"refund_status_0", "SUCCESS"}, {"out_refund_no_1", "c2"},  {"refund_fee_1", "0000000000000000001"},
        {"refund_status_1", "SUCCESS"}};
    providers::QueryResult q = wxpay::ReadOrderQuery(Wx2Query("REFUND"), "sl1");
    ASSERT_TRUE(wxpay::ReadRefundListing(f, "sl1", q));
    ASSERT_EQ(q.refunds.size(), 2u);
    ASSERT_EQ(q.refunds[0].amount, INT64_MAX);
    ASSERT_EQ(q.refunds[1].amount, 1);
    app::RefundedRecord r = app::DescribeQueryRefunded(q, {});
    EXPECT_NE(r.reason.find(": all 25.00 CNY refunded at the provider"), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find('-'), std::string::npos) << r.reason;
}

TEST(QueryRefundedRecord, NothingWhenOnlyOursOrNotRefunded) {
    EXPECT_TRUE(
        app::DescribeQueryRefunded(Refunded(2500, {{"ours1", "", 500}}, true), {K::kOurs}).reason.empty());
    // Reported before (its notification came first): not reported twice (review s30-diff M1)...
    EXPECT_TRUE(
        app::DescribeQueryRefunded(Refunded(2500, {{"c1", "", 500}}, true), {K::kReported}).reason.empty());
    // ...but its money counts in what the report of a new one says went back.
    app::RefundedRecord both =
        app::DescribeQueryRefunded(Refunded(2500, {{"c1", "", 500}, {"c2", "", 700}, {"o1", "", 300}}, true),
                                   {K::kReported, K::kNew, K::kOurs});
    EXPECT_EQ(both.reason.substr(0, 27), "no refund of ours named c2:") << both.reason;
    EXPECT_NE(both.reason.find(": 12.00 of 25.00 CNY refunded"), std::string::npos) << both.reason;
    EXPECT_NE(both.body.find("refund c1 of 5.00, reported before"), std::string::npos) << both.body;
    // An answer that names no refund (WeChat v3), on a slip with a report already: nothing new.
    EXPECT_TRUE(app::DescribeQueryRefunded(Refunded(2500, {}, false), {}, true).reason.empty());
    EXPECT_TRUE(app::DescribeQueryRefunded(Refunded(2500, {}, true), {}).reason.empty());
    providers::QueryResult paid = Refunded(2500, {}, false);
    paid.refunded = false;
    EXPECT_TRUE(app::DescribeQueryRefunded(paid, {}).reason.empty());
    providers::QueryResult failed = Refunded(2500, {}, false);
    failed.state = S::kFailed;
    EXPECT_TRUE(app::DescribeQueryRefunded(failed, {}).reason.empty());
}

}  // namespace
}  // namespace orderpay
