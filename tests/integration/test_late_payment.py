"""A payment that arrives after its order expired (the buyer paid just as `orderpay expire`
closed the trade): the money is never dropped. With stock left the order takes it again and
settles late; without, the slip is kept paid and flagged refund_needed, and a partial retake
of a multi-line order is undone. Settlement runs in one statement (orderpay_settle)."""

import itertools

from conftest import STACK, cli, psql
from helpers import buy_ok, db_row, inbox, sim_pay

_seq = itertools.count()


def product(stock):
    pid = "late-%d-%d" % (next(_seq), int(psql("SELECT (extract(epoch FROM now()) * 1000)::bigint")) % 10**9)
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "late " + pid, "--price", "1.00",
        "--stock", str(stock))
    return pid


def stock(pid):
    return int(psql("SELECT stock FROM products WHERE site_id = '%s' AND id = '%s'" % (STACK["DEMO_SITE"], pid)))


def expire(order):
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    row = db_row("SELECT o.or_st, o.stock_held, s.st FROM orders o JOIN pay_slips s ON s.id = o.pay_id "
                 "WHERE o.id = '%s'" % order["id"])
    assert row == ["FA", "f", "FAIL"], row


def test_paid_after_expiry_with_stock_left_settles_late():
    pid = product(2)
    order = buy_ok(products=[{"id": pid, "amount": 1}])
    assert stock(pid) == 1
    expire(order)
    assert stock(pid) == 2
    paid = sim_pay(order["pay_id"], force="1")  # the trade was closed: the buyer paid anyway
    row = db_row("SELECT o.or_st, o.stock_held, s.st, s.provider_txn_id, s.refund_needed FROM orders o "
                 "JOIN pay_slips s ON s.id = o.pay_id WHERE o.id = '%s'" % order["id"])
    assert row == ["OK", "t", "OK", paid["transaction_id"], "f"], row
    assert stock(pid) == 1
    verdicts = inbox(order["pay_id"])
    assert verdicts and verdicts[0][0] == "settled" and verdicts[0][1].startswith("late_settled: "), verdicts


def test_paid_after_expiry_and_sold_out_is_kept_and_flagged():
    pid = product(1)
    order = buy_ok(products=[{"id": pid, "amount": 1}])
    expire(order)
    buy_ok(products=[{"id": pid, "amount": 1}])  # someone else takes the last one
    assert stock(pid) == 0
    paid = sim_pay(order["pay_id"], force="1")
    row = db_row("SELECT o.or_st, o.stock_held, s.st, s.provider_txn_id, s.refund_needed FROM orders o "
                 "JOIN pay_slips s ON s.id = o.pay_id WHERE o.id = '%s'" % order["id"])
    assert row == ["FA", "f", "OK", paid["transaction_id"], "t"], row
    assert stock(pid) == 0
    verdicts = inbox(order["pay_id"])
    assert verdicts[0][0] == "settled" and verdicts[0][1].startswith("refund_flagged: paid after expiry"), verdicts
    assert order["pay_id"] in cli("reconcile").stdout  # listed for the operator (REFUND)
    # The provider repeating it changes nothing.
    sim_pay(order["pay_id"], force="1")
    assert [v for v, _ in inbox(order["pay_id"])] == ["settled", "duplicate"]


def test_a_partial_retake_is_undone():
    plenty, scarce = product(5), product(1)
    order = buy_ok(products=[{"id": plenty, "amount": 2}, {"id": scarce, "amount": 1}])
    expire(order)
    assert (stock(plenty), stock(scarce)) == (5, 1)
    buy_ok(products=[{"id": scarce, "amount": 1}])
    sim_pay(order["pay_id"], force="1")
    # Whichever line was retaken first, nothing of this order holds stock now.
    assert (stock(plenty), stock(scarce)) == (5, 0)
    assert db_row("SELECT or_st, stock_held FROM orders WHERE id = '%s'" % order["id"]) == ["FA", "f"]
    assert psql("SELECT refund_needed FROM pay_slips WHERE id = '%s'" % order["pay_id"]) == "t"
