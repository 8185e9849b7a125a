"""Hostile input through nginx (issue #6): text that is not UTF-8 or holds NUL, ids that cannot
exist, JSON fields of the wrong type, duplicate keys, the wrong Content-Type, /healthz methods,
and nginx's own error pages in both configs. Each case gets its 400/404/405/415 and writes
nothing; none of them may ever be a 500."""

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error

import pytest

import openapi_check
from conftest import PSQL, STACK, api, api_url, http as http_req
from helpers import buy_ok, free_port, read_until_close, wait_for

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TICKET = STACK["DEMO_TICKET"]
PRODUCT = STACK["DEMO_PRODUCT"]
JSON = {"Content-Type": "application/json"}
API_PORT = int(STACK["API_PORT"])


def pipelined_tls(port, req, n, source=None):
    """`req` sent `n` times on one TLS connection to the production nginx (the last closing it),
    and every byte of the replies."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=source)
    with ctx.wrap_socket(sock) as s:
        s.sendall(req * (n - 1) + req.replace(b"Host:", b"Connection: close\r\nHost:"))
        return read_until_close(s)


def pg_env():
    env = dict(os.environ)
    for key in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER"):
        env[key] = STACK[key]
    return env


def psql_at(sql):
    return subprocess.run([PSQL, "-X", "-At", "-c", sql], env=pg_env(), check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


def written():
    """Rows a request could have written: orders, their lines and slips."""
    return psql_at("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items), "
                   "(SELECT count(*) FROM pay_slips)")


def expect(resp, status, code, field=None):
    st, body, raw, headers = resp
    assert st == status, raw
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert body["ok"] is False and body["errCode"] == code, raw
    assert body.get("msg"), raw
    if field is not None:
        assert field in body["msg"], raw
    return body


def refused(status, code, field=None, **req):
    """Sends one request (conftest.api's arguments) and checks its answer and that nothing was written."""
    before = written()
    body = expect(api(**req), status, code, field)
    assert written() == before
    return body


def buy_raw(body, headers=JSON):
    return dict(method="POST", action="buy", ticket=TICKET, raw_body=body, headers=headers)


def line(pid=PRODUCT, amount=1):
    return '{"id":"%s","amount":%d}' % (pid, amount)


@pytest.fixture(scope="module")
def order():
    return buy_ok("wx.qrcode")


# --- 1. text: UTF-8 without NUL, or 400 e.www.api.invalid.encoding ---------------------------

@pytest.mark.parametrize("action", ["check", "check_order", "pay"])
def test_query_id_not_utf8(action):
    refused(400, "e.www.api.invalid.encoding", method="GET", action=action, ticket=TICKET, params={"id": b"\xff"})


def test_query_ticket_not_utf8():
    refused(400, "e.www.api.invalid.encoding", method="GET", action="check", ticket=b"\xfe\xff",
            params={"id": "abc"})


def test_query_pt_not_utf8(order):
    refused(400, "e.www.api.invalid.encoding", method="GET", action="pay", ticket=TICKET,
            params={"id": order["id"], "pt": b"wx.qrcode\xff"})


def test_query_name_not_utf8(order):
    refused(400, "e.www.api.invalid.encoding", method="GET", action="check", ticket=TICKET,
            params=[("id", order["id"]), (b"\xff", "x")])


@pytest.mark.parametrize("action", ["check", "check_order", "pay"])
def test_query_id_with_nul_does_not_find_the_order(order, action):
    # PostgreSQL used to see "<id>" (a C string ends at NUL) and answer the order.
    refused(400, "e.www.api.invalid.encoding", method="GET", action=action, ticket=TICKET,
            params={"id": order["id"] + "\x00"})


def test_buy_ticket_with_nul():
    refused(400, "e.www.api.invalid.encoding", method="POST", action="buy", ticket=TICKET + "\x00",
            json={"products": [{"id": PRODUCT}], "pay_tp": "wx.qrcode"})


def test_site_in_path_not_utf8():
    refused(400, "e.www.api.invalid.encoding", method="GET", action="check", ticket=TICKET, site="%FF%FE",
            params={"id": "abc"})


@pytest.mark.parametrize("field", ["title", "note", "name", "email", "address", "company"])
def test_buy_string_field_not_utf8(field):
    body = b'{"products":[' + line().encode() + b'],"pay_tp":"wx.qrcode","' + field.encode() + b'":"a\xff\xfeb"}'
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


def test_buy_product_id_not_utf8():
    body = b'{"products":[{"id":"demo-\xff\xfe","amount":1}],"pay_tp":"wx.qrcode"}'
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


def test_buy_key_not_utf8():
    body = b'{"products":[' + line().encode() + b'],"pay_tp":"wx.qrcode","\xff":"x"}'
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


def test_buy_raw_nul_byte_in_body():
    body = b'{"products":[' + line().encode() + b'],"pay_tp":"wx.qrcode"}\x00'
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


def test_buy_product_id_with_nul_is_not_a_second_line():
    # "demo-tea\u0000a" used to become a second demo-tea line: 2 x 9,999 past the 10,000 cap.
    body = ('{"products":[%s,{"id":"%s\\u0000a","amount":9999}],"pay_tp":"wx.qrcode"}'
            % (line(amount=9999), PRODUCT))
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


@pytest.mark.parametrize("field", ["title", "note", "phone", "postcode"])
def test_buy_string_field_with_nul(field):
    body = '{"products":[%s],"pay_tp":"wx.qrcode","%s":"a\\u0000b"}' % (line(), field)
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


def test_buy_key_with_nul():
    body = '{"products":[%s],"pay_tp":"wx.qrcode","na\\u0000me":"x"}' % line()
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


def test_buy_lone_surrogate_escape():
    # RapidJSON 1.1 lets a lone low surrogate through as the bytes ED B0 80, which PostgreSQL refuses.
    body = '{"products":[%s],"pay_tp":"wx.qrcode","title":"\\udc00"}' % line()
    refused(400, "e.www.api.invalid.encoding", **buy_raw(body))


# --- 2. ids that cannot exist: 404 without a query -----------------------------------------

@contextlib.contextmanager
def table_locked(table):
    """Holds an ACCESS EXCLUSIVE lock on `table`: any request that queries it waits until the end."""
    proc = subprocess.Popen([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1"], env=pg_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        proc.stdin.write("BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n" % table)
        proc.stdin.flush()
        held = ("SELECT count(*) FROM pg_locks WHERE relation = '%s'::regclass "
                "AND mode = 'AccessExclusiveLock' AND granted" % table)
        assert wait_for(lambda: psql_at(held) == "1", 10), "could not lock " + table
        yield
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.write("ROLLBACK;\n")
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def quick(method, url, timeout=5):
    """The answer within `timeout` seconds, or None if the request is still waiting (a query)."""
    try:
        return http_req(method, url, timeout=timeout)
    except (TimeoutError, socket.timeout, urllib.error.URLError):
        return None


@pytest.mark.parametrize("action", ["check", "check_order", "pay"])
@pytest.mark.parametrize("bad_id", ["ABCDEF", "abc-def", "abc def", "abc.def", "é"])
def test_impossible_order_id_is_404_without_a_query(action, bad_id):
    with table_locked("orders"):
        resp = quick("GET", api_url(action, TICKET, {"id": bad_id}))
        assert resp is not None, "the handler queried the locked orders table for %r" % bad_id
        expect(resp, 404, "e.io.obj.noexists")


def test_possible_order_id_does_query():
    # The control for the test above: a well-formed id waits for the lock.
    with table_locked("orders"):
        assert quick("GET", api_url("check", TICKET, {"id": "nosuchorder"}), timeout=1.5) is None


@pytest.mark.parametrize("site", ["bad$site", "a" * 65, "de%20mo", "shop!", "caf%C3%A9"])
def test_impossible_site_is_no_such_site_without_a_query(site):
    with table_locked("sites"):
        resp = quick("GET", api_url("check", TICKET, {"id": "abc"}, site=site))
        assert resp is not None, "the dispatcher queried the locked sites table for %r" % site
        expect(resp, 404, "e.www.site.noexists")


# --- 3. pay/buy: strict types, no duplicate keys, JSON only ---------------------------------

@pytest.mark.parametrize("extra, field", [
    ('"title":5', "title"),
    ('"note":["n"]', "note"),
    ('"tp":1', "tp"),
    ('"pay_tp":1', "pay_tp"),
    ('"auth_code":130000000000000001', "auth_code"),
    ('"email":{"x":1}', "email"),
    ('"phone":13800000000', "phone"),
    ('"name":true', "name"),
    ('"address":["1 Tea Road"]', "address"),
])
def test_buy_field_of_wrong_type(extra, field):
    body = '{"products":[%s],"pay_tp":"wx.qrcode",%s}' % (line(), extra)
    if field == "pay_tp":
        body = '{"products":[%s],%s}' % (line(), extra)
    refused(400, "e.www.order.invalid.field", field, **buy_raw(body))


@pytest.mark.parametrize("products, field", [
    ('[{"id":5}]', "products[].id"),
    ('[{"id":["%s"]}]' % PRODUCT, "products[].id"),
    ('[{"id":"%s","amount":"2"}]' % PRODUCT, "products[].amount"),
    ('[{"id":"%s","amount":{"n":2}}]' % PRODUCT, "products[].amount"),
    ('"%s"' % PRODUCT, "products"),
])
def test_buy_product_field_of_wrong_type(products, field):
    body = '{"products":%s,"pay_tp":"wx.qrcode"}' % products
    refused(400, "e.www.order.invalid.field", field, **buy_raw(body))


@pytest.mark.parametrize("body", [
    '{"products":[%s],"pay_tp":"wx.qrcode","pay_tp":"zfb.qrcode"}' % line(),
    '{"products":[%s],"products":[%s],"pay_tp":"wx.qrcode"}' % (line(), line(amount=3)),
    '{"products":[{"id":"%s","id":"%s","amount":1}],"pay_tp":"wx.qrcode"}' % (PRODUCT, PRODUCT),
    '{"products":[{"id":"%s","amount":1,"amount":2}],"pay_tp":"wx.qrcode"}' % PRODUCT,
    '{"products":[%s],"pay_tp":"wx.qrcode","title":"a","\\u0074itle":"b"}' % line(),
])
def test_buy_duplicate_keys(body):
    refused(400, "e.www.api.invalid.json", **buy_raw(body))


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                                          "application/xml", "application/jsonp"])
def test_buy_content_type_not_json_is_415(content_type):
    body = '{"products":[%s],"pay_tp":"wx.qrcode"}' % line()
    refused(415, "e.www.api.unsupported_media_type", **buy_raw(body, {"Content-Type": content_type}))


def test_buy_without_content_type_is_415():
    # urllib would add a form Content-Type of its own: send the request by hand.
    body = ('{"products":[%s],"pay_tp":"wx.qrcode"}' % line()).encode()
    before = written()
    reply = raw_request(API_PORT, b"POST /api/demo/pay/buy?ticket=" + TICKET.encode() + b" HTTP/1.1\r\n"
                        b"Host: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    expect_json_error(reply, 415, "e.www.api.unsupported_media_type")
    assert written() == before


def test_buy_json_with_charset_parameter_is_accepted():
    body = '{"products":[%s],"pay_tp":"wx.qrcode"}' % line()
    st, resp, raw, _ = api(**buy_raw(body, {"Content-Type": "Application/JSON; charset=utf-8"}))
    assert st == 200 and resp["ok"] is True, raw


# --- /healthz: GET and HEAD only -----------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_healthz_other_methods_405(method):
    st, body, raw, headers = http_req(method, STACK["ORDERPAY_URL"] + "/healthz", body=b"")
    assert st == 405 and body["errCode"] == "e.www.api.method", raw
    assert headers.get("allow") == "GET, HEAD", headers


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_healthz_get_and_head(method):
    st, _, raw, _ = http_req(method, STACK["ORDERPAY_URL"] + "/healthz")
    assert st == 200, raw


# --- 4. nginx's own errors are the API's JSON (dev/test config) -----------------------------

def whole_reply(out):
    """Whether `out` holds a reply's head and all the body its Content-Length names (nginx keeps
    the connection open after it)."""
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep or b"content-length:" not in head.lower():
        return False
    return len(body) >= int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])


