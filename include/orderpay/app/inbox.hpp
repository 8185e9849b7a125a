// The notification inbox: every provider message is stored raw before it is acted on, then
// given its verdict; and the settlement step every notification endpoint shares.
#pragma once

#include <string>

#include "orderpay/app/notify_eval.hpp"
#include "orderpay/db/connection.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::app {

class Inbox {
  public:
    /// Stores the request (headers, raw body, remote address) with verdict "received".
    Inbox(db::Connection& c, const std::string& provider, const std::string& site, const http::Request& req);
    Inbox(db::Connection& c, const std::string& provider, const std::string& site, const http::Request& req,
          const std::string& raw);
    /// verdict: settled, duplicate, ignored, rejected, error.
    void Verdict(const char* verdict, const std::string& reason, const NotifyEval& ev);

  private:
    db::Connection& c_;
    std::string id_;
};

/// Settles a verified, business-checked payment and records the verdict. True when the provider
/// should get its success reply (settled, late-settled, refund-flagged or duplicate).
bool SettleAndRecord(db::Connection& c, Inbox& inbox, const NotifyEval& ev);

}  // namespace orderpay::app
