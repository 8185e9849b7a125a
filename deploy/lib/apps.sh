# shellcheck shell=bash
# orderpayd, paysim, nginx and the demo data of the dev/test stack (deploy/stack.sh).

write_config() {
    local api_port=$1 sim_port=$2 pg_port=$3
    cat >"$CONF.tmp" <<EOF
# orderpay dev/test stack config, written by deploy/stack.sh on every 'up' (edits are lost).
# Every binary finds it through ORDERPAY_CONFIG; ORDERPAY_<KEY> environment variables override.
db = host=$PGSOCK port=$pg_port dbname=orderpay user=orderpay
listen = $ORDERPAYD_SOCK
workers = 4
log_file =
notify_base_url = http://127.0.0.1:$api_port
query_min_interval_ms = 1000

wxpay.gateway = http://127.0.0.1:$sim_port
wxpay.scan_poll_ms = 300
wxpay.scan_poll_tries = 10

alipay.gateway = http://127.0.0.1:$sim_port/gateway.do
alipay.scan_poll_ms = 300
alipay.scan_poll_tries = 5
alipay.cancel_tries = 3

paysim.listen = $PAYSIM_SOCK
paysim.workers = 4
EOF
    chmod 600 "$CONF.tmp"
    mv -f "$CONF.tmp" "$CONF"
}

op() { "$BIN/orderpay" "$@"; }
sim() { "$BIN/paysim" "$@"; }

# logged CMD ARGS...: runs an orderpay/paysim command with its output in $LOG/setup.log.
logged() {
    "$@" >>"$LOG/setup.log" 2>&1 || {
        tail -n 30 "$LOG/setup.log" >&2
        die "failed: $*"
    }
}

migrate() {
    say "migrating the database"
    logged op migrate
    logged sim migrate
}

# 32 random alphanumerics: a WeChat Pay v2 API key.
random_key() {
    "$PY" -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(32)), end="")'
}

# rsa_pair NAME: a fresh 2048-bit RSA key pair, $VAR/keys/NAME_private.pem and NAME_public.pem.
rsa_pair() {
    (umask 077 && openssl genrsa -out "$VAR/keys/$1_private.pem" 2048 2>/dev/null)
    openssl rsa -in "$VAR/keys/$1_private.pem" -pubout -out "$VAR/keys/$1_public.pem" 2>/dev/null
}

seed_demo() {
    if op site list --json 2>/dev/null | grep -q '"demo"'; then
        say "demo data present"
        return 0
    fi
    say "seeding demo data"
    local key=$VAR/keys/wx_demo.key
    (umask 077 && random_key >"$key")
    logged op store add demo-users --name "Demo accounts"
    logged op site add demo --store demo-users --name "Demo shop" --currency CNY
    logged op account add alice --store demo-users --name Alice --openid oDemoAliceOpenid0001
    logged op account add bob --store demo-users --name Bob --openid oDemoBobOpenid00002
    logged op product add demo-tea --site demo --title "Green tea" --price 12.50
    logged op product add demo-cup --site demo --title "Tea cup (limited)" --price 3.20 --stock 5
    logged op merchant add wx-demo --provider wx --app-id wxd0000000000demo --mch-id 1900000109 \
        --sign-type MD5 --key-file "$key"
    logged op seller set --site demo --prefix wx --merchant wx-demo
    logged sim merchant add --provider wx --app-id wxd0000000000demo --mch-id 1900000109 \
        --sign-type MD5 --key-file "$key"
    # Alipay sandbox merchant: our app key pair (paysim verifies with its public half) and a
    # stand-in "Alipay" key pair (paysim signs answers and notifications; we verify).
    rsa_pair zfb_app
    rsa_pair zfb_alipay
    logged op merchant add zfb-demo --provider zfb --app-id 2021000000000001 --seller-id 2088000000000001 \
        --app-private-key-file "$VAR/keys/zfb_app_private.pem" --alipay-public-key-file "$VAR/keys/zfb_alipay_public.pem"
    logged op seller set --site demo --prefix zfb --merchant zfb-demo
    logged sim merchant add --provider zfb --app-id 2021000000000001 --mch-id 2088000000000001 \
        --app-public-key-file "$VAR/keys/zfb_app_public.pem" --alipay-private-key-file "$VAR/keys/zfb_alipay_private.pem"
}

