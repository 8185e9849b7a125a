// CLI commands for the shop's setup: account stores, sites, accounts, tickets, merchants and
// sellers (products: products.cpp). Everything here is an upsert, so setup scripts can be re-run.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "orderpay/cli/cli.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/providers/registry.hpp"
#include "orderpay/store/admin.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/tickets.hpp"

namespace orderpay::cli {

// Prints rows as JSON objects (--json) or as tab-separated lines with a header.
void PrintRows(const db::Result& r, const std::vector<std::string>& cols, bool json) {
    if (json) {
        std::cout << RowsJson(r, cols) << '\n';
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

// The schema's CHECK on setup ids (sql/001_init.sql), said before PostgreSQL says it in its own
// words (review s28-newuser #7). Account ids may hold '@' too.
void CheckId(const std::string& what, const std::string& id, bool at) {
    if (!(at ? domain::IsAccountId(id) : domain::IsSetupId(id)))
        throw Refusal(what + " id must be 1 to 64 characters of A-Z a-z 0-9 _ ." + (at ? " @" : "") + " -");
}

namespace {

// A write naming a store, site or merchant that does not exist: the command was well formed and
// the data says no, so exit 1 with the reason alone (as `site set` of no site, `apikey issue`),
// not a usage error (exit 2) with the whole usage text under it.
int Refuse(const std::string& why) {
    std::cerr << "orderpay: " << why << '\n';
    return 1;
}

// A store named for a site must exist: said so, not as the foreign key's text.
void NeedStore(Env& env, const std::optional<std::string>& store) {
    if (!store) return;
    if (store->empty())
        throw Refusal("--store \"\": a site's account store is not removed; name one (orderpay store list)");
    if (!store::StoreExists(env.db, *store)) throw Refusal("no such store " + *store);
}

int StoreCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3) throw UsageError("store add ID [--name NAME]");
        CheckId("store", a.pos[2]);
        store::UpsertAccountStore(env.db, a.pos[2], a.Flag("name"));
        return 0;
    }
    if (verb == "list") {
        PrintRows(store::ListAccountStores(env.db), {"id", "name"}, a.json);
        return 0;
    }
    throw UsageError("store add|list");
}

int ExpireMinutes(const std::string& text) {
    char* end = nullptr;
    long m = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end || m < 1 || m > 10080) throw UsageError("--expire-minutes 1..10080");
    return static_cast<int>(m);
}

std::string Currency(const std::string& c) {
    if (!domain::CurrencyExponent(c)) throw UsageError("unsupported currency " + c);
    return c;
}

// Where browsers coming back from a provider (PayPal's return) are sent: http(s), printable
// ASCII, as the schema's CHECK says; checked here so the operator reads why. "" is no return page
// (the return is answered 200 JSON), as `account add --openid ""` clears an openid.
std::optional<std::string> ReturnUrl(const std::optional<std::string>& url) {
    if (!url || url->empty()) return url;
    bool ok = (url->starts_with("https://") || url->starts_with("http://")) && url->size() <= 500;
    for (char c : *url) ok = ok && c > ' ' && c < 0x7f;
    if (!ok)
        throw UsageError(
            "--return-url: an http(s) URL of printable ASCII, at most 500 bytes (\"\" for no return page)");
    return url;
}

