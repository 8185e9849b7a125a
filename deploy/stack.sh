#!/usr/bin/env bash
# The orderpay dev/test stack: a private PostgreSQL cluster, paysim, orderpayd and nginx, all on
# free local ports and with all state under one directory.
#
#   deploy/stack.sh up       start it in the background; writes and prints $VAR/stack.env
#   deploy/stack.sh down     stop everything (idempotent)
#   deploy/stack.sh run      up, print the URLs and a curl line, wait; Ctrl-C (TERM, HUP) runs down
#   deploy/stack.sh status   show what runs
#
# Environment: ORDERPAY_BIN (binaries; default build/release), ORDERPAY_VAR (state dir; default
# var/ in the repo). Stacks with different ORDERPAY_VAR run side by side.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck source=deploy/lib/common.sh
. "$REPO/deploy/lib/common.sh"
# shellcheck source=deploy/lib/pg.sh
. "$REPO/deploy/lib/pg.sh"
# shellcheck source=deploy/lib/apps.sh
. "$REPO/deploy/lib/apps.sh"

resolve_bin() {
    local b=${ORDERPAY_BIN:-$REPO/build/release}
    [[ -d $b ]] || die "binary dir $b not found (build first: make build, or set ORDERPAY_BIN)"
    BIN=$(cd "$b" && pwd -P)
    local x
    for x in orderpayd orderpay paysim; do
        [[ -x $BIN/$x ]] || die "$BIN/$x missing (build first: make build)"
    done
}

# Serialises up/down of one state dir (two terminals, or run + down).
lock_var() {
    exec 9>"$VAR/stack.lock"
    flock -w 120 9 || die "another stack.sh holds $VAR/stack.lock"
}

all_running() {
    live_pid "$NGINX_PID" nginx >/dev/null && live_pid "$ORDERPAYD_PID" orderpayd >/dev/null &&
        live_pid "$PAYSIM_PID" paysim >/dev/null && pg_running
}

# export KEY='value' lines (values never need escaping: see plain_path).
env_line() { printf "export %s='%s'\n" "$1" "$2"; }

