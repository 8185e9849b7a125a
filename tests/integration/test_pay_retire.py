"""pay/pay's retire of the old slip, where it can go wrong between its statements:

- a NEW slip whose sender is gone (a worker died before its provider call) is claimed by
  pay/pay to be closed; when that close fails (the provider down, 502 `e.www.pay.provider`), the
  claim is given back: the next pay/pay retires it and issues a new code (or answers 502 again
  while the provider still fails), never 200 with that dead slip as "being issued" for
  buy.resend_after_ms (review s31-105 A2); a claim another caller took since is never given back;
  a close that throws (a statement refused, a lock wait past db.lock_timeout_ms) gives it back too;
- an order that expires while pay/pay closes its old slip gets no new slip: the swap's
  `expi > now()` guard (store::SwapSlip) answers it closed, and no code is written or sent.
"""

import threading

import pytest

from conftest import psql
from helpers import FakeGateway, buy_ok, db_row, free_port, own_orderpayd, wait_for
from test_buyer_loose_ends import closed_at_sim, get, listening, own_call, relayed_orderpayd, wx_field


def wx_closes(calls, slip):
    return [p for p, b in calls if p.endswith("/closeorder") and wx_field(b, "out_trade_no") == slip]


def slips_of(order_id):
    return psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order_id)


@pytest.mark.parametrize("down", ["5xx", "unreachable"])
def test_a_dead_senders_slip_whose_close_failed_is_retired_by_the_next_pay_pay(down):
    order = buy_ok("wx.qrcode")
    dead = order["pay_id"]
    # As a pay/pay or pay/buy whose worker died before its provider call leaves its slip, long
    # after (older than buy.resend_after_ms): NEW, nobody sending it.
    psql("UPDATE pay_slips SET st = 'NEW', lm = now() - interval '10 minutes' WHERE id = '%s'" % dead)
    gateway = FakeGateway(lambda path, body: (503, b"<html>Service Unavailable</html>"))
    url = gateway.url if down == "5xx" else "http://127.0.0.1:%d" % free_port()
    try:
        with own_orderpayd("retirefail", ORDERPAY_WXPAY_GATEWAY=url) as own:
            listening(own)
            # Taken over from its dead sender, its close fails: the order keeps it, nothing new.
            st, body, raw = own_call(own, "GET", "pay", {"id": order["id"], "pt": "zfb.qrcode"})
            assert st == 502 and body["errCode"] == "e.www.pay.provider", raw
            # Given back as it was: its lm the dead sender's, so pay/check may ask about it again.
            assert db_row("SELECT st, superseded, lm < now() - interval '5 minutes' FROM pay_slips "
                          "WHERE id = '%s'" % dead) == ["NEW", "f", "t"]
            assert slips_of(order["id"]) == "1"
            # The provider still down: the next pay/pay tries to close it again, and fails again;
            # it used to answer that dead slip as being issued (200, NEW) for a minute.
            st, body, raw = own_call(own, "GET", "pay", {"id": order["id"], "pt": "zfb.qrcode"})
            assert st == 502 and body["errCode"] == "e.www.pay.provider", raw
            if down == "5xx":
                assert len(wx_closes(gateway.calls, dead)) == 2, gateway.calls
    finally:
        gateway.close()
    assert db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % dead) == ["NEW", "f"]
    # The provider back: the next pay/pay closes it and issues a new code.
    st, body, raw, _ = get("pay", order["id"], pt="zfb.qrcode")
    assert st == 200 and body["data"]["pay_id"] != dead, raw
    new = body["data"]["pay_id"]
    assert body["data"]["pay_re"]["st"] == "WAIT" and body["data"]["pay_re"]["re_tp"] == "QRCODE", raw
    assert db_row("SELECT st, re_obj FROM pay_slips WHERE id = '%s'" % new) == ["WAIT", body["data"]["pay_re"]["re_obj"]]
    assert db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % dead) == ["FAIL", "t"]
    assert closed_at_sim(dead)