// `site add` never touches an existing site (a re-run setup script must not reset what an
// operator changed since); `site set` changes exactly the fields it is given.
int SiteCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3)
            throw UsageError(
                "site add ID [--store STORE] [--name N] [--currency CNY] [--expire-minutes 30] [--return-url "
                "URL]");
        CheckId("site", a.pos[2]);
        NeedStore(env, a.Flag("store"));
        store::SiteSetup site{a.pos[2],
                              a.Flag("name").value_or(""),
                              a.Flag("store"),
                              Currency(a.Flag("currency").value_or("CNY")),
                              ExpireMinutes(a.Flag("expire-minutes").value_or("30")),
                              ReturnUrl(a.Flag("return-url"))};
        if (!store::InsertSite(env.db, site)) {
            std::cerr << "orderpay: site " << site.id << " exists already; change it with: orderpay site set "
                      << site.id
                      << " [--name N] [--store S] [--currency C] [--expire-minutes M] [--return-url URL]\n";
            return 1;
        }
        return 0;
    }
    if (verb == "set") {
        if (a.pos.size() < 3)
            throw UsageError(
                "site set ID [--store STORE] [--name N] [--currency C] [--expire-minutes M] [--return-url "
                "URL]");
        std::optional<std::string> currency = a.Flag("currency");
        if (currency) Currency(*currency);
        std::optional<int> minutes;
        if (auto m = a.Flag("expire-minutes")) minutes = ExpireMinutes(*m);
        NeedStore(env, a.Flag("store"));
        const store::SiteUpdate u = store::UpdateSite(env.db, a.pos[2], a.Flag("name"), a.Flag("store"),
                                                      currency, minutes, ReturnUrl(a.Flag("return-url")));
        if (u.updated) {
            // Products re-added in the new currency were kept off sale until now: nothing puts
            // them back on sale by itself (a product the operator withdrew looks the same).
            if (u.off_sale) {
                const std::string first = u.off_sale_ids.substr(0, u.off_sale_ids.find(' '));
                std::cerr << "orderpay: note: " << u.off_sale << " product" << (u.off_sale == 1 ? "" : "s")
                          << " priced in " << *currency << (u.off_sale == 1 ? " is" : " are") << " off sale ("
                          << u.off_sale_ids << (u.off_sale > 5 ? " ..." : "")
                          << "): put each on sale with orderpay product enable ID --site " << a.pos[2]
                          << " (e.g. orderpay product enable " << first << " --site " << a.pos[2] << ")\n";
            }
            return 0;
        }
        if (!u.found) {
            std::cerr << "orderpay: no such site " << a.pos[2] << '\n';
            return 1;
        }
        // A buy is charged in its products' currency, not the site's: relabelling the site would
        // leave it selling in the old one (review s27-newuser #4). Nothing was changed.
        const std::string& site = a.pos[2];
        const std::string example_id = u.example.substr(0, u.example.find(' '));
        std::cerr << "orderpay: site " << site << " still sells " << u.other_currency << " active product"
                  << (u.other_currency == 1 ? "" : "s") << " in another currency than " << *currency
                  << " (e.g. " << u.example
                  << "); nothing changed. An order is charged in its products' currency: first "
                  << "re-add each in " << *currency << " (orderpay product add " << example_id << " --site "
                  << site << " --title T --price P --currency " << *currency
                  << ": it waits off sale until the site sells in " << *currency
                  << "), or withdraw it (orderpay product disable " << example_id << " --site " << site
                  << ")\n";
        return 1;
    }
    if (verb == "list") {
        PrintRows(store::ListSites(env.db),
                  {"id", "name", "account_store", "currency", "expire_minutes", "return_url"}, a.json);
        return 0;
    }
    throw UsageError("site add|set|list");
}

int AccountCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3) throw UsageError("account add ID --store STORE [--name N] [--openid OPENID]");
        const std::string store = a.Need("store");
        CheckId("account", a.pos[2], true);
        if (!store::UpsertAccount(env.db, store, a.pos[2], a.Flag("name"), a.Flag("openid")))
            return Refuse("no such store " + store);
        return 0;
    }
    if (verb == "list") {
        PrintRows(store::ListAccounts(env.db), {"store", "id", "name", "openid"}, a.json);
        return 0;
    }
    throw UsageError("account add|list");
}

// The one account store holding `account` (restricted to --store); nullopt after saying there is
// none. Not a usage error (the command was right; the data says no), as `site set` of no site.
std::optional<std::string> AccountStore(Env& env, const Args& a, const std::string& account) {
    const std::optional<std::string> in_store = a.Flag("store");
    std::vector<std::string> stores = store::AccountStoresOf(env.db, account, in_store);
    if (stores.empty()) {
        std::cerr << "orderpay: no such account " << account << (in_store ? " in store " + *in_store : "")
                  << '\n';
        return std::nullopt;
    }
    if (stores.size() != 1)
        throw Refusal("account " + log::TextEscape(account) + " is in several stores (" + stores[0] + ", " +
                      stores[1] + (stores.size() > 2 ? ", ..." : "") + "): give --store");
    return stores.front();
}

