// PayPal refunds of a capture (Payments v2, PROTOCOLS.md §3): the request body and the reading
// of PayPal's answer, kept pure so they are tested on their own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "orderpay/providers/provider.hpp"

namespace orderpay::paypal {

/// PayPal's limit for note_to_payer, in characters.
inline constexpr std::size_t kNoteToPayerMax = 255;

/// `reason` cut to kNoteToPayerMax characters on a character boundary (never inside a UTF-8
/// sequence); control characters become spaces.
std::string NoteToPayer(std::string_view reason);

/// The body of POST /v2/payments/captures/{id}/refund: amount (value in PayPal's precision for
/// the currency), invoice_id = our refund id, note_to_payer = the reason. Empty when the amount
/// cannot be written in the currency.
std::string RefundBody(const providers::RefundParams& p);

/// A refund answer (create, or GET /v2/payments/refunds/{id}) in provider-neutral terms:
/// COMPLETED -> kOk, PENDING -> kProcessing, FAILED/CANCELLED -> kFailed; 422 (PayPal's
/// business refusal) and other 4xx that say the request was not carried out -> kFailed with the
/// issue; 5xx, 408/409/429 and answers we cannot read -> kUnknown. An answer naming another
/// invoice_id than `refund_id` is not believed.
providers::RefundResult RefundAnswer(long status, const std::string& body, const std::string& refund_id,
                                     std::string_view currency);

/// The answer to GET /v2/payments/refunds/{id}: only the refund's own status says it failed.
/// A refused query (400, 401 after the token refresh, 403, 404) says nothing about the refund,
/// which may still complete at PayPal: kUnknown, never kFailed (review s21 F1).
providers::RefundResult RefundQueryAnswer(long status, const std::string& body, const std::string& refund_id,
                                          const std::string& provider_refund_id, std::string_view currency);

/// The answer to the GET that confirms a refund a webhook reported (whose signature covers only
/// a CRC32 of its body): believed only when it is PayPal's refund `provider_refund_id`, of
/// capture `capture_id`, with invoice_id `refund_id` (any invoice when `refund_id` is empty: a
/// refund made outside orderpay); otherwise not_this_refund. 404 is not_this_refund too (PayPal
/// knows no such refund); another refused query or a 5xx is kUnknown.
providers::RefundResult RefundConfirmAnswer(long status, const std::string& body,
                                            const std::string& refund_id,
                                            const std::string& provider_refund_id,
                                            const std::string& capture_id, std::string_view currency);

/// Our refund `refund_id` as an order answer (GET /v2/checkout/orders/{id}) lists it among
/// purchase_units[].payments.refunds[] by its invoice_id, in the purchase unit whose captures list
/// `capture_id`: `read` false when the answer is not a readable order holding that capture
/// (another order, or one PayPal shows without its payments: nothing can be concluded from what
/// it does not list), `found` with the refund read as RefundAnswer reads one. PayPal's order refund carries
/// invoice_id (its refund schema, as generated clients have it: oxid-eshop-gpl/paypal-module
/// src/Model/Orders/Refund.php).
struct InvoiceLookup {
    bool read = false;
    bool found = false;
    providers::RefundResult refund;
    std::string message;
};
InvoiceLookup RefundOfInvoice(long status, const std::string& body, const std::string& refund_id,
                              const std::string& capture_id, std::string_view currency);

/// The capture a refund resource belongs to: the last path segment of its "up" link
/// (…/v2/payments/captures/{id}); "" when there is none.
std::string CaptureOfRefundLinks(const std::string& up_href);

}  // namespace orderpay::paypal
