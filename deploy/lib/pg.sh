# shellcheck shell=bash
# The stack's private PostgreSQL cluster under $VAR/pg (deploy/stack.sh).

# PostgreSQL 15 (Debian 12); the newest installed major version if 15 is absent. Full paths:
# /usr/local/bin may hold wrappers with other behaviour.
pg_bindir() {
    if [[ -n ${ORDERPAY_PGBIN:-} ]]; then
        printf '%s\n' "$ORDERPAY_PGBIN"
    elif [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
        printf '%s\n' /usr/lib/postgresql/15/bin
    else
        local d
        d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n1)
        [[ -n $d ]] || die "PostgreSQL server binaries not found (run deploy/install-deps.sh)"
        printf '%s\n' "$d"
    fi
}

pg_running() {
    [[ -f $PGDATA/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

# pg_up PORT: creates the cluster if there is none, (re)writes the settings that depend on this
# run (port, socket dir), starts it and makes sure database orderpay exists.
pg_up() {
    local port=$1
    if [[ ! -f $PGDATA/PG_VERSION ]]; then
        say "initdb $PGDATA"
        as_pg "$PGBIN/initdb" -D "$PGDATA" -U orderpay --auth=trust -E UTF8 --locale=C \
            --no-sync >"$LOG/initdb.log" 2>&1 || {
            cat "$LOG/initdb.log" >&2
            die "initdb failed"
        }
        echo "include_if_exists = 'orderpay-stack.conf'" >>"$PGDATA/postgresql.conf"
    fi
    mkdir -p "$PGSOCK"
    is_root && chown postgres:postgres "$PGSOCK"
    chmod 755 "$PGSOCK"
    touch "$LOG/postgres.log"
    is_root && chown postgres:postgres "$LOG/postgres.log"

    # Payments keep fsync and synchronous_commit on even in development (FASTCGI.md 2.5).
    cat >"$PGDATA/orderpay-stack.conf" <<EOF
# Written by deploy/stack.sh on every 'up'; edits are lost.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PGSOCK'
fsync = on
synchronous_commit = on
max_connections = 60
shared_buffers = 128MB
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    is_root && chown postgres:postgres "$PGDATA/orderpay-stack.conf"

    say "starting PostgreSQL on 127.0.0.1:$port (socket dir $PGSOCK)"
    # 9>&-: the server must not inherit stack.sh's lock (it would hold it while running).
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -t 60 -l "$LOG/postgres.log" start >/dev/null 9>&- ||
        die "PostgreSQL did not start (see $LOG/postgres.log)"

    local exists
    exists=$("$PGBIN/psql" -h "$PGSOCK" -p "$port" -U orderpay -d postgres -XAtq \
        -c "SELECT 1 FROM pg_database WHERE datname = 'orderpay'")
    if [[ $exists != 1 ]]; then
        "$PGBIN/createdb" -h "$PGSOCK" -p "$port" -U orderpay -E UTF8 orderpay
    fi
}

pg_down() {
    if pg_running; then
        say "stopping PostgreSQL"
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null ||
            say "pg_ctl stop failed (see $LOG/postgres.log)"
    fi
}
