// The one interface every payment provider implements: create, query, close, and notification
// verification. Handlers never see provider wire formats.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "orderpay/providers/http_client.hpp"

namespace orderpay::providers {

/// A merchant account as stored in `merchants`. `api_key` is secret: never log or return it.
struct Merchant {
    std::string id;
    std::string provider;  // "wx", "zfb", "paypal"
    std::string app_id;
    std::string mch_id;
    std::string sign_type;
    std::string api_key;
    std::string options;  // JSON object text
};

enum class PayKind { kQrcode, kJsapi, kScan, kLink };

struct CreateParams {
    std::string slip_id;  // out_trade_no
    std::int64_t amount = 0;
    std::string currency;
    std::string description;
    PayKind kind = PayKind::kQrcode;
    std::string openid;     // kJsapi
    std::string auth_code;  // kScan
    std::string client_ip;
    std::string notify_url;
    std::int64_t expire_epoch_s = 0;
};

enum class Outcome {
    kPending,  // the shopper has to act (scan the QR, confirm in the app): slip WAIT
    kPaid,     // money collected synchronously (scan pay)
    kFailed,   // definitive refusal: slip FAIL
    kUnknown,  // timeout / system error that queries could not resolve: slip WAIT, ask later
};

struct CreateResult {
    Outcome outcome = Outcome::kUnknown;
    std::string re_tp = "NONE";  // QRCODE, JSON, LINK, NONE
    std::string re_obj;          // QR text, JSON object text, or URL
    std::string txn_id;          // when kPaid
    std::int64_t paid_amount = 0;
    std::string paid_currency;
    std::string message;   // provider's error code/message for the slip note (no secrets)
    bool timeout = false;  // the outcome is unknown because the provider did not answer
};

struct QueryResult {
    enum class State {
        kPaid,
        kNotPaid,
        kPaying,
        kClosed,
        kFailed,
        kNotFound,
        kUnknown
    } state = State::kUnknown;
    std::string txn_id;
    std::int64_t amount = 0;
    std::string currency;
    std::string message;
};

struct CloseResult {
    bool closed = false;        // the provider will not accept payment on this slip any more
    bool already_paid = false;  // too late: it was paid (query and settle it)
    std::string message;
};

/// What a verified notification says, in provider-neutral terms.
struct PaidEvent {
    std::string slip_id;
    std::string txn_id;
    std::int64_t amount = 0;
    std::string currency;
    std::string app_id;
    std::string mch_id;
    bool paid = false;   // the provider says the money is collected
    std::string status;  // the provider's own status word, for the inbox
};

struct Timeouts {
    long connect_ms = 3000;
    long total_ms = 10000;
};

class Provider {
  public:
    virtual ~Provider() = default;
    virtual CreateResult Create(const Merchant& m, const CreateParams& p) = 0;
    virtual QueryResult Query(const Merchant& m, const std::string& slip_id) = 0;
    virtual CloseResult Close(const Merchant& m, const std::string& slip_id) = 0;
};

}  // namespace orderpay::providers
