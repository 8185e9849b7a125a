# shellcheck shell=bash
# orderpayd, paysim, nginx and the demo data of the dev/test stack (deploy/stack.sh).

write_config() {
    local api_port=$1 sim_port=$2 pg_port=$3 tls_port=$4 https_port=$5
    cat >"$CONF.tmp" <<EOF
# orderpay dev/test stack config, written by deploy/stack.sh on every 'up' (edits are lost).
# Every binary finds it through ORDERPAY_CONFIG; ORDERPAY_<KEY> environment variables override.
db = host=$PGSOCK port=$pg_port dbname=orderpay user=orderpay
listen = $ORDERPAYD_SOCK
workers = 4
log_file =
notify_base_url = http://127.0.0.1:$api_port
query_min_interval_ms = 1000
# Off here: the tests make paysim time out on purpose, and every provider is one origin (nginx in
# front of paysim), so a breaker opened by one test would fail the next test's calls at once.
# test_provider_breaker.py turns it on for an orderpayd of its own. Production keeps the default.
http.breaker_timeouts = 0

# paysim's gateways over https as in production: a certificate from this stack's own CA,
# verified (peer and host name) against it; /secapi/* also wants the merchant's certificate.
tls.ca_file = $VAR/keys/tls/ca.pem

wxpay.gateway = https://127.0.0.1:$https_port
wxpay.scan_poll_ms = 300
wxpay.scan_poll_tries = 10

alipay.gateway = https://127.0.0.1:$https_port/gateway.do
alipay.scan_poll_ms = 300
alipay.scan_poll_tries = 5
alipay.cancel_tries = 3

paypal.gateway = https://127.0.0.1:$https_port
# paysim signs webhooks with its own CA's certificate, served over https by nginx.
paypal.cert_hosts = 127.0.0.1:$tls_port
paypal.ca_file = $VAR/keys/paypal/paysim_ca.pem
paypal.cert_cn_suffix = .paysim.test

paysim.listen = $PAYSIM_SOCK
paysim.paypal_cert_base = https://127.0.0.1:$tls_port/v1/notifications/certs/
paysim.paypal_sign_key_file = $VAR/keys/paypal/paypal_sign_key.pem
# The buyer's side of PayPal (www.paypal.com; the API above is api-m): approval links point at
# paysim's plain-http address, so a browser needs no trust in the stack's CA.
paysim.paypal_web_base = http://127.0.0.1:$sim_port
paysim.workers = 4
EOF
    chmod 600 "$CONF.tmp"
    mv -f "$CONF.tmp" "$CONF"
}

op() { "$BIN/orderpay" "$@"; }

# paysim's PayPal webhook certificates (deploy/lib/paypal_certs.py), made once per state dir.
paypal_certs() {
    [[ -f $VAR/keys/paypal/certs/CERT-paysim ]] && return 0
    mkdir -p "$VAR/keys/paypal"
    "$PY" "$REPO/deploy/lib/paypal_certs.py" "$VAR/keys/paypal" || die "could not make the PayPal test certificates"
}
sim() { "$BIN/paysim" "$@"; }

# issue NAME SUBJECT EXT: a 2048-bit key $TLS/NAME_key.pem and a certificate $TLS/NAME.pem for
# SUBJECT signed by the stack CA, with the extensions EXT (openssl -extfile lines).
issue_cert() {
    local tls=$VAR/keys/tls
    (umask 077 && openssl req -new -newkey rsa:2048 -nodes -keyout "$tls/$1_key.pem" -subj "$2" \
        -out "$tls/$1.csr" 2>/dev/null)
    printf '%b\n' "$3" >"$tls/$1.ext"
    openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca_key.pem" -days 3650 \
        -set_serial "0x$(openssl rand -hex 8)" -extfile "$tls/$1.ext" -out "$tls/$1.pem" 2>/dev/null
    rm -f "$tls/$1.csr" "$tls/$1.ext"
}

# The stack's own CA (made once per state dir), paysim's https certificate for 127.0.0.1 from
# it, and the demo WeChat merchant's API client certificate (CN = its mch_id, as WeChat issues).
stack_tls() {
    local tls=$VAR/keys/tls
    [[ -f $tls/wx_demo_client.pem ]] && return 0
    mkdir -p "$tls"
    (umask 077 && openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$tls/ca_key.pem" -out "$tls/ca.pem" \
        -days 3650 -subj "/O=orderpay dev stack/CN=orderpay dev stack CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null) ||
        die "could not make the stack CA"
    chmod 644 "$tls/ca.pem"
    issue_cert paysim "/O=orderpay dev stack/CN=127.0.0.1" \
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE" ||
        die "could not make paysim's certificate"
    issue_cert wx_demo_client "/O=orderpay demo/OU=WeChat Pay API certificate/CN=1900000109" \
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE" || die "could not make the demo client certificate"
}

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
        --sign-type MD5 --key-file "$key" --client-cert-file "$VAR/keys/tls/wx_demo_client.pem" \
        --client-key-file "$VAR/keys/tls/wx_demo_client_key.pem"
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

