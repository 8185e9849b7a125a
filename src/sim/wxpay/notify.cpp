// Builds the v2 payment notification of a paid trade and delivers copies of it concurrently,
// the way WeChat's several notifying servers can hit a shop within the same second.
#include "sim/wxpay/notify.hpp"

#include <ctime>
#include <latch>
#include <stdexcept>
#include <thread>

#include "orderpay/providers/http_client.hpp"
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

http::XmlFields NotificationFields(const store::Trade& t, const store::Merchant& m) {
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

std::vector<Delivery> DeliverConcurrently(const std::string& url, const std::string& body, int copies,
                                          long connect_timeout_ms, long timeout_ms,
                                          const std::string& content_type) {
    std::vector<Delivery> out(static_cast<std::size_t>(copies));
    providers::HttpOptions ho;
    ho.connect_timeout_ms = connect_timeout_ms;
    ho.timeout_ms = timeout_ms;
    ho.max_response = 64 * 1024;
    // Every thread waits at the gate until all exist, so the copies really overlap.
    std::latch gate(copies);
    {
        std::vector<std::jthread> threads;
        threads.reserve(out.size());
        std::ptrdiff_t started = 0;
        try {
            for (Delivery& d : out) {
                threads.emplace_back([&gate, &d, &url, &body, &ho, &content_type] {
                    gate.arrive_and_wait();
                    providers::HttpResult r = providers::HttpRequest("POST", url, body, content_type, ho);
                    d.status = r.fail == providers::HttpFail::kNone ? r.status : 0;
                    d.body = std::move(r.body);
                    d.error = std::move(r.error);
                });
                ++started;
            }
        } catch (...) {
            gate.count_down(copies - started);  // release the started ones before they are joined
            throw;
        }
    }  // the jthreads join here
    return out;
}

}  // namespace orderpay::sim
