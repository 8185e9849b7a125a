// What pay/buy and pay/pay check before a slip is written or sent: the pay type, the inputs it
// needs (a scan's auth_code, a JSAPI openid), whether its provider takes the charge, and how a
// provider's decline is shown to the buyer. Split from payflow.cpp: no provider call here.
#include "orderpay/app/payflow.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::app {

std::optional<PayType> ParsePayType(const std::string& text) {
    const providers::PayTypeRow* t = providers::FindPayType(text);
    if (!t) return std::nullopt;
    return PayType{std::string(t->name), std::string(t->provider), t->kind};
}

std::optional<Refusal> CheckPayInputs(const PayType& pt, const PayInputs& in) {
    if (pt.kind == providers::PayKind::kScan) {
        if (in.auth_code.empty()) return Refusal{http::Err::kNilAuthCode, ""};
        // Named, as a field of the wrong type is: "invalid field" alone left the till guessing.
        const Refusal bad{http::Err::kInvalidField, "auth_code: 1 to 32 digits (the code the buyer shows)"};
        if (in.auth_code.size() > 32) return bad;
        for (char ch : in.auth_code)
            if (ch < '0' || ch > '9') return bad;
    }
    if (pt.kind == providers::PayKind::kJsapi && in.openid.empty()) return Refusal{http::Err::kNilOpenid, ""};
    return std::nullopt;
}

std::optional<Refusal> CheckCharge(const Context& ctx, const PayType& pt, std::int64_t fee,
                                   const std::string& currency) {
    const providers::Provider* p = ctx.ProviderFor(pt.prefix);
    if (!p) return Refusal{http::Err::kInvalidPayTp, "no provider " + pt.prefix};
    std::optional<providers::ChargeRefusal> r = p->CheckCharge(fee, currency);
    if (!r) return std::nullopt;
    return Refusal{r->kind == providers::ChargeRefusal::Kind::kCurrency ? http::Err::kInvalidCurrency
                                                                        : http::Err::kInvalidAmount,
                   r->why};
}

std::string DeclinedMessage(std::string_view said) {
    // Provider text is outside text: FitUtf8 drops what is not UTF-8 and blanks controls, so the
    // reply's JSON stays valid whatever the gateway sent.
    const std::string whole = http::FitUtf8(said, said.size());
    if (whole.find_first_not_of(' ') == std::string::npos) return {};
    std::string cut = http::FitUtf8(whole, kDeclineMaxBytes);
    if (cut.size() < whole.size()) cut += "…";
    return std::string(http::Info(http::Err::kPayFailed).msg) + ": " + cut;
}

}  // namespace orderpay::app