def raw_request(port, data, tls=False, timeout=10, source=None):
    """Sends raw bytes to 127.0.0.1:port (from `source`, e.g. ("127.0.0.2", 0), to be another
    client address); returns (status, headers, body) of the reply."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=source)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
    with sock:
        sock.sendall(data)
        out = read_until_close(sock, whole_reply)
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    # Validated like every other reply; a request line that does not parse names no operation.
    request_line = data.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    method, target = (request_line[0], request_line[1]) if len(request_line) == 3 else ("GET", "/")
    openapi_check.check_reply(method, target, status, headers, body)
    return status, headers, body


def expect_json_error(reply, status, code):
    st, headers, body = reply
    assert st == status, (st, body)
    assert headers.get("content-type", "").startswith("application/json"), headers
    parsed = json.loads(body)
    assert parsed["ok"] is False and parsed["errCode"] == code and parsed["msg"], body


NGINX_CASES = [
    # 414: the request line is longer than large_client_header_buffers (8k).
    ("uri_too_long", b"GET /api/demo/pay/check?id=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     414, "e.www.api.uri_too_long"),
    # 400 before any URI: a request line that does not parse.
    ("garbage", b"GARBAGE\r\n\r\n", 400, "e.www.api.bad_request"),
    ("no_host", b"GET /api/demo/pay/check HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "e.www.api.bad_request"),
    ("nul_in_path", b"GET /api/demo%00/pay/check HTTP/1.1\r\nHost: x\r\n\r\n", 400, "e.www.api.bad_request"),
    # A header line over 8k (nginx's 494, sent as 400).
    ("header_too_large", b"GET /api/demo/pay/check HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n",
     400, "e.www.api.bad_request"),
    # 413: over client_max_body_size (64k), refused on the Content-Length alone.
    ("body_too_large", b"POST /api/demo/pay/buy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 70000\r\n\r\n", 413, "e.www.api.too_large"),
    ("healthz_body_too_large", b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
     413, "e.www.api.too_large"),
]


@pytest.mark.parametrize("name, data, status, code", NGINX_CASES, ids=[c[0] for c in NGINX_CASES])
def test_nginx_error_pages_are_json(name, data, status, code):
    expect_json_error(raw_request(API_PORT, data), status, code)


def expect_provider_fail(reply, status, form):
    """A provider's own failure reply (what orderpayd answers it), with nginx's status: WeChat v2's
    XML FAIL, v3's {"code":"FAIL"}, Alipay's `fail`; PayPal reads any non-2xx, so the API's JSON."""
    st, headers, body = reply
    assert st == status, (st, body)
    ct = headers.get("content-type", "")
    if form == "wx":
        assert ct.startswith("text/xml") and body.startswith(b"<xml><return_code><![CDATA[FAIL]]></return_code>"), \
            (headers, body)
    elif form == "wx3":
        assert ct.startswith("application/json") and json.loads(body)["code"] == "FAIL", (headers, body)
    elif form == "zfb":
        assert ct.startswith("text/plain") and body == b"fail", (headers, body)
    else:
        assert ct.startswith("application/json") and json.loads(body)["errCode"] == form, (headers, body)