write_env() {
    local api_port=$1 sim_port=$2 pg_port=$3 ticket=$4 ticket_bob=$5 https_port=$6 url
    url=http://127.0.0.1:$api_port
    {
        echo "# orderpay dev/test stack, written by deploy/stack.sh up. Use: . $ENV_FILE"
        env_line ORDERPAY_URL "$url"
        env_line ORDERPAY_API "$url/api/demo/pay"
        env_line PAYSIM_URL "http://127.0.0.1:$sim_port"
        env_line PAYSIM_HTTPS_URL "https://127.0.0.1:$https_port"
        env_line STACK_CA_FILE "$VAR/keys/tls/ca.pem"
        env_line DEMO_SITE demo
        env_line DEMO_TICKET "$ticket"
        env_line DEMO_TICKET_BOB "$ticket_bob"
        env_line DEMO_ACCOUNT alice
        env_line DEMO_ACCOUNT_BOB bob
        env_line DEMO_PRODUCT demo-tea
        env_line DEMO_STOCK_PRODUCT demo-cup
        env_line DEMO_MERCHANT wx-demo
        env_line DEMO_WX_APP_ID wxd0000000000demo
        env_line DEMO_WX_MCH_ID 1900000109
        env_line DEMO_WX_KEY_FILE "$VAR/keys/wx_demo.key"
        env_line DEMO_WX_CLIENT_CERT "$VAR/keys/tls/wx_demo_client.pem"
        env_line DEMO_WX_CLIENT_KEY "$VAR/keys/tls/wx_demo_client_key.pem"
        env_line DEMO_ZFB_MERCHANT zfb-demo
        env_line DEMO_ZFB_APP_ID 2021000000000001
        env_line DEMO_ZFB_SELLER_ID 2088000000000001
        env_line DEMO_ZFB_ALIPAY_PRIVATE_KEY "$VAR/keys/zfb_alipay_private.pem"
        env_line DEMO_V3_SITE demo-v3
        env_line DEMO_WX3_MERCHANT wx3-demo
        env_line DEMO_WX3_APP_ID wxd00000000demov3
        env_line DEMO_WX3_MCH_ID 1900000110
        env_line DEMO_WX3_APIV3_KEY_FILE "$VAR/keys/wx3_apiv3.key"
        env_line DEMO_WX3_PRIVATE_KEY "$VAR/keys/wx3_merchant_private.pem"
        env_line DEMO_WX3_CERT_SERIAL "$(cat "$VAR/keys/wx3_merchant.serial")"
        env_line DEMO_WX3_PLATFORM_PRIVATE_KEY "$VAR/keys/wx3_platform_private.pem"
        env_line DEMO_WX3_PUBKEY_ID PUB_KEY_ID_0119000001102026000000000001
        env_line DEMO_USD_SITE demo-usd
        env_line DEMO_PAYPAL_MERCHANT paypal-demo
        env_line DEMO_PAYPAL_CLIENT_ID AdemoPaypalClient0001
        env_line DEMO_PAYPAL_SECRET_FILE "$VAR/keys/paypal_demo.secret"
        env_line DEMO_PAYPAL_WEBHOOK_ID 1DEMO0000WEBHOOK1
        env_line PGHOST "$PGSOCK"
        env_line PGPORT "$pg_port"
        env_line PGDATABASE orderpay
        env_line PGUSER orderpay
        env_line PGDATA "$PGDATA"
        env_line PGBIN "$PGBIN"
        env_line ORDERPAY_CONFIG "$CONF"
        env_line ORDERPAY_VAR "$VAR"
        env_line ORDERPAY_BIN "$BIN"
        env_line STACK_LOG_DIR "$LOG"
        env_line ORDERPAYD_SOCKET "$ORDERPAYD_SOCK"
        env_line PAYSIM_SOCKET "$PAYSIM_SOCK"
        env_line ORDERPAYD_PID_FILE "$ORDERPAYD_PID"
        env_line PAYSIM_PID_FILE "$PAYSIM_PID"
        env_line NGINX_PID_FILE "$NGINX_PID"
        env_line NGINX_CONF "$VAR/nginx/nginx.conf"
        env_line DEMO_CHECKOUT_URL "$url/demo/"
        env_line API_PORT "$api_port"
        env_line SIM_PORT "$sim_port"
        env_line SIM_HTTPS_PORT "$https_port"
    } >"$ENV_FILE.tmp"
    chmod 600 "$ENV_FILE.tmp"
    mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

env_value() { sed -n "s/^export $1='\(.*\)'$/\1/p" "$ENV_FILE"; }

print_summary() {
    local ORDERPAY_URL PAYSIM_URL DEMO_TICKET
    ORDERPAY_URL=$(env_value ORDERPAY_URL)
    PAYSIM_URL=$(env_value PAYSIM_URL)
    DEMO_TICKET=$(env_value DEMO_TICKET)
    cat "$ENV_FILE"
    cat <<EOF

orderpay API:  $ORDERPAY_URL/api/demo/pay/   (health: $ORDERPAY_URL/healthz)
demo checkout: $ORDERPAY_URL/demo/   (open it in a browser; "pay with the sandbox phone" pays)
OpenAPI:       $ORDERPAY_URL/api/openapi.yaml
metrics:       $ORDERPAY_URL/metrics   (Prometheus text; this host only)
paysim:        $PAYSIM_URL/
logs:          $LOG/
environment:   . $ENV_FILE

Try it:
curl -s -X POST "$ORDERPAY_URL/api/demo/pay/buy?ticket=$DEMO_TICKET" -H 'Content-Type: application/json' -d '{"products":[{"id":"demo-tea","amount":2}],"pay_tp":"wx.qrcode"}'
EOF
}

stack_down() {
    rm -f -- "$ENV_FILE"
    nginx_down
    stop_pid orderpayd "$ORDERPAYD_PID" orderpayd TERM 15
    stop_pid paysim "$PAYSIM_PID" paysim TERM 15
    pg_down
}

up_failed() {
    ((UP_OK)) && return 0
    say "up failed; stopping what was started"
    tail_logs
    stack_down
}

cmd_up() {
    resolve_bin
    make_var
    set_paths
    lock_var
    if all_running && [[ -f $ENV_FILE ]]; then
        say "already up ($VAR)"
        print_summary
        return 0
    fi
    stack_down  # whatever is left of an earlier, partial stack
    UP_OK=0
    trap up_failed EXIT

    local api_port sim_port pg_port tls_port https_port
    read -r api_port sim_port pg_port tls_port https_port < <(free_ports 5) || true
    [[ -n $https_port ]] || die "could not pick free ports"
    export ORDERPAY_CONFIG=$CONF
    paypal_certs
    stack_tls
    write_config "$api_port" "$sim_port" "$pg_port" "$tls_port" "$https_port"
    pg_up "$pg_port"
    migrate
    seed_demo
    seed_demo_v3
    seed_paypal "$api_port"
    local ticket ticket_bob
    ticket=$(issue_ticket alice)
    ticket_bob=$(issue_ticket bob)
    start_app paysim "$PAYSIM_SOCK" "$PAYSIM_PID" "$BIN/paysim" serve
    start_app orderpayd "$ORDERPAYD_SOCK" "$ORDERPAYD_PID" "$BIN/orderpayd"
    nginx_up "$api_port" "$sim_port" "$tls_port" "$https_port"
    write_demo_config "$ticket"
    write_env "$api_port" "$sim_port" "$pg_port" "$ticket" "$ticket_bob" "$https_port"
    UP_OK=1
    trap - EXIT
    say "up ($VAR)"
    print_summary
}

cmd_down() {
    resolve_var
    [[ -d $VAR ]] || return 0
    set_paths
    lock_var
    stack_down
    say "down ($VAR)"
}

cmd_status() {
    resolve_var
    set_paths
    local name pidfile pid rc=0
    for name in nginx orderpayd paysim; do
        pidfile=$RUN/$name.pid
        if pid=$(live_pid "$pidfile" "$name"); then
            printf '%-10s running  pid %s, workers: %s\n' "$name" "$pid" "$(pgrep -P "$pid" | xargs)"
        else
            printf '%-10s stopped\n' "$name"
            rc=1
        fi
    done
    if pg_running; then
        printf '%-10s running  %s\n' postgres "$PGDATA"
    else
        printf '%-10s stopped\n' postgres
        rc=1
    fi
    [[ -f $ENV_FILE ]] && grep -E '^export (ORDERPAY_URL|PAYSIM_URL|PGPORT)=' "$ENV_FILE"
    return "$rc"
}

cmd_run() {
    cmd_up
    exec 9>&-  # release the lock: 'down' from another terminal must not block
    local stop=0 warned=0
    # HUP too: a closed terminal or SSH session must not leave the stack running behind it.
    trap 'stop=1' INT TERM HUP
    say "running in the foreground; Ctrl-C stops the stack"
    while ((!stop)); do
        sleep 1 &
        wait $! || true
        if ((!stop && !warned)) && ! all_running; then
            say "warning: part of the stack is no longer running (see deploy/stack.sh status)"
            warned=1
        fi
    done
    # A signal sent to the whole process group comes more than once: make forwards its own
    # SIGTERM to this shell, timeout signals the command and then its group. With the default
    # disposition back, the second one killed this shell inside `down`, leaving the stack up.
    # Ignored instead until the stack is down, also by the pg_ctl, kill and sleep that `down`
    # runs (they inherit it); each of its steps is bounded by a timeout.
    trap '' INT TERM HUP
    echo >&2
    cmd_down
    trap - INT TERM HUP
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    run) cmd_run ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 {up|down|run|status}" >&2
        exit 2
        ;;
esac
