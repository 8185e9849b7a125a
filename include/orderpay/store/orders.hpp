// Use cases on orders and their slips: create with stock, load, swap the slip, record what a
// provider answered. Each is one transaction of conditional statements; none spans a provider call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/domain/states.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::store {

struct Product {
    std::string id, title;
    std::int64_t price = 0;
    std::string currency;
};

struct NewLine {
    std::string product_id, title;
    std::int64_t amount = 0, price = 0, subtotal = 0;
};

struct NewOrder {
    std::string id, site_id, tp, title, note, buyer_store, buyer_id;
    std::int64_t pro_c = 0, total = 0, freight = 0, discount = 0, price = 0, fee = 0;
    std::string currency, pay_tp, seller, contact_json, client_ip;
    int expire_minutes = 30;
    std::vector<NewLine> lines;
    std::optional<std::string> idem_key;  // the buyer's Idempotency-Key
    std::string idem_hash_hex;            // SHA-256 of the request body, with idem_key
};

struct NewSlip {
    std::string id, order_id, site_id, pay_tp, provider, merchant_id;
    std::int64_t amount = 0;
    std::string currency;
};

struct CreateOrderResult {
    bool ok = false;
    std::string out_of_stock;  // the product that ran out (ok = false)
    std::string not_on_sale;   // a product withdrawn or re-priced since the catalogue read (ok = false)
    bool key_taken = false;    // another request with the same Idempotency-Key won (ok = false)
    // The order's expiry as written (epoch ms, the database's clock): what the provider's code
    // must not outlive (ok = true).
    std::int64_t expi_ms = 0;
};

struct IdemOrder {
    std::string order_id, body_hash_hex;
};

/// The buyer's order made with this Idempotency-Key in the last 24 hours.
std::optional<IdemOrder> FindOrderByIdemKey(db::Connection& c, const std::string& site,
                                            const std::string& store, const std::string& buyer,
                                            const std::string& key);

/// Inserts the order, its lines and its NEW slip, taking stock in product-id order (so two
/// orders of the same products can never wait on each other), in one transaction. A deadlock or
/// serialization failure retries the whole transaction a bounded number of times.
CreateOrderResult CreateOrder(db::Connection& c, const NewOrder& o, const NewSlip& slip);

struct OrderItem {
    std::string product_id, title;
    std::int64_t amount = 0, price = 0, subtotal = 0;
};

/// One refund as the order JSON shows it.
struct RefundLine {
    std::string id;
    std::int64_t amount = 0;
    std::string st, reason;
    std::int64_t ct = 0;
    std::optional<std::int64_t> ok_at;
};

/// A verified payment of the order that the order does not count (refund_needed: a late payment
/// of an expired or failed order, a second payment of a paid one): money held, owed back.
struct HeldSlip {
    std::string id, pay_tp, provider, note;
    std::int64_t amount = 0;
    std::optional<std::int64_t> paid_at;  // epoch ms
    std::int64_t refunded = 0;            // its OK refunds, minor units
    std::vector<RefundLine> refunds;      // its refunds, oldest first
};

struct OrderRecord {
    std::string id, site_id, tp, title, note, buyer_store, buyer_id;
    std::int64_t pro_c = 0, total = 0, freight = 0, discount = 0, price = 0, fee = 0;
    std::string currency, pay_tp;
    std::optional<std::string> pay_id, seller;
    domain::OrderState or_st = domain::OrderState::kNW;
    std::string contact_json;
    // Epoch milliseconds; nullopt where the schema's column is NULL.
    std::int64_t ct = 0, lm = 0, expi = 0;
    std::optional<std::int64_t> wt_at, ok_at, fa_at, sp_at, dn_at;
    bool expired = false;               // past expi (whether or not `orderpay expire` ran)
    std::optional<std::int64_t> rf_at;  // fully refunded (RF)
    std::int64_t refunded = 0;          // the sum of the OK refunds, minor units
    std::vector<RefundLine> refunds;    // every refund of the order, oldest first
    // When orderpay confirmed that the provider took the paying slip's payment back (a chargeback:
    // CHARGEBACK_OF), for good: the order is never shipped or refunded through orderpay after it.
    std::optional<std::int64_t> chargeback_at;
    // Read by the operators' views only (OPERATOR_ORDER_COLS): its refund_needed slips, oldest first.
    std::vector<HeldSlip> refund_needed;
};

/// The order `id` of `site`, or nullopt (an id that cannot exist is not looked up).
std::optional<OrderRecord> FindOrder(db::Connection& c, const std::string& site, const std::string& id);
/// The order's site, whatever the site (operator tools).
std::optional<std::string> OrderSite(db::Connection& c, const std::string& id);
std::vector<OrderItem> OrderItems(db::Connection& c, const std::string& order_id);
/// Every slip of the order, oldest first.
std::vector<SlipRow> OrderSlips(db::Connection& c, const std::string& order_id);

