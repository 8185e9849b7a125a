"""Shared steps of the integration tests: buying, paying through paysim, waiting for states."""

import contextlib
import http.server
import json
import os
import socket
import subprocess
import socketserver
import threading
import time

from conftest import PSQL, STACK, _pg_env, api, psql, sim
from conftest import http as http_call  # not `http`: this module uses the http.server module


def admin(action, key=None, body=None, *, method="POST", site=None, params="", headers=None, raw=None):
    """An operator call, /api/SITE/admin/ACTION (the demo site by default): `key` as its bearer
    token, `body` sent as JSON (or `raw` bytes or text as they are), `params` the query string
    with its "?". The reply as conftest's http() gives it."""
    url = "%s/api/%s/admin/%s%s" % (STACK["ORDERPAY_URL"], site or STACK["DEMO_SITE"], action, params)
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    data = raw.encode() if isinstance(raw, str) else raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    return http_call(method, url, data, hdrs)


def free_port():
    """A TCP port on 127.0.0.1 nothing listens on (bound and released: free a moment after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, step=0.1):
    """Polls pred() until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def buy(pay_tp="wx.qrcode", products=None, ticket=None, **extra):
    body = {"products": products or [{"id": STACK["DEMO_PRODUCT"], "amount": 2}], "pay_tp": pay_tp}
    body.update(extra)
    return api("POST", "buy", ticket=ticket or STACK["DEMO_TICKET"], json=body)


def buy_ok(pay_tp="wx.qrcode", **kw):
    status, body, raw, _ = buy(pay_tp, **kw)
    assert status == 200, raw
    assert body["ok"] is True, raw
    return body["data"]


def check(order_id, ticket=None):
    return api("GET", "check", ticket=ticket or STACK["DEMO_TICKET"], params={"id": order_id})


def wait_state(order_id, want, timeout=5.0):
    """Polls pay/check until or_st is `want`; returns the last order seen."""
    deadline = time.time() + timeout
    while True:
        status, body, raw, _ = check(order_id)
        assert status == 200, raw
        if body["data"]["or_st"] == want or time.time() > deadline:
            return body["data"]
        time.sleep(0.1)


def sim_pay(slip_id, **form):
    form["out_trade_no"] = slip_id
    status, body, raw, _ = sim("/sim/pay", form)
    assert status == 200, raw
    return body["data"]


def build_shim(out_dir, name):
    """Compiles tests/integration/shims/NAME.c into OUT_DIR/NAME.so, an LD_PRELOAD shim."""
    out = os.path.join(str(out_dir), name + ".so")
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", out, os.path.join(here, "shims", name + ".c"), "-ldl"],
                   check=True)
    return out


def preloaded(shim):
    """The environment that preloads `shim` into a program, the sanitizer build too: ASan refuses a
    preload ahead of its runtime unless told not to check the order (CI runs that build)."""
    return {"LD_PRELOAD": shim, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


def write_headers(path, headers):
    """The file `orderpay notify verify --headers` reads: one `Name: value` line per header, CRLF."""
    with open(path, "w") as f:
        f.write("".join("%s: %s\r\n" % kv for kv in headers.items()))
    return path


def db_row(sql):
    """First row of a query as a list of strings ('' for NULL)."""
    out = psql(sql)
    return out.splitlines()[0].split("|") if out else None


def inbox(slip_id):
    """(verdict, reason) of every stored notification for a slip, oldest first."""
    out = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' ORDER BY id" % slip_id)
    return [tuple(line.split("|", 1)) for line in out.splitlines()] if out else []


def read_until_close(sock, done=None):
    """Every byte `sock` gives until the peer closes it (or its timeout passes, or it is reset),
    or until `done(bytes so far)` says that is all."""
    out = b""
    with contextlib.suppress(socket.timeout, ConnectionResetError):
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
            if done and done(out):
                break
    return out


def ensure_site(site_id, *flags):
    """`site add`, or on a reused stack where the site exists, `site set` with the same flags."""
    from conftest import cli
    res = cli("site", "add", site_id, *flags, check=False)
    if res.returncode == 1 and "exists already" in res.stderr:
        cli("site", "set", site_id, *flags)
    elif res.returncode != 0:
        raise AssertionError("site add %s failed: %s%s" % (site_id, res.stdout, res.stderr))


def sim_trade(slip):
    """paysim's record of a trade (any provider), by out_trade_no."""
    st, body, raw, _ = sim("/sim/trade", {"out_trade_no": slip}, method="GET")
    assert st == 200, raw
    return body["data"]


def sim_refunded(slip):
    """What paysim (Alipay) gave back for the trade in all, in fen."""
    return sim_trade(slip)["refund_fee"]


def recorded(order_id, states=("OK",)):
    """The sum of an order's refunds in the given states, in minor units."""
    return int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = '%s' AND st IN (%s)"
                    % (order_id, ",".join("'%s'" % s for s in states))))


