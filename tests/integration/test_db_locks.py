"""A lock held outside orderpay (a transaction an operator left open in psql, a migration's table
lock) costs the requests that need it a 503 e.sys.db.busy after db.lock_timeout_ms, never the
shop: before, every worker waited on the locked row for as long as it stayed locked, /healthz and
other products' buys included (one forgotten `SELECT ... FOR UPDATE` stopped the shop for its
whole life). Also db.statement_timeout_ms, and both keys' checks at startup."""

import json
import os
import subprocess
import threading
import time

import pytest

from conftest import STACK, cli, http, psql
from helpers import Locker, buy, buy_ok, check, lock_waiters, own_orderpayd, sim_pay, wait_for
from test_fcgi_raw import handed_socket_pool, request
from test_hostile_provider_values import fcgi

CUP = "dl-cup"  # a counted product of this file's own (the demo cup's stock of 5 is other tests')


@pytest.fixture(scope="module", autouse=True)
def cup():
    res = cli("product", "add", CUP, "--site", STACK["DEMO_SITE"], "--title", "Lock cup", "--price", "1.00",
              "--stock", "100000", check=False)
    assert res.returncode == 0 or "exist" in res.stderr, res.stderr


def counts():
    return (int(psql("SELECT stock FROM products WHERE id = '%s'" % CUP)), int(psql("SELECT count(*) FROM orders")))


def in_threads(n, fn):
    """Starts fn() n times in threads; returns (threads, results list filled as they end)."""
    out = []
    threads = [threading.Thread(target=lambda: out.append(fn())) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, out


def busy(reply):
    status, body, raw, _ = reply
    return status == 503 and body is not None and body["errCode"] == "e.sys.db.busy", raw


def test_a_forgotten_row_lock_costs_its_buyers_a_503_and_the_shop_keeps_serving():
    paid = buy_ok()
    stock0, orders0 = counts()
    locker = Locker("SELECT 1 FROM products WHERE id = '%s' FOR UPDATE" % CUP)
    try:
        # More buyers of the locked product than the stack has workers (4).
        threads, replies = in_threads(8, lambda: buy("wx.qrcode", products=[{"id": CUP, "amount": 1}]))
        # While the row stays locked, the rest of the shop answers: before, all of this waited.
        status, body, raw, _ = http("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=15)
        assert status == 200, raw
        status, body, raw, _ = check(paid["id"])
        assert status == 200 and body["data"]["id"] == paid["id"], raw
        status, body, raw, _ = buy("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
        assert status == 200, raw
        for t in threads:
            t.join(timeout=60)
        assert locker.proc.poll() is None, "the lock must still be held"
    finally:
        locker.release()
    assert len(replies) == 8
    for r in replies:
        ok, raw = busy(r)
        assert ok, raw
    # Nothing was taken or written for them (the tea order above is the one new order).
    assert counts() == (stock0, orders0 + 1)
    # With the lock gone the same buy goes through.
    status, body, raw, _ = buy("wx.qrcode", products=[{"id": CUP, "amount": 1}])
    assert status == 200, raw


def test_a_table_lock_like_a_migrations_answers_503_on_what_needs_the_table():
    paid = buy_ok()
    locker = Locker("LOCK TABLE order_items IN ACCESS EXCLUSIVE MODE")
    try:
        status, body, raw, _ = check(paid["id"])
        assert status == 503 and body["errCode"] == "e.sys.db.busy", raw
        # /healthz needs no table: it answers at once.
        assert http("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=15)[0] == 200
    finally:
        locker.release()
    status, body, raw, _ = check(paid["id"])
    assert status == 200 and body["data"]["id"] == paid["id"], raw


# A notification for a locked slip: test_zzz_hostile_faults (answered 500 with the provider's
# retry reply after db.lock_timeout_ms, kept for replay, settled once).


def test_statement_timeout_alone_also_answers_503():
    """db.lock_timeout_ms = 0 leaves the server's (none here) and db.statement_timeout_ms ends the
    wait instead: PostgreSQL cancels the statement (57014), which is the same 503."""
    stock0, orders0 = counts()
    env = {"ORDERPAY_DB_LOCK_TIMEOUT_MS": "0", "ORDERPAY_DB_STATEMENT_TIMEOUT_MS": "700"}
    with handed_socket_pool(1, **env) as (_, path, _unused):
        locker = Locker("SELECT 1 FROM products WHERE id = '%s' FOR UPDATE" % CUP)
        try:
            uri = "/api/%s/pay/buy" % STACK["DEMO_SITE"]
            body = ('{"products":[{"id":"%s","amount":1}],"pay_tp":"wx.qrcode"}' % CUP).encode()
            status, _, reply = request("POST", uri, body, extra={"QUERY_STRING": "ticket=" + STACK["DEMO_TICKET"]},
                                       path=path)
        finally:
            locker.release()
    assert status == 503 and reply["errCode"] == "e.sys.db.busy", reply
    assert counts() == (stock0, orders0)


@pytest.mark.parametrize("key", ["DB_LOCK_TIMEOUT_MS", "DB_STATEMENT_TIMEOUT_MS"])
@pytest.mark.parametrize("value", ["2s", "-1", "3600001", "1e3", " 5", "99999999999999999999"])
def test_a_timeout_that_is_not_a_whole_number_of_ms_in_range_stops_orderpayd(tmp_path, key, value):
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_LISTEN=str(tmp_path / "x.sock"),
               ORDERPAY_LOG_FILE="", **{"ORDERPAY_" + key: value})
    proc = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=env, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    name = key.lower().replace("_", ".", 1)
    assert "%s must be a whole number from 0 to 3600000, not '%s'" % (name, value) in proc.stderr, proc.stderr
    assert not (tmp_path / "x.sock").exists()


def test_expire_skips_an_order_whose_row_stays_locked_and_expires_the_rest():
    """`orderpay expire` (the minute timer) waited forever on one locked order, and every later
    run queued behind it; now it honours db.lock_timeout_ms, skips that order (exit 1, named in
    the log) and expires the others; the next run takes it once the lock is gone."""
    first, second = buy_ok(), buy_ok()
    # The locked one is the older, so it comes first in the run's queue.
    psql("UPDATE orders SET expi = now() - interval '2 minutes' WHERE id = '%s'" % first["id"])
    psql("UPDATE orders SET expi = now() - interval '1 minute' WHERE id = '%s'" % second["id"])
    locker = Locker("SELECT 1 FROM orders WHERE id = '%s' FOR UPDATE" % first["id"])
    try:
        res = cli("expire", "--limit", "100000", check=False, timeout=60)
        assert locker.proc.poll() is None, "the lock must still be held"
    finally:
        locker.release()
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "failed" in res.stdout and first["id"] in res.stderr, (res.stdout, res.stderr)
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % second["id"]) == "FA"
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % first["id"]) in ("NW", "WT")
    res = cli("expire", "--limit", "100000", check=False, timeout=60)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % first["id"]) == "FA"


