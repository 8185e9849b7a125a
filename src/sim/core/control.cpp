// /sim/pay and /sim/trade: the tests' hands on paysim. The arguments every provider shares are
// read here and the trade found under either provider; its provider's part does the rest.
#include "sim/core/control.hpp"

#include <charconv>
#include <vector>

#include "sim/alipay/control.hpp"
#include "sim/core/gateway.hpp"
#include "sim/paypal/control.hpp"
#include "sim/paypal/gateway.hpp"
#include "sim/wxpay/control.hpp"

namespace orderpay::sim {

namespace {

constexpr int kMaxTimes = 50;
constexpr int kMaxDelayMs = 10000;

bool ValidProvider(std::string_view provider) {
    return provider.empty() || provider == "wx" || provider == "zfb" || provider == "paypal";
}

// The one trade with this out_trade_no under `provider` ("wx", "zfb"; "" for both) and `mch_id`
// ("" for any merchant); on nullopt `err` is the reply: none, or several.
std::optional<AnyTrade> LookupTrade(Ctx& ctx, const std::string& out_trade_no, const std::string& provider,
                                    const std::string& mch_id, http::Response& err) {
    std::vector<wx_store::Trade> wx;
    std::vector<zfb_store::Trade> zfb;
    std::vector<pp_store::Order> pp;
    // A PayPal order names our slip in its custom_id.
    if (provider.empty() || provider == "paypal") pp = pp_store::FindOrdersByCustomId(ctx.db, out_trade_no);
    if (provider.empty() || provider == "wx")
        wx = wx_store::FindTradesByOutTradeNo(ctx.db, "wx", out_trade_no, mch_id);
    if (provider.empty() || provider == "zfb")
        zfb = zfb_store::FindTradesByOutTradeNo(ctx.db, out_trade_no, mch_id);
    if (wx.size() + zfb.size() + pp.size() == 0) {
        err = http::Fail(http::Err::kNoSuchObject, "no such trade");
        return std::nullopt;
    }
    if (wx.size() + zfb.size() + pp.size() > 1) {
        err = http::Fail(http::Err::kBadRequest,
                         "several merchants have this out_trade_no; give mch_id (and provider)");
        return std::nullopt;
    }
    AnyTrade found;
    if (!wx.empty()) found.wx = std::move(wx.front());
    if (!zfb.empty()) found.zfb = std::move(zfb.front());
    if (!pp.empty()) found.pp = std::move(pp.front());
    return found;
}

}  // namespace

bool ParseIntIn(const std::string& text, int lo, int hi, int& out) {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) return false;
    out = v;
    return true;
}

std::string ParsePayArgs(const http::FormPairs& form, PayArgs& out) {
    out.out_trade_no = http::FormValue(form, "out_trade_no").value_or("");
    if (out.out_trade_no.empty()) return "out_trade_no is required";
    out.provider = http::FormValue(form, "provider").value_or("");
    if (!ValidProvider(out.provider)) return "provider must be wx, zfb or paypal";
    out.mch_id = http::FormValue(form, "mch_id").value_or("");
    if (auto v = http::FormValue(form, "times"); v && !v->empty() && !ParseIntIn(*v, 0, kMaxTimes, out.times))
        return "times must be 0..50";
    if (auto v = http::FormValue(form, "delay_ms");
        v && !v->empty() && !ParseIntIn(*v, 0, kMaxDelayMs, out.delay_ms))
        return "delay_ms must be 0..10000";
    return ReadFlag(form, "force", {"1", "true"}, {"0", "false"}, "force must be 0 or 1", out.force);
}

std::string ReadFlag(const http::FormPairs& form, std::string_view name,
                     std::initializer_list<std::string_view> yes, std::initializer_list<std::string_view> no,
                     std::string_view bad, bool& out) {
    const std::string v = http::FormValue(form, name).value_or("");
    const auto in = [&v](std::initializer_list<std::string_view> values) {
        for (std::string_view x : values)
            if (v == x) return true;
        return false;
    };
    if (in(yes)) {
        out = true;
    } else if (v.empty() || in(no)) {
        out = false;
    } else {
        return std::string(bad);
    }
    return {};
}

void WriteStrings(http::JsonWriter& w,
                  std::initializer_list<std::pair<const char*, std::string_view>> members) {
    for (const auto& [k, v] : members) {
        w.Key(k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    }
}

void WriteInts(http::JsonWriter& w, std::initializer_list<std::pair<const char*, std::int64_t>> members) {
    for (const auto& [k, v] : members) {
        w.Key(k);
        w.Int64(v);
    }
}

http::Response SimPay(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<http::FormPairs> form = ControlForm(req, err);
    if (!form) return err;
    PayArgs a;
    if (std::string bad = ParsePayArgs(*form, a); !bad.empty())
        return http::Fail(http::Err::kBadRequest, bad);

    std::optional<AnyTrade> found = LookupTrade(ctx, a.out_trade_no, a.provider, a.mch_id, err);
    if (!found) return err;
    if (found->pp) {
        PpPayArgs pa;
        if (std::string bad = ParsePpPayArgs(*form, pa); !bad.empty())
            return http::Fail(http::Err::kBadRequest, bad);
        return PpSimPay(ctx, a, pa, std::move(*found->pp));
    }
    if (found->zfb) {
        ZfbPayArgs z;
        if (std::string bad = ParseZfbPayArgs(*form, z); !bad.empty())
            return http::Fail(http::Err::kBadRequest, bad);
        return ZfbSimPay(ctx, a, z, std::move(*found->zfb));
    }
    WxPayArgs w;
    if (std::string bad = ParseWxPayArgs(*form, w, IsWx3Trade(ctx, *found->wx)); !bad.empty())
        return http::Fail(http::Err::kBadRequest, bad);
    return WxSimPay(ctx, a, w, std::move(*found->wx));
}

std::optional<AnyTrade> TradeOfQuery(Ctx& ctx, const http::Request& req, std::string_view provider,
                                     http::Response& err) {
    auto fail = [&err](http::Response r) {
        err = std::move(r);
        return std::nullopt;
    };
    if (req.method != "GET") return fail(http::Fail(http::Err::kMethodNotAllowed));
    if (!req.query_ok) return fail(http::Fail(http::Err::kBadQuery));
    const std::string out_trade_no = req.Arg("out_trade_no").value_or("");
    if (out_trade_no.empty()) return fail(http::Fail(http::Err::kBadRequest, "out_trade_no is required"));
    const std::string named = provider.empty() ? req.Arg("provider").value_or("") : std::string(provider);
    if (!ValidProvider(named))
        return fail(http::Fail(http::Err::kBadRequest, "provider must be wx, zfb or paypal"));
    return LookupTrade(ctx, out_trade_no, named, req.Arg("mch_id").value_or(""), err);
}

http::Response SimTrade(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<AnyTrade> t = TradeOfQuery(ctx, req, "", err);
    if (!t) return err;
    if (t->pp) return http::Ok(PpOrderJson(*t->pp, PpBase(req)));
    return http::Ok(t->zfb ? ZfbTradeJson(*t->zfb) : WxTradeJson(*t->wx));
}

}  // namespace orderpay::sim
