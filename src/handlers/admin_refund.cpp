// POST /api/{site}/admin/refund (operators, API key): refunds all or part of a paid order of the
// site, or the whole of a refund_needed slip (a late or double payment) of it. Everything that can
// be refused without writing is refused first (body, order or slip, provider, amount); the refund
// itself is opened, sent and recorded by app/refund. Replies carry the refund and the order as it
// now stands.
#include <string_view>

#include "orderpay/app/order_view.hpp"
#include "orderpay/app/refund.hpp"
#include "orderpay/app/refund_checks.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/refund_input.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/check_view.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::handlers {

namespace {

constexpr std::string_view kNothingLeft = "nothing is left to refund of this payment";

std::string Data(const std::optional<store::RefundRow>& refund, bool replay, const std::string& order_json) {
    return "{\"refund\":" + (refund ? app::RenderRefund(*refund, replay) : std::string("null")) +
           ",\"order\":" + order_json + "}";
}

// The refund's answer as a reply (both kinds: the order's payment, a refund_needed slip), with the
// order as it now stands; `refunded_before` is what of that payment had gone back (OK) before.
http::Response Answer(app::Context& ctx, app::Call& call, const store::OrderRecord& order,
                      const std::string& order_json, std::int64_t refunded_before,
                      const app::RefundAnswer& a) {
    std::string now;
    if (!app::LoadOrder(ctx.db(), call.site.id, order.id, &now, app::Audience::kOperator)) now = order_json;
    if (a.err) {
        // The provider's own words are its refusal's message; the store's details stay in the log.
        std::string msg;
        if (*a.err == http::Err::kRefundFailed) msg = "the provider refused the refund: " + a.why;
        if (a.nothing_left) {
            const int exp = domain::CurrencyExponent(order.currency).value_or(2);
            // "refunded" alone would be wrong while one of the refunds is still with the provider.
            msg = std::string(kNothingLeft) + " (" +
                  (refunded_before >= a.taken ? "refunded " : "refunded or being refunded ") +
                  domain::FormatDecimal(a.taken, exp) + " of " + domain::FormatDecimal(a.paid, exp) + " " +
                  order.currency + ")";
        }
        // The report's own words name the refund and what the provider said of it; a chargeback's
        // what the provider's record showed when orderpay confirmed it.
        if (*a.err == http::Err::kRefundConflict || *a.err == http::Err::kRefundChargeback)
            msg = std::string(http::Info(*a.err).msg) + " (" + a.why + ")";
        // The key here is the body's idempotency_key, not pay/buy's Idempotency-Key header.
        if (*a.err == http::Err::kIdemMismatch)
            msg = "this idempotency_key was used for another refund: " + a.why;
        return http::Fail(*a.err, msg, Data(a.refund, a.replay, now));
    }
    return http::Ok(Data(a.refund, a.replay, now));
}

// What of the refund_needed slip `slip` had gone back (its OK refunds), as the order shows it.
std::int64_t SlipRefunded(const store::OrderRecord& o, const std::string& slip) {
    for (const store::HeldSlip& h : o.refund_needed)
        if (h.id == slip) return h.refunded;
    return 0;
}

// What of the paid order's own payment had gone back (its OK refunds). The order's `refunded` counts
// every refund of the order, its refund_needed slips' too: judged from it, the order's own refund
// still with the provider was called "refunded" once a double payment had been given back.
std::int64_t OwnRefunded(const store::OrderRecord& o) {
    std::int64_t held = 0;
    for (const store::HeldSlip& h : o.refund_needed) held += h.refunded;
    return o.refunded - held;
}

// {"slip": ...}: a refund_needed slip (a late payment of an expired or failed order, a second
// payment of an order paid through another slip) given back in full, as `orderpay refund --slip`
// gives it, through the same app::RequestRefund: the back office's way to money the order does
// not count. Only such a slip: the one a paid order is paid through is refunded as the order, and
// an unpaid one has nothing to give back.
http::Response SlipRefund(app::Context& ctx, app::Call& call, const RefundInput& in) {
    // Another site's slip is absent here, as another site's order is.
    std::optional<store::SlipRow> slip = store::FindSlip(ctx.db(), in.slip);
    if (!slip || slip->site_id != call.site.id) return http::Fail(http::Err::kNoSuchObject);
    std::optional<store::OrderView> v = store::LoadOrderView(ctx.db(), call.site.id, slip->order_id);
    if (!v) return http::Fail(http::Err::kNoSuchObject);
    const std::string order_json = app::RenderOrder(v->order, v->items, v->slip, app::Audience::kOperator);
    const std::string with_order = "{\"order\":" + order_json + "}";
    if (const std::optional<store::OrderRecord> o = app::OrderPaidBy(ctx.db(), *slip))
        return http::Fail(http::Err::kInvalidField,
                          "slip " + slip->id + " pays order " + o->id + " (" +
                              std::string(domain::ToString(o->or_st)) + "): refund the order ({\"order\":\"" +
                              o->id +
                              "\"}); slip is for a payment its order does not count (a late or double "
                              "payment, the order's refund_needed)",
                          with_order);
    if (!slip->refund_needed) {
        if (slip->st != domain::SlipState::kOk)
            return http::Fail(http::Err::kRefundNotPaid,
                              "slip " + slip->id + " is " + std::string(domain::ToString(slip->st)) +
                                  ": it holds no payment to give back",
                              with_order);
        return http::Fail(http::Err::kInvalidField,
                          "slip " + slip->id +
                              " is not refund_needed: slip is for a payment its order does not count "
                              "(a late or double payment, the order's refund_needed)",
                          with_order);
    }
    if (std::string why = app::RefundBlocker(ctx, *slip, in.idempotency_key); !why.empty())
        return http::Fail(http::Err::kRefundUnsupported,
                          std::string(http::Info(http::Err::kRefundUnsupported).msg) + " (" + why + ")",
                          with_order);
    store::RefundRequest r;
    r.site = call.site.id;
    r.slip = slip->id;
    r.reason = in.reason;
    r.requested_by = "api:" + call.api_key_id;
    r.idempotency_key = in.idempotency_key;
    return Answer(ctx, call, v->order, order_json, SlipRefunded(v->order, slip->id),
                  app::RequestRefund(ctx, r));
}

}  // namespace

