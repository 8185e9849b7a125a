// /sim/pay for PayPal: moves the order to where the event says (approved; captured COMPLETED,
// PENDING or DECLINED), then POSTs the webhook to the order's return URL (orderpay's
// pay/re_paypal) with PayPal's transmission headers, `times` copies at once.
#include "sim/paypal/control.hpp"

#include <ctime>

#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/crypto/rsa.hpp"
#include "orderpay/providers/paypal/webhook.hpp"
#include "sim/core/deliver.hpp"
#include "sim/core/gateway.hpp"
#include "sim/paypal/gateway.hpp"
#include "sim/paypal/refund.hpp"

namespace orderpay::sim {

namespace {

std::string IsoNow() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string EventType(const std::string& event) {
    if (event == "APPROVED") return "CHECKOUT.ORDER.APPROVED";
    if (event == "PENDING") return "PAYMENT.CAPTURE.PENDING";
    if (event == "DENIED") return "PAYMENT.CAPTURE.DENIED";
    return "PAYMENT.CAPTURE.COMPLETED";
}

// The capture status an event implies.
std::string CaptureStatus(const std::string& event) {
    if (event == "PENDING") return "PENDING";
    if (event == "DENIED") return "DECLINED";
    return "COMPLETED";
}

// Where the order must be for the event: approved, and captured unless the event is APPROVED.
std::optional<pp_store::Order> Step(Ctx& ctx, pp_store::Order o, const std::string& event,
                                    http::Response& err) {
    if (o.status == "PAYER_ACTION_REQUIRED") {
        if (auto a = pp_store::Approve(ctx.db, o.id, "PAYER" + crypto::RandomId(8)))
            o = *a;
        else
            o = *pp_store::FindOrder(ctx.db, o.id);
    }
    if (event == "APPROVED") return o;
    if (o.status == "APPROVED") {
        if (auto c = PpCapture(ctx, o.id, CaptureStatus(event), "sim-pay"))
            o = *c;
        else
            o = *pp_store::FindOrder(ctx.db, o.id);
    }
    if (o.status != "COMPLETED" || o.capture_status != CaptureStatus(event)) {
        err = http::Fail(http::Err::kOrderClosed, "the order is " + o.status + " with capture " +
                                                      o.capture_status.value_or("none") + "; cannot send " +
                                                      event);
        return std::nullopt;
    }
    return o;
}

}  // namespace

std::string ParsePpPayArgs(const http::FormPairs& form, PpPayArgs& out) {
    out.event = http::FormValue(form, "event").value_or("COMPLETED");
    if (out.event.empty()) out.event = "COMPLETED";
    if (out.event != "APPROVED" && out.event != "COMPLETED" && out.event != "PENDING" &&
        out.event != "DENIED")
        return "event must be APPROVED, COMPLETED, PENDING or DENIED";
    out.tamper = http::FormValue(form, "tamper").value_or("");
    for (std::string_view t :
         {"", "sign", "amount", "amount_resigned", "crc", "cert_host", "cert_cn", "cert_expired", "algo"})
        if (out.tamper == t) return {};
    return "tamper must be sign, amount, amount_resigned, crc, cert_host, cert_cn, cert_expired or algo";
}

std::string PpWebhookBody(const pp_store::Order& o, const std::string& event, const std::string& value) {
    const std::string type = EventType(event);
    // One event id per order and event: PayPal redelivers an event under its own id.
    const std::string id = "WH-" + crypto::HexLower(crypto::Sha256(o.id + "|" + type)).substr(0, 24);
    std::string resource;
    if (event == "APPROVED") {
        pp_store::Order shown = o;
        shown.value = value;
        resource = PpOrderJson(shown, "https://api-m.paypal.com");
    } else {
        resource = "{\"id\":" + http::JsonString(o.capture_id.value_or("")) +
                   ",\"status\":" + http::JsonString(o.capture_status.value_or("")) +
                   ",\"amount\":{\"currency_code\":" + http::JsonString(o.currency) +
                   ",\"value\":" + http::JsonString(value) +
                   "},\"final_capture\":true,\"custom_id\":" + http::JsonString(o.custom_id) +
                   ",\"invoice_id\":" + http::JsonString(o.invoice_id) +
                   ",\"supplementary_data\":{\"related_ids\":{\"order_id\":" + http::JsonString(o.id) + "}}}";
    }
    return "{\"id\":" + http::JsonString(id) +
           ",\"event_version\":\"1.0\",\"create_time\":" + http::JsonString(IsoNow()) +
           ",\"resource_type\":" + (event == "APPROVED" ? "\"checkout-order\"" : "\"capture\"") +
           ",\"resource_version\":\"2.0\"," + "\"event_type\":" + http::JsonString(type) +
           ",\"summary\":" + http::JsonString("paysim " + type + " " + value + " " + o.currency) +
           ",\"resource\":" + resource + ",\"links\":[]}";
}

std::optional<Headers> PpWebhookHeaders(Ctx& ctx, const pp_store::Merchant& m, const std::string& signed_body,
                                        const std::string& tamper, http::Response& err) {
    if (ctx.opts.paypal_sign_key_file.empty() || ctx.opts.paypal_cert_base.empty()) {
        err = http::Fail(http::Err::kBadRequest,
                         "paysim.paypal_sign_key_file and paysim.paypal_cert_base are not set");
        return std::nullopt;
    }
    std::string error;
    std::optional<std::string> pem = crypto::ReadSmallFile(ctx.opts.paypal_sign_key_file, error);
    crypto::PKey key = pem ? crypto::PrivateKeyFromPem(*pem, error) : nullptr;
    if (!key) {
        err = http::Fail(http::Err::kInternal, "paypal signing key: " + error);
        return std::nullopt;
    }
    const std::string tid = crypto::RandomId(8) + "-" + crypto::RandomId(4) + "-" + crypto::RandomId(12);
    const std::string time = IsoNow();
    std::string text = paypal::SignedString(tid, time, m.webhook_id, signed_body);
    if (tamper == "crc")
        text = tid + "|" + time + "|" + m.webhook_id + "|" + std::to_string(paypal::Crc32(signed_body) ^ 1u);
    if (tamper == "sign")
        text = tid + "|" + time + "|WEBHOOK_ID|" + std::to_string(paypal::Crc32(signed_body));
    std::string cert_url = ctx.opts.paypal_cert_base + "CERT-paysim";
    if (tamper == "cert_cn") cert_url = ctx.opts.paypal_cert_base + "CERT-wrongcn";
    if (tamper == "cert_expired") cert_url = ctx.opts.paypal_cert_base + "CERT-expired";
    if (tamper == "cert_host") cert_url = "https://certs.paysim.evil/v1/notifications/certs/CERT-paysim";
    return Headers{{"PAYPAL-TRANSMISSION-ID", tid},
                   {"PAYPAL-TRANSMISSION-TIME", time},
                   {"PAYPAL-TRANSMISSION-SIG", crypto::RsaSha256SignBase64(key, text)},
                   {"PAYPAL-CERT-URL", cert_url},
                   {"PAYPAL-AUTH-ALGO", tamper == "algo" ? "SHA1withRSA" : "SHA256withRSA"},
                   {"PAYPAL-AUTH-VERSION", "v2"}};
}

http::Response PpSimPay(Ctx& ctx, const PayArgs& a, const PpPayArgs& p, pp_store::Order o) {
    std::optional<pp_store::Merchant> m = pp_store::FindMerchant(ctx.db, o.client_id);
    if (!m) return http::Fail(http::Err::kNoSuchObject, "the order's merchant is gone");
    http::Response err;
    if (ctx.opts.paypal_sign_key_file.empty() || ctx.opts.paypal_cert_base.empty())
        return http::Fail(http::Err::kBadRequest,
                          "paysim.paypal_sign_key_file and paysim.paypal_cert_base are not set");
    std::optional<pp_store::Order> done = Step(ctx, std::move(o), p.event, err);
    if (!done) return err;

    // The amount as signed, and (tamper=amount*) as sent.
    std::string value = done->value;
    std::string body = PpWebhookBody(*done, p.event, value);
    std::string signed_body = body;
    if (p.tamper == "amount" || p.tamper == "amount_resigned") {
        std::string more = "1" + value;  // ten or a hundred times more, still well-formed
        body = PpWebhookBody(*done, p.event, more);
        if (p.tamper == "amount_resigned") signed_body = body;
    }
    std::optional<Headers> headers = PpWebhookHeaders(ctx, *m, signed_body, p.tamper, err);
    if (!headers) return err;

    Notice n;
    n.out_trade_no = done->custom_id;
    n.transaction_id = done->capture_id.value_or(done->id);
    n.url = done->return_url;
    n.content_type = "application/json";
    n.body = body;
    n.copies = a.times;
    n.what = "sim/pay paypal " + done->custom_id + " " + EventType(p.event) +
             (p.tamper.empty() ? "" : " tamper=" + p.tamper);
    n.headers = std::move(*headers);
    return SendNotice(ctx.opts, n, a.delay_ms);
}

http::Response PpSimCaptureValue(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<http::FormPairs> form = ControlForm(req, err);
    if (!form) return err;
    const std::string slip = http::FormValue(*form, "out_trade_no").value_or("");
    const std::string value = http::FormValue(*form, "value").value_or("");
    if (!ValidId(slip, 64, "_-")) return http::Fail(http::Err::kBadRequest, "out_trade_no is required");
    // A PayPal amount value: digits with at most one '.', as PayPal's schema has it.
    bool value_ok = value.size() <= 20 && value.find_first_not_of("0123456789.") == std::string::npos &&
                    value.find('.') == value.rfind('.') && value != ".";
    if (!value_ok)
        return http::Fail(http::Err::kBadRequest, "value must be an amount such as 1.00, or empty");
    if (pp_store::SetCaptureValue(ctx.db, slip, value) == 0)
        return http::Fail(http::Err::kNoSuchObject, "no PayPal order for this out_trade_no");
    return http::Ok("{\"out_trade_no\":" + http::JsonString(slip) + ",\"value\":" + http::JsonString(value) +
                    "}");
}

http::Response PpSimRefund(Ctx& ctx, const SimRefundArgs& a, pp_store::Refund r) {
    bool tamper_ok = false;
    for (std::string_view t :
         {"", "sign", "amount", "amount_resigned", "crc", "cert_host", "cert_cn", "cert_expired", "algo"})
        tamper_ok = tamper_ok || a.tamper == t;
    if (!tamper_ok)
        return http::Fail(http::Err::kBadRequest,
                          "tamper must be sign, amount, amount_resigned, crc, cert_host, "
                          "cert_cn, cert_expired or algo");
    if (!a.status.empty() && a.status != r.status) {
        if (a.status != "COMPLETED" && a.status != "FAILED" && a.status != "CANCELLED")
            return http::Fail(http::Err::kBadRequest, "status must be COMPLETED, FAILED or CANCELLED");
        std::optional<pp_store::Refund> done = pp_store::FinishRefund(ctx.db, r.id, a.status);
        if (!done) return http::Fail(http::Err::kOrderClosed, "the refund is " + r.status + ", not PENDING");
        r = std::move(*done);
    }
    std::optional<pp_store::Order> o = pp_store::FindOrder(ctx.db, r.order_id);
    std::optional<pp_store::Merchant> m = o ? pp_store::FindMerchant(ctx.db, o->client_id) : std::nullopt;
    if (!m) return http::Fail(http::Err::kNoSuchObject, "the refund's order or merchant is gone");
    std::string body = PpRefundWebhookBody(r, r.value), signed_body = body;
    if (a.tamper == "amount" || a.tamper == "amount_resigned") {
        body = PpRefundWebhookBody(r, "1" + r.value);
        if (a.tamper == "amount_resigned") signed_body = body;
    }
    http::Response err;
    std::optional<Headers> headers = PpWebhookHeaders(ctx, *m, signed_body, a.tamper, err);
    if (!headers) return err;
    pp_store::CountRefundNotify(ctx.db, r.id, a.times);
    Notice n;
    n.out_trade_no = o->custom_id;
    n.transaction_id = r.id;
    n.url = o->return_url;
    n.content_type = "application/json";
    n.body = body;
    n.copies = a.times;
    n.what = "sim/refund paypal " + r.invoice_id + " " + r.status +
             (a.tamper.empty() ? "" : " tamper=" + a.tamper);
    n.headers = std::move(*headers);
    return SendNotice(ctx.opts, n, a.delay_ms);
}

}  // namespace orderpay::sim
