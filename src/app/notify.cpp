// Notification evaluation in the order PROTOCOLS.md §0 prescribes (signature, then lookup,
// merchant, amount and currency, then the trade status), bound to the slip it names: the slip
// must come from the notifying provider, and its own merchant's key must have signed it.
#include "orderpay/app/notify.hpp"

#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::app {

std::vector<CheckLine> BusinessChecks(std::string_view provider, const providers::PaidEvent& ev,
                                      const providers::Merchant& m, const std::optional<store::SlipRow>& slip,
                                      const std::string& site) {
    std::vector<CheckLine> out;
    out.push_back({"slip", slip.has_value(),
                   slip ? "slip " + slip->id + " (" + std::string(domain::ToString(slip->st)) + ")"
                        : "no slip " + ev.slip_id});
    if (slip) {
        out.push_back(
            {"site", slip->site_id == site, "slip site " + slip->site_id + ", notified for " + site});
        out.push_back({"provider", slip->provider == provider,
                       "slip issued by " + slip->provider + ", notified by " + std::string(provider)});
        out.push_back({"merchant", slip->merchant_id == m.id,
                       "slip merchant " + slip->merchant_id + ", verified with " + m.id});
    }
    out.push_back({"app_id", ev.app_id == m.app_id, "notified " + ev.app_id + ", merchant " + m.app_id});
    // Alipay calls the merchant id seller_id (the 2088... PID); name the check the way it reads.
    out.push_back({m.provider == "zfb" ? "seller_id" : "mch_id", ev.mch_id == m.mch_id,
                   "notified " + ev.mch_id + ", merchant " + m.mch_id});
    out.push_back({"out_trade_no", !slip || ev.slip_id == slip->id,
                   "signed " + ev.slip_id + (slip ? ", slip " + slip->id : std::string())});
    if (slip) {
        out.push_back({"amount", ev.amount == slip->amount,
                       "notified " + std::to_string(ev.amount) + ", slip " + std::to_string(slip->amount)});
        out.push_back({"currency", ev.currency == slip->currency,
                       "notified " + ev.currency + ", slip " + slip->currency});
    }
    return out;
}

NotifyEval EvaluateNotification(db::Connection& c, const providers::Provider& p, const std::string& site,
                                const providers::RawNotification& raw) {
    NotifyEval ev;
    const std::string id(p.Id());
    ev.notice = p.ParseNotification(raw);
    if (!ev.notice.parsed) {
        ev.reason = ev.notice.error.empty() ? "malformed" : ev.notice.error;
        ev.checks.push_back({"parse", false, ev.reason});
        return ev;
    }
    ev.slip = store::FindSlip(c, ev.notice.slip_id);
    // A slip issued by another provider is never settled from here, whatever the signature.
    if (ev.slip && ev.slip->provider != id) {
        ev.reason = "provider mismatch: slip " + ev.slip->id + " was issued by " + ev.slip->provider +
                    " (merchant " + ev.slip->merchant_id + "), notified by " + id;
        ev.checks.push_back({"provider", false, ev.reason});
        return ev;
    }
    // The key is the slip's own merchant's (it may predate a seller change). For an unknown
    // slip the site's current seller judges the signature, so the inbox can say which it was.
    if (ev.slip) {
        ev.merchant = store::FindMerchant(c, ev.slip->merchant_id);
    } else {
        ev.merchant = store::FindSeller(c, site, id);
    }
    if (!ev.merchant || ev.merchant->provider != id) {
        ev.reason = ev.slip ? "slip " + ev.slip->id + " has no " + id + " merchant"
                            : "no " + id + " merchant configured for site " + site;
        ev.merchant.reset();
        ev.checks.push_back({"signature", false, ev.reason});
        return ev;
    }
    std::string why;
    ev.signature_ok = p.VerifyNotification(*ev.merchant, ev.notice, ev.event, why);
    ev.checks.push_back({"signature", ev.signature_ok, why + " (merchant " + ev.merchant->id + ")"});
    if (!ev.signature_ok) {
        ev.reason = why;
        return ev;
    }
    std::vector<CheckLine> biz = BusinessChecks(id, ev.event, *ev.merchant, ev.slip, site);
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
    return ev;
}

NotifyDecision Decide(db::Connection& c, const providers::Provider& p, const NotifyEval& ev) {
    using A = providers::NotifyAnswer;
    if (!ev.notice.parsed) return {"rejected", ev.reason, A::kMalformed};
    if (!ev.signature_ok || !ev.business_ok) return {"rejected", ev.reason, A::kRefused};
    // A browser return is a redirect anyone can forge or replay: it proves, it never settles.
    if (!ev.notice.may_settle) return {"ignored", "return url (never settles): " + ev.reason, A::kAccepted};
    if (ev.event.paid) {
        std::string detail;
        store::SettleOutcome o = store::Settle(c, std::string(p.Id()), ev.event, detail);
        switch (o) {
            case store::SettleOutcome::kSettled:
            case store::SettleOutcome::kLateSettled:
            case store::SettleOutcome::kRefundFlagged:
                return {"settled", std::string(store::ToString(o)) + ": " + detail, A::kAccepted};
            case store::SettleOutcome::kDuplicate:
                return {"duplicate", detail, A::kAccepted};
            case store::SettleOutcome::kTxnReused:
                return {"rejected", "txn_id_reused: " + detail, A::kRefused};
            case store::SettleOutcome::kNoSlip:
            case store::SettleOutcome::kMismatch:
                break;
        }
        return {"rejected", detail, A::kRefused};
    }
    // A signed "closed" ends an unpaid slip; other statuses change nothing. Both are
    // acknowledged so the provider stops repeating them.
    if (ev.event.closed) {
        bool failed = store::FailSlip(c, ev.slip->id, "provider: " + ev.event.status);
        return {"ignored", failed ? "trade closed: slip failed" : "trade closed", A::kAccepted};
    }
    return {"ignored", "not paid: " + ev.event.status, A::kAccepted};
}

Handled HandleStored(db::Connection& c, const providers::Provider& p, const std::string& site,
                     const std::string& row_id, const providers::RawNotification& raw) {
    Handled h;
    try {
        h.ev = EvaluateNotification(c, p, site, raw);
        if (h.ev.slip) {
            log::SetSlip(h.ev.slip->id);
            log::SetOrder(h.ev.slip->order_id);
        }
        h.decision = Decide(c, p, h.ev);
        std::optional<std::string> slip = h.ev.slip ? std::optional(h.ev.slip->id) : std::nullopt;
        if (!store::NotificationVerdict(c, row_id, h.decision.verdict, h.decision.reason, slip))
            log::Info("notification ", row_id,
                      " was decided meanwhile; this evaluation: ", h.decision.verdict);
        if (h.decision.verdict == "rejected")
            log::Warn("notification ", row_id, " rejected: ", h.decision.reason);
    } catch (const std::exception& e) {
        // Answer in the provider's own format, and have it sent again: the row stays for replay.
        log::Error("notification ", row_id, " (", p.Id(), "): ", e.what());
        h.decision = {"error", std::string("internal error: ") + e.what(), providers::NotifyAnswer::kError};
        try {
            c.ResetTransaction();
            store::NotificationVerdict(c, row_id, "error", h.decision.reason, std::nullopt);
        } catch (const std::exception&) {
            // The database is gone too: the row stays "received" and `inbox replay` decides it.
        }
    }
    metrics::Notification(p.Id(), h.decision.verdict);
    return h;
}

}  // namespace orderpay::app
