"""Hostile transport: log injection through user-controlled text, secrets in every output
surface, /metrics cardinality and double counting, raw FastCGI records with odd framing sent
straight to orderpayd's socket, and SIGHUP/SIGTERM while requests wait on a row locked from psql."""

import base64
import glob
import json
import os
import re
import signal
import struct
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from conftest import PSQL, STACK, _pg_env, api, cli, http, psql, sim
from helpers import buy, buy_ok, sim_pay, wait_for, wait_state
from test_fcgi_raw import begin, connect, encode_params, healthz_ok, master_pid, parse_http, stream
from test_metrics import delta, scrape

LOG_DIR = STACK["STACK_LOG_DIR"]
ORDERPAYD_LOG = os.path.join(LOG_DIR, "orderpayd.log")
TEXT_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] (debug|info|warn|error): ")


def log_size(path=ORDERPAYD_LOG):
    return os.path.getsize(path)


def log_since(offset, path=ORDERPAYD_LOG):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read()


# ---------------------------------------------------------------------------------------------
# Log injection

def assert_clean_lines(data):
    """Every line is one whole text-format line: no forged line, no terminal control bytes."""
    for line in data.split(b"\n"):
        if not line:
            continue
        assert TEXT_LINE.match(line), "forged or split log line: %r" % line[:300]
        bad = [c for c in line if c < 0x20 and c != 0x09] + [c for c in line if c == 0x7F]
        assert not bad, "control bytes %r reach the log: %r" % (sorted(set(bad)), line[:300])
        assert len(line) < 8192, "unbounded log line (%d bytes)" % len(line)


