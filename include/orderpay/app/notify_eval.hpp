// Evaluates a provider notification without changing anything: parse, find the slip and its
// merchant, verify the signature, then each business check. Shared by pay/re_wx and by
// `orderpay notify verify`, so the CLI explains exactly what the endpoint would decide.
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
    bool parsed = false;
    bool signature_ok = false;
    std::string reason;  // why it fails (first failing step), or "ok"
    providers::PaidEvent event;
    std::optional<providers::Merchant> merchant;
    std::optional<store::SlipRow> slip;
    std::vector<CheckLine> checks;  // signature first, then business checks, then the status
    bool business_ok = false;       // every business check passed (the status is not one)
};

/// Business checks of a verified event against its slip and merchant (pure): slip, site,
/// app_id, mch_id (Alipay: seller_id), amount, currency.
std::vector<CheckLine> BusinessChecks(const providers::PaidEvent& ev, const providers::Merchant& m,
                                      const std::optional<store::SlipRow>& slip, const std::string& site);

/// WeChat Pay v2: `body` is the raw XML.
NotifyEval EvaluateWxNotification(db::Connection& c, const std::string& site, const std::string& body);

/// Alipay: `form` is the notification form (POST body) or the return URL's query string, raw.
NotifyEval EvaluateZfbNotification(db::Connection& c, const std::string& site, const std::string& form);

}  // namespace orderpay::app
