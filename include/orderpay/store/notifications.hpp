// The notification inbox: every provider message stored raw (any byte survives) before it is
// acted on, its verdict recorded once, and undecided rows found again for replay.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::store {

struct StoredNotification {
    std::string id, provider, site_id, slip_id, remote_addr;
    providers::RawNotification raw;
    std::string verdict, reason;
    std::int64_t ct_ms = 0;
    std::string request_id;  // nginx's $request_id of the delivery ("" when none)
};

/// Stores the request with verdict "received"; returns the row id. `request_id`: nginx's
/// $request_id as log::RequestId() kept it ("" stores NULL).
std::string RecordNotification(db::Connection& c, const std::string& provider, const std::string& site,
                               const std::string& remote_addr, const providers::RawNotification& raw,
                               const std::string& request_id = "");

/// settled, duplicate, ignored, rejected, error. Only a row still "received" or "error" takes
/// one: false when another evaluation (a replay) decided it first.
bool NotificationVerdict(db::Connection& c, const std::string& id, const std::string& verdict,
                         const std::string& reason, const std::optional<std::string>& slip_id);

/// Rows with `verdict` ("received": never decided; "error": evaluation failed) that arrived
/// more than `older_than_s` seconds ago, oldest first.
std::vector<StoredNotification> UndecidedNotifications(db::Connection& c, const std::string& verdict,
                                                       std::int64_t older_than_s, int limit);
std::optional<StoredNotification> FindNotification(db::Connection& c, const std::string& id);
/// Newest first; `verdict` nullopt = all.
std::vector<StoredNotification> ListNotifications(db::Connection& c,
                                                  const std::optional<std::string>& verdict, int limit);

}  // namespace orderpay::store