def test_hostile_text_in_buy_fields_paths_and_headers_never_forges_a_log_line():
    forged = "\nFORGED 2026-12-01T00:00:00.000Z [1] error: forged\r\x1b[31m\"'"
    before = log_size()
    buy("wx.qrcode", title=forged, note=forged, name=forged, address=forged * 100)
    buy("wx.qrcode", idempotency_key=forged)
    api("POST", "buy", ticket=STACK["DEMO_TICKET"], json={"products": [{"id": STACK["DEMO_PRODUCT"]}],
                                                         "pay_tp": "wx.qrcode"},
        headers={"Idempotency-Key": "k\x1b[2Jx", "User-Agent": "ua\x1b[31m" + "A" * 4000,
                 "X-Forwarded-For": "1.2.3.4\x1b[0m, 5.6.7.8"})
    http("GET", STACK["ORDERPAY_URL"] + "/api/demo/pay/check%0AFORGED%0D?id=%0AFORGED&ticket="
         + STACK["DEMO_TICKET"])
    http("POST", STACK["ORDERPAY_URL"] + "/api/demo%0AFORGED%1b/pay/re_wx", b"<xml/>", {"Content-Type": "text/xml"})
    order = buy_ok("wx.qrcode")
    api("POST", "re_wx", raw_body="<xml><out_trade_no>%s</out_trade_no><bad%s" % (order["pay_id"], forged),
        headers={"Content-Type": "text/xml"})
    form = {"out_trade_no": order["pay_id"] + forged, "sign": "x" + forged, "sign_type": "RSA2" + forged,
            "trade_status": "TRADE_SUCCESS" + forged}
    api("POST", "re_zfb", raw_body=urllib.parse.urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    api("GET", "re_paypal", params={"token": forged, "PayerID": forged}, site=STACK.get("DEMO_USD_SITE", "demo-usd"))
    time.sleep(0.5)
    assert_clean_lines(log_since(before))


def test_unauthenticated_provider_headers_reach_the_log_and_inbox_list_escaped():
    # Wechatpay-Timestamp / -Serial (and PayPal's PAYPAL-AUTH-ALGO) arrive before any signature is checked: whatever an anonymous
    # poster puts there is quoted in the rejection reason. A terminal escape (ESC [ 2 J clears the
    # operator's screen; ESC [ 31 m recolours what follows) or a tab (a forged column in
    # `orderpay inbox list`'s tab-separated output) must not reach the log or the CLI as it is.
    from test_wx3 import V3, buy3_ok, post_v3, v3_notification
    order = buy3_ok()
    headers, body = v3_notification(order["pay_id"], 1250)
    before = log_size()
    st, _, raw, hdrs = post_v3({**headers, "Wechatpay-Timestamp": "1\x1b[2J\x1b[31mH5TS\tFORGEDCOL"}, body)
    assert st in (200, 400, 401), raw
    st, _, raw, _ = post_v3({**headers, "Wechatpay-Serial": "H5SER\x1b[31m\tFORGEDCOL"}, body)
    rid = hdrs.get("x-request-id")
    # PayPal's webhook: PAYPAL-AUTH-ALGO is quoted (cut to 40 bytes) before any signature check.
    api("POST", "re_paypal", site=STACK.get("DEMO_USD_SITE", "demo-usd"),
        raw_body=json.dumps({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {"id": "x"}}),
        headers={"Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": "t",
                 "PAYPAL-TRANSMISSION-TIME": "2026-12-01T00:00:00Z", "PAYPAL-TRANSMISSION-SIG": "c2ln",
                 "PAYPAL-CERT-URL": "https://127.0.0.1/v1/notifications/certs/x",
                 "PAYPAL-AUTH-ALGO": "H5ALG\x1b[2J\x1b[31m\tFORGEDCOL"})
    time.sleep(0.5)
    problems = []
    try:
        assert_clean_lines(log_since(before))
    except AssertionError as e:
        problems.append("log: %s" % e)
    out = cli("inbox", "list", "--limit", "5").stdout
    ncols = len(out.splitlines()[0].split("\t"))
    for line in out.splitlines():
        if "H5TS" in line or "H5SER" in line or "H5ALG" in line:
            if "\x1b" in line:
                problems.append("inbox list prints a terminal escape: %r" % line)
            if len(line.split("\t")) != ncols:
                problems.append("inbox list: a tab from the notification forged a column: %r" % line)
    assert rid and psql("SELECT count(*) FROM notifications WHERE request_id = '%s'" % rid) == "1"
    assert V3 and not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Secrets

def secrets():
    out = {}
    for line in psql("SELECT id, api_key FROM merchants WHERE api_key <> ''").splitlines():
        mid, key = line.split("|", 1)
        out["merchant key " + mid] = key
    for line in psql("SELECT id, app_id, api_key FROM merchants WHERE provider = 'paypal' AND api_key <> ''").splitlines():
        mid, client, secret = line.split("|", 2)
        out["paypal basic " + mid] = base64.b64encode(("%s:%s" % (client, secret)).encode()).decode()
    out["demo ticket"] = STACK["DEMO_TICKET"]
    return out


def test_no_secret_in_logs_replies_metrics_or_cli_output():
    found = secrets()
    key = cli("apikey", "issue", "--site", STACK["DEMO_SITE"]).stdout.strip().split()[-1]
    found["operator api key"] = key
    outputs = []
    usd = STACK.get("DEMO_USD_SITE", "demo-usd")
    for pay_tp, site in [("wx.qrcode", STACK["DEMO_SITE"]), ("zfb.qrcode", STACK["DEMO_SITE"]),
                         ("paypal", usd), ("wx.qrcode", "demo-v3")]:
        st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=site,
                               json={"products": [{"id": STACK["DEMO_PRODUCT"]}], "pay_tp": pay_tp})
        outputs.append(raw)
        if st == 200:
            outputs.append(sim("/sim/pay", {"out_trade_no": body["data"]["pay_id"], "times": "2"})[2])
    for tamper in ("sign", "amount", "appid"):
        order = buy_ok("wx.qrcode")
        outputs.append(sim("/sim/pay", {"out_trade_no": order["pay_id"], "tamper": tamper})[2])
    paid = buy_ok("wx.qrcode")
    sim_pay(paid["pay_id"])
    wait_state(paid["id"], "OK")
    for bearer in (key + "x", found["merchant key wx-demo"] if "merchant key wx-demo" in found else "x"):
        outputs.append(http("GET", STACK["ORDERPAY_URL"] + "/api/demo/admin/order?id=" + paid["id"], None,
                            {"Authorization": "Bearer " + bearer})[2])
    outputs.append(api("GET", "check", ticket=STACK["DEMO_TICKET"] + "x", params={"id": "x"})[2])
    outputs.append(http("GET", STACK["ORDERPAY_URL"] + "/metrics")[2])
    res = cli("refund", paid["id"], "--reason", "hostile transport", check=False)
    outputs.append((res.stdout + res.stderr).encode())
    for args in (["merchant", "list"], ["order", "list"], ["order", "show", paid["id"]], ["refund", "list"],
                 ["apikey", "list"], ["inbox", "list", "--limit", "50"], ["site", "list"], ["seller", "list"],
                 ["reconcile", "--min-age", "0"]):
        for js in ([], ["--json"]):
            res = cli(*(js + args), check=False)
            outputs.append((res.stdout + res.stderr).encode())
    time.sleep(0.5)
    leaks = []
    for path in glob.glob(os.path.join(LOG_DIR, "*.log")):
        with open(path, "rb") as f:
            data = f.read()
        # README (Deployment): nginx's *error* log quotes the request line, ticket included, on
        # upstream errors (earlier tests restart orderpayd and kill workers); it is kept private.
        leaks += ["%s in %s" % (name, path) for name, s in found.items() if s.encode() in data
                  and not (name == "demo ticket" and os.path.basename(path) == "nginx-error.log")]
    for out in outputs:
        leaks += ["%s in %r" % (name, out[:120]) for name, s in found.items()
                  if s.encode() in out and name != "operator api key"]
    assert not leaks, leaks


