/* Test shim (LD_PRELOAD): a process dies between two SQL statements, at a chosen one.
 *
 * While the file named by $CRASH_AT_FILE exists and holds a number N, the process counts the
 * statements it runs from the moment it first sees the file, and _exit()s right AFTER the N-th
 * statement's result came back: the statement ran (a COMMIT committed) and the process dies
 * before acting on it, the committed-but-not-acted-on case. (Dying before sending statement N is
 * dying after N-1, but for N = 1, where nothing happened yet.) Before dying it writes "N name" to
 * $CRASH_AT_FILE.fired (the prepared statement's name, or the SQL text's start) and removes
 * $CRASH_AT_FILE, so it fires once: the restarted worker and the client's retry run unharmed.
 * A test arms it while an orderpayd worker is idle (it runs no statement between requests), so N
 * counts the statements of the next request; a CLI run with it set counts from its connect.
 *
 * With "N lose" in the file the process lives on instead: the N-th statement ran, and its result
 * is lost with the connection (the socket is shut down, NULL returned: libpq's "server closed the
 * connection unexpectedly"), as when the network or the server fails right after a COMMIT. The
 * caller sees a failure for what was done.
 *
 * Counted: PQexecPrepared, PQexecParams and PQexec, all that src/db/ sends statements with
 * (BEGIN, COMMIT and ROLLBACK are PQexec; so is a connect's `SET jit = off`, which a warmed-up
 * worker does not repeat). PQprepare is not: a connect prepares every statement, set-up rather
 * than work. orderpayd uses no pipeline or asynchronous calls. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* libpq's types as libpq-fe.h declares them (opaque), so the shim builds without its headers. */
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;
int PQsocket(const PGconn* conn);
void PQclear(PGresult* res);

static long seen; /* statements run since this process first saw the file */

static int lose; /* the armed N says "lose": the result is lost, the process lives on */

/* The armed N, or 0 when $CRASH_AT_FILE is absent or empty. */
static long armed(void) {
    const char* f = getenv("CRASH_AT_FILE");
    if (!f) return 0;
    int fd = open(f, O_RDONLY);
    if (fd < 0) return 0;
    char buf[32] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    lose = strstr(buf, "lose") != NULL;
    return n > 0 ? atol(buf) : 0;
}

/* Called after each statement's result arrived, with its parameters; returns the result the
 * caller gets. */
static PGresult* after(PGconn* conn, PGresult* r, const char* what, int nparams, const char* const* params) {
    long n = armed();
    if (n <= 0) {
        seen = 0;
        return r;
    }
    const char* f = getenv("CRASH_AT_FILE");
    char path[4096];
    /* $CRASH_AT_FILE.trace, when it exists, gets a line per statement counted: its number, name
     * and first parameters (order and slip ids), tab-separated. A probe run with an N never
     * reached lists what a sweep can crash after, and where the statements about one order are. */
    snprintf(path, sizeof path, "%s.trace", f);
    FILE* trace = fopen(path, "r+");
    if (trace) {
        fseek(trace, 0, SEEK_END);
        fprintf(trace, "%ld\t%.60s", seen + 1, what ? what : "?");
        for (int i = 0; i < nparams && i < 4; ++i)
            fprintf(trace, "\t%.40s", params && params[i] ? params[i] : "-");
        fputc('\n', trace);
        fclose(trace);
    }
    if (++seen < n) return r;
    snprintf(path, sizeof path, "%s.fired", f);
    FILE* out = fopen(path, "w");
    if (out) {
        fprintf(out, "%ld %.60s\n", n, what ? what : "?");
        fclose(out);
    }
    unlink(f);
    if (!lose) _exit(86);
    seen = 0;
    shutdown(PQsocket(conn), SHUT_RDWR);
    PQclear(r);
    return NULL;
}

PGresult* PQexecPrepared(PGconn* conn, const char* stmtName, int nParams, const char* const* paramValues,
                         const int* paramLengths, const int* paramFormats, int resultFormat) {
    static PGresult* (*real)(PGconn*, const char*, int, const char* const*, const int*, const int*, int);
    if (!real) real = dlsym(RTLD_NEXT, "PQexecPrepared");
    PGresult* r = real(conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat);
    return after(conn, r, stmtName, nParams, paramValues);
}

PGresult* PQexecParams(PGconn* conn, const char* command, int nParams, const Oid* paramTypes,
                       const char* const* paramValues, const int* paramLengths, const int* paramFormats,
                       int resultFormat) {
    static PGresult* (*real)(PGconn*, const char*, int, const Oid*, const char* const*, const int*,
                             const int*, int);
    if (!real) real = dlsym(RTLD_NEXT, "PQexecParams");
    PGresult* r =
        real(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
    return after(conn, r, command, nParams, paramValues);
}

PGresult* PQexec(PGconn* conn, const char* query) {
    static PGresult* (*real)(PGconn*, const char*);
    if (!real) real = dlsym(RTLD_NEXT, "PQexec");
    PGresult* r = real(conn, query);
    return after(conn, r, query, 0, NULL);
}