def too_large(path, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: shop.example.com\r\nContent-Type: text/xml\r\n" + extra +
            b"Content-Length: 70000\r\n\r\n")


# nginx's own errors on the notification endpoints, in the words each provider reads (review
# s30-attack L2: they were the API's JSON, which WeChat v2 cannot parse).
NOTIFY_CASES = [
    ("re_wx_v2", too_large(b"/api/demo/pay/re_wx"), "wx"),
    ("re_wx_v2_query", too_large(b"/api/demo/pay/re_wx?x=1"), "wx"),
    ("re_wx_v3", too_large(b"/api/demo/pay/re_wx", b"Wechatpay-Signature: c2ln\r\n"), "wx3"),
    ("re_zfb", too_large(b"/api/demo/pay/re_zfb"), "zfb"),
    ("re_paypal", too_large(b"/api/demo/pay/re_paypal"), "e.www.api.too_large"),
    # Only the notification endpoints: an action merely named like one is the API's.
    ("re_wxx", too_large(b"/api/demo/pay/re_wxx"), "e.www.api.too_large"),
    ("buy_with_v3_header", too_large(b"/api/demo/pay/buy", b"Wechatpay-Signature: c2ln\r\n"), "e.www.api.too_large"),
]


@pytest.mark.parametrize("name, data, form", NOTIFY_CASES, ids=[c[0] for c in NOTIFY_CASES])
def test_nginx_errors_on_notifications_are_in_the_providers_words(name, data, form):
    expect_provider_fail(raw_request(API_PORT, data), 413, form)


