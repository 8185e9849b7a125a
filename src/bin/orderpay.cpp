// orderpay: the operator CLI (migrate, setup, orders, expiry, reconcile, notify verify).
#include <cstring>
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/core/config_check.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/core/version.hpp"
#include "orderpay/db/migrations.hpp"
#include "orderpay/providers/http_client.hpp"
#include "orderpay/store/statements.hpp"

namespace {

// The README's "The operator CLI" block says the same at more length; test_cli checks that every
// flag either names is in both.
constexpr const char* kUsage = R"(usage: orderpay [--config FILE] COMMAND ...
  migrate                                   apply pending SQL migrations
  store add ID [--name N] | store list
  site add ID --store STORE [--name N] [--currency CNY] [--expire-minutes 30] [--return-url URL]
                                            (refuses an existing site)
  site set ID [--store S] [--name N] [--currency C] [--expire-minutes M] [--return-url URL]
                                            (changes only what is given; --return-url "" removes it;
                                            --currency is refused while active products are in another)
  site list
  account add ID --store STORE [--name N] [--openid OPENID] | account list
  ticket issue --account ID [--store STORE] [--ttl-hours 24]      prints a new ticket
  ticket revoke TICKET | ticket revoke --account ID [--store STORE]  ends tickets now: revoked N tickets
  ticket prune [--ended-older-than 7d] [--limit N]
                                            delete tickets that ended (expired or revoked) before then
                                            (expire runs it with ticket.keep_ended_days)
  product add ID --site SITE --title T --price 12.50 [--currency C] [--stock N|unlimited] | product list [--site S]
                                            (again: a new title and price; the count only with --stock;
                                            a disabled product stays disabled; one priced in another
                                            currency than the site's is added, or kept, off sale)
  product set ID --site SITE [--stock N|+N|-N|unlimited] [--price P] [--title T]
                                            (only what is given; +N/-N adds to or takes from what is
                                            left; says each price change in major units)
  product disable ID --site SITE | product enable ID --site SITE     withdraw from sale / sell again
                                            (enable is refused while priced in another currency than the site's)
  merchant add ID --provider wx [--api v2] --app-id A --mch-id M [--sign-type MD5|HMAC-SHA256] --key-file F|-
               [--client-cert-file F --client-key-file F]   (WeChat's API certificate: refunds, reverse)
  merchant add ID --provider wx --api v3 --app-id A --mch-id M --private-key-file F --cert-serial S
               [--cert-file F] --apiv3-key-file K|-
               (--wechatpay-public-key-file P --wechatpay-public-key-id PUB_KEY_ID_... | --platform-certificates | both)
  merchant add ID --provider zfb --app-id A --seller-id PID --app-private-key-file F
               (--alipay-public-key-file F | --app-cert-file F --alipay-cert-file F --alipay-root-cert-file F)
  merchant add ID --provider paypal --client-id C --secret-file F|- --webhook-id W
  merchant list
  seller set --site SITE --prefix wx|zfb|paypal --merchant ID | seller list
  order show ID | order list [--site S] [--state ST] [--refund-needed] [--limit N]
                                            --refund-needed: only orders holding a late or double payment
                                            not yet given back (REFUND-NEEDED and the amount held)
  order ship ID [--site S] | order done ID [--site S]   goods shipped (OK -> SP), done (SP -> DN)
  order done ID [--site S] --charged-back   its payment taken back (a chargeback): OK|SP -> DN
  expire [--limit N]                        fail unpaid orders past expiry, give stock back; prune the
                                            inbox and ended tickets, and say how many of each
  reconcile [--limit N] [--min-age 60]      query waiting and failed slips and unfinished refunds; list what needs attention
  refund ORDER [--amount X] --reason R [--key K] [--despite-conflict]
                                            refund a paid order (all that is left without --amount)
  refund --slip SLIP --reason R [--key K] [--despite-conflict]
                                            refund a refund_needed slip (a late or double payment) in full
  refund list [--site S] [--limit N]        refunds, newest first
  refund finish REFUND ok|fail --note TEXT [--despite-no-answer]
                                            the operator's word on a refund the provider has no record of or
                                            will not answer for (asked first, read-only: its own word wins)
  apikey issue --site S | apikey revoke KEY-or-ID | apikey list [--site S]   keys of the operator API
  notify verify [--site SITE] [--provider wx|zfb|paypal] --body FILE|- [--headers FILE]
                [--webhook-id W] [--cert-file PEM]
  inbox list [--verdict V] [--limit N]      stored notifications, newest first
                                            (V: received, settled, duplicate, ignored, rejected or error)
  inbox show ID [--body-only | --headers-only]  one notification as stored; --body-only writes its body
                                            exactly, to pipe into notify verify --body -
  inbox replay [--older-than 60s] [--verdict received|error] [--limit N]   decide what a dying worker left
  inbox prune [--older-than 30d] [--rejected-older-than 7d] [--limit N]
                                            drop decided (and unverified) notifications that arrived
                                            before then (expire runs it with notify.keep_days and
                                            notify.keep_rejected_days)
  audit [--replay-interval 600] [--expire-grace 600] [--list]  check every invariant; exit 1 on a violation
  sql [NAME]                                the named statements' names, or one's SQL text
--version prints the version. Add --json for machine-readable output. Config: --config, $ORDERPAY_CONFIG, /etc/orderpay/orderpay.conf
)";

// libpq's reason, plainly: a missing role or database, or a server that is down, once read "or
// schema not migrated: run orderpay migrate", which fails the same way (review s27-newuser #5).
// Only a schema the statements cannot use is mended by migrate.
int CannotConnect(const orderpay::db::Connection& conn) {
    if (conn.SchemaTooOld())
        std::cerr << "orderpay: the database's schema is older than this build (" << conn.LastError()
                  << "): run orderpay migrate\n";
    else
        std::cerr << "orderpay: cannot connect to the database: " << conn.LastError() << '\n';
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace orderpay;
    std::string path = Config::DefaultPath();
    int i = 1;
    bool json = false;  // --json is taken before the command as well as after it
    while (i < argc) {
        if (i + 1 < argc && (!std::strcmp(argv[i], "--config") || !std::strcmp(argv[i], "-c"))) {
            path = argv[i + 1];
            i += 2;
        } else if (!std::strcmp(argv[i], "--json")) {
            json = true;
            ++i;
        } else {
            break;
        }
    }
    if (i < argc && !std::strcmp(argv[i], "--version")) {
        std::cout << "orderpay " << Version() << '\n';
        return 0;
    }
    if (i >= argc || !std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
        std::cout << kUsage;
        return i >= argc ? 2 : 0;
    }
    if (!std::strcmp(argv[i], "sql")) {  // needs no config and no database
        try {
            cli::Args args = cli::Parse(argc, argv, i);
            args.json = args.json || json;  // refused below: sql has no JSON, never text instead
            cli::CheckFlags("sql", args);
            return cli::Sql(args);
        } catch (const cli::UsageError& e) {  // as for every other command: exit 2, the usage
            std::cerr << "orderpay: " << e.what() << "\n\n" << kUsage;
            return 2;
        } catch (const std::exception& e) {
            std::cerr << "orderpay: " << e.what() << '\n';
            return 1;
        }
    }
    std::string err;
    std::optional<Config> cfg = Config::Load(path, err);
    if (!cfg) {
        std::cerr << "orderpay: " << err << '\n';
        return 1;
    }
    if (std::string bad = CheckConfig(*cfg, ConfigUser::kCli); !bad.empty()) {
        std::cerr << "orderpay: " << bad << '\n';
        return 1;
    }
    if (std::string w = UnknownKeysWarning(*cfg); !w.empty()) std::cerr << "orderpay: warning: " << w << '\n';
    providers::HttpGlobalInit();
    db::Connection conn(cfg->Get("db", kDefaultDb), store::AllStatements());
    conn.LeaveFailuresToCaller();  // CannotConnect says it, on one plain line
    // The lock timeout, so one locked row costs a timer run that row (expire skips it); not the
    // statement timeout: audit may scan for longer. migrate (below) takes neither.
    conn.SetSessionTimeouts(cfg->GetInt("db.lock_timeout_ms", 2000), 0);
    cli::Env env{*cfg, conn};
    std::string group = argv[i];
    try {
        cli::Args args = cli::Parse(argc, argv, i);
        args.json = args.json || json;
        cli::CheckFlags(group, args);
        if (group == "migrate") {
            // Migrating needs no prepared statements (the tables may not exist yet).
            db::Connection raw(cfg->Get("db", kDefaultDb), {});
            raw.LeaveFailuresToCaller();
            if (!raw.Ensure()) return CannotConnect(raw);
            // CheckConfig above bounded both (an hour, a day).
            db::LockWait wait{static_cast<int>(cfg->GetInt("db.migrate_lock_timeout_ms", 1000)),
                              static_cast<int>(cfg->GetInt("db.migrate_give_up_s", 300)),
                              [](const std::string& line) { std::cerr << "orderpay: " << line << '\n'; }};
            int n = db::Migrate(
                raw, db::OrderpayMigrations(), "schema_migrations",
                [](const std::string& line) { std::cout << line << '\n'; }, wait);
            std::cout << (n ? "migrated" : "schema up to date") << '\n';
            return 0;
        }
        if (!conn.Ensure()) return CannotConnect(conn);
        // After an upgrade whose new migrations only add (an index), every statement still
        // prepares: say so rather than run silently on the old schema.
        if (std::vector<std::string> pending =
                db::PendingMigrations(conn, db::OrderpayMigrations(), "schema_migrations");
            !pending.empty())
            std::cerr << "orderpay: warning: the database lacks " << pending.size() << " migration(s), from "
                      << pending.front() << ": run orderpay migrate\n";
        if (group == "order" || group == "expire") return cli::Orders(env, group, args);
        if (group == "reconcile") return cli::Reconcile(env, args);
        if (group == "refund" || group == "apikey") return cli::Refunds(env, group, args);
        if (group == "notify") return cli::Notify(env, args);
        if (group == "inbox") return cli::Inbox(env, args);
        if (group == "audit") return cli::Audit(env, args);
        return cli::Catalog(env, group, args);
    } catch (const cli::UsageError& e) {
        std::cerr << "orderpay: " << e.what() << "\n\n" << kUsage;
        return 2;
    } catch (const std::exception& e) {  // a cli::Refusal too: one line, no usage
        std::cerr << "orderpay: " << e.what() << '\n';
        return 1;
    }
}
