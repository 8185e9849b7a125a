// CLI commands for the shop's setup: account stores, sites, accounts, tickets, products,
// merchants and sellers. Everything here is an upsert, so setup scripts can be re-run.
#include <cstdlib>
#include <iostream>

#include "orderpay/cli/cli.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/alipay/client.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::cli {

namespace {

using http::JsonString;

// Prints rows as JSON objects (--json) or as tab-separated lines with a header.
void PrintRows(const db::Result& r, const std::vector<std::string>& cols, bool json) {
    if (json) {
        std::cout << '[';
        for (int i = 0; i < r.Rows(); ++i) {
            std::cout << (i ? "," : "") << '{';
            for (std::size_t c = 0; c < cols.size(); ++c) {
                std::cout << (c ? "," : "") << JsonString(cols[c]) << ':';
                auto v = r.GetOpt(i, static_cast<int>(c));
                std::cout << (v ? JsonString(*v) : "null");
            }
            std::cout << '}';
        }
        std::cout << "]\n";
        return;
    }
    for (std::size_t c = 0; c < cols.size(); ++c) std::cout << (c ? "\t" : "") << cols[c];
    std::cout << '\n';
    for (int i = 0; i < r.Rows(); ++i) {
        for (std::size_t c = 0; c < cols.size(); ++c)
            std::cout << (c ? "\t" : "") << r.GetOpt(i, int(c)).value_or("-");
        std::cout << '\n';
    }
}

int StoreCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3) throw UsageError("store add ID [--name NAME]");
        env.db.Query(
            "INSERT INTO account_stores (id, name) VALUES ($1, $2) "
            "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
            {a.pos[2], a.Flag("name").value_or("")});
        return 0;
    }
    if (verb == "list") {
        PrintRows(env.db.Query("SELECT id, name FROM account_stores ORDER BY id", {}), {"id", "name"},
                  a.json);
        return 0;
    }
    throw UsageError("store add|list");
}

int SiteCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3)
            throw UsageError("site add ID [--store STORE] [--name N] [--currency CNY] [--expire-minutes 30]");
        std::string currency = a.Flag("currency").value_or("CNY");
        if (!domain::CurrencyExponent(currency)) throw UsageError("unsupported currency " + currency);
        std::optional<std::string> store = a.Flag("store");
        env.db.Query(
            "INSERT INTO sites (id, name, account_store, currency, expire_minutes) VALUES ($1, $2, $3, $4, "
            "$5) "
            "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, account_store = EXCLUDED.account_store, "
            "currency = EXCLUDED.currency, expire_minutes = EXCLUDED.expire_minutes",
            {a.pos[2], a.Flag("name").value_or(""), store, currency,
             a.Flag("expire-minutes").value_or("30")});
        return 0;
    }
    if (verb == "list") {
        PrintRows(env.db.Query(
                      "SELECT id, name, account_store, currency, expire_minutes FROM sites ORDER BY id", {}),
                  {"id", "name", "account_store", "currency", "expire_minutes"}, a.json);
        return 0;
    }
    throw UsageError("site add|list");
}

int AccountCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3) throw UsageError("account add ID --store STORE [--name N] [--openid OPENID]");
        env.db.Query(
            "INSERT INTO accounts (id, store_id, name, wx_openid) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (store_id, id) DO UPDATE SET name = EXCLUDED.name, wx_openid = EXCLUDED.wx_openid",
            {a.pos[2], a.Need("store"), a.Flag("name").value_or(""), a.Flag("openid")});
        return 0;
    }
    if (verb == "list") {
        PrintRows(
            env.db.Query("SELECT store_id, id, name, wx_openid FROM accounts ORDER BY store_id, id", {}),
            {"store", "id", "name", "openid"}, a.json);
        return 0;
    }
    throw UsageError("account add|list");
}

// Prints a new random ticket once; only its hash is stored.
int TicketCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb != "issue") throw UsageError("ticket issue --account ID [--store STORE] [--ttl-hours 24]");
    std::string account = a.Need("account");
    std::optional<std::string> store = a.Flag("store");
    db::Result r =
        env.db.Query("SELECT store_id FROM accounts WHERE id = $1 AND ($2::text IS NULL OR store_id = $2)",
                     {account, store});
    if (r.Rows() != 1)
        throw UsageError(r.Rows() ? "account id is in several stores: give --store" : "no such account");
    std::string ticket = crypto::RandomToken(24);
    env.db.Query(
        "INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at) "
        "VALUES (decode($1, 'hex'), $2, $3, now() + make_interval(hours => $4::int))",
        {store::TicketHash(ticket), r.Get(0, 0), account, a.Flag("ttl-hours").value_or("24")});
    std::cout << ticket << '\n';
    return 0;
}

int ProductCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3)
            throw UsageError("product add ID --site SITE --title T --price 12.50 [--stock N]");
        std::string site = a.Need("site");
        db::Result s = env.db.Query("SELECT currency FROM sites WHERE id = $1", {site});
        if (s.Rows() != 1) throw UsageError("no such site " + site);
        std::string currency = a.Flag("currency").value_or(s.Get(0, 0));
        auto exp = domain::CurrencyExponent(currency);
        if (!exp) throw UsageError("unsupported currency " + currency);
        auto price = domain::ParseDecimal(a.Need("price"), *exp);
        if (!price)
            throw UsageError("bad price (a decimal with at most " + std::to_string(*exp) + " decimals)");
        env.db.Query(
            "INSERT INTO products (id, site_id, title, price, currency, stock) VALUES ($1, $2, $3, $4, $5, "
            "$6) "
            "ON CONFLICT (site_id, id) DO UPDATE SET title = EXCLUDED.title, price = EXCLUDED.price, "
            "currency = EXCLUDED.currency, stock = EXCLUDED.stock, active = true, lm = now()",
            {a.pos[2], site, a.Need("title"), *price, currency, a.Flag("stock")});
        return 0;
    }
    if (verb == "list") {
        PrintRows(env.db.Query("SELECT site_id, id, title, price, currency, stock, active FROM products "
                               "WHERE $1::text IS NULL OR site_id = $1 ORDER BY site_id, id",
                               {a.Flag("site")}),
                  {"site", "id", "title", "price_minor", "currency", "stock", "active"}, a.json);
        return 0;
    }
    throw UsageError("product add|list");
}

