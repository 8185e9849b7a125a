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

/// Applies every migration not yet recorded in `table` (created if missing), each in its own
/// transaction together with its record, under an advisory lock so two runners never race.
/// Returns the number applied; throws db::Error / db::Unavailable on failure.
int Migrate(Connection& conn, std::span<const Migration> migrations, const std::string& table,
            const std::function<void(const std::string&)>& report);

/// The migrations `table` does not record (all of them when it does not exist), in order: a
/// program started on a database an upgrade has not migrated yet names them.
std::vector<std::string> PendingMigrations(Connection& conn, std::span<const Migration> migrations,
                                           const std::string& table);

}  // namespace orderpay::db