/// pay/pay: inserts the new slip and makes it the order's current one, only if the order is
/// still payable and its current slip is still `expected_pay_id` (compare-and-set). On false
/// nothing was written.
bool SwapSlip(db::Connection& c, const NewSlip& slip, const std::optional<std::string>& expected_pay_id);

/// NEW/WAIT -> FAIL; false when the slip was in neither.
bool FailSlip(db::Connection& c, const std::string& slip_id, const std::string& note);
/// Replaced by a newer slip (its provider closed it first).
bool SupersedeSlip(db::Connection& c, const std::string& slip_id, const std::string& note);
/// The provider confirmed a FAIL slip closed and unpaid: reconcile stops asking about it.
void ConfirmClosed(db::Connection& c, const std::string& slip_id);
/// At most one worker per interval asks the provider about an open slip: true for the winner.
bool ClaimQuery(db::Connection& c, const std::string& slip_id, std::int64_t min_interval_ms);
/// A resend claim: the slip's lm before it (`prev_lm`) and the one it wrote (`lm`), as text.
struct ResendClaim {
    std::string slip_id, prev_lm, lm;
};
/// A NEW slip no one has sent for `after_ms` (its sender died), still its order's live slip and
/// the order still payable: the claim of the one caller that may send (or retire) it now.
std::optional<ResendClaim> ClaimResend(db::Connection& c, const std::string& slip_id, std::int64_t after_ms);
/// The claim's holder left the slip as it was (its close failed): its lm is put back, so the next
/// caller claims it at once instead of taking it for one being sent for `after_ms`. A no-op, false,
/// once anything else has claimed or moved the slip on.
bool GiveBackResend(db::Connection& c, const ResendClaim& claim);

/// Open slips older than `min_age_s` (their notification may be lost), least recently asked
/// first, so that with more slips than `limit` successive runs go round all of them.
std::vector<std::string> WaitingSlipsDue(db::Connection& c, int limit, std::int64_t min_age_s = 60);
/// Failed slips whose provider has not confirmed them closed (superseded, expired, failed),
/// least recently asked first.
std::vector<std::string> UnconfirmedFailedSlips(db::Connection& c, int limit);

/// Open slips (NEW/WAIT, not superseded) of orders already paid through another slip, failed
/// and marked superseded (at most `limit`): they can no longer take money for their order, and
/// as failed slips reconcile closes them at their provider.
struct SupersededByPayment {
    std::string slip_id, order_id, paid_slip_id;
};
std::vector<SupersededByPayment> FailSlipsOfPaidOrders(db::Connection& c, int limit);
/// Records that a failed slip was just asked about (it goes to the back of the queue).
void StampQueried(db::Connection& c, const std::string& slip_id);
/// Records, before a void is sent, that the provider may refund a payment on this slip in it;
/// committed at once, so a crash before the answer is recorded leaves the mark (migration 016).
void MarkVoiding(db::Connection& c, const std::string& slip_id);
/// Paid, not reversed slips marked more than `min_age_s` ago: the provider says whether the void
/// gave the payment back.
std::vector<std::string> VoidedPaidSlips(db::Connection& c, int limit, std::int64_t min_age_s);
/// The provider still holds the payment: the slip leaves that queue (a mark younger than
/// `min_age_s` stays, as its void may still be in flight).
bool DropVoiding(db::Connection& c, const std::string& slip_id, std::int64_t min_age_s);
/// The same, only if the slip's OK refunds cover it: whatever the provider says, a void can
/// then have taken nothing back.
bool DropVoidingRefunded(db::Connection& c, const std::string& slip_id, std::int64_t min_age_s);
/// Whether the database records expire's tries (migration 019); a CLI upgraded before `orderpay
/// migrate` expires without them.
bool ExpireMarks(db::Connection& c);
/// Unpaid orders past their expiry, at most `limit`: with marks, those never tried first, then
/// those left open longest ago; without, in expiry order.
std::vector<std::string> OrdersDueToExpire(db::Connection& c, int limit, bool marks);
/// `orderpay expire` could not expire the order this run: it goes behind the others next time.
void MarkExpireTried(db::Connection& c, const std::string& order_id);
std::optional<domain::OrderState> OrderState(db::Connection& c, const std::string& id);
/// The order can still take `slip_id`'s money: NW/WT, not past its expiry, and that slip is its
/// current one (a provider approval on anything else is never completed).
bool OrderPayableNow(db::Connection& c, const std::string& order_id, const std::string& slip_id);

}  // namespace orderpay::store