// issue: prints a new random ticket once; only its hash is stored. revoke: ends one ticket (a
// leaked one: they travel in URLs) or every ticket of an account, at once for every worker.
// prune (ticket_prune.cpp): deletes the rows of tickets that ended long ago.
int TicketCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "revoke") {
        std::int64_t n = 0;
        if (a.pos.size() == 3 && !a.Flag("account") && !a.Flag("store")) {
            n = store::EndTicket(env.db, a.pos[2], std::nullopt);
        } else if (a.pos.size() == 2 && a.Flag("account")) {
            const std::string account = a.Need("account");
            std::optional<std::string> in = AccountStore(env, a, account);
            if (!in) return 1;
            n = store::EndAccountTickets(env.db, *in, account);
        } else {
            throw UsageError("ticket revoke TICKET | ticket revoke --account ID [--store STORE]");
        }
        std::cout << "revoked " << n << " tickets\n";
        return 0;
    }
    if (verb == "prune") return TicketPrune(env, a);
    if (verb != "issue")
        throw UsageError(
            "ticket issue --account ID [--store STORE] [--ttl-hours 24] | ticket revoke | ticket prune");
    std::string account = a.Need("account");
    std::optional<std::string> in = AccountStore(env, a, account);
    if (!in) return 1;
    std::string ttl = a.Flag("ttl-hours").value_or("24");
    char* end = nullptr;
    long hours = std::strtol(ttl.c_str(), &end, 10);
    if (ttl.empty() || *end || !store::ValidTicketHours(hours)) throw UsageError("--ttl-hours 1..8784");
    std::cout << store::IssueTicket(env.db, *in, account, int(hours)).ticket << '\n';
    return 0;
}

std::string MerchantUsage() {
    std::string out;
    for (const auto& row : providers::ProviderRows()) {
        std::unique_ptr<providers::Provider> p = row.make(Config());
        out += (out.empty() ? "" : "\n") + std::string(p->MerchantUsage());
    }
    return out;
}

// The provider asks for its own flags; secrets are read from files, paths made absolute.
class CliMerchantInput final : public providers::MerchantInput {
  public:
    explicit CliMerchantInput(const Args& a) : a_(a) {}
    std::optional<std::string> Flag(const std::string& name) const override { return a_.Flag(name); }
    bool Has(const std::string& name) const override { return a_.Has(name); }
    std::string Secret(const std::string& flag) const override {
        const std::string file = a_.Need(flag);  // absent: a usage error
        try {
            return ReadSecret(file);
        } catch (const Refusal& e) {  // a file that is not there, or empty: which flag named it
            throw Refusal("--" + flag + ": " + e.what());
        }
    }
    std::optional<std::string> Path(const std::string& flag) const override {
        std::optional<std::string> v = a_.Flag(flag);
        if (!v) return std::nullopt;
        char* abs = realpath(v->c_str(), nullptr);
        if (!abs) throw Refusal("--" + flag + ": cannot read " + *v + ": " + std::strerror(errno));
        std::string path(abs);
        std::free(abs);
        return path;
    }

  private:
    const Args& a_;
};

int MerchantCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "add") {
        if (a.pos.size() < 3) throw UsageError(MerchantUsage());
        std::string id = a.pos[2];
        CheckId("merchant", id);
        providers::Providers registry(env.cfg);
        std::string provider = a.Need("provider");
        const providers::Provider* p = registry.Find(provider);
        if (!p) throw UsageError("unknown provider " + provider + "\n" + MerchantUsage());
        try {
            providers::Merchant m = p->MakeMerchant(id, CliMerchantInput(a));
            RefuseUnread(a, "merchant add --provider " + provider);  // a flag the provider did not read
            store::UpsertMerchant(env.db, m);
        } catch (const providers::MerchantRefusal& e) {  // the files say no: one line, exit 1
            throw Refusal(e.what());
        } catch (const providers::MerchantError& e) {  // a flag missing, or two that go together
            throw UsageError(std::string(e.what()) + "\n" + std::string(p->MerchantUsage()));
        }
        return 0;
    }
    if (verb == "list") {  // never the key
        PrintRows(store::ListMerchants(env.db), {"id", "provider", "app_id", "mch_id", "sign_type"}, a.json);
        return 0;
    }
    throw UsageError("merchant add|list");
}

int SellerCmd(Env& env, const Args& a) {
    std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    if (verb == "set") {
        // A site's seller for a prefix must be that provider's merchant: a notification is
        // checked against the slip's merchant, and the slip takes the seller's.
        std::string prefix = a.Need("prefix"), merchant = a.Need("merchant");
        std::optional<providers::Merchant> m = store::FindMerchant(env.db, merchant);
        if (!m) return Refuse("no such merchant " + merchant);
        if (m->provider != prefix)
            throw Refusal("merchant " + merchant + " is a " + m->provider + " merchant, not " + prefix);
        const std::string site = a.Need("site");
        if (!store::SetSeller(env.db, site, prefix, merchant)) return Refuse("no such site " + site);
        return 0;
    }
    if (verb == "list") {
        PrintRows(store::ListSellers(env.db), {"site", "prefix", "merchant"}, a.json);
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
    if (group == "product") return Products(env, a);
    if (group == "merchant") return MerchantCmd(env, a);
    if (group == "seller") return SellerCmd(env, a);
    throw UsageError("unknown command " + group);
}

}  // namespace orderpay::cli
