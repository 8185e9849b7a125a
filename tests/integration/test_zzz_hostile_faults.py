"""Hostile faults: a crash or failure between any two steps must never lose or double-count money.

Not covered elsewhere: PostgreSQL restarted with `-m immediate` (not `fast`) under buys and
notifications; orderpayd's backends terminated (pg_terminate_backend) mid-request; a worker
SIGKILLed at a known point (blocked on a row lock the test holds) inside a notification's
settlement and inside a buy; a lock timeout inside a transition; a provider that answers garbage,
a forged signature or nothing at all to the order query (reconcile) and to a refund.
Afterwards: replay + reconcile, then `orderpay audit` must be clean and every payment paysim
took must be on its slip, exactly once."""

import hashlib
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import STACK, cli, http as http_call, psql
from helpers import FakeGateway, Locker, buy, buy_ok, db_row, lock_waiters, sim_pay, wait_for, wait_state
from conftest import sim
from test_zz_chaos import worker_pids

ROOT = os.geteuid() == 0


# --- helpers -----------------------------------------------------------------------------------


def healthy():
    try:
        return http_call("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=5)[0] == 200
    except Exception:
        return False


def psql_retry(sql, tries=100):
    for _ in range(tries):
        try:
            return psql(sql)
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    return psql(sql)


def pg_ctl(*args):
    cmd = [os.path.join(STACK["PGBIN"], "pg_ctl"), "-D", STACK["PGDATA"], "-w", "-l",
           os.path.join(STACK["STACK_LOG_DIR"], "postgres.log"), *args]
    if ROOT:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, cwd="/")


def orderpayd_backends():
    """Backends of orderpayd's workers: the database's client backends whose last statement is not
    paysim's (paysim connects as the same role) and that are not this session."""
    out = psql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
               "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
               "AND coalesce(application_name, '') NOT IN ('psql') "
               "AND query NOT ILIKE '%paysim%'")
    return [int(p) for p in out.split()]


