"""Buyer-side loose ends a black-box attack found (session 31, helper 102):

- a code the provider can no longer take (closed at Alipay or WeChat, a PayPal order voided) is
  not offered by pay/check while pay/qr answers noqr: both show nothing to pay with, and pay/pay
  issues a new code;
- the provider's expiry of a code is the order's, by the database's clock: a worker whose clock
  is off (an LD_PRELOAD shim skews its time()) sends the expiry the order was written with;
- concurrent pay/pay calls of one order never answer a slip another one closed or replaced: a
  slip still being issued is not closed under its sender, and every reply names the slip
  pay/check shows afterwards (or is a documented error).
"""

import contextlib
import datetime
import json
import os
import signal
import socket
import ssl
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, psql
from helpers import FakeGateway, LocalServer, build_shim, buy_ok, check, db_row, own_orderpayd, preloaded, sim_trade, wait_for
from test_hostile_provider_values import fcgi
from test_hostile_scan import code as scan_code

import http.server

TICKET = STACK["DEMO_TICKET"]
V3 = STACK.get("DEMO_V3_SITE", "demo-v3")
USD = STACK.get("DEMO_USD_SITE", "demo-usd")
BEIJING = datetime.timezone(datetime.timedelta(hours=8))


def get(action, order_id, site=None, **params):
    params["id"] = order_id
    return api("GET", action, ticket=TICKET, params=params, site=site)


def order_of(order_id, site=None):
    st, body, raw, _ = get("check", order_id, site)
    assert st == 200, raw
    return body["data"]


# ------------------------------------------------------------ 5. a dead code is not offered

CLOSE_AT_PROVIDER = {
    # Alipay closed the trade (its own timeout, the merchant's console): TRADE_CLOSED.
    "zfb": "UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED', closed_at = now() WHERE out_trade_no = '{slip}'",
    # WeChat Pay v2 and v3: trade_state CLOSED.
    "wx": "UPDATE paysim.trades SET state = 'CLOSED' WHERE out_trade_no = '{slip}'",
    # PayPal: the order voided, its approval link no longer approvable.
    "paypal": "UPDATE paysim.pp_orders SET status = 'VOIDED' "
              "WHERE id = (SELECT provider_ref FROM pay_slips WHERE id = '{slip}')",
}


@pytest.mark.parametrize("pay_tp,site,provider", [
    ("zfb.qrcode", None, "zfb"),
    ("wx.qrcode", None, "wx"),
    ("wx.qrcode", V3, "wx"),
    ("paypal", USD, "paypal"),
], ids=["alipay", "wechat-v2", "wechat-v3", "paypal"])
def test_a_code_closed_at_the_provider_is_not_offered_and_pay_pay_issues_a_new_one(pay_tp, site, provider):
    st, body, raw, _ = api("POST", "buy", ticket=TICKET, site=site,
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": pay_tp})
    assert st == 200, raw
    order = body["data"]
    slip, code = order["pay_id"], order["pay_re"]["re_obj"]
    assert order["pay_re"]["st"] == "WAIT" and code, raw
    psql(CLOSE_AT_PROVIDER[provider].format(slip=slip))
    psql("UPDATE pay_slips SET queried_at = NULL WHERE id = '%s'" % slip)  # the next check asks

    now = order_of(order["id"], site)
    assert now["pay_id"] == slip and now["or_st"] == "WT", now
    # Asked, the provider said closed: the slip failed, and its code is offered no more.
    assert now["pay_re"] == {"st": "FAIL", "re_tp": "NONE", "re_obj": None}, now["pay_re"]
    assert code not in json.dumps(now)
    assert db_row("SELECT st, re_obj FROM pay_slips WHERE id = '%s'" % slip) == ["FAIL", code]
    # pay/qr agrees: nothing to scan.
    st, body, raw, _ = get("qr", order["id"], site)
    assert st == 409 and body["errCode"] == "e.www.order.noqr", raw
    # The operator's view keeps what the slip was given, for whoever investigates.
    shown = json.loads(cli("order", "show", order["id"], "--json").stdout)
    assert shown["pay_re"] == {"st": "FAIL", "re_tp": order["pay_re"]["re_tp"], "re_obj": code}, shown
    # Asked again (polls), the same.
    psql("UPDATE pay_slips SET queried_at = NULL WHERE id = '%s'" % slip)
    assert order_of(order["id"], site)["pay_re"]["re_obj"] is None

    # The buyer re-issues with pay/pay (same pay type, no force): a new slip with a live code.
    st, body, raw, _ = get("pay", order["id"], site)
    assert st == 200, raw
    fresh = body["data"]
    assert fresh["pay_id"] != slip and fresh["pay_re"]["st"] == "WAIT", raw
    assert fresh["pay_re"]["re_obj"] and fresh["pay_re"]["re_obj"] != code, raw
    again = order_of(order["id"], site)
    assert again["pay_id"] == fresh["pay_id"] and again["pay_re"] == fresh["pay_re"], again


# ------------------------------------------------------------ 6. the code expires by the database's clock

@pytest.fixture(scope="module")
def skew_shim(tmp_path_factory):
    return build_shim(tmp_path_factory.mktemp("skew"), "skew_time")


class Relay(LocalServer):
    """A gateway between orderpayd and paysim: every request is passed on to paysim's https
    gateway as it came, its answer passed back. `calls` lists (path, body) as received;
    `hold(pred)` keeps back the answer to requests pred(path, body) matches (paysim has acted on
    them) until `release()`; `seen` is set when a held request has reached paysim."""

    def __init__(self):
        outer = self
        self.calls = []
        self.pred = None
        self.gate = threading.Event()
        self.gate.set()
        self.seen = threading.Event()
        ctx = ssl.create_default_context(cafile=STACK["STACK_CA_FILE"])
        target = STACK["PAYSIM_HTTPS_URL"]

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                outer.calls.append((self.path, body or b""))
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "content-length", "connection", "accept-encoding")}
                req = urllib.request.Request(target + self.path, data=body, headers=hdrs, method=self.command)
                try:
                    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                        status, ctype, data = r.status, r.headers.get("Content-Type", ""), r.read()
                except urllib.error.HTTPError as e:
                    status, ctype, data = e.code, e.headers.get("Content-Type", ""), e.read()
                pred = outer.pred
                if pred and pred(self.path, body or b""):
                    outer.seen.set()
                    outer.gate.wait(60)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except Exception:
                    pass

            do_GET = do_POST

            def log_message(self, *a):
                pass

        super().__init__(H)

    def hold(self, pred):
        self.seen.clear()
        self.gate.clear()
        self.pred = pred

    def release(self):
        self.pred = None
        self.gate.set()


