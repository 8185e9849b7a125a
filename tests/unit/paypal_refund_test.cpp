// Unit tests for PayPal refunds' pure parts: the refund body (amount in PayPal's precision,
// JPY without decimals, invoice_id, note_to_payer cut on a character boundary), the reading of
// PayPal's answers (every status, 422 refusals, 5xx/409 unknown, an answer about another
// invoice), the capture named by a refund's "up" link, and the parsing of a
// PAYMENT.CAPTURE.REFUNDED webhook down to the capture that names the slip.
#include <gtest/gtest.h>

#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/paypal/refund.hpp"

namespace orderpay::paypal {
namespace {

using S = providers::RefundResult::State;

providers::RefundParams Params(std::int64_t amount, const std::string& currency, const std::string& reason) {
    providers::RefundParams p;
    p.refund_id = "rf0001";
    p.slip_id = "sl0001";
    p.txn_id = "3C679366HH908993F";
    p.amount = amount;
    p.paid_amount = 2000;
    p.currency = currency;
    p.reason = reason;
    return p;
}

TEST(PaypalRefund, BodyInPaypalPrecision) {
    EXPECT_EQ(RefundBody(Params(750, "USD", "damaged")),
              "{\"amount\":{\"value\":\"7.50\",\"currency_code\":\"USD\"},\"invoice_id\":\"rf0001\","
              "\"note_to_payer\":\"damaged\"}");
    // JPY has no decimals at PayPal: 1500 yen is "1500", not "15.00".
    EXPECT_EQ(RefundBody(Params(1500, "JPY", "")),
              "{\"amount\":{\"value\":\"1500\",\"currency_code\":\"JPY\"},\"invoice_id\":\"rf0001\"}");
    EXPECT_EQ(RefundBody(Params(0, "USD", "x")), "");
    EXPECT_EQ(RefundBody(Params(100, "KRW", "x")), "");  // not a PayPal currency
}

TEST(PaypalRefund, NoteToPayerCutOnCharacters) {
    std::string long_ascii(300, 'a');
    EXPECT_EQ(NoteToPayer(long_ascii), std::string(255, 'a'));
    // 300 three-byte characters: 255 of them, never a split sequence.
    std::string han;
    for (int i = 0; i < 300; ++i) han += "退";
    const std::string cut = NoteToPayer(han);
    EXPECT_EQ(cut.size(), 255u * 3);
    EXPECT_EQ(cut.substr(0, 3), "退");
    EXPECT_EQ(NoteToPayer("a\nb\x01"), "a b ");
    EXPECT_EQ(NoteToPayer("ok\xff"), "ok");  // a stray byte is dropped
}

// Review s21 F1: a refund PayPal accepted (PROCESSING) was recorded FAIL, its amount freed for a
// second refund, when reconcile's GET of it was refused (403, 401 after the token refresh, 400).
TEST(PaypalRefund, ARefusedQuerySaysNothingAboutTheRefund) {
    const std::string failed =
        "{\"id\":\"1JU08902781691411\",\"status\":\"FAILED\",\"amount\":{\"value\":\"7.50\","
        "\"currency_code\":\"USD\"},\"invoice_id\":\"rf0001\"}";
    const std::string refused = "{\"name\":\"NOT_AUTHORIZED\",\"message\":\"no permission\"}";
    for (long status : {400L, 401L, 403L, 404L, 422L, 500L, 503L}) {
        providers::RefundResult r = RefundQueryAnswer(status, refused, "rf0001", "1JU08902781691411", "USD");
        EXPECT_EQ(r.state, S::kUnknown) << status;
    }
    EXPECT_NE(RefundQueryAnswer(404, "", "rf0001", "1JU08902781691411", "USD").message.find("does not know"),
              std::string::npos);
    // Only the refund's own status fails it.
    EXPECT_EQ(RefundQueryAnswer(200, failed, "rf0001", "1JU08902781691411", "USD").state, S::kFailed);
    // The repeat reconcile then sends under the same request id, refused for our permission:
    // certain for itself, silent about the refund PayPal accepted before.
    providers::RefundResult first = RefundAnswer(403, refused, "rf0001", "USD");
    EXPECT_EQ(first.state, S::kFailed);
    EXPECT_TRUE(first.not_sent);
    EXPECT_EQ(providers::AsRepeatOfASentRefund(first).state, S::kUnknown);
    EXPECT_EQ(providers::AsRepeatOfASentRefund(RefundAnswer(400, refused, "rf0001", "USD")).state,
              S::kFailed);
}

// What `orderpay refund finish` may take an operator's word on: PayPal's answer that it has no
// such refund (not_known) is an answer; a refusal is none; a refund record it cannot classify,
// or two under our invoice, reports money moved (disputed), whatever the operator says.
TEST(PaypalRefund, NoSuchRefundIsAnAnswerAndAnUnclassifiedRefundIsDisputed) {
    const std::string refused = "{\"name\":\"NOT_AUTHORIZED\",\"message\":\"no permission\"}";
    const std::string id = "1JU08902781691411";
    EXPECT_TRUE(RefundQueryAnswer(404, "{}", "rf0001", id, "USD").not_known);
    for (long status : {400L, 401L, 403L, 422L, 500L}) {
        const providers::RefundResult r = RefundQueryAnswer(status, refused, "rf0001", id, "USD");
        EXPECT_FALSE(r.not_known) << status;
        EXPECT_FALSE(r.disputed) << status;
    }
    auto refund = [&](const std::string& st, const std::string& invoice) {
        return "{\"id\":\"" + id + "\",\"status\":\"" + st + "\",\"invoice_id\":\"" + invoice +
               "\",\"amount\":{\"value\":\"4.00\",\"currency_code\":\"USD\"}}";
    };
    for (const std::string st : {"COMPLETED", "PENDING", "FAILED", "CANCELLED"})
        EXPECT_FALSE(RefundQueryAnswer(200, refund(st, "rf0001"), "rf0001", id, "USD").disputed) << st;
    const providers::RefundResult odd =
        RefundQueryAnswer(200, refund("ON_HOLD", "rf0001"), "rf0001", id, "USD");
    EXPECT_EQ(odd.state, S::kUnknown);
    EXPECT_TRUE(odd.disputed);
    EXPECT_TRUE(RefundQueryAnswer(200, refund("COMPLETED", "rf0777"), "rf0001", id, "USD").disputed);
    EXPECT_TRUE(RefundQueryAnswer(200, "{\"status\":\"COMPLETED\"}", "rf0001", id, "USD").disputed);
    // A refund of nothing is not ours: -1, never read as "no amount stated" (review s23-finish Low).
    const std::string none = "{\"id\":\"" + id +
                             "\",\"status\":\"COMPLETED\",\"invoice_id\":\"rf0001\","
                             "\"amount\":{\"value\":\"0.00\",\"currency_code\":\"USD\"}}";
    EXPECT_EQ(RefundQueryAnswer(200, none, "rf0001", id, "USD").amount, -1);
    auto order = [](const std::string& refunds) {
        return "{\"id\":\"5O190127TN364715T\",\"purchase_units\":[{\"payments\":{\"captures\":[{\"id\":"
               "\"2GG279541U471931P\"}],\"refunds\":[" +
               refunds + "]}}]}";
    };
    auto listed = [](const std::string& refund_id) {
        return "{\"id\":\"" + refund_id +
               "\",\"status\":\"COMPLETED\",\"invoice_id\":\"rf0001\","
               "\"amount\":{\"value\":\"4.00\",\"currency_code\":\"USD\"}}";
    };
    EXPECT_FALSE(
        RefundOfInvoice(200, order(listed("1AA00000000000001")), "rf0001", "2GG279541U471931P", "USD")
            .refund.disputed);
    EXPECT_TRUE(RefundOfInvoice(200, order(listed("1AA00000000000001") + "," + listed("1AA00000000000002")),
                                "rf0001", "2GG279541U471931P", "USD")
                    .refund.disputed);
}

// A webhook's refund is believed only as PayPal's own record of that very refund: its id, the
// slip's capture (the "up" link) and our invoice (review s21-diff F1: the webhook's signature
// covers only a CRC32 of its body).
TEST(PaypalRefund, AConfirmationBelievesOnlyThatRefundOfThatCapture) {
    auto answer = [](const std::string& id, const std::string& status, const std::string& invoice,
                     const std::string& capture) {
        std::string s = "{\"id\":\"" + id + "\",\"status\":\"" + status +
                        "\",\"amount\":{\"value\":\"7.50\",\"currency_code\":\"USD\"}";
        if (!invoice.empty()) s += ",\"invoice_id\":\"" + invoice + "\"";
        if (!capture.empty())
            s += ",\"links\":[{\"rel\":\"self\",\"href\":\"https://api-m.paypal.com/v2/payments/refunds/" +
                 id + "\"},{\"rel\":\"up\",\"href\":\"https://api-m.paypal.com/v2/payments/captures/" +
                 capture + "\"}]";
        return s + "}";
    };
    const std::string rid = "1JU08902781691411", cap = "2GG279541U471931P";
    providers::RefundResult r =
        RefundConfirmAnswer(200, answer(rid, "COMPLETED", "rf0001", cap), "rf0001", rid, cap, "USD");
    EXPECT_EQ(r.state, S::kOk);
    EXPECT_EQ(r.amount, 750);
    EXPECT_FALSE(r.not_this_refund);
    EXPECT_EQ(RefundConfirmAnswer(200, answer(rid, "FAILED", "rf0001", cap), "rf0001", rid, cap, "USD").state,
              S::kFailed);
    EXPECT_EQ(
        RefundConfirmAnswer(200, answer(rid, "PENDING", "rf0001", cap), "rf0001", rid, cap, "USD").state,
        S::kProcessing);
    // Some other refund: another invoice, none, another capture, no "up" link, another id.
    for (const std::string& body :
         {answer(rid, "COMPLETED", "rf0002", cap), answer(rid, "COMPLETED", "", cap),
          answer(rid, "COMPLETED", "rf0001", "9XX00000000000000"), answer(rid, "COMPLETED", "rf0001", ""),
          answer("3KK00000000000000", "COMPLETED", "rf0001", cap)}) {
        r = RefundConfirmAnswer(200, body, "rf0001", rid, cap, "USD");
        EXPECT_TRUE(r.not_this_refund) << body;
        EXPECT_EQ(r.state, S::kUnknown) << body;
    }
    // A refund made outside orderpay: any invoice (or none), but still of the slip's capture.
    EXPECT_EQ(RefundConfirmAnswer(200, answer(rid, "COMPLETED", "dash-1", cap), "", rid, cap, "USD").state,
              S::kOk);
    EXPECT_EQ(RefundConfirmAnswer(200, answer(rid, "COMPLETED", "", cap), "", rid, cap, "USD").state, S::kOk);
    EXPECT_TRUE(
        RefundConfirmAnswer(200, answer(rid, "COMPLETED", "", "9XX00000000000000"), "", rid, cap, "USD")
            .not_this_refund);
    // PayPal knows no such refund: a lie; a refused or failed query: unknown, asked again.
    EXPECT_TRUE(RefundConfirmAnswer(404, "", "rf0001", rid, cap, "USD").not_this_refund);
    for (long status : {400L, 401L, 403L, 500L, 503L}) {
        r = RefundConfirmAnswer(status, "{}", "rf0001", rid, cap, "USD");
        EXPECT_EQ(r.state, S::kUnknown) << status;
        EXPECT_FALSE(r.not_this_refund) << status;
    }
    EXPECT_EQ(RefundConfirmAnswer(200, "not json", "rf0001", rid, cap, "USD").state, S::kUnknown);
}

// Before a refund sent before goes out again, the order is read for it by its invoice_id (our
// refund id): PayPal may have made it and forgotten the request id (review s21 F2(a)).
TEST(PaypalRefund, ARefundSentBeforeIsFoundInTheOrderByItsInvoice) {
    auto order = [](const std::string& refunds) {
        return "{\"id\":\"5O190127TN364715T\",\"status\":\"COMPLETED\",\"purchase_units\":[{\"payments\":{"
               "\"captures\":[{\"id\":\"2GG279541U471931P\",\"status\":\"PARTIALLY_REFUNDED\"}]" +
               refunds + "}}]}";
    };
    const std::string two =
        ",\"refunds\":[{\"id\":\"1AA00000000000000\",\"status\":\"COMPLETED\",\"invoice_id\":\"rf0000\","
        "\"amount\":{\"value\":\"1.00\",\"currency_code\":\"USD\"}},"
        "{\"id\":\"1JU08902781691411\",\"status\":\"PENDING\",\"invoice_id\":\"rf0001\","
        "\"amount\":{\"value\":\"4.00\",\"currency_code\":\"USD\"}}]";
    InvoiceLookup l = RefundOfInvoice(200, order(two), "rf0001", "2GG279541U471931P", "USD");
    EXPECT_TRUE(l.read);
    ASSERT_TRUE(l.found);
    EXPECT_EQ(l.refund.state, S::kProcessing);
    EXPECT_EQ(l.refund.provider_refund_id, "1JU08902781691411");
    EXPECT_EQ(l.refund.amount, 400);
    // Listed under another invoice only, or no refunds at all: read, not found (send it again).
    for (const std::string& body : {order(two), order("")}) {
        l = RefundOfInvoice(200, body, "rf0009", "2GG279541U471931P", "USD");
        EXPECT_TRUE(l.read);
        EXPECT_FALSE(l.found);
    }
    // A refund PayPal failed, then one that went through, under our invoice: the one that went
    // through. Two that went through: a second refund of the same money, never settled by us.
    auto listed = [&](const std::string& a, const std::string& b) {
        auto one = [](const std::string& id, const std::string& st) {
            return "{\"id\":\"" + id + "\",\"status\":\"" + st +
                   "\",\"invoice_id\":\"rf0001\",\"amount\":{\"value\":\"4.00\",\"currency_code\":\"USD\"}}";
        };
        return order(",\"refunds\":[" + one("1AA00000000000001", a) + "," + one("1AA00000000000002", b) +
                     "]");
    };
    l = RefundOfInvoice(200, listed("FAILED", "COMPLETED"), "rf0001", "2GG279541U471931P", "USD");
    ASSERT_TRUE(l.found);
    EXPECT_EQ(l.refund.state, S::kOk);
    EXPECT_EQ(l.refund.provider_refund_id, "1AA00000000000002");
    l = RefundOfInvoice(200, listed("COMPLETED", "FAILED"), "rf0001", "2GG279541U471931P", "USD");
    EXPECT_EQ(l.refund.state, S::kOk);
    EXPECT_EQ(l.refund.provider_refund_id, "1AA00000000000001");
    EXPECT_EQ(RefundOfInvoice(200, listed("FAILED", "CANCELLED"), "rf0001", "2GG279541U471931P", "USD")
                  .refund.state,
              S::kFailed);
    for (auto [a, b] : {std::pair{"COMPLETED", "COMPLETED"}, std::pair{"PENDING", "COMPLETED"}}) {
        l = RefundOfInvoice(200, listed(a, b), "rf0001", "2GG279541U471931P", "USD");
        EXPECT_TRUE(l.found);
        EXPECT_EQ(l.refund.state, S::kUnknown) << a << b;
        EXPECT_NE(l.refund.message.find("second refund"), std::string::npos);
    }
    // Listed in another currency: found, never read as our amount (held as RefundAnswer holds it).
    const std::string eur =
        ",\"refunds\":[{\"id\":\"1JU08902781691411\",\"status\":\"COMPLETED\",\"invoice_id\":\"rf0001\","
        "\"amount\":{\"value\":\"4.00\",\"currency_code\":\"EUR\"}}]";
    l = RefundOfInvoice(200, order(eur), "rf0001", "2GG279541U471931P", "USD");
    ASSERT_TRUE(l.found);
    EXPECT_EQ(l.refund.amount, -1);
    // An order that does not hold our capture (another order answering, or PayPal showing it
    // without its payments) says nothing of our refund, even one listed under our invoice.
    for (const std::string& capture : {std::string("9ZZ000000000000X"), std::string()}) {
        l = RefundOfInvoice(200, order(two), "rf0001", capture, "USD");
        EXPECT_FALSE(l.read) << capture;
        EXPECT_FALSE(l.found) << capture;
        EXPECT_NE(l.message.find("does not list capture"), std::string::npos) << l.message;
    }
    l = RefundOfInvoice(200,
                        "{\"id\":\"5O190127TN364715T\",\"purchase_units\":[{\"payments\":{\"refunds\":[]}}]}",
                        "rf0009", "2GG279541U471931P", "USD");
    EXPECT_FALSE(l.read);
    // Nothing can be concluded from an order we could not read: nothing is sent.
    for (auto [status, body] : std::initializer_list<std::pair<long, std::string>>{
             {404, "{}"}, {500, order(two)}, {401, "{}"}, {200, "not json"}, {200, "{\"id\":\"X\"}"}}) {
        l = RefundOfInvoice(status, body, "rf0001", "2GG279541U471931P", "USD");
        EXPECT_FALSE(l.read) << status << body;
        EXPECT_FALSE(l.found) << status << body;
    }
}

TEST(PaypalRefund, AnswerStates) {
    auto answer = [](const std::string& status) {
        return "{\"id\":\"1JU08902781691411\",\"status\":\"" + status +
               "\",\"amount\":{\"value\":\"7.50\",\"currency_code\":\"USD\"},\"invoice_id\":\"rf0001\"}";
    };
    providers::RefundResult r = RefundAnswer(201, answer("COMPLETED"), "rf0001", "USD");
    EXPECT_EQ(r.state, S::kOk);
    EXPECT_EQ(r.provider_refund_id, "1JU08902781691411");
    EXPECT_EQ(r.amount, 750);
    EXPECT_EQ(RefundAnswer(201, answer("PENDING"), "rf0001", "USD").state, S::kProcessing);
    EXPECT_EQ(RefundAnswer(200, answer("FAILED"), "rf0001", "USD").state, S::kFailed);
    EXPECT_EQ(RefundAnswer(200, answer("CANCELLED"), "rf0001", "USD").state, S::kFailed);
    EXPECT_EQ(RefundAnswer(200, answer("SOMETHING_NEW"), "rf0001", "USD").state, S::kUnknown);
    // About another refund of ours: not believed.
    EXPECT_EQ(RefundAnswer(201, answer("COMPLETED"), "rf0002", "USD").state, S::kUnknown);
    // An amount in another currency, unreadable or missing is not ours: -1, which app::Record
    // never believes (0 would read as "not said" and let a COMPLETED through).
    EXPECT_EQ(RefundAnswer(201, answer("COMPLETED"), "rf0001", "EUR").amount, -1);
    EXPECT_EQ(RefundAnswer(201,
                           "{\"id\":\"1JU08902781691411\",\"status\":\"COMPLETED\",\"invoice_id\":\"rf0001\","
                           "\"amount\":{\"value\":\"7.5x\",\"currency_code\":\"USD\"}}",
                           "rf0001", "USD")
                  .amount,
              -1);
    EXPECT_EQ(
        RefundAnswer(201, "{\"id\":\"1JU08902781691411\",\"status\":\"COMPLETED\",\"invoice_id\":\"rf0001\"}",
                     "rf0001", "USD")
            .amount,
        -1);
    EXPECT_EQ(RefundAnswer(201, "not json", "rf0001", "USD").state, S::kUnknown);
    EXPECT_EQ(RefundAnswer(201, "{\"status\":\"COMPLETED\"}", "rf0001", "USD").state, S::kUnknown);
}

TEST(RefundRepeat, OnlyAFailureThatSaysNothingAboutTheFirstRequestBecomesUnknown) {
    const std::string exceeded =
        "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":\"REFUND_AMOUNT_EXCEEDED\"}]}";
    providers::RefundResult refused =
        providers::AsRepeatOfASentRefund(RefundAnswer(422, exceeded, "rf0001", "USD"));
    EXPECT_EQ(refused.state, S::kUnknown);
    EXPECT_EQ(
        refused.message.rfind("repeat refused as already refunded, the first may have been carried out: ", 0),
        0U)
        << refused.message;
    providers::RefundResult unsent;
    unsent.state = S::kFailed;
    unsent.not_sent = true;
    unsent.message = "no connection";
    EXPECT_EQ(providers::AsRepeatOfASentRefund(unsent).state, S::kUnknown);
    EXPECT_EQ(providers::AsRepeatOfASentRefund(unsent).message,
              "repeat not sent, the first may have been carried out: no connection");
    // A refusal about this refund itself (another issue) stays a failure; other states are kept.
    providers::RefundResult funds = RefundAnswer(
        422,
        "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":\"REFUND_FAILED_INSUFFICIENT_FUNDS\"}]}",
        "rf0001", "USD");
    EXPECT_EQ(providers::AsRepeatOfASentRefund(funds).state, S::kFailed);
    EXPECT_EQ(providers::AsRepeatOfASentRefund(funds).message, funds.message);
    providers::RefundResult ok;
    ok.state = S::kOk;
    ok.already_refunded = true;  // not a failure: nothing to reinterpret
    EXPECT_EQ(providers::AsRepeatOfASentRefund(ok).state, S::kOk);
}

TEST(PaypalRefund, AnswerErrors) {
    const std::string exceeded =
        "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":\"REFUND_AMOUNT_EXCEEDED\"}],"
        "\"message\":\"The requested action could not be performed\"}";
    providers::RefundResult r = RefundAnswer(422, exceeded, "rf0001", "USD");
    EXPECT_EQ(r.state, S::kFailed);
    EXPECT_NE(r.message.find("REFUND_AMOUNT_EXCEEDED"), std::string::npos) << r.message;
    // The money is already refunded: a repeat of a refund sent before must not fail on that.
    EXPECT_TRUE(r.already_refunded);
    EXPECT_TRUE(
        RefundAnswer(
            422, "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":\"CAPTURE_FULLY_REFUNDED\"}]}",
            "rf0001", "USD")
            .already_refunded);
    // A partial refund repeated after PayPal forgot its request id, refused because its
    // invoice_id (our refund id) was refunded: by that first request.
    providers::RefundResult dup = RefundAnswer(
        422, "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":\"DUPLICATE_REFUND\"}]}", "rf0001",
        "USD");
    EXPECT_TRUE(dup.already_refunded);
    EXPECT_EQ(providers::AsRepeatOfASentRefund(dup).state, S::kUnknown);
    EXPECT_FALSE(RefundAnswer(422,
                              "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":"
                              "\"REFUND_FAILED_INSUFFICIENT_FUNDS\"}]}",
                              "rf0001", "USD")
                     .already_refunded);
    EXPECT_FALSE(RefundAnswer(400, exceeded, "rf0001", "USD").already_refunded);
    EXPECT_EQ(RefundAnswer(404, "{\"name\":\"RESOURCE_NOT_FOUND\"}", "rf0001", "USD").state, S::kFailed);
    EXPECT_EQ(RefundAnswer(400, "{}", "rf0001", "USD").state, S::kFailed);
    providers::RefundResult down = RefundAnswer(503, "{\"name\":\"SERVICE_UNAVAILABLE\"}", "rf0001", "USD");
    EXPECT_EQ(down.state, S::kUnknown);
    EXPECT_TRUE(down.timeout);
    EXPECT_EQ(RefundAnswer(500, "", "rf0001", "USD").state, S::kUnknown);
    EXPECT_EQ(RefundAnswer(409, "{}", "rf0001", "USD").state, S::kUnknown);  // the same request in progress
    EXPECT_EQ(RefundAnswer(429, "{}", "rf0001", "USD").state, S::kUnknown);
}

TEST(PaypalRefund, CaptureOfUpLink) {
    EXPECT_EQ(CaptureOfRefundLinks("https://api-m.paypal.com/v2/payments/captures/2GG279541U471931P"),
              "2GG279541U471931P");
    EXPECT_EQ(CaptureOfRefundLinks("https://api-m.paypal.com/v2/payments/captures/2GG279541U471931P?x=1"),
              "2GG279541U471931P");
    EXPECT_EQ(CaptureOfRefundLinks("https://api-m.paypal.com/v2/payments/refunds/1JU08902781691411"), "");
    EXPECT_EQ(CaptureOfRefundLinks("https://api-m.paypal.com/v2/payments/captures/a%20b"), "");
    EXPECT_EQ(CaptureOfRefundLinks(""), "");
}

TEST(PaypalRefund, WebhookNamesTheCapture) {
    PaypalClient p(PaypalOptions{});
    providers::RawNotification raw;
    raw.method = "POST";
    raw.body =
        "{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.REFUNDED\",\"resource\":{\"id\":"
        "\"1JU08902781691411\","
        "\"status\":\"COMPLETED\",\"amount\":{\"value\":\"7.50\",\"currency_code\":\"USD\"},"
        "\"invoice_id\":\"rf0001\",\"links\":[{\"href\":\"https://api-m.paypal.com/v2/payments/refunds/"
        "1JU08902781691411\",\"rel\":\"self\"},{\"href\":\"https://api-m.paypal.com/v2/payments/captures/"
        "2GG279541U471931P\",\"rel\":\"up\"}]}}";
    providers::Notice n = p.ParseNotification(raw);
    ASSERT_TRUE(n.parsed) << n.error;
    EXPECT_EQ(n.slip_id, "");
    EXPECT_EQ(n.provider_ref, "2GG279541U471931P");  // the slip that recorded this capture
    auto field = [&n](const std::string& k) {
        for (const auto& [name, v] : n.fields)
            if (name == k) return v;
        return std::string();
    };
    EXPECT_EQ(field("invoice_id"), "rf0001");
    EXPECT_EQ(field("capture_id"), "2GG279541U471931P");
    EXPECT_EQ(field("resource_id"), "1JU08902781691411");
    EXPECT_EQ(field("value"), "7.50");
    // Unsigned: nothing is believed.
    providers::PaidEvent ev;
    std::string reason;
    EXPECT_FALSE(
        p.VerifyNotification(providers::Merchant{"pp", "paypal", "c", "WH", "", "s", "{}"}, n, ev, reason));
    EXPECT_FALSE(ev.refund);
}

}  // namespace
}  // namespace orderpay::paypal