def heal_and_audit():
    cli("inbox", "replay", "--older-than", "0s", check=False)
    cli("reconcile", "--min-age", "0", "--limit", "100000", check=False)
    res = cli("audit", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def unrecorded_payments(minutes=10):
    """Payments paysim took in the last minutes that are not OK on their slip with its txn id."""
    return psql_retry(
        "WITH taken AS ("
        " SELECT 'wx' AS provider, out_trade_no, transaction_id AS txn FROM paysim.trades"
        " WHERE provider = 'wx' AND state = 'SUCCESS' AND ct > now() - interval '%d minutes'"
        " UNION ALL"
        " SELECT 'zfb', out_trade_no, trade_no FROM paysim.zfb_trades"
        " WHERE state IN ('TRADE_SUCCESS', 'TRADE_FINISHED') AND ct > now() - interval '%d minutes')"
        "SELECT t.provider || ' ' || t.out_trade_no || ' slip ' || coalesce(s.st, '-') FROM taken t "
        "LEFT JOIN pay_slips s ON s.id = t.out_trade_no AND s.provider = t.provider "
        "WHERE s.id IS NULL OR s.st <> 'OK' OR s.provider_txn_id IS DISTINCT FROM t.txn" % (minutes, minutes))


def traffic(stop, results, seed):
    """Buys and pays (through paysim) one order after another until stopped; records durations."""
    i = 0
    while not stop.is_set():
        i += 1
        t0 = time.time()
        try:
            status, body, _, _ = buy("wx.qrcode" if (i + seed) % 3 else "zfb.qrcode",
                                     products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
            results.append(("buy", status, time.time() - t0))
            if status == 200:
                slip = body["data"]["pay_id"]
                t1 = time.time()
                st, _, _, _ = sim("/sim/pay", {"out_trade_no": slip, "times": "2"})
                results.append(("pay", st, time.time() - t1))
        except Exception as e:  # resets while things die are outcomes
            results.append(("exc " + type(e).__name__, 0, time.time() - t0))


# --- PostgreSQL restarted hard / backends terminated -------------------------------------------

def test_immediate_postgres_restart_under_traffic_loses_nothing():
    stop = threading.Event()
    results = []
    threads = [threading.Thread(target=traffic, args=(stop, results, s)) for s in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        pg_ctl("-m", "immediate", "restart")
        time.sleep(4)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a request hung"
    assert wait_for(healthy, 30), "orderpayd did not recover after an immediate restart"
    # No request hung: every one finished well below nginx's 60 s.
    assert max(d for _, _, d in results) < 30, sorted(results, key=lambda r: -r[2])[:3]
    # Workers serve again.
    assert buy_ok()["or_st"] == "WT"
    heal_and_audit()
    assert unrecorded_payments() == ""


def test_backends_terminated_mid_request_lose_nothing():
    stop = threading.Event()
    results = []
    killed = [0]
    threads = [threading.Thread(target=traffic, args=(stop, results, s)) for s in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.time() + 8
        while time.time() < deadline:
            for pid in orderpayd_backends():
                try:
                    psql("SELECT pg_terminate_backend(%d)" % pid)
                    killed[0] += 1
                except subprocess.CalledProcessError:
                    pass
            time.sleep(0.25)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=90)
    assert killed[0] > 5
    assert not any(t.is_alive() for t in threads), "a request hung"
    assert wait_for(healthy, 15)
    print("outcomes", sorted({(k, s) for k, s, _ in results}))
    # A lost connection is answered 503 (or the provider's retryable failure), never 200 with a
    # lost write, and never a hang.
    assert max(d for _, _, d in results) < 30
    assert buy_ok()["or_st"] == "WT"
    heal_and_audit()
    assert unrecorded_payments() == ""


# --- a worker killed at a known point ----------------------------------------------------------

@pytest.mark.parametrize("backend_too", [False, True], ids=["worker", "worker_and_backend"])
def test_worker_killed_while_settling_is_settled_once_by_retry_and_replay(backend_too):
    order = buy_ok()
    slip = order["pay_id"]
    before = int(psql("SELECT coalesce(max(id), 0) FROM notifications"))
    locker = Locker("SELECT 1 FROM pay_slips WHERE id = '%s' FOR UPDATE" % slip)
    box = {}
    try:
        t = threading.Thread(target=lambda: box.update(r=sim("/sim/pay", {"out_trade_no": slip})))
        t.start()
        assert wait_for(lambda: lock_waiters() > 0, 10), "the notification never reached the slip lock"
        waiters = psql("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'").split()
        # The notification is stored; the worker is blocked inside settlement. Kill it (and, as
        # when the host dies, its backend).
        for pid in worker_pids():
            os.kill(pid, signal.SIGKILL)
        if backend_too:
            for pid in waiters:
                psql("SELECT pg_terminate_backend(%s)" % pid)
        t.join(timeout=60)
    finally:
        locker.release()
    assert box["r"][0] == 200
    replies = box["r"][1]["data"]["replies"]
    # The provider was not told SUCCESS by a worker that died.
    assert all(r["status"] != 200 for r in replies), replies
    assert wait_for(healthy, 30)
    # The provider sends it again (and an operator replays): settled exactly once.
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    cli("inbox", "replay", "--older-than", "0s")
    verdicts = psql("SELECT verdict FROM notifications WHERE id > %d ORDER BY id" % before).split()
    assert "received" not in verdicts, verdicts
    assert verdicts.count("settled") == 1, verdicts
    assert db_row("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st = 'OK'" % order["id"]) == ["1"]
    heal_and_audit()


# Was an open defect (closing note of issue 8, 2026-12-01): the replay answered the stored order
# whatever its slip's state, so a NEW slip its dead worker never sent stayed unpayable. Now a
# NEW slip older than buy.resend_after_ms is sent by the replay (app/resend.hpp).
def test_worker_killed_inside_buy_then_retried_with_key_makes_one_order():
    """The worker dies while its orderpay_create_order waits for a stock row lock; its backend goes
    on and commits the order (NW, slip NEW), but no provider call ever follows. The client retries
    with its Idempotency-Key (README: "a buy that timed out on the client's side can be sent again
    and the order it may have created is found"): one order, stock taken once. Within
    buy.resend_after_ms the first request might still be sending, so the retry sends nothing;
    after it, the retry sends the slip and answers the order ready to pay, once."""
    product = STACK["DEMO_STOCK_PRODUCT"]
    stock0 = int(psql("SELECT stock FROM products WHERE id = '%s'" % product))
    orders0 = int(psql("SELECT count(*) FROM orders"))
    key = "hf-kill-%d" % int(time.time() * 1000)
    lines = [{"id": product, "amount": 1}]
    locker = Locker("SELECT 1 FROM products WHERE id = '%s' FOR UPDATE" % product)
    box = {}
    try:
        t = threading.Thread(target=lambda: box.update(
            r=buy("wx.qrcode", products=lines, idempotency_key=key)))
        t.start()
        assert wait_for(lambda: lock_waiters() > 0, 10), "the buy never reached the stock row"
        for pid in worker_pids():
            os.kill(pid, signal.SIGKILL)
        t.join(timeout=70)
    finally:
        locker.release()
    assert box["r"][0] in (502, 503, 504), box["r"][2]
    assert wait_for(healthy, 30)
    # The order is committed, its slip NEW: the retry finds it and, this soon, sends nothing.
    status, body, raw, _ = buy("wx.qrcode", products=lines, idempotency_key=key)
    assert status == 200, raw
    order = body["data"]["id"]
    assert body["data"]["pay_re"]["st"] == "NEW", raw
    assert db_row("SELECT st, lm = ct FROM pay_slips WHERE order_id = '%s'" % order) == ["NEW", "t"]
    # buy.resend_after_ms (60 s by default) passes: aged in the database rather than waited for.
    psql("UPDATE pay_slips SET lm = lm - interval '61 seconds' WHERE order_id = '%s'" % order)
    status, body, raw, _ = buy("wx.qrcode", products=lines, idempotency_key=key)
    assert status == 200, raw
    assert body["data"]["id"] == order
    assert body["data"]["pay_re"]["st"] == "WAIT", raw
    assert body["data"]["pay_re"]["re_tp"] == "QRCODE", raw
    qr = body["data"]["pay_re"]["re_obj"]
    assert int(psql("SELECT count(*) FROM orders")) == orders0 + 1
    assert int(psql("SELECT stock FROM products WHERE id = '%s'" % product)) == stock0 - 1
    # Once sent, a further retry answers the same slip and QR code.
    status, body, raw, _ = buy("wx.qrcode", products=lines, idempotency_key=key)
    assert status == 200 and body["data"]["pay_re"]["re_obj"] == qr, raw
    assert sim_pay(body["data"]["pay_id"])["replies"][0]["status"] == 200
    wait_state(order, "OK")
    res = cli("audit", check=False)
    assert res.returncode == 0, res.stdout


# --- statement errors inside a transition ------------------------------------------------------

# orderpayd's own db.lock_timeout_ms (2 s by default) ends these waits: no role setting is needed.
def test_lock_timeout_in_settlement_is_retryable_and_settles_once():
    order = buy_ok()
    slip = order["pay_id"]
    before = int(psql("SELECT coalesce(max(id), 0) FROM notifications"))
    locker = Locker("SELECT 1 FROM pay_slips WHERE id = '%s' FOR UPDATE" % slip)
    try:
        data = sim_pay(slip)
    finally:
        locker.release()
    # A failure of ours while deciding: the provider's negative reply with HTTP 500 (README).
    assert [r["status"] for r in data["replies"]] == [500], data
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip)[0] == "WAIT"
    verdicts = psql("SELECT verdict FROM notifications WHERE id > %d" % before).split()
    assert verdicts == ["error"], verdicts
    # Replay of errors settles it, once.
    cli("inbox", "replay", "--older-than", "0s", "--verdict", "error")
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    sim_pay(slip)  # the provider's retry: a duplicate
    verdicts = psql("SELECT verdict FROM notifications WHERE id > %d ORDER BY id" % before).split()
    assert verdicts.count("settled") == 1 and "received" not in verdicts, verdicts
    heal_and_audit()


def test_lock_timeout_in_buy_answers_an_error_and_takes_nothing():
    product = STACK["DEMO_STOCK_PRODUCT"]
    stock0 = int(psql("SELECT stock FROM products WHERE id = '%s'" % product))
    orders0 = int(psql("SELECT count(*) FROM orders"))
    locker = Locker("SELECT 1 FROM products WHERE id = '%s' FOR UPDATE" % product)
    try:
        t0 = time.time()
        status, body, raw, _ = buy("wx.qrcode", products=[{"id": product, "amount": 1}])
        took = time.time() - t0
    finally:
        locker.release()
    assert took < 10, took
    assert status == 503 and body and body["errCode"] == "e.sys.db.busy", raw
    assert int(psql("SELECT count(*) FROM orders")) == orders0
    assert int(psql("SELECT stock FROM products WHERE id = '%s'" % product)) == stock0


# --- a lying / silent provider -----------------------------------------------------------------

def wx_sign(fields):
    with open(STACK["DEMO_WX_KEY_FILE"], encoding="utf-8") as f:
        key = f.read().strip()
    text = "&".join("%s=%s" % (k, fields[k]) for k in sorted(fields) if fields[k] != "" and k != "sign")
    return hashlib.md5((text + "&key=" + key).encode()).hexdigest().upper()


def wx_xml(fields):
    return ("<xml>" + "".join("<%s><![CDATA[%s]]></%s>" % (k, v, k) for k, v in fields.items())
            + "</xml>").encode()


def wx_answer(slip, trade_state, good_sign, amount_fen, **extra):
    f = {"return_code": "SUCCESS", "return_msg": "OK", "appid": STACK["DEMO_WX_APP_ID"],
         "mch_id": STACK["DEMO_WX_MCH_ID"], "nonce_str": "n0nce", "result_code": "SUCCESS",
         "out_trade_no": slip, "trade_state": trade_state, "total_fee": str(amount_fen), "fee_type": "CNY",
         "transaction_id": "4200000000" + slip[:18], "time_end": "20261201120000",
         "openid": "o", "trade_type": "NATIVE", "bank_type": "CMC", "cash_fee": str(amount_fen)}
    f.update(extra)
    f["sign"] = wx_sign(f) if good_sign else "0" * 32
    return wx_xml(f)


def reconcile_with(gateway, timeout_ms=1500):
    env = {"ORDERPAY_WXPAY_GATEWAY": gateway.url, "ORDERPAY_HTTP_TIMEOUT_MS": str(timeout_ms),
           "ORDERPAY_HTTP_CONNECT_TIMEOUT_MS": "1000"}
    return run_cli_env(env, "reconcile", "--min-age", "0", "--limit", "100000")


def run_cli_env(extra_env, *args, timeout=600):  # conftest.cli says why 600
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], **extra_env)
    return subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


