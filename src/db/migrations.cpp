// Applies embedded migrations once each, in order, transactionally, recorded in a table.
#include "orderpay/db/migrations.hpp"

namespace orderpay::db {

int Migrate(Connection& conn, std::span<const Migration> migrations, const std::string& table,
            const std::function<void(const std::string&)>& report) {
    // The table name is ours (a constant), never user input, so literal SQL is fine here.
    conn.Simple("CREATE TABLE IF NOT EXISTS " + table +
                " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    int applied = 0;
    for (const Migration& m : migrations) {
        Tx tx(conn);
        // Serialise concurrent runners; the lock is released at commit.
        conn.Simple("SELECT pg_advisory_xact_lock(7215000001)");
        PgResultPtr r(PQexecParams(conn.raw(), ("SELECT 1 FROM " + table + " WHERE name = $1").c_str(), 1,
                                   nullptr, &m.name, nullptr, nullptr, 0));
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw Error(PQerrorMessage(conn.raw()), "");
        if (PQntuples(r.get()) > 0) continue;
        conn.Simple(m.sql);
        PgResultPtr ins(PQexecParams(conn.raw(), ("INSERT INTO " + table + " (name) VALUES ($1)").c_str(), 1,
                                     nullptr, &m.name, nullptr, nullptr, 0));
        if (PQresultStatus(ins.get()) != PGRES_COMMAND_OK) throw Error(PQerrorMessage(conn.raw()), "");
        tx.Commit();
        report(std::string("applied ") + m.name);
        ++applied;
    }
    return applied;
}

}  // namespace orderpay::db
