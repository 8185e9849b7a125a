// Notification evaluation in the order PROTOCOLS.md §0 prescribes (signature, then lookup,
// merchant, amount and currency, then the trade status), bound to the slip it names: the slip
// must come from the notifying provider, and its own merchant's key must have signed it.
#include "orderpay/app/notify.hpp"

#include "orderpay/app/refund.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"
#include "orderpay/providers/plausible.hpp"
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
                   : ev.slip_id.empty() ? std::string("the notification names no slip")
                                        : "no slip " + ev.slip_id});
    if (slip) {
        out.push_back(
            {"site", slip->site_id == site, "slip site " + slip->site_id + ", notified for " + site});
        out.push_back({"provider", slip->provider == provider,
                       "slip issued by " + slip->provider + ", notified by " + std::string(provider)});
        out.push_back({"merchant", slip->merchant_id == m.id,
                       "slip merchant " + slip->merchant_id + ", verified with " + m.id});
    }
    // An id the message leaves out matches nothing, even a merchant with none on record (`notify
    // verify` with no site and no slip judges the signature alone): "notified , merchant " once
    // read as a pass.
    auto id_match = [&out](const std::string& name, const std::string& notified, const std::string& ours) {
        const std::string mine = ours.empty() ? "no merchant on record to compare with" : "merchant " + ours;
        out.push_back({name, !notified.empty() && notified == ours,
                       notified.empty() ? "none notified, " + mine : "notified " + notified + ", " + mine});
    };
    id_match("app_id", ev.app_id, m.app_id);
    // Alipay calls the merchant id seller_id (the 2088... PID); name the check the way it reads.
    id_match(m.provider == "zfb" ? "seller_id" : "mch_id", ev.mch_id, m.mch_id);
    out.push_back({"out_trade_no", !ev.slip_id.empty() && (!slip || ev.slip_id == slip->id),
                   (ev.slip_id.empty() ? std::string("none signed") : "signed " + ev.slip_id) +
                       (slip ? ", slip " + slip->id : std::string())});
    // A slip whose create answer never came back has no provider id to compare with.
    if (slip && !ev.order_ref.empty() && !slip->provider_ref.empty())
        out.push_back({"provider_ref", ev.order_ref == slip->provider_ref,
                       "notified order " + ev.order_ref + ", slip's " + slip->provider_ref});
    // A signed id is still the provider's text: one libpq would cut at a NUL (settling on an id
    // never sent), or PostgreSQL refuse (not UTF-8, past the index row limit), is refused here,
    // not answered as a temporary failure for the provider to resend for days.
    auto id_line = [&out](const char* name, const std::string& id) {
        const bool ok = providers::PlausibleId(id);
        out.push_back({name, ok,
                       ok ? id
                       : id.empty()
                           ? std::string("none given")
                           : std::to_string(id.size()) + " bytes that are not 1-128 bytes of plain text"});
    };
    if (ev.paid || !ev.txn_id.empty()) id_line("transaction_id", ev.txn_id);
    if (!ev.event_id.empty()) id_line("event_id", ev.event_id);
    // An approval moves no money: what counts is the completion's own answer, which Settle
    // checks against the slip. A buyer's return (PayPal's, or its cancel) claims no amount.
    // A refund's result is checked against the refund it names (app/refund), not the slip's total;
    // a reversal against the provider's own record of the slip's payment (app/notify_reversal).
    const bool claims_no_money = !ev.paid && (ev.approved || ev.currency.empty() || ev.refund || ev.reversed);
    if (slip && !claims_no_money) {
        // An amount the parser could not read is -1: say so, not "-1", which reads as a number
        // the provider sent (an inbox line once said "notified -1" for total_fee=-2147483649).
        out.push_back({"amount", ev.amount == slip->amount,
                       (ev.amount < 0 ? std::string("notified no readable amount")
                                      : "notified " + std::to_string(ev.amount)) +
                           ", slip " + std::to_string(slip->amount)});
        out.push_back({"currency", ev.currency == slip->currency,
                       "notified " + ev.currency + ", slip " + slip->currency});
    }
    return out;
}

