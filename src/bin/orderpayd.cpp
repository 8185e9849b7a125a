// orderpayd: the FastCGI responder. Reads the config once, then runs the prefork pool; each
// worker owns one PostgreSQL connection with every statement prepared.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/core/config.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"
#include "orderpay/core/version.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/db/migrations.hpp"
#include "orderpay/fcgi/pool.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/providers/http_client.hpp"
#include "orderpay/providers/registry.hpp"
#include "orderpay/store/statements.hpp"

namespace {

using namespace orderpay;

// An upgrade's new migrations that only add (an index) leave every statement preparable, so a
// worker would serve on the old schema without a word.
void WarnPending(db::Connection& db) {
    try {
        std::vector<std::string> pending =
            db::PendingMigrations(db, db::OrderpayMigrations(), "schema_migrations");
        if (!pending.empty())
            log::Warn("the database lacks ", pending.size(), " migration(s), from ", pending.front(),
                      ": run orderpay migrate");
    } catch (const std::exception& e) {
        log::Warn("could not compare the schema with this build's migrations: ", e.what());
    }
}

class OrderpayApp final : public fcgi::App {
  public:
    explicit OrderpayApp(app::Settings s) : db_(s.db, store::AllStatements()), ctx_(std::move(s), db_) {
        db_.SetSessionSql(ctx_.settings().db_session_sql);
        // Connect before the first accept; a down database only means 503s for now.
        if (db_.Ensure()) WarnPending(db_);
    }
    http::Response Handle(const http::Request& req) override { return handlers::Dispatch(ctx_, req); }

  private:
    db::Connection db_;
    app::Context ctx_;
};

// workers: 1..256, the whole value a number. 0 or "-4" left a pool with no worker (a reload
// retired every old one and started none) while the master looked healthy; GetInt's fallback
// would have read "8x" as the default.
constexpr long kMaxWorkers = 256;
std::optional<int> Workers(const Config& cfg, int fallback) {
    const std::string text = cfg.Get("workers");
    if (text.empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(text.c_str(), &end, 10);
    if (*end || errno || n < 1 || n > kMaxWorkers) {
        log::Error("workers must be a whole number from 1 to ", kMaxWorkers, ", not '", text, "'");
        return std::nullopt;
    }
    return static_cast<int>(n);
}

fcgi::PoolOptions PoolFrom(const Config& cfg) {
    fcgi::PoolOptions o;
    o.name = "orderpayd";
    o.socket_path = cfg.Get("listen", "/run/orderpay/orderpayd.sock");
    o.workers = Workers(cfg, 8).value_or(8);  // checked in main before the pool starts
    o.backlog = static_cast<int>(cfg.GetInt("backlog", 256));
    o.max_body = static_cast<std::size_t>(cfg.GetInt("max_body_bytes", 64 * 1024));
    o.drain_ms = static_cast<int>(cfg.GetInt("drain_timeout_ms", 10000));
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    std::string path = Config::DefaultPath();
    for (int i = 1; i < argc; ++i) {
        if ((!std::strcmp(argv[i], "-c") || !std::strcmp(argv[i], "--config")) && i + 1 < argc) {
            path = argv[++i];
        } else if (!std::strcmp(argv[i], "--version")) {
            std::cout << "orderpayd " << Version() << '\n';
            return 0;
        } else {
            std::cerr
                << "usage: orderpayd [--config FILE] | --version\n"
                   "  FastCGI worker pool; config from $ORDERPAY_CONFIG or /etc/orderpay/orderpay.conf\n";
            return 2;
        }
    }
    std::string err;
    std::optional<Config> cfg = Config::Load(path, err);
    if (!cfg) {
        log::Error(err);
        return 1;
    }
    // log_format: text (default) or json, one object per line with the request's context.
    if (!log::SetFormat(cfg->Get("log_format", "text"))) {
        log::Error("log_format must be text or json, not '", cfg->Get("log_format"), "'");
        return 1;
    }
    if (!Workers(*cfg, 8)) return 1;
    if (std::string e; !app::Settings::DbSessionSql(*cfg, e) || !providers::BreakerPolicyFrom(*cfg, e)) {
        log::Error(e);
        return 1;
    }
    // log_file: append log lines there instead of stderr (which systemd sends to the journal).
    if (std::string file = cfg->Get("log_file"); !file.empty()) {
        int fd = open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0 || dup2(fd, 2) < 0) {
            log::Error("cannot open log_file ", file, ": ", std::strerror(errno));
            return 1;
        }
        close(fd);
    }
    providers::HttpGlobalInit();
    crypto::WarmUp();
    // Mapped before the pool forks, so every worker (and every respawned one) shares it.
    if (!metrics::Init()) log::Warn("metrics: cannot map the shared region; /metrics answers 404");
    // Settings live in a shared holder so SIGHUP can swap them before workers are replaced.
    auto settings = std::make_shared<app::Settings>(app::Settings::From(*cfg));
    fcgi::PoolOptions opts = PoolFrom(*cfg);
    return fcgi::RunPool(
        opts, [settings]() -> std::unique_ptr<fcgi::App> { return std::make_unique<OrderpayApp>(*settings); },
        [settings, path](fcgi::PoolOptions& o) {
            std::string e;
            std::optional<Config> fresh = Config::Load(path, e);
            if (!fresh) {
                log::Error("reload failed, keeping the old config: ", e);
                return;
            }
            const std::optional<int> workers = Workers(*fresh, o.workers);
            std::string bad;
            if (!workers || !app::Settings::DbSessionSql(*fresh, bad) ||
                !providers::BreakerPolicyFrom(*fresh, bad)) {
                if (!bad.empty()) log::Error(bad);
                log::Error("reload refused, keeping the old config and workers");
                return;
            }
            *settings = app::Settings::From(*fresh);
            // Workers forked after this (all of them, one by one) inherit the new format.
            if (!log::SetFormat(fresh->Get("log_format", "text")))
                log::Error("reload: log_format must be text or json; keeping the old one");
            o.workers = *workers;
            o.max_body = static_cast<std::size_t>(fresh->GetInt("max_body_bytes", 64 * 1024));
            log::Info("config reloaded from ", path);
        });
}
