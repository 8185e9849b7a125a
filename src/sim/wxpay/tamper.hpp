// Fault knobs of /sim/pay for WeChat: ways to spoil a signed notification, as pure functions.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "orderpay/http/xml.hpp"
#include "orderpay/providers/wxpay/sign.hpp"
#include "sim/core/tamper.hpp"

namespace orderpay::sim {

enum class Tamper {
    kNone,
    kSign,            // one character of sign changed
    kAmount,          // total_fee + 1, original sign kept (signature no longer verifies)
    kAmountResigned,  // total_fee + 1, signed again with the merchant key (valid sign, wrong amount)
    kDoctype,         // <!DOCTYPE ...> with an entity prepended to the body
    kAppid,           // another appid, signed again with the merchant key
    kPretty,          // not a forgery: the same signed values written another way XML allows
    kGbkDeclaration,  // <?xml ... encoding="GBK"?> before the (UTF-8) body
    kComment,         // a comment inside a signed value (a lenient reader drops it and verifies)
};

/// The names /sim/pay's tamper= takes for a WeChat trade.
inline constexpr std::array kTamperNames = {
    TamperName<Tamper>{"sign", Tamper::kSign},
    TamperName<Tamper>{"amount", Tamper::kAmount},
    TamperName<Tamper>{"amount_resigned", Tamper::kAmountResigned},
    TamperName<Tamper>{"doctype", Tamper::kDoctype},
    TamperName<Tamper>{"appid", Tamper::kAppid},
    TamperName<Tamper>{"pretty", Tamper::kPretty},
    TamperName<Tamper>{"gbk_declaration", Tamper::kGbkDeclaration},
    TamperName<Tamper>{"comment", Tamper::kComment},
};

/// "" -> kNone, or a name of kTamperNames; nullopt for others.
inline std::optional<Tamper> ParseTamper(std::string_view text) {
    return FindTamper(text, kTamperNames);
}

/// The notification body for `fields` (already carrying a valid "sign") after applying `t`.
/// `api_key` and `type` are used only by the re-signing tampers.
std::string TamperedBody(http::XmlFields fields, Tamper t, std::string_view api_key, wxpay::SignType type);

}  // namespace orderpay::sim
