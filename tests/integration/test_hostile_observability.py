"""Hostile observability: operator-key header tricks, log injection in both log formats, /metrics cardinality and hostile replies."""

import base64
import json
import os
import random
import re
import time
import urllib.parse

import pytest

from conftest import STACK, cli, http
from helpers import buy_ok, wait_for
from test_bad_input import raw_request
from test_fcgi_raw import PARAMS, STDIN, begin, connect, handed_socket_pool, nv_len, read_reply, stream
from test_hostile_transport import TEXT_LINE
from test_metrics import scrape
from test_wx3 import buy3_ok, v3_notification

SITE, USD, V3 = STACK["DEMO_SITE"], STACK.get("DEMO_USD_SITE", "demo-usd"), STACK.get("DEMO_V3_SITE", "demo-v3")
OTHER = V3  # the other site of the operator tests: a WeChat v3 shop
PORT = int(STACK["API_PORT"])
# Every trick at once: a forged JSON line and a forged text line after a newline, CR, a terminal
# escape, quotes, backslashes, U+2028, and bytes that are not UTF-8 (lone 0xff, an overlong '/',
# a surrogate).
HOSTILE = (b'H5\n{"level":"error","msg":"FORGED"}\r\n2026-12-01T00:00:00.000Z [1] error: FORGED\r'
           b'\x1b[2J\x1b[31m"\'\\\\u0000\\ \xe2\x80\xa8 \xff\xc0\xaf\xed\xa0\x80 end')
TEXT = HOSTILE.decode("utf-8", "replace")  # the same without the invalid bytes, for JSON bodies


@pytest.fixture(scope="module")
def keys():
    """A live key of demo, one of demo-usd, and a revoked one of demo; revoked again on the way out."""
    k = {s: cli("apikey", "issue", "--site", s).stdout.strip() for s in (SITE, OTHER)}
    k["revoked"] = cli("apikey", "issue", "--site", SITE).stdout.strip()
    cli("apikey", "revoke", k["revoked"])
    yield k
    for s in (SITE, OTHER):
        cli("apikey", "revoke", k[s], check=False)


