// Alipay trade.pay (zfb.scan): the outcome comes from the auth_code test table (sim/alipay/scan.hpp),
// including the 20000 answers whose truth only a query (and a cancel) brings out.
#include "sim/alipay/gateway.hpp"
#include "sim/alipay/scan.hpp"

namespace orderpay::sim {

namespace {

// A second trade.pay for an out_trade_no already used: the same request again is answered from
// the trade as it is now; anything else is refused.
std::optional<http::Response> Reused(const ZfbCall& call, const zfb_store::Trade& have,
                                     const zfb_store::Trade& want) {
    ZfbMembers ids{{"out_trade_no", have.key.out_trade_no}};
    if (zfb_store::Paid(have)) return ZfbBizFail(call, "ACQ.TRADE_HAS_SUCCESS", "交易已被支付", ids);
    if (have.state == "TRADE_CLOSED") return ZfbBizFail(call, "ACQ.TRADE_HAS_CLOSE", "交易已经关闭", ids);
    if (have.method != "pay" || have.auth_code != want.auth_code || have.total_fee != want.total_fee)
        return ZfbBizFail(call, "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改", ids);
    return std::nullopt;
}

}  // namespace

http::Response ZfbPay(Ctx& ctx, const ZfbCall& call) {
    zfb_store::Trade want;
    if (std::string bad = ReadZfbOrder(call, want); !bad.empty())
        return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", bad);
    const std::string scene = call.Biz("scene");
    if (scene != "bar_code" && scene != "wave_code")
        return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: scene");
    want.auth_code = call.Biz("auth_code");
    if (want.auth_code.empty()) return ZfbBizFail(call, "ACQ.INVALID_PARAMETER", "参数无效: auth_code");
    const ZfbScanBehaviour& b = ZfbScanFor(want.auth_code);
    if (b.state.empty())
        return ZfbBizFail(call, b.sub_code, b.sub_msg, {{"out_trade_no", want.key.out_trade_no}});

    want.method = "pay";
    want.scan = std::string(b.name);
    want.state = std::string(b.state);
    const zfb_store::Buyer buyer = NewZfbBuyer();  // the buyer whose code was scanned
    want.buyer_id = buyer.id;
    want.buyer_logon_id = buyer.logon_id;
    std::optional<zfb_store::Trade> t = zfb_store::InsertTrade(ctx.db, want);
    if (!t) {
        t = zfb_store::FindTrade(ctx.db, want.key);
        if (!t) return ZfbSystemError(call);
        if (auto refusal = Reused(call, *t, want)) return *refusal;
    }
    switch (b.kind) {
        case ZfbScanKind::kPaid: {
            ZfbMembers m = ZfbTradeFields(*t);
            // trade.pay names the payment time gmt_payment and has no trade_status.
            for (ZfbMember& f : m)
                if (f.name == "send_pay_date") f.name = "gmt_payment";
            std::erase_if(m, [](const ZfbMember& f) { return f.name == "trade_status"; });
            return ZfbOk(call, std::move(m));
        }
        case ZfbScanKind::kSlow: {
            ZfbMembers m = ZfbTradeFields(*t);
            std::erase_if(m, [](const ZfbMember& f) { return f.name == "trade_status"; });
            return ZfbAnswer(call, b.code, "order success pay inprocess", "", "", std::move(m));
        }
        default:  // the 20000 rows: nothing but the out_trade_no, the truth is for the query
            return ZfbAnswer(call, b.code, "Service Currently Unavailable", b.sub_code, b.sub_msg,
                             {{"out_trade_no", t->key.out_trade_no}});
    }
}

}  // namespace orderpay::sim
