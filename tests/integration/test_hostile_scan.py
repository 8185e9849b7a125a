"""Hostile probes of SCAN payments (wx.scan micropay, zfb.scan alipay.trade.pay): the shop's
scanner reads the buyer's code, orderpay pays with it, polls while the buyer confirms, then
reverses / cancels. Probed here as a careless or hostile client and a provider that answers late:

- auth_code at and past its limit (32 digits), spaces, full-width digits, NUL, a JSON number,
  on pay/buy (nothing written for a 400) and on pay/pay (the live QR code is not retired for a
  refused code);
- the same code for two orders at once;
- pay/pay switching pay type or code, pay/check, `orderpay expire` and `orderpay reconcile`
  while a scan is still polling: never two payments kept, a failed slip never paid at paysim, a
  paid slip always the one paysim holds, stock and `orderpay audit` consistent;
- several buyers scanning scarce products at once: never oversold, nothing leaked once expired;
- the buyer confirming just as orderpay's WeChat reverse arrives (a paysim trigger);
- a polling scan overtaken by a pay/pay whose code pays at once: the buy answers the paid order
  (200), the overtaken pay/pay 409 e.www.order.paid, never e.www.pay.failed for a paid order;
- the orderpayd worker serving a scan SIGKILLed mid-poll: the slip left NEW, then settled by pay/check when
  the buyer confirmed, closed by expiry (stock back, the trade closed at paysim) when not;
- one buyer starting as many never-confirmed scans (134... codes, USERPAYING until reversed) as
  there are workers: the rest of the shop keeps answering (scan.max_waiting), and a place held
  by a worker killed mid-poll is taken again.

paysim's code tables are in README.md ("Scan behaviour is chosen by the auth code's prefix")."""

import os
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, http, psql, sim
from helpers import buy, buy_ok, check, db_row, sim_trade, wait_for

SITE = STACK["DEMO_SITE"]
ALICE = STACK["DEMO_TICKET"]
BOB = STACK["DEMO_TICKET_BOB"]

_seq = [int(time.time() * 1000) % 1000000]
_seq_lock = threading.Lock()


def code(prefix, length=18):
    """A fresh auth_code with paysim's behaviour `prefix` (130, 281, ...)."""
    with _seq_lock:
        _seq[0] += 1
        n = _seq[0]
    return prefix + ("%0*d" % (length - len(prefix), n))[-(length - len(prefix)):]


def product(stock=1, price="1.00", site=SITE):
    pid = "scan-%s" % uuid.uuid4().hex[:10]
    cli("product", "add", pid, "--site", site, "--title", "scan " + pid, "--price", price, "--stock", str(stock))
    return pid


def stock_of(pid):
    return int(psql("SELECT stock FROM products WHERE id = '%s'" % pid))


def orders_of(pid):
    out = psql("SELECT order_id FROM order_items WHERE product_id = '%s' ORDER BY order_id" % pid)
    return out.splitlines() if out else []


def held_of(pid):
    """Units of `pid` that orders still hold."""
    return int(psql("SELECT coalesce(sum(i.amount), 0) FROM order_items i JOIN orders o ON o.id = i.order_id"
                    " WHERE i.product_id = '%s' AND o.stock_held AND i.stock_taken" % pid))


def slips(order_id):
    """[(slip id, pay_tp, st, provider_txn_id or '', superseded)] oldest first."""
    out = psql("SELECT id, pay_tp, st, coalesce(provider_txn_id, ''), superseded FROM pay_slips"
               " WHERE order_id = '%s' ORDER BY ct, id" % order_id)
    return [tuple(line.split("|")) for line in out.splitlines()] if out else []


def due(order_id):
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order_id)