@pytest.mark.parametrize("value", ["2s", "-1"])
def test_the_cli_refuses_a_bad_lock_timeout_too(value):
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_DB_LOCK_TIMEOUT_MS=value)
    proc = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "expire"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert "db.lock_timeout_ms must be a whole number from 0 to 3600000, not '%s'" % value in proc.stderr


def test_a_settlement_holding_the_slip_as_the_buy_records_its_answer_is_not_a_deadlock():
    """Every settlement locks the slip, then its order (orderpay_settle). The buy's record of the
    provider's answer (slip NEW -> WAIT, order -> WT, one statement) took them the other way round,
    so a query or notification settling the slip at that moment deadlocked with it: the buyer got
    a 500 for an order that was being paid (seen once in test_hostile_scan's races with reconcile).
    Here the settlement is a psql session: it holds the slip while a wx.scan buy's answer comes in
    (131...: USERPAYING, then paid on the poll), then takes the order. Both must go through."""
    pid = "dl-scan-%d" % (time.time() * 1000)
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Lock scan", "--price", "1.00",
        "--stock", "1")
    auth = "131" + ("%015d" % (int(time.time() * 1000) % 10 ** 15))
    replies = []
    t = threading.Thread(target=lambda: replies.append(
        buy("wx.scan", products=[{"id": pid, "amount": 1}], auth_code=auth)))
    t.start()
    locker = None
    try:
        for _ in range(500):
            row = psql("SELECT o.id || ' ' || s.id FROM orders o JOIN order_items i ON i.order_id = o.id"
                       " JOIN pay_slips s ON s.id = o.pay_id WHERE i.product_id = '%s'" % pid)
            if row:
                break
            time.sleep(0.01)
        order_id, slip_id = row.split()
        locker = Locker("SELECT 1 FROM pay_slips WHERE id = '%s' FOR UPDATE" % slip_id)
        # The poll ends paid and the buy's statement waits for the slip.
        assert wait_for(lambda: lock_waiters("SET st = 'WAIT'") > 0, 10, 0.02), \
            "the buy never came to record its answer"
        # The settlement's second lock: the order. Before, the buy held it already (deadlock).
        locker.proc.stdin.write("SELECT 1 FROM orders WHERE id = '%s' FOR UPDATE;\nSELECT 'order locked';\n"
                                % order_id)
        locker.proc.stdin.flush()
        line = locker.proc.stdout.readline()
        assert line.strip() in ("1", "order locked"), locker.proc.stderr.read()
        if line.strip() == "1":
            assert locker.proc.stdout.readline().strip() == "order locked"
    finally:
        if locker:
            locker.release()
        t.join(timeout=60)
    status, body, raw, _ = replies[0]
    assert status == 200 and body["data"]["or_st"] == "OK", raw
    assert psql("SELECT st FROM pay_slips WHERE id = '%s'" % slip_id) == "OK"


