"""Two or three hosts run the operator timers at once (README: Several hosts): `expire`,
`reconcile`, `inbox replay`, `inbox prune` and `ticket prune` over the same rows, while buyers buy,
switch pay types and poll, paysim pays (lost, twice, late) and operators refund; and one host's run
killed with SIGKILL mid-way while the other goes on. Afterwards every slip's money at paysim is
what orderpay recorded (or flagged), the stock ledger holds, `orderpay audit` is clean, and the
runs' outputs are honest: of two runs acting on the same order, slip or notification, only the
one whose write won claims it (its count, its line). Bounded to about a minute in all."""

import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import STACK, api, cli, psql, sim
from helpers import Locker, buy_ok, check, wait_for
from test_crash_before_settle import clear_fault, fault_on_settle
from test_hostile_ops import assert_stock_ledger, money_accounted
from test_refund import admin

SITE = STACK["DEMO_SITE"]
HOSTS = 3


def at_once(*args, n=HOSTS):
    """`orderpay ARGS` started on n "hosts" at the same moment; their CompletedProcesses."""
    with ThreadPoolExecutor(n) as pool:
        return [j.result(600) for j in [pool.submit(cli, *args, check=False) for _ in range(n)]]


def product(stock):
    pid = "timers-%s" % uuid.uuid4().hex[:8]
    cli("product", "add", pid, "--site", SITE, "--title", "timers " + pid, "--price", "1.00", "--stock", stock)
    return pid


def orders_of(pid, n, pay_types=("wx.qrcode", "zfb.qrcode")):
    return [buy_ok(pay_types[i % len(pay_types)], products=[{"id": pid, "amount": 1}]) for i in range(n)]


def quoted(orders):
    return ",".join("'%s'" % o["id"] for o in orders)


def past_expiry(orders):
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id IN (%s)" % quoted(orders))


def pay_lost(slip, late=False):
    """The buyer pays; the notification is lost (times=0). late: the slip was closed (force=1)."""
    form = {"out_trade_no": slip, "times": "0"}
    if late:
        form["force"] = "1"
    st, _, raw, _ = sim("/sim/pay", form)
    assert st == 200, raw


