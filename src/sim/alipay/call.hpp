// One authenticated Alipay gateway call (POST /gateway.do): parse, find the merchant by app_id,
// verify the RSA2 request signature, read biz_content; and the signed answers the real gateway
// gives (code / msg / sub_code / sub_msg).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "orderpay/crypto/rsa.hpp"
#include "orderpay/http/form.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/request.hpp"
#include "sim/alipay/reply.hpp"
#include "sim/alipay/store.hpp"
#include "sim/core/context.hpp"

namespace orderpay::sim {

struct ZfbCall {
    http::FormPairs params;        // the form body, then query parameters it lacks; signature verified
    zfb_store::Merchant merchant;  // found by app_id
    crypto::PKey alipay_key;       // the merchant's simulated Alipay private key: signs the answer
    std::string method;            // "alipay.trade.precreate", ...
    rapidjson::Document biz;       // biz_content, an object

    /// A common parameter, "" when absent.
    std::string Param(std::string_view name) const;
    /// A string member of biz_content, "" when absent or not a string.
    std::string Biz(const char* name) const;
};

/// The merchant's simulated Alipay private key (`alipay_private`) or its app public key. Both
/// were checked when stored, so one that does not parse means a broken database: throws.
crypto::PKey ZfbMerchantKey(const zfb_store::Merchant& m, bool alipay_private);

/// Authenticates a gateway call: known app_id, a method, charset utf-8 (and in the URL query
/// whenever a value is not ASCII, as the real gateway needs), format JSON, timestamp, sign_type
/// RSA2, a valid sign over RequestSignContent, biz_content a JSON object. On failure returns
/// nullopt with `reply` set to the gateway's refusal (signed when the app is known): in
/// error_response, or for a bad signature in the method's node (ZfbInvalidSignature).
std::optional<ZfbCall> OpenZfbCall(Ctx& ctx, const http::Request& req, http::Response& reply);

/// A refusal of the request itself in `node`: code 40001 ("Missing Required Arguments") or 40002
/// ("Invalid Arguments") with sub_code/sub_msg, signed with `key` unless it is null.
http::Response ZfbRefusal(std::string_view node, std::string_view code, std::string_view sub_code,
                          std::string_view sub_msg, const crypto::PKey& key);

/// ZfbRefusal in error_response: what the gateway answers before it knows the method, or for
/// one it does not have.
http::Response ZfbErrorResponse(std::string_view code, std::string_view sub_code, std::string_view sub_msg,
                                const crypto::PKey& key);

/// The answer to a request whose signature does not verify: 40002 isv.invalid-signature under
/// the method's own node ("alipay_trade_precreate_response"), not error_response. The real
/// gateway answers so, and the official SDKs read that node.
http::Response ZfbInvalidSignature(std::string_view method, std::string_view sub_msg,
                                   const crypto::PKey& key);

/// code 10000 "Success" followed by `fields`, in the method's node, signed.
http::Response ZfbOk(const ZfbCall& call, ZfbMembers fields);

/// Any answer in the method's node: code, msg, sub_code/sub_msg when not empty, then `fields`
/// sorted by name (Alipay's answers list their fields alphabetically).
http::Response ZfbAnswer(const ZfbCall& call, std::string_view code, std::string_view msg,
                         std::string_view sub_code, std::string_view sub_msg, ZfbMembers fields = {});

/// 40004 "Business Failed" with sub_code/sub_msg, then `fields`.
http::Response ZfbBizFail(const ZfbCall& call, std::string_view sub_code, std::string_view sub_msg,
                          ZfbMembers fields = {});

/// 20000 ACQ.SYSTEM_ERROR in the method's node: the outcome is unknown.
http::Response ZfbSystemError(const ZfbCall& call);

/// The unsigned error_response paysim gives when it cannot work (database down, a bug): 20000.
http::Response ZfbUnavailable(int status);

/// The trade a query/close/cancel names: by trade_no if given, else out_trade_no. On nullopt
/// `reply` holds the answer (neither given; an unknown trade_no). An unknown out_trade_no still
/// yields its key: the caller decides.
std::optional<zfb_store::TradeKey> ZfbFindKey(Ctx& ctx, const ZfbCall& call, http::Response& reply);

/// A new buyer: "2088" + 12 random digits, and a masked phone-number logon id.
zfb_store::Buyer NewZfbBuyer();

/// A string of `n` random decimal digits (not secret: trade and buyer ids).
std::string RandomDigits(std::size_t n);

}  // namespace orderpay::sim
