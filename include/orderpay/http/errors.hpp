// Every error the API can answer, mapped once to HTTP status, errCode and message.
#pragma once

#include <string>
#include <string_view>

namespace orderpay::http {

// Client errors first, then server-side ones (userver's ordering), so the table reads by class.
enum class Err {
    kBadRequest,           // 400 e.www.api.bad_request
    kBadJson,              // 400 e.www.api.invalid.json
    kBadQuery,             // 400 e.www.api.invalid.query
    kBadEncoding,          // 400 e.www.api.invalid.encoding
    kNilProducts,          // 400 e.www.order.nil.products
    kNilAccounts,          // 400 e.www.order.nil.accounts
    kNilBuyer,             // 400 e.www.order.nil.buyer_id
    kNilPayTp,             // 400 e.www.order.nil.pay_tp
    kInvalidPayTp,         // 400 e.www.order.invalid.pay_tp
    kInvalidTp,            // 400 e.www.order.invalid.tp
    kInvalidAmount,        // 400 e.www.order.invalid.amount
    kInvalidCurrency,      // 400 e.www.order.invalid.currency
    kNilAuthCode,          // 400 e.www.order.nil.auth_code
    kNilOpenid,            // 400 e.www.order.nil.openid
    kNilId,                // 400 e.www.order.nil.id
    kInvalidField,         // 400 e.www.order.invalid.field
    kInvalidRefundAmount,  // 400 e.www.refund.invalid.amount
    kInvalidReason,        // 400 e.www.refund.invalid.reason
    kNoLogin,              // 401 e.www.api.auth.nologin
    kNoApiKey,             // 401 e.www.api.auth.nokey
    kBadApiKey,            // 401 e.www.api.auth.badkey   (unknown or revoked)
    kForbidden,            // 403 e.www.api.auth.forbidden (another site's key)
    kNoSuchObject,         // 404 e.io.obj.noexists
    kNoSuchSite,           // 404 e.www.site.noexists
    kNoSuchApi,            // 404 e.www.api.noexists
    kMethodNotAllowed,     // 405 e.www.api.method
    kOutOfStore,           // 409 e.www.order.OutOfStore
    kOrderPaid,            // 409 e.www.order.paid
    kOrderClosed,          // 409 e.www.order.closed
    kPayFailed,            // 409 e.www.pay.failed   (provider refused definitively: e.g. code expired)
    kIdemMismatch,         // 409 e.www.api.idempotency_mismatch
    kNoQr,                 // 409 e.www.order.noqr   (pay/qr: the current slip has no QR code)
    kOrderState,           // 409 e.www.order.state  (admin/ship, admin/done: the order is in another state)
    kRefundNotPaid,        // 409 e.www.refund.not_paid
    kRefundTooMuch,        // 409 e.www.refund.too_much
    kRefundUnsupported,    // 409 e.www.refund.unsupported
    kRefundFailed,         // 409 e.www.refund.failed  (the provider refused the refund)
    kRefundConflict,       // 409 e.www.refund.conflict (the provider contradicts a recorded refund)
    kRefundChargeback,     // 409 e.www.refund.chargeback (the provider took the payment back)
    kTooLarge,             // 413 e.www.api.too_large
    kUriTooLong,           // 414 e.www.api.uri_too_long     (answered by nginx, listed for the one table)
    kUnsupportedType,      // 415 e.www.api.unsupported_media_type
    kInternal,             // 500 e.sys.internal
    kProvider,             // 502 e.www.pay.provider
    kDbUnavailable,        // 503 e.sys.db.unavailable
    kDbBusy,               // 503 e.sys.db.busy   (a lock or statement timeout: nothing was changed)
    kScanBusy,             // 503 e.sys.scan.busy (scan.max_waiting scans in progress: nothing was written)
    kProviderTimeout,      // 504 e.www.pay.timeout
};

struct ErrInfo {
    int status;
    std::string_view code;
    std::string_view msg;
};

const ErrInfo& Info(Err e);

}  // namespace orderpay::http
