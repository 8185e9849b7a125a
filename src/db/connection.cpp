// libpq connection handling: connect, prepare every statement, reconnect after a server restart.
#include "orderpay/db/connection.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "orderpay/core/log.hpp"
#include "orderpay/core/metrics.hpp"

namespace orderpay::db {

int Result::Rows() const {
    return PQntuples(r_.get());
}

std::int64_t Result::Affected() const {
    const char* n = PQcmdTuples(r_.get());
    return (n && *n) ? std::atoll(n) : 0;
}

bool Result::IsNull(int row, int col) const {
    return PQgetisnull(r_.get(), row, col);
}

std::string Result::Get(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), PQgetlength(r_.get(), row, col));
}

std::optional<std::string> Result::GetOpt(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Get(row, col);
}

std::int64_t Result::GetInt(int row, int col) const {
    return IsNull(row, col) ? 0 : std::atoll(PQgetvalue(r_.get(), row, col));
}

bool Result::GetBool(int row, int col) const {
    return !IsNull(row, col) && PQgetvalue(r_.get(), row, col)[0] == 't';
}

Result::Kind Result::ColumnKind(int col) const {
    // The built-in type OIDs (pg_type.dat; fixed since PostgreSQL 7): bool, int8, int2, int4,
    // oid, float4, float8, numeric. Anything else (text, timestamps, json) stays text.
    switch (PQftype(r_.get(), col)) {
        case 16:
            return Kind::kBool;
        case 20:
        case 21:
        case 23:
        case 26:
        case 700:
        case 701:
        case 1700:
            return Kind::kNumber;
        default:
            return Kind::kText;
    }
}

// Readers take a row's columns by name in the SELECT's order, row after row: the column after the
// last one found is tried first (one strcmp). PQfnumber copies and case-folds the name and
// compares it with every column, twice when the name is absent (pay/check asks for chargeback_at,
// which only the operators' views carry): on pay/check's 60-odd columns that was 3 % of a worker's
// CPU, and 10 % of its instructions. For a name in lower case without quotes (all of ours) its
// answer is the first column of exactly that name, so that is what the fallback looks for itself;
// any other name still goes through PQfnumber's own rules. The guess compares exactly: PostgreSQL
// folds unquoted names, so only a quoted alias makes a column name with capitals, and none of our
// statements has one (tests/unit/statements_test.cpp).
namespace {

bool FoldsToItself(const char* name) {
    for (const char* p = name; *p; ++p)
        if (*p == '"' || (*p >= 'A' && *p <= 'Z')) return false;
    return true;
}

// `name` folds to itself.
int FindCol(const PGresult* r, const char* name) {
    const int n = PQnfields(r);
    for (int c = 0; c < n; ++c) {
        const char* f = PQfname(r, c);
        if (f[0] == name[0] && std::strcmp(f, name) == 0) return c;
    }
    return -1;
}

}  // namespace

bool Result::HasCol(const char* name) const {
    return (FoldsToItself(name) ? FindCol(r_.get(), name) : PQfnumber(r_.get(), name)) >= 0;
}

int Result::Col(const char* name) const {
    const int n = PQnfields(r_.get());
    int c = next_col_ < n ? next_col_ : 0;  // after the last column, the first: the next row
    if (c >= n || std::strcmp(PQfname(r_.get(), c), name) != 0)
        c = FoldsToItself(name) ? FindCol(r_.get(), name) : PQfnumber(r_.get(), name);
    if (c < 0) throw std::logic_error(std::string("no result column ") + name);
    next_col_ = c + 1;
    return c;
}

Connection::Connection(std::string conninfo, std::span<const Statement> statements,
                       std::string server_options)
    : conninfo_(std::move(conninfo)), statements_(statements), server_options_(std::move(server_options)) {}

namespace {

// With expand_dbname the first "dbname" is read as a whole conninfo string or URI, and later
// keywords override what it set (libpq docs, PQconnectdbParams). fallback_application_name names
// the program (orderpayd, orderpay, paysim) in pg_stat_activity and the server's logs unless the
// operator's conninfo sets application_name; make bench also tells paysim's backends by it.
PGconn* Open(const std::string& conninfo, const std::string& server_options) {
    const char* keys[] = {"dbname", "fallback_application_name", "options", nullptr};
    const char* values[] = {conninfo.c_str(), program_invocation_short_name, server_options.c_str(), nullptr};
    if (server_options.empty()) keys[2] = nullptr;
    return PQconnectdbParams(keys, values, 1);
}

}  // namespace

