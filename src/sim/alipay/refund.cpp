// Alipay refunds as paysim answers them: alipay.trade.refund (synchronous: fund_change Y when
// money moved now, N for a repeated out_request_no) and alipay.trade.fastpay.refund.query (a
// refund Alipay never made has no refund_amount). Knobs ride in refund_reason, like the scan
// knobs ride in auth_code: "[sim:fail]" refuses (ACQ.SELLER_BALANCE_NOT_ENOUGH), "[sim:20000]"
// refunds but answers 20000, "[sim:lost]" refunds but answers 504 with no body, "[sim:timeout]"
// refunds but answers only after orderpay's HTTP timeout: all leave the caller not knowing, and
// the query finds the refund done.
#include <string>

#include "sim/alipay/gateway.hpp"
#include "sim/alipay/reply.hpp"
#include "sim/core/gateway.hpp"

namespace orderpay::sim {

namespace {

ZfbMembers TradeIds(const zfb_store::Trade& t) {
    ZfbMembers m{{"out_trade_no", t.key.out_trade_no}};
    if (t.trade_no) m.push_back({"trade_no", *t.trade_no});
    return m;
}

}  // namespace

http::Response ZfbRefund(Ctx& ctx, const ZfbCall& call) {
    http::Response reply;
    std::optional<zfb_store::TradeKey> key = ZfbFindKey(ctx, call, reply);
    if (!key) return reply;
    std::int64_t fee = 0;
    if (!ParseYuan(call.Biz("refund_amount"), fee))
        return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: refund_amount");
    // Without out_request_no the request is the trade's one full refund (Alipay's rule).
    std::string request = call.Biz("out_request_no");
    if (request.empty()) request = key->out_trade_no;
    if (!ValidZfbOutTradeNo(request))
        return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: out_request_no");
    const std::string reason = call.Biz("refund_reason");
    if (reason.size() > 256 * 3) return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: refund_reason");
    if (reason.find("[sim:fail]") != std::string::npos)
        return ZfbBizFail(call, "ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足");

    zfb_store::RefundAnswer a = zfb_store::Refund(ctx.db, *key, request, fee, reason);
    if (a.outcome == "no_trade") return ZfbBizFail(call, "ACQ.TRADE_NOT_EXIST", "交易不存在");
    std::optional<zfb_store::Trade> t = zfb_store::FindTrade(ctx.db, *key);
    if (!t) return ZfbSystemError(call);
    if (a.outcome == "not_paid")
        return ZfbBizFail(call, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法", TradeIds(*t));
    if (a.outcome == "too_much")
        return ZfbBizFail(call, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限", TradeIds(*t));
    if (a.outcome == "amount_differs")
        return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: 同一退款请求号的退款金额不一致",
                          TradeIds(*t));
    // Refunded (or repeated): the knobs that lose the answer act only now, after the money moved.
    if (reason.find("[sim:20000]") != std::string::npos) return ZfbSystemError(call);
    if (reason.find("[sim:lost]") != std::string::npos) {
        http::Response lost;
        lost.status = 504;
        lost.content_type = "text/plain";
        return lost;
    }
    // Only a refund made now waits: a repeat (reconcile's) is answered at once.
    if (reason.find("[sim:timeout]") != std::string::npos && a.outcome == "refunded")
        SleepPastCallerTimeout();
    ZfbMembers m = TradeIds(*t);
    m.push_back({"buyer_logon_id", t->buyer_logon_id});
    m.push_back({"buyer_user_id", t->buyer_id});
    m.push_back({"fund_change", a.outcome == "refunded" ? "Y" : "N"});
    std::optional<zfb_store::RefundRecord> r = zfb_store::FindRefund(ctx.db, *key, request);
    m.push_back({"gmt_refund_pay", ZfbTime(r ? r->ct : 0)});
    m.push_back({"refund_fee", Yuan(a.refunded_total)});
    m.push_back({"send_back_fee", Yuan(a.outcome == "refunded" ? fee : 0)});
    return ZfbOk(call, std::move(m));
}

http::Response ZfbRefundQuery(Ctx& ctx, const ZfbCall& call) {
    http::Response reply;
    std::optional<zfb_store::TradeKey> key = ZfbFindKey(ctx, call, reply);
    if (!key) return reply;
    std::string request = call.Biz("out_request_no");
    if (request.empty()) return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: out_request_no");
    std::optional<zfb_store::Trade> t = zfb_store::FindTrade(ctx.db, *key);
    if (!t || t->state == "NOT_SCANNED")
        return ZfbBizFail(call, "ACQ.TRADE_NOT_EXIST", "交易不存在", {{"out_trade_no", key->out_trade_no}});
    ZfbMembers m = TradeIds(*t);
    m.push_back({"out_request_no", request});
    // A refund Alipay did not make is answered with the trade alone: no refund_amount.
    if (std::optional<zfb_store::RefundRecord> r = zfb_store::FindRefund(ctx.db, *key, request)) {
        m.push_back({"total_amount", Yuan(t->total_fee)});
        m.push_back({"refund_amount", Yuan(r->fee)});
        m.push_back({"refund_status", "REFUND_SUCCESS"});
        m.push_back({"gmt_refund_pay", ZfbTime(r->ct)});
    }
    return ZfbOk(call, std::move(m));
}

}  // namespace orderpay::sim