# self_signed NAME SUBJECT: a certificate for $VAR/keys/NAME_private.pem; prints its serial in
# upper-case hex (WeChat Pay names certificates by it).
self_signed() {
    openssl req -x509 -new -key "$VAR/keys/$1_private.pem" -subj "$2" -days 3650 \
        -set_serial "0x$(openssl rand -hex 8 | sed 's/^0*//' | tr a-f A-F)" -out "$VAR/keys/$1_cert.pem" 2>/dev/null
    openssl x509 -in "$VAR/keys/$1_cert.pem" -noout -serial | sed 's/^serial=//; s/^0*//'
}

# The WeChat Pay API v3 demo: site demo-v3 (same account store, so DEMO_TICKET buys there) whose
# WeChat seller is a v3 merchant in public-key mode; paysim signs with the "platform" key under
# the public-key ID.
seed_demo_v3() {
    if op site list --json 2>/dev/null | grep -q '"demo-v3"'; then
        say "demo-v3 data present"
        return 0
    fi
    say "seeding demo-v3 (WeChat Pay API v3)"
    rsa_pair wx3_merchant
    rsa_pair wx3_platform
    self_signed wx3_merchant "/CN=1900000110/O=orderpay demo/OU=WeChat Pay v3" >"$VAR/keys/wx3_merchant.serial"
    (umask 077 && random_key >"$VAR/keys/wx3_apiv3.key")
    local serial pubid=PUB_KEY_ID_0119000001102026000000000001
    serial=$(cat "$VAR/keys/wx3_merchant.serial")
    logged op site add demo-v3 --store demo-users --name "Demo shop (WeChat Pay v3)" --currency CNY
    logged op product add demo-tea --site demo-v3 --title "Green tea" --price 12.50
    logged op merchant add wx3-demo --provider wx --api v3 --app-id wxd00000000demov3 --mch-id 1900000110 \
        --private-key-file "$VAR/keys/wx3_merchant_private.pem" --cert-serial "$serial" \
        --cert-file "$VAR/keys/wx3_merchant_cert.pem" --apiv3-key-file "$VAR/keys/wx3_apiv3.key" \
        --wechatpay-public-key-file "$VAR/keys/wx3_platform_public.pem" --wechatpay-public-key-id "$pubid"
    logged op seller set --site demo-v3 --prefix wx --merchant wx3-demo
    logged sim merchant add --provider wx --api v3 --app-id wxd00000000demov3 --mch-id 1900000110 \
        --merchant-public-key-file "$VAR/keys/wx3_merchant_cert.pem" --cert-serial "$serial" \
        --apiv3-key-file "$VAR/keys/wx3_apiv3.key" --platform-private-key-file "$VAR/keys/wx3_platform_private.pem" \
        --public-key-id "$pubid"
}

# The PayPal demo: site demo-usd (USD) on the demo account store, so DEMO_TICKET buys there too,
# with a PayPal REST app known to both orderpay and paysim. Its own presence check, so a state
# dir seeded before PayPal existed gets it on the next 'up'.
seed_paypal() {
    local api_port=$1
    if ! op site list --json 2>/dev/null | grep -q '"demo-usd"'; then
        say "seeding the PayPal demo (site demo-usd)"
        (umask 077 && random_key >"$VAR/keys/paypal_demo.secret")
        logged op site add demo-usd --store demo-users --name "Demo shop (USD)" --currency USD
        logged op product add demo-tea --site demo-usd --title "Green tea" --price 4.50
        logged op merchant add paypal-demo --provider paypal --client-id AdemoPaypalClient0001 \
            --secret-file "$VAR/keys/paypal_demo.secret" --webhook-id 1DEMO0000WEBHOOK1
        logged op seller set --site demo-usd --prefix paypal --merchant paypal-demo
        logged sim merchant add --provider paypal --client-id AdemoPaypalClient0001 \
            --secret-file "$VAR/keys/paypal_demo.secret" --webhook-id 1DEMO0000WEBHOOK1
    fi
    # The shop's page a buyer returning from PayPal lands on (the port changes on every 'up').
    logged op site set demo-usd --return-url "http://127.0.0.1:$api_port/shop/return"
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
    local api_port=$1 sim_port=$2 tls_port=$3 https_port=$4 user_line
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
    sed -e "s|@VAR@|$VAR|g" -e "s|@API_PORT@|$api_port|g" -e "s|@SIM_PORT@|$sim_port|g" -e "s|@SIM_TLS_PORT@|$tls_port|g" \
        -e "s|@SIM_HTTPS_PORT@|$https_port|g" \
        -e "s|@USER_LINE@|$user_line|" "$REPO/nginx/dev.conf.template" >"$VAR/nginx/nginx.conf"
    "$NGINX" -t -q -p "$VAR/nginx" -e "$LOG/nginx-error.log" -c "$VAR/nginx/nginx.conf" ||
        die "nginx config test failed ($VAR/nginx/nginx.conf)"
    say "starting nginx on 127.0.0.1:$api_port (API), 127.0.0.1:$sim_port and https $https_port (paysim)"
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
