"""pay/pay's retire of the old slip, where it can go wrong between its statements:

- an order that expires while pay/pay closes its old slip gets no new slip: the swap's
  `expi > now()` guard (store::SwapSlip) answers it closed, and no code is written or sent.
"""

import threading

import pytest

from conftest import psql
from helpers import buy_ok, own_orderpayd
from test_buyer_loose_ends import Relay, closed_at_sim, listening, own_call, wx_field


def slips_of(order_id):
    return psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order_id)


@pytest.fixture(scope="module")
def relayed():
    """Our own orderpayd, its WeChat and Alipay calls through a Relay."""
    relay = Relay()
    try:
        with own_orderpayd("retirerelay", ORDERPAY_WXPAY_GATEWAY=relay.url,
                           ORDERPAY_ALIPAY_GATEWAY=relay.url + "/gateway.do") as own:
            own["relay"] = relay
            yield listening(own)
    finally:
        relay.release()
        relay.close()


def test_an_order_that_expires_while_pay_pay_closes_its_old_slip_gets_no_new_one(relayed):
    """pay/pay read the order payable, then closed its old slip at WeChat (answer held at the
    relay) while the order's expiry passed: the swap refuses it (store::SwapSlip's `expi > now()`),
    so pay/pay answers the order closed (409), writes no new slip and sends nothing."""
    relay = relayed["relay"]
    order = buy_ok("wx.qrcode")
    old = order["pay_id"]
    relay.hold(lambda path, body: path.endswith("/closeorder") and wx_field(body, "out_trade_no") == old)
    reply = {}
    try:
        t = threading.Thread(target=lambda: reply.__setitem__(
            "pay", own_call(relayed, "GET", "pay", {"id": order["id"], "pt": "zfb.qrcode"})))
        t.start()
        assert relay.seen.wait(30), "pay/pay's close never reached the relay"
        psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
        sent = len(relay.calls)
    finally:
        relay.release()
    t.join(60)
    st, body, raw = reply["pay"]
    assert st == 409 and body["errCode"] == "e.www.order.closed", raw
    assert body["data"]["id"] == order["id"] and body["data"]["pay_id"] == old, raw
    assert slips_of(order["id"]) == "1"
    assert psql("SELECT pay_id FROM orders WHERE id = '%s'" % order["id"]) == old
    # Nothing asked of any provider after the close: no code was created for the order.
    assert relay.calls[sent:] == [], [p for p, _ in relay.calls[sent:]]
    assert closed_at_sim(old)