std::string PlainMessage(std::string_view libpq_message) {
    std::string out;
    std::size_t pos = 0;
    while (pos < libpq_message.size()) {
        std::size_t end = libpq_message.find('\n', pos);
        if (end == std::string_view::npos) end = libpq_message.size();
        std::string_view line = libpq_message.substr(pos, end - pos);
        pos = end + 1;
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
        if (line.empty()) continue;
        if (!out.empty()) out += "; ";
        for (unsigned char c : line) out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
    }
    return out;
}

void Connection::SetSessionTimeouts(std::int64_t lock_ms, std::int64_t statement_ms) {
    session_sql_.clear();
    if (lock_ms > 0) session_sql_ += "SET lock_timeout = " + std::to_string(lock_ms) + ";";
    if (statement_ms > 0) session_sql_ += "SET statement_timeout = " + std::to_string(statement_ms) + ";";
}

bool Connection::Ensure() {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK && prepared_) return true;
    // A reconnect here would run the rest of the transaction's statements in autocommit.
    if (in_tx_) return false;
    auto now = std::chrono::steady_clock::now();
    if (now < next_attempt_) return false;
    prepared_ = false;
    schema_too_old_ = false;
    last_error_.clear();
    const bool reconnect = conn_ != nullptr || dropped_;
    if (!conn_) {
        conn_.reset(Open(conninfo_, server_options_));
    } else {
        PQreset(conn_.get());
    }
    bool ok = conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
    if (ok) {
        // JIT compiles any plan estimated past jit_above_cost at its first run: hundreds of ms
        // (reconcile's attention list on 400 k slips: 9 ms of work behind 590 ms of compiling)
        // for statements that read a few rows by index. None of ours gains from it; a session
        // setting, so an operator's own conninfo options are left as they are.
        PgResultPtr jit(PQexec(conn_.get(), "SET jit = off"));
        if (PQresultStatus(jit.get()) != PGRES_COMMAND_OK)
            log::Warn("SET jit = off failed: ", PQresultErrorMessage(jit.get()));
        if (!session_sql_.empty()) {
            PgResultPtr set(PQexec(conn_.get(), session_sql_.c_str()));
            if (PQresultStatus(set.get()) != PGRES_COMMAND_OK)
                log::Warn("session settings (", session_sql_, ") failed: ", PQresultErrorMessage(set.get()));
        }
        // Prepared statements live only as long as the session: prepare all again after a reset.
        for (const Statement& st : statements_) {
            PgResultPtr r(PQprepare(conn_.get(), st.name, st.sql, 0, nullptr));
            if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
                if (log_failures_)
                    log::Error("prepare ", st.name, " failed: ", PQresultErrorMessage(r.get()));
                // The server's primary message alone: its LINE and caret lines read as noise here.
                const char* primary = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY);
                last_error_ = "prepare " + std::string(st.name) + ": " +
                              PlainMessage(primary ? primary : PQresultErrorMessage(r.get()));
                // Class 42 (an undefined table, column or function): the server is up but its
                // schema is older than this build, which no retry mends.
                const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
                if (state && std::strncmp(state, "42", 2) == 0) {
                    schema_too_old_ = true;
                    const bool sim = std::strcmp(program_invocation_short_name, "paysim") == 0;
                    if (log_failures_)
                        log::Error("the database's schema lacks what this build needs: run `",
                                   sim ? "paysim" : "orderpay", " migrate`");
                }
                ok = false;
                break;
            }
        }
    }
    if (!ok) {
        backoff_ = std::min(std::chrono::milliseconds(2000),
                            backoff_.count() ? backoff_ * 2 : std::chrono::milliseconds(100));
        next_attempt_ = now + backoff_;
        metrics::DbError("connect");
        if (log_failures_)
            log::Warn("database unavailable: ", conn_ ? PQerrorMessage(conn_.get()) : "out of memory");
        // A prepare's failure was kept above; otherwise the connection's own.
        if (last_error_.empty())
            last_error_ = conn_ ? PlainMessage(PQerrorMessage(conn_.get())) : "out of memory";
        return false;
    }
    backoff_ = std::chrono::milliseconds(0);
    prepared_ = true;
    ++session_;
    dropped_ = false;
    if (reconnect) metrics::DbReconnect();
    return true;
}