def audit_clean():
    res = cli("audit", "--expire-grace", "0", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_expires_on_three_hosts_claim_each_order_once():
    """Four orders paid with their notifications lost and three never paid, all past expiry;
    three `orderpay expire` at once. Each run asks paysim and the one whose settlement or expiry
    wins counts it: in all, 4 found paid and 3 expired, not one per run (the runs said 12 found
    paid: a run counted an order another run's query had settled, its own a duplicate)."""
    pid = product(20)
    paid, unpaid = orders_of(pid, 4), orders_of(pid, 3)
    for o in paid:
        pay_lost(o["pay_id"])
    past_expiry(paid + unpaid)
    runs = at_once("expire", "--json")
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    counts = [json.loads(r.stdout) for r in runs]
    states = dict(line.split("|") for line in
                  psql("SELECT id, or_st FROM orders WHERE id IN (%s)" % quoted(paid + unpaid)).splitlines())
    assert [states[o["id"]] for o in paid] == ["OK"] * 4, states
    assert [states[o["id"]] for o in unpaid] == ["FA"] * 3, states
    assert sum(c["settled"] for c in counts) == 4, counts
    assert sum(c["expired"] for c in counts) == 3, counts
    assert sum(c["left"] + c["errors"] for c in counts) == 0, counts
    for o in paid + unpaid:
        money_accounted(o["id"], o["pay_id"])
    assert_stock_ledger(pid, 20)
    audit_clean()


def test_reconciles_on_three_hosts_report_each_late_payment_once():
    """Four expired orders whose codes were then paid, the notifications lost; three
    `orderpay reconcile` at once. Each payment is recorded once (the orders OK again) and reported
    once: one PAID line and one `found_paid` in all, not one per run that asked."""
    pid = product(20)
    orders = orders_of(pid, 4)
    past_expiry(orders)
    cli("expire")
    for o in orders:
        pay_lost(o["pay_id"], late=True)
    runs = at_once("reconcile", "--min-age", "0", "--json")
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    outs = [json.loads(r.stdout) for r in runs]
    slips = {o["pay_id"] for o in orders}
    paid_lines = [e["id"] for out in outs for e in out["events"] if e["kind"] == "PAID" and e["id"] in slips]
    assert sorted(paid_lines) == sorted(slips), [out["events"] for out in outs]
    assert sum(out["found_paid"] for out in outs) == 4, [out["found_paid"] for out in outs]
    assert psql("SELECT string_agg(DISTINCT or_st, ',') FROM orders WHERE id IN (%s)" % quoted(orders)) == "OK"
    for o in orders:
        money_accounted(o["id"], o["pay_id"])
    assert_stock_ledger(pid, 20)
    audit_clean()


def test_replays_on_three_hosts_claim_each_notification_once():
    """Four notifications a worker stored but died before deciding (`received`); three
    `orderpay inbox replay` at once. Each row is decided once; the run that decided it prints it
    with the verdict the row holds, the others say another process decided it meanwhile, and the
    runs' `decided` counts add up to 4 (each run said `4 decided`, the losers printing `duplicate`
    for rows recorded `settled`)."""
    pid = product(20)
    orders = orders_of(pid, 4)
    before = int(psql("SELECT coalesce(max(id), 0) FROM notifications"))
    for o in orders:
        fault_on_settle(o["pay_id"])
        try:
            sim("/sim/pay", {"out_trade_no": o["pay_id"]})
        finally:
            clear_fault(o["pay_id"])
    rows = psql("SELECT id FROM notifications WHERE id > %d AND verdict = 'error'" % before).split()
    assert len(rows) == 4, rows
    psql("UPDATE notifications SET verdict = 'received', reason = '', slip_id = NULL WHERE id IN (%s)"
         % ",".join(rows))
    # The slips locked a moment (as a live request settling one holds it), so that the three runs,
    # started one after the other, meet at the same rows rather than one finishing them all first.
    locker = Locker("SELECT 1 FROM pay_slips WHERE id IN (%s) FOR UPDATE"
                    % ",".join("'%s'" % o["pay_id"] for o in orders))
    try:
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(at_once, "inbox", "replay", "--older-than", "0s")
            time.sleep(0.8)  # under db.lock_timeout_ms (2 s): they wait, none gives up
            locker.release()
            runs = job.result(600)
    finally:
        locker.release()
    assert all(r.returncode == 0 for r in runs), [r.stdout + r.stderr[-2000:] for r in runs]
    verdicts = dict(line.split("|") for line in
                    psql("SELECT id, verdict FROM notifications WHERE id IN (%s)" % ",".join(rows)).splitlines())
    assert sorted(verdicts.values()) == ["settled"] * 4, verdicts
    claimed = []
    for r in runs:
        for line in r.stdout.splitlines():
            cols = line.split("\t")
            if len(cols) >= 4 and cols[0] in rows:
                assert cols[2] == verdicts[cols[0]], (line, verdicts)  # the row's verdict, as recorded
                if not cols[3].startswith("decided meanwhile by another process"):
                    claimed.append(cols[0])
    assert sorted(claimed) == sorted(rows), [r.stdout for r in runs]
    decided = sum(int(r.stdout.rsplit("replayed ", 1)[1].split(": ")[1].split(" decided")[0]) for r in runs)
    assert decided == 4, [r.stdout for r in runs]
    assert psql("SELECT string_agg(DISTINCT or_st, ',') FROM orders WHERE id IN (%s)" % quoted(orders)) == "OK"
    audit_clean()


def test_timers_on_three_hosts_while_buyers_buy_pay_and_operators_refund():
    """About 20 s: buyers buy (WeChat and Alipay codes), switch pay type (pay/pay), poll pay/check;
    paysim pays at once, notifying twice, with the notification lost, or late after the order expired;
    operators refund part of paid orders; three hosts loop expire, reconcile, inbox replay and the
    prunes. Then, once the timers ran once more: each slip's money at paysim is what orderpay
    recorded or flagged, each refund paysim made is recorded OK exactly once, the stock ledger holds
    and the audit is clean."""
    pid = product(400)
    first_row = int(psql("SELECT coalesce(max(id), 0) FROM notifications"))
    opkey = cli("apikey", "issue", "--site", SITE).stdout.strip()
    stop = threading.Event()
    lock = threading.Lock()
    orders, problems = [], []
    rnd = random.Random(117)

    def buyer(seed):
        r = random.Random(seed)
        while not stop.is_set():
            try:
                o = buy_ok(r.choice(["wx.qrcode", "zfb.qrcode"]), products=[{"id": pid, "amount": 1}])
                with lock:
                    orders.append(o)
                if r.random() < 0.3:  # changes its mind about how to pay
                    api("GET", "pay", ticket=STACK["DEMO_TICKET"],
                        params={"id": o["id"], "pt": r.choice(["wx.qrcode", "zfb.qrcode"])})
                st, body, _, _ = check(o["id"])
                slip = body["data"]["pay_id"] if st == 200 else o["pay_id"]
                dice = r.random()
                if dice < 0.15:  # never pays: the timers expire it
                    past_expiry([o])
                elif dice < 0.3:  # pays the old code after the order expired (notified, twice)
                    past_expiry([o])
                    time.sleep(0.3)
                    # Not lost as well: paysim pays a trade orderpay saw confirmed closed, which no
                    # provider does, and then nothing of ours asks about it again.
                    sim("/sim/pay", {"out_trade_no": slip, "times": "2", "force": "1"})
                elif dice < 0.45:  # pays, the notification lost, then leaves it to the timers
                    sim("/sim/pay", {"out_trade_no": slip, "times": "0"})
                    past_expiry([o])
                else:  # pays; notified twice, sometimes late
                    sim("/sim/pay", {"out_trade_no": slip, "times": "2",
                                     "delay_ms": str(r.choice([0, 0, 300]))})
                check(o["id"])
            except Exception as e:  # noqa: BLE001 (a failure under load is counted, not fatal)
                with lock:
                    problems.append("buyer: %r" % e)

    def operator():
        while not stop.is_set():
            with lock:
                candidates = list(orders)
            if candidates:
                o = rnd.choice(candidates)
                admin("POST", "refund", opkey, {"order": o["id"], "amount": 0.5, "reason": "timers race",
                                                "idempotency_key": uuid.uuid4().hex})
            time.sleep(0.2)

    def host(n):
        cmds = [("expire",), ("reconcile", "--min-age", "0"), ("inbox", "replay", "--older-than", "0s"),
                ("inbox", "prune"), ("ticket", "prune")]
        while not stop.is_set():
            for cmd in cmds:
                res = cli(*cmd, check=False)
                # A row locked past db.lock_timeout_ms is exit 1, tried again next run; not a crash.
                if res.returncode not in (0, 1):
                    with lock:
                        problems.append("host %d: %s exit %d: %s" % (n, cmd, res.returncode, res.stderr[-500:]))

    threads = ([threading.Thread(target=buyer, args=(i,)) for i in range(3)]
               + [threading.Thread(target=operator)] + [threading.Thread(target=host, args=(i,)) for i in range(HOSTS)])
    for t in threads:
        t.start()
    time.sleep(20)
    stop.set()
    for t in threads:
        t.join(300)
    # The notifications still on their way, then the timers once more on one host.
    time.sleep(1.5)
    cli("inbox", "replay", "--older-than", "0s")
    cli("reconcile", "--min-age", "0", check=False)
    cli("expire")
    assert wait_for(lambda: psql("SELECT count(*) FROM notifications WHERE verdict IN ('received', 'error')"
                                 " AND id > %d" % first_row) == "0", 10), \
        psql("SELECT id, verdict, reason FROM notifications WHERE verdict IN ('received', 'error') AND id > %d"
             % first_row)
    assert len(orders) > 10, problems
    assert money_back_recorded(orders) == ""
    assert_stock_ledger(pid, 400)
    audit_clean()
    print("orders %d, problems under load %d: %s" % (len(orders), len(problems), problems[:5]))


MONEY = """
WITH s AS (
  SELECT s.id, s.provider, s.st, s.refund_needed, o.pay_id,
         CASE s.provider WHEN 'wx' THEN (SELECT total_fee FROM paysim.trades t WHERE t.out_trade_no = s.id
                                         AND t.paid_at IS NOT NULL)
                         ELSE (SELECT total_fee FROM paysim.zfb_trades t WHERE t.out_trade_no = s.id
                               AND t.paid_at IS NOT NULL) END AS taken,
         CASE s.provider WHEN 'wx' THEN (SELECT coalesce(sum(refund_fee), 0) FROM paysim.wx_refunds r
                                         WHERE r.out_trade_no = s.id AND r.state = 'SUCCESS')
                         ELSE (SELECT coalesce(sum(refund_fee), 0) FROM paysim.zfb_refunds r
                               WHERE r.out_trade_no = s.id) END AS given,
         CASE s.provider WHEN 'wx' THEN EXISTS (SELECT 1 FROM paysim.trades t WHERE t.out_trade_no = s.id
                                                AND t.state = 'REVOKED' AND t.transaction_id IS NOT NULL)
                         ELSE EXISTS (SELECT 1 FROM paysim.zfb_trades t WHERE t.out_trade_no = s.id
                                      AND t.refunded) END AS voided,
         CASE s.provider WHEN 'wx' THEN (SELECT coalesce(sum(refund_fee), 0) FROM paysim.wx_refunds r
                                         WHERE r.out_trade_no = s.id AND r.state = 'PROCESSING')
                         ELSE 0 END AS pending_there,
         (SELECT coalesce(sum(amount), 0) FROM refunds r WHERE r.slip_id = s.id AND r.st = 'OK') AS ok_here,
         (SELECT coalesce(sum(amount), 0) FROM refunds r WHERE r.slip_id = s.id
          AND r.st IN ('NEW', 'PROCESSING')) AS pending_here
  FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.order_id IN (%s))
SELECT id, provider, st, refund_needed, pay_id = id, taken, given, voided, ok_here, pending_there, pending_here
FROM s
WHERE CASE WHEN taken IS NULL THEN st = 'OK'
           ELSE st <> 'OK' OR NOT (pay_id = id OR refund_needed)
                OR ok_here <> CASE WHEN voided THEN greatest(given, taken) ELSE given END
                OR pending_here <> pending_there END
"""


def money_back_recorded(orders):
    """For each slip of the orders: what paysim took is recorded (settled on the order, or
    flagged for refund), nothing it did not take is; what it gave back is orderpay's OK refunds
    exactly (a void's provider refund: all of it); what is in flight there (a WeChat v2 refund is
    PROCESSING until its notification, which nobody sends here) is in flight here. The rows that
    break it, none expected."""
    return psql(MONEY % quoted(orders))


def test_a_timer_killed_mid_run_while_the_other_host_goes_on():
    """Six orders past expiry, three paid with the notification lost; one host's expire and
    reconcile are killed (SIGKILL) a moment into their runs while the other host's run the whole
    way. Then the timers once more: every payment recorded once, every unpaid order failed with
    its stock back, nothing left marked half-done, the audit clean."""
    pid = product(20)
    paid, unpaid = orders_of(pid, 3), orders_of(pid, 3)
    for o in paid:
        pay_lost(o["pay_id"])
    past_expiry(paid + unpaid)
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    binary = os.path.join(STACK["ORDERPAY_BIN"], "orderpay")
    for cmd, delay in [(["expire"], 0.15), (["reconcile", "--min-age", "0"], 0.1), (["expire"], 0.4)]:
        victim = subprocess.Popen([binary, *cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with ThreadPoolExecutor(1) as pool:
            other = pool.submit(cli, *cmd, check=False)
            time.sleep(delay)
            victim.send_signal(signal.SIGKILL)
            victim.wait(30)
            assert other.result(600).returncode == 0, other.result().stderr[-2000:]
    cli("reconcile", "--min-age", "0")
    cli("expire")
    states = dict(line.split("|") for line in
                  psql("SELECT id, or_st FROM orders WHERE id IN (%s)" % quoted(paid + unpaid)).splitlines())
    assert [states[o["id"]] for o in paid] == ["OK"] * 3, states
    assert [states[o["id"]] for o in unpaid] == ["FA"] * 3, states
    for o in paid + unpaid:
        money_accounted(o["id"], o["pay_id"])
    # A killed close leaves its void mark; reconcile asked and dropped it (the payment stands).
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id IN (%s) AND st = 'OK' AND voiding_at IS NOT NULL"
                % quoted(paid)) == "0"
    assert_stock_ledger(pid, 20)
    audit_clean()


def test_prunes_on_three_hosts_count_each_row_once():
    """2500 tickets ended a month ago and 2500 forgeries stored eight days ago (more than two
    batches of 1000 each); three `ticket prune` and three `inbox prune` at once share the rows: the
    counts they print add up to what left the tables, and what is left is what is kept."""
    tag = "timers-%s" % uuid.uuid4().hex[:8]
    store = psql("SELECT account_store FROM sites WHERE id = '%s'" % SITE)
    cli("account", "add", tag, "--store", store)
    psql("INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at, ct) SELECT sha256(convert_to('%s' || i,"
         " 'UTF8')), '%s', '%s', now() - interval '30 days', now() - interval '31 days' FROM generate_series(1, 2500) i"
         % (tag, store, tag))
    psql("INSERT INTO notifications (provider, site_id, body, verdict, reason, ct, decided_at) SELECT 'wx', '%s',"
         " convert_to('%s', 'UTF8'), 'rejected', 'unverified: signature invalid', now() - interval '8 days',"
         " now() - interval '8 days' FROM generate_series(1, 2500)" % (SITE, tag))

    def count(table):
        return int(psql("SELECT count(*) FROM %s" % table))

    before = count("sessions"), count("notifications")
    with ThreadPoolExecutor(2 * HOSTS) as pool:
        jobs = ([pool.submit(cli, "ticket", "prune", "--ended-older-than", "7d", check=False) for _ in range(HOSTS)]
                + [pool.submit(cli, "inbox", "prune", "--rejected-older-than", "7d", check=False)
                   for _ in range(HOSTS)])
        runs = [j.result(600) for j in jobs]
    assert all(r.returncode == 0 for r in runs), [r.stdout + r.stderr[-1000:] for r in runs]
    tickets = sum(int(r.stdout.split("pruned ")[1].split(" ")[0]) for r in runs[:HOSTS])
    forgeries = sum(int(r.stdout.split("pruned ")[1].split(" ")[0]) for r in runs[HOSTS:])
    assert tickets == before[0] - count("sessions") and tickets >= 2500, [r.stdout for r in runs]
    assert forgeries == before[1] - count("notifications") and forgeries >= 2500, [r.stdout for r in runs]
    assert psql("SELECT count(*) FROM sessions WHERE account_id = '%s'" % tag) == "0"
    assert psql("SELECT count(*) FROM notifications WHERE body = convert_to('%s', 'UTF8')" % tag) == "0"


def test_reconciles_on_three_hosts_report_each_recovered_reversal_once():
    """Four Alipay codes paid as expire cancelled them, expire killed recording the cancel's
    refund (test_hostile_voiding's crash); three `orderpay reconcile` at once recover them. Each
    refund is recorded once (test_hostile_voiding checks that) and reported once: one REVERSED
    line and one `reversed` in all (each run that asked said REVERSED and counted it: 11 for 4)."""
    from test_hostile_voiding import assert_reversed_once, crashed_by_expire
    crashed = [crashed_by_expire() for _ in range(4)]
    slips = {slip for _, slip in crashed}
    runs = at_once("reconcile", "--min-age", "0", "--json")
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    outs = [json.loads(r.stdout) for r in runs]
    lines = [e["id"] for out in outs for e in out["events"] if e["kind"] == "REVERSED" and e["id"] in slips]
    assert sorted(lines) == sorted(slips), [out["events"] for out in outs]
    assert sum(out["reversed"] for out in outs) == 4, [out["reversed"] for out in outs]
    for order_id, slip in crashed:
        assert_reversed_once(order_id, slip)
    audit_clean()


def test_expires_on_three_hosts_report_each_cancel_that_refunded_a_payment_once():
    """Eight Alipay codes the buyer pays at the moment expire cancels them (the cancel refunds the
    payment, no notification); three `orderpay expire` at once, each cancelling (Alipay answers a
    repeated cancel as the first, action=refund). The payment and its refund are recorded once,
    each order RF, and counted found paid once in all (before: 7 for 4, in one run of four; the
    runs must meet at the same order, so with fewer orders it passed most times)."""
    from test_void_refunds import no_notification, paid_at_cancel
    pid = product(20)
    orders = orders_of(pid, 8, pay_types=("zfb.qrcode",))
    for o in orders:
        no_notification(o["pay_id"])
        paid_at_cancel(o["pay_id"])
    past_expiry(orders)
    runs = at_once("expire", "--json")
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    counts = [json.loads(r.stdout) for r in runs]
    assert psql("SELECT string_agg(DISTINCT or_st, ',') FROM orders WHERE id IN (%s)" % quoted(orders)) == "RF"
    assert sum(c["settled"] for c in counts) == 8, counts
    assert money_back_recorded(orders) == ""
    for o in orders:
        assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % o["pay_id"]) == "1"
    assert_stock_ledger(pid, 20)
    audit_clean()
