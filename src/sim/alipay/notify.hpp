// The Alipay notification (and return-URL query) paysim sends for a trade: its fields in the
// real gateway's order, RSA2-signed, optionally in GBK, and form-encoded the way Alipay encodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orderpay/crypto/rsa.hpp"
#include "orderpay/http/form.hpp"
#include "sim/alipay/store.hpp"

namespace orderpay::sim {

/// Ordered name/value pairs (the same type as alipay::Params).
using ZfbParams = http::FormPairs;

/// application/x-www-form-urlencoded as Alipay's servers write it (like Python's quote_plus):
/// A-Z a-z 0-9 _ . - ~ stay, a space becomes '+', every other byte %XX (upper-case hex). So '+'
/// travels as %2B and UTF-8 or GBK bytes as their escapes.
std::string ZfbFormEscape(std::string_view bytes);
std::string ZfbFormEncode(const ZfbParams& params);

/// UTF-8 to GBK with iconv; nullopt when the input is not UTF-8 or a character has no GBK form.
std::optional<std::string> Utf8ToGbk(std::string_view utf8);

struct ZfbNotifyOptions {
    std::string trade_status = "TRADE_SUCCESS";  // or WAIT_BUYER_PAY, TRADE_CLOSED, TRADE_FINISHED
    std::optional<std::string> subject;          // instead of the trade's subject
    bool gbk = false;                            // charset=GBK: every value transcoded before signing
    std::int64_t now = 0;                        // notify_time, epoch seconds
    /// A refund's notification: its out_request_no (Alipay's out_biz_no), what the trade has had
    /// refunded in all (refund_fee) and when this refund was made (gmt_refund).
    std::optional<std::string> out_biz_no;
    std::int64_t refund_total = 0;
    std::int64_t gmt_refund = 0;
};

/// notify_id: 34 digits, the same for every resend of one status of one trade (from the trade's
/// notify_seed), different for another status.
std::string ZfbNotifyId(std::string_view seed, std::string_view trade_status, std::int64_t date_epoch);

/// The signed notification of `t` (prepared: trade_no, buyer_id and notify_seed set) in the order
/// of PROTOCOLS.md V-ALI-1. Payment fields (gmt_payment, amounts, fund_bill_list) appear for
/// TRADE_SUCCESS, TRADE_FINISHED and a refunded TRADE_CLOSED; gmt_close for TRADE_CLOSED, and
/// refund_fee/gmt_refund when refunded. The sign covers NotifySignContent over the final bytes
/// (GBK when asked). nullopt with `error` when a value has no GBK form.
std::optional<ZfbParams> ZfbNotificationParams(const zfb_store::Trade& t, const crypto::PKey& alipay_key,
                                               const ZfbNotifyOptions& o, std::string& error);

/// The signed return-URL parameters of a paid trade, in the order of PROTOCOLS.md V-ALI-2.
ZfbParams ZfbReturnParams(const zfb_store::Trade& t, const crypto::PKey& alipay_key, std::int64_t now);

/// Signs `params` in place: "sign" := base64 SHA256withRSA over NotifySignContent(params).
void ZfbSignParams(ZfbParams& params, const crypto::PKey& alipay_key);

}  // namespace orderpay::sim
