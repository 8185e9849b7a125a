// GET /api/{site}/pay/products[?after=ID][&limit=N] (anyone): what the site sells now, as pay/buy
// prices it, so a shop's pages show the price a buyer is charged rather than a copy that drifts
// from the catalogue (review s28-newuser #10: the demo page showed 3.20 and charged 3.50). No
// ticket: a catalogue is what a shop shows before anyone logs in; nothing of a buyer is in it.
#include "orderpay/domain/ids.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/page_limit.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/catalogue.hpp"

namespace orderpay::handlers {

namespace {

constexpr int kMaxLimit = 1000;

}  // namespace

http::Response Products(app::Context& ctx, app::Call& call, const http::Request& req) {
    std::variant<int, http::Response> asked = PageLimit(req, kMaxLimit, kMaxLimit);
    if (http::Response* bad = std::get_if<http::Response>(&asked)) return std::move(*bad);
    const int limit = std::get<int>(asked);
    const std::string after = req.Arg("after").value_or("");
    if (req.Arg("after") && !domain::IsSetupId(after))
        return http::Fail(http::Err::kBadQuery, "after must be the next cursor of the page before");
    std::vector<store::ProductOnSale> rows = store::ProductsOnSale(ctx.db(), call.site.id, after, limit);
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    w.Key("products");
    w.StartArray();
    for (const store::ProductOnSale& p : rows) {
        const int exp = domain::CurrencyExponent(p.currency).value_or(2);
        w.StartObject();
        w.Key("id");
        w.String(p.id.data(), static_cast<rapidjson::SizeType>(p.id.size()));
        w.Key("title");
        w.String(p.title.data(), static_cast<rapidjson::SizeType>(p.title.size()));
        w.Key("price");
        http::WriteMoney(w, p.price, exp);
        w.Key("currency");
        w.String(p.currency.data(), static_cast<rapidjson::SizeType>(p.currency.size()));
        // How many decimals the currency has (JPY none, CNY two): for showing prices as the
        // provider charges them, not assuming two.
        w.Key("decimals");
        w.Int(exp);
        w.Key("stock");
        if (p.stock) {
            w.Int64(*p.stock);
        } else {
            w.Null();
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("next");
    if (static_cast<int>(rows.size()) == limit) {
        w.String(rows.back().id.data(), static_cast<rapidjson::SizeType>(rows.back().id.size()));
    } else {
        w.Null();
    }
    w.EndObject();
    return http::Ok(buf.GetString());
}

}  // namespace orderpay::handlers
