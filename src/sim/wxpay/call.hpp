// One authenticated WeChat v2 call: parse, find the merchant, verify the sign; and the signed
// answers the real gateway gives (return_code / result_code / err_code).
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "orderpay/http/request.hpp"
#include "orderpay/http/xml.hpp"
#include "orderpay/providers/wxpay/sign.hpp"
#include "sim/core/context.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

struct WxCall {
    http::XmlFields in;                                 // the request's fields, signature verified
    wx_store::Merchant merchant;                        // found by mch_id
    wxpay::SignType sign_type = wxpay::SignType::kMd5;  // the request's: answers are signed alike

    /// A request field, "" when absent.
    const std::string& Field(const std::string& name) const;
};

/// Authenticates a v2 request: POST, flat XML, known mch_id, valid sign, then every name in
/// `required` present and non-empty, and appid belonging to the merchant. On failure returns
/// nullopt with `reply` set to the gateway's unsigned return_code=FAIL answer.
std::optional<WxCall> OpenWxCall(Ctx& ctx, const http::Request& req,
                                 std::initializer_list<const char*> required, http::Response& reply);

/// return_code=FAIL with `msg` (not signed: the gateway signs only return_code=SUCCESS answers).
http::Response WxReturnFail(std::string_view msg, int status = 200);

/// return_code=SUCCESS, result_code=SUCCESS plus `fields`, with appid, mch_id, nonce_str, sign.
http::Response WxOk(const WxCall& call, http::XmlFields fields);

/// return_code=SUCCESS, result_code=FAIL, err_code/err_code_des plus `fields`, signed.
http::Response WxBizFail(const WxCall& call, std::string_view err_code, std::string_view err_code_des,
                         http::XmlFields fields = {});

/// True when `text` is a decimal integer of fen in WeChat's Int range 1 .. 2^31-1, stored in `out`.
bool ParseFen(std::string_view text, std::int64_t& out);

/// WeChat's out_trade_no: 1-32 characters of [0-9A-Za-z_-|*@].
bool ValidOutTradeNo(std::string_view text);

/// Checks the fields unifiedorder and micropay share (out_trade_no, total_fee into `total_fee`,
/// fee_type); returns the gateway's return_msg for the first bad one, "" when all are good.
std::string CheckOrderFields(const WxCall& call, std::int64_t& total_fee);

/// The trade a query/reverse names, by transaction_id if given, else out_trade_no. On nullopt
/// `reply` holds the answer: FAIL when neither is given, ORDERNOTEXIST for an unknown
/// transaction_id. (An unknown out_trade_no still yields its key: the caller reports it.)
std::optional<wx_store::TradeKey> FindKey(Ctx& ctx, const WxCall& call, http::Response& reply);

}  // namespace orderpay::sim