LIES = {
    "garbage": lambda slip, fen: b"<html>502 Bad Gateway</html>",
    "truncated": lambda slip, fen: wx_answer(slip, "SUCCESS", True, fen)[:60],
    "forged_success": lambda slip, fen: wx_answer(slip, "SUCCESS", False, fen),
    "forged_closed": lambda slip, fen: wx_answer(slip, "CLOSED", False, fen),
    "forged_payerror": lambda slip, fen: wx_answer(slip, "PAYERROR", False, fen),
    "wrong_appid_success": lambda slip, fen: wx_answer(slip, "SUCCESS", True, fen, appid="wx_other_app"),
    "wrong_amount_success": lambda slip, fen: wx_answer(slip, "SUCCESS", True, fen + 1),
    # Signed, but only "try again": WeChat's SYSTEMERROR says nothing about the trade.
    "signed_systemerror": lambda slip, fen: wx_answer(slip, "", True, fen, result_code="FAIL",
                                                      err_code="SYSTEMERROR", err_code_des="busy"),
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_reconcile_query_lie_neither_settles_nor_fails(lie):
    order = buy_ok()
    slip = order["pay_id"]
    fen = int(psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip))
    gw = FakeGateway(lambda path, body: LIES[lie](slip, fen))
    try:
        res = reconcile_with(gw)
    finally:
        gw.close()
    assert any("orderquery" in p for p, _ in gw.calls), (gw.calls, res.stdout, res.stderr)
    st = db_row("SELECT s.st, o.or_st FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % slip)
    assert st == ["WAIT", "WT"], (lie, st, res.stdout, res.stderr)
    # The truth (paysim: not paid) is still reachable afterwards, and nothing broke an invariant.
    assert cli("audit", check=False).returncode == 0


def test_reconcile_query_hang_leaves_slip_waiting_and_does_not_hang():
    order = buy_ok()
    slip = order["pay_id"]
    fen = int(psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip))
    gw = FakeGateway(lambda path, body: wx_answer(slip, "CLOSED", True, fen), hang=5)
    try:
        t0 = time.time()
        res = run_cli_env({"ORDERPAY_WXPAY_GATEWAY": gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": "1000"},
                          "reconcile", "--min-age", "0", "--limit", "3")
        took = time.time() - t0
    finally:
        gw.close()
    assert took < 60, took
    assert any("orderquery" in p for p, _ in gw.calls), (gw.calls, res.stdout, res.stderr)
    st = db_row("SELECT s.st, o.or_st FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % slip)
    assert st == ["WAIT", "WT"], (st, res.stdout, res.stderr)


@pytest.mark.parametrize("lie", ["garbage", "forged_fail", "hang", "signed_systemerror",
                                 "signed_need_retry"])
def test_refund_with_lying_provider_is_never_fail_while_money_may_have_moved(lie):
    order = buy_ok()
    slip = order["pay_id"]
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"

    def answer(path, body):
        if lie == "garbage":
            return b"\x00\xff not xml"
        f = {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "NOTENOUGH",
             "err_code_des": "forged", "appid": STACK["DEMO_WX_APP_ID"], "mch_id": STACK["DEMO_WX_MCH_ID"],
             "nonce_str": "x", "out_trade_no": slip}
        if lie == "signed_systemerror":
            f["err_code"], f["err_code_des"] = "SYSTEMERROR", "busy, retry with the same out_refund_no"
        if lie == "signed_need_retry":
            f["err_code"], f["err_code_des"] = "BIZERR_NEED_RETRY", "retry with the same out_refund_no"
        f["sign"] = wx_sign(f) if lie.startswith("signed") else "0" * 32
        return wx_xml(f)

    gw = FakeGateway(answer, hang=4 if lie == "hang" else 0)
    try:
        res = run_cli_env({"ORDERPAY_WXPAY_GATEWAY": gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": "1500"},
                          "refund", order["id"], "--reason", "fault probe", "--key", "hf-" + slip)
    finally:
        gw.close()
    assert any("refund" in p for p, _ in gw.calls), (gw.calls, res.stdout, res.stderr)
    sts = psql("SELECT st FROM refunds WHERE slip_id = '%s'" % slip).split()
    assert sts and all(s in ("NEW", "PROCESSING") for s in sts), (lie, sts, res.stdout, res.stderr)
    # The order is still paid (nothing went back that we know of).
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    assert cli("audit", check=False).returncode == 0


# --- the provider answers the create too late ----------------------------------------------------

def test_unifiedorder_answered_after_timeout_is_unknown_then_payable_and_recorded():
    """paysim's unifiedorder blocked (its trades table locked) past orderpay's http.timeout_ms:
    the buy answers 504 e.www.pay.timeout with the order (README), the slip is not FAIL, pay/pay
    then gives the buyer something to pay, and a payment of the first slip (created at the
    provider after all) is recorded, never lost."""
    locker = Locker("LOCK TABLE paysim.trades IN EXCLUSIVE MODE")
    try:
        t0 = time.time()
        status, body, raw, _ = buy("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
        took = time.time() - t0
    finally:
        locker.release()
    assert status == 504 and body["errCode"] == "e.www.pay.timeout", raw
    assert took < 30, took
    order = body["data"]
    first = order["pay_id"]
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % first)[0] in ("NEW", "WAIT")
    # paysim has now created the trade (its insert went through when the lock went).
    assert wait_for(lambda: psql("SELECT count(*) FROM paysim.trades WHERE out_trade_no = '%s'" % first) == "1", 10)
    # The buyer asks for the payment again: something payable comes back.
    status, body, raw, _ = api_pay(order["id"])
    assert status == 200, raw
    assert body["data"]["pay_re"]["re_tp"] == "QRCODE" and body["data"]["pay_re"]["re_obj"], raw
    # The first slip, created late at the provider, gets paid anyway (e.g. by an earlier QR):
    # the payment is recorded on it, and the order is paid exactly once.
    sim_pay(first, force="1")
    heal_and_audit()
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % first)[0] == "OK"
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    assert unrecorded_payments() == ""


def api_pay(order_id, **params):
    from conftest import api
    params["id"] = order_id
    return api("GET", "pay", ticket=STACK["DEMO_TICKET"], params=params)


# --- a refund in flight when PostgreSQL restarts -------------------------------------------------

def test_refund_in_flight_across_immediate_postgres_restart_refunds_once():
    """The operator's refund is at the provider (paysim takes it but answers only after orderpay's
    timeout) when PostgreSQL is restarted hard: whatever the API answered, afterwards the refund is
    recorded once, reconcile finishes it OK, and the provider refunded exactly its amount."""
    from test_wx_refund import refund, set_mode, sim_refunds, paid_order
    order = paid_order()
    slip = order["pay_id"]
    set_mode(slip, "timeout")
    box = {}
    key = "hf-rf-" + slip
    t = threading.Thread(target=lambda: box.update(r=refund(order["id"], "2.50", key=key)))
    t.start()
    time.sleep(2)
    pg_ctl("-m", "immediate", "restart")
    t.join(timeout=70)
    assert not t.is_alive(), "the refund request hung"
    print("refund answered", box["r"][0], box["r"][2][:300])
    assert wait_for(healthy, 30)
    # The operator, unsure, asks again with the same key: never a second refund.
    st, body, raw, _ = refund(order["id"], "2.50", key=key)
    assert st == 200, raw
    cli("reconcile", "--min-age", "0")
    rows = psql_retry("SELECT st || ' ' || amount FROM refunds WHERE slip_id = '%s'" % slip).splitlines()
    assert rows == ["OK 250"], rows
    assert sim_refunds(slip)["refunded"] == 250
    heal_and_audit()


# --- PostgreSQL down: nothing is acknowledged that was not stored --------------------------------

def wx_notification(slip, fen, txn):
    f = {"return_code": "SUCCESS", "appid": STACK["DEMO_WX_APP_ID"], "mch_id": STACK["DEMO_WX_MCH_ID"],
         "nonce_str": "hfnonce", "result_code": "SUCCESS", "openid": "oHF", "is_subscribe": "N",
         "trade_type": "NATIVE", "bank_type": "CMC", "total_fee": str(fen), "fee_type": "CNY",
         "cash_fee": str(fen), "transaction_id": txn, "out_trade_no": slip, "time_end": "20261201120000"}
    f["sign"] = wx_sign(f)
    return wx_xml(f)


def post_re_wx(body):
    from conftest import api
    return api("POST", "re_wx", raw_body=body, headers={"Content-Type": "text/xml"})


def test_database_down_never_acknowledges_a_notification_and_answers_fast():
    order = buy_ok()
    slip = order["pay_id"]
    fen = int(psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip))
    body = wx_notification(slip, fen, "42000099" + slip[:20])
    pg_ctl("-m", "fast", "stop")
    try:
        t0 = time.time()
        status, _, raw, _ = post_re_wx(body)
        took = time.time() - t0
        # The provider must send it again: never SUCCESS for a notification that was not stored.
        assert b"SUCCESS" not in raw and status >= 500, (status, raw)
        assert took < 15, took
        st, b, raw2, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]})
        assert st == 503 and b["errCode"] == "e.sys.db.unavailable", raw2
        st, b, raw3, _ = buy()
        assert st == 503, raw3
        assert http_call("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=10)[0] == 503
    finally:
        pg_ctl("start")
    assert wait_for(healthy, 30)
    # The provider's retry settles it, once.
    status, _, raw, _ = post_re_wx(body)
    assert status == 200 and b"SUCCESS" in raw, raw
    status, _, raw, _ = post_re_wx(body)
    assert status == 200 and b"SUCCESS" in raw, raw
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    verdicts = psql("SELECT verdict FROM notifications WHERE slip_id = '%s' ORDER BY id" % slip).split()
    assert verdicts == ["settled", "duplicate"], verdicts
    heal_and_audit()


def api(*a, **kw):
    from conftest import api as _api
    return _api(*a, **kw)


def test_check_violation_on_order_update_rolls_back_the_slip_too():
    """The settlement's second step (the order) is refused by a CHECK constraint: the first step
    (the slip) must not stay OK alone; the provider is told to retry; once the constraint is gone,
    the retry settles both, once."""
    order = buy_ok()
    slip = order["pay_id"]
    fen = int(psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip))
    body = wx_notification(slip, fen, "42000077" + slip[:20])
    psql("ALTER TABLE orders ADD CONSTRAINT hf_block CHECK (id <> '%s' OR or_st IN ('NW', 'WT')) NOT VALID"
         % order["id"])
    try:
        status, _, raw, _ = post_re_wx(body)
    finally:
        psql("ALTER TABLE orders DROP CONSTRAINT IF EXISTS hf_block")
    assert status == 500 and b"SUCCESS" not in raw, (status, raw)
    assert db_row("SELECT s.st, o.or_st FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'"
                  % slip) == ["WAIT", "WT"]
    status, _, raw, _ = post_re_wx(body)
    assert status == 200 and b"SUCCESS" in raw, raw
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    cli("inbox", "replay", "--older-than", "0s", "--verdict", "error", check=False)
    verdicts = psql("SELECT verdict FROM notifications WHERE slip_id = '%s' ORDER BY id" % slip).split()
    assert verdicts.count("settled") == 1 and "received" not in verdicts, verdicts
    heal_and_audit()