namespace {

// Everything after parsing, given what the database holds (pure): the slip the message names
// and the merchant whose key judges it.
NotifyEval Judge(const providers::Provider& p, const std::string& site, providers::Notice notice,
                 std::optional<store::SlipRow> slip, std::optional<providers::Merchant> merchant) {
    NotifyEval ev;
    const std::string id(p.Id());
    ev.notice = std::move(notice);
    if (!ev.notice.parsed) {
        ev.reason = ev.notice.error.empty() ? "malformed" : ev.notice.error;
        ev.checks.push_back({"parse", false, ev.reason});
        return ev;
    }
    ev.slip = std::move(slip);
    // A slip issued by another provider is never settled from here, whatever the signature.
    if (ev.slip && ev.slip->provider != id) {
        ev.reason = "provider mismatch: slip " + ev.slip->id + " was issued by " + ev.slip->provider +
                    " (merchant " + ev.slip->merchant_id + "), notified by " + id;
        ev.checks.push_back({"provider", false, ev.reason});
        return ev;
    }
    ev.merchant = std::move(merchant);
    if (!ev.merchant || ev.merchant->provider != id) {
        ev.reason = ev.slip ? "slip " + ev.slip->id + " has no " + id + " merchant"
                            : "no " + id + " merchant configured for site " + site;
        ev.merchant.reset();
        ev.checks.push_back({"signature", false, ev.reason});
        return ev;
    }
    std::string why;
    const providers::SignatureCheck sig = p.CheckNotification(*ev.merchant, ev.notice, ev.event, why);
    ev.signature_ok = sig == providers::SignatureCheck::kValid;
    ev.signature_unchecked = sig == providers::SignatureCheck::kUnchecked;
    // The prefix is the inbox's retention's too (UNCHECKED_RE, src/store/sql_text.hpp).
    if (ev.signature_unchecked) why = "not checked now: " + why;
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

// The slip a parsed notice is about. A message naming only the provider's own payment id
// (PayPal's buyer return, an order approval) is about the slip that recorded that id; the
// notice then names that slip too.
std::optional<store::SlipRow> SlipNamed(db::Connection& c, const providers::Provider& p,
                                        providers::Notice& notice) {
    if (!notice.slip_id.empty() || notice.provider_ref.empty()) return store::FindSlip(c, notice.slip_id);
    std::optional<store::SlipRow> slip = store::FindSlipByRef(c, std::string(p.Id()), notice.provider_ref);
    if (slip) notice.slip_id = slip->id;
    return slip;
}

}  // namespace

NotifyEval EvaluateNotification(db::Connection& c, const providers::Provider& p, const std::string& site,
                                const providers::RawNotification& raw) {
    const std::string id(p.Id());
    providers::Notice notice = p.ParseNotification(raw);
    if (!notice.parsed) return Judge(p, site, std::move(notice), std::nullopt, std::nullopt);
    std::optional<providers::Merchant> opened;
    // A sealed notice (WeChat v3) names its slip only inside a part that one merchant's keys
    // open: try the provider's merchants that speak its API (the 100-merchant cap must not be
    // spent on ones that cannot open it), the site's seller first. Whoever opens it, the slip's
    // own merchant verifies it again (Judge).
    // First with the keys every worker holds, so a real notice costs no fetch; only when none
    // opens it, once more with one gateway call for the whole notice: a forged one names a key
    // nobody holds, and must not become a certificate fetch for each merchant.
    if (notice.sealed && notice.slip_id.empty()) {
        const std::vector<providers::Merchant> candidates =
            store::MerchantsOf(c, id, site, notice.sealed_api);
        std::string why;
        bool why_of_a_stranger = false;
        providers::KeyFetches fetches{true, 0};
        for (int pass = 0; pass < 2 && !opened; ++pass) {
            if (pass == 1) {
                if (!fetches.missed) break;
                fetches = providers::KeyFetches{false, 1};
            }
            why.clear();
            for (const providers::Merchant& m : candidates) {
                std::string this_why;
                const providers::OpenOutcome o = p.OpenNotification(m, notice, this_why, fetches);
                if (o == providers::OpenOutcome::kOpened) {
                    opened = m;
                    break;
                }
                // Report what the first merchant it may be addressed to (the site's seller comes
                // first) found wrong, not what a stranger's keys made of it.
                const bool stranger = o == providers::OpenOutcome::kNotAddressed;
                if (why.empty() || (why_of_a_stranger && !stranger)) {
                    why = this_why;
                    why_of_a_stranger = stranger;
                }
            }
        }
        if (!opened) {
            NotifyEval ev;
            const std::string api = notice.sealed_api.empty() ? "" : " " + notice.sealed_api;
            ev.notice = std::move(notice);
            ev.reason = why.empty() ? "no " + id + api + " merchant can open it" : why;
            ev.checks.push_back({"signature", false, ev.reason});
            return ev;
        }
    }
    std::optional<store::SlipRow> slip = SlipNamed(c, p, notice);
    // The key is the slip's own merchant's (it may predate a seller change). For an unknown
    // slip the one that opened it, or the site's current seller, judges the signature, so the
    // inbox can say which it was.
    std::optional<providers::Merchant> merchant = slip     ? store::FindMerchant(c, slip->merchant_id)
                                                  : opened ? opened
                                                           : store::FindSeller(c, site, id);
    // `notify verify` without a site: the signature alone, judged with no merchant of ours.
    if (!slip && site.empty()) merchant = providers::Merchant{"(none)", id, "", "", "", "", "{}"};
    return Judge(p, site, std::move(notice), std::move(slip), std::move(merchant));
}

namespace {

// Evaluates (with `evaluate`), decides and records the verdict of the stored row `row_id`.
// Anything unexpected is recorded as "error" and answered kError, never thrown.
template <typename Evaluate>
Handled DecideAndRecord(db::Connection& c, const providers::Provider& p, const std::string& row_id,
                        Evaluate&& evaluate) {
    Handled h;
    try {
        h.ev = evaluate();
        if (h.ev.slip) {
            log::SetSlip(h.ev.slip->id);
            log::SetOrder(h.ev.slip->order_id);
        }
        h.decision = Decide(c, p, h.ev, row_id);
        std::optional<std::string> slip = h.ev.slip ? std::optional(h.ev.slip->id) : std::nullopt;
        const bool recorded = h.decision.written ? h.decision.recorded
                                                 : store::NotificationVerdict(c, row_id, h.decision.verdict,
                                                                              h.decision.reason, slip);
        h.recorded = recorded;
        if (!recorded)
            log::Info("notification ", row_id,
                      " was decided meanwhile; this evaluation: ", h.decision.verdict);
        // A paced webhook is `error` only so that the provider sends it again; a twin storm makes
        // any number of them.
        if (h.decision.paced)
            log::Info("notification ", row_id, " paced: ", h.decision.reason);
        else if (h.decision.verdict == "rejected" || h.decision.verdict == "error")
            log::Warn("notification ", row_id, " ", h.decision.verdict, ": ", h.decision.reason);
    } catch (const std::exception& e) {
        // Answer in the provider's own format, and have it sent again: the row stays for replay.
        log::Error("notification ", row_id, " (", p.Id(), "): ", e.what());
        h.decision = {"error", std::string("internal error: ") + e.what(), providers::NotifyAnswer::kError};
        try {
            c.ResetTransaction();
            h.recorded = store::NotificationVerdict(c, row_id, "error", h.decision.reason, std::nullopt);
        } catch (const std::exception&) {
            // The database is gone too: the row stays "received" and `inbox replay` decides it.
        }
    }
    metrics::Notification(p.Id(), h.decision.paced ? "paced" : h.decision.verdict);
    return h;
}

}  // namespace

Handled HandleStored(db::Connection& c, const providers::Provider& p, const std::string& site,
                     const std::string& row_id, const providers::RawNotification& raw) {
    return DecideAndRecord(c, p, row_id, [&] { return EvaluateNotification(c, p, site, raw); });
}

Incoming HandleIncoming(db::Connection& c, const providers::Provider& p, const std::string& site,
                        const std::string& remote_addr, const providers::RawNotification& raw) {
    Incoming in;
    // Parsing is pure: done first, it names the slip the one storing statement also reads.
    std::optional<providers::Notice> notice;
    try {
        notice = p.ParseNotification(raw);
    } catch (const std::exception&) {
        // Judged again after storing, where the failure is recorded as "error".
    }
    std::optional<store::NotificationIntake> intake;
    try {
        // A notice naming only the provider's payment id (PayPal) is resolved to its slip first.
        if (notice && notice->parsed && notice->slip_id.empty() && !notice->provider_ref.empty())
            SlipNamed(c, p, *notice);
        intake = store::IntakeNotification(c, std::string(p.Id()), site, remote_addr, raw,
                                           notice && notice->parsed ? notice->slip_id : std::string(),
                                           log::RequestId());
    } catch (const std::exception& e) {
        // Not stored, so not acted on: the provider must send it again.
        log::Error("notification for ", site, " (", p.Id(), ") not stored: ", e.what());
        in.handled.decision = {"error", std::string("not stored: ") + e.what(),
                               providers::NotifyAnswer::kError};
        return in;
    }
    if (!intake) {
        in.site_found = false;
        return in;
    }
    in.stored = true;
    in.handled = DecideAndRecord(c, p, intake->row_id, [&] {
        // Only a notice that names its slip in the clear was served by the intake's reads.
        if (!notice || (notice->parsed && notice->slip_id.empty()))
            return EvaluateNotification(c, p, site, raw);
        return Judge(p, site, std::move(*notice), std::move(intake->slip), std::move(intake->merchant));
    });
    return in;
}

}  // namespace orderpay::app