def zfb_biz(body):
    form = urllib.parse.parse_qs(body.decode())
    return form.get("method", [""])[0], json.loads(form.get("biz_content", ["{}"])[0])


def wx_field(body, name):
    text = body.decode()
    start = text.find("<%s>" % name)
    if start < 0:
        return None
    end = text.find("</%s>" % name, start)
    value = text[start + len(name) + 2:end]
    return value[9:-3] if value.startswith("<![CDATA[") else value


def sent_expiry(relay, slip):
    """The expiry orderpayd sent the provider for `slip`, in epoch seconds."""
    for path, body in relay.calls:
        if b"alipay.trade.precreate" in body:
            method, biz = zfb_biz(body)
            if biz.get("out_trade_no") == slip:
                t = datetime.datetime.strptime(biz["time_expire"], "%Y-%m-%d %H:%M:%S")
                return int(t.replace(tzinfo=BEIJING).timestamp())
        elif path.endswith("/unifiedorder") and wx_field(body, "out_trade_no") == slip:
            t = datetime.datetime.strptime(wx_field(body, "time_expire"), "%Y%m%d%H%M%S")
            return int(t.replace(tzinfo=BEIJING).timestamp())
    raise AssertionError("no create for %s among %r" % (slip, [p for p, _ in relay.calls]))


def listening(own):
    """own_orderpayd yields once its socket file exists, which bind() makes a moment before listen():
    a connection in between is refused. Waits until one is accepted."""
    def accepts():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(own["sock"])
            return True
        except ConnectionRefusedError:
            return False
        finally:
            s.close()
    assert wait_for(accepts, 30), "own orderpayd does not accept connections"
    return own


def own_call(own, method, action, params=None, body=None, site=None):
    query = {"ticket": TICKET}
    query.update(params or {})
    return fcgi(own["sock"], method, "/api/%s/pay/%s" % (site or STACK["DEMO_SITE"], action), query,
                json.dumps(body).encode() if body is not None else b"", "application/json")


