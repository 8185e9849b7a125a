// /sim/pay for PayPal orders: the buyer approves, paysim captures, and sends the webhook the
// test asks for, signed as PayPal signs (PROTOCOLS.md §3.3) with paysim's certificate, or with
// one fault.
#pragma once

#include <string>

#include "orderpay/http/form.hpp"
#include "sim/core/control.hpp"

namespace orderpay::sim {

struct PpPayArgs {
    std::string event = "COMPLETED";  // APPROVED | COMPLETED | PENDING | DENIED
    std::string tamper;  // sign | amount | amount_resigned | crc | cert_host | cert_cn | cert_expired | algo
};

/// Reads event and tamper; returns a message for a bad one, else "".
std::string ParsePpPayArgs(const http::FormPairs& form, PpPayArgs& out);

http::Response PpSimPay(Ctx& ctx, const PayArgs& a, const PpPayArgs& p, pp_store::Order o);

/// The webhook PayPal sends for `event` about order `o` (exact bytes, what is signed).
std::string PpWebhookBody(const pp_store::Order& o, const std::string& event, const std::string& value);

}  // namespace orderpay::sim
