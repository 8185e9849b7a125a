"""WeChat Pay v2 end to end through nginx, orderpayd and paysim: QR code, JSAPI, scan, re-issue."""

import hashlib
import os
import time

from conftest import STACK, api, sim
from helpers import buy, buy_ok, check, db_row, sim_pay, wait_state


def demo_key():
    with open(os.path.join(STACK["ORDERPAY_VAR"], "keys", "wx_demo.key"), encoding="utf-8") as f:
        return f.read().strip()


def test_qrcode_buy_pay_check():
    order = buy_ok("wx.qrcode")
    assert order["or_st"] == "WT"
    assert order["pay_re"]["re_tp"] == "QRCODE"
    assert order["pay_re"]["re_obj"].startswith("weixin://")
    assert order["pay_re"]["st"] == "WAIT"
    assert order["products"][0]["amount"] == 2 and order["products"][0]["price"] == 12.5
    assert order["total"] == 25.0 and order["fee"] == 25.0 and order["currency"] == "CNY"
    assert isinstance(order["ct"], int) and order["ct"] > 1_600_000_000_000
    result = sim_pay(order["pay_id"])
    assert result["replies"][0]["body"].startswith("<xml><return_code><![CDATA[SUCCESS]]>")
    paid = wait_state(order["id"], "OK", timeout=2.0)
    assert paid["or_st"] == "OK" and paid["pay_re"]["st"] == "OK"
    assert paid["ok_at"] is not None
    slip = db_row("SELECT st, provider_txn_id FROM pay_slips WHERE id = '%s'" % order["pay_id"])
    assert slip[0] == "OK" and slip[1] == result["transaction_id"]


def test_check_order_alias_and_price_from_server():
    # The catalogue's price; a client-sent one is refused (test_hostile_buyer, test_buy_unknown_fields).
    order = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    assert order["fee"] == 12.5
    st, body, raw, _ = api("GET", "check_order", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]})
    assert st == 200 and body["data"]["id"] == order["id"], raw


def test_virtual_goods_are_done_when_paid():
    order = buy_ok("wx.qrcode", tp="Q")
    sim_pay(order["pay_id"])
    done = wait_state(order["id"], "DN", timeout=2.0)
    assert done["or_st"] == "DN" and done["dn_at"] is not None


def test_contact_fields_round_trip():
    order = buy_ok("wx.qrcode", name="Alice", phone="13800000000", address="1 Tea Road")
    assert order["name"] == "Alice" and order["phone"] == "13800000000" and order["address"] == "1 Tea Road"
    # A field that is not a contact field is refused, never stored or echoed.
    st, body, raw, _ = buy("wx.qrcode", name="Alice", evil="x")
    assert st == 400 and body["msg"] == "unknown field evil", raw


def test_jsapi_pay_sign_verifies():
    order = buy_ok("wx.jsapi")
    assert order["pay_re"]["re_tp"] == "JSON"
    params = order["pay_re"]["re_obj"]
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"].startswith("prepay_id=")
    signed = "&".join("%s=%s" % (k, params[k]) for k in sorted(params) if k != "paySign")
    want = hashlib.md5((signed + "&key=" + demo_key()).encode()).hexdigest().upper()
    assert params["paySign"] == want
    assert params["signType"] == "MD5"


def test_scan_paid_at_once():
    order = buy_ok("wx.scan", auth_code="130000000000000001")
    assert order["or_st"] == "OK" and order["pay_re"]["st"] == "OK"


def test_scan_settles_through_userpaying():
    order = buy_ok("wx.scan", auth_code="131000000000000002")
    assert order["or_st"] == "OK", order
    trade = sim("/sim/trade", {"out_trade_no": order["pay_id"]}, method="GET")[1]["data"]
    assert trade["state"] == "SUCCESS" and int(trade["queries"]) >= 3


def test_scan_systemerror_resolved_by_query():
    order = buy_ok("wx.scan", auth_code="133000000000000003")
    assert order["or_st"] == "OK", order