def test_worker_killed_while_refund_is_at_the_provider_refunds_once():
    """The worker dies after writing the refund (NEW) and while the provider is taking it: the
    operator sees an error, reconcile finds it done at the provider and records it OK, once; a
    retry with the same key never refunds twice."""
    from test_wx_refund import refund, set_mode, sim_refunds, paid_order
    order = paid_order()
    slip = order["pay_id"]
    set_mode(slip, "timeout")
    box = {}
    key = "hf-rk-" + slip
    t = threading.Thread(target=lambda: box.update(r=refund(order["id"], "3.00", key=key)))
    t.start()
    assert wait_for(lambda: psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == "1", 10)
    time.sleep(1)
    for pid in worker_pids():
        os.kill(pid, signal.SIGKILL)
    t.join(timeout=70)
    assert box["r"][0] >= 500, box["r"][2]
    assert wait_for(healthy, 30)
    time.sleep(11)  # paysim finishes the refund it was taking
    st, body, raw, _ = refund(order["id"], "3.00", key=key)
    assert st == 200 and body["data"]["refund"]["replay"] is True, raw
    cli("reconcile", "--min-age", "0")
    rows = psql("SELECT st || ' ' || amount FROM refunds WHERE slip_id = '%s'" % slip).splitlines()
    assert rows == ["OK 300"], rows
    assert sim_refunds(slip)["refunded"] == 300
    heal_and_audit()