def audit_clean():
    cli("expire")  # as the minute timer would
    res = cli("audit", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def _trade_or_none(slip):
    """paysim's trade, or None when the slip never reached paysim."""
    st, body, raw, _ = sim("/sim/trade", {"out_trade_no": slip}, method="GET")
    if st == 404:
        return None
    assert st == 200, raw
    return body["data"]


def assert_money_consistent(order_id):
    """paysim and orderpay agree on every slip of the order: a slip orderpay holds failed was never
    left paid at paysim, a paid one is the trade paysim holds paid, and the order is paid by at
    most one slip (exactly the one it names)."""
    or_st, pay_id = db_row("SELECT or_st, coalesce(pay_id, '') FROM orders WHERE id = '%s'" % order_id)
    paid = []
    for sid, pay_tp, st, txn, _sup in slips(order_id):
        t = _trade_or_none(sid)
        state = (t or {}).get("state")
        paid_at_sim = state in ("SUCCESS", "TRADE_SUCCESS", "TRADE_FINISHED")
        if st == "OK":
            paid.append(sid)
            assert paid_at_sim or (state == "TRADE_CLOSED" and t.get("refunded")), (sid, st, t)
            assert txn and txn == (t.get("transaction_id") or t.get("trade_no")), (sid, txn, t)
        else:
            assert not paid_at_sim, "slip %s is %s in orderpay but paid at paysim: %r" % (sid, st, t)
    assert len(paid) <= 1, (order_id, paid)
    if or_st in ("OK", "SP", "DN"):
        assert paid == [pay_id], (or_st, pay_id, paid)
    else:
        assert or_st in ("NW", "WT", "FA", "RF"), or_st
        assert or_st == "RF" or not paid, (or_st, paid)
    return or_st


# ---------------------------------------------------------------- auth_code as the client sends it

BAD_CODES = [
    ("1" * 33, "e.www.order.invalid.field"),                       # past 32
    ("9" * 400, "e.www.order.invalid.field"),                      # very long
    (" 130000000000000001", "e.www.order.invalid.field"),           # leading space
    ("130000000000000001 ", "e.www.order.invalid.field"),           # trailing space
    ("130000000000000001\n", "e.www.order.invalid.field"),          # a scanner's line end
    ("\uff11\uff13\uff10000000000000001", "e.www.order.invalid.field"),  # full-width digits
    ("13000000000000\u00000001", "e.www.api.invalid.encoding"),     # NUL
    ("-130000000000000001", "e.www.order.invalid.field"),
    ("1.3e17", "e.www.order.invalid.field"),
    ("\u0661\u0663\u0660000000000000001", "e.www.order.invalid.field"),  # Arabic-Indic digits
    ("", "e.www.order.nil.auth_code"),
    (130000000000000001, "e.www.order.invalid.field"),              # a JSON number
]


@pytest.mark.parametrize("pay_tp", ["wx.scan", "zfb.scan"])
def test_bad_auth_codes_on_buy_are_400_and_write_nothing(pay_tp):
    pid = product(stock=2)
    for bad, err in BAD_CODES:
        st, body, raw, _ = buy(pay_tp, products=[{"id": pid, "amount": 1}], auth_code=bad)
        assert st == 400 and body["errCode"] == err, (repr(bad)[:40], raw[:200])
    assert orders_of(pid) == [] and stock_of(pid) == 2


@pytest.mark.parametrize("pay_tp,good_prefix", [("wx.scan", "130"), ("zfb.scan", "280")])
def test_auth_code_length_at_the_limit_reaches_the_provider_and_is_declined(pay_tp, good_prefix):
    """32 digits is accepted by orderpay and declined by the provider (wx wants 18, Alipay 16-24):
    409 pay.failed, the order kept with its failed slip, not paid at paysim."""
    pid = product(stock=1)
    st, body, raw, _ = buy(pay_tp, products=[{"id": pid, "amount": 1}], auth_code=code(good_prefix, 32))
    assert st == 409 and body["errCode"] == "e.www.pay.failed", raw
    order = body["data"]
    assert order["or_st"] in ("NW", "WT") and order["pay_re"]["st"] == "FAIL", order
    assert assert_money_consistent(order["id"]) in ("NW", "WT")
    # The same order can be paid with pay/pay and a good code: one payment.
    st, body, raw, _ = api("GET", "pay", ticket=ALICE,
                           params={"id": order["id"], "pt": pay_tp, "auth_code": code(good_prefix)})
    assert st == 200 and body["data"]["or_st"] == "OK", raw
    assert assert_money_consistent(order["id"]) == "OK"


BAD_QUERY_CODES = [("1" * 33, 400, "e.www.order.invalid.field"),
                   (" 130000000000000001", 400, "e.www.order.invalid.field"),
                   ("13000000000000000１", 400, "e.www.order.invalid.field"),
                   ("130000000000\x0000001", 400, "e.www.api.invalid.encoding"),
                   ("", 400, "e.www.order.nil.auth_code")]


def test_bad_auth_code_on_pay_pay_keeps_the_live_qr_code():
    """A refused code must be refused before the old slip is retired: the QR code the buyer may be
    scanning stays live and payable."""
    order = buy_ok("wx.qrcode", products=[{"id": product(stock=1), "amount": 1}])
    slip = order["pay_id"]
    for bad, status, err in BAD_QUERY_CODES:
        st, body, raw, _ = api("GET", "pay", ticket=ALICE, params={"id": order["id"], "pt": "wx.scan",
                                                                   "auth_code": bad})
        assert st == status and body["errCode"] == err, (repr(bad), raw[:200])
    assert slips(order["id"]) == [(slip, "wx.qrcode", "WAIT", "", "f")]
    assert sim_trade(slip)["state"] == "NOTPAY"
    st, body, raw, _ = check(order["id"])
    assert body["data"]["pay_id"] == slip and body["data"]["pay_re"]["re_tp"] == "QRCODE", raw
    # Still payable: the buyer pays the code on the screen.
    st, body, raw, _ = sim("/sim/pay", {"out_trade_no": slip})
    assert st == 200, raw
    assert wait_for(lambda: check(order["id"])[1]["data"]["or_st"] == "OK", 5)
    assert assert_money_consistent(order["id"]) == "OK"


def test_the_same_code_for_two_orders_at_once_each_settles_on_its_own_trade():
    shared = code("131")
    pid = product(stock=2)
    with ThreadPoolExecutor(2) as ex:
        res = list(ex.map(lambda t: buy("wx.scan", ticket=t, products=[{"id": pid, "amount": 1}],
                                        auth_code=shared), [ALICE, BOB]))
    for st, body, raw, _ in res:
        assert st == 200 and body["data"]["or_st"] == "OK", raw
    ids = [body["data"]["id"] for _, body, _, _ in res]
    txns = set()
    for oid in ids:
        assert assert_money_consistent(oid) == "OK"
        txns.add(slips(oid)[0][3])
    assert len(txns) == 2, txns
    assert stock_of(pid) == 0


# ---------------------------------------------------------------- another request while a scan polls

def _pay_pay_qr(site, oid):
    return api("GET", "pay", ticket=ALICE, params={"id": oid, "pt": "wx.qrcode"}, site=site)[:2]


def _pay_pay_zfb_paid(site, oid):
    if site != SITE:  # demo-v3 sells through WeChat only: another code of the same type instead
        return api("GET", "pay", ticket=ALICE, params={"id": oid, "pt": "wx.scan", "auth_code": code("131")},
                   site=site)[:2]
    return api("GET", "pay", ticket=ALICE, params={"id": oid, "pt": "zfb.scan", "auth_code": code("280")})[:2]


def _pay_pay_wx_paid_forced(site, oid):
    return api("GET", "pay", ticket=ALICE,
               params={"id": oid, "pt": "wx.scan", "force": "true", "auth_code": code("130")}, site=site)[:2]


def _checks(site, oid):
    out = []
    for _ in range(6):
        out.append(api("GET", "check", ticket=ALICE, params={"id": oid}, site=site)[0])
        time.sleep(0.1)
    return out


def _expire(site, oid):
    due(oid)
    return cli("expire", check=False).returncode


def _reconcile(site, oid):
    return cli("reconcile", "--min-age", "0", check=False).returncode


RACE_ACTIONS = [_pay_pay_qr, _pay_pay_zfb_paid, _pay_pay_wx_paid_forced, _checks, _expire, _reconcile]
V3 = STACK["DEMO_V3_SITE"]
RACE_CODES = [(SITE, "wx.scan", "131"), (SITE, "wx.scan", "133"), (SITE, "wx.scan", "134"),
              (SITE, "zfb.scan", "281"), (SITE, "zfb.scan", "283"), (SITE, "zfb.scan", "284"),
              (V3, "wx.scan", "131"), (V3, "wx.scan", "134")]


def _scan_buy(site, pid, pay_tp, prefix):
    """A till's scan buy: refused as busy (scan.max_waiting places taken, nothing written or sent)
    it is sent again. Two races run at once and their pay/pay actions scan too, so a third scan
    can meet every place taken."""
    for _ in range(200):
        reply = api("POST", "buy", ticket=ALICE, site=site,
                    json={"products": [{"id": pid, "amount": 1}], "pay_tp": pay_tp, "auth_code": code(prefix)})
        if reply[0] != 503 or (reply[1] or {}).get("errCode") != "e.sys.scan.busy":
            return reply
        time.sleep(0.05)
    return reply


def _race(site, pay_tp, prefix, action):
    pid = product(stock=1, site=site)
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(_scan_buy, site, pid, pay_tp, prefix)
        assert wait_for(lambda: orders_of(pid), 15, step=0.02), "no order written"
        oid = orders_of(pid)[0]
        time.sleep(0.1)  # the provider's first answer is in; the poll sleeps
        got = action(site, oid)
        st, body, raw, _ = fut.result()
    assert st in (200, 409, 504), raw
    if st == 200:
        assert body["data"]["or_st"] == "OK", raw
    else:  # an order answered paid is never a failed buy (the till would ask for a second payment)
        assert body["data"]["or_st"] not in ("OK", "SP", "DN"), raw
    return pid, oid, (st, body and body.get("errCode"), got)


@pytest.mark.parametrize("site,pay_tp,prefix", RACE_CODES)
def test_requests_racing_a_polling_scan_never_keep_two_payments_or_leak_stock(site, pay_tp, prefix):
    with ThreadPoolExecutor(2) as ex:
        results = list(ex.map(lambda a: _race(site, pay_tp, prefix, a), RACE_ACTIONS))
    time.sleep(1.0)  # the last poll and any reversal finish
    for (pid, oid, what), action in zip(results, RACE_ACTIONS):
        ctx = (action.__name__, what)
        # Let pay/check query whatever is still open, then compare with paysim.
        api("GET", "check", ticket=ALICE, params={"id": oid}, site=site)
        or_st = assert_money_consistent(oid)
        # Stock: exactly what the order still holds is off the shelf.
        assert stock_of(pid) + held_of(pid) == 1, (ctx, stock_of(pid), held_of(pid))
        if or_st in ("OK", "SP", "DN"):
            assert held_of(pid) == 1, ctx
        if or_st == "FA":
            assert stock_of(pid) == 1, ctx
        # A pay/pay that was answered paid really found the order paid.
        if action.__name__.startswith("_pay_pay") and what[2][0] == 200:
            assert what[2][1]["data"]["or_st"] in ("OK", "WT", "NW"), ctx
    # Expire what is left unpaid: every unit comes back, nothing paid is touched.
    for pid, oid, _ in results:
        if psql("SELECT or_st FROM orders WHERE id = '%s'" % oid) in ("NW", "WT"):
            due(oid)
    cli("expire")
    for (pid, oid, what), action in zip(results, RACE_ACTIONS):
        or_st = assert_money_consistent(oid)
        assert stock_of(pid) == (0 if or_st in ("OK", "SP", "DN", "RF") else 1), (action.__name__, what, or_st)
    audit_clean()


def test_scarce_stock_scanned_by_many_at_once_is_never_oversold_nor_leaked():
    pids = [product(stock=2), product(stock=1)]
    prefixes = [("wx.scan", p) for p in ("130", "131", "132", "134")] + \
               [("zfb.scan", p) for p in ("280", "281", "282", "283")]
    jobs = []
    for i in range(12):
        pay_tp, prefix = prefixes[i % len(prefixes)]
        lines = [{"id": pids[i % 2], "amount": 1}] if i % 3 else [{"id": pids[0], "amount": 1},
                                                                  {"id": pids[1], "amount": 1}]
        jobs.append((pay_tp, prefix, lines, ALICE if i % 2 else BOB))
    busy = []

    def till(j):
        # As a till does: a scan refused as busy (nothing written or sent) is scanned again.
        deadline = time.time() + 60
        while True:
            r = buy(j[0], ticket=j[3], products=j[2], auth_code=code(j[1]))
            if r[0] != 503 or time.time() > deadline:
                return r
            assert r[1]["errCode"] == "e.sys.scan.busy", r[2]
            busy.append(r)
            time.sleep(0.05)

    with ThreadPoolExecutor(12) as ex:
        res = list(ex.map(till, jobs))
    statuses = [r[0] for r in res]
    assert all(s in (200, 409, 504) for s in statuses), [r[2][:200] for r in res]
    for st, body, raw, _ in res:
        if st == 409:
            assert body["errCode"] in ("e.www.order.OutOfStore", "e.www.pay.failed"), raw
    time.sleep(0.5)
    for pid, total in zip(pids, (2, 1)):
        assert stock_of(pid) >= 0 and stock_of(pid) + held_of(pid) == total, (pid, stock_of(pid), held_of(pid))
    oids = sorted(set(orders_of(pids[0]) + orders_of(pids[1])))
    paid = [oid for oid in oids if assert_money_consistent(oid) == "OK"]
    units_paid = int(psql("SELECT coalesce(sum(i.amount), 0) FROM order_items i JOIN orders o ON o.id = i.order_id"
                          " WHERE o.or_st = 'OK' AND i.product_id = '%s'" % pids[0]))
    assert units_paid <= 2
    # The unpaid ones expire: everything not paid is back on the shelf.
    for oid in oids:
        if oid not in paid:
            due(oid)
    cli("expire")
    for pid, total in zip(pids, (2, 1)):
        sold = int(psql("SELECT coalesce(sum(i.amount), 0) FROM order_items i JOIN orders o ON o.id = i.order_id"
                        " WHERE o.or_st = 'OK' AND i.product_id = '%s'" % pid))
        assert stock_of(pid) == total - sold, (pid, stock_of(pid), sold)
    audit_clean()


# ---------------------------------------------------------------- a worker killed mid-poll

def _workers():
    master = open(STACK["ORDERPAYD_PID_FILE"]).read().strip()
    out = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _wchan(pid):
    try:
        with open("/proc/%d/wchan" % pid, encoding="ascii") as f:
            return f.read()
    except OSError:
        return ""


def _age(pid):
    out = subprocess.run(["ps", "-o", "etimes=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return int(out) if out else 0


def _pool_settled():
    """Every configured worker runs and has lived past the master's 2 s crash-loop window (a
    worker killed younger makes it back off up to 30 s before the next start)."""
    ws = _workers()
    return len(ws) == _config_int("workers", 8) and all(_age(w) >= 3 for w in ws)


def _kill_mid_poll(pay_tp, prefix, site=SITE):
    """Starts a scan and SIGKILLs the worker serving it while it sleeps between two queries (the
    only worker in nanosleep; the master starts a new one); returns (product, order id, slip id,
    buy's status)."""
    assert wait_for(_pool_settled, 40, step=0.5), "orderpayd's workers are not all up"
    pid = product(stock=1, site=site)
    before = set(_workers())
    body = {"products": [{"id": pid, "amount": 1}], "pay_tp": pay_tp, "auth_code": code(prefix)}
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(api, "POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=site)
        assert wait_for(lambda: orders_of(pid), 5, step=0.02)
        busy = []
        assert wait_for(lambda: busy.extend(w for w in before if _wchan(w) == "hrtimer_nanosleep") or busy,
                        5, step=0.01), "no worker polling"
        os.kill(busy[0], signal.SIGKILL)
        st = fut.result()[0]
    assert wait_for(lambda: len(set(_workers()) - before) >= 1, 10), "the master restarted no worker"
    oid = orders_of(pid)[0]
    return pid, oid, slips(oid)[0][0], st


@pytest.mark.parametrize("pay_tp,prefix", [("wx.scan", "134"), ("zfb.scan", "281")])
def test_worker_killed_mid_poll_then_buyer_confirms_pay_check_settles_it(pay_tp, prefix):
    pid, oid, slip, st = _kill_mid_poll(pay_tp, prefix)
    assert st in (502, 504, 200), st
    if sim_trade(slip)["state"] not in ("SUCCESS", "TRADE_SUCCESS"):
        # The buyer confirms on the phone after orderpay lost track.
        s, body, raw, _ = sim("/sim/pay", {"out_trade_no": slip})
        assert s == 200, raw
    assert wait_for(lambda: check(oid)[1]["data"]["or_st"] == "OK", 8, step=0.3), check(oid)[2]
    assert assert_money_consistent(oid) == "OK"
    cli("reconcile", "--min-age", "0")
    assert stock_of(pid) == 0 and held_of(pid) == 1
    audit_clean()


SCAN_SITES = [("wx.scan", "134", SITE), ("zfb.scan", "283", SITE)]
if "DEMO_V3_SITE" in STACK:
    SCAN_SITES.append(("wx.scan", "134", STACK["DEMO_V3_SITE"]))  # v3 codepay


@pytest.mark.parametrize("pay_tp,prefix,site", SCAN_SITES)
def test_worker_killed_mid_poll_never_confirmed_is_closed_by_expiry_and_stock_returns(pay_tp, prefix, site):
    """The trade is still waiting for the buyer at the provider when the order expires. WeChat
    ends a micropay / codepay trade by reverse: closeorder is documented for unifiedorder trades
    only, and paysim's closeorder does not know a micropay trade (ORDERNOTEXIST), which orderpay
    before EndScan took as closed while the buyer could still pay."""
    pid, oid, slip, st = _kill_mid_poll(pay_tp, prefix, site)
    assert st in (502, 504, 409), st
    api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": oid}, site=site)
    cli("reconcile", "--min-age", "0")
    # Unknown is never failed: the order stays payable and holds its unit until it expires.
    or_st = assert_money_consistent(oid)
    assert or_st in ("NW", "WT"), or_st
    assert stock_of(pid) + held_of(pid) == 1
    due(oid)
    cli("expire")
    assert assert_money_consistent(oid) == "FA"
    assert stock_of(pid) == 1
    t = sim_trade(slip)
    assert t["state"] == ("REVOKED" if pay_tp == "wx.scan" else "TRADE_CLOSED"), t
    # The buyer's phone confirming now is refused by the provider: no money on a closed order.
    s, body, raw, _ = sim("/sim/pay", {"out_trade_no": slip})
    assert s != 200 or body["ok"] is False, raw
    assert assert_money_consistent(oid) == "FA"
    audit_clean()


# ---------------------------------------------------------------- one buyer pinning every worker

def _config_int(key, default):
    with open(STACK["ORDERPAY_CONFIG"], encoding="utf-8") as f:
        for line in f:
            k, sep, v = line.partition("=")
            if sep and k.strip() == key:
                return int(v.split("#")[0].strip())
    return default


def _scan_cap():
    return _config_int("scan.max_waiting", 0) or max(1, _config_int("workers", 8) // 2)


def test_one_buyers_never_confirmed_scans_do_not_stop_the_shop():
    """Was a defect: one ticket's never-confirmed scans (134...) held every orderpayd worker for
    scan_poll_ms x scan_poll_tries and the reverse (the poll sleeps inside the worker), and
    /healthz and other buyers' pay/check waited the whole poll (2.6 s here; 30 s with the
    defaults). Now at most scan.max_waiting workers (half the pool) serve a scan; the scans past
    that are refused with 503 e.sys.scan.busy before anything is written or sent."""
    workers = _config_int("workers", 8)
    cap = _scan_cap()
    assert cap < workers
    poll = _config_int("wxpay.scan_poll_ms", 3000) * _config_int("wxpay.scan_poll_tries", 10) / 1000.0
    other = buy_ok("wx.qrcode", ticket=BOB, products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])["id"]
    pid = product(stock=workers)
    trades_before = int(psql("SELECT count(*) FROM paysim.trades"))
    timings = {}

    def timed(name, fn):
        t0 = time.time()
        st = fn()
        timings[name] = (st, round(time.time() - t0, 2))

    with ThreadPoolExecutor(workers + 2) as ex:
        scans = [ex.submit(buy, "wx.scan", ticket=ALICE, products=[{"id": pid, "amount": 1}],
                           auth_code=code("134")) for _ in range(workers)]
        assert wait_for(lambda: len(orders_of(pid)) == cap, 5, step=0.05)
        time.sleep(0.3)
        f1 = ex.submit(timed, "check", lambda: api("GET", "check", ticket=BOB, params={"id": other})[0])
        f2 = ex.submit(timed, "healthz", lambda: http("GET", STACK["ORDERPAY_URL"] + "/healthz")[0])
        f1.result()
        f2.result()
        res = [f.result() for f in scans]
    statuses = sorted(r[0] for r in res)
    assert statuses == [409] * cap + [503] * (workers - cap), [r[2] for r in res]
    for status, body, raw, _ in res:
        if status == 503:
            assert body["errCode"] == "e.sys.scan.busy" and body["ok"] is False, raw
    # Another buyer's request does not wait for someone else's scans: well under the poll time.
    # (0.6 of it: a check on the ASan build of a loaded 2-core box may take a second by itself.)
    limit = poll * 0.6
    assert timings["check"][0] == 200 and timings["healthz"][0] == 200, timings
    assert timings["check"][1] < limit and timings["healthz"][1] < limit, (timings, "poll %.1fs" % poll)
    # The refused scans wrote nothing and sent nothing; the polled ones were reversed.
    assert len(orders_of(pid)) == cap
    assert int(psql("SELECT count(*) FROM paysim.trades")) - trades_before == cap
    assert held_of(pid) + stock_of(pid) == workers
    # The places are free again: the next scan is served (and paid at once).
    s, body, raw, _ = buy("wx.scan", ticket=ALICE, products=[{"id": pid, "amount": 1}], auth_code=code("130"))
    assert s == 200 and body["data"]["or_st"] == "OK", raw
    audit_clean()


def test_pay_pay_with_a_scan_while_every_place_is_taken_keeps_the_live_slip():
    """pay/pay switching an order to a scan while scan.max_waiting scans are being polled: 503
    e.sys.scan.busy, and the order's live QR code is neither closed nor replaced."""
    cap = _scan_cap()
    order = buy_ok("wx.qrcode", ticket=BOB, products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    pid = product(stock=cap)
    with ThreadPoolExecutor(cap) as ex:
        scans = [ex.submit(buy, "wx.scan", ticket=ALICE, products=[{"id": pid, "amount": 1}],
                           auth_code=code("134")) for _ in range(cap)]
        assert wait_for(lambda: len(orders_of(pid)) == cap, 5, step=0.05)
        time.sleep(0.2)
        s, body, raw, _ = api("GET", "pay", ticket=BOB,
                              params={"id": order["id"], "pt": "wx.scan", "auth_code": code("130")})
        assert [f.result()[0] for f in scans] == [409] * cap
    assert s == 503 and body["errCode"] == "e.sys.scan.busy", raw
    assert slips(order["id"]) == [(order["pay_id"], "wx.qrcode", "WAIT", "", "f")]
    assert sim_trade(order["pay_id"])["state"] == "NOTPAY"
    # With the places free, the same switch is served and pays at once.
    s, body, raw, _ = api("GET", "pay", ticket=BOB,
                          params={"id": order["id"], "pt": "wx.scan", "auth_code": code("130")})
    assert s == 200 and body["data"]["or_st"] == "OK", raw
    audit_clean()


def test_places_held_by_workers_killed_mid_poll_are_taken_again():
    """Every place held by a worker SIGKILLed while polling (no destructor ran): the next scan
    must still be served, not refused as busy for ever."""
    assert wait_for(_pool_settled, 40, step=0.5), "orderpayd's workers are not all up"
    cap = _scan_cap()
    pid = product(stock=cap + 1)
    before = set(_workers())
    with ThreadPoolExecutor(cap) as ex:
        futs = [ex.submit(buy, "wx.scan", products=[{"id": pid, "amount": 1}], auth_code=code("134"))
                for _ in range(cap)]
        busy = set()
        assert wait_for(lambda: busy.update(w for w in before if _wchan(w) == "hrtimer_nanosleep")
                        or len(busy) >= cap, 5, step=0.01), "not every place's worker is polling"
        for w in busy:
            os.kill(w, signal.SIGKILL)
        [f.result() for f in futs]
    assert wait_for(lambda: len(set(_workers()) - before) >= 1, 40), "the master restarted no worker"
    s, body, raw, _ = buy("wx.scan", products=[{"id": pid, "amount": 1}], auth_code=code("130"))
    assert s == 200 and body["data"]["or_st"] == "OK", raw
    # The killed scans' orders are left to expiry (see the tests above); the pool heals.
    for oid in orders_of(pid):
        if check(oid)[1]["data"]["or_st"] in ("NW", "WT"):
            due(oid)
    cli("expire")
    assert wait_for(_pool_settled, 40, step=0.5)
    audit_clean()


# ---------------------------------------------------------------- the buyer confirms as orderpay reverses

@pytest.fixture
def paid_as_reversed():
    """A paysim hook (a trigger on its trade table, dropped afterwards): a wx.scan trade whose
    auth_code is in `codes` is paid by the buyer the instant before orderpay's reverse reaches it,
    so the reverse refunds a payment (WeChat: "如果交易成功，则将扣款退回到用户账户")."""
    codes = []
    name = "hb_scan_%s" % uuid.uuid4().hex[:8]
    psql("CREATE TABLE paysim.%s (auth_code text PRIMARY KEY)" % name)
    psql("CREATE FUNCTION paysim.%s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
         " IF OLD.state = 'USERPAYING' AND NEW.state = 'REVOKED'"
         " AND EXISTS (SELECT 1 FROM paysim.%s c WHERE c.auth_code = OLD.auth_code) THEN"
         " NEW.transaction_id := '4200' || lpad((floor(random() * 1e15))::bigint::text, 24, '0');"
         " NEW.paid_at := now(); END IF; RETURN NEW; END $$" % (name, name))
    psql("CREATE TRIGGER %s BEFORE UPDATE ON paysim.trades FOR EACH ROW EXECUTE FUNCTION paysim.%s()"
         % (name, name))

    def add(c):
        psql("INSERT INTO paysim.%s VALUES ('%s')" % (name, c))
        codes.append(c)
        return c
    try:
        yield add
    finally:
        psql("DROP TRIGGER %s ON paysim.trades" % name)
        psql("DROP FUNCTION paysim.%s()" % name)
        psql("DROP TABLE paysim.%s" % name)


def test_buyer_confirming_as_the_reverse_arrives_leaves_no_money_kept_on_an_unpaid_order(paid_as_reversed):
    """wx.scan 134: the buyer pays just as orderpay reverses; the reverse refunds it. The order must
    not be kept paid, paysim's trade must be REVOKED (money back) and the stock must come back.
    (orderpay records neither the payment nor the reverse's refund: WeChat's reverse answer does not
    say it refunded, unlike Alipay's cancel action=refund.)"""
    pid = product(stock=1)
    c = paid_as_reversed(code("134"))
    st, body, raw, _ = buy("wx.scan", products=[{"id": pid, "amount": 1}], auth_code=c)
    assert st in (409, 504), raw
    oid = body["data"]["id"]
    slip = body["data"]["pay_id"]
    t = sim_trade(slip)
    assert t["state"] == "REVOKED" and t["transaction_id"], t  # paid, and the reverse gave it back
    cli("reconcile", "--min-age", "0")
    check(oid)
    or_st = psql("SELECT or_st FROM orders WHERE id = '%s'" % oid)
    # Money: the order is not kept paid on money the buyer has back.
    assert or_st not in ("OK", "SP", "DN"), or_st
    assert sim_trade(slip)["state"] == "REVOKED"
    # Stock: what the order holds plus the shelf is the whole stock; once expired, it is back.
    assert stock_of(pid) + held_of(pid) == 1
    if or_st in ("NW", "WT"):
        due(oid)
    cli("expire")
    assert stock_of(pid) == 1
    audit_clean()


# ---------------------------------------------------------------- a scan overtaken by another slip's payment

def _wait_polling(order_id, slip_count):
    """Until the order has `slip_count` slips and paysim holds the newest as a trade the buyer has
    not confirmed: its scan's worker is in the poll."""
    def polling():
        s = slips(order_id)
        if len(s) != slip_count:
            return False
        t = _trade_or_none(s[-1][0])
        return t is not None and t.get("state") == "USERPAYING"
    assert wait_for(polling, 10, step=0.02), slips(order_id)


def test_buy_whose_polling_scan_is_overtaken_by_a_paid_pay_pay_answers_the_paid_order():
    """A till's wx.scan buy is still polling (the buyer never confirms: 134...) when pay/pay
    switches the order to a zfb.scan code that pays at once. The order is paid, so the buy says so
    (200, OK): a 409 e.www.pay.failed would have the till ask the buyer to pay a second time."""
    pid = product(stock=1)
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(buy, "wx.scan", ticket=ALICE, products=[{"id": pid, "amount": 1}], auth_code=code("134"))
        assert wait_for(lambda: orders_of(pid), 5, step=0.02), "no order written"
        oid = orders_of(pid)[0]
        _wait_polling(oid, 1)
        s, body, raw, _ = api("GET", "pay", ticket=ALICE,
                              params={"id": oid, "pt": "zfb.scan", "auth_code": code("280")})
        st, bought, braw, _ = fut.result()
    assert s == 200 and body["data"]["or_st"] == "OK", raw
    assert st == 200 and bought["ok"] is True, braw
    assert bought["data"]["id"] == oid and bought["data"]["or_st"] == "OK", braw
    assert bought["data"]["pay_id"] == body["data"]["pay_id"], braw  # paid by the zfb slip
    assert assert_money_consistent(oid) == "OK"
    assert [(tp, st_) for _, tp, st_, _, _ in slips(oid)] == [("wx.scan", "FAIL"), ("zfb.scan", "OK")]
    assert stock_of(pid) == 0 and held_of(pid) == 1
    audit_clean()


def test_pay_pay_whose_scan_is_overtaken_by_another_paid_pay_pay_answers_order_paid():
    """pay/pay to a never-confirmed wx.scan is polling when a second pay/pay pays the order with a
    zfb.scan code. The first answers what pay/pay answers any paid order (409 e.www.order.paid,
    with the paid order), not e.www.pay.failed."""
    pid = product(stock=1)
    order = buy_ok("wx.qrcode", ticket=ALICE, products=[{"id": pid, "amount": 1}])
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(api, "GET", "pay", ticket=ALICE,
                        params={"id": order["id"], "pt": "wx.scan", "auth_code": code("134")})
        _wait_polling(order["id"], 2)
        s, body, raw, _ = api("GET", "pay", ticket=ALICE,
                              params={"id": order["id"], "pt": "zfb.scan", "auth_code": code("280")})
        st, first, fraw, _ = fut.result()
    assert s == 200 and body["data"]["or_st"] == "OK", raw
    assert st == 409 and first["errCode"] == "e.www.order.paid", fraw
    assert first["data"]["or_st"] == "OK" and first["data"]["pay_id"] == body["data"]["pay_id"], fraw
    assert assert_money_consistent(order["id"]) == "OK"
    assert [(tp, st_) for _, tp, st_, _, _ in slips(order["id"])] == \
        [("wx.qrcode", "FAIL"), ("wx.scan", "FAIL"), ("zfb.scan", "OK")]
    assert stock_of(pid) == 0 and held_of(pid) == 1
    audit_clean()
