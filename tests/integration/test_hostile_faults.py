"""Hostile faults: a crash or failure between any two steps must never lose or double-count money.

Not covered elsewhere: PostgreSQL restarted with `-m immediate` (not `fast`) under buys and
notifications; orderpayd's backends terminated (pg_terminate_backend) mid-request; a worker
SIGKILLed at a known point (blocked on a row lock the test holds) inside a notification's
settlement and inside a buy; a lock timeout inside a transition; a provider that answers garbage,
a forged signature or nothing at all to the order query (reconcile) and to a refund.
Afterwards: replay + reconcile, then `orderpay audit` must be clean and every payment paysim
took must be on its slip, exactly once."""

import hashlib
import http.server
import os
import signal
import socketserver
import subprocess
import threading
import time

import pytest

from conftest import PSQL, STACK, _pg_env, cli, http as http_call, psql
from helpers import buy, buy_ok, db_row, sim_pay, wait_for, wait_state
from conftest import sim

ROOT = os.geteuid() == 0


# --- helpers -----------------------------------------------------------------------------------

def master_pid():
    with open(STACK["ORDERPAYD_PID_FILE"], encoding="utf-8") as f:
        return int(f.read().split()[0])


def worker_pids():
    out = subprocess.run(["pgrep", "-P", str(master_pid())], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


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


class Locker:
    """An open psql session holding row locks (SELECT ... FOR UPDATE in an open transaction)."""

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


def lock_waiters():
    return int(psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"))


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
    assert wait_for(healthy, 15)
    # The provider sends it again (and an operator replays): settled exactly once.
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    cli("inbox", "replay", "--older-than", "0s")
    verdicts = psql("SELECT verdict FROM notifications WHERE id > %d ORDER BY id" % before).split()
    assert "received" not in verdicts, verdicts
    assert verdicts.count("settled") == 1, verdicts
    assert db_row("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st = 'OK'" % order["id"]) == ["1"]
    heal_and_audit()


def test_worker_killed_inside_buy_leaves_stock_and_orders_consistent():
    product = STACK["DEMO_STOCK_PRODUCT"]
    stock0 = int(psql("SELECT stock FROM products WHERE id = '%s'" % product))
    orders0 = int(psql("SELECT count(*) FROM orders"))
    locker = Locker("SELECT 1 FROM products WHERE id = '%s' FOR UPDATE" % product)
    box = {}
    try:
        t = threading.Thread(target=lambda: box.update(r=buy("wx.qrcode", products=[{"id": product, "amount": 1}])))
        t.start()
        assert wait_for(lambda: lock_waiters() > 0, 10), "the buy never reached the stock row"
        for pid in worker_pids():
            os.kill(pid, signal.SIGKILL)
        t.join(timeout=70)
    finally:
        locker.release()
    assert box["r"][0] in (502, 503, 504), box["r"][2]
    assert wait_for(healthy, 15)
    # The killed worker's transaction rolled back: no order, no stock taken.
    assert int(psql("SELECT count(*) FROM orders")) == orders0
    assert int(psql("SELECT stock FROM products WHERE id = '%s'" % product)) == stock0
    res = cli("audit", check=False)
    assert res.returncode == 0, res.stdout


# --- statement errors inside a transition ------------------------------------------------------

@pytest.fixture
def low_lock_timeout():
    psql("ALTER ROLE orderpay SET lock_timeout = '300ms'")
    for pid in orderpayd_backends():  # new sessions pick the setting up
        psql("SELECT pg_terminate_backend(%d)" % pid)
    wait_for(healthy, 15)
    try:
        yield
    finally:
        psql("ALTER ROLE orderpay RESET lock_timeout")
        for pid in orderpayd_backends():
            psql("SELECT pg_terminate_backend(%d)" % pid)
        wait_for(healthy, 15)


def test_lock_timeout_in_settlement_is_retryable_and_settles_once(low_lock_timeout):
    # Warm every worker's connection (reconnected with the low lock_timeout).
    for _ in range(8):
        healthy()
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


def test_lock_timeout_in_buy_answers_an_error_and_takes_nothing(low_lock_timeout):
    for _ in range(8):
        healthy()
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
    assert status in (500, 503) and body and body["ok"] is False, raw
    assert int(psql("SELECT count(*) FROM orders")) == orders0
    assert int(psql("SELECT stock FROM products WHERE id = '%s'" % product)) == stock0


# --- a lying / silent provider -----------------------------------------------------------------

class FakeGateway:
    """A WeChat v2 / Alipay gateway stand-in answering every POST with `answer(path, body)`
    (bytes), or sleeping `hang` seconds first."""

    def __init__(self, answer, hang=0):
        outer = self
        self.calls = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                outer.calls.append((self.path, body))
                if hang:
                    time.sleep(hang)
                data = answer(self.path, body)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except Exception:
                    pass

            do_GET = do_POST

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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


def run_cli_env(extra_env, *args, timeout=120):
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
    st = db_row("SELECT s.st, o.or_st FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % slip)
    assert st == ["WAIT", "WT"], (st, res.stdout, res.stderr)


@pytest.mark.parametrize("lie", ["garbage", "forged_fail", "hang"])
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
        f["sign"] = "0" * 32
        return wx_xml(f)

    gw = FakeGateway(answer, hang=4 if lie == "hang" else 0)
    try:
        res = run_cli_env({"ORDERPAY_WXPAY_GATEWAY": gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": "1500"},
                          "refund", order["id"], "--reason", "fault probe", "--key", "hf-" + slip)
    finally:
        gw.close()
    sts = psql("SELECT st FROM refunds WHERE slip_id = '%s'" % slip).split()
    assert sts and all(s in ("NEW", "PROCESSING") for s in sts), (lie, sts, res.stdout, res.stderr)
    # The order is still paid (nothing went back that we know of).
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    assert cli("audit", check=False).returncode == 0