bool Connection::Live() const {
    return conn_ && PQstatus(conn_.get()) == CONNECTION_OK && prepared_;
}

void Connection::Drop() {
    // in_tx_ is left as it is: inside a transaction, Ensure then refuses to reconnect, and the
    // transaction fails rather than going on in autocommit on a new session.
    conn_.reset();
    prepared_ = false;
    dropped_ = true;  // the next connect is a reconnect, and counted as one
}

Result Connection::Check(PGresult* raw, const char* what) {
    metrics::DbRoundTrip();
    PgResultPtr r(raw);
    ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        ++succeeded_;
        return Result(std::move(r));
    }
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        prepared_ = false;
        metrics::DbError("unavailable");
        throw Unavailable(std::string(what) + ": connection lost");
    }
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string msg = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_.get());
    // Class 08 (connection exception) and 57P (admin shutdown) mean the server is going away;
    // 08P01 on a live connection is a protocol violation of ours (a parameter count), a bug.
    const std::string_view sv = state ? std::string_view(state) : std::string_view();
    // Every error the server sends has a SQLSTATE; one without is libpq's own: the connection
    // failed under this statement. After the server was killed (a crash, `pg_ctl stop -m
    // immediate`) the send fails with "server closed the connection unexpectedly" while
    // PQstatus still says CONNECTION_OK (libpq defers a write failure until it reads), and each
    // worker answered its first request 500 instead of reconnecting.
    if (sv.empty() || (sv.substr(0, 2) == "08" && sv != "08P01") || sv.substr(0, 3) == "57P") {
        prepared_ = false;
        metrics::DbError("unavailable");
        throw Unavailable(std::string(what) + ": " + msg);
    }
    metrics::DbError("statement");
    const char* primary = r ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    throw Error(std::string(what) + ": " + msg, state ? state : "", primary ? primary : "");
}

void Connection::OnIdleLoss(const Unavailable& e) {
    log::Info("database connection lost while idle (", e.what(), "); reconnecting");
    ResetTransaction();
}

// What a statement that found no connection throws: with libpq's reason where no log line said
// it (LeaveFailuresToCaller); a worker's log has it already, and the client never sees it.
std::string Connection::UnavailableText() const {
    if (log_failures_ || last_error_.empty()) return "database unavailable";
    return "database unavailable: " + last_error_;
}

Result Connection::Exec(const Statement& st, std::initializer_list<Param> params) {
    return Exec(st, std::vector<Param>(params));
}

Result Connection::Exec(const Statement& st, const std::vector<Param>& params) {
    if (!Ensure()) throw Unavailable(UnavailableText());
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& p : params) values.push_back(p.value() ? p.value()->c_str() : nullptr);
    return Check(PQexecPrepared(conn_.get(), st.name, static_cast<int>(values.size()), values.data(), nullptr,
                                nullptr, 0),
                 st.name);
}

Result Connection::Query(const std::string& sql, const std::vector<Param>& params) {
    if (!Ensure()) throw Unavailable(UnavailableText());
    std::vector<const char*> values;
    for (const Param& p : params) values.push_back(p.value() ? p.value()->c_str() : nullptr);
    return Check(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0),
                 "query");
}

Result Connection::Simple(const std::string& sql) {
    if (!Ensure()) throw Unavailable(UnavailableText());
    return Check(PQexec(conn_.get(), sql.c_str()), "query");
}

void Connection::ResetTransaction() {
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) return;
    PGTransactionStatusType ts = PQtransactionStatus(conn_.get());
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) PgResultPtr(PQexec(conn_.get(), "ROLLBACK"));
}

Tx::Tx(Connection& c) : c_(c) {
    c_.Simple("BEGIN");
    c_.in_tx_ = true;
}

Tx::~Tx() {
    c_.in_tx_ = false;
    if (done_) return;
    try {
        c_.ResetTransaction();
    } catch (...) {
    }
}

void Tx::Commit() {
    done_ = true;  // a failed COMMIT has ended the transaction too: nothing to roll back
    c_.Simple("COMMIT");
    c_.in_tx_ = false;
}

}  // namespace orderpay::db
