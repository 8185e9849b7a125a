"""The worker pool's life: a killed worker is replaced under load, SIGTERM lets an in-flight
request finish, and a PostgreSQL restart costs 503s, never a crash. Runs last (it restarts parts
of the stack)."""

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import STACK, http
from helpers import buy, buy_ok, check, db_row, inbox, sim_pay, wait_for
from test_metrics import delta, scrape


def master_pid():
    with open(STACK["ORDERPAYD_PID_FILE"], encoding="utf-8") as f:
        return int(f.read().split()[0])


def workers(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return sorted(int(p) for p in out)



def healthy():
    return http("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=5)[0] == 200


def test_kill9_worker_under_load_is_replaced():
    order = buy_ok("wx.qrcode")
    master = master_pid()
    before = workers(master)
    assert len(before) >= 2
    stop = threading.Event()
    statuses = []

    def load():
        while not stop.is_set():
            statuses.append(check(order["id"])[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(8):
            pool.submit(load)
        time.sleep(0.5)
        os.kill(before[0], signal.SIGKILL)
        time.sleep(1.5)
        stop.set()
    assert wait_for(lambda: len(workers(master)) == len(before) and before[0] not in workers(master), 10)
    # Only requests in the killed worker's hands may fail; the pool kept answering.
    ok = statuses.count(200)
    assert ok > 50 and len(statuses) - ok <= 2, (ok, len(statuses))
    assert check(order["id"])[0] == 200


def restart_orderpayd():
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    log = open(os.path.join(STACK["STACK_LOG_DIR"], "orderpayd.log"), "ab")
    proc = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    with open(STACK["ORDERPAYD_PID_FILE"], "w", encoding="utf-8") as f:
        f.write("%d\n" % proc.pid)
    assert wait_for(healthy, 20), "orderpayd did not come back"


def ensure_restarted(master):
    """The next tests need the stack as it was, whatever failed: the old master is ended if it
    still runs, then orderpayd is started again."""
    if subprocess.run(["kill", "-0", str(master)], capture_output=True).returncode == 0:
        os.kill(master, signal.SIGTERM)
        wait_for(lambda: subprocess.run(["kill", "-0", str(master)], capture_output=True).returncode != 0, 30)
    if subprocess.run(["kill", "-0", str(master)], capture_output=True).returncode == 0:
        os.kill(master, signal.SIGKILL)
        time.sleep(0.5)
    restart_orderpayd()


def set_config(key, value):
    """Sets `key = value` in orderpayd's config file (replacing the key's line or adding one) and
    returns the file's former text for restore_config."""
    path = STACK["ORDERPAY_CONFIG"]
    text = open(path, encoding="utf-8").read()
    lines = [line for line in text.splitlines() if line.split("=")[0].strip() != key]
    lines.append("%s = %s" % (key, value))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return text


def restore_config(text):
    with open(STACK["ORDERPAY_CONFIG"], "w", encoding="utf-8") as f:
        f.write(text)


def test_sigterm_lets_the_inflight_request_finish():
    # A scan payment that is never confirmed polls the provider for seconds: a slow request.
    result = {}

    def slow():
        result["resp"] = buy("wx.scan", auth_code="134000000000000099")

    t = threading.Thread(target=slow)
    master = master_pid()
    try:
        t.start()
        time.sleep(1.0)
        os.kill(master, signal.SIGTERM)
        t.join(60)
        assert "resp" in result, "the scan was not answered within 60 s"
        status, body, raw, _ = result["resp"]
        assert status == 409 and body["errCode"] == "e.www.pay.failed", raw  # a full, normal answer
        assert wait_for(lambda: subprocess.run(["kill", "-0", str(master)], capture_output=True).returncode != 0,
                        15)
        assert not os.path.exists(STACK["ORDERPAYD_SOCKET"]), "the master removes its socket on exit"
    finally:
        ensure_restarted(master)


def test_sigterm_serves_requests_already_queued():
    """Every worker is busy with a slow request and more requests wait in the socket's queue when
    SIGTERM arrives: the queued ones are served (drained), not reset into 502s."""
    order = buy_ok("wx.qrcode")
    master = master_pid()
    n_workers = len(workers(master))
    assert n_workers >= 2
    # Scans are the slow request at hand, and only scan.max_waiting workers (half the pool by
    # default) take one at a time; let every worker take one for this test.
    saved = set_config("scan.max_waiting", n_workers)
    try:
        gen = workers(master)
        os.kill(master, signal.SIGHUP)
        assert wait_for(lambda: len(workers(master)) == n_workers and not set(gen) & set(workers(master)), 15)
        assert wait_for(healthy, 10)
        with ThreadPoolExecutor(max_workers=n_workers + 8) as pool:
            slow = [pool.submit(buy, "wx.scan", auth_code="134000000000000099") for _ in range(n_workers)]
            time.sleep(0.8)  # every worker is now inside a slow scan payment
            queued = [pool.submit(check, order["id"]) for _ in range(8)]
            time.sleep(0.5)  # nginx has connected them: they wait in the listen queue
            os.kill(master, signal.SIGTERM)
            slow_status = [f.result(timeout=60)[0] for f in slow]
            queued_status = [f.result(timeout=60)[0] for f in queued]
        assert queued_status == [200] * 8, queued_status
        assert slow_status == [409] * n_workers, slow_status
        assert wait_for(lambda: subprocess.run(["kill", "-0", str(master)], capture_output=True).returncode != 0,
                        20)
        with open(os.path.join(STACK["STACK_LOG_DIR"], "orderpayd.log"), encoding="utf-8", errors="replace") as f:
            assert "drained" in f.read()
    finally:
        restore_config(saved)
        ensure_restarted(master)


def pg_ctl(*args):
    cmd = [os.path.join(STACK["PGBIN"], "pg_ctl"), "-D", STACK["PGDATA"], "-w", *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def test_database_restart_503_then_recovery():
    order = buy_ok("wx.qrcode")
    before = scrape()
    pg_ctl("stop", "-m", "fast")
    try:
        for _ in range(3):
            status, body, raw, _ = check(order["id"])
            assert status == 503, raw
            assert body["ok"] is False and body["errCode"] == "e.sys.db.unavailable", raw
        # /healthz asks the server, not the connection's last known state: every worker (twice
        # as many requests as workers) says 503 while the database is down. It said 200
        # {"db":"ok"} before: a dead server's connection looks open until it is used.
        for _ in range(8):
            status, body, raw, _ = http("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=5)
            assert status == 503 and body["errCode"] == "e.sys.db.unavailable", raw
    finally:
        pg_ctl("start", "-l", os.path.join(STACK["STACK_LOG_DIR"], "postgres.log"))
    assert wait_for(lambda: check(order["id"])[0] == 200, 15, step=0.3)
    assert wait_for(healthy, 15, step=0.3)
    # Every worker reconnects and re-prepares: a burst that reaches all of them succeeds.
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: check(order["id"])[0], range(40)))
    assert codes == [200] * 40, codes
    # The metrics saw it: the 503s, lost connections or failed attempts, and the reconnects.
    after = scrape()
    assert delta(before, after, 'orderpay_http_requests_total{route="pay/check",status="503"}') >= 3
    assert (delta(before, after, 'orderpay_db_errors_total{kind="unavailable"}')
            + delta(before, after, 'orderpay_db_errors_total{kind="connect"}')) >= 1
    assert delta(before, after, "orderpay_db_reconnects_total") >= 1
    # paysim shares this PostgreSQL and its workers' connections died while idle too: each
    # reconnects within the call it is handed (as orderpayd's workers do), so the very first buys
    # after the restart succeed. Before, every paysim worker answered one call with 503, which
    # orderpayd must report as "provider outcome unknown" (504). 24 buys, 8 at a time, reach all
    # of paysim's workers.
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: buy("wx.qrcode")[0], range(24)))
    assert codes == [200] * 24, codes


def test_a_settlement_acknowledged_to_the_provider_survives_a_database_crash():
    # WeChat stops retrying once it reads SUCCESS, so the settlement must be durable before that
    # reply leaves: pay, then stop PostgreSQL the way a crash does (immediate: no checkpoint, the
    # start replays the WAL) and the order is still paid, settled once; the provider's resend
    # after the crash is a duplicate. An order bought just before the crash is still there too.
    paid = buy_ok("wx.qrcode")
    reply = sim_pay(paid["pay_id"])["replies"][0]["body"]
    assert reply.startswith("<xml><return_code><![CDATA[SUCCESS]]>"), reply
    waiting = buy_ok("wx.qrcode")
    pg_ctl("stop", "-m", "immediate")
    pg_ctl("start", "-l", os.path.join(STACK["STACK_LOG_DIR"], "postgres.log"))
    # Every worker's connection died while idle; each reconnects within the request it is
    # handed. Before, libpq's "server closed the connection unexpectedly" (no SQLSTATE, status
    # still "ok") was answered 500 e.sys.internal, once per worker, by orderpayd and paysim alike.
    codes = [http("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=5)[0] for _ in range(8)]
    assert codes == [200] * 8, codes
    assert check(paid["id"])[0] == 200
    state = "SELECT o.or_st, s.st FROM orders o JOIN pay_slips s ON s.id = o.pay_id WHERE o.id = '%s'"
    assert db_row(state % paid["id"])[:2] == ["OK", "OK"]
    assert db_row(state % waiting["id"])[:2] == ["WT", "WAIT"]
    sim_pay(paid["pay_id"])
    assert sorted(v for v, _ in inbox(paid["pay_id"])) == ["duplicate", "settled"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: buy("wx.qrcode")[0], range(24)))
    assert codes == [200] * 24, codes


def test_sighup_rereads_config_and_replaces_workers():
    master = master_pid()
    before = workers(master)
    assert before, "orderpayd has no workers"
    saved = set_config("workers", len(before) + 1)
    try:
        os.kill(master, signal.SIGHUP)
        # New generation: one more worker, none of the old ones left, same master.
        assert wait_for(lambda: len(workers(master)) == len(before) + 1
                        and not set(before) & set(workers(master)), 10), workers(master)
        assert healthy()
    finally:
        restore_config(saved)
        os.kill(master, signal.SIGHUP)
    assert wait_for(lambda: len(workers(master)) == len(before), 10)
    assert master_pid() == master and healthy()