def test_scan_declined():
    st, body, raw, _ = buy("wx.scan", auth_code="132000000000000004")
    assert st == 409 and body["errCode"] == "e.www.pay.failed", raw
    assert body["data"]["or_st"] == "NW" and body["data"]["pay_re"]["st"] == "FAIL"
    # WeChat's code and cashier text: the till asks the buyer to refresh the code (review s27 #7).
    assert body["msg"] == "the payment was declined: AUTHCODEEXPIRE: 二维码已过期，请用户在微信上刷新后再试", raw


def test_scan_never_confirmed_is_reversed():
    st, body, raw, _ = buy("wx.scan", auth_code="134000000000000005")
    assert st == 409 and body["errCode"] == "e.www.pay.failed", raw
    assert body["msg"] == "the payment was declined: not confirmed in time, reversed", raw
    trade = sim("/sim/trade", {"out_trade_no": body["data"]["pay_id"]}, method="GET")[1]["data"]
    assert trade["state"] == "REVOKED"


def test_lost_notification_is_recovered_by_check():
    order = buy_ok("wx.qrcode")
    # Paid at the provider, but the notification goes nowhere.
    result = sim_pay(order["pay_id"], tamper="sign")
    assert "FAIL" in result["replies"][0]["body"]
    time.sleep(1.1)  # past query_min_interval_ms
    paid = wait_state(order["id"], "OK", timeout=3.0)
    assert paid["or_st"] == "OK"


def test_pay_returns_live_slip_then_reissues_on_force():
    order = buy_ok("wx.qrcode")
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]})
    assert st == 200 and body["data"]["pay_id"] == order["pay_id"], raw
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "force": "true"})
    assert st == 200, raw
    new = body["data"]
    assert new["pay_id"] != order["pay_id"] and new["pay_re"]["re_tp"] == "QRCODE"
    old = db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % order["pay_id"])
    assert old == ["FAIL", "t"]
    trade = sim("/sim/trade", {"out_trade_no": order["pay_id"]}, method="GET")[1]["data"]
    assert trade["state"] == "CLOSED"
    # Switching pay type issues a JSAPI slip.
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "wx.jsapi"})
    assert st == 200 and body["data"]["pay_tp"] == "wx.jsapi" and body["data"]["pay_re"]["re_tp"] == "JSON", raw


def test_late_payment_on_superseded_slip_is_kept():
    order = buy_ok("wx.qrcode")
    api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "force": "true"})
    new = check(order["id"])[1]["data"]
    # The buyer pays the old, closed QR code anyway (a provider race): the money is not lost.
    sim_pay(order["pay_id"], force="1")
    paid = wait_state(order["id"], "OK", timeout=2.0)
    assert paid["or_st"] == "OK" and paid["pay_id"] == order["pay_id"]
    # Then the new slip is paid too: a double payment, flagged for refund.
    sim_pay(new["pay_id"], force="1")
    slip = db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % new["pay_id"])
    assert slip == ["OK", "t"]


def test_pay_on_paid_order_is_409():
    order = buy_ok("wx.scan", auth_code="130000000000000006")
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]})
    assert st == 409 and body["errCode"] == "e.www.order.paid", raw


def test_concurrent_reissues_leave_one_live_slip():
    from concurrent.futures import ThreadPoolExecutor

    order = buy_ok("wx.qrcode")
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: api("GET", "pay", ticket=STACK["DEMO_TICKET"],
                                              params={"id": order["id"], "force": "true"}), range(6)))
    assert all(r[0] == 200 for r in results), [r[2][:200] for r in results]
    live = db_row("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND NOT superseded" % order["id"])
    assert live == ["1"]
    current = check(order["id"])[1]["data"]
    assert current["or_st"] == "WT"
    assert db_row("SELECT superseded FROM pay_slips WHERE id = '%s'" % current["pay_id"]) == ["f"]
