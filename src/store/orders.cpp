// Order and slip use cases. Stock is always taken and given back in product-id order, and a
// transaction that still meets a deadlock or serialization failure is run again, a few times.
#include "orderpay/store/orders.hpp"

#include "orderpay/core/log.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/store/retry.hpp"
#include "orderpay/store/statements.hpp"
#include "store/parse.hpp"

namespace orderpay::store {

CreateOrderResult CreateOrder(db::Connection& c, const NewOrder& o, const NewSlip& slip) {
    // One statement (orderpay_create_order, migration 009): one round trip and one transaction.
    // It takes stock in product-id order itself, whatever order the client listed them in, and
    // (028) refuses a product no longer on sale at the line's price and currency (OP003).
    std::vector<std::string> products, titles;
    std::vector<std::int64_t> amounts, prices, subtotals;
    for (const NewLine& l : o.lines) {
        products.push_back(l.product_id);
        titles.push_back(l.title);
        amounts.push_back(l.amount);
        prices.push_back(l.price);
        subtotals.push_back(l.subtotal);
    }
    const std::vector<db::Param> params{o.id,
                                        o.site_id,
                                        o.tp,
                                        o.title,
                                        o.note,
                                        o.buyer_store,
                                        o.buyer_id,
                                        o.pro_c,
                                        o.total,
                                        o.freight,
                                        o.discount,
                                        o.price,
                                        o.fee,
                                        o.currency,
                                        o.pay_tp,
                                        o.seller,
                                        o.contact_json,
                                        o.client_ip,
                                        o.expire_minutes,
                                        o.idem_key ? db::Param(*o.idem_key) : db::Param(std::nullopt),
                                        o.idem_key ? db::Param(o.idem_hash_hex) : db::Param(std::nullopt),
                                        slip.id,
                                        slip.provider,
                                        slip.merchant_id,
                                        TextArray(products),
                                        TextArray(titles),
                                        IntArray(amounts),
                                        IntArray(prices),
                                        IntArray(subtotals)};
    return RetryTransient<CreateOrderResult>([&] {
        CreateOrderResult res;
        try {
            res.expi_ms = c.Exec(kOrderCreate, params).GetInt(0, "expi");
        } catch (const db::Error& e) {
            if (e.sqlstate == "OP001") {
                res.out_of_stock = e.primary;
                return res;
            }
            if (e.sqlstate == "OP003") {
                res.not_on_sale = e.primary;
                return res;
            }
            // Another request with the same key committed first: it owns the key.
            if (e.sqlstate != "23505" || !o.idem_key) throw;
            res.key_taken = true;
            return res;
        }
        res.ok = true;
        return res;
    });
}

std::optional<IdemOrder> FindOrderByIdemKey(db::Connection& c, const std::string& site,
                                            const std::string& store, const std::string& buyer,
                                            const std::string& key) {
    db::Result r = c.Exec(kOrderByIdemKey, {site, store, buyer, key});
    if (r.Rows() == 0) return std::nullopt;
    return IdemOrder{r.Get(0, "id"), r.Get(0, "idem_hash")};
}

std::optional<OrderRecord> FindOrder(db::Connection& c, const std::string& site, const std::string& id) {
    if (!domain::IsOrderId(id)) return std::nullopt;
    db::Result r = c.Exec(kOrderGet, {site, id});
    if (r.Rows() == 0) return std::nullopt;
    return OrderFrom(r, 0);
}

std::optional<std::string> OrderSite(db::Connection& c, const std::string& id) {
    if (!domain::IsOrderId(id)) return std::nullopt;
    db::Result r = c.Exec(kOrderSite, {id});
    if (r.Rows() == 0) return std::nullopt;
    return r.Get(0, 0);
}

std::vector<OrderItem> OrderItems(db::Connection& c, const std::string& order_id) {
    db::Result r = c.Exec(kItemsGet, {order_id});
    std::vector<OrderItem> out;
    for (int i = 0; i < r.Rows(); ++i)
        out.push_back({r.Get(i, "product_id"), r.Get(i, "title"), r.GetInt(i, "amount"), r.GetInt(i, "price"),
                       r.GetInt(i, "subtotal")});
    return out;
}

bool SwapSlip(db::Connection& c, const NewSlip& s, const std::optional<std::string>& expected_pay_id) {
    db::Tx tx(c);
    c.Exec(kSlipInsert,
           {s.id, s.order_id, s.site_id, s.pay_tp, s.provider, s.merchant_id, s.amount, s.currency});
    db::Result swapped = c.Exec(kOrderSetPayTp, {s.order_id, s.id, s.pay_tp, s.merchant_id, expected_pay_id});
    if (swapped.Affected() != 1) return false;  // the destructor rolls the new slip back
    tx.Commit();
    return true;
}

bool FailSlip(db::Connection& c, const std::string& slip_id, const std::string& note) {
    return c.Exec(kSlipFail, {slip_id, http::TextOrEscaped(note, 2000)}).Affected() == 1;
}

bool SupersedeSlip(db::Connection& c, const std::string& slip_id, const std::string& note) {
    return c.Exec(kSlipSupersede, {slip_id, http::TextOrEscaped(note, 2000)}).Affected() == 1;
}

void ConfirmClosed(db::Connection& c, const std::string& slip_id) {
    c.Exec(kSlipConfirmClosed, {slip_id});
}

bool ClaimQuery(db::Connection& c, const std::string& slip_id, std::int64_t min_interval_ms) {
    return c.Exec(kSlipClaimQuery, {slip_id, min_interval_ms}).Affected() == 1;
}

std::optional<ResendClaim> ClaimResend(db::Connection& c, const std::string& slip_id, std::int64_t after_ms) {
    db::Result r = c.Exec(kSlipClaimResend, {slip_id, after_ms});
    if (r.Rows() != 1) return std::nullopt;
    return ResendClaim{r.Get(0, "id"), r.Get(0, "prev_lm"), r.Get(0, "lm")};
}

bool GiveBackResend(db::Connection& c, const ResendClaim& claim) {
    return c.Exec(kSlipGiveBackResend, {claim.slip_id, claim.prev_lm, claim.lm}).Affected() == 1;
}

namespace {

std::vector<std::string> Ids(const db::Result& r) {
    std::vector<std::string> out;
    for (int i = 0; i < r.Rows(); ++i) out.push_back(r.Get(i, 0));
    return out;
}

}  // namespace

std::vector<std::string> WaitingSlipsDue(db::Connection& c, int limit, std::int64_t min_age_s) {
    return Ids(c.Exec(kSlipsWaitingDue, {limit, min_age_s}));
}

std::vector<SupersededByPayment> FailSlipsOfPaidOrders(db::Connection& c, int limit) {
    db::Result r = c.Exec(kSlipsOfPaidOrdersFail, {limit});
    std::vector<SupersededByPayment> out;
    for (int i = 0; i < r.Rows(); ++i) out.push_back({r.Get(i, 0), r.Get(i, 1), r.Get(i, 2)});
    return out;
}

std::vector<std::string> UnconfirmedFailedSlips(db::Connection& c, int limit) {
    return Ids(c.Exec(kSlipsUnconfirmed, {limit}));
}

void StampQueried(db::Connection& c, const std::string& slip_id) {
    c.Exec(kSlipStampQueried, {slip_id});
}

void MarkVoiding(db::Connection& c, const std::string& slip_id) {
    c.Exec(kSlipMarkVoiding, {slip_id});
}

std::vector<std::string> VoidedPaidSlips(db::Connection& c, int limit, std::int64_t min_age_s) {
    return Ids(c.Exec(kSlipsVoidedPaid, {limit, min_age_s}));
}

bool DropVoiding(db::Connection& c, const std::string& slip_id, std::int64_t min_age_s) {
    return c.Exec(kSlipVoidingDrop, {slip_id, min_age_s}).Affected() == 1;
}

bool DropVoidingRefunded(db::Connection& c, const std::string& slip_id, std::int64_t min_age_s) {
    return c.Exec(kSlipVoidingDropRefunded, {slip_id, min_age_s}).Affected() == 1;
}

bool ExpireMarks(db::Connection& c) {
    return c.Query(kOrdersHaveExpireTried.sql, {}).Rows() == 1;
}

std::vector<std::string> OrdersDueToExpire(db::Connection& c, int limit, bool marks) {
    if (!marks) return Ids(c.Query(kOrderExpireDueUnmarked.sql, {limit}));
    // Two statements, not a UNION ALL under one LIMIT: nothing in SQL keeps a union's rows in
    // branch order, and the never-tried orders must come first.
    std::vector<std::string> ids = Ids(c.Query(kOrderExpireDue.sql, {limit}));
    const int left = limit - static_cast<int>(ids.size());
    if (left > 0)
        for (std::string& id : Ids(c.Query(kOrderExpireRetry.sql, {left}))) ids.push_back(std::move(id));
    return ids;
}

void MarkExpireTried(db::Connection& c, const std::string& order_id) {
    c.Query(kOrderExpireTried.sql, {order_id});
}

std::optional<domain::OrderState> OrderState(db::Connection& c, const std::string& id) {
    db::Result r = c.Exec(kOrderState, {id});
    if (r.Rows() == 0) return std::nullopt;
    return domain::ParseOrderState(r.Get(0, 0));
}

bool OrderPayableNow(db::Connection& c, const std::string& order_id, const std::string& slip_id) {
    return c.Exec(kOrderPayableNow, {order_id, slip_id}).Rows() == 1;
}

}  // namespace orderpay::store
