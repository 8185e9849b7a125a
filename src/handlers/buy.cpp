// pay/buy: validate, price from the catalog, reserve stock, create order + NEW slip in one
// transaction, then send the slip to the provider and answer the order.
#include <cctype>

#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/app/resend.hpp"
#include "orderpay/app/scan_gate.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/pricing.hpp"
#include "orderpay/handlers/buy_input.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/buy_context.hpp"
#include "orderpay/store/check_view.hpp"
#include "orderpay/store/orders.hpp"

namespace orderpay::handlers {

namespace {

// A product the catalogue does not sell, whether the read found none or the write (028) found it
// withdrawn or re-priced meanwhile: one answer for both.
http::Response NoSuchProduct(const std::string& id) {
    return http::Fail(http::Err::kNoSuchObject, "no such product: " + id);
}

http::Response PricingFailure(const domain::PricingResult& pr) {
    switch (*pr.error) {
        case domain::PricingError::kNoProducts:
            return http::Fail(http::Err::kNilProducts);
        case domain::PricingError::kBadAmount:
            return http::Fail(http::Err::kInvalidAmount, "invalid amount for product " + pr.error_product_id);
        case domain::PricingError::kUnknownProduct:
            return NoSuchProduct(pr.error_product_id);
        case domain::PricingError::kMixedCurrency:
            return http::Fail(http::Err::kInvalidField, "products are priced in different currencies");
        case domain::PricingError::kOverflow:
            return http::Fail(http::Err::kInvalidAmount, "order total too large");
        case domain::PricingError::kTooManyLines:
            return http::Fail(http::Err::kInvalidField, "too many products");
    }
    return http::Fail(http::Err::kInternal);
}

// A client-chosen key: printable, short, and safe to store and log.
bool ValidIdemKey(const std::string& k) {
    if (k.empty() || k.size() > 64) return false;
    for (char ch : k)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != ':' && ch != '-')
            return false;
    return true;
}

// The order an earlier request with this key made: the same body gets it again (no second
// order); another body is a client mistake. Its slip is sent from here only if that request
// ended before sending it (app/resend.hpp): otherwise there is no second provider call.
http::Response Repeat(app::Context& ctx, const std::string& site, const store::IdemOrder& prev,
                      const std::string& body_hash, const app::PayInputs& pay) {
    if (prev.body_hash_hex != body_hash) return http::Fail(http::Err::kIdemMismatch);
    std::optional<store::OrderView> v = store::LoadOrderView(ctx.db(), site, prev.order_id);
    if (!v) return http::Fail(http::Err::kInternal);
    if (v->slip)
        if (std::optional<app::Resent> r = app::ResendUnsent(ctx, v->order, *v->slip, pay))
            return r->err ? http::Fail(*r->err, {}, r->order_json) : http::Ok(r->order_json);
    return http::Ok(app::RenderOrder(v->order, v->items, v->slip));
}

}  // namespace

