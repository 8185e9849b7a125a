// Applies embedded migrations once each, in order, transactionally, recorded in a table; and
// names the ones a database still lacks, for the programs that run on it.
#include "orderpay/db/migrations.hpp"

namespace orderpay::db {

namespace {

constexpr const char* kLock = "SELECT pg_advisory_xact_lock(7215000001)";

bool Recorded(Connection& conn, const std::string& table, const Migration& m) {
    PgResultPtr r(PQexecParams(conn.raw(), ("SELECT 1 FROM " + table + " WHERE name = $1").c_str(), 1,
                               nullptr, &m.name, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw Error(PQerrorMessage(conn.raw()), "");
    return PQntuples(r.get()) > 0;
}

}  // namespace

int Migrate(Connection& conn, std::span<const Migration> migrations, const std::string& table,
            const std::function<void(const std::string&)>& report) {
    // The table name is ours (a constant), never user input, so literal SQL is fine here. It is
    // created under the migrations' lock: two first runs at once each ran CREATE TABLE IF NOT
    // EXISTS, and one failed on pg_type's unique index. to_regclass first, so a database that
    // has it gets no "already exists, skipping" notice on the operator's terminal.
    {
        Tx tx(conn);
        conn.Simple(kLock);
        if (conn.Simple("SELECT to_regclass('" + table + "') IS NULL").Get(0, 0) == "t")
            conn.Simple("CREATE TABLE " + table +
                        " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
        tx.Commit();
    }
    int applied = 0;
    for (const Migration& m : migrations) {
        Tx tx(conn);
        // Serialise concurrent runners; the lock is released at commit.
        conn.Simple(kLock);
        if (Recorded(conn, table, m)) continue;
        try {
            conn.Simple(m.sql);
        } catch (const Error& e) {
            // Rolled back with its record: name it, or the operator cannot tell which one broke.
            throw Error(std::string("migration ") + m.name + " failed (nothing of it applied): " + e.what(),
                        e.sqlstate, e.primary);
        }
        PgResultPtr ins(PQexecParams(conn.raw(), ("INSERT INTO " + table + " (name) VALUES ($1)").c_str(), 1,
                                     nullptr, &m.name, nullptr, nullptr, 0));
        if (PQresultStatus(ins.get()) != PGRES_COMMAND_OK) throw Error(PQerrorMessage(conn.raw()), "");
        tx.Commit();
        report(std::string("applied ") + m.name);
        ++applied;
    }
    return applied;
}

std::vector<std::string> PendingMigrations(Connection& conn, std::span<const Migration> migrations,
                                           const std::string& table) {
    std::vector<std::string> pending;
    if (conn.Simple("SELECT to_regclass('" + table + "') IS NULL").Get(0, 0) == "t") {
        for (const Migration& m : migrations) pending.emplace_back(m.name);
        return pending;
    }
    for (const Migration& m : migrations)
        if (!Recorded(conn, table, m)) pending.emplace_back(m.name);
    return pending;
}

}  // namespace orderpay::db