@pytest.mark.parametrize("skew_s", [-600, 600], ids=["worker-behind", "worker-ahead"])
@pytest.mark.parametrize("pay_tp", ["wx.qrcode", "zfb.qrcode"])
def test_the_provider_expiry_is_the_orders_whatever_the_workers_clock(skew_shim, skew_s, pay_tp):
    relay = Relay()
    try:
        with own_orderpayd("skew%d" % (skew_s + 1000), SKEW_TIME_S=str(skew_s), **preloaded(skew_shim),
                           ORDERPAY_WXPAY_GATEWAY=relay.url,
                           ORDERPAY_ALIPAY_GATEWAY=relay.url + "/gateway.do") as own:
            listening(own)
            st, body, raw = own_call(own, "POST", "buy",
                                     body={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}],
                                           "pay_tp": pay_tp})
            assert st == 200, raw
            order = body["data"]
            if pay_tp == "zfb.qrcode":  # the shim works: Alipay's request timestamp is the worker's clock
                stamp = urllib.parse.parse_qs(relay.calls[0][1].decode())["timestamp"][0]
                worker = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
                off = worker.timestamp() - int(psql("SELECT extract(epoch from now())::bigint"))
                assert abs(off - skew_s) < 60, off
            expi_s = int(db_row("SELECT (extract(epoch from expi) * 1000)::bigint FROM orders WHERE id = '%s'"
                                % order["id"])[0]) // 1000
            assert order["expi"] // 1000 == expi_s
            # The code expires when the order does, to the second, by the database's clock.
            assert sent_expiry(relay, order["pay_id"]) == expi_s

            # pay/pay's new code too (it always took the order's expiry).
            other = "zfb.qrcode" if pay_tp == "wx.qrcode" else "wx.qrcode"
            st, body, raw = own_call(own, "GET", "pay", {"id": order["id"], "pt": other})
            assert st == 200 and body["data"]["pay_id"] != order["pay_id"], raw
            assert sent_expiry(relay, body["data"]["pay_id"]) == expi_s
    finally:
        relay.close()


# ------------------------------------------------------------ 7. concurrent pay/pay: no stale reply

@contextlib.contextmanager
def relayed_orderpayd(name, **env):
    """Our own orderpayd, its WeChat and Alipay calls through a Relay (own["relay"])."""
    relay = Relay()
    try:
        with own_orderpayd(name, ORDERPAY_WXPAY_GATEWAY=relay.url,
                           ORDERPAY_ALIPAY_GATEWAY=relay.url + "/gateway.do", **env) as own:
            own["relay"] = relay
            yield listening(own)
    finally:
        relay.release()
        relay.close()


@pytest.fixture(scope="module")
def relayed():
    """Our own orderpayd of three workers, its calls through a Relay."""
    with relayed_orderpayd("relay102", ORDERPAY_WORKERS="3") as own:
        yield own


def closed_at_sim(slip):
    t = sim_trade(slip)
    return t.get("state") in ("CLOSED", "TRADE_CLOSED", "REVOKED")


def precreate_of(slip=None):
    def pred(path, body):
        if b"alipay.trade.precreate" not in body:
            return False
        return slip is None or zfb_biz(body)[1].get("out_trade_no") == slip
    return pred


@pytest.mark.parametrize("second", [{"force": "true", "pt": "zfb.qrcode"}, {"pt": "wx.qrcode"}],
                         ids=["re-issue", "switch-back"])