# --- 4. the production config (nginx/orderpay.conf) -----------------------------------------

@pytest.fixture(scope="module")
def prod_nginx():
    """nginx/orderpay.conf as installed, on local ports with a throw-away certificate, in front of
    a socket nobody listens on (so every API call is nginx's own 502). Yields the HTTPS port."""
    tmp = tempfile.mkdtemp(prefix="orderpay-prodnginx.")
    os.chmod(tmp, 0o755)
    http_port, https_port = free_port(), free_port()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", os.path.join(tmp, "key.pem"), "-out", os.path.join(tmp, "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    with open(os.path.join(REPO, "nginx", "orderpay.conf"), encoding="utf-8") as f:
        conf = f.read()
    for old, new in [
        ("listen [::]:80;", ""),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", "listen 127.0.0.1:%d;" % http_port),
        ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % https_port),
        ("/etc/letsencrypt/live/shop.example.com/fullchain.pem", os.path.join(tmp, "cert.pem")),
        ("/etc/letsencrypt/live/shop.example.com/privkey.pem", os.path.join(tmp, "key.pem")),
        ("/etc/nginx/orderpay_fastcgi_params", os.path.join(REPO, "nginx", "fastcgi_params.orderpay")),
        ("unix:/run/orderpay/orderpayd.sock", "unix:%s/nobody.sock" % tmp),
        ("/var/log/nginx/", tmp + "/"),
        ("root /var/www/shop;", "root %s;" % tmp),
        ("/usr/share/orderpay/openapi.yaml", os.path.join(tmp, "openapi.yaml")),
    ]:
        assert old in conf, "nginx/orderpay.conf no longer has %r: update this fixture" % old
        conf = conf.replace(old, new)
    with open(os.path.join(tmp, "orderpay.conf"), "w", encoding="utf-8") as f:
        f.write(conf)
    shutil.copy(os.path.join(REPO, "api", "openapi.yaml"), os.path.join(tmp, "openapi.yaml"))
    os.chmod(os.path.join(tmp, "openapi.yaml"), 0o644)
    temp = "".join("    %s_temp_path %s/%s;\n" % (k, tmp, k) for k in ("client_body", "fastcgi", "proxy", "scgi", "uwsgi"))
    with open(os.path.join(tmp, "nginx.conf"), "w", encoding="utf-8") as f:
        f.write("%spid %s/nginx.pid;\nevents { worker_connections 64; }\nhttp {\n%s    include %s/orderpay.conf;\n}\n"
                % ("user root;\n" if os.geteuid() == 0 else "", tmp, temp, tmp))
    cmd = ["nginx", "-p", tmp, "-e", os.path.join(tmp, "error.log"), "-c", os.path.join(tmp, "nginx.conf")]
    test = subprocess.run(cmd + ["-t", "-q"], capture_output=True, text=True, timeout=30)
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen(cmd + ["-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", https_port), timeout=1):
            return True
        return False

    try:
        assert wait_for(listening, 10), "production nginx did not start"
        yield https_port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


