// Applies embedded migrations once each, in order, transactionally, recorded in a table; and
// names the ones a database still lacks, for the programs that run on it.
#include "orderpay/db/migrations.hpp"

#include <chrono>
#include <thread>

namespace orderpay::db {

namespace {

constexpr const char* kLock = "SELECT pg_advisory_xact_lock(7215000001)";

bool Recorded(Connection& conn, const std::string& table, const Migration& m) {
    PgResultPtr r(PQexecParams(conn.raw(), ("SELECT 1 FROM " + table + " WHERE name = $1").c_str(), 1,
                               nullptr, &m.name, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw Error(PQerrorMessage(conn.raw()), "");
    return PQntuples(r.get()) > 0;
}

enum class Outcome { kApplied, kRecorded, kRunnerBusy, kTableBusy };

// One migration in one transaction with its record. kRunnerBusy / kTableBusy: another `migrate`
// held the runners' lock, or a table the migration changes stayed held (or deadlocked with a
// request), past `lock_timeout_ms`; all of it is rolled back (the transaction ends with `tx`).
Outcome ApplyOne(Connection& conn, const std::string& table, const Migration& m, int lock_timeout_ms) {
    Tx tx(conn);
    // Set even when 0 (wait as long as it takes): a role's or the server's lock_timeout must not
    // decide for the operator's setting.
    conn.Simple("SET LOCAL lock_timeout = " + std::to_string(lock_timeout_ms));
    // A deadlock with a request is retried whatever the timeout: the attempt was rolled back.
    auto busy = [&](const Error& e) {
        return (lock_timeout_ms > 0 && e.sqlstate == "55P03") || e.sqlstate == "40P01";
    };
    // Serialise concurrent runners; the lock is released at commit.
    try {
        conn.Simple(kLock);
    } catch (const Error& e) {
        if (busy(e)) return Outcome::kRunnerBusy;
        throw;
    }
    if (Recorded(conn, table, m)) return Outcome::kRecorded;
    try {
        conn.Simple(m.sql);
    } catch (const Error& e) {
        if (busy(e)) return Outcome::kTableBusy;
        // Rolled back with its record: name it, or the operator cannot tell which one broke.
        throw Error(std::string("migration ") + m.name + " failed (nothing of it applied): " + e.what(),
                    e.sqlstate, e.primary);
    }
    PgResultPtr ins(PQexecParams(conn.raw(), ("INSERT INTO " + table + " (name) VALUES ($1)").c_str(), 1,
                                 nullptr, &m.name, nullptr, nullptr, 0));
    if (PQresultStatus(ins.get()) != PGRES_COMMAND_OK) throw Error(PQerrorMessage(conn.raw()), "");
    tx.Commit();
    return Outcome::kApplied;
}

}  // namespace

int Migrate(Connection& conn, std::span<const Migration> migrations, const std::string& table,
            const std::function<void(const std::string&)>& report, const LockWait& wait) {
    // The table name is ours (a constant), never user input, so literal SQL is fine here. It is
    // created under the migrations' lock: two first runs at once each ran CREATE TABLE IF NOT
    // EXISTS, and one failed on pg_type's unique index. to_regclass first, so a database that
    // has it gets no "already exists, skipping" notice on the operator's terminal, and a run on
    // a database that has it takes the runners' lock only in ApplyOne, under the lock timeout
    // (here it would wait, silently, for a peer that waits for a table). That first look reads
    // pg_class itself: to_regclass would leave a negative entry in this backend's catalog cache,
    // which an advisory lock does not refresh, and the look under the lock would then miss a
    // table a concurrent first run has just made.
    const std::string exists =
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relname = '" +
        table + "' AND n.nspname = ANY (current_schemas(false)))";
    if (conn.Simple(exists).Get(0, 0) == "f") {
        Tx tx(conn);
        conn.Simple(kLock);
        if (conn.Simple("SELECT to_regclass('" + table + "') IS NULL").Get(0, 0) == "t")
            conn.Simple("CREATE TABLE " + table +
                        " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
        tx.Commit();
    }
    int applied = 0;
    for (const Migration& m : migrations) {
        // Each migration has the whole budget, counted from its first attempt.
        const auto start = std::chrono::steady_clock::now();
        for (int attempt = 1;; ++attempt) {
            const Outcome o = ApplyOne(conn, table, m, wait.timeout_ms);
            if (o == Outcome::kRecorded) break;
            if (o == Outcome::kApplied) {
                report(std::string("applied ") + m.name);
                ++applied;
                break;
            }
            const auto waited =
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
            const bool runner = o == Outcome::kRunnerBusy;
            const char* who =
                runner ? "another orderpay migrate is running" : "another session holds a table it changes";
            if (waited.count() >= wait.give_up_s)
                throw Error(std::string("migration ") + m.name + " failed (nothing of it applied): waited " +
                                std::to_string(waited.count()) + " s: " + who +
                                (runner ? "; run orderpay migrate again once it ends"
                                        : " (a transaction left open? see pg_stat_activity); run orderpay "
                                          "migrate again once it lets go"),
                            "55P03", "lock not available");
            if (wait.warn)
                wait.warn(std::string("migration ") + m.name + " waits: " + who +
                          (runner ? "; trying again (attempt "
                                  : "; rolled back to let the shop's requests "
                                    "through, trying again (attempt ") +
                          std::to_string(attempt + 1) + ")");
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
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