http::Response Buy(app::Context& ctx, app::Call& call, const http::Request& req) {
    // Dispatch hands over the site id only: site, ticket, seller, products and an earlier
    // order under the same key are read here in one statement, and their errors answered in
    // the order every authenticated route uses (dispatch.cpp), before the body's.
    BuyInput in;
    std::optional<http::Response> bad_body = ParseInput(req, in);
    std::optional<std::string> key = req.Header("HTTP_IDEMPOTENCY_KEY");
    // A header and a field naming different keys: a retry that sends only one of them would
    // buy a second time, so neither is taken.
    const bool keys_differ = key && in.idempotency_key && *key != *in.idempotency_key;
    // The worker joins a header sent twice with ", " (RFC 9110), which no valid key holds.
    const bool header_twice = key && key->find(", ") != std::string::npos;
    if (!key) key = in.idempotency_key;
    const bool key_ok = !keys_differ && (!key || ValidIdemKey(*key));
    std::optional<app::PayType> pt = bad_body ? std::nullopt : app::ParsePayType(in.pay_tp);
    std::vector<std::string> ids;
    if (!bad_body)
        for (const domain::LineRequest& l : in.lines) ids.push_back(l.product_id);
    const std::string ticket = req.Arg("ticket").value_or("");
    db::Connection& db = ctx.db();
    store::BuyContext bc = store::LoadBuyContext(db, call.site.id, ticket, pt ? pt->prefix : std::string(),
                                                 ids, key && key_ok ? *key : std::string());
    if (!bc.site) return http::Fail(http::Err::kNoSuchSite);
    call.site = std::move(*bc.site);
    if (!call.site.account_store) return http::Fail(http::Err::kNilAccounts);
    if (ticket.empty()) return http::Fail(http::Err::kNoLogin, "ticket missing");
    if (!bc.buyer) return http::Fail(http::Err::kNoLogin, "ticket unknown or expired");
    if (bc.buyer->store_id != *call.site.account_store) return http::Fail(http::Err::kNilBuyer);
    call.buyer = std::move(bc.buyer);
    if (bad_body) return *bad_body;
    in.pay.openid = call.buyer->openid;
    in.pay.client_ip = req.remote_addr;

    const std::string body_hash = crypto::HexLower(crypto::Sha256(req.body));
    if (key) {
        if (keys_differ)
            return http::Fail(http::Err::kInvalidField,
                              "Idempotency-Key header and idempotency_key field differ");
        if (!key_ok)
            return http::Fail(http::Err::kInvalidField,
                              header_twice ? "Idempotency-Key sent more than once: send it once"
                                           : "Idempotency-Key: 1-64 of A-Z a-z 0-9 _ . : -");
        if (bc.idem) return Repeat(ctx, call.site.id, *bc.idem, body_hash, in.pay);
    }

    domain::PricingResult pr =
        domain::Price(in.lines, [&](const std::string& id) -> std::optional<domain::CatalogItem> {
            auto p = bc.products.find(id);
            if (p == bc.products.end()) return std::nullopt;
            return domain::CatalogItem{p->second.id, p->second.title, p->second.price, p->second.currency};
        });
    if (pr.error) return PricingFailure(pr);
    const domain::PricedOrder& order = *pr.order;

    if (in.pay_tp.empty()) return http::Fail(http::Err::kNilPayTp);
    if (!pt || !ctx.ProviderFor(pt->prefix)) return http::Fail(http::Err::kInvalidPayTp);
    if (!bc.seller) return http::Fail(http::Err::kInvalidPayTp, "the site has no merchant for " + pt->prefix);
    const providers::Merchant* merchant = &*bc.seller;
    if (auto bad = app::CheckPayInputs(*pt, in.pay)) return http::Fail(bad->err, bad->why);
    // The provider's limits before anything is written: an order it must refuse is never created.
    if (auto refused = app::CheckCharge(ctx, *pt, order.fee, order.currency))
        return http::Fail(refused->err, refused->why);
    // Before anything is written or sent: a scan refused here leaves no order and no trade.
    const bool scan = pt->kind == providers::PayKind::kScan;
    std::optional<app::scan_gate::Pass> place =
        scan ? app::scan_gate::Pass::TryTake(ctx.settings().scan_max_waiting) : std::nullopt;
    if (scan && !place) return http::Fail(http::Err::kScanBusy);

    store::NewOrder o;
    o.id = crypto::RandomId(26);
    o.site_id = call.site.id;
    o.tp = in.tp;
    o.title = !in.title.empty() ? in.title : order.lines.front().title;
    o.note = in.note;
    o.buyer_store = call.buyer->store_id;
    o.buyer_id = call.buyer->account_id;
    o.pro_c = order.pro_c;
    o.total = order.total;
    o.freight = order.freight;
    o.discount = order.discount;
    o.price = order.price;
    o.fee = order.fee;
    o.currency = order.currency;
    o.pay_tp = pt->full;
    o.seller = merchant->id;
    o.contact_json = in.contact_json;
    o.client_ip = req.remote_addr;
    o.expire_minutes = call.site.expire_minutes;
    for (const domain::PricedLine& l : order.lines)
        o.lines.push_back({l.product_id, l.title, l.amount, l.price, l.subtotal});
    if (key) {
        o.idem_key = *key;
        o.idem_hash_hex = body_hash;
    }
    store::NewSlip slip{crypto::RandomId(26), o.id,         call.site.id, pt->full,
                        pt->prefix,           merchant->id, order.fee,    order.currency};
    store::CreateOrderResult created = store::CreateOrder(db, o, slip);
    if (created.key_taken) {
        // A concurrent request with the same key committed first: answer its order.
        auto prev =
            store::FindOrderByIdemKey(db, call.site.id, call.buyer->store_id, call.buyer->account_id, *key);
        return prev ? Repeat(ctx, call.site.id, *prev, body_hash, in.pay) : http::Fail(http::Err::kInternal);
    }
    if (!created.not_on_sale.empty()) return NoSuchProduct(created.not_on_sale);
    if (!created.ok) {
        return http::Fail(http::Err::kOutOfStore, "not enough stock for " + created.out_of_stock,
                          "{\"product\":" + http::JsonString(created.out_of_stock) + "}");
    }

    log::SetOrder(o.id);
    log::SetSlip(slip.id);
    log::SetProvider(pt->prefix);
    // The code expires with the order, by the clock that wrote the order's expiry and that the
    // expiry timer reads (the database's): a worker's clock ahead of it let a code outlive its order.
    app::SlipToSend s{slip.id,   o.id,           call.site.id,          o.title,
                      order.fee, order.currency, created.expi_ms / 1000};
    app::SlipAnswer a = app::SendSlip(ctx, *pt, *merchant, s, in.pay);
    // Paid meanwhile (a pay/pay raced the scan's poll): the paid order, or the till would ask
    // the buyer to pay a second time.
    if (a.err && !a.paid_meanwhile) return http::Fail(*a.err, a.msg, a.order_json);
    return http::Ok(a.order_json);
}

}  // namespace orderpay::handlers
