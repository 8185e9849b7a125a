// pay/qr: the caller's order's current QR code as SVG, so a front end shows it with an <img>
// instead of bundling a QR library. Same site/ticket/order answers as pay/check (one statement,
// store::LoadCheckView); it never calls the provider: the QR text is what the provider gave the
// slip when it was issued, and pay/check is what follows the payment.
#include "orderpay/app/order_view.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/own_order.hpp"
#include "orderpay/http/qr_svg.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

http::Response Qr(app::Context& ctx, app::Call& call, const http::Request& req) {
    auto own = LoadOwnOrder(ctx, call, req);
    if (auto* refused = std::get_if<http::Response>(&own)) return std::move(*refused);
    const store::CheckView& v = std::get<store::CheckView>(own);

    using domain::OrderState;
    const OrderState st = v.order->or_st;
    if (domain::IsPaid(st)) return http::Fail(http::Err::kOrderPaid);
    if (st == OrderState::kFA || st == OrderState::kRF || v.order->expired)
        return http::Fail(http::Err::kOrderClosed);
    if (!v.slip || v.slip->st != domain::SlipState::kWait || v.slip->re_tp != "QRCODE")
        return http::Fail(http::Err::kNoQr);
    // As pay/check shows it: nothing to pay with (pay/pay issues a new code).
    if (app::CodeOutlived(*v.slip))
        return http::Fail(http::Err::kNoQr, "the slip's code is past the lifetime its provider gives it");
    std::optional<http::QrMatrix> m = http::EncodeQr(v.slip->re_obj);
    if (!m) return http::Fail(http::Err::kNoQr, "the slip's QR text cannot be encoded");

    // A slip's QR text never changes, but the URL names the order, whose slip pay/pay can
    // replace: browsers keep the image (private: the URL holds the ticket) and revalidate it.
    const std::string etag =
        "\"" + v.slip->id + "-" + crypto::HexLower(crypto::Sha256(v.slip->re_obj)).substr(0, 16) + "\"";
    http::Response r;
    r.headers.emplace_back("ETag", etag);
    r.headers.emplace_back("Cache-Control", "private, no-cache");
    if (std::optional<std::string> inm = req.Header("HTTP_IF_NONE_MATCH");
        inm && http::IfNoneMatchHas(*inm, etag)) {
        r.status = 304;
        r.content_type = "image/svg+xml";
        return r;
    }
    r.content_type = "image/svg+xml";
    r.body = http::RenderQrSvg(*m);
    return r;
}

}  // namespace orderpay::handlers