def test_production_nginx_access_log_format_has_no_query_or_referer():
    conf = open(os.path.join(os.path.dirname(__file__), "..", "..", "nginx", "orderpay.conf"), encoding="utf-8").read()
    formats = re.findall(r"log_format\s+(\S+)\s+((?:'[^']*'\s*)+);", conf)
    used = set(re.findall(r"access_log\s+\S+\s+(\S+?)\s*;", conf))
    assert used and not re.search(r"access_log\s+[^;\s]+\s*;", conf), "an access_log with nginx's default format"
    for name, body in formats:
        if name in used:
            for var in ("$request ", "$request\"", "$request_uri", "$args", "$query_string", "$http_referer",
                        "$arg_", "$http_authorization", "$request_body"):
                assert var not in body, (name, var)


# ---------------------------------------------------------------------------------------------
# Metrics

def test_metrics_do_not_grow_with_hostile_paths_methods_sites_or_providers():
    def hostile(lo, hi):
        for i in range(lo, hi):
            http("GET", STACK["ORDERPAY_URL"] + "/api/site%d/pay/act%d?x=%d" % (i, i, i))
            http("POST", STACK["ORDERPAY_URL"] + "/api/demo/pay/re_prov%d" % i, b"x", {"Content-Type": "text/plain"})
            http("GET", STACK["ORDERPAY_URL"] + "/h5/%d/%s" % (i, "%22%7D%0A" * 3))
            http("GET", STACK["ORDERPAY_URL"] + "/api/demo/admin/x%d" % i)
        for method in ("PROPFIND", "BREW", "PATCH", "DELETE", "OPTIONS"):
            http(method, STACK["ORDERPAY_URL"] + "/api/demo/pay/buy")
            http(method, STACK["ORDERPAY_URL"] + "/api/demo/pay/re_zz%d" % lo)
    hostile(0, 10)  # every (route, status) series these can produce now exists
    first = scrape()
    hostile(10, 70)  # 240 more distinct URLs: not one more series
    after = scrape()
    assert set(after) == set(first), sorted(set(after) ^ set(first))[:10]
    assert not [k for k in after if "site1" in k or "act" in k or "re_prov" in k or "BREW" in k]