def test_a_slip_being_issued_is_not_closed_under_its_sender(relayed, second):
    """pay/pay P1 switches to Alipay; while its precreate is at the provider (answer held), pay/pay
    P2 re-issues or switches back. P2 used to close P1's slip at the provider just before P1
    recorded its code, so P1 answered a code already closed. Now P2 answers the slip being issued
    (the order's slip, whatever it asked), and the code P1 answers is open and pay/check's."""
    relay = relayed["relay"]
    st, body, raw = own_call(relayed, "POST", "buy",
                             body={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    order = body["data"]
    relay.hold(precreate_of())
    replies = {}
    try:
        p1 = threading.Thread(target=lambda: replies.__setitem__(
            "p1", own_call(relayed, "GET", "pay", {"id": order["id"], "pt": "zfb.qrcode"})))
        p1.start()
        assert relay.seen.wait(30), "P1's precreate never reached the relay"
        slip_b = psql("SELECT pay_id FROM orders WHERE id = '%s'" % order["id"])
        assert slip_b != order["pay_id"]
        params = dict(second, id=order["id"])
        p2 = threading.Thread(target=lambda: replies.__setitem__("p2", own_call(relayed, "GET", "pay", params)))
        p2.start()
        # P2 either answers at once (now), or has gone to close slip B (before the fix): wait for
        # whichever happens, then let P1's precreate answer come back.
        wait_for(lambda: "p2" in replies or any(
            zfb_biz(b)[0] in ("alipay.trade.close", "alipay.trade.cancel") and
            zfb_biz(b)[1].get("out_trade_no") == slip_b for _, b in relay.calls if b"biz_content" in b), 30)
        wait_for(lambda: "p2" in replies or closed_at_sim(slip_b), 10)
    finally:
        relay.release()
    p1.join(60)
    p2.join(60)
    shown = order_of(order["id"])
    for name in ("p1", "p2"):
        st, body, raw = replies[name]
        assert st == 200, (name, raw)
        got = body["data"]
        # Every reply names the slip pay/check shows afterwards ...
        assert got["pay_id"] == shown["pay_id"], (name, got["pay_id"], shown["pay_id"])
        # ... and a code it answers is the one recorded, open at the provider.
        if got["pay_re"]["re_obj"]:
            assert got["pay_re"]["re_obj"] == shown["pay_re"]["re_obj"], name
            assert not closed_at_sim(got["pay_id"]), (name, sim_trade(got["pay_id"]))
    assert shown["pay_id"] == slip_b and shown["pay_re"]["st"] == "WAIT", shown
    assert not closed_at_sim(slip_b)


DOCUMENTED = {"e.www.order.paid", "e.www.order.closed", "e.www.pay.provider", "e.www.pay.timeout"}


@pytest.mark.parametrize("calls", [
    [{"pt": "zfb.qrcode"}] * 12,
    [{"pt": "zfb.qrcode"}, {"pt": "wx.qrcode"}] * 6,
], ids=["one-switch", "back-and-forth"])
def test_concurrent_pay_pay_never_answers_a_closed_or_replaced_code(calls):
    """Many concurrent pay/pay of one order (through the stack's nginx and eight workers): a 200
    reply names a slip whose code is the one recorded for it and was not closed when answered;
    with one target (a switch), every reply names the slip pay/check shows afterwards; at most one
    of the order's slips is open at the provider afterwards."""
    order = buy_ok("wx.qrcode")
    barrier = threading.Barrier(len(calls))

    def one(params):
        barrier.wait(30)
        return get("pay", order["id"], **params)

    with ThreadPoolExecutor(len(calls)) as pool:
        replies = list(pool.map(one, calls))
    shown = order_of(order["id"])
    assert shown["pay_re"]["st"] == "WAIT" and shown["pay_re"]["re_obj"], shown
    slips = psql("SELECT id || '|' || st || '|' || superseded FROM pay_slips WHERE order_id = '%s' "
                 "ORDER BY ct" % order["id"]).splitlines()
    open_at_sim = [s.split("|")[0] for s in slips if not closed_at_sim(s.split("|")[0])]
    assert open_at_sim == [shown["pay_id"]], (open_at_sim, slips)
    for st, body, raw, _ in replies:
        if st != 200:
            assert body and body.get("errCode") in DOCUMENTED, raw
            continue
        got = body["data"]
        rec = db_row("SELECT st, re_obj FROM pay_slips WHERE id = '%s'" % got["pay_id"])
        if got["pay_re"]["re_obj"]:
            assert got["pay_re"]["st"] == "WAIT" and got["pay_re"]["re_obj"] == rec[1], (raw, rec)
        if len(set(json.dumps(c, sort_keys=True) for c in calls)) == 1:
            assert got["pay_id"] == shown["pay_id"], (got["pay_id"], shown["pay_id"], slips)


# ------------------------------------------------------------ beyond: expiry during pay/pay, a paid order

def test_pay_pay_of_an_order_past_its_expiry_swaps_nothing():
    """An order past its expiry that the timer has not failed yet: pay/pay answers closed and
    issues no slip, whatever it read first."""
    order = buy_ok("wx.qrcode")
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    st, body, raw, _ = get("pay", order["id"], pt="zfb.qrcode")
    assert st == 409 and body["errCode"] == "e.www.order.closed", raw
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "1"
    assert psql("SELECT pay_id FROM orders WHERE id = '%s'" % order["id"]) == order["pay_id"]


# ------------------------------------------------------------ a scan that another slip pre-empts
def fresh_code(scan_tp):
    """An auth_code paysim pays at once (test_hostile_scan's table: 130 WeChat, 280 Alipay)."""
    return scan_code("130" if scan_tp == "wx.scan" else "280")


@pytest.mark.parametrize("scan_tp", ["wx.scan", "zfb.scan"])
def test_a_scan_pay_pay_behind_a_slip_being_issued_is_never_200(scan_tp):
    """A till's pay/pay with a scan pay type on an order whose QR slip another request is still
    issuing: the buyer's code is not charged, so the answer is 503 scan.busy (scan again), never
    the 200 a till reads as paid (review s31-105 A1); nothing written, the slip being issued kept."""
    order = buy_ok("wx.qrcode")
    slip = order["pay_id"]
    # As pay/buy or pay/pay leaves it while its provider call is out: NEW, just written.
    psql("UPDATE pay_slips SET st = 'NEW', lm = now() WHERE id = '%s'" % slip)
    st, body, raw, _ = get("pay", order["id"], pt=scan_tp, auth_code=fresh_code(scan_tp))
    assert st == 503 and body["errCode"] == "e.sys.scan.busy", raw
    assert body["data"]["id"] == order["id"] and body["data"]["or_st"] == "WT", raw
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "1"
    assert psql("SELECT pay_id FROM orders WHERE id = '%s'" % order["id"]) == slip
    # Its sender done, the same scan is taken: the code is charged now.
    psql("UPDATE pay_slips SET st = 'WAIT' WHERE id = '%s'" % slip)
    st, body, raw, _ = get("pay", order["id"], pt=scan_tp, auth_code=fresh_code(scan_tp))
    assert st == 200 and body["data"]["or_st"] in ("OK", "DN"), raw


# ------------------------------------------------------------ a code past its order's expiry (review s31-107 L1)

@pytest.mark.parametrize("pay_tp", ["zfb.qrcode", "wx.qrcode"])
def test_a_code_past_its_orders_expiry_is_not_offered_before_the_timer_runs(pay_tp):
    """Past `expi` the provider's own time_expire has closed the code (pay/buy sends the order's
    expiry), and pay/qr and pay/pay answer the order closed: pay/check must not offer the code
    either while the order waits for `orderpay expire` (a minute, or longer when the provider
    cannot be reached to close it). The operator's view keeps it."""
    order = buy_ok(pay_tp)
    code = order["pay_re"]["re_obj"]
    assert order["pay_re"]["re_tp"] == "QRCODE" and code, order
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    now = order_of(order["id"])
    assert now["or_st"] == "WT", now
    assert now["pay_re"]["re_tp"] == "NONE" and now["pay_re"]["re_obj"] is None, now["pay_re"]
    assert code not in json.dumps(now)
    st, body, raw, _ = get("qr", order["id"])
    assert st == 409 and body["errCode"] == "e.www.order.closed", raw
    shown = json.loads(cli("order", "show", order["id"], "--json").stdout)
    assert shown["pay_re"]["re_obj"] == code, shown


# ------------------------------------------------------------ a crash between pay/pay's statements
def test_a_pay_pay_whose_worker_died_before_its_provider_call_is_taken_over_once_its_sender_is_gone():
    """pay/pay's worker killed after its new slip was swapped in and before the provider answered
    (its Alipay call hung). Within buy.resend_after_ms the buyer's next pay/pay is answered that
    slip, being issued (NEW), and writes no other; once that has passed, pay/pay claims the dead
    sender's slip, closes it and issues a new code: one slip open, each code handed out recorded."""
    order = buy_ok("wx.qrcode")
    hang = FakeGateway(lambda path, body: b"", hang=60)
    try:
        with own_orderpayd("diepay", ORDERPAY_ALIPAY_GATEWAY=hang.url + "/gateway.do") as own:
            listening(own)
            threading.Thread(target=lambda: own_call(own, "GET", "pay", {"id": order["id"], "pt": "zfb.qrcode"}),
                             daemon=True).start()
            assert wait_for(lambda: hang.calls, 30), "pay/pay never reached the provider"
            os.killpg(own["proc"].pid, signal.SIGKILL)
            own["proc"].wait(timeout=10)
    finally:
        hang.close()
    dead = psql("SELECT pay_id FROM orders WHERE id = '%s'" % order["id"])
    assert dead != order["pay_id"] and db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % dead) == \
        ["NEW", "f"]
    # Its sender may still be at work as far as anyone can tell: answered as it stands.
    st, body, raw, _ = get("pay", order["id"], pt="zfb.qrcode")
    assert st == 200 and body["data"]["pay_id"] == dead and body["data"]["pay_re"]["st"] == "NEW", raw
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "2"
    # Long gone: taken over, closed, and a new code issued.
    psql("UPDATE pay_slips SET lm = now() - interval '10 minutes' WHERE id = '%s'" % dead)
    st, body, raw, _ = get("pay", order["id"], pt="zfb.qrcode")
    assert st == 200 and body["data"]["pay_id"] != dead, raw
    new = body["data"]["pay_id"]
    assert body["data"]["pay_re"]["st"] == "WAIT" and body["data"]["pay_re"]["re_tp"] != "NONE", raw
    assert db_row("SELECT st, re_obj FROM pay_slips WHERE id = '%s'" % new) == ["WAIT", body["data"]["pay_re"]["re_obj"]]
    assert psql("SELECT st FROM pay_slips WHERE id = '%s'" % dead) != "WAIT"
    assert order_of(order["id"])["pay_id"] == new
