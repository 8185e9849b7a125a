// `orderpay product add|set|list|disable|enable`: the catalogue. Prices are shown in major units,
// as --price takes them: a price copied from a listing in minor units was 100 times too high
// (review s28-newuser #1). `list --json` keeps `price_minor`, which scripts read.
#include "orderpay/store/products.hpp"

#include <iostream>

#include "orderpay/cli/cli.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/admin.hpp"

namespace orderpay::cli {

namespace {

// Digits only, at most 10^15: a count the database takes, never its error text.
std::optional<std::int64_t> Count(const std::string& text) {
    if (text.empty() || text.size() > 15 || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stoll(text);
}

std::int64_t Price(const std::string& text, const std::string& currency) {
    auto exp = domain::CurrencyExponent(currency);
    if (!exp) throw UsageError("unsupported currency " + currency);
    auto price = domain::ParseDecimal(text, *exp);
    if (!price) throw UsageError("bad price (a decimal with at most " + std::to_string(*exp) + " decimals)");
    return *price;
}

// "price of demo-cup: 3.20 -> 350.00 CNY" (both currencies when it changed too), or nothing.
void SayPrice(const std::string& id, std::int64_t was, const std::string& was_cur, std::int64_t now,
              const std::string& cur) {
    if (was == now && was_cur == cur) return;
    std::cout << "price of " << id << ": " << domain::FormatAmount(was, was_cur)
              << (was_cur == cur ? "" : " " + was_cur) << " -> " << domain::FormatAmount(now, cur) << ' '
              << cur << '\n';
}

std::string StockText(const std::optional<std::int64_t>& s) {
    return s ? std::to_string(*s) : "unlimited";
}

int Add(Env& env, const Args& a) {
    if (a.pos.size() < 3)
        throw UsageError("product add ID --site SITE --title T --price 12.50 [--stock N|unlimited]");
    CheckId("product", a.pos[2]);
    std::string site = a.Need("site");
    std::optional<std::string> site_currency = store::SiteCurrency(env.db, site);
    if (!site_currency) throw Refusal("no such site " + site);  // the data says no: exit 1
    std::string currency = a.Flag("currency").value_or(*site_currency);
    // The site's currency is the data's word, not the command's (a row psql wrote): exit 1.
    if (!a.Flag("currency") && !domain::CurrencyExponent(currency))
        throw Refusal("site " + site + " sells in " + currency +
                      ", which orderpay does not price: give --currency");
    store::ProductSetup p{a.pos[2],     site, a.Need("title"), Price(a.Need("price"), currency), currency,
                          std::nullopt, false};
    if (std::optional<std::string> stock = a.Flag("stock")) {
        p.stock_given = true;
        if (*stock != "unlimited") {
            p.stock = Count(*stock);
            if (!p.stock) throw UsageError("--stock: a whole number from 0, or unlimited");
        }
    }
    const store::ProductUpserted done = store::UpsertProduct(env.db, p);
    if (done.price_was) SayPrice(p.id, *done.price_was, done.currency_was, p.price, p.currency);
    // Priced in another currency than the site's: kept off sale, as a buy would charge in it
    // (review s28b-attack #4). How a site moves to another currency, so not refused.
    if (p.currency != done.site_currency)
        std::cerr << "orderpay: note: product " << p.id << " is priced in " << p.currency << ", but site "
                  << site << " sells in " << done.site_currency << ": it is off sale until the site sells in "
                  << p.currency << " (orderpay site set " << site << " --currency " << p.currency
                  << ", then orderpay product enable " << p.id << " --site " << site << ")\n";
    else if (!done.active)
        std::cerr << "orderpay: note: product " << p.id << " is disabled, and stays so: sell it again with "
                  << "orderpay product enable " << p.id << " --site " << site << '\n';
    return 0;
}

// `product set`: a restock, a new price or title alone; --stock +N / -N relative to what is left.
int Set(Env& env, const Args& a) {
    const char* usage = "product set ID --site SITE [--stock N|+N|-N|unlimited] [--price P] [--title T]";
    if (a.pos.size() != 3) throw UsageError(usage);
    store::ProductChange p{
        a.Need("site"), a.pos[2], "", a.Flag("title"), std::nullopt, store::ProductChange::Stock::kKeep, 0};
    const std::optional<std::string> price = a.Flag("price"), stock = a.Flag("stock");
    if (!price && !stock && !p.title) throw UsageError(std::string("nothing to change: ") + usage);
    if (p.title && p.title->empty()) throw UsageError("--title: not empty");
    if (stock) {
        using Stock = store::ProductChange::Stock;
        const bool relative = !stock->empty() && (stock->front() == '+' || stock->front() == '-');
        std::optional<std::int64_t> n = Count(relative ? stock->substr(1) : *stock);
        if (*stock == "unlimited") {
            p.stock_mode = Stock::kUnlimited;
        } else if (!n) {
            throw UsageError(
                "--stock: a whole number from 0 (available now), +N or -N (added to or taken "
                "from what is left), or unlimited");
        } else {
            p.stock_mode = relative ? Stock::kAdd : Stock::kSet;
            p.stock = stock->front() == '-' ? -*n : *n;
        }
    }
    const auto no_product = [&] {
        std::cerr << "orderpay: no such product " << log::TextEscape(p.id) << " in site " << p.site << '\n';
        return 1;
    };
    if (!domain::IsSetupId(p.id)) return no_product();  // not text, or too long: PostgreSQL's error
    std::optional<std::string> currency = store::ProductCurrency(env.db, p.site, p.id);
    if (!currency) return no_product();
    p.currency = *currency;
    if (price && !domain::CurrencyExponent(p.currency))  // the row's currency, not the command's
        throw Refusal("product " + p.id + " is priced in " + p.currency +
                      ", which orderpay does not price: re-add it with --currency");
    if (price) p.price = Price(*price, p.currency);
    const store::ProductChanged r = store::UpdateProduct(env.db, p);
    using Outcome = store::ProductChanged::Outcome;
    switch (r.outcome) {
        case Outcome::kNoProduct:
            return no_product();
        case Outcome::kCurrencyMoved:
            throw Refusal("product " + p.id + " was re-priced in " + r.currency +
                          " meanwhile; nothing changed: run again");
        case Outcome::kUncounted:
            throw Refusal("product " + p.id + " is sold without a count (unlimited), so --stock " + *stock +
                          " has nothing to add to; nothing changed: give --stock N (available now)");
        case Outcome::kBelowZero:
            throw Refusal("product " + p.id + ": only " + StockText(r.stock_was) + " available, --stock " +
                          *stock + " would go below 0; nothing changed");
        case Outcome::kChanged:
            break;
    }
    SayPrice(p.id, r.price_was, r.currency, r.price, r.currency);
    if (r.stock_was != r.stock)
        std::cout << "stock of " << p.id << ": " << StockText(r.stock_was) << " -> " << StockText(r.stock)
                  << '\n';
    return 0;
}

int Activate(Env& env, const Args& a, const std::string& verb) {
    if (a.pos.size() != 3) throw UsageError("product " + verb + " ID --site SITE");
    const std::string site = a.Need("site"), id = a.pos[2];
    const bool active = verb == "enable";
    using Outcome = store::ProductActivation::Outcome;
    const store::ProductActivation r = domain::IsSetupId(id)
                                           ? store::SetProductActive(env.db, site, id, active)
                                           : store::ProductActivation{Outcome::kNoProduct};
    if (r.outcome == Outcome::kNoProduct) {
        std::cerr << "orderpay: no such product " << log::TextEscape(id) << " in site " << site << '\n';
        return 1;
    }
    if (r.outcome == Outcome::kOtherCurrency)  // as `site set --currency` refuses the other way round
        throw Refusal("product " + id + " is priced in " + r.currency + ", but site " + site + " sells in " +
                      r.site_currency + "; nothing changed. An order is charged in its products' currency: " +
                      "first re-add it in " + r.site_currency + " (orderpay product add " + id + " --site " +
                      site + " --title T --price P --currency " + r.site_currency +
                      "), then enable it, or set the site back (orderpay site set " + site + " --currency " +
                      r.currency + ")");
    // Orders already placed are not touched: an unpaid one can still be paid, or expires.
    std::cout << "product " << id << (active ? " on sale" : " withdrawn from sale")
              << (r.outcome == Outcome::kAlready ? " already" : "") << '\n';
    return 0;
}

}  // namespace

int Products(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") return Add(env, a);
    if (verb == "set") return Set(env, a);
    if (verb == "disable" || verb == "enable") return Activate(env, a, verb);
    if (verb == "list") {
        const std::optional<std::string> site = a.Flag("site");
        if (site && !store::SiteCurrency(env.db, *site)) throw Refusal("no such site " + *site);
        const db::Result r = store::ListProducts(env.db, site);
        if (a.json) {  // price_minor as before; price a number in major units, as refund list's amount
            std::cout << '[';
            for (int i = 0; i < r.Rows(); ++i)
                std::cout << (i ? "," : "") << "{\"site\":" << http::JsonString(r.Get(i, 0))
                          << ",\"id\":" << http::JsonString(r.Get(i, 1))
                          << ",\"title\":" << http::JsonString(r.Get(i, 2))
                          << ",\"price_minor\":" << r.Get(i, 3)
                          << ",\"price\":" << domain::FormatAmount(r.GetInt(i, 3), r.Get(i, 4))
                          << ",\"currency\":" << http::JsonString(r.Get(i, 4))
                          << ",\"stock\":" << r.GetOpt(i, 5).value_or("null")
                          << ",\"active\":" << (r.Get(i, 6) == "t" ? "true" : "false") << '}';
            std::cout << "]\n";
            return 0;
        }
        std::cout << "site\tid\ttitle\tprice\tcurrency\tstock\tactive\n";
        for (int i = 0; i < r.Rows(); ++i)
            std::cout << r.Get(i, 0) << '\t' << r.Get(i, 1) << '\t' << r.Get(i, 2) << '\t'
                      << domain::FormatAmount(r.GetInt(i, 3), r.Get(i, 4)) << '\t' << r.Get(i, 4) << '\t'
                      << r.GetOpt(i, 5).value_or("unlimited") << '\t' << r.Get(i, 6) << '\n';
        return 0;
    }
    throw UsageError("product add|set|list|disable|enable");
}

}  // namespace orderpay::cli