def admin_raw(site, order_id, header_lines):
    """GET admin/order through nginx with raw header lines (bytes), so nothing is cleaned up first."""
    req = (b"GET /api/%s/admin/order?id=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           % (site.encode(), order_id.encode())) + header_lines + b"\r\n"
    return raw_request(PORT, req)


# ---------------------------------------------------------------------------------------------
# Operator API authentication


def test_authorization_header_variants(keys):
    order = buy_ok("wx.qrcode")
    k, other, revoked = keys[SITE].encode(), keys[OTHER].encode(), keys["revoked"].encode()
    nokey, badkey, forbidden, bad = (401, "e.www.api.auth.nokey"), (401, "e.www.api.auth.badkey"), \
        (403, "e.www.api.auth.forbidden"), (400, "e.www.api.bad_request")
    cases = [
        ("tab instead of SP (RFC 9110: 1*SP)", b"Authorization: Bearer\t" + k, nokey),
        ("no space after the scheme", b"Authorization: Bearer" + k, nokey),
        ("no scheme", b"Authorization: " + k, nokey),
        ("scheme only", b"Authorization: Bearer ", nokey),
        ("Basic with the key as password", b"Authorization: Basic " + base64.b64encode(b"demo:" + k), nokey),
        ("Token scheme", b"Authorization: Token " + k, nokey),
        ("the key in another header", b"X-Api-Key: " + k + b"\r\nX-Authorization: Bearer " + k, nokey),
        ("another site's key", b"Authorization: Bearer " + other, forbidden),
        ("a revoked key", b"Authorization: Bearer " + revoked, badkey),
        ("the key plus a byte", b"Authorization: Bearer " + k + b"x", badkey),
        ("a non-ASCII byte after the key", b"Authorization: Bearer " + k + b"\xff", badkey),
        ("a UTF-8 key", b"Authorization: Bearer \xc3\xa9" + k, badkey),
        # A bare LF ends the header line for nginx: the key is cut, the rest a header of its own.
        ("LF inside the key", b"Authorization: Bearer " + k[:8] + b"\nX-Rest: " + k[8:], badkey),
        # nginx refuses these before orderpayd sees them (README: a request it cannot parse).
        ("two Authorization headers, the good one first", b"Authorization: Bearer " + k
         + b"\r\nAuthorization: Bearer x", bad),
        ("two Authorization headers, the good one last", b"Authorization: Bearer x\r\nAuthorization: Bearer "
         + k, bad),
        ("NUL inside the key", b"Authorization: Bearer " + k + b"\x00x", bad),
        ("CR inside the key", b"Authorization: Bearer " + k + b"\rx", bad),
        ("obsolete line folding", b"Authorization: Bearer\r\n " + k, bad),
        ("a 10 KB key: a header line over 8k", b"Authorization: Bearer " + b"k" * 10240, bad),
    ]
    problems = []
    for name, hdr, (status, code) in cases:
        st, headers, body = admin_raw(SITE, order["id"], hdr + b"\r\n")
        parsed = json.loads(body)
        if (st, parsed.get("errCode")) != (status, code):
            problems.append("%s: %d %s, want %d %s" % (name, st, parsed.get("errCode"), status, code))
        if st == 401 and headers.get("www-authenticate") != 'Bearer realm="orderpay admin"':
            problems.append("%s: 401 without WWW-Authenticate: %r" % (name, headers))
        if order["id"].encode() in body or parsed.get("data"):
            problems.append("%s: the order leaked: %r" % (name, body[:200]))
    assert not problems, "\n".join(problems)
    # A key longer than any orderpay issues (but under nginx's 8k) is a bad key, not a missing one
    # (it was "API key missing" past 512 bytes: review s32-110 I2), and no data.
    for n in (257, 600, 7000):
        st, headers, body = admin_raw(SITE, order["id"], b"Authorization: Bearer " + b"k" * n + b"\r\n")
        assert st == 401 and json.loads(body)["errCode"] == "e.www.api.auth.badkey", (n, body)
        assert headers.get("www-authenticate") == 'Bearer realm="orderpay admin"', (n, headers)
    # The scheme is case-insensitive and SP may repeat (RFC 9110 §11.1, §11.4): these are the key.
    for hdr in (b"bearer " + k, b"BEARER " + k, b"Bearer    " + k, b"Bearer " + k + b"   "):
        st, _, body = admin_raw(SITE, order["id"], b"Authorization: " + hdr + b"\r\n")
        assert st == 200 and json.loads(body)["data"]["id"] == order["id"], (hdr, body[:200])


def test_a_key_never_reaches_another_sites_orders(keys):
    mine, theirs = buy_ok("wx.qrcode"), buy3_ok()
    url = STACK["ORDERPAY_URL"] + "/api/%s/admin/%s"
    auth = {s: {"Authorization": "Bearer " + keys[s]} for s in (SITE, OTHER)}
    # demo's key on the other site's path (either order): 403 before any order is looked up.
    for oid in (theirs["id"], mine["id"]):
        st, body, raw, _ = http("GET", url % (OTHER, "order") + "?id=" + oid, None, auth[SITE])
        assert st == 403 and body["errCode"] == "e.www.api.auth.forbidden" and oid.encode() not in raw, raw
    # The other site's key on its own path naming demo's order: unknown there, like any order.
    st, body, raw, _ = http("GET", url % (OTHER, "order") + "?id=" + mine["id"], None, auth[OTHER])
    assert st == 404 and body["errCode"] == "e.io.obj.noexists" and mine["id"].encode() not in raw, raw
    # ... and cannot refund it.
    refund = json.dumps({"order": mine["id"], "reason": "x", "idempotency_key": "h6-%d" % time.time_ns()})
    st, body, raw, _ = http("POST", url % (OTHER, "refund"), refund.encode(),
                            {**auth[OTHER], "Content-Type": "application/json"})
    assert st == 404 and body["errCode"] == "e.io.obj.noexists", raw
    # A revoked key says so even on another site's path (401 before the site check).
    st, body, raw, _ = http("GET", url % (OTHER, "order") + "?id=" + theirs["id"], None,
                            {"Authorization": "Bearer " + keys["revoked"]})
    assert st == 401 and body["errCode"] == "e.www.api.auth.badkey", raw
    # Look-alikes of "demo" are no site at all: nothing folds them into demo's data.
    for site in ("DEMO", "demo.", "demo%20", "demo%09", "Demo"):
        st, body, raw, _ = http("GET", url % (site, "order") + "?id=" + mine["id"], None, auth[SITE])
        assert st == 404 and body["errCode"] == "e.www.site.noexists", (site, raw)


# ---------------------------------------------------------------------------------------------
# Log injection, both formats, straight over FastCGI: every param may carry any byte, which is
# more than nginx lets through.


def fcgi(path, method, uri, query=b"", body=b"", ctype=b"application/json", **headers):
    """One raw FastCGI request with byte-valued params; (status, content type, body bytes)."""
    params = {b"REQUEST_METHOD": method, b"DOCUMENT_URI": uri, b"REQUEST_URI": uri + b"?" + query,
              b"QUERY_STRING": query, b"CONTENT_LENGTH": b"%d" % len(body), b"CONTENT_TYPE": ctype,
              b"REMOTE_ADDR": b"127.0.0.1"}
    params.update({k.encode(): v for k, v in headers.items()})
    enc = b"".join(nv_len(len(n)) + nv_len(len(v)) + n + v for n, v in params.items())
    with connect(path) as s:
        s.sendall(begin() + stream(PARAMS, enc) + stream(STDIN, body))
        raw = read_reply(s)
    assert raw is not None, "no END_REQUEST for %r" % uri
    head, _, out = raw.partition(b"\r\n\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))}
    return int(hdrs.get(b"status", b"200").split()[0]), hdrs.get(b"content-type", b"").decode(), out


def pct(b):
    return urllib.parse.quote_from_bytes(b, safe="").encode()


def hostile_requests(key, paid, wx_slip, v3):
    """(name, fcgi kwargs, status, errCode or None, rejected-notification lines it must log)."""
    h, t = HOSTILE, json.dumps(TEXT).encode()
    common = dict(REQUEST_ID=h, HTTP_X_REQUEST_ID=h, HTTP_USER_AGENT=h, HTTP_REFERER=h, HTTP_X_FORWARDED_FOR=h)
    tk = STACK["DEMO_TICKET"].encode()
    v3_headers, v3_body = v3_notification(v3["pay_id"], 1250)
    v3h = {"HTTP_" + k.upper().replace("-", "_"): v.encode() for k, v in v3_headers.items()}
    v3h["HTTP_WECHATPAY_SERIAL"] = h
    buy_body = b'{"products":[{"id":"demo-tea","amount":1}],"pay_tp":"wx.qrcode","title":%s,"note":%s,"name":%s}'
    return [
        ("query: ticket and id", dict(uri=b"/api/demo/pay/check", query=b"id=" + pct(h) + b"&ticket=" + pct(h)),
         400, "e.www.api.invalid.encoding", 0),
        ("query: UTF-8 id, good ticket", dict(uri=b"/api/demo/pay/check",
                                              query=b"id=" + pct(TEXT.encode()) + b"&ticket=" + tk), 404,
         "e.io.obj.noexists", 0),
        ("path", dict(uri=b"/api/demo/pay/check" + h, query=b"ticket=" + tk), 400, "e.www.api.invalid.encoding", 0),
        ("path, UTF-8", dict(uri=b"/api/" + TEXT.encode() + b"/pay/check", query=b"id=abc&ticket=" + tk), 404,
         "e.www.site.noexists", 0),
        ("method", dict(method=b"GET" + h, uri=b"/api/demo/pay/check", query=b"id=abc&ticket=" + tk), 405,
         "e.www.api.method", 0),
        ("buy: JSON strings and Idempotency-Key", dict(method=b"POST", uri=b"/api/demo/pay/buy", query=b"ticket=" + tk,
                                                        body=buy_body % (t, t, t), HTTP_IDEMPOTENCY_KEY=h), 400,
         "e.www.order.invalid.field", 0),
        ("buy: raw invalid UTF-8 in a JSON string", dict(method=b"POST", uri=b"/api/demo/pay/buy", query=b"ticket=" + tk,
                                                          body=buy_body % (b'"' + h.replace(b"\n", b" ").replace(
                                                              b"\r", b" ").replace(b"\x1b", b" ").replace(
                                                              b'"', b"'").replace(b"\\", b"/") + b'"', b'""', b'""')),
         400, "e.www.api.invalid.encoding", 0),
        ("admin: key", dict(uri=b"/api/demo/admin/order", query=b"id=abc", HTTP_AUTHORIZATION=b"Bearer " + h), 401,
         "e.www.api.auth.badkey", 0),
        ("admin: refund reason and idempotency_key", dict(
            method=b"POST", uri=b"/api/demo/admin/refund", HTTP_AUTHORIZATION=b"Bearer " + key.encode(),
            body=b'{"order":"%s","amount":"0.01","reason":%s,"idempotency_key":%s}' % (paid.encode(), t, t)), 400,
         "e.www.refund.invalid.reason", 0),
        # Quotes, backslashes and the text of an escape are a reason an operator may type: refunded,
        # and logged. A raw U+2028 (a line separator) is not plain text: refused, and logged whole.
        ("admin: a refund with a quoting reason", dict(
            method=b"POST", uri=b"/api/demo/admin/refund", HTTP_AUTHORIZATION=b"Bearer " + key.encode(),
            body=json.dumps({"order": paid, "amount": "0.01", "reason": '"}{"level":"error"} \\u2028 \\n',
                             "idempotency_key": "h6-%d" % time.time_ns()}).encode()), 200, None, 0),
        ("admin: a refund reason with a line separator", dict(
            method=b"POST", uri=b"/api/demo/admin/refund", HTTP_AUTHORIZATION=b"Bearer " + key.encode(),
            body=json.dumps({"order": paid, "amount": "0.01", "reason": '"}{"level":"error"} \u2028 x',
                             "idempotency_key": "h7-%d" % time.time_ns()}).encode()), 400,
         "e.www.refund.invalid.reason", 0),
        ("notification: WeChat v2 fields", dict(method=b"POST", uri=b"/api/demo/pay/re_wx", ctype=b"text/xml",
                                                body=b"<xml><out_trade_no>%s</out_trade_no><attach><![CDATA[%s]]>"
                                                b"</attach><sign>00</sign></xml>" % (wx_slip.encode(), h)), 200,
         None, 1),
        ("notification: Alipay form", dict(method=b"POST", uri=b"/api/demo/pay/re_zfb",
                                           ctype=b"application/x-www-form-urlencoded",
                                           body=b"out_trade_no=" + pct(wx_slip.encode() + h) + b"&sign=" + pct(h)
                                           + b"&trade_status=" + pct(h) + b"&" + pct(h) + b"=" + pct(h)), 200, None, 1),
        ("notification: WeChat v3 serial", dict(method=b"POST", uri=b"/api/demo-v3/pay/re_wx", body=v3_body.encode(),
                                                **v3h), 400, None, 1),
        ("notification: PayPal algo", dict(method=b"POST", uri=b"/api/%s/pay/re_paypal" % USD.encode(),
                                           body=json.dumps({"id": "WH-h6", "event_type": TEXT,
                                                             "resource": {"id": TEXT}}).encode(),
                                           HTTP_PAYPAL_TRANSMISSION_ID=h, HTTP_PAYPAL_AUTH_ALGO=h,
                                           HTTP_PAYPAL_TRANSMISSION_TIME=b"2026-12-01T00:00:00Z",
                                           HTTP_PAYPAL_TRANSMISSION_SIG=b"c2ln",
                                           HTTP_PAYPAL_CERT_URL=b"https://127.0.0.1/c"), 400, None, 1),
        ("buyer return: PayPal token", dict(uri=b"/api/%s/pay/re_paypal" % USD.encode(),
                                            query=b"token=" + pct(h) + b"&PayerID=" + pct(h),
                                            HTTP_ACCEPT=b"application/json"), 400, None, 1),
    ], common


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_hostile_text_never_splits_or_forges_a_log_line(fmt, keys, tmp_path):
    paid = buy_ok("zfb.scan", auth_code="280000000000000002", products=[{"id": STACK["DEMO_PRODUCT"]}])
    wx_slip, v3 = buy_ok("wx.qrcode")["pay_id"], buy3_ok()
    reqs, common = hostile_requests(keys[SITE], paid["id"], wx_slip, v3)
    os.chmod(tmp_path, 0o777)
    logfile = str(tmp_path / ("orderpayd.%s.log" % fmt))
    problems = []
    with handed_socket_pool(2, ORDERPAY_LOG_FORMAT=fmt, ORDERPAY_LOG_FILE=logfile) as (_, sock, _u):
        start = os.path.getsize(logfile)  # after the pool's start and readiness probes
        for name, kw, status, code, _ in reqs:
            kw = {**common, **kw}
            kw.setdefault("method", b"GET")
            st, ctype, body = fcgi(sock, **kw)
            if st != status:
                problems.append("%s: status %d, want %d: %r" % (name, st, status, body[:200]))
            if ctype.startswith("application/json"):
                try:  # a reply quoting the input must still be JSON, strictly UTF-8
                    parsed = json.loads(body.decode("utf-8"))
                except ValueError as e:
                    problems.append("%s: reply is not JSON (%s): %r" % (name, e, body[:200]))
                    continue
                if code and parsed.get("errCode") != code:
                    problems.append("%s: errCode %s, want %s" % (name, parsed.get("errCode"), code))
        if fmt == "json":
            assert wait_for(lambda: open(logfile, "rb").read()[start:].count(b'"msg":"request"}') >= len(reqs), 10)
        time.sleep(0.5)
    with open(logfile, "rb") as f:
        f.seek(start)
        data = f.read()
    lines = data.split(b"\n")
    assert lines[-1] == b"", "the log does not end in a newline: %r" % lines[-1][-200:]
    lines = lines[:-1]
    for line in lines:
        if fmt == "text":
            if not TEXT_LINE.match(line) or re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", line):
                problems.append("text line split, forged or with control bytes: %r" % line[:300])
            continue
        try:
            x = json.loads(line.decode("utf-8"))  # strict: one object, valid UTF-8
        except ValueError as e:
            problems.append("not one JSON object (%s): %r" % (e, line[:300]))
            continue
        if x.get("level") not in ("debug", "info", "warn", "error") or x.get("msg") == "FORGED":
            problems.append("forged JSON line: %r" % line[:300])
        if "request_id" in x and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", x["request_id"]):
            problems.append("hostile request id logged: %r" % line[:300])
    if fmt == "json":  # one request, one request line
        n = sum(1 for line in lines if line.endswith(b'"msg":"request"}'))
        if n != len(reqs):
            problems.append("%d request lines for %d requests" % (n, len(reqs)))
    rejected = sum(1 for line in lines if re.search(rb"notification \d+ rejected", line))
    want = sum(r[4] for r in reqs)
    if rejected != want:
        problems.append("%d 'rejected' lines for %d rejected notifications: %r" % (rejected, want, [l[:160] for l in lines if b"rejected" in l]))
    if re.search(rb"^FORGED|^2026-12-01T00:00:00.000Z|^\{\"level\"", data, re.M):
        problems.append("a forged line start")
    assert not problems, "\n".join(problems)


def test_a_clients_request_id_is_ignored_and_its_user_agent_stays_on_one_access_log_line():
    # README (Logs): the request id is nginx's own; a client's X-Request-Id never replaces it.
    ua = b'H6ua "}\x1b[31m\\ \xff\xc0\xaf\x7f\t end'
    req = (b"GET /api/demo/pay/check?id=%0A%22&ticket=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"X-Request-Id: " + ua + b"\r\nUser-Agent: " + ua + b"\r\n\r\n")
    st, headers, body = raw_request(PORT, req)
    assert st == 401 and json.loads(body)["errCode"] == "e.www.api.auth.nologin", body
    rid = headers.get("x-request-id", "")
    assert re.fullmatch(r"[0-9a-f]{32}", rid), headers
    access = os.path.join(STACK["STACK_LOG_DIR"], "nginx-access.log")
    assert wait_for(lambda: rid.encode() in open(access, "rb").read(), 5), rid
    lines = [line for line in open(access, "rb").read().split(b"\n") if b"H6ua" in line and rid.encode() in line]
    assert len(lines) == 1, lines
    assert not re.search(rb"[\x00-\x1f\x7f-\xff]", lines[0]), lines[0]


# ---------------------------------------------------------------------------------------------
# Metrics cardinality and escaping


def noise(rng):
    """One random hostile request, through nginx or straight to orderpayd; all reach orderpayd."""
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_.-") for _ in range(rng.randint(1, 24)))
    method = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(3, 12)))
    base, kind = STACK["ORDERPAY_URL"], rng.randrange(8)
    if kind == 0:
        http("GET", base + "/api/%s/pay/%s?%s=%s" % (word, rng.choice(["check", "buy", word]), word, word))
    elif kind == 1:  # an unknown method on every known route (nginx passes any token on)
        http(method, base + rng.choice(["/api/demo/pay/buy", "/api/demo/pay/check", "/api/demo/admin/refund",
                                        "/healthz", "/api/demo/pay/re_wx"]))
    elif kind == 2:  # a provider that does not exist
        http("POST", base + "/api/demo/pay/re_" + word, b"x", {"Content-Type": "text/plain"})
    elif kind == 3:
        http("GET", base + "/api/demo/admin/" + rng.choice(["order", word]) + "?id=" + word,
             None, {"Authorization": "Bearer " + word})
    elif kind == 4:  # 415
        http("POST", base + "/api/demo/pay/buy?ticket=" + word, b"{}", {"Content-Type": "text/" + word})
    elif kind == 5:  # a path nginx serves from orderpayd's location that no route knows
        http("GET", base + "/api/%s/%s/%s" % (word, word, word))
    else:  # raw: a method and a path nginx would never pass, quotes and newlines for the labels
        hostile = b'"}\n' + word.encode() + b'{le="+Inf"} 1e9\n\\'
        fcgi(STACK["ORDERPAYD_SOCKET"], rng.choice([method.encode(), hostile]),
             rng.choice([b"/api/demo/pay/" + hostile, b"/api/" + word.encode() + b"/pay/check",
                         b"/" + hostile, b"/api/demo/pay/re_" + word.encode()]))
    return word


def test_random_hostile_requests_add_no_series_and_are_each_counted_once():
    rng = random.Random(20261202)
    for _ in range(120):  # every (route, status) these can reach now exists
        noise(rng)
    # A scrape is counted once it has answered, so the metrics route's own series exist only
    # after one: in a full run a restart earlier in the suite leaves none until this test's.
    scrape()
    first = scrape()
    words = [noise(rng) for _ in range(300)]
    after = scrape()
    assert len(after) == len(first) and set(after) == set(first), sorted(set(after) ^ set(first))[:10]
    # Each of the 300 counted once under a fixed label (and the scrape between, under metrics).
    reqs = [k for k in after if k.startswith("orderpay_http_requests_total{")]
    counted = sum(after[k] - first.get(k, 0) for k in reqs if 'route="metrics"' not in k)
    assert counted == 300, counted
    routes = {re.search(r'route="([^"]*)"', k).group(1) for k in reqs}
    assert routes <= {"pay/buy", "pay/check", "pay/check_order", "pay/pay", "pay/qr", "pay/products", "pay/re_wx",
                      "pay/re_zfb", "pay/re_paypal", "admin/refund", "admin/order", "admin/orders", "admin/ship",
                      "admin/done", "admin/ticket", "admin/ticket_revoke", "healthz",
                      "metrics", "other"}, routes
    statuses = {re.search(r'status="([^"]*)"', k).group(1) for k in reqs}
    assert all(re.fullmatch(r"[1-5]\d\d|other", s) for s in statuses), statuses
    long_words = [w for w in words if len(w) >= 8]
    assert not [k for k in after for w in long_words if w in k], "a client's word became a label"


def test_metrics_exposition_stays_parseable_after_hostile_labels_were_offered():
    # scrape() asserts every line is a sample with quoted, backslash-free label values; here the
    # raw text is checked too: no line a client's bytes could have started.
    fcgi(STACK["ORDERPAYD_SOCKET"], b'GET"} 1\nforged_total 9\n', b"/api/demo/pay/re_\x1b\"}\nforged 1")
    http("GET", STACK["ORDERPAY_URL"] + "/api/demo/pay/re_%22%7D%0Aforged_total%201")
    st, _, raw, _ = http("GET", STACK["ORDERPAY_URL"] + "/metrics")
    assert st == 200 and b"forged" not in raw and b"\x1b" not in raw, raw[:300]
    names = {line.split(b"{")[0].split(b" ")[0] for line in raw.split(b"\n") if line and not line.startswith(b"#")}
    assert names and all(n.startswith(b"orderpay_") for n in names), names
    scrape()
