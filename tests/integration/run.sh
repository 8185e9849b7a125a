#!/usr/bin/env bash
# Integration tests: private stacks (deploy/stack.sh) on free ports, driven over HTTP through
# nginx by pytest. Usage: tests/integration/run.sh BIN_DIR   (e.g. build/debug)
#
# IT_JOBS=N runs the files on N stacks at once (pytest-xdist, a whole file per worker, each
# worker its own stack); the default is the number of cores, at most 4, and 1 runs them in
# turn on one stack. One run uses about one core (half its time is spent waiting on timeouts,
# relays and PostgreSQL), so two at once take about half the time on CI's two cores.
#
# The stacks are always stopped afterwards. Then the logs are searched for sanitizer reports:
# with a sanitizer build, a memory error in any worker fails the run even if every test passed.
# Exit status: pytest's, or 1 for sanitizer findings or a stack that would not start.
set -euo pipefail

[[ $# -eq 1 ]] || {
    echo "usage: $0 BIN_DIR" >&2
    exit 2
}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=$(cd "$1" && pwd -P)
export ORDERPAY_BIN=$BIN
# Sanitizer builds report to stderr, which the stack sends to $VAR/log/<program>.log.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

jobs=${IT_JOBS:-$(nproc 2>/dev/null || echo 1)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || {
    echo "run.sh: IT_JOBS must be a positive number, not '$jobs'" >&2
    exit 2
}
[[ -n ${IT_JOBS:-} ]] || ((jobs <= 4)) || jobs=4
if ((jobs > 1)) && ! /usr/bin/python3 -c 'import xdist' 2>/dev/null; then
    echo "== integration: pytest-xdist is not installed (python3-pytest-xdist): one stack"
    jobs=1
fi

rc=0
up_failed=0  # stack.sh has then printed the log tails already
VARS=()
finish() {
    local findings var f
    for var in "${VARS[@]}"; do
        ORDERPAY_VAR=$var bash "$REPO/deploy/stack.sh" down || true
    done
    for var in "${VARS[@]}"; do
        findings=$(grep -H -n -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$var"/log/*.log 2>/dev/null || true)
        if [[ -n $findings ]]; then
            echo "integration: sanitizer reports in the logs:" >&2
            printf '%s\n' "$findings" >&2
            ((rc != 0)) || rc=1
        fi
    done
    if ((rc != 0 && !up_failed)); then
        for var in "${VARS[@]}"; do
            for f in "$var"/log/*.log; do
                [[ -s $f && $f != */initdb.log ]] || continue
                printf '\n===== tail of %s =====\n' "$f" >&2
                tail -n 60 -- "$f" >&2
            done
        done
    fi
    if ((rc != 0)); then
        echo "integration: FAILED (rc=$rc); state kept in ${VARS[*]}" >&2
    else
        rm -rf -- "${VARS[@]}"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'rc=130; exit 130' INT TERM

envs=()
for ((i = 0; i < jobs; i++)); do
    var=$(mktemp -d /tmp/orderpay-it.XXXXXX)
    chmod 755 "$var"  # user postgres must reach $var/pg when we are root
    VARS+=("$var")
    echo "== integration: starting stack $((i + 1)) of $jobs (ORDERPAY_BIN=$BIN, ORDERPAY_VAR=$var)"
    ORDERPAY_VAR=$var bash "$REPO/deploy/stack.sh" up >/dev/null || {
        rc=1 up_failed=1
        exit 1
    }
    envs+=("$var/stack.env")
done
export ORDERPAY_VAR=${VARS[0]} STACK_ENV=${envs[0]}
parallel=()
if ((jobs > 1)); then
    # conftest.py gives worker gwN the N-th stack. loadfile keeps a file's tests together and in
    # order, and hands files out in name order, so the test_zz_* files still come last.
    STACK_ENVS=$(IFS=:; echo "${envs[*]}")
    export STACK_ENVS
    parallel=(-n "$jobs" --dist loadfile)
fi

echo "== integration: pytest"
cd "$REPO"
# The slowest tests are listed at the end: CI's 90 minutes are the budget they spend.
/usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=20 "${parallel[@]}" tests/integration || rc=$?