# Fresh tickets on every 'up' (cheap, and never stale); earlier ones stay valid until they expire.
issue_ticket() {
    local t
    t=$(op ticket issue --account "$1" --ttl-hours 720 | tail -n1 | tr -d '[:space:]')
    [[ $t =~ ^[A-Za-z0-9._~-]+$ ]] || die "orderpay ticket issue --account $1 printed no ticket"
    printf '%s\n' "$t"
}

# start_app NAME SOCKET PIDFILE COMMAND...: starts a FastCGI master in the background, in its
# own session (Ctrl-C in 'run' reaches only stack.sh, which then stops everything in order),
# with stdin on /dev/null so it binds SOCKET itself, and waits for the socket.
start_app() {
    local name=$1 sock=$2 pidfile=$3
    shift 3
    if [[ -e $sock ]]; then
        socket_live "$sock" && die "something already serves $sock"
        rm -f -- "$sock"
    fi
    say "starting $name"
    setsid "$@" </dev/null >>"$LOG/$name.log" 2>&1 9>&- &
    echo $! >"$pidfile"
    local pid=$! i
    for ((i = 0; i < 300; i++)); do
        [[ -S $sock ]] && return 0
        alive "$pid" "" || die "$name exited during startup (see $LOG/$name.log)"
        sleep 0.1
    done
    die "$name did not create $sock within 30s (see $LOG/$name.log)"
}

NGINX=$(command -v nginx || echo /usr/sbin/nginx)

nginx_up() {
    local api_port=$1 sim_port=$2 user_line
    user_line="# not root: the workers run as $(id -un)"
    is_root && user_line="user root;  # the workers must reach the sockets under the state dir"
    mkdir -p "$VAR/nginx/tmp"
    cp "$REPO/nginx/fastcgi_params.orderpay" "$VAR/nginx/fastcgi_params"
    # What nginx serves itself: the OpenAPI document (and the demo checkout page), copied so
    # its workers need no access to the source tree.
    rm -rf "$VAR/nginx/www"
    mkdir -p "$VAR/nginx/www"
    cp "$REPO/api/openapi.yaml" "$VAR/nginx/www/openapi.yaml"
    cp -R "$REPO/web/demo" "$VAR/nginx/www/demo"
    chmod -R a+rX "$VAR/nginx/www"
    sed -e "s|@VAR@|$VAR|g" -e "s|@API_PORT@|$api_port|g" -e "s|@SIM_PORT@|$sim_port|g" \
        -e "s|@USER_LINE@|$user_line|" "$REPO/nginx/dev.conf.template" >"$VAR/nginx/nginx.conf"
    "$NGINX" -t -q -p "$VAR/nginx" -e "$LOG/nginx-error.log" -c "$VAR/nginx/nginx.conf" ||
        die "nginx config test failed ($VAR/nginx/nginx.conf)"
    say "starting nginx on 127.0.0.1:$api_port (API) and 127.0.0.1:$sim_port (paysim)"
    # shellcheck disable=SC2094  # nginx appends to its error log, as does the redirection
    "$NGINX" -p "$VAR/nginx" -e "$LOG/nginx-error.log" -c "$VAR/nginx/nginx.conf" \
        </dev/null >/dev/null 2>>"$LOG/nginx-error.log" 9>&- ||
        die "nginx did not start (see $LOG/nginx-error.log)"
    wait_for "nginx pid file" 10 live_pid "$NGINX_PID" nginx >/dev/null
}

# write_demo_config TICKET: the demo checkout's config.js (site, the demo buyer's ticket, the
# demo products as `product list` prints them, and the sandbox button), next to the page.
write_demo_config() {
    local products
    products=$(op product list --site demo --json | tr -d '\n')
    [[ $products == \[* ]] || die "orderpay product list printed no JSON list"
    {
        echo "// Written by deploy/stack.sh up for this stack only: the demo buyer's ticket is a dev credential."
        printf 'window.ORDERPAY_DEMO = {"site": "demo", "ticket": "%s", "sandbox": true, "products": %s};\n' \
            "$1" "$products"
    } >"$VAR/nginx/www/demo/config.js.tmp"
    chmod 644 "$VAR/nginx/www/demo/config.js.tmp"
    mv -f "$VAR/nginx/www/demo/config.js.tmp" "$VAR/nginx/www/demo/config.js"
}

nginx_down() {
    # SIGQUIT is what 'nginx -s quit' sends: finish the requests in flight, then exit.
    stop_pid nginx "$NGINX_PID" nginx QUIT 10
}