@pytest.mark.parametrize("lie", ["garbage", "forged_closed", "hang"])
def test_expire_with_provider_unreachable_does_not_fail_a_slip_that_may_be_paid(lie):
    """`orderpay expire` cannot learn the slip's state (the query and the close get garbage, a
    forged answer or no answer): the payment may have happened, so the slip must not be FAIL
    (the order is retried by the next run, or failed with the slip left open for reconcile)."""
    order = buy_ok()
    slip = order["pay_id"]
    fen = int(psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip))
    # Due before any other order, and the run takes one: the orders earlier tests left due (the
    # site expires them after 30 minutes, shorter than the suite) would each cost this run two
    # timeouts against the hanging gateway, and did push it past its 120 s on a slow build.
    psql("UPDATE orders SET expi = '2000-01-01' WHERE id = '%s'" % order["id"])
    answer = (lambda p, b: LIES[lie](slip, fen)) if lie != "hang" else (lambda p, b: b"")
    gw = FakeGateway(answer, hang=3 if lie == "hang" else 0)
    try:
        res = run_cli_env({"ORDERPAY_WXPAY_GATEWAY": gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": "1000"},
                          "expire", "--limit", "1")
    finally:
        gw.close()
    assert gw.calls, (res.stdout, res.stderr)
    slip_st = db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip)[0]
    assert slip_st != "FAIL", (lie, slip_st, res.stdout, res.stderr)
    # The run says so, and the log says which order and slip, and why.
    assert res.stdout.startswith("expired 0 orders, 0 found paid, 1 left open"), res.stdout
    assert "order %s left open for the next run: slip %s not closed (" % (order["id"], slip) in res.stderr, \
        res.stderr
    # The buyer pays after all (the QR was on screen): the money is recorded.
    sim_pay(slip)
    heal_and_audit()
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip)[0] == "OK"
    assert unrecorded_payments() == ""