PROD_CASES = NGINX_CASES + [
    ("no_upstream", b"GET /api/demo/pay/check HTTP/1.1\r\nHost: shop.example.com\r\n\r\n", 502, "e.sys.unavailable"),
    # A browser's return (GET) to re_zfb is a shopper's request: the API's JSON, not Alipay's `fail`.
    ("zfb_return_no_upstream", b"GET /api/demo/pay/re_zfb?out_trade_no=x HTTP/1.1\r\nHost: shop.example.com\r\n\r\n",
     502, "e.sys.unavailable"),
]


@pytest.mark.parametrize("name, data, status, code", PROD_CASES, ids=[c[0] for c in PROD_CASES])
def test_production_nginx_error_pages_are_json(prod_nginx, name, data, status, code):
    time.sleep(0.2)  # stay well inside the per-address rate limit (10 r/s, burst 20)
    expect_json_error(raw_request(prod_nginx, data, tls=True), status, code)


@pytest.mark.parametrize("name, data, form", NOTIFY_CASES, ids=[c[0] for c in NOTIFY_CASES])
def test_production_nginx_errors_on_notifications_are_in_the_providers_words(prod_nginx, name, data, form):
    time.sleep(0.2)  # stay well inside the per-address rate limit (10 r/s, burst 20)
    expect_provider_fail(raw_request(prod_nginx, data, tls=True), 413, form)
    # With orderpayd down (nothing listens behind this nginx): its 502, in the same words.
    small = data.replace(b"Content-Length: 70000\r\n\r\n", b"Connection: close\r\nContent-Length: 6\r\n\r\n<xml/>")
    time.sleep(0.2)
    expect_provider_fail(raw_request(prod_nginx, small, tls=True), 502,
                         "e.sys.unavailable" if form.startswith("e.") else form)


