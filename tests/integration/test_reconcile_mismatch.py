"""reconcile's MISMATCH across providers: a notification signed by the provider itself but for
another amount than the slip is rejected, and reconcile lists the slip at once (money may be held
at the provider) until the provider's own query answer, for the right amount, settles it."""

import pytest

from conftest import cli
from helpers import buy_ok, db_row, sim_pay
from test_wx3 import buy3_ok


def slip_state(slip_id):
    return db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip_id)[0]


def attention_line(slip_id):
    # --min-age 3600: this run asks the provider nothing about the fresh slip, it only lists.
    out = cli("reconcile", "--min-age", "3600").stdout
    return [x for x in out.splitlines() if slip_id in x]


@pytest.mark.parametrize("buy", [
    lambda: buy_ok("wx.qrcode"),
    lambda: buy_ok("zfb.qrcode"),
    lambda: buy3_ok(),
], ids=["wx_v2", "alipay", "wx_v3"])
def test_signed_notification_for_another_amount_is_listed_until_the_query_settles_it(buy):
    order = buy()
    slip = order["pay_id"]
    sim_pay(slip, tamper="amount_resigned")
    assert slip_state(slip) == "WAIT"
    line = attention_line(slip)
    assert len(line) == 1 and line[0].startswith("MISMATCH ") and "amount" in line[0], line
    # The provider's own answer to a query is for the right amount: settled once, no longer listed.
    cli("reconcile", "--min-age", "0", "--limit", "100000")
    assert slip_state(slip) == "OK"
    assert attention_line(slip) == []
    st, txn = db_row("SELECT o.or_st, coalesce(s.provider_txn_id, '') FROM orders o JOIN pay_slips s "
                     "ON s.id = o.pay_id WHERE s.id = '%s'" % slip)
    assert st == "OK" and txn, (st, txn)
