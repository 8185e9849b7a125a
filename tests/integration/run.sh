#!/usr/bin/env bash
# Integration tests: a private stack (deploy/stack.sh) on free ports, driven over HTTP through
# nginx by pytest. Usage: tests/integration/run.sh BIN_DIR   (e.g. build/debug)
#
# The stack is always stopped afterwards. Then the logs are searched for sanitizer reports:
# with a sanitizer build, a memory error in any worker fails the run even if every test passed.
# Exit status: pytest's, or 1 for sanitizer findings or a stack that would not start.
set -euo pipefail

[[ $# -eq 1 ]] || {
    echo "usage: $0 BIN_DIR" >&2
    exit 2
}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=$(cd "$1" && pwd -P)
VAR=$(mktemp -d /tmp/orderpay-it.XXXXXX)
chmod 755 "$VAR"  # user postgres must reach $VAR/pg when we are root
export ORDERPAY_BIN=$BIN ORDERPAY_VAR=$VAR
# Sanitizer builds report to stderr, which the stack sends to $VAR/log/<program>.log.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

rc=0
up_failed=0  # stack.sh has then printed the log tails already
finish() {
    local findings
    bash "$REPO/deploy/stack.sh" down || true
    findings=$(grep -H -n -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$VAR"/log/*.log 2>/dev/null || true)
    if [[ -n $findings ]]; then
        echo "integration: sanitizer reports in the logs:" >&2
        printf '%s\n' "$findings" >&2
        ((rc != 0)) || rc=1
    fi
    if ((rc != 0 && !up_failed)); then
        local f
        for f in "$VAR"/log/*.log; do
            [[ -s $f && $f != */initdb.log ]] || continue
            printf '\n===== tail of %s =====\n' "$f" >&2
            tail -n 60 -- "$f" >&2
        done
    fi
    if ((rc != 0)); then
        echo "integration: FAILED (rc=$rc); state kept in $VAR" >&2
    else
        rm -rf -- "$VAR"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'rc=130; exit 130' INT TERM

echo "== integration: starting the stack (ORDERPAY_BIN=$BIN, ORDERPAY_VAR=$VAR)"
bash "$REPO/deploy/stack.sh" up >/dev/null || {
    rc=1 up_failed=1
    exit 1
}
export STACK_ENV=$VAR/stack.env

echo "== integration: pytest"
cd "$REPO"
# The slowest tests are listed at the end: CI's 90 minutes are the budget they spend.
/usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=20 tests/integration || rc=$?
