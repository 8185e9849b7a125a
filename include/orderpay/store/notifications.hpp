// The notification inbox: every provider message stored raw (any byte survives) before it is
// acted on, its verdict recorded once, and undecided rows found again for replay.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::store {

struct StoredNotification {
    std::string id, provider, site_id, slip_id, remote_addr;
    providers::RawNotification raw;
    std::string verdict, reason;
    std::int64_t ct_ms = 0;
    std::string request_id;  // nginx's $request_id of the delivery ("" when none)
};

/// A stored notification and what its evaluation reads: the slip it names and the merchant whose
/// key judges it (the slip's own; for an unknown slip the site's seller for the provider).
struct NotificationIntake {
    std::string row_id;
    std::optional<SlipRow> slip;
    std::optional<providers::Merchant> merchant;
};

/// Stores the request (verdict "received") and reads what evaluating it needs, in one round
/// trip. nullopt when the site does not exist (nothing stored). `request_id`: nginx's
/// $request_id as log::RequestId() kept it ("" stores NULL).
std::optional<NotificationIntake> IntakeNotification(db::Connection& c, const std::string& provider,
                                                     const std::string& site, const std::string& remote_addr,
                                                     const providers::RawNotification& raw,
                                                     const std::string& slip_id,
                                                     const std::string& request_id = "");

/// settled, duplicate, ignored, rejected, error. Only a row still "received" or "error" takes
/// one: false when another evaluation (a replay) decided it first.
bool NotificationVerdict(db::Connection& c, const std::string& id, const std::string& verdict,
                         const std::string& reason, const std::optional<std::string>& slip_id);

/// Records the provider's event id on row `id` and says whether an earlier row of the same event
/// was already acted on (settled, duplicate or ignored): then this one is a redelivery.
bool EventSeenBefore(db::Connection& c, const std::string& provider, const std::string& id,
                     const std::string& event_id);

/// Whether a chargeback of the slip (its payment taken back by the provider) was confirmed and
/// recorded on one of its notifications (app/notify_reversal).
bool ChargebackRecorded(db::Connection& c, const std::string& slip_id);

/// The inbox row of an OUTSIDE report of slip `slip_id` (a refund notification's, or an order
/// query's record, app/query_refunded.cpp) that names refund `name`; nullopt when none does.
std::optional<std::string> RefundReported(db::Connection& c, const std::string& slip_id,
                                          const std::string& name);

/// Whether any OUTSIDE report of the slip (a chargeback aside) is in the inbox.
bool OutsideReported(db::Connection& c, const std::string& slip_id);

/// Rows with `verdict` ("received": never decided; "error": evaluation failed) that arrived
/// more than `older_than_s` seconds ago, oldest first.
std::vector<StoredNotification> UndecidedNotifications(db::Connection& c, const std::string& verdict,
                                                       std::int64_t older_than_s, int limit);
std::optional<StoredNotification> FindNotification(db::Connection& c, const std::string& id);
/// Newest first; `verdict` nullopt = all.
std::vector<StoredNotification> ListNotifications(db::Connection& c,
                                                  const std::optional<std::string>& verdict, int limit);

/// The inbox's retention, a batch at a time (each its own statement, so no lock is held long)
/// until none is due or `most` rows are gone; how many went. Never a row still undecided for a
/// reason other than an unchecked signature, nor a report `orderpay reconcile` lists.
///
/// Rows never verified, that arrived more than `older_than_s` seconds ago: rejected as unreadable
/// or not signed by the provider ("unverified: ..."), or kept `error` because the signature could
/// not be checked when they came ("not checked now: ...").
std::int64_t PruneUnverifiedNotifications(db::Connection& c, std::int64_t older_than_s, std::int64_t most);
/// Whether migration 021's index serves the retention (without it, each run reads the inbox).
bool RetentionIndexed(db::Connection& c);
/// Decided rows (settled, duplicate, ignored, rejected) that arrived more than `older_than_s`
/// seconds ago.
std::int64_t PruneDecidedNotifications(db::Connection& c, std::int64_t older_than_s, std::int64_t most);

}  // namespace orderpay::store
