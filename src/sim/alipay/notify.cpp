// Builds the Alipay notification and return-URL parameters of a trade, signs them, and encodes
// them the way Alipay's servers do ('+' for spaces, %XX for the rest).
#include "sim/alipay/notify.hpp"

#include <iconv.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/providers/alipay/sign.hpp"
#include "sim/alipay/reply.hpp"

namespace orderpay::sim {

namespace {

struct IconvCloser {
    void operator()(std::remove_pointer_t<iconv_t>* cd) const noexcept { iconv_close(cd); }
};
using IconvPtr = std::unique_ptr<std::remove_pointer_t<iconv_t>, IconvCloser>;

}  // namespace

std::string ZfbFormEscape(std::string_view bytes) {
    return http::PercentEncode(bytes, /*space_as_plus=*/true);
}

std::string ZfbFormEncode(const ZfbParams& params) {
    return http::EncodeForm(params, /*space_as_plus=*/true);
}

std::optional<std::string> Utf8ToGbk(std::string_view utf8) {
    const iconv_t raw = iconv_open("GBK", "UTF-8");
    if (raw == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    const IconvPtr cd(raw);
    // glibc's iconv takes char** input but never writes through it.
    char* in = const_cast<char*>(utf8.data());
    std::size_t in_left = utf8.size();
    // A GBK character is never longer than its UTF-8 form.
    std::string out(utf8.size() + 16, '\0');
    char* dst = out.data();
    std::size_t dst_left = out.size();
    if (iconv(cd.get(), &in, &in_left, &dst, &dst_left) == static_cast<std::size_t>(-1)) return std::nullopt;
    if (iconv(cd.get(), nullptr, nullptr, &dst, &dst_left) == static_cast<std::size_t>(-1))
        return std::nullopt;
    out.resize(out.size() - dst_left);
    return out;
}

std::string ZfbNotifyId(std::string_view seed, std::string_view trade_status, std::int64_t date_epoch) {
    // Like the real ones: the Beijing date, "0122", then 22 digits (here from a digest).
    const std::string day = ZfbTime(date_epoch).substr(0, 10);  // yyyy-MM-dd
    std::string id = day.substr(0, 4) + day.substr(5, 2) + day.substr(8, 2) + "0122";
    const std::string digest = crypto::Sha256(std::string(seed) + "|" + std::string(trade_status));
    for (std::size_t i = 0; id.size() < 34; ++i)
        id.push_back(static_cast<char>('0' + static_cast<unsigned char>(digest[i]) % 10));
    return id;
}

void ZfbSignParams(ZfbParams& params, const crypto::PKey& alipay_key) {
    const std::string sign = crypto::RsaSha256SignBase64(alipay_key, alipay::NotifySignContent(params));
    if (sign.empty()) throw std::runtime_error("zfb notification: RSA signing failed");
    for (auto& [k, v] : params) {
        if (k == "sign") {
            v = sign;
            return;
        }
    }
    params.emplace_back("sign", sign);
}

std::optional<ZfbParams> ZfbNotificationParams(const zfb_store::Trade& t, const crypto::PKey& alipay_key,
                                               const ZfbNotifyOptions& o, std::string& error) {
    if (!t.trade_no || !t.notify_seed || t.buyer_id.empty())
        throw std::logic_error("ZfbNotificationParams: trade not prepared");
    const std::string& status = o.trade_status;
    const bool paid =
        status == "TRADE_SUCCESS" || status == "TRADE_FINISHED" || (status == "TRADE_CLOSED" && t.refunded);
    const std::string amount = Yuan(t.total_fee);
    const std::int64_t paid_at = t.paid_at.value_or(o.now);

    // V-ALI-1's order; "sign" is filled in last.
    ZfbParams p;
    p.emplace_back("gmt_create", ZfbTime(t.ct));
    p.emplace_back("charset", o.gbk ? "GBK" : "utf-8");
    if (paid) p.emplace_back("gmt_payment", ZfbTime(paid_at));
    p.emplace_back("notify_time", ZfbTime(o.now));
    p.emplace_back("subject", o.subject.value_or(t.subject));
    p.emplace_back("sign", "");
    p.emplace_back("buyer_id", t.buyer_id);
    if (paid) p.emplace_back("invoice_amount", amount);
    p.emplace_back("version", "1.0");
    // A refund's notice is a message of its own: another notify_id than the payment's.
    p.emplace_back("notify_id",
                   ZfbNotifyId(*t.notify_seed, o.out_biz_no ? status + "|" + *o.out_biz_no : status, t.ct));
    if (paid)
        p.emplace_back("fund_bill_list",
                       "[{\"amount\":\"" + amount + "\",\"fundChannel\":\"ALIPAYACCOUNT\"}]");
    p.emplace_back("notify_type", "trade_status_sync");
    p.emplace_back("out_trade_no", t.key.out_trade_no);
    p.emplace_back("total_amount", amount);
    p.emplace_back("trade_status", status);
    p.emplace_back("trade_no", *t.trade_no);
    p.emplace_back("auth_app_id", t.app_id);
    if (paid) {
        p.emplace_back("receipt_amount", amount);
        p.emplace_back("point_amount", "0.00");
    }
    p.emplace_back("app_id", t.app_id);
    if (paid) p.emplace_back("buyer_pay_amount", amount);
    if (status == "TRADE_CLOSED") {
        const std::string closed = ZfbTime(t.closed_at.value_or(o.now));
        p.emplace_back("gmt_close", closed);
        if (t.refunded) {
            p.emplace_back("refund_fee", amount);
            p.emplace_back("gmt_refund", closed);
        }
    }
    if (o.out_biz_no) {
        p.emplace_back("out_biz_no", *o.out_biz_no);
        p.emplace_back("refund_fee", Yuan(o.refund_total));
        p.emplace_back("gmt_refund", ZfbTime(o.gmt_refund));
    }
    p.emplace_back("sign_type", "RSA2");
    p.emplace_back("seller_id", t.key.seller_id);

    if (o.gbk) {
        for (auto& [k, v] : p) {
            std::optional<std::string> gbk = Utf8ToGbk(v);
            if (!gbk) {
                error = k + " has characters GBK cannot encode";
                return std::nullopt;
            }
            v = std::move(*gbk);
        }
    }
    ZfbSignParams(p, alipay_key);
    return p;
}

ZfbParams ZfbReturnParams(const zfb_store::Trade& t, const crypto::PKey& alipay_key, std::int64_t now) {
    if (!t.trade_no) throw std::logic_error("ZfbReturnParams: trade has no trade_no");
    ZfbParams p{
        {"charset", "utf-8"},
        {"out_trade_no", t.key.out_trade_no},
        {"method", "alipay.trade.page.pay.return"},
        {"total_amount", Yuan(t.total_fee)},
        {"sign", ""},
        {"trade_no", *t.trade_no},
        {"auth_app_id", t.app_id},
        {"version", "1.0"},
        {"app_id", t.app_id},
        {"sign_type", "RSA2"},
        {"seller_id", t.key.seller_id},
        {"timestamp", ZfbTime(now)},
    };
    ZfbSignParams(p, alipay_key);
    return p;
}

}  // namespace orderpay::sim
