"""paysim's times=0 on /sim/pay: the buyer pays (the trade is paid exactly as with times=1) but
no notification is sent, for WeChat and Alipay trades; a later /sim/pay re-sends it."""

import pytest

from conftest import psql, sim
from helpers import buy_ok, inbox, sim_pay, wait_state


def sim_trade(slip_id):
    status, body, raw, _ = sim("/sim/trade", {"out_trade_no": slip_id}, method="GET")
    assert status == 200, raw
    return body["data"]


@pytest.mark.parametrize("pay_tp,paid_state", [("wx.qrcode", "SUCCESS"), ("zfb.qrcode", "TRADE_SUCCESS")])
def test_times_zero_pays_without_notifying(pay_tp, paid_state):
    order = buy_ok(pay_tp)
    lost = sim_pay(order["pay_id"], times=0)
    assert lost["sent"] == 0 and lost["replies"] == [], lost
    assert lost["transaction_id"], lost
    trade = sim_trade(order["pay_id"])
    assert trade["state"] == paid_state and trade["notify_count"] == 0, trade
    assert trade["transaction_id"] == lost["transaction_id"] and trade["paid_at"], trade
    # orderpay heard nothing (pay/check is not called: its query would learn of the payment).
    assert inbox(order["pay_id"]) == []
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "WT"

    # The gateway sends it again later: the same payment, now delivered.
    again = sim_pay(order["pay_id"])
    assert again["sent"] == 1 and again["transaction_id"] == lost["transaction_id"], again
    assert sim_trade(order["pay_id"])["notify_count"] == 1
    assert [v for v, _ in inbox(order["pay_id"])] == ["settled"]
    assert wait_state(order["id"], "OK", timeout=2.0)["or_st"] == "OK"
