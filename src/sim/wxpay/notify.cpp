// Builds the v2 payment notification of a paid trade, signed like WeChat's.
#include "sim/wxpay/notify.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "orderpay/providers/wxpay/sign.hpp"

namespace orderpay::sim {

std::string TimeEnd(std::int64_t epoch_seconds) {
    const std::time_t beijing = static_cast<std::time_t>(epoch_seconds + 8 * 3600);
    std::tm t{};
    gmtime_r(&beijing, &t);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec);
    return buf;
}

http::XmlFields NotificationFields(const wx_store::Trade& t, const wx_store::Merchant& m) {
    if (t.state != "SUCCESS" || !t.transaction_id || !t.paid_at || !t.notify_nonce)
        throw std::logic_error("NotificationFields: trade not paid or not prepared");
    const wxpay::SignType type = wxpay::ParseSignType(t.sign_type).value_or(wxpay::SignType::kMd5);
    http::XmlFields f{
        {"appid", t.app_id},
        {"bank_type", "CFT"},
        {"cash_fee", std::to_string(t.total_fee)},
        {"fee_type", t.fee_type},
        {"is_subscribe", "N"},
        {"mch_id", t.key.mch_id},
        {"nonce_str", *t.notify_nonce},
        {"openid", t.openid},
        {"out_trade_no", t.key.out_trade_no},
        {"result_code", "SUCCESS"},
        {"return_code", "SUCCESS"},
        {"time_end", TimeEnd(*t.paid_at)},
        {"total_fee", std::to_string(t.total_fee)},
        {"trade_type", t.trade_type},
        {"transaction_id", *t.transaction_id},
    };
    if (!t.attach.empty()) f["attach"] = t.attach;
    if (type == wxpay::SignType::kHmacSha256) f["sign_type"] = "HMAC-SHA256";
    f["sign"] = wxpay::Sign(f, m.api_key, type);
    return f;
}

}  // namespace orderpay::sim