http::Response AdminRefund(app::Context& ctx, app::Call& call, const http::Request& req) {
    RefundInput in;
    if (std::optional<http::Response> bad = ParseRefundInput(req, in)) return *bad;
    if (!in.slip.empty()) return SlipRefund(ctx, call, in);
    if (!domain::IsOrderId(in.order)) return http::Fail(http::Err::kNoSuchObject);
    std::optional<store::OrderView> v = store::LoadOrderView(ctx.db(), call.site.id, in.order);
    if (!v) return http::Fail(http::Err::kNoSuchObject);
    const std::string order_json = app::RenderOrder(v->order, v->items, v->slip, app::Audience::kOperator);
    if (!v->slip || v->slip->st != domain::SlipState::kOk)
        return http::Fail(http::Err::kRefundNotPaid, {}, "{\"order\":" + order_json + "}");
    if (std::string why = app::RefundBlocker(ctx, *v->slip, in.idempotency_key); !why.empty())
        return http::Fail(http::Err::kRefundUnsupported,
                          std::string(http::Info(http::Err::kRefundUnsupported).msg) + " (" + why + ")",
                          "{\"order\":" + order_json + "}");
    std::optional<domain::Minor> amount;
    if (in.amount) {
        const int exp = domain::CurrencyExponent(v->order.currency).value_or(2);
        amount = RefundAmount(*in.amount, exp);
        if (!amount)
            return http::Fail(http::Err::kInvalidRefundAmount,
                              "amount must be a positive decimal with at most " + std::to_string(exp) +
                                  " decimals, in " + v->order.currency);
    }

    store::RefundRequest r;
    r.site = call.site.id;
    r.order = in.order;
    r.amount = amount;
    r.reason = in.reason;
    r.requested_by = "api:" + call.api_key_id;
    r.idempotency_key = in.idempotency_key;
    return Answer(ctx, call, v->order, order_json, OwnRefunded(v->order), app::RequestRefund(ctx, r));
}

}  // namespace orderpay::handlers
