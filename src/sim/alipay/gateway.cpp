// Alipay precreate, query, close and cancel against paysim.zfb_trades, and the method dispatch.
#include "sim/alipay/gateway.hpp"

#include <array>

#include "orderpay/crypto/digest.hpp"
#include "sim/alipay/control.hpp"
#include "sim/alipay/reply.hpp"
#include "sim/alipay/scan.hpp"
#include "sim/core/gateway.hpp"

namespace orderpay::sim {

namespace {

using Method = http::Response (*)(Ctx&, const ZfbCall&);

struct MethodRoute {
    std::string_view name;
    Method handler;
};

constexpr std::array kMethods = {
    MethodRoute{"alipay.trade.precreate", &ZfbPrecreate},
    MethodRoute{"alipay.trade.pay", &ZfbPay},
    MethodRoute{"alipay.trade.query", &ZfbQuery},
    MethodRoute{"alipay.trade.close", &ZfbClose},
    MethodRoute{"alipay.trade.cancel", &ZfbCancel},
    MethodRoute{"alipay.trade.refund", &ZfbRefund},
    MethodRoute{"alipay.trade.fastpay.refund.query", &ZfbRefundQuery},
};

constexpr std::size_t kMaxSubjectBytes = 256 * 3;  // 256 characters of UTF-8

http::Response NotExist(const ZfbCall& call, const zfb_store::TradeKey& key) {
    return ZfbBizFail(call, "ACQ.TRADE_NOT_EXIST", "交易不存在", {{"out_trade_no", key.out_trade_no}});
}

// out_trade_no and trade_no (when the trade has one), as close and cancel answer.
ZfbMembers Ids(const zfb_store::Trade& t) {
    ZfbMembers m{{"out_trade_no", t.key.out_trade_no}};
    if (t.trade_no) m.push_back({"trade_no", *t.trade_no});
    return m;
}

http::Response Cancelled(const ZfbCall& call, const zfb_store::Trade& t, std::string_view action) {
    ZfbMembers m = Ids(t);
    m.push_back({"retry_flag", "N"});
    m.push_back({"action", std::string(action)});
    if (action == "refund") m.push_back({"gmt_refund_pay", ZfbTime(t.closed_at.value_or(0))});
    return ZfbOk(call, std::move(m));
}

}  // namespace

bool ValidZfbOutTradeNo(std::string_view text) {
    return ValidId(text, 64, "_-.");
}

std::string ReadZfbOrder(const ZfbCall& call, zfb_store::Trade& t) {
    t.key = {call.merchant.seller_id, call.Biz("out_trade_no")};
    t.app_id = call.merchant.app_id;
    t.subject = call.Biz("subject");
    t.notify_url = call.Param("notify_url");
    if (!ValidZfbOutTradeNo(t.key.out_trade_no)) return "参数无效: out_trade_no";
    if (!ParseYuan(call.Biz("total_amount"), t.total_fee)) return "参数无效: total_amount";
    if (t.subject.empty() || t.subject.size() > kMaxSubjectBytes) return "参数无效: subject";
    if (!t.notify_url.empty() && !ValidNotifyUrl(t.notify_url)) return "参数无效: notify_url";
    return {};
}

ZfbMembers ZfbTradeFields(const zfb_store::Trade& t) {
    ZfbMembers m{{"out_trade_no", t.key.out_trade_no}, {"trade_status", t.state}};
    if (t.trade_no) m.push_back({"trade_no", *t.trade_no});
    // A record made by cancel never had an amount.
    if (t.total_fee > 0) m.push_back({"total_amount", Yuan(t.total_fee)});
    if (!t.buyer_id.empty()) {
        m.push_back({"buyer_user_id", t.buyer_id});
        m.push_back({"buyer_logon_id", t.buyer_logon_id});
    }
    const std::string paid = t.paid_at ? Yuan(t.total_fee) : "0.00";
    m.push_back({"buyer_pay_amount", paid});
    m.push_back({"receipt_amount", paid});
    m.push_back({"invoice_amount", paid});
    m.push_back({"point_amount", "0.00"});
    if (t.paid_at) {
        m.push_back({"send_pay_date", ZfbTime(*t.paid_at)});
        m.push_back(
            {"fund_bill_list", "[{\"amount\":\"" + paid + "\",\"fund_channel\":\"ALIPAYACCOUNT\"}]", true});
    }
    return m;
}

http::Response ZfbGateway(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    std::optional<ZfbCall> call = OpenZfbCall(ctx, req, reply);
    if (!call) return reply;
    for (const MethodRoute& m : kMethods)
        if (m.name == call->method) return m.handler(ctx, *call);
    return ZfbErrorResponse("40002", "isv.invalid-method", "不存在的方法名", call->alipay_key);
}

// A QR code for the order; the trade is NOT_SCANNED until the buyer scans it (/sim/pay).
http::Response ZfbPrecreate(Ctx& ctx, const ZfbCall& call) {
    zfb_store::Trade want;
    if (std::string bad = ReadZfbOrder(call, want); !bad.empty())
        return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", bad);
    want.method = "precreate";
    want.state = "NOT_SCANNED";
    want.qr_code = "https://qr.alipay.com/bax0" + crypto::RandomId(21);
    std::optional<zfb_store::Trade> t = zfb_store::InsertTrade(ctx.db, want);
    if (!t) {
        // The same out_trade_no again: the same code for the same order, else a refusal.
        t = zfb_store::FindTrade(ctx.db, want.key);
        if (!t) return ZfbSystemError(call);
        if (zfb_store::Paid(*t)) return ZfbBizFail(call, "ACQ.TRADE_HAS_SUCCESS", "交易已被支付", Ids(*t));
        if (t->state == "TRADE_CLOSED")
            return ZfbBizFail(call, "ACQ.TRADE_HAS_CLOSE", "交易已经关闭", Ids(*t));
        if (t->method != "precreate" || t->total_fee != want.total_fee)
            return ZfbBizFail(call, "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改",
                              {{"out_trade_no", want.key.out_trade_no}});
    }
    return ZfbOk(call, {{"out_trade_no", t->key.out_trade_no}, {"qr_code", t->qr_code.value_or("")}});
}

http::Response ZfbQuery(Ctx& ctx, const ZfbCall& call) {
    http::Response reply;
    std::optional<zfb_store::TradeKey> key = ZfbFindKey(ctx, call, reply);
    if (!key) return reply;
    std::optional<zfb_store::Trade> t = zfb_store::CountQuery(ctx.db, *key);
    // Before the buyer scans a precreated code Alipay does not know the trade (PROTOCOLS.md §2.2).
    if (!t || t->state == "NOT_SCANNED") return NotExist(call, *key);
    return ZfbOk(call, ZfbTradeFields(*t));
}

http::Response ZfbClose(Ctx& ctx, const ZfbCall& call) {
    http::Response reply;
    std::optional<zfb_store::TradeKey> key = ZfbFindKey(ctx, call, reply);
    if (!key) return reply;
    if (auto closed = zfb_store::Transition(ctx.db, *key, {"WAIT_BUYER_PAY"}, "TRADE_CLOSED"))
        return ZfbOk(call, Ids(*closed));
    // Not closable: say why, from the state that won. A precreated code nobody scanned cannot be
    // closed (and stays payable): cancel it instead.
    std::optional<zfb_store::Trade> t = zfb_store::FindTrade(ctx.db, *key);
    if (!t || t->state == "NOT_SCANNED") return NotExist(call, *key);
    if (zfb_store::Paid(*t)) return ZfbBizFail(call, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法", Ids(*t));
    return ZfbOk(call, Ids(*t));
}

// Cancel ends a trade whatever its state: an unpaid one (even one Alipay does not know yet) is
// closed, a paid one refunded. A "retry" scan asks for a second cancel first.
http::Response ZfbCancel(Ctx& ctx, const ZfbCall& call) {
    http::Response reply;
    std::optional<zfb_store::TradeKey> key = ZfbFindKey(ctx, call, reply);
    if (!key) return reply;
    std::optional<zfb_store::Trade> t = zfb_store::CountCancel(ctx.db, *key);
    if (!t) {
        // Unknown: record it closed, so the out_trade_no can no longer be paid.
        zfb_store::Trade record;
        record.key = *key;
        record.app_id = call.merchant.app_id;
        record.method = "cancel";
        record.state = "TRADE_CLOSED";
        if (auto created = zfb_store::InsertTrade(ctx.db, record)) return Cancelled(call, *created, "close");
        t = zfb_store::CountCancel(ctx.db, *key);  // created meanwhile by another call
        if (!t) return ZfbSystemError(call);
    }
    if (ZfbCancelFindsPaid(t->scan, t->state)) {
        // The buyer confirms just as the cancel arrives: paid and notified as /sim/pay would, then
        // cancelled below, which refunds it and says so (action=refund).
        (void)ZfbSimPay(ctx, PayArgs{}, ZfbPayArgs{}, *t);
        t = zfb_store::FindTrade(ctx.db, *key);
        if (!t) return ZfbSystemError(call);
    }
    if (ZfbCancelFails(t->scan, t->state)) return ZfbSystemError(call);
    if (ZfbCancelAsksRetry(t->scan, t->state, t->cancels)) {
        ZfbMembers m = Ids(*t);
        m.push_back({"retry_flag", "Y"});
        return ZfbOk(call, std::move(m));
    }
    for (int attempt = 0; attempt < 5 && t; ++attempt) {
        std::optional<zfb_store::Trade> done;
        if (t->state == "NOT_SCANNED" || t->state == "WAIT_BUYER_PAY") {
            done = zfb_store::Transition(ctx.db, *key, {t->state}, "TRADE_CLOSED");
            if (done) return Cancelled(call, *done, "close");
        } else if (t->state == "TRADE_SUCCESS") {
            done = zfb_store::Transition(ctx.db, *key, {"TRADE_SUCCESS"}, "TRADE_CLOSED", true);
            if (done) return Cancelled(call, *done, "refund");
        } else if (t->state == "TRADE_CLOSED") {
            return Cancelled(call, *t, t->refunded ? "refund" : "close");
        } else {  // TRADE_FINISHED: past the refund window
            return ZfbBizFail(call, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法", Ids(*t));
        }
        t = zfb_store::FindTrade(ctx.db, *key);  // changed meanwhile: decide again
    }
    return ZfbSystemError(call);
}

}  // namespace orderpay::sim
