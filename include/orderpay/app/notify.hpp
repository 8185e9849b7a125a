// Provider notifications, for every provider alike: evaluate without changing anything (parse,
// find the slip, bind it to the notifying provider and the slip's own merchant, verify, check),
// then decide and apply. pay/re_<provider>, `orderpay notify verify` and `orderpay inbox replay`
// all run exactly this code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

struct CheckLine {
    std::string name;
    bool ok = false;
    std::string detail;
};

struct NotifyEval {
    providers::Notice notice;
    bool signature_ok = false;
    // Neither proved nor refuted: the key to check it with could not be had now (a fetched
    // certificate's host unreachable, a download budget spent). Decided "error", not refused.
    bool signature_unchecked = false;
    bool business_ok = false;  // every business check passed (the status is not one)
    std::string reason;        // why it fails (first failing step), or "ok"
    providers::PaidEvent event;
    std::optional<providers::Merchant> merchant;
    std::optional<store::SlipRow> slip;
    std::vector<CheckLine> checks;  // parse, provider, signature, business checks, then the status
};

/// Business checks of a verified event against its slip and that slip's merchant (pure):
/// slip, site, provider, merchant, app_id, mch_id (Alipay: seller_id), amount, currency.
std::vector<CheckLine> BusinessChecks(std::string_view provider, const providers::PaidEvent& ev,
                                      const providers::Merchant& m, const std::optional<store::SlipRow>& slip,
                                      const std::string& site);

/// Evaluates without changing anything.
NotifyEval EvaluateNotification(db::Connection& c, const providers::Provider& p, const std::string& site,
                                const providers::RawNotification& raw);

struct NotifyDecision {
    std::string verdict;  // settled, duplicate, ignored, rejected, error (judge it again later)
    std::string reason;
    providers::NotifyAnswer answer = providers::NotifyAnswer::kRefused;
    // Settlement wrote the verdict on the row itself, in its transaction; `recorded` says
    // whether the row took it (false: decided meanwhile).
    bool written = false, recorded = false;
    // What we found of the payment where the message's own word proves nothing (an unsigned
    // PayPal return claims APPROVED before the buyer approved, review s28): COMPLETED, PENDING,
    // NOT_APPROVED, FAILED, CLOSED or UNKNOWN. Empty: the message's status is the word to report.
    std::string found_status = {};
    // The provider call it prompted was paced (another message for the slip asked a moment
    // before): counted apart in the metrics, not as the verdict (a twin storm of them is no error
    // of ours, review s28-diff #4).
    bool paced = false;
    // The decision records what the provider answered when orderpay asked it about this message
    // (a capture, a query of its order or refund). One that asked nothing (or whose answer only
    // repeated the settled row) rests on the message and our own rows alone, and from a provider
    // whose word is only a cue, a twin makes any number of it (MarkForRetention).
    bool confirmed = false;
};

/// The inbox's retention marks on a decision (pure; Decide's last step): a browser's return
/// whatever came of it but a settlement or a refusal is `return: ` (RETURN_RE), and a webhook
/// from a provider whose word is only a cue (`cue`: SettlesOnOwnQuery, PayPal) that was
/// acknowledged (duplicate, ignored) with nothing written and nothing confirmed is
/// `unconfirmed: ` (UNCONFIRMED_RE): both go with the unverified rows (src/store/sql_text.hpp).
/// A settlement, a confirmed decision and a reason already marked are left as they are.
void MarkForRetention(const NotifyEval& ev, bool cue, NotifyDecision& d);

/// Applies an evaluated notification: settles a verified payment, completes an approved one at
/// the provider (live slips only), fails a slip the provider closed, acknowledges other
/// statuses, refuses the rest. Idempotent; a provider event id already handled on another row
/// than `row_id` is a duplicate. A payment settles and decides the stored row `row_id` (if not
/// empty) in one round trip.
NotifyDecision Decide(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                      const std::string& row_id = {});

struct Handled {
    NotifyEval ev;
    NotifyDecision decision;
    // The row took this decision. False: another evaluation (a replay on another host, or the
    // live request) decided it first, and `decision` is only what this one made of it.
    bool recorded = true;
};

/// Evaluates and decides the stored notification `row_id`, and records its verdict. Anything
/// unexpected is recorded as verdict "error" (when the database still answers) and answered
/// kError, so the provider sends it again; it never escapes as an exception.
Handled HandleStored(db::Connection& c, const providers::Provider& p, const std::string& site,
                     const std::string& row_id, const providers::RawNotification& raw);

struct Incoming {
    bool site_found = true;
    bool stored = false;  // false: not stored (no such site, or the database failed: kError)
    Handled handled;
};

/// A notification as it arrives at pay/re_<provider>: stored with the slip and merchant it
/// needs read in the same statement, evaluated, then decided (a payment settles and records
/// the verdict in one more statement). Two round trips on the happy path; never throws.
Incoming HandleIncoming(db::Connection& c, const providers::Provider& p, const std::string& site,
                        const std::string& remote_addr, const providers::RawNotification& raw);

}  // namespace orderpay::app
