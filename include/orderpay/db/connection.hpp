// One libpq connection per worker: named prepared statements, reconnect with re-prepare, and
// typed failures (database down -> 503; everything else -> the caller decides).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orderpay/core/c_handles.hpp"

namespace orderpay::db {

struct Statement {
    const char* name;
    const char* sql;
};

/// The database cannot be reached (connection lost, server down): answer 503.
struct Unavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A statement failed on a live connection. `sqlstate` e.g. "23505" for a unique violation.
struct Error : std::runtime_error {
    std::string sqlstate;
    std::string primary;  // the server's primary message alone (a RAISE's MESSAGE)
    Error(const std::string& msg, std::string state, std::string primary_message = {})
        : std::runtime_error(msg), sqlstate(std::move(state)), primary(std::move(primary_message)) {}
};

/// A query parameter: text or NULL.
class Param {
  public:
    Param(std::nullopt_t) {}
    Param(const std::string& s) : value_(s) {}
    Param(std::string_view s) : value_(std::string(s)) {}
    Param(const char* s) : value_(std::string(s)) {}
    Param(std::int64_t v) : value_(std::to_string(v)) {}
    Param(int v) : value_(std::to_string(v)) {}
    Param(bool b) : value_(b ? "t" : "f") {}
    Param(const std::optional<std::string>& s) : value_(s) {}
    const std::optional<std::string>& value() const { return value_; }

  private:
    std::optional<std::string> value_;
};

class Result {
  public:
    /// What a column holds, by its PostgreSQL type (PQftype): libpq gives every value as text,
    /// and a JSON listing must tell 30 (an integer) from "30" and true from "t".
    enum class Kind { kText, kNumber, kBool };

    explicit Result(PgResultPtr r) : r_(std::move(r)) {}
    int Rows() const;
    std::int64_t Affected() const;
    bool IsNull(int row, int col) const;
    std::string Get(int row, int col) const;
    std::optional<std::string> GetOpt(int row, int col) const;
    std::int64_t GetInt(int row, int col) const;
    bool GetBool(int row, int col) const;
    Kind ColumnKind(int col) const;
    int Col(const char* name) const;      // column index by name; throws if absent
    bool HasCol(const char* name) const;  // whether the statement returns column `name`
    std::string Get(int row, const char* col) const { return Get(row, Col(col)); }
    std::optional<std::string> GetOpt(int row, const char* col) const { return GetOpt(row, Col(col)); }
    std::int64_t GetInt(int row, const char* col) const { return GetInt(row, Col(col)); }

  private:
    PgResultPtr r_;
    mutable int next_col_ = 0;  // Col()'s guess: the column after the last one it found
};

/// libpq's error text for a person to read: one line per line it has (a multi-host conninfo
/// names each host tried), each trimmed, joined with "; ", control characters shown as '?'.
/// The log escapes newlines (`\x0a`), which left the reason for a failed connect unreadable.
std::string PlainMessage(std::string_view libpq_message);

class Connection {
  public:
    /// `server_options` is libpq's `options` (e.g. "-c synchronous_commit=off"), given after the
    /// conninfo so it wins over an `options` the conninfo names; empty leaves the conninfo alone.
    Connection(std::string conninfo, std::span<const Statement> statements, std::string server_options = {});

    /// Sets lock_timeout and statement_timeout (ms; 0 leaves the server's setting) on every
    /// (re)connect, after "SET jit = off" and before the statements are prepared, so they hold for
    /// every statement the session runs.
    void SetSessionTimeouts(std::int64_t lock_ms, std::int64_t statement_ms);

    /// Connects (or reconnects and re-prepares) if needed. False while the database is down;
    /// attempts are spaced by a capped backoff so a dead server is not hammered.
    bool Ensure();
    /// Why the last Ensure() failed, as libpq or the server said it (PlainMessage); empty after a
    /// success. SchemaTooOld(): it connected, but a statement did not prepare for a missing
    /// table, column or function (SQLSTATE class 42): `migrate` mends that, and nothing else.
    const std::string& LastError() const { return last_error_; }
    bool SchemaTooOld() const { return schema_too_old_; }
    /// A failed Ensure() is left to the caller to report (LastError, SchemaTooOld) instead of
    /// logged: the CLIs print one plain line for it, where the log line (escaped, prefixed) read
    /// as noise above it. A statement that then finds no connection names the reason itself.
    void LeaveFailuresToCaller() { log_failures_ = false; }

    /// Runs a prepared statement by name. Throws Unavailable or Error.
    Result Exec(const Statement& st, std::initializer_list<Param> params);
    Result Exec(const Statement& st, const std::vector<Param>& params);

    /// Runs unprepared SQL with parameters: for the operator CLI, never on a request path.
    Result Query(const std::string& sql, const std::vector<Param>& params);

    /// Runs literal SQL with no parameters (BEGIN, COMMIT, migrations).
    Result Simple(const std::string& sql);

    /// Rolls back any transaction left open (between requests).
    void ResetTransaction();

    PGconn* raw() { return conn_.get(); }

    /// Counts the sessions this connection has opened: a session-scoped thing (an advisory lock)
    /// taken under one number is gone once it differs.
    std::uint64_t Session() const { return session_; }
    /// Connected now, as far as libpq knows (no round trip).
    bool Live() const;
    /// Ends the session (and everything it holds) at once; the next statement opens a new one.
    void Drop();

    /// Statements that succeeded since the last call: lets a request that failed on its very
    /// first statement (a connection that died while idle) be retried safely, since nothing ran.
    int TakeSucceeded() { return std::exchange(succeeded_, 0); }

    /// Runs one request's database work `fn`. A connection that died while the worker was idle
    /// (a PostgreSQL restart or crash) fails `fn`'s first statement; nothing of it ran then, so
    /// it runs once more on a fresh connection. A loss after a statement succeeded is thrown.
    /// So `fn`'s first statement must be a read, or inside a transaction (its BEGIN first): one
    /// that writes in autocommit may have committed when the server died before answering, and
    /// would run twice. Every route's is today (the site or the buy's context is read first; the
    /// notification handlers store the body first and catch the loss themselves).
    template <class Fn>
    auto RunRetryingIdleLoss(Fn&& fn) -> decltype(fn()) {
        TakeSucceeded();
        try {
            return fn();
        } catch (const Unavailable& e) {
            if (TakeSucceeded() != 0) throw;
            OnIdleLoss(e);
            return fn();
        }
    }

  private:
    friend class Tx;
    Result Check(PGresult* r, const char* what);
    void OnIdleLoss(const Unavailable& e);  // logs it and drops any transaction state
    std::string UnavailableText() const;

    std::string conninfo_;
    std::span<const Statement> statements_;
    std::string server_options_;
    std::string session_sql_;
    PgConnPtr conn_;
    bool prepared_ = false;
    bool in_tx_ = false;
    int succeeded_ = 0;  // never reconnect silently inside a transaction
    std::uint64_t session_ = 0;
    bool dropped_ = false;
    std::string last_error_;
    bool schema_too_old_ = false;
    bool log_failures_ = true;
    std::chrono::steady_clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_{0};
};

/// A transaction scope: BEGIN on construction, ROLLBACK in the destructor unless committed.
class Tx {
  public:
    explicit Tx(Connection& c);
    ~Tx();
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    void Commit();

  private:
    Connection& c_;
    bool done_ = false;
};

}  // namespace orderpay::db
