#!/usr/bin/env bash
# make bench: throughput and latency of the main paths on a private stack, measured with wrk on
# loopback (bounded: a few seconds per path). Everything shares this machine's cores, so compare
# runs on the same box (FASTCGI.md §2.3 gives the ratios to aim for), not absolute numbers.
#   usage: tests/bench/run.sh BIN_DIR [SECONDS]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=$(cd "${1:-build/release}" && pwd -P)
SECS=${2:-5}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
VAR=$(mktemp -d /tmp/orderpay-bench.XXXXXX)
chmod 755 "$VAR"  # user postgres must reach the cluster inside
export ORDERPAY_VAR=$VAR ORDERPAY_BIN=$BIN
cleanup() { bash "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || true; rm -rf "$VAR"; }
trap cleanup EXIT
bash "$REPO/deploy/stack.sh" up >/dev/null
# shellcheck disable=SC1091
. "$VAR/stack.env"

# A paid order for the read path (pay/check answers from the database, no provider query).
order=$(curl -s -X POST "$ORDERPAY_URL/api/demo/pay/buy?ticket=$DEMO_TICKET" -H 'Content-Type: application/json' \
    -d '{"products":[{"id":"demo-tea"}],"pay_tp":"wx.scan","auth_code":"130000000000000001"}' |
    sed -n 's/^{"ok":true,"data":{"id":"\([a-z0-9]*\)".*/\1/p')
[[ -n $order ]] || { echo "could not create the benchmark order" >&2; exit 1; }

run() {  # run NAME URL [wrk args...]
    local name=$1 url=$2
    shift 2
    local out
    out=$(wrk -t1 -c32 -d"${SECS}s" --latency "$@" "$url")
    printf '%-34s %10s rps   p50 %8s   p99 %8s   non-2xx %s\n' "$name" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
        "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
        "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
}

echo "orderpay bench: wrk -t1 -c32 -d${SECS}s, $(nproc) cores, workers=$(sed -n 's/^workers = //p' "$ORDERPAY_CONFIG")"
run "GET /healthz (FastCGI, 1 query)" "$ORDERPAY_URL/healthz"
run "GET pay/check (paid order)" "$ORDERPAY_URL/api/demo/pay/check?ticket=$DEMO_TICKET&id=$order"
run "POST pay/buy wx.qrcode (+paysim)" "$ORDERPAY_URL/api/demo/pay/buy?ticket=$DEMO_TICKET" -s "$REPO/tests/bench/buy.lua"
echo "orders created: $(/usr/lib/postgresql/15/bin/psql -At -c 'SELECT count(*) FROM orders')"
