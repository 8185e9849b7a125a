// The single table from error enum to HTTP status, errCode and default message.
#include "orderpay/http/errors.hpp"

#include <array>

namespace orderpay::http {

namespace {

constexpr std::array kTable = {
    ErrInfo{400, "e.www.api.bad_request", "bad request"},
    ErrInfo{400, "e.www.api.invalid.json", "request body is not valid JSON"},
    ErrInfo{400, "e.www.api.invalid.query", "malformed query string"},
    ErrInfo{400, "e.www.api.invalid.encoding", "text must be UTF-8 without NUL characters"},
    ErrInfo{400, "e.www.order.nil.products", "the order has no products"},
    ErrInfo{400, "e.www.order.nil.accounts", "the site has no account store"},
    ErrInfo{400, "e.www.order.nil.buyer_id", "buyer account not found"},
    ErrInfo{400, "e.www.order.nil.pay_tp", "pay_tp is missing"},
    ErrInfo{400, "e.www.order.invalid.pay_tp", "unknown or unconfigured pay type"},
    ErrInfo{400, "e.www.order.invalid.tp", "unknown order type"},
    ErrInfo{400, "e.www.order.invalid.amount", "invalid product amount"},
    ErrInfo{400, "e.www.order.invalid.currency", "the pay type cannot charge this currency"},
    ErrInfo{400, "e.www.order.nil.auth_code", "auth_code is required for scan payments"},
    ErrInfo{400, "e.www.order.nil.openid", "the buyer has no WeChat openid"},
    ErrInfo{400, "e.www.order.nil.id", "id is missing"},
    ErrInfo{400, "e.www.order.invalid.field", "invalid field"},
    ErrInfo{400, "e.www.refund.invalid.amount", "invalid refund amount"},
    ErrInfo{400, "e.www.refund.invalid.reason", "a refund needs a reason of 1 to 80 characters"},
    ErrInfo{401, "e.www.api.auth.nologin", "not logged in"},
    ErrInfo{401, "e.www.api.auth.nokey", "API key missing: send Authorization: Bearer <key>"},
    ErrInfo{401, "e.www.api.auth.badkey", "API key unknown or revoked"},
    ErrInfo{403, "e.www.api.auth.forbidden", "this API key is not for this site"},
    ErrInfo{404, "e.io.obj.noexists", "object does not exist"},
    ErrInfo{404, "e.www.site.noexists", "no such site"},
    ErrInfo{404, "e.www.api.noexists", "no such API"},
    ErrInfo{405, "e.www.api.method", "method not allowed"},
    ErrInfo{409, "e.www.order.OutOfStore", "not enough stock"},
    ErrInfo{409, "e.www.order.paid", "the order is already paid"},
    ErrInfo{409, "e.www.order.closed", "the order is closed"},
    ErrInfo{409, "e.www.pay.failed", "the payment was declined"},
    ErrInfo{409, "e.www.api.idempotency_mismatch", "this Idempotency-Key was used with another request"},
    ErrInfo{409, "e.www.order.noqr", "the order's current payment has no QR code"},
    ErrInfo{409, "e.www.order.state", "the order is not in the state this step leaves"},
    ErrInfo{409, "e.www.refund.not_paid", "the order is not paid: nothing to refund"},
    ErrInfo{409, "e.www.refund.too_much", "the refund exceeds what is left of the payment"},
    ErrInfo{409, "e.www.refund.unsupported", "this payment's provider cannot refund through orderpay"},
    ErrInfo{409, "e.www.refund.failed", "the provider refused the refund"},
    ErrInfo{409, "e.www.refund.conflict",
            "the provider contradicts a refund of this payment that orderpay recorded: no new refund of it "
            "until an operator has checked"},
    ErrInfo{409, "e.www.refund.chargeback",
            "the provider took this payment back (a chargeback): nothing of it is left to refund through "
            "orderpay; settle with the buyer"},
    ErrInfo{413, "e.www.api.too_large", "request body too large"},
    ErrInfo{414, "e.www.api.uri_too_long", "request URI too long"},
    ErrInfo{415, "e.www.api.unsupported_media_type", "Content-Type must be application/json"},
    ErrInfo{500, "e.sys.internal", "internal error"},
    ErrInfo{502, "e.www.pay.provider", "payment provider error"},
    ErrInfo{503, "e.sys.db.unavailable", "database unavailable, retry later"},
    ErrInfo{503, "e.sys.db.busy", "the data this request needs is locked, retry later"},
    ErrInfo{503, "e.sys.scan.busy",
            "too many scan payments are waiting for their buyers, retry in a few seconds"},
    ErrInfo{504, "e.www.pay.timeout", "payment provider timed out; the payment state is unknown"},
};

static_assert(kTable.size() == static_cast<std::size_t>(Err::kProviderTimeout) + 1,
              "every Err needs exactly one row");

}  // namespace

const ErrInfo& Info(Err e) {
    return kTable[static_cast<std::size_t>(e)];
}

}  // namespace orderpay::http
