"""Shared steps of the integration tests: buying, paying through paysim, waiting for states."""

import http.server
import socketserver
import threading
import time

from conftest import STACK, api, psql, sim


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


def db_row(sql):
    """First row of a query as a list of strings ('' for NULL)."""
    out = psql(sql)
    return out.splitlines()[0].split("|") if out else None


def inbox(slip_id):
    """(verdict, reason) of every stored notification for a slip, oldest first."""
    out = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' ORDER BY id" % slip_id)
    return [tuple(line.split("|", 1)) for line in out.splitlines()] if out else []


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
