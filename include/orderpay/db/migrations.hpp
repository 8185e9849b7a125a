// Numbered SQL migrations (sql/NNN_*.sql, embedded at build time) and the runner that applies them.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::db {

struct Migration {
    const char* name;  // file name, e.g. "001_init.sql"; its order is the apply order
    const char* sql;
};

std::span<const Migration> OrderpayMigrations();
std::span<const Migration> PaysimMigrations();

/// How long a migration waits for the locks on the tables it changes. While its ALTER waits for a
/// session that holds a table (a transaction left open in psql, a long report, pg_dump), every
/// other statement on that table queues behind it: the shop's buys and checks stop. So each
/// attempt waits at most `timeout_ms` (for that, or for another runner), is rolled back, and lets
/// the queue through for a second before the next, until the migration has tried for
/// `give_up_s` (0: one attempt). timeout_ms 0: one attempt that waits as long as it takes.
struct LockWait {
    int timeout_ms = 0;
    int give_up_s = 0;
    std::function<void(const std::string&)> warn;  // a line for the operator per failed attempt
};

/// Applies every migration not yet recorded in `table` (created if missing), each in its own
/// transaction together with its record, under an advisory lock so two runners never race.
/// Returns the number applied; throws db::Error / db::Unavailable on failure.
int Migrate(Connection& conn, std::span<const Migration> migrations, const std::string& table,
            const std::function<void(const std::string&)>& report, const LockWait& wait = {});

/// The migrations `table` does not record (all of them when it does not exist), in order: a
/// program started on a database an upgrade has not migrated yet names them.
std::vector<std::string> PendingMigrations(Connection& conn, std::span<const Migration> migrations,
                                           const std::string& table);

}  // namespace orderpay::db