def test_a_replayed_buy_and_a_duplicate_notification_count_once():
    before = scrape()
    key = "h5-%d" % time.time_ns()
    body = {"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"}
    replies = [api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, headers={"Idempotency-Key": key})
               for _ in range(3)]
    assert [r[0] for r in replies] == [200] * 3, [r[2] for r in replies]
    assert len({r[1]["data"]["id"] for r in replies}) == 1
    order = replies[0][1]["data"]
    assert sim_pay(order["pay_id"], times="3")["sent"] == 3
    wait_state(order["id"], "OK")
    after = scrape()
    assert delta(before, after, 'orderpay_provider_calls_total{provider="wx",operation="create",outcome="ok"}') == 1
    assert delta(before, after, 'orderpay_notifications_total{provider="wx",verdict="settled"}') == 1
    assert delta(before, after, 'orderpay_notifications_total{provider="wx",verdict="duplicate"}') == 2


# ---------------------------------------------------------------------------------------------
# Raw FastCGI framing

HEALTHZ = encode_params({"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "REQUEST_URI": "/healthz",
                         "QUERY_STRING": "", "CONTENT_LENGTH": 0, "REMOTE_ADDR": "127.0.0.1"})


def rec(rtype, content=b"", rid=1, pad=0, version=1):
    return struct.pack(">BBHHBx", version, rtype, rid, len(content), pad) + content + b"\0" * pad


def exchange(data, timeout=5):
    """Sends data on a fresh connection; (records received, how it ended)."""
    s = connect()
    s.settimeout(timeout)
    buf, how = b"", "eof"
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except TimeoutError:
        how = "timeout"
    except (ConnectionResetError, BrokenPipeError):
        how = "reset"
    finally:
        s.close()
    out = []
    while len(buf) >= 8:
        _, rtype, rid, clen, plen = struct.unpack(">BBHHBx", buf[:8])
        out.append((rtype, rid, buf[8:8 + clen]))
        buf = buf[8 + clen + plen:]
    return out, how


def stdout_of(records):
    return b"".join(c for t, _, c in records if t == 6)


def pool_intact(master, workers_before):
    assert wait_for(healthz_ok, 10), "the pool stopped answering"
    assert master_pid() == master
    kids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    assert len(kids) == workers_before, kids


def workers_now():
    return len(subprocess.run(["pgrep", "-P", str(master_pid())], capture_output=True, text=True).stdout.split())


def test_odd_but_valid_framing_is_answered():
    master, n = master_pid(), workers_now()
    cases = {
        "params one byte per record": begin() + b"".join(rec(4, HEALTHZ[i:i + 1]) for i in range(len(HEALTHZ)))
        + rec(4) + rec(5),
        "padding everywhere": begin() + rec(4, HEALTHZ, pad=255) + rec(4, pad=7) + rec(5, pad=3),
        "a padding-only record of an unknown type": begin() + rec(4, HEALTHZ) + rec(4) + rec(200, pad=8) + rec(5),
        "GET_VALUES first": rec(9, encode_params({"FCGI_MPXS_CONNS": ""}), rid=0) + begin() + rec(4, HEALTHZ)
        + rec(4) + rec(5),
        "50000 params": begin() + stream(4, HEALTHZ + b"".join(encode_params({"X%d" % i: "v"})
                                                                 for i in range(50000))) + rec(5),
    }
    for name, data in cases.items():
        records, how = exchange(data, timeout=15)
        raw = stdout_of(records)
        assert raw, (name, how, records[:3])
        status, _, body = parse_http(raw)
        assert status == 200 and body["ok"] is True, (name, raw[:200])
        assert records[-1][0] == 3, (name, "no END_REQUEST")
    pool_intact(master, n)


def test_broken_framing_is_closed_cleanly_and_costs_no_worker():
    master, n = master_pid(), workers_now()
    cases = {
        "empty STDIN before PARAMS end": begin() + rec(4, HEALTHZ[:20]) + rec(5) + rec(4, HEALTHZ[20:]) + rec(4)
        + rec(5),
        "ABORT_REQUEST mid params": begin() + rec(4, HEALTHZ[:10]) + rec(2),
        "version 2": rec(1, struct.pack(">HB5x", 1, 0), version=2) + rec(4, HEALTHZ) + rec(4) + rec(5),
    }
    # Lengths whose sum passes INT_MAX (0x7fffffff value + 1-byte name) make Debian 12's libfcgi
    # malloc a negative size and abort the worker: test_fcgi_raw's
    # test_param_lengths_summing_past_int_max_cost_one_worker_each_and_never_empty_the_pool
    # sends them to a private pool (with ASan told to fail that malloc as glibc does), not to
    # the stack every test shares.
    for name, data in cases.items():
        t0 = time.monotonic()
        records, how = exchange(data, timeout=5)
        assert how != "timeout" and time.monotonic() - t0 < 4, (name, how)
        raw = stdout_of(records)
        if raw:  # an answer must be a whole, well-formed one
            status, _, _ = parse_http(raw)
            assert status in (200, 400), (name, raw[:200])
    pool_intact(master, n)


