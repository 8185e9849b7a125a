"""Hostile probes of the provider's reversal (Alipay's cancel that refunds a trade the buyer paid
meanwhile, answering action=refund): concurrent expire runs, pay/pay and pay/check; pay/pay of
every kind on a reversed order; the operator's refund API and CLI on money the provider already
gave back; duplicated, tampered and stale notifications; concurrent zfb.scan 287 buys with an
Idempotency-Key replay; and the timers (expire, reconcile, inbox replay) run again afterwards.
Every probe asserts that money is never lost, counted twice or settled on a refunded order, and
that `orderpay audit` stays clean."""

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, http, psql, sim
from helpers import buy_ok, db_row, inbox, wait_for
from test_void_refunds import assert_reversed as void_assert_reversed
from test_void_refunds import paid_at_cancel, product, stock_of, trade

SITE = STACK["DEMO_SITE"]
TICKET = STACK["DEMO_TICKET"]


# ---------------------------------------------------------------- helpers (more in test_void_refunds)

def due(order_id):
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order_id)


def fee_minor(order_id):
    return int(psql("SELECT fee FROM orders WHERE id = '%s'" % order_id))


def assert_reversed(order_id, slip, fee):
    """orderpay holds the payment and exactly one provider refund of all of it; paysim agrees."""
    assert void_assert_reversed(order_id, slip, fee) == "RF"
    pay_id, refund_needed = db_row("SELECT coalesce(o.pay_id, ''), s.refund_needed FROM orders o JOIN pay_slips s"
                                   " ON s.id = '%s' WHERE o.id = '%s'" % (slip, order_id))
    assert pay_id == slip and refund_needed == "f", (pay_id, refund_needed)
    refunds = psql("SELECT st || ':' || amount || ':' || requested_by FROM refunds WHERE order_id = '%s'"
                   % order_id)
    assert refunds == "OK:%d:provider" % fee, refunds
    # Nothing else of the order can take money: no open slip besides the reversed one.
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND id <> '%s' AND st NOT IN ('FAIL')"
                % (order_id, slip)) == "0"


def snapshot(order_ids):
    ids = ",".join("'%s'" % i for i in order_ids)
    return (psql("SELECT id, or_st, pay_id, stock_held, rf_at FROM orders WHERE id IN (%s) ORDER BY id" % ids),
            psql("SELECT id, st, provider_txn_id, refund_needed, superseded FROM pay_slips WHERE order_id IN (%s)"
                 " ORDER BY id" % ids),
            psql("SELECT id, st, amount, requested_by, ok_at FROM refunds WHERE order_id IN (%s) ORDER BY id" % ids))


