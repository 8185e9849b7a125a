// orderpayd: the FastCGI responder. Reads the config once, then runs the prefork pool; each
// worker owns one PostgreSQL connection with every statement prepared.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/scan_gate.hpp"
#include "orderpay/core/config.hpp"
#include "orderpay/core/config_check.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"
#include "orderpay/core/version.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/db/migrations.hpp"
#include "orderpay/fcgi/pool.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/providers/http_client.hpp"
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
        db_.SetSessionTimeouts(ctx_.settings().db_lock_timeout_ms, ctx_.settings().db_statement_timeout_ms);
        // Connect before the first accept; a down database only means 503s for now.
        if (db_.Ensure()) WarnPending(db_);
    }
    http::Response Handle(const http::Request& req) override { return handlers::Dispatch(ctx_, req); }

  private:
    db::Connection db_;
    app::Context ctx_;
};

fcgi::PoolOptions PoolFrom(const Config& cfg) {
    fcgi::PoolOptions o;
    o.name = "orderpayd";
    o.socket_path = cfg.Get("listen", "/run/orderpay/orderpayd.sock");
    // Every value is in its range (CheckConfig ran first): no cast below truncates.
    o.workers = static_cast<int>(cfg.GetInt("workers", 8));
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
    // Every key before anything starts: a value a key cannot mean stops orderpayd, naming the key
    // (workers 0 left a pool with no worker; "100ms" was read as the default, -1 as no limit).
    if (std::string e = CheckConfig(*cfg, ConfigUser::kDaemon); !e.empty()) {
        log::Error(e);
        return 1;
    }
    log::SetFormat(cfg->Get("log_format", "text"));  // text (default) or json, one object per line
    // log_file: append log lines there instead of stderr (which systemd sends to the journal).
    if (std::string file = cfg->Get("log_file"); !file.empty()) {
        int fd = open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0 || dup2(fd, 2) < 0) {
            log::Error("cannot open log_file ", file, ": ", std::strerror(errno));
            return 1;
        }
        close(fd);
    }
    if (std::string w = UnknownKeysWarning(*cfg); !w.empty()) log::Warn(w);
    providers::HttpGlobalInit();
    crypto::WarmUp();
    // Mapped before the pool forks, so every worker (and every respawned one) shares it.
    if (!metrics::Init()) log::Warn("metrics: cannot map the shared region; /metrics answers 404");
    app::scan_gate::InitShared();
    // Settings live in a shared holder so SIGHUP can swap them before workers are replaced.
    auto settings = std::make_shared<app::Settings>(app::Settings::From(*cfg));
    fcgi::PoolOptions opts = PoolFrom(*cfg);
    return fcgi::RunPool(
        opts, [settings]() -> std::unique_ptr<fcgi::App> { return std::make_unique<OrderpayApp>(*settings); },
        [settings, path](fcgi::PoolOptions& o) {
            std::string e;
            std::optional<Config> fresh = Config::Load(path, e);
            if (!fresh) {
                log::Error("reload failed, keeping the old config and workers: ", e);
                return false;
            }
            // All or nothing: a bad value keeps the whole old config (a bad log_format used to
            // be refused after the other new values were already taken).
            if (std::string bad = CheckConfig(*fresh, ConfigUser::kDaemon); !bad.empty()) {
                log::Error(bad);
                log::Error("reload refused, keeping the old config and workers");
                return false;
            }
            if (std::string w = UnknownKeysWarning(*fresh); !w.empty()) log::Warn(w);
            *settings = app::Settings::From(*fresh);
            // Workers forked after this (all of them, one by one) inherit the new format.
            log::SetFormat(fresh->Get("log_format", "text"));
            const fcgi::PoolOptions fresh_opts = PoolFrom(*fresh);
            o.workers = fresh_opts.workers;
            o.max_body = fresh_opts.max_body;
            o.drain_ms = fresh_opts.drain_ms;
            log::Info("config reloaded from ", path);
            return true;
        });
}