def test_a_claim_given_back_never_undoes_a_later_one():
    """The close outlasted buy.resend_after_ms and another caller claimed the slip meanwhile
    (here: its lm moved as that claim moves it): the failed close gives nothing back, so the
    slip stays that caller's, never claimable by a third while the second is at work."""
    order = buy_ok("wx.qrcode")
    slip = order["pay_id"]
    psql("UPDATE pay_slips SET st = 'NEW', lm = now() - interval '10 minutes' WHERE id = '%s'" % slip)
    gate = threading.Event()
    gateway = FakeGateway(lambda path, body: (gate.wait(30), (503, b"<html>Service Unavailable</html>"))[1])
    reply = {}
    try:
        with own_orderpayd("retireclaimed", ORDERPAY_WXPAY_GATEWAY=gateway.url) as own:
            listening(own)
            t = threading.Thread(target=lambda: reply.__setitem__(
                "pay", own_call(own, "GET", "pay", {"id": order["id"], "pt": "zfb.qrcode"})))
            t.start()
            try:
                assert wait_for(lambda: wx_closes(gateway.calls, slip), 30), "the close never reached the gateway"
                psql("UPDATE pay_slips SET lm = now() WHERE id = '%s'" % slip)
                later = psql("SELECT lm::text FROM pay_slips WHERE id = '%s'" % slip)
            finally:
                gate.set()
            t.join(60)
    finally:
        gate.set()
        gateway.close()
    st, body, raw = reply["pay"]
    assert st == 502 and body["errCode"] == "e.www.pay.provider", raw
    assert db_row("SELECT st, lm::text FROM pay_slips WHERE id = '%s'" % slip) == ["NEW", later]


@pytest.fixture(scope="module")
def relayed():
    """Our own orderpayd, its WeChat and Alipay calls through a Relay."""
    with relayed_orderpayd("retirerelay") as own:
        yield own


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


def test_a_dead_senders_slip_whose_close_threw_is_retired_by_the_next_pay_pay():
    """The claimed slip's close threw before reaching its provider (here its voiding mark is
    refused inside the database, as a lock wait past db.lock_timeout_ms or a failing statement
    would): the claim is given back with the error, so the next pay/pay retires the slip and
    issues a new code at once. It used to answer that dead slip, NEW, as being issued for
    buy.resend_after_ms."""
    order = buy_ok("wx.qrcode")
    dead = order["pay_id"]
    psql("UPDATE pay_slips SET st = 'NEW', lm = now() - interval '10 minutes' WHERE id = '%s'" % dead)
    fn = "test_boom_voiding_%s" % dead.lower()
    psql("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS "
         "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$; "
         "CREATE TRIGGER %s BEFORE UPDATE ON pay_slips FOR EACH ROW "
         "WHEN (NEW.id = '%s' AND NEW.voiding_at IS NOT NULL AND OLD.voiding_at IS NULL) "
         "EXECUTE FUNCTION %s()" % (fn, fn, dead, fn))
    try:
        st, body, raw, _ = get("pay", order["id"], pt="zfb.qrcode")
        assert st == 500 and body["errCode"] == "e.sys.internal", raw
    finally:
        psql("DROP TRIGGER IF EXISTS %s ON pay_slips; DROP FUNCTION IF EXISTS %s()" % (fn, fn))
    # As its dead sender left it: NEW, its lm long past, so the next caller may claim it.
    assert db_row("SELECT st, superseded, voiding_at IS NULL, lm < now() - interval '5 minutes' "
                  "FROM pay_slips WHERE id = '%s'" % dead) == ["NEW", "f", "t", "t"]
    st, body, raw, _ = get("pay", order["id"], pt="zfb.qrcode")
    assert st == 200 and body["data"]["pay_id"] != dead, raw
    assert body["data"]["pay_re"]["st"] == "WAIT" and body["data"]["pay_re"]["re_tp"] == "QRCODE", raw
    assert db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % dead) == ["FAIL", "t"]