def test_a_buy_aborted_before_its_body_ends_creates_no_order():
    body = json.dumps({"products": [{"id": STACK["DEMO_PRODUCT"]}], "pay_tp": "wx.qrcode",
                       "note": "h5-abort-%d" % time.time_ns()}).encode()
    note = json.loads(body)["note"]
    uri = "/api/%s/pay/buy" % STACK["DEMO_SITE"]
    params = encode_params({"REQUEST_METHOD": "POST", "DOCUMENT_URI": uri, "REQUEST_URI": uri,
                            "QUERY_STRING": "ticket=" + STACK["DEMO_TICKET"], "CONTENT_LENGTH": len(body),
                            "CONTENT_TYPE": "application/json", "REMOTE_ADDR": "127.0.0.1"})
    records, how = exchange(begin() + stream(4, params) + rec(5, body[:len(body) // 2]) + rec(2), timeout=5)
    assert how != "timeout"
    raw = stdout_of(records)
    if raw:
        assert parse_http(raw)[0] == 400, raw[:200]
    assert psql("SELECT count(*) FROM orders WHERE note = '%s'" % note) == "0"


# ---------------------------------------------------------------------------------------------
# SIGHUP / SIGTERM while requests wait on a locked row

def hold_product_lock(product, site, seconds):
    """A psql session that locks a product row for `seconds`; returns the Popen."""
    sql = ("BEGIN; SELECT 1 FROM products WHERE id = '%s' AND site_id = '%s' FOR UPDATE; "
           "SELECT pg_sleep(%s); COMMIT;" % (product, site, seconds))
    proc = subprocess.Popen([PSQL, "-X", "-At", "-c", sql], env=_pg_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert wait_for(lambda: psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                                 "WHERE a.query LIKE '%%pg_sleep(%s)%%' AND l.mode = 'RowShareLock'"
                                 % seconds) != "0", 5)
    return proc


def locked_product():
    pid = "h5-lock"
    res = cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Lock probe", "--price", "1.00",
              "--stock", "100000", check=False)
    assert res.returncode == 0 or "exist" in res.stderr, res.stderr
    return pid


def test_sighup_while_buys_wait_on_a_locked_row_loses_and_doubles_nothing():
    product = locked_product()
    tag = "h5-hup-%d" % time.time_ns()
    n = workers_now() + 4
    master = master_pid()
    lock = hold_product_lock(product, STACK["DEMO_SITE"], 1.5)
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            futs = [pool.submit(buy, "wx.qrcode", products=[{"id": product, "amount": 1}], note="%s-%d" % (tag, i))
                    for i in range(n)]
            # Every worker waits on the lock, the rest wait in the queue; the lock ends before
            # orderpayd's own db.lock_timeout_ms (2 s) would answer the waiting buys 503.
            time.sleep(0.5)
            os.kill(master, signal.SIGHUP)
            results = [f.result(timeout=60) for f in futs]
    finally:
        lock.wait(30)
    assert [r[0] for r in results] == [200] * n, [(r[0], r[2][:120]) for r in results]
    for i in range(n):
        assert psql("SELECT count(*) FROM orders WHERE note = '%s-%d'" % (tag, i)) == "1", i
    assert master_pid() == master and wait_for(healthz_ok, 10)


# ---------------------------------------------------------------------------------------------
# Reload with a bad value

class OwnPool:
    """An orderpayd of our own, on its own copy of the config (so SIGHUP re-reads our file) and
    its own socket; killed (its whole session) on the way out."""

    def __init__(self, tmp, workers):
        self.tmp, self.conf = str(tmp), os.path.join(str(tmp), "orderpay.conf")
        self.sock, self.log = os.path.join(self.tmp, "own.sock"), os.path.join(self.tmp, "own.log")
        self.write(workers)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPAY_")}
        env["ORDERPAY_CONFIG"] = self.conf
        self.proc = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=env, cwd=self.tmp,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def write(self, workers):
        with open(STACK["ORDERPAY_CONFIG"], encoding="utf-8") as f:
            base = [l for l in f.read().splitlines() if l.split("=")[0].strip() not in ("listen", "workers", "log_file")]
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("\n".join(base + ["listen = " + self.sock, "workers = %s" % workers, "log_file = " + self.log]) + "\n")

    def children(self):
        return subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def test_reload_with_workers_0_or_negative_keeps_the_pool_serving(tmp_path):
    # An operator's typo in `workers` followed by `systemctl reload`: orderpayd must keep serving
    # (refuse the value and keep the old config, as it does for an unreadable file or a bad
    # log_format), never retire every worker and leave nginx with a socket nobody accepts on.
    pool = OwnPool(tmp_path, 2)
    try:
        assert wait_for(lambda: healthz_ok(pool.sock), 20), "own pool did not start"
        for bad in ("0", "-4"):
            pool.write(bad)
            os.kill(pool.proc.pid, signal.SIGHUP)
            time.sleep(1.5)
            assert pool.proc.poll() is None
            assert len(pool.children()) >= 1, "workers = %s: reload left no worker at all" % bad
            assert wait_for(lambda: healthz_ok(pool.sock), 5), "workers = %s: the pool stopped answering" % bad
    finally:
        pool.close()


def test_startup_with_workers_0_refuses_to_start(tmp_path):
    # Like a bad log_format (test_logs.py): a config that cannot serve is an error at start, not
    # a master that runs forever with no worker.
    pool = OwnPool(tmp_path, 0)
    try:
        try:
            rc = pool.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        assert rc not in (None, 0), "orderpayd runs with workers = 0 and serves nothing"
    finally:
        pool.close()


def test_repeated_sighup_leaves_exactly_the_configured_workers():
    master = master_pid()
    n = workers_now()
    for _ in range(5):
        os.kill(master, signal.SIGHUP)
        time.sleep(0.05)
    assert wait_for(lambda: workers_now() == n, 15), workers_now()
    time.sleep(1.0)
    assert workers_now() == n
    assert master_pid() == master
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: http("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=10)[0], range(24)))
    assert codes == [200] * 24, codes


def test_zz_sigterm_while_buys_wait_on_a_locked_row_answers_every_accepted_one():
    # Through nginx, on the stack's own orderpayd (its socket is its own, so it drains): every
    # worker holds a buy blocked by the lock, 4 more are queued, then SIGTERM. Each buy accepted
    # before the signal is answered 200 and creates exactly one order; no 502.
    from test_zz_lifecycle import ensure_restarted
    product = locked_product()
    tag = "h5-term-%d" % time.time_ns()
    master = master_pid()
    n = workers_now() + 4
    lock = hold_product_lock(product, STACK["DEMO_SITE"], 1.5)
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            futs = [pool.submit(buy, "wx.qrcode", products=[{"id": product, "amount": 1}], note="%s-%d" % (tag, i))
                    for i in range(n)]
            time.sleep(0.5)  # the lock (1.5 s) ends before db.lock_timeout_ms (2 s)
            os.kill(master, signal.SIGTERM)
            results = [f.result(timeout=60) for f in futs]
    finally:
        lock.wait(30)
        exited = wait_for(lambda: subprocess.run(["kill", "-0", str(master)], capture_output=True).returncode != 0,
                          20)
        ensure_restarted(master)  # before any assertion: the rest of the suite needs the stack
    assert exited, "the master did not exit within 20 s of SIGTERM"
    assert [r[0] for r in results] == [200] * n, [(r[0], r[2][:120]) for r in results]
    for i in range(n):
        assert psql("SELECT count(*) FROM orders WHERE note = '%s-%d'" % (tag, i)) == "1", i