def refund_rows(order_id):
    return int(psql("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order_id))


class LocalServer:
    """An HTTP server on a free loopback port, serving `handler` (a BaseHTTPRequestHandler class)
    from a thread per request; `url` is its base, `close()` stops it."""

    def __init__(self, handler):
        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeGateway(LocalServer):
    """A provider gateway stand-in on a free port: every POST (and GET) is answered with
    `answer(path, body)`, either bytes (status 200, `content_type`) or (status, bytes), after
    sleeping `hang` seconds. `calls` lists (path, body) as received."""

    def __init__(self, answer, hang=0, content_type="text/xml"):
        outer = self
        self.calls = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                outer.calls.append((self.path, body))
                if hang:
                    time.sleep(hang)
                got = answer(self.path, body)
                status, data = got if isinstance(got, tuple) else (200, got)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except Exception:
                    pass  # the client gave up (a timeout probe)

            do_GET = do_POST

            def log_message(self, *a):
                pass

        super().__init__(H)


@contextlib.contextmanager
def failing_update(table, tag, when, errcode="P0001", times=None):
    """While inside: an UPDATE of `table` whose new row matches the SQL condition `when` (on NEW)
    raises in the database with SQLSTATE `errcode` (a unique violation, a deadlock: what a race
    ends in), as a fault between two statements would; with `times`, only the first `times`
    matching updates fail and later ones go through. `tag` names the trigger (unique per test: a
    slip or order id), so clearing it leaves nothing behind."""
    name = "test_boom_%s_%s" % (table, tag)
    count = ""
    if times is not None:
        count = "IF nextval('%s') > %d THEN RETURN NEW; END IF; " % (name, times)
        psql("DROP SEQUENCE IF EXISTS %s; CREATE SEQUENCE %s" % (name, name))
    psql("CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS "
         "$$ BEGIN %sRAISE EXCEPTION 'injected fault' USING ERRCODE = '%s'; END $$; "
         "CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW WHEN (%s) EXECUTE FUNCTION %s()"
         % (name, count, errcode, name, table, when, name))
    try:
        yield
    finally:
        psql("DROP TRIGGER IF EXISTS %s ON %s; DROP FUNCTION IF EXISTS %s(); DROP SEQUENCE IF EXISTS %s"
             % (name, table, name, name))


def lock_waiters(*fragments):
    """How many sessions of this database wait for a lock in a statement containing every one of
    `fragments` (all of them when none is given)."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
           " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
    for f in fragments:
        sql += " AND query LIKE '%%%s%%'" % f.replace("'", "''")
    return int(psql(sql))


class Locker:
    """An open psql session holding locks (SELECT ... FOR UPDATE, LOCK TABLE) in an open transaction."""

    def __init__(self, sql):
        self.proc = subprocess.Popen([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1"], env=_pg_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.proc.stdin.write("BEGIN;\n%s;\nSELECT 'locked';\n" % sql)
        self.proc.stdin.flush()
        # Wait until the lock is held.
        while True:
            line = self.proc.stdout.readline()
            assert line, "locker psql ended: %s" % self.proc.stderr.read()
            if line.strip() == "locked":
                break

    def release(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("ROLLBACK;\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def own_orderpayd(tag, **env):
    """A second orderpayd of one worker on the stack's config and database, on a socket of its own
    beside the stack's, with ORDERPAY_* overrides `env` (a fake gateway's URL, timeouts); logs to
    <tag>-orderpayd.log in the stack's log folder. Yields {"sock", "proc"}; stopped on the way out."""
    sock = os.path.join(os.path.dirname(STACK["ORDERPAYD_SOCKET"]), "%s-%d.sock" % (tag, os.getpid()))
    full = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_LISTEN=sock, ORDERPAY_WORKERS="1")
    full.update(env)
    if os.path.exists(sock):
        os.unlink(sock)
    with open(os.path.join(STACK["STACK_LOG_DIR"], "%s-orderpayd.log" % tag), "ab") as log:
        proc = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=full,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.time() + 30
            while not os.path.exists(sock):
                assert proc.poll() is None and time.time() < deadline, "own orderpayd did not start"
                time.sleep(0.05)
            yield {"sock": sock, "proc": proc}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if os.path.exists(sock):
                os.unlink(sock)


def paid_through_another_slip():
    """A 25.00 CNY wx.qrcode order switched to zfb.qrcode (pay/pay) and paid there: (order, the
    first, now closed, WeChat slip), which a late payment of the old code pays a second time."""
    order = buy_ok("wx.qrcode")
    first = order["pay_id"]
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "zfb.qrcode"})
    assert st == 200, raw
    sim_pay(body["data"]["pay_id"])
    assert wait_state(order["id"], "OK", timeout=20)["or_st"] == "OK"
    return order, first
