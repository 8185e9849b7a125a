// What every paysim handler gets: the worker's database connection and the options from config.
#pragma once

#include <string>

#include "orderpay/db/connection.hpp"

namespace orderpay::sim {

struct SimOptions {
    std::string conninfo;              // config key "db"
    long notify_connect_ms = 2000;     // paysim.notify_connect_timeout_ms
    long notify_timeout_ms = 10000;    // paysim.notify_timeout_ms (per delivery)
    std::string paypal_cert_base;      // paysim.paypal_cert_base: https URL the certificates are under
    std::string paypal_sign_key_file;  // paysim.paypal_sign_key_file: signs PayPal webhooks
    // paysim.paypal_web_base: where buyers approve, PayPal's www (the API is api-m): the dev stack
    // serves the API over https and the approval page over plain http; "" = the API's own base.
    std::string paypal_web_base;
};

struct Ctx {
    db::Connection& db;
    const SimOptions& opts;
};

}  // namespace orderpay::sim
