# shellcheck shell=bash
# Shared helpers of deploy/stack.sh: paths, messages, pid files and process shutdown.

PY=/usr/bin/python3  # not a pyenv shim: the scripts need only the system interpreter

say() { printf '[stack] %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

is_root() { ((EUID == 0)); }

# Absolute form of a path that may not exist yet (relative to the current directory).
abspath() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

# Runs a command as the PostgreSQL owner: user postgres when we are root (initdb and postgres
# refuse root), ourselves otherwise. From / so that an unreadable cwd (e.g. /root/x) is no issue.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Sets VAR_LINK (the ORDERPAY_VAR path as given, absolute) and VAR (the real state directory).
# Does not create anything.
resolve_var() {
    VAR_LINK=$(abspath "${ORDERPAY_VAR:-$REPO/var}")
    VAR_LINK=${VAR_LINK%/}
    if [[ -L $VAR_LINK ]]; then
        VAR=$(readlink -f -- "$VAR_LINK")
    else
        VAR=$VAR_LINK
    fi
}

# The state dir path ends up in nginx, PostgreSQL and shell syntax: keep it plain.
plain_path() { [[ $1 =~ ^[A-Za-z0-9._/+@:-]+$ ]]; }

# True when the state dir cannot host the stack as is: user postgres cannot reach it, the
# socket path $VAR/pg/sock/.s.PGSQL.NNNNN.lock would exceed the 107-byte sun_path limit, or the
# path holds characters that would need quoting in the generated configs.
needs_relocation() {
    ((${#1} + 28 > 100)) && return 0
    plain_path "$1" || return 0
    is_root && ! runuser -u postgres -- test -x "$1" 2>/dev/null
}

# Creates the state dir. When postgres cannot use $VAR_LINK, the real directory goes to
# /tmp/orderpay-<hash of the path> and $VAR_LINK becomes a symlink to it.
make_var() {
    resolve_var
    if [[ ! -L $VAR_LINK ]]; then
        mkdir -p -- "$VAR_LINK"
        if needs_relocation "$VAR_LINK"; then
            [[ -z $(ls -A -- "$VAR_LINK") ]] ||
                die "$VAR_LINK is not reachable by user postgres and not empty; remove it or set ORDERPAY_VAR"
            local real
            real=/tmp/orderpay-$(printf '%s' "$VAR_LINK" | sha256sum | cut -c1-16)
            [[ ! -L $real ]] || die "$real is a symlink; refusing to use it"
            rmdir -- "$VAR_LINK"
            ln -s -- "$real" "$VAR_LINK"
            say "state dir $VAR_LINK -> $real (PostgreSQL cannot use the original path)"
        fi
        resolve_var
    fi
    mkdir -p -- "$VAR"
    [[ -O $VAR ]] || die "$VAR is not owned by $(id -un); refusing to use it"
    chmod 755 "$VAR"
    mkdir -p "$VAR/log" "$VAR/nginx/tmp" "$VAR/pg"
    mkdir -p "$VAR/run" "$VAR/keys"
    chmod 700 "$VAR/run" "$VAR/keys"
    chmod 755 "$VAR/log"
    is_root && chown postgres:postgres "$VAR/pg"
    chmod 700 "$VAR/pg"
    return 0
}

# Paths derived from $VAR (call after resolve_var); used by the files that source this one.
# shellcheck disable=SC2034
set_paths() {
    plain_path "$VAR" || die "state dir path may hold only letters, digits and ._/+@:- : $VAR"
    CONF=$VAR/orderpay.conf
    ENV_FILE=$VAR/stack.env
    RUN=$VAR/run
    LOG=$VAR/log
    PGDATA=$VAR/pg/data
    PGSOCK=$VAR/pg/sock
    ORDERPAYD_PID=$RUN/orderpayd.pid
    PAYSIM_PID=$RUN/paysim.pid
    NGINX_PID=$RUN/nginx.pid
    PGBIN=$(pg_bindir)
    ORDERPAYD_SOCK=$RUN/orderpayd.sock
    PAYSIM_SOCK=$RUN/paysim.sock
}

# True if process $1 exists, is not a zombie, and is named $2 (a prefix of its comm).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $stat == "$1 ($2"* ]] || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Prints the pid recorded in pid file $1 if that process is alive and named $2.
live_pid() {
    local pid
    pid=$(head -n1 -- "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" "$2" || return 1
    printf '%s\n' "$pid"
}

# Picks $1 distinct free TCP ports on 127.0.0.1 (held open together so they differ).
free_ports() {
    "$PY" - "$1" <<'PYEOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PYEOF
}

# True if something accepts connections on the unix socket $1.
socket_live() {
    "$PY" - "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
PYEOF
}

# stop_pid NAME PIDFILE COMM SIGNAL TIMEOUT: sends SIGNAL to the master, waits up to TIMEOUT
# seconds, then SIGKILLs it. Children it had forked (the workers) are then killed by pid if they
# outlived it, so nothing is left behind. Quiet if the process is not running.
stop_pid() {
    local name=$1 pidfile=$2 comm=$3 sig=$4 timeout=$5 pid kids i
    pid=$(live_pid "$pidfile" "$comm") || {
        rm -f -- "$pidfile"
        return 0
    }
    kids=$(pgrep -P "$pid" || true)
    say "stopping $name (pid $pid)"
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        alive "$pid" "$comm" || break
        sleep 0.1
    done
    if alive "$pid" "$comm"; then
        say "$name did not stop within ${timeout}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 20; i++)); do
        alive "$pid" "$comm" || break
        sleep 0.1
    done
    # Workers normally exit with the master; give stragglers (an orphaned worker finishing a
    # request) a moment, then kill whatever of them is still there.
    local k left
    for ((i = 0; i < 50; i++)); do
        left=""
        for k in $kids; do
            if alive "$k" "$comm"; then left+=" $k"; fi
        done
        [[ -z $left ]] && break
        sleep 0.1
    done
    for k in $left; do
        kill -KILL "$k" 2>/dev/null && say "killed leftover $name child $k"
    done
    rm -f -- "$pidfile"
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
    local what=$1 secs=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    die "timed out after ${secs}s waiting for $what"
}

tail_logs() {
    local f
    for f in "$LOG"/*.log; do
        [[ -s $f && $f != */initdb.log ]] || continue
        printf '\n===== tail of %s =====\n' "$f" >&2
        tail -n 40 -- "$f" >&2
    done
}