constexpr const char* kMerchantUsage =
    "merchant add ID --provider wx --app-id A --mch-id M [--sign-type MD5|HMAC-SHA256] --key-file F|-\n"
    "merchant add ID --provider zfb --app-id A --seller-id PID --app-private-key-file F\n"
    "             (--alipay-public-key-file F | --app-cert-file F --alipay-cert-file F "
    "--alipay-root-cert-file F)";

void UpsertMerchant(Env& env, const std::string& id, const std::string& provider, const std::string& app_id,
                    const std::string& mch_id, const std::string& sign_type, const std::string& key,
                    const std::string& options) {
    env.db.Query(
        "INSERT INTO merchants (id, provider, app_id, mch_id, sign_type, api_key, options) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO UPDATE SET provider = "
        "EXCLUDED.provider, "
        "app_id = EXCLUDED.app_id, mch_id = EXCLUDED.mch_id, sign_type = EXCLUDED.sign_type, "
        "api_key = EXCLUDED.api_key, options = EXCLUDED.options",
        {id, provider, app_id, mch_id, sign_type, key, options});
}

// Alipay keys stay in their PEM files (the merchant's options name them); the files are checked
// here, with the same loader the service uses, so a bad path fails now rather than at payment.
void AddAlipayMerchant(Env& env, const Args& a, const std::string& id) {
    std::string options = "{";
    auto add = [&](const char* flag, const char* key) {
        std::optional<std::string> v = a.Flag(flag);
        if (!v) return false;
        char* abs = realpath(v->c_str(), nullptr);
        if (!abs) throw UsageError(std::string("--") + flag + ": cannot resolve " + *v);
        std::string path(abs);
        std::free(abs);
        options +=
            std::string(options.size() > 1 ? "," : "") + http::JsonString(key) + ":" + http::JsonString(path);
        return true;
    };
    if (!add("app-private-key-file", "app_private_key_file"))
        throw UsageError("missing --app-private-key-file");
    bool cert = add("alipay-cert-file", "alipay_cert_file");
    if (cert) {
        if (!add("app-cert-file", "app_cert_file") || !add("alipay-root-cert-file", "alipay_root_cert_file"))
            throw UsageError(
                "certificate mode needs --app-cert-file, --alipay-cert-file and --alipay-root-cert-file");
    } else if (!add("alipay-public-key-file", "alipay_public_key_file")) {
        throw UsageError("missing --alipay-public-key-file (or the three certificate files)");
    }
    options += "}";
    std::string error;
    providers::Merchant m{id, "zfb", a.Need("app-id"), a.Need("seller-id"), "RSA2", "", options};
    if (!alipay::LoadKeys(m, error)) throw UsageError(error);
    UpsertMerchant(env, id, "zfb", m.app_id, m.mch_id, "RSA2", "", options);
}

int MerchantCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3) throw UsageError(kMerchantUsage);
        std::string provider = a.Need("provider");
        if (provider == "zfb") {
            AddAlipayMerchant(env, a, a.pos[2]);
            return 0;
        }
        if (provider != "wx") throw UsageError("provider " + provider + " is not supported yet (wx, zfb)");
        std::string sign_type = a.Flag("sign-type").value_or("MD5");
        if (sign_type != "MD5" && sign_type != "HMAC-SHA256")
            throw UsageError("--sign-type MD5 or HMAC-SHA256");
        UpsertMerchant(env, a.pos[2], provider, a.Need("app-id"), a.Need("mch-id"), sign_type,
                       ReadSecret(a.Need("key-file")), "{}");
        return 0;
    }
    if (verb == "list") {  // never the key
        PrintRows(
            env.db.Query("SELECT id, provider, app_id, mch_id, sign_type FROM merchants ORDER BY id", {}),
            {"id", "provider", "app_id", "mch_id", "sign_type"}, a.json);
        return 0;
    }
    throw UsageError("merchant add|list");
}

int SellerCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "set") {
        env.db.Query(
            "INSERT INTO site_sellers (site_id, prefix, merchant_id) VALUES ($1, $2, $3) "
            "ON CONFLICT (site_id, prefix) DO UPDATE SET merchant_id = EXCLUDED.merchant_id",
            {a.Need("site"), a.Need("prefix"), a.Need("merchant")});
        return 0;
    }
    if (verb == "list") {
        PrintRows(env.db.Query("SELECT site_id, prefix, merchant_id FROM site_sellers ORDER BY 1, 2", {}),
                  {"site", "prefix", "merchant"}, a.json);
        return 0;
    }
    throw UsageError("seller set --site S --prefix wx --merchant M | seller list");
}

}  // namespace

int Catalog(Env& env, const std::string& group, const Args& a) {
    if (group == "store") return StoreCmd(env, a);
    if (group == "site") return SiteCmd(env, a);
    if (group == "account") return AccountCmd(env, a);
    if (group == "ticket") return TicketCmd(env, a);
    if (group == "product") return ProductCmd(env, a);
    if (group == "merchant") return MerchantCmd(env, a);
    if (group == "seller") return SellerCmd(env, a);
    throw UsageError("unknown command " + group);
}

}  // namespace orderpay::cli
