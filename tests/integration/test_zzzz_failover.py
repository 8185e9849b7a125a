"""PostgreSQL failover under load. A streaming standby of the stack's database (pg_basebackup,
synchronous replication: an acknowledged order is on both), orderpayd and paysim restarted with
a two-host conninfo (`target_session_attrs=read-write`). Under a stream of buys the primary is
stopped hard and the standby promoted: orderpayd answers 503 during the gap and then succeeds,
without being restarted; every order acknowledged with 200 is on the new primary and `orderpay
audit` passes there. Runs last: the stack's own PostgreSQL stays down afterwards."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter

from conftest import STACK, cli, http
from helpers import buy, free_port, wait_for

ROOT = os.geteuid() == 0


def as_pg(*cmd, check=True, timeout=120):
    cmd = list(cmd)
    if ROOT:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout, cwd="/")


def pgbin(name):
    return os.path.join(STACK["PGBIN"], name)


def sql(host, port, text):
    return as_pg(pgbin("psql"), "-X", "-At", "-h", host, "-p", str(port), "-U", "orderpay", "-d", "orderpay",
                 "-v", "ON_ERROR_STOP=1", "-c", text).stdout.strip()



def restart(name, pid_file, args):
    with open(pid_file, encoding="utf-8") as f:
        old = int(f.read().split()[0])
    os.kill(old, signal.SIGTERM)
    assert wait_for(lambda: subprocess.run(["kill", "-0", str(old)], capture_output=True).returncode != 0, 30)
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    log = open(os.path.join(STACK["STACK_LOG_DIR"], name + ".log"), "ab")
    proc = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], name), *args], env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    with open(pid_file, "w", encoding="utf-8") as f:
        f.write("%d\n" % proc.pid)


def healthy():
    return http("GET", STACK["ORDERPAY_URL"] + "/healthz", timeout=5)[0] == 200


def test_primary_lost_standby_promoted_under_load():
    primary_sock, primary_port = STACK["PGHOST"], int(STACK["PGPORT"])
    base = os.path.join(STACK["ORDERPAY_VAR"], "standby")
    data, sock = os.path.join(base, "data"), os.path.join(base, "sock")
    os.makedirs(sock, exist_ok=True)
    os.chmod(base, 0o755)
    if ROOT:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    port = free_port()
    log = os.path.join(STACK["STACK_LOG_DIR"], "standby.log")
    open(log, "a").close()
    if ROOT:
        shutil.chown(log, "postgres", "postgres")

    # Synchronous replication: a commit returns only once the standby has it.
    sql(primary_sock, primary_port, "ALTER SYSTEM SET synchronous_standby_names = '*'")
    sql(primary_sock, primary_port, "SELECT pg_reload_conf()")
    as_pg(pgbin("pg_basebackup"), "-h", primary_sock, "-p", str(primary_port), "-U", "orderpay", "-D", data,
          "-R", "-X", "stream", "--no-sync", "--checkpoint=fast")  # not a spread checkpoint: minutes
    with open(os.path.join(data, "postgresql.auto.conf"), "a", encoding="utf-8") as f:
        # It inherits the primary's synchronous_standby_names: once promoted, with no standby of its
        # own, every commit would wait forever. (A real pair would re-point it at the old primary.)
        f.write("port = %d\nunix_socket_directories = '%s'\nlisten_addresses = ''\n"
                "synchronous_standby_names = ''\n" % (port, sock))
    try:
        as_pg(pgbin("pg_ctl"), "-D", data, "-w", "-t", "60", "-l", log, "start")
        assert wait_for(lambda: sql(primary_sock, primary_port,
                                    "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "1",
                        30)

        # orderpayd and paysim learn both hosts; libpq picks the one that takes writes.
        conninfo = ("host=%s,%s port=%d,%d dbname=orderpay user=orderpay target_session_attrs=read-write "
                    "connect_timeout=2" % (primary_sock, sock, primary_port, port))
        conf = STACK["ORDERPAY_CONFIG"]
        with open(conf, encoding="utf-8") as f:
            text = f.read()
        with open(conf, "w", encoding="utf-8") as f:
            f.write(re.sub(r"(?m)^db = .*$", "db = " + conninfo, text))
        restart("paysim", STACK["PAYSIM_PID_FILE"], ["serve"])
        restart("orderpayd", STACK["ORDERPAYD_PID_FILE"], [])
        assert wait_for(healthy, 30)
        with open(STACK["ORDERPAYD_PID_FILE"], encoding="utf-8") as f:
            master = int(f.read().split()[0])

        stop = threading.Event()
        lock = threading.Lock()
        acked, outcomes = [], Counter()
        promoted_at = []

        def load():
            while not stop.is_set():
                status, body, _, _ = buy("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
                with lock:
                    after = bool(promoted_at) and time.time() > promoted_at[0]
                    outcomes["%s %s" % ("after" if after else "before", status)] += 1
                    if status == 200:
                        acked.append(body["data"]["id"])
                if status != 200:
                    time.sleep(0.05)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(4)
        as_pg(pgbin("pg_ctl"), "-D", STACK["PGDATA"], "-m", "immediate", "stop")  # the primary host is lost
        time.sleep(2)  # the gap: nothing takes writes
        as_pg(pgbin("pg_ctl"), "-D", data, "-w", "promote")
        with lock:
            promoted_at.append(time.time())
        # Load goes on until buys succeed again on the new primary (bounded).
        wait_for(lambda: outcomes["after 200"] >= 20, 45, step=0.5)
        stop.set()
        for t in threads:
            t.join(90)
        print("\nfailover outcomes:", dict(outcomes))
        with open(os.path.join(STACK["STACK_LOG_DIR"], "failover.json"), "w", encoding="utf-8") as f:
            f.write(repr(dict(outcomes)))

        assert master == int(open(STACK["ORDERPAYD_PID_FILE"], encoding="utf-8").read().split()[0])  # no restart
        assert outcomes["before 200"] > 0, outcomes
        assert any(k.startswith("before 503") for k in outcomes) or outcomes.get("after 503", 0) > 0, outcomes
        assert outcomes["after 200"] > 0, outcomes
        missing = []
        for i in range(0, len(acked), 200):
            chunk = acked[i:i + 200]
            found = set(sql(sock, port, "SELECT id FROM orders WHERE id IN (%s)"
                            % ",".join("'%s'" % o for o in chunk)).split())
            missing += [o for o in chunk if o not in found]
        assert missing == [], missing[:10]
        # The invariants hold on the new primary (the CLI reads the same two-host conninfo).
        cli("inbox", "replay", "--older-than", "0s", check=False)
        res = cli("audit", "--expire-grace", "3600", check=False)
        assert res.returncode == 0, res.stdout
    finally:
        as_pg(pgbin("pg_ctl"), "-D", data, "-m", "fast", "stop", check=False)