def audit_clean():
    cli("expire")  # as the minute timer would, so older tests' unpaid orders do not count
    res = cli("audit", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def reversed_by_expire(pid=None, amount=1):
    pid = pid or product()
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": amount}])
    paid_at_cancel(order["pay_id"])
    due(order["id"])
    cli("expire")
    return order


@pytest.fixture(scope="module")
def key():
    out = cli("apikey", "issue", "--site", SITE).stdout
    assert out.startswith("opk_"), out
    return out.strip()


def admin(method, action, key, body=None, params=None):
    url = "%s/api/%s/admin/%s" % (STACK["ORDERPAY_URL"], SITE, action)
    if params:
        url += "?" + "&".join("%s=%s" % kv for kv in params.items())
    hdrs = {"Authorization": "Bearer " + key}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    return http(method, url, data, hdrs)


# ---------------------------------------------------------------- probes

def test_two_expires_pay_pay_and_checks_at_once_on_several_reversed_orders():
    p1, p2, p3 = product(3), product(3), product(3)
    orders = [buy_ok("zfb.qrcode", products=[{"id": p1, "amount": 1}]),
              buy_ok("zfb.qrcode", products=[{"id": p2, "amount": 2}]),
              buy_ok("zfb.qrcode", products=[{"id": p1, "amount": 1}, {"id": p3, "amount": 1}])]
    for o in orders:
        paid_at_cancel(o["pay_id"])
        due(o["id"])
    assert (stock_of(p1), stock_of(p2), stock_of(p3)) == (1, 1, 2)
    start = threading.Barrier(5)
    results = {}

    def expire(n):
        start.wait()
        results["expire%d" % n] = cli("expire", check=False)

    def pay(o, pt):
        start.wait()
        results["pay " + o["id"]] = api("GET", "pay", ticket=TICKET, params={"id": o["id"], "pt": pt})

    def checks():
        start.wait()
        with ThreadPoolExecutor(16) as ex:
            results["checks"] = list(ex.map(
                lambda i: api("GET", "check", ticket=TICKET, params={"id": orders[i % 3]["id"]}), range(16)))

    threads = [threading.Thread(target=expire, args=(1,)), threading.Thread(target=expire, args=(2,)),
               threading.Thread(target=pay, args=(orders[1], "wx.qrcode")),
               threading.Thread(target=pay, args=(orders[2], "zfb.qrcode")), threading.Thread(target=checks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["expire1"].returncode == 0 and results["expire2"].returncode == 0, results
    for o in orders[1:]:
        st, body, raw, _ = results["pay " + o["id"]]
        # A reversed order, or an expired one: never a new slip (and never a 5xx).
        assert st == 409 and body["errCode"] in ("e.www.order.closed",), raw
    assert all(st == 200 for st, _, _, _ in results["checks"]), results["checks"]
    for o in orders:
        assert_reversed(o["id"], o["pay_id"], fee_minor(o["id"]))
        assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % o["id"]) == "1"
        # Two cancels at once: the second can find the trade paid and refund it while paysim is
        # still sending the first's notification, so the reversal settles the slip first and that
        # notification is a duplicate. Either way the payment was settled once.
        verdicts = [v for v, _ in inbox(o["pay_id"])]
        assert verdicts and set(verdicts) <= {"settled", "duplicate"}, verdicts
        assert verdicts.count("settled") <= 1, verdicts
    # An RF order keeps the stock it took when it was seen paid first: its notification settled
    # it (verdict settled), or a pay/check's query landed between paysim's payment and refund. One
    # the reversal settled first gave it back in the same transaction (27034ce), so paid and
    # refunded at one now(). (Not ok_at < ct: a reversal whose transaction began first and then
    # waited for the slip lock has the earlier now(); seen in a loop of this test.) Either way
    # none was given back twice nor taken twice.
    back = {}
    for o in orders:
        first = psql("SELECT o.ok_at <> r.ct FROM orders o JOIN refunds r ON r.order_id = o.id"
                     " WHERE o.id = '%s'" % o["id"]) == "t"
        if "settled" in [v for v, _ in inbox(o["pay_id"])]:
            assert first, o
        assert psql("SELECT stock_held FROM orders WHERE id = '%s'" % o["id"]) == ("t" if first else "f"), o
        back[o["id"]] = 0 if first else 1
    o1, o2, o3 = (o["id"] for o in orders)
    assert (stock_of(p1), stock_of(p2), stock_of(p3)) == (1 + back[o1] + back[o3], 1 + 2 * back[o2], 2 + back[o3])
    audit_clean()


def test_pay_pay_same_type_forced_on_a_code_paid_as_it_is_cancelled_issues_nothing():
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    paid_at_cancel(slip)
    st, body, raw, _ = api("GET", "pay", ticket=TICKET, params={"id": order["id"], "pt": "zfb.qrcode", "force": "true"})
    assert st == 409 and body["errCode"] == "e.www.order.closed" and body["data"]["or_st"] == "RF", raw
    assert_reversed(order["id"], slip, 100)
    # Every way of asking for a new slip afterwards is refused; no slip is issued.
    for params in ({"pt": "wx.qrcode"}, {"pt": "zfb.qrcode"}, {"pt": "zfb.qrcode", "force": "true"},
                   {"pt": "wx.qrcode", "force": "true"}):
        params["id"] = order["id"]
        st, body, raw, _ = api("GET", "pay", ticket=TICKET, params=params)
        assert st == 409 and body["errCode"] == "e.www.order.closed", (params, raw)
    st, body, raw, _ = api("GET", "qr", ticket=TICKET, params={"id": order["id"]})
    assert st == 409 and body["ok"] is False, raw
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "1"
    assert_reversed(order["id"], slip, 100)
    audit_clean()


def test_pay_pay_after_a_normal_retire_then_the_new_code_is_reversed_and_the_old_paid_late():
    """zfb.qrcode slip A is retired normally (pay/pay force) for slip B; B is reversed by expire.
    Then the buyer pays the old code A anyway (a late payment): it is money the order cannot take
    and must be flagged for refund, never settle the RF order again."""
    pid = product()
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    a = order["pay_id"]
    st, body, raw, _ = api("GET", "pay", ticket=TICKET, params={"id": order["id"], "pt": "zfb.qrcode", "force": "true"})
    assert st == 200 and body["ok"] is True, raw
    b = body["data"]["pay_id"]
    assert b != a
    paid_at_cancel(b)
    due(order["id"])
    cli("expire")
    assert_reversed(order["id"], b, 100)
    st, body, raw, _ = sim("/sim/pay", {"out_trade_no": a, "force": "1"})
    assert st == 200 and body["data"]["replies"][0]["body"] == "success", raw
    row = db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % a)
    assert row == ["OK", "t"], row
    assert db_row("SELECT or_st, pay_id FROM orders WHERE id = '%s'" % order["id"]) == ["RF", b]
    # The operator is told to give A back; the reversed slip B is not listed.
    out = cli("reconcile", "--min-age", "0").stdout
    assert a in out and b not in out, out
    audit_clean()


def test_admin_and_cli_refunds_of_a_provider_reversed_order_are_refused(key):
    order = reversed_by_expire()
    slip = order["pay_id"]
    assert_reversed(order["id"], slip, 100)
    before = snapshot([order["id"]])
    for amount in (None, "0.01", "1.00"):
        body = {"order": order["id"], "reason": "again", "idempotency_key": uuid.uuid4().hex}
        if amount is not None:
            body["amount"] = amount
        st, reply, raw, _ = admin("POST", "refund", key, body)
        assert st == 409 and reply["errCode"] == "e.www.refund.too_much", raw
    res = cli("refund", order["id"], "--reason", "again", check=False)
    assert res.returncode != 0, res.stdout
    res = cli("refund", "--slip", slip, "--reason", "again", check=False)
    assert res.returncode != 0, res.stdout
    assert snapshot([order["id"]]) == before
    assert trade(slip)["refunded"] is True and trade(slip)["state"] == "TRADE_CLOSED"
    # The operator's views show the provider's refund.
    st, reply, raw, _ = admin("GET", "order", key, params={"id": order["id"]})
    assert st == 200, raw
    o = reply["data"]
    assert o["or_st"] == "RF" and o["refunded"] == 1.0 and len(o["refunds"]) == 1, o
    assert o["refunds"][0]["st"] == "OK" and o["refunds"][0]["amount"] == 1.0, o
    rid = psql("SELECT id FROM refunds WHERE order_id = '%s'" % order["id"])
    assert rid in cli("refund", "list", "--site", SITE, "--limit", "50").stdout
    audit_clean()


def test_duplicated_tampered_and_closed_notifications_after_the_reversal_change_nothing():
    order = reversed_by_expire()
    slip = order["pay_id"]
    assert_reversed(order["id"], slip, 100)
    before = snapshot([order["id"]])
    n_before = len(inbox(slip))
    # Alipay's TRADE_CLOSED notice of the reversed trade.
    st, body, raw, _ = sim("/sim/pay", {"out_trade_no": slip, "trade_status": "TRADE_CLOSED", "times": "3"})
    assert st == 200, raw
    # Copies and forgeries of the paid notice, sent from a paid copy of the trade (put back after).
    notify_url = psql("SELECT notify_url FROM paysim.zfb_trades WHERE out_trade_no = '%s'" % slip)
    psql("UPDATE paysim.zfb_trades SET state = 'TRADE_SUCCESS', refunded = false WHERE out_trade_no = '%s'" % slip)
    try:
        for form in ({"times": "3"}, {"tamper": "sign"}, {"tamper": "amount"}, {"tamper": "amount_resigned"},
                     {"tamper": "seller_id"}, {"tamper": "app_id"}, {"trade_status": "TRADE_FINISHED"}):
            form["out_trade_no"] = slip
            st, body, raw, _ = sim("/sim/pay", form)
            assert st == 200, (form, raw)
    finally:
        psql("UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED', refunded = true, notify_url = '%s'"
             " WHERE out_trade_no = '%s'" % (notify_url, slip))
    assert snapshot([order["id"]]) == before
    verdicts = [v for v, _ in inbox(slip)[n_before:]]
    assert "settled" not in verdicts, inbox(slip)
    assert_reversed(order["id"], slip, 100)
    audit_clean()


def test_concurrent_scan_287_buys_and_an_idempotent_replay_each_refund_once():
    pid = product(10)
    ikey = uuid.uuid4().hex
    body_same = {"products": [{"id": pid, "amount": 1}], "pay_tp": "zfb.scan", "auth_code": "287000000000000077"}

    def send(i):
        if i < 2:
            return api("POST", "buy", ticket=TICKET, json=body_same, headers={"Idempotency-Key": ikey})
        return api("POST", "buy", ticket=TICKET,
                   json={"products": [{"id": pid, "amount": 1}], "pay_tp": "zfb.scan",
                         "auth_code": "2870000000000001%02d" % i})

    def buy(i):
        # More scans at once than scan.max_waiting: the ones refused as busy (nothing written or
        # sent) are sent again, as a till does.
        for _ in range(200):
            reply = send(i)
            if reply[0] != 503:
                return reply
            assert reply[1]["errCode"] == "e.sys.scan.busy", reply[2]
            time.sleep(0.05)
        return reply

    with ThreadPoolExecutor(4) as ex:
        replies = list(ex.map(buy, range(4)))
    ids = []
    for i, (st, body, raw, _) in enumerate(replies):
        ids.append(body["data"]["id"])
        if i < 2 and st == 200:  # the key's other request, in flight: the order as it is (README)
            assert body["data"]["or_st"] in ("NW", "WT", "RF"), raw
            continue
        assert st == 409 and body["errCode"] == "e.www.pay.failed", raw
        assert body["data"]["or_st"] == "RF", raw
    assert ids[0] == ids[1], ids  # the same Idempotency-Key: one order
    assert len(set(ids)) == 3, ids
    # A later replay answers the same order and refunds nothing more.
    st, body, raw, _ = api("POST", "buy", ticket=TICKET, json=body_same, headers={"Idempotency-Key": ikey})
    assert st in (200, 409) and body["data"]["id"] == ids[0] and body["data"]["or_st"] == "RF", raw
    for oid in set(ids):
        slips = psql("SELECT id FROM pay_slips WHERE order_id = '%s'" % oid).splitlines()
        assert len(slips) == 1, slips
        assert_reversed(oid, slips[0], 100)
    assert stock_of(pid) == 7
    audit_clean()


def test_reconcile_inbox_replay_and_expire_after_reversals_change_nothing():
    o1 = reversed_by_expire()
    st, body, raw, _ = api("POST", "buy", ticket=TICKET,
                           json={"products": [{"id": product(), "amount": 1}], "pay_tp": "zfb.scan",
                                 "auth_code": "287000000000000055"})
    assert st == 409, raw
    o2 = body["data"]
    assert_reversed(o1["id"], o1["pay_id"], 100)
    assert_reversed(o2["id"], o2["pay_id"], 100)
    before = snapshot([o1["id"], o2["id"]])
    paysim_before = [trade(o["pay_id"]) for o in (o1, o2)]
    for _ in range(2):
        out = cli("reconcile", "--min-age", "0").stdout
        assert o1["pay_id"] not in out and o2["pay_id"] not in out, out
        cli("inbox", "replay", "--older-than", "0s")
        cli("expire")
    assert snapshot([o1["id"], o2["id"]]) == before
    assert [trade(o["pay_id"]) for o in (o1, o2)] == paysim_before
    audit_clean()


def test_orderpay_check_of_a_reversed_order_never_reports_it_paid():
    order = reversed_by_expire()
    with ThreadPoolExecutor(16) as ex:
        replies = list(ex.map(lambda _: api("GET", "check", ticket=TICKET, params={"id": order["id"]}), range(16)))
    for st, body, raw, _ in replies:
        assert st == 200 and body["data"]["or_st"] == "RF", raw
    assert wait_for(lambda: psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "RF", 1)
    assert_reversed(order["id"], order["pay_id"], 100)


def _locker(sql, seconds):
    """A background psql session that holds the rows `sql` locks for `seconds`."""
    import subprocess
    from conftest import PSQL, _pg_env
    return subprocess.Popen([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c",
                             "BEGIN; %s; SELECT pg_sleep(%s); COMMIT;" % (sql, seconds)],
                            env=_pg_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_an_operator_refund_in_flight_when_the_reversal_is_recorded_does_not_hide_it(key):
    """The buyer pays as expire's cancel arrives; the paid notification settles the order OK; the
    shop's back office refunds it at once (its call to Alipay waits on the trade the cancel is
    refunding). The cancel's refund is recorded while the operator's refund is still open; then
    the operator's refund fails (the trade is already closed and refunded). The provider gave the
    money back once: orderpay must end with that refund recorded (RF), not an OK order."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    paid_at_cancel(slip)
    due(order["id"])
    # Widen the window between paysim's paid notification and its refund (the cancel's UPDATE to
    # TRADE_CLOSED holds the trade row for 2 s): a test-only trigger on paysim's table, dropped after.
    fn = "hrev_sleep_%s" % uuid.uuid4().hex[:8]
    psql("CREATE FUNCTION paysim.%s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); "
         "RETURN NEW; END $$; CREATE TRIGGER %s BEFORE UPDATE ON paysim.zfb_trades FOR EACH ROW WHEN "
         "(NEW.out_trade_no = '%s' AND OLD.state = 'TRADE_SUCCESS' AND NEW.state = 'TRADE_CLOSED') "
         "EXECUTE FUNCTION paysim.%s()" % (fn, fn, slip, fn))
    locker = None
    try:
        with ThreadPoolExecutor(2) as ex:
            expire = ex.submit(cli, "expire", check=False)
            assert wait_for(lambda: psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "OK", 5)
            refund = ex.submit(admin, "POST", "refund", key, {"order": order["id"], "reason": "auto refund",
                                                              "idempotency_key": uuid.uuid4().hex})
            assert wait_for(lambda: psql("SELECT count(*) FROM refunds WHERE order_id = '%s' AND requested_by "
                                         "LIKE 'api:%%'" % order["id"]) == "1", 3)
            import time
            time.sleep(0.3)
            # Hold the operator's refund row so its FAIL is written after the reversal.
            locker = _locker("SELECT 1 FROM refunds WHERE order_id = '%s' FOR UPDATE" % order["id"], 3)
            expired = expire.result(30)
            assert expired.returncode == 0, expired.stderr
            st, body, raw, _ = refund.result(30)
    finally:
        psql("DROP TRIGGER IF EXISTS %s ON paysim.zfb_trades; DROP FUNCTION IF EXISTS paysim.%s()" % (fn, fn))
        if locker:
            locker.wait(10)
    t = trade(slip)
    assert t["state"] == "TRADE_CLOSED" and t["refunded"] is True, t
    cli("reconcile", "--min-age", "0")
    rows = psql("SELECT st || ':' || amount || ':' || requested_by FROM refunds WHERE order_id = '%s' ORDER BY ct"
                % order["id"])
    ok_back = int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = '%s' AND st = 'OK'"
                       % order["id"]))
    or_st = psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"])
    # Paysim gave back 1.00 (the cancel) plus what its refunds table holds (the operator's, if any).
    sim_back = 100 + int(t["refund_fee"])
    assert (or_st, ok_back) == ("RF", 100) and sim_back == 100, (or_st, rows, expired.stderr, raw)
    audit_clean()
