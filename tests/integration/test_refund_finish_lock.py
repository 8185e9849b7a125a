"""orderpay_refund_finish's slip lock, in the database alone (sql/011_refunds.sql): the last two
refunds of a paid slip finish at the same moment. A third session holds the slip's row lock
while both finishes run, so each has already marked its own refund OK and waits at the lock, the
interleaving in which, without the lock, each would sum only its own OK and the order would never
become RF. Released, the first sums before the other committed (order still OK), the second sees
both (order RF): RF exactly once, and the refunded total equals what was paid."""

import os
import subprocess
import uuid

from conftest import PSQL, STACK, psql
from helpers import buy_ok, db_row, lock_waiters, wait_for


def pg_env():
    env = dict(os.environ)
    for key in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER"):
        env[key] = STACK[key]
    return env


def session(sql=None):
    """A psql session of its own: running `sql` (then exiting), or reading statements from stdin."""
    args = [PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"] + (["-c", sql] if sql else [])
    return subprocess.Popen(args, env=pg_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def open_processing_refund(order, amount):
    """A refund of `amount` (minor units) opened on the order's slip and sent (PROCESSING)."""
    rid = "lk" + uuid.uuid4().hex[:20]
    out = psql("SELECT outcome FROM orderpay_refund_open('%s', '%s', NULL, %d, 'lock test', 'test', NULL, '%s')"
               % (STACK["DEMO_SITE"], order["id"], amount, rid))
    assert out == "created", out
    psql("UPDATE refunds SET st = 'PROCESSING' WHERE id = '%s'" % rid)
    return rid


def waiting_finishes(slip):
    """How many sessions run orderpay_refund_finish and wait for a lock."""
    return lock_waiters("orderpay_refund_finish", "lock test %s" % slip)


def finish(rid, slip):
    # The note names the slip, so that the wait can be found by its query text.
    return session("SELECT outcome || ' ' || order_st FROM orderpay_refund_finish('%s', true, 'P-%s',"
                   " 'lock test %s')" % (rid, rid, slip))


def test_two_concurrent_last_finishes_make_the_order_rf_exactly_once():
    order = buy_ok("zfb.scan", auth_code="280000000000000002")  # 25.00 CNY, paid at once
    assert order["or_st"] == "OK", order
    slip = order["pay_id"]
    first, second = open_processing_refund(order, 1000), open_processing_refund(order, 1500)

    holder = session()
    holder.stdin.write("BEGIN;\nSELECT 'locked' FROM pay_slips WHERE id = '%s' FOR UPDATE;\n" % slip)
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "locked"
    a, b = finish(first, slip), finish(second, slip)
    try:
        # Both have set their own refund OK and now wait at the slip lock.
        assert wait_for(lambda: waiting_finishes(slip) == 2, 10), waiting_finishes(slip)
        assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    finally:
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
    results = sorted(p.communicate(timeout=30)[0].strip() for p in (a, b))
    assert holder.wait(timeout=30) == 0 and a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    # The first to get the lock summed without the other's OK; the second saw both: RF once.
    assert results == ["finished OK", "finished RF"], results
    row = db_row("SELECT o.or_st, o.rf_at IS NOT NULL, (SELECT sum(amount) FROM refunds r WHERE r.slip_id = o.pay_id"
                 " AND r.st = 'OK'), s.amount FROM orders o JOIN pay_slips s ON s.id = o.pay_id"
                 " WHERE o.id = '%s'" % order["id"])
    assert row == ["RF", "t", "2500", "2500"], row
    # A finish repeated afterwards changes nothing.
    again = session("SELECT outcome FROM orderpay_refund_finish('%s', true, '', 'again')"
                    % second).communicate(timeout=30)[0].strip()
    assert again == "duplicate", again
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"]
    assert db_row("SELECT count(*) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip) == ["2"]