def test_production_nginx_serves_openapi(prod_nginx):
    time.sleep(0.2)  # inside the rate limit, should it ever apply here
    st, headers, body = raw_request(prod_nginx, b"GET /api/openapi.yaml HTTP/1.1\r\nHost: shop.example.com\r\n"
                                    b"Connection: close\r\n\r\n", tls=True)
    assert st == 200 and headers["content-type"] == "application/yaml", (st, headers)
    with open(os.path.join(REPO, "api", "openapi.yaml"), "rb") as f:
        assert body == f.read()
    # Its location's own add_header (Cache-Control) drops the server's unless it repeats them
    # (review s28-newuser #11): the same headers as every other reply.
    assert headers.get("cache-control") == "public, max-age=300", headers
    assert headers.get("strict-transport-security") == "max-age=63072000", headers
    assert re.fullmatch(r"[0-9a-f]{32}", headers.get("x-request-id", "")), headers


def test_production_nginx_limits_connections_per_address(prod_nginx):
    # Requests whose bodies never come are in progress (limit_conn counts them) until we close.
    held = []
    try:
        for _ in range(4):
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", prod_nginx), timeout=10))
            s.sendall(b"POST /api/demo/pay/buy HTTP/1.1\r\nHost: shop.example.com\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            held.append(s)
        time.sleep(0.5)
        reply = raw_request(prod_nginx, b"GET /api/demo/pay/check HTTP/1.1\r\nHost: shop.example.com\r\n\r\n",
                            tls=True)
        expect_json_error(reply, 429, "e.www.api.rate_limited")
    finally:
        for s in held:
            s.close()
    time.sleep(0.5)
    # Once they are gone, the same address is served again (nginx's 502: nothing listens behind it).
    reply = raw_request(prod_nginx, b"GET /api/demo/pay/check HTTP/1.1\r\nHost: shop.example.com\r\n\r\n", tls=True)
    expect_json_error(reply, 502, "e.sys.unavailable")


def test_production_nginx_gives_the_back_office_a_limit_of_its_own(prod_nginx):
    """A back office ships a day's orders from one address: admin/* (but admin/ticket, which has
    its own) is limited at 50 r/s, bursts of 100, not at the shoppers' 10 r/s, bursts of 20, which
    refused a loop over admin/done after ~24 calls (review s28-newuser #5). Requests pipelined on
    one connection (one in flight at a time); nginx's own 502 means passed: nothing listens."""
    def pipeline(req, n, source):
        out = pipelined_tls(prod_nginx, req, n, source)
        return out.count(b"HTTP/1.1 502 "), out.count(b"HTTP/1.1 429 ")

    body = b'{"order":"k3v9x0q2m7c1z8w4r6t5y2u1pa"}'
    done = (b"POST /api/demo/admin/done HTTP/1.1\r\nHost: shop.example.com\r\nAuthorization: Bearer x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    order = b"GET /api/demo/admin/order?id=k3v9x0q2m7c1z8w4r6t5y2u1pa HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
    for req, source in ((done, "127.0.0.4"), (order, "127.0.0.5")):
        passed, refused = pipeline(req, 60, (source, 0))
        assert (passed, refused) == (60, 0), (req[:30], passed, refused)
        time.sleep(2.5)  # 50 r/s refills the burst of 100 within 2 s
        # A flood beyond the burst is still refused.
        passed, refused = pipeline(req, 200, (source, 0))
        assert passed + refused == 200 and 100 <= passed <= 160 and refused >= 40, (req[:30], passed, refused)
        time.sleep(2.5)  # 50 r/s refills the burst of 100 within 2 s
        expect_json_error(raw_request(prod_nginx, req.replace(b"Host:", b"Connection: close\r\nHost:"), tls=True,
                                      source=(source, 0)), 502, "e.sys.unavailable")
    # The shoppers' endpoints keep their own limit (10 r/s, bursts of 20) from the same address.
    check = b"GET /api/demo/pay/check HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
    passed, refused = pipeline(check, 60, ("127.0.0.4", 0))
    assert passed + refused == 60 and 20 <= passed <= 40 and refused >= 20, (passed, refused)


def test_production_nginx_metrics_only_for_the_allowlist(prod_nginx):
    req = b"GET /metrics HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
    # 127.0.0.2 is this host too, but not on the allowlist (127.0.0.1, ::1).
    expect_json_error(raw_request(prod_nginx, req, tls=True, source=("127.0.0.2", 0)), 403, "e.www.api.forbidden")
    # From 127.0.0.1 nginx passes it on (nothing listens behind this nginx: its own 502).
    expect_json_error(raw_request(prod_nginx, req, tls=True), 502, "e.sys.unavailable")


def test_production_nginx_limits_a_notification_flood_per_address(prod_nginx):
    """The notification endpoints take anonymous requests and orderpay stores each one before
    judging it: one client could fill the disk with junk (review s25-attack #3). Providers send
    bursts from a few addresses, so their limit is generous (50 a second per address, bursts of
    500) and answered 503, which every provider resends after. 960 requests on 8 kept-alive
    connections at once: the first 500 or so pass (nginx's own 502 here: nothing listens behind
    it), the rest are refused; another address is not."""
    from concurrent.futures import ThreadPoolExecutor
    req = b"POST /api/demo/pay/re_wx HTTP/1.1\r\nHost: shop.example.com\r\nContent-Type: text/xml\r\n" \
          b"Content-Length: 7\r\n\r\n<xml/>\n"

    def flood(n, req=req, source=None):
        out = pipelined_tls(prod_nginx, req, n, source)
        return out.count(b"HTTP/1.1 502 "), out.count(b"HTTP/1.1 503 ")

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(flood, [120] * 8))
    passed, refused = sum(c[0] for c in counts), sum(c[1] for c in counts)
    assert passed + refused == 960, counts
    assert 500 <= passed < 960 and refused > 0, (passed, refused)
    # Another address is served meanwhile (nginx's 502 in WeChat's XML, as orderpayd would answer).
    expect_provider_fail(raw_request(prod_nginx, req, tls=True, source=("127.0.0.2", 0)), 502, "wx")
    # A browser's return (GET) there is a shopper's request, limited as the shoppers' are (10 a
    # second, bursts of 20): PayPal's is a capture call each.
    get = b"GET /api/demo/pay/re_paypal?token=PX HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
    passed, refused = flood(60, get, ("127.0.0.3", 0))
    assert passed + refused == 60 and 20 <= passed <= 40 and refused >= 20, (passed, refused)