def _buy_racing(pid, hold_sql, finish_sql):
    """A zfb.qrcode buy of `pid` on an orderpayd of its own (its db.lock_timeout_ms leaves a slow
    build all the time it needs), whose record of the provider's answer comes while a psql
    session holds a row: paysim's precreate is held back by a table lock until the session has
    run `hold_sql` (formatted with order and slip), then, with the buy's statement waiting, the
    session runs `finish_sql`'s statements (a callable of order and slip) and commits. Returns
    (order id, slip id, the session's output lines up to its COMMIT, reply)."""
    body = json.dumps({"products": [{"id": pid, "amount": 1}], "pay_tp": "zfb.qrcode"}).encode()
    replies = []
    with own_orderpayd("dlv", ORDERPAY_DB_LOCK_TIMEOUT_MS="60000") as own:
        precreate = Locker("LOCK TABLE paysim.zfb_trades IN SHARE MODE")
        holder = None
        t = threading.Thread(target=lambda: replies.append(
            fcgi(own["sock"], "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"], {"ticket": STACK["DEMO_TICKET"]},
                 body)))
        t.start()
        try:
            ids = lambda: psql("SELECT o.id || ' ' || s.id FROM orders o JOIN order_items i ON i.order_id = o.id"
                               " JOIN pay_slips s ON s.id = o.pay_id WHERE i.product_id = '%s'" % pid)
            assert wait_for(ids, 30, 0.01), "the buy wrote no order"
            order_id, slip_id = ids().split()
            holder = Locker(hold_sql % {"order": order_id, "slip": slip_id})
            precreate.release()
            assert wait_for(lambda: lock_waiters("SET st = 'WAIT'") > 0, 30, 0.02), \
                "the buy never came to record its answer"
            holder.proc.stdin.write(finish_sql(order_id, slip_id) + ";\nCOMMIT;\nSELECT 'committed';\n")
            holder.proc.stdin.flush()
            out = []
            for _ in range(20):
                line = holder.proc.stdout.readline()
                assert line, "psql ended: %s" % holder.proc.stderr.read()
                if line.strip() == "committed":
                    break
                out.append(line.strip())
        finally:
            precreate.release()
            if holder:
                holder.release()
            t.join(timeout=90)
    return order_id, slip_id, out, replies[0]