@pytest.mark.parametrize("lie", ["garbage", "forged_closed", "wrong_appid_closed"])
def test_forged_closed_answer_does_not_stop_reconcile_watching_a_superseded_slip(lie):
    """A superseded slip is watched by reconcile until its provider confirms it closed. An answer
    that is not the provider's (garbage, a bad signature, another app's) confirms nothing: a later
    payment of that slip whose notification is lost is still found by reconcile."""
    order = buy_ok()
    first = order["pay_id"]
    fen = int(psql("SELECT amount FROM pay_slips WHERE id = '%s'" % first))
    status, body, raw, _ = api_pay(order["id"], force="true")
    assert status == 200, raw
    assert body["data"]["pay_id"] != first
    psql("UPDATE pay_slips SET closed_at = NULL WHERE id = '%s'" % first)  # as if its close went unanswered
    lies = dict(LIES, wrong_appid_closed=lambda slip, f: wx_answer(slip, "CLOSED", True, f, appid="wx_other_app"))
    gw = FakeGateway(lambda p, b: lies[lie](first, fen))
    try:
        res = reconcile_with(gw)
    finally:
        gw.close()
    assert gw.calls, (res.stdout, res.stderr)
    assert db_row("SELECT st, coalesce(closed_at::text, '') FROM pay_slips WHERE id = '%s'" % first) == ["FAIL", ""], \
        (lie, res.stdout, res.stderr)
    # The buyer pays the old QR code; the notification is lost; reconcile finds the money.
    sim_pay(first, force="1", times="0")
    cli("reconcile", "--min-age", "0", "--limit", "100000")
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % first)[0] == "OK"
    assert unrecorded_payments() == ""
    heal_and_audit()


