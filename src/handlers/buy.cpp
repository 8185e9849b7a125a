// pay/buy: validate, price from the catalog, reserve stock, create order + NEW slip in one
// transaction, then send the slip to the provider and answer the order.
#include <ctime>

#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/pricing.hpp"
#include "orderpay/handlers/buy_input.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::handlers {

namespace {

http::Response PricingFailure(const domain::PricingResult& pr) {
    switch (*pr.error) {
        case domain::PricingError::kNoProducts:
            return http::Fail(http::Err::kNilProducts);
        case domain::PricingError::kBadAmount:
            return http::Fail(http::Err::kInvalidAmount, "invalid amount for product " + pr.error_product_id);
        case domain::PricingError::kUnknownProduct:
            return http::Fail(http::Err::kNoSuchObject, "no such product: " + pr.error_product_id);
        case domain::PricingError::kMixedCurrency:
            return http::Fail(http::Err::kInvalidField, "products are priced in different currencies");
        case domain::PricingError::kOverflow:
            return http::Fail(http::Err::kInvalidAmount, "order total too large");
        case domain::PricingError::kTooManyLines:
            return http::Fail(http::Err::kInvalidField, "too many products");
    }
    return http::Fail(http::Err::kInternal);
}

}  // namespace

http::Response Buy(app::Context& ctx, app::Call& call, const http::Request& req) {
    BuyInput in;
    if (auto bad = ParseInput(req, in)) return *bad;
    db::Connection& db = ctx.db();

    domain::PricingResult pr =
        domain::Price(in.lines, [&](const std::string& id) -> std::optional<domain::CatalogItem> {
            db::Result r = db.Exec(store::kProductGet, {call.site.id, id});
            if (r.Rows() == 0 || r.Get(0, "active") != "t") return std::nullopt;
            return domain::CatalogItem{r.Get(0, "id"), r.Get(0, "title"), r.GetInt(0, "price"),
                                       r.Get(0, "currency")};
        });
    if (pr.error) return PricingFailure(pr);
    const domain::PricedOrder& order = *pr.order;

    if (in.pay_tp.empty()) return http::Fail(http::Err::kNilPayTp);
    std::optional<app::PayType> pt = app::ParsePayType(in.pay_tp);
    if (!pt || !ctx.ProviderFor(pt->prefix)) return http::Fail(http::Err::kInvalidPayTp);
    std::optional<providers::Merchant> merchant = store::FindSeller(db, call.site.id, pt->prefix);
    if (!merchant) return http::Fail(http::Err::kInvalidPayTp, "the site has no merchant for " + pt->prefix);
    in.pay.openid = call.buyer->openid;
    in.pay.client_ip = req.remote_addr;
    if (auto bad = app::CheckPayInputs(*pt, in.pay)) return http::Fail(*bad);

    std::string title = !in.title.empty() ? in.title : order.lines.front().title;
    std::string order_id = crypto::RandomId(26), slip_id = crypto::RandomId(26);
    {
        db::Tx tx(db);
        db.Exec(store::kOrderInsert, {order_id,
                                      call.site.id,
                                      in.tp,
                                      title,
                                      in.note,
                                      call.buyer->store_id,
                                      call.buyer->account_id,
                                      order.pro_c,
                                      order.total,
                                      order.freight,
                                      order.discount,
                                      order.price,
                                      order.fee,
                                      order.currency,
                                      pt->full,
                                      merchant->id,
                                      in.contact_json,
                                      req.remote_addr,
                                      call.site.expire_minutes,
                                      slip_id});
        int pos = 0;
        for (const domain::PricedLine& l : order.lines) {
            db.Exec(store::kItemInsert,
                    {order_id, pos++, l.product_id, l.title, l.amount, l.price, l.subtotal});
            db::Result taken = db.Exec(store::kStockTake, {call.site.id, l.product_id, l.amount});
            if (taken.Affected() != 1) {
                return http::Fail(http::Err::kOutOfStore, "not enough stock for " + l.product_id,
                                  "{\"product\":" + http::JsonString(l.product_id) + "}");
            }
        }
        db.Exec(store::kSlipInsert, {slip_id, order_id, call.site.id, pt->full, pt->prefix, merchant->id,
                                     order.fee, order.currency});
        tx.Commit();
    }

    app::SlipToSend s{slip_id,
                      order_id,
                      call.site.id,
                      title,
                      order.fee,
                      order.currency,
                      static_cast<std::int64_t>(std::time(nullptr)) + call.site.expire_minutes * 60};
    std::string message;
    std::optional<http::Err> err = app::SendSlip(ctx, *pt, *merchant, s, in.pay, message);
    std::string json;
    app::LoadOrder(db, call.site.id, order_id, &json);
    if (err) return http::Fail(*err, {}, json);
    return http::Ok(json);
}

}  // namespace orderpay::handlers