def test_a_buy_whose_answer_waited_for_a_settlement_answers_the_paid_order():
    """A query or notification settling the slip just as the buy records the provider's answer
    holds the slip; the buy's statement waits for it, then writes nothing (the slip is no longer
    NEW). Its answer came from the statement's snapshot, taken before the settlement committed:
    the paid order was answered NW with its slip NEW, so the page showed a code to pay an order
    already paid. Here the session holds the slip; with the buy waiting, the trade is paid (no
    notification) and the session settles it as a query would (orderpay_settle)."""
    pid = "dl-view-%d" % (time.time() * 1000)
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Lock view", "--price", "1.00",
        "--stock", "1")

    def pay_and_settle(order_id, slip_id):
        psql("UPDATE paysim.zfb_trades SET notify_url = '' WHERE out_trade_no = '%s'" % slip_id)
        sim_pay(slip_id)
        return ("SELECT outcome FROM orderpay_settle('zfb', '%s', (SELECT trade_no FROM paysim.zfb_trades"
                " WHERE out_trade_no = '%s'), 100, 'CNY', NULL)" % (slip_id, slip_id))

    order_id, slip_id, out, (status, body, raw) = _buy_racing(
        pid, "SELECT 1 FROM pay_slips WHERE id = '%(slip)s' FOR UPDATE", pay_and_settle)
    assert out == ["settled", "COMMIT"], out
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "OK"
    assert status == 200, raw
    data = body["data"]
    assert (data["id"], data["or_st"], data["pay_id"]) == (order_id, "OK", slip_id), raw
    # pay/check says the same.
    assert check(order_id)[1]["data"]["or_st"] == "OK"


def test_a_buy_whose_answer_waited_for_its_order_answers_it_as_it_now_is():
    """The statement's other lock: the slip taken, the order's row held by another transaction
    (another slip's settlement, a pay/pay, an expiry), which changes it while the buy waits; the
    order's update then writes nothing, and the answer came from the snapshot too. Here the
    session holds the order and expires it with expire's own statements (the slip left to
    reconcile, as expire leaves a slip whose close it could not confirm): the buy must answer the
    order FA, not NW with a code to pay."""
    pid = "dl-view-o-%d" % (time.time() * 1000)
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Lock view order", "--price", "1.00",
        "--stock", "1")

    def expire(order_id, slip_id):
        return ("UPDATE orders SET or_st = 'FA', fa_at = now(), stock_held = false, lm = now()"
                " WHERE id = '%s' AND or_st IN ('NW', 'WT');\n"
                "UPDATE products SET stock = stock + 1, lm = now() WHERE site_id = '%s' AND id = '%s'"
                " RETURNING stock" % (order_id, STACK["DEMO_SITE"], pid))

    order_id, slip_id, out, (status, body, raw) = _buy_racing(
        pid, "SELECT 1 FROM orders WHERE id = '%(order)s' FOR UPDATE", expire)
    assert out == ["UPDATE 1", "1", "UPDATE 1", "COMMIT"], out
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "FA"
    assert status == 200, raw
    data = body["data"]
    assert (data["id"], data["or_st"]) == (order_id, "FA"), raw
    assert check(order_id)[1]["data"]["or_st"] == "FA"
    # The slip the provider took stays open for reconcile to close; it cannot pay the order.
    assert psql("SELECT st FROM pay_slips WHERE id = '%s'" % slip_id) == "WAIT"


def test_a_buy_whose_slip_failed_while_its_answer_waited_leaves_the_order_unwaited():
    """The slip failed by another transaction (as a reconcile that found no trade records it,
    slip_fail) while the buy's statement waits for it: the statement's slip update then writes
    nothing, and its order update, which waits on it, must not move the order to WT on a dead
    slip either (the old explicit slip lock let it). The order stays NW, so the buyer can pay
    again with pay/pay, and the answer is read again, so it shows the failed slip."""
    pid = "dl-view-f-%d" % (time.time() * 1000)
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Lock view fail", "--price", "1.00",
        "--stock", "1")

    def fail(order_id, slip_id):
        return ("UPDATE pay_slips SET st = 'FAIL', note = 'closed', lm = now()"
                " WHERE id = '%s' AND st IN ('NEW', 'WAIT')" % slip_id)

    order_id, slip_id, out, (status, body, raw) = _buy_racing(
        pid, "SELECT 1 FROM pay_slips WHERE id = '%(slip)s' FOR UPDATE", fail)
    assert out == ["UPDATE 1", "COMMIT"], out
    assert psql("SELECT or_st || ' ' || (wt_at IS NULL)::text FROM orders WHERE id = '%s'" % order_id) == "NW true"
    assert psql("SELECT st FROM pay_slips WHERE id = '%s'" % slip_id) == "FAIL"
    assert status == 200, raw
    data = body["data"]
    assert (data["id"], data["or_st"], data["pay_id"]) == (order_id, "NW", slip_id), raw
    assert check(order_id)[1]["data"]["or_st"] == "NW"