def zfb_answer(slip, status, amount):
    import json as _json
    node = {"code": "10000", "msg": "Success", "out_trade_no": slip, "trade_no": "2026120122001400" + slip[:10],
            "trade_status": status, "total_amount": amount, "buyer_logon_id": "x**@example.com"}
    return _json.dumps({"alipay_trade_query_response": node, "sign": "AAAA" * 86}).encode()


@pytest.mark.parametrize("lie", ["garbage", "forged_success", "forged_closed", "unsigned_closed"])
def test_alipay_reconcile_query_lie_neither_settles_nor_fails(lie):
    order = buy_ok("zfb.qrcode")
    slip = order["pay_id"]
    amount = "%.2f" % order["fee"]

    def answer(path, body):
        if lie == "garbage":
            return b'{"alipay_trade_query_response":'
        if lie == "unsigned_closed":
            import json as _json
            return _json.dumps({"alipay_trade_query_response": {"code": "10000", "msg": "Success",
                                                                 "out_trade_no": slip, "trade_status": "TRADE_CLOSED",
                                                                 "total_amount": amount}}).encode()
        return zfb_answer(slip, "TRADE_SUCCESS" if lie == "forged_success" else "TRADE_CLOSED", amount)

    gw = FakeGateway(answer)
    try:
        res = run_cli_env({"ORDERPAY_ALIPAY_GATEWAY": gw.url + "/gateway.do", "ORDERPAY_HTTP_TIMEOUT_MS": "1500"},
                          "reconcile", "--min-age", "0", "--limit", "100000")
    finally:
        gw.close()
    assert gw.calls, (res.stdout, res.stderr)
    st = db_row("SELECT s.st, o.or_st FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % slip)
    assert st == ["WAIT", "WT"], (lie, st, res.stdout, res.stderr)


def test_buy_retried_with_key_while_first_is_at_the_provider():
    """The client's buy times out on its side while orderpay waits for a slow provider; it sends
    the same buy again (same Idempotency-Key). One order, one trade at the provider, and once the
    first call is done the order shows the slip's QR code (pay/check)."""
    key = "hf-conc-%d" % int(time.time() * 1000)
    lines = [{"id": STACK["DEMO_PRODUCT"], "amount": 1}]
    locker = Locker("LOCK TABLE paysim.trades IN EXCLUSIVE MODE")
    box = {}
    try:
        t = threading.Thread(target=lambda: box.update(a=buy("wx.qrcode", products=lines, idempotency_key=key)))
        t.start()
        assert wait_for(lambda: lock_waiters() > 0, 10)
        b = buy("wx.qrcode", products=lines, idempotency_key=key)
    finally:
        locker.release()
    t.join(timeout=70)
    a = box["a"]
    assert a[0] == 200, a[2]
    assert b[0] == 200 and b[1]["data"]["id"] == a[1]["data"]["id"], b[2]
    # (b's pay_re is NEW/NONE here: the order as it stood while the first call was at WeChat.)
    oid = a[1]["data"]["id"]
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % oid) == "1"
    assert psql("SELECT count(*) FROM paysim.trades WHERE out_trade_no = '%s'" % a[1]["data"]["pay_id"]) == "1"
    status, body, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": oid})
    assert status == 200 and body["data"]["pay_re"]["re_tp"] == "QRCODE", raw
