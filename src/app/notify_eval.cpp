// Notification evaluation, in the order PROTOCOLS.md §0 prescribes: signature, then lookup,
// merchant, amount and currency, then the trade status.
#include "orderpay/app/notify_eval.hpp"

#include <functional>

#include "orderpay/http/form.hpp"
#include "orderpay/http/xml.hpp"
#include "orderpay/providers/alipay/client.hpp"
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
    // Alipay calls the merchant id seller_id (the 2088... PID); name the check the way it reads.
    out.push_back({m.provider == "zfb" ? "seller_id" : "mch_id", ev.mch_id == m.mch_id,
                   "notified " + ev.mch_id + ", merchant " + m.mch_id});
    if (slip) {
        out.push_back({"amount", ev.amount == slip->amount,
                       "notified " + std::to_string(ev.amount) + ", slip " + std::to_string(slip->amount)});
        out.push_back({"currency", ev.currency == slip->currency,
                       "notified " + ev.currency + ", slip " + slip->currency});
    }
    return out;
}

namespace {

using Verifier = std::function<bool(const providers::Merchant&, providers::PaidEvent&, std::string&)>;

// The steps every provider shares once its message is parsed: find the slip and the merchant
// whose key must have signed it, verify, then run the business checks.
void Evaluate(NotifyEval& ev, db::Connection& c, const std::string& site, const std::string& prefix,
              const std::string& slip_id, const Verifier& verify) {
    // The key comes from the slip's own merchant (it may predate a seller change); for an unknown
    // slip, from the site's current seller, so the signature can still be judged.
    if (!slip_id.empty() && slip_id.size() <= 32) ev.slip = store::FindSlip(c, slip_id);
    if (ev.slip) ev.merchant = store::FindMerchant(c, ev.slip->merchant_id);
    if (!ev.merchant || ev.merchant->provider != prefix) ev.merchant = store::FindSeller(c, site, prefix);
    if (!ev.merchant) {
        ev.reason = "no " + prefix + " merchant configured for site " + site;
        ev.checks.push_back({"signature", false, ev.reason});
        return;
    }
    std::string why;
    ev.signature_ok = verify(*ev.merchant, ev.event, why);
    ev.checks.push_back({"signature", ev.signature_ok, why});
    if (!ev.signature_ok) {
        ev.reason = why;
        return;
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
    // The status is reported, not judged here: a signed "not paid" message is answered, not refused.
    ev.checks.push_back(
        {"status", ev.event.paid,
         "provider status " + (ev.event.status.empty() ? std::string("?") : ev.event.status)});
    if (ev.business_ok) ev.reason = ev.event.paid ? "ok" : "not a payment: " + ev.event.status;
}

}  // namespace

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
    Evaluate(ev, c, site, "wx", it == f.end() ? "" : it->second,
             [&](const providers::Merchant& m, providers::PaidEvent& out, std::string& why) {
                 return wxpay::VerifyNotification(f, m, out, why);
             });
    return ev;
}

NotifyEval EvaluateZfbNotification(db::Connection& c, const std::string& site, const std::string& form) {
    NotifyEval ev;
    std::optional<http::FormPairs> pairs = http::ParseForm(form);
    if (!pairs || pairs->empty()) {
        ev.reason = "malformed form";
        ev.checks.push_back({"parse", false, ev.reason});
        return ev;
    }
    ev.parsed = true;
    Evaluate(ev, c, site, "zfb", http::FormValue(*pairs, "out_trade_no").value_or(""),
             [&](const providers::Merchant& m, providers::PaidEvent& out, std::string& why) {
                 return alipay::VerifyNotificationFor(m, *pairs, out, why);
             });
    return ev;
}

}  // namespace orderpay::app
