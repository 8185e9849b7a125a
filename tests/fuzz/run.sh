#!/usr/bin/env bash
# Runs libFuzzer targets one after another, each as a single process on a scratch copy of its
# checked-in corpus (tests/fuzz/corpus/<target>), so new inputs never land in the repository.
# Usage: tests/fuzz/run.sh BIN_DIR [libFuzzer flags...] -- TARGET...
#
# Per target it prints one line: target, seconds, executions, crash or ok. A crash, leak,
# timeout or failed property leaves its input in BIN_DIR/artifacts/ and the log in BIN_DIR/logs/.
# Exit status: 1 when any target failed, after all have run.
set -euo pipefail

[[ $# -ge 3 ]] || {
    echo "usage: $0 BIN_DIR [libFuzzer flags...] -- TARGET..." >&2
    exit 2
}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=$(cd "$1" && pwd -P)
shift
flags=()
while [[ $# -gt 0 && $1 != -- ]]; do
    flags+=("$1")
    shift
done
[[ ${1:-} == -- ]] && shift
mkdir -p "$BIN/artifacts" "$BIN/logs" "$BIN/work"
# A 16 MiB quarantine (default 256) still catches a use after free within an input, and about
# doubles the speed of the allocation-heavy targets: freed memory is reused instead of faulted in.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=16}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ORDERPAY_FUZZ_KEY_DIR=${ORDERPAY_FUZZ_KEY_DIR:-$REPO/tests/fuzz/keys}

failed=()
printf '%-16s %8s %12s  %s\n' target seconds executions result
for target in "$@"; do
    work=$BIN/work/$target
    log=$BIN/logs/$target.log
    rm -rf "$work"
    mkdir -p "$work"
    cp "$REPO/tests/fuzz/corpus/$target/"* "$work/"
    start=$SECONDS
    rc=0
    "$BIN/$target" "${flags[@]}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$BIN/artifacts/$target-" "$work" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    result=ok
    if ((rc != 0)); then
        result="FAILED (exit $rc, log $log)"
        failed+=("$target")
    fi
    printf '%-16s %8d %12s  %s\n' "$target" $((SECONDS - start)) "${execs:-?}" "$result"
    if ((rc != 0)); then
        tail -n 40 "$log" >&2
    fi
done

if ((${#failed[@]} > 0)); then
    echo "fuzz: failures in: ${failed[*]}" >&2
    exit 1
fi
