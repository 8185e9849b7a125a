// Notification evaluation, in the order PROTOCOLS.md §0 prescribes: signature, then lookup,
// merchant, amount and currency, then the trade status.
#include "orderpay/app/notify_eval.hpp"

#include "orderpay/http/xml.hpp"
#include "orderpay/providers/wxpay/client.hpp"

namespace orderpay::app {

std::vector<CheckLine> BusinessChecks(const providers::PaidEvent& ev, const providers::Merchant& m,
                                      const std::optional<store::SlipRow>& slip, const std::string& site) {
    std::vector<CheckLine> out;
    out.push_back({"slip", slip.has_value(),
                   slip ? "slip " + slip->id + " (" + slip->st + ")" : "no slip " + ev.slip_id});
    if (slip) {
        out.push_back(
            {"site", slip->site_id == site, "slip site " + slip->site_id + ", notified for " + site});
    }
    out.push_back({"app_id", ev.app_id == m.app_id, "notified " + ev.app_id + ", merchant " + m.app_id});
    out.push_back({"mch_id", ev.mch_id == m.mch_id, "notified " + ev.mch_id + ", merchant " + m.mch_id});
    if (slip) {
        out.push_back({"amount", ev.amount == slip->amount,
                       "notified " + std::to_string(ev.amount) + ", slip " + std::to_string(slip->amount)});
        out.push_back({"currency", ev.currency == slip->currency,
                       "notified " + ev.currency + ", slip " + slip->currency});
    }
    out.push_back(
        {"status", ev.paid, "provider status " + (ev.status.empty() ? std::string("?") : ev.status)});
    return out;
}

NotifyEval EvaluateWxNotification(db::Connection& c, const std::string& site, const std::string& body) {
    NotifyEval ev;
    http::FlatXmlResult xml = http::ParseFlatXml(body);
    if (!xml.fields) {
        ev.reason = "malformed xml: " + xml.error;
        ev.checks.push_back({"parse", false, ev.reason});
        return ev;
    }
    ev.parsed = true;
    const auto& f = *xml.fields;
    auto it = f.find("out_trade_no");
    std::string slip_id = it == f.end() ? "" : it->second;
    // The key comes from the slip's own merchant (it may predate a seller change); for an unknown
    // slip, from the site's current WeChat seller, so the signature can still be judged.
    if (!slip_id.empty() && slip_id.size() <= 32) ev.slip = store::FindSlip(c, slip_id);
    if (ev.slip) ev.merchant = store::FindMerchant(c, ev.slip->merchant_id);
    if (!ev.merchant) ev.merchant = store::FindSeller(c, site, "wx");
    if (!ev.merchant) {
        ev.reason = "no WeChat merchant configured for site " + site;
        ev.checks.push_back({"signature", false, ev.reason});
        return ev;
    }
    std::string why;
    ev.signature_ok = wxpay::VerifyNotification(f, *ev.merchant, ev.event, why);
    ev.checks.push_back({"signature", ev.signature_ok, why});
    if (!ev.signature_ok) {
        ev.reason = why;
        return ev;
    }
    std::vector<CheckLine> biz = BusinessChecks(ev.event, *ev.merchant, ev.slip, site);
    ev.business_ok = true;
    for (auto& line : biz) {
        if (!line.ok && ev.business_ok) {
            ev.business_ok = false;
            ev.reason = line.name + " check failed: " + line.detail;
        }
        ev.checks.push_back(std::move(line));
    }
    if (ev.business_ok) ev.reason = "ok";
    return ev;
}

}  // namespace orderpay::app
