#!/usr/bin/env bash
# orderpayd's own CPU per request, counted in instructions (callgrind's Ir), not timed: the count
# does not move with what else runs on the box, so two builds compare on a shared machine.
#   usage: tests/bench/profile.sh BIN_DIR [N]        (N requests of each kind, default 200)
# On a private stack (as make bench) the normal orderpayd is replaced by one running a single
# worker under valgrind --tool=callgrind. Each GET /healthz makes that worker dump its counts
# (--dump-before its store::Ping), so one healthz after each batch cuts the profile per kind:
# startup, warm-up (5 of each: connections, prepared statements, TLS to paysim), one healthz alone
# (the marker's own cost, taken off each batch), then N of pay/buy wx.qrcode (tests/bench/buy.lua's
# body), pay/check of a paid order, and a signed WeChat v2 notification (a duplicate, as make
# bench posts it). Printed per kind: Ir per request, split by library (self cost) and the top
# functions by inclusive cost per request (callgrind_annotate --inclusive=yes). Kernel time (the
# system calls) is not in Ir. The dumps stay in PROFILE_OUT (default: a new /tmp directory) for
# callgrind_annotate or kcachegrind. Needs valgrind (apt-get install valgrind).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=$(cd "${1:-build/release}" && pwd -P)
N=${2:-200}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive number" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
OUT=${PROFILE_OUT:-$(mktemp -d /tmp/orderpay-profile.XXXXXX)}
mkdir -p "$OUT"
VAR=$(mktemp -d /tmp/orderpay-profile-stack.XXXXXX)
chmod 755 "$VAR"  # user postgres must reach the cluster inside
export ORDERPAY_VAR=$VAR ORDERPAY_BIN=$BIN
CG_PID=""
cleanup() {
    if [[ -n $CG_PID ]] && kill -0 "$CG_PID" 2>/dev/null; then
        kill -TERM "$CG_PID" 2>/dev/null || true
        wait "$CG_PID" 2>/dev/null || true
    fi
    bash "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || true
    rm -rf "$VAR"
}
trap cleanup EXIT
bash "$REPO/deploy/stack.sh" up >/dev/null
# shellcheck disable=SC1091
. "$VAR/stack.env"
psqlv() { "$PGBIN/psql" -X -At -c "$1"; }
order_id() { sed -n 's/^{"ok":true,"data":{"id":"\([a-z0-9]*\)".*/\1/p'; }
buy() { curl -s -X POST "$ORDERPAY_API/buy?ticket=$DEMO_TICKET" -H 'Content-Type: application/json' -d "$1"; }

# What is asked, made with the stack's own orderpayd: a paid order, and the notification paysim
# sent for another one (as tests/bench/run.sh makes them).
paid=$(buy '{"products":[{"id":"demo-tea"}],"pay_tp":"wx.scan","auth_code":"130000000000000001"}' | order_id)
wx_order=$(buy '{"products":[{"id":"demo-tea"}],"pay_tp":"wx.qrcode"}' | order_id)
[[ -n $paid && -n $wx_order ]] || { echo "could not create the orders to profile" >&2; exit 1; }
wx_slip=$(psqlv "SELECT pay_id FROM orders WHERE id = '$wx_order'")
curl -s -X POST "$PAYSIM_URL/sim/pay" -d "out_trade_no=$wx_slip" >/dev/null
for _ in $(seq 50); do
    body=$(psqlv "SELECT convert_from(body, 'UTF8') FROM notifications WHERE slip_id = '$wx_slip' ORDER BY id LIMIT 1")
    [[ -n $body ]] && break
    sleep 0.1
done
[[ -n $body ]] || { echo "paysim sent no notification for $wx_slip" >&2; exit 1; }
printf '%s' "$body" >"$OUT/re_wx.xml"
sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$REPO/tests/bench/buy.lua" >"$OUT/buy.json"

# The stack's orderpayd out, one worker under callgrind in on the same socket.
kill -TERM "$(cat "$ORDERPAYD_PID_FILE")"
for _ in $(seq 150); do [[ -S $ORDERPAYD_SOCKET ]] || break; sleep 0.1; done
rm -f "$OUT"/callgrind.out.*
ORDERPAY_WORKERS=1 valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
    --dump-before='orderpay::store::Ping*' --collect-systime=yes "$BIN/orderpayd" </dev/null >"$OUT/orderpayd.log" 2>&1 &
CG_PID=$!
for _ in $(seq 600); do [[ -S $ORDERPAYD_SOCKET ]] && break; sleep 0.1; done
[[ -S $ORDERPAYD_SOCKET ]] || { echo "orderpayd under callgrind did not start (see $OUT/orderpayd.log)" >&2; exit 1; }

drive() { python3 "$REPO/tests/bench/profile.py" drive "$ORDERPAY_URL" "$@"; }
args=(--ticket "$DEMO_TICKET" --order "$paid" --buy "$OUT/buy.json" --re-wx "$OUT/re_wx.xml")
drive healthz 1 "${args[@]}"  # dump 1: startup
for kind in buy check re_wx; do drive "$kind" 5 "${args[@]}"; done
drive healthz 1 "${args[@]}"  # dump 2: warm-up
drive healthz 1 "${args[@]}"  # dump 3: one healthz, the marker
for kind in buy check re_wx; do  # dumps 4, 5, 6
    drive "$kind" "$N" "${args[@]}"
    drive healthz 1 "${args[@]}"
done
kill -TERM "$CG_PID"
wait "$CG_PID" || true
CG_PID=""
python3 "$REPO/tests/bench/profile.py" report "$OUT" "$N" startup warmup marker buy check re_wx
echo "dumps: $OUT (callgrind_annotate --inclusive=yes FILE)"
