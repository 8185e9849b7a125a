"""A code its provider no longer honours is not offered (helper 112, session 32).

A WeChat Pay code (Native `code_url`, JSAPI `prepay_id`, v2 and v3) and an Alipay precreate
`qr_code` are valid for 2 hours and a PayPal approval link for 3, whatever the order's expiry (a
site's `--expire-minutes` may be up to a week). Once a WAIT slip was made longer ago than that
(the most its code can have lived, a resent slip's included), less a margin (5 minutes), by the
database's clock: the buyer's views show it as a dead code (re_tp NONE, pay/qr noqr), the
operators' keep it, pay/check issues nothing by itself, and pay/pay (same pay type, no force)
closes the slip and issues a new code. (An Alipay code was taken to live as long as its order
until review s33-113 F1.) A payment of the old code that arrives after its replacement is taken
as every late payment is.
"""

import json
import threading

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import db_row, inbox, sim_pay, wait_for
from test_buyer_loose_ends import USD, V3, closed_at_sim, get, order_of
from test_paypal import approve, paypal_order

LIFETIME_MIN = {"wx.qrcode": 120, "wx.jsapi": 120, "zfb.qrcode": 120, "paypal": 180}
MARGIN_MIN = 5
DEAD = {"st": "WAIT", "re_tp": "NONE", "re_obj": None}


def buy_on(pay_tp, site=None, key=None):
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=site,
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": pay_tp},
                           headers={"Idempotency-Key": key} if key else None)
    assert st == 200, raw
    order = body["data"]
    assert order["pay_re"]["st"] == "WAIT" and order["pay_re"]["re_obj"], raw
    return order


def code_text(pay_re):
    """The code as text (a JSAPI object as its prepay_id's package)."""
    obj = pay_re["re_obj"]
    return obj["package"] if isinstance(obj, dict) else obj


def age(slip, minutes):
    """As if the slip's code were `minutes` old (SLIP_CODE_AGE counts from the older of its ct and
    lm: lm moved back, as here, the slip reads as made that long ago)."""
    psql("UPDATE pay_slips SET lm = now() - make_interval(mins => %d) WHERE id = '%s'" % (minutes, slip))


def slips_of(order_id):
    return int(psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order_id))


@pytest.mark.parametrize("pay_tp,site", [
    ("wx.qrcode", None),
    ("wx.qrcode", V3),
    ("wx.jsapi", None),
    ("zfb.qrcode", None),
    ("paypal", USD),
], ids=["wechat-v2-native", "wechat-v3-native", "wechat-v2-jsapi", "alipay-precreate", "paypal"])
def test_a_code_past_its_providers_lifetime_is_not_offered_and_pay_pay_renews_it(pay_tp, site):
    order = buy_on(pay_tp, site)
    oid, slip, code = order["id"], order["pay_id"], code_text(order["pay_re"])
    life = LIFETIME_MIN[pay_tp]
    qr = order["pay_re"]["re_tp"] == "QRCODE"

    # Just before the margin: still offered as it was, and pay/pay hands the same code back.
    age(slip, life - MARGIN_MIN - 1)
    assert order_of(oid, site)["pay_re"] == order["pay_re"]
    if qr:
        st, _, raw, _ = get("qr", oid, site)
        assert st == 200, raw
    st, body, raw, _ = get("pay", oid, site)
    assert st == 200 and body["data"]["pay_id"] == slip and body["data"]["pay_re"] == order["pay_re"], raw

    # Within the margin of its lifetime: a buyer shown it now could see it die while they pay.
    age(slip, life - MARGIN_MIN + 1)
    now = order_of(oid, site)
    assert now["pay_id"] == slip and now["or_st"] == "WT" and now["pay_re"] == DEAD, now["pay_re"]
    assert code not in json.dumps(now)
    st, body, raw, _ = get("qr", oid, site)
    assert st == 409 and body["errCode"] == "e.www.order.noqr", raw
    # The operators' view keeps it; pay/check issued nothing by itself.
    shown = json.loads(cli("order", "show", oid, "--json").stdout)
    assert shown["pay_re"] == order["pay_re"], shown
    assert slips_of(oid) == 1 and db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["WAIT"]

    # Long past it, the same; pay/pay (same pay type, no force) retires the slip and issues a new code.
    age(slip, life + 60)
    assert order_of(oid, site)["pay_re"] == DEAD
    st, body, raw, _ = get("pay", oid, site)
    assert st == 200, raw
    fresh = body["data"]
    assert fresh["pay_id"] != slip and fresh["pay_tp"] == pay_tp, raw
    assert fresh["pay_re"]["st"] == "WAIT" and fresh["pay_re"]["re_tp"] == order["pay_re"]["re_tp"], raw
    assert code_text(fresh["pay_re"]) and code_text(fresh["pay_re"]) != code, raw
    assert db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % slip) == ["FAIL", "t"]
    if pay_tp != "paypal":  # PayPal's close leaves its order uncaptured at PayPal (nothing to send)
        assert closed_at_sim(slip)
    assert order_of(oid, site)["pay_re"] == fresh["pay_re"]

    # The old code paid after all (a late payment the provider still delivers): taken as every
    # late payment of a superseded slip is, never lost.
    if pay_tp == "paypal":
        # An approval of a superseded PayPal order is never captured: no money moved.
        http("GET", approve(order["pay_re"]["re_obj"]), headers={"Accept": "application/json"})
        assert paypal_order(slip)[1] == "0"
        assert order_of(oid, site)["or_st"] == "WT"
    else:
        paid = sim_pay(slip, force="1")
        row = db_row("SELECT o.or_st, o.pay_id, s.st, s.provider_txn_id FROM orders o "
                     "JOIN pay_slips s ON s.id = '%s' WHERE o.id = '%s'" % (slip, oid))
        assert row == ["OK", slip, "OK", paid["transaction_id"]], row
        assert inbox(slip)[0][0] == "settled", inbox(slip)


def test_pay_buy_replay_does_not_offer_a_dead_code():
    key = "code-life-" + psql("SELECT md5(random()::text)")[:16]
    order = buy_on("wx.qrcode", key=key)
    age(order["pay_id"], LIFETIME_MIN["wx.qrcode"] + 1)
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"],
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"},
                           headers={"Idempotency-Key": key})
    assert st == 200 and body["data"]["id"] == order["id"], raw
    assert body["data"]["pay_re"] == DEAD, raw
    assert order["pay_re"]["re_obj"] not in raw.decode()


def test_concurrent_pay_pays_renew_an_outlived_code_once():
    """Six pay/pay calls at once on one outlived WeChat code: the old slip is closed, one new
    slip wins the swap (the others answer the order naming it), and no reply offers the old code."""
    order = buy_on("wx.qrcode")
    oid, old, code = order["id"], order["pay_id"], code_text(order["pay_re"])
    age(old, LIFETIME_MIN["wx.qrcode"] + 1)
    replies = []

    def one():
        replies.append(get("pay", oid))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 6
    for st, body, raw, _ in replies:
        assert st == 200, raw
        assert code not in raw.decode(), raw
    row = db_row("SELECT o.pay_id, o.or_st FROM orders o WHERE o.id = '%s'" % oid)
    new = row[0]
    assert new != old and row[1] == "WT", row
    assert {body["data"]["pay_id"] for _, body, _, _ in replies} == {new}, [r[2] for r in replies]
    assert slips_of(oid) == 2
    assert db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % old) == ["FAIL", "t"]
    assert closed_at_sim(old)
    assert wait_for(lambda: order_of(oid)["pay_re"]["re_obj"], 10), order_of(oid)


def test_a_code_resent_long_after_its_slip_was_made_is_not_offered_as_new():
    """A slip whose sender reached WeChat and then died stays NEW; when pay/check sends it again
    hours later, the same out_trade_no gets the code WeChat issued then (unifiedorder is
    idempotent for the same order), not a new one. Counted from when its slip was made, that code
    is past its lifetime: not offered, and pay/pay renews it (review s33-113 F2: counted from the
    resend's record, it was offered as new for another 115 minutes)."""
    order = buy_on("wx.qrcode")
    oid, slip, code = order["id"], order["pay_id"], code_text(order["pay_re"])
    # As its dead sender left it three hours ago: made, sent (WeChat holds the code), never recorded.
    psql("UPDATE pay_slips SET st = 'NEW', re_tp = 'NONE', re_obj = '', ct = now() - interval '3 hours', "
         "lm = now() - interval '3 hours' WHERE id = '%s'" % slip)
    resent = order_of(oid)
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["WAIT"]
    assert resent["pay_id"] == slip and resent["pay_re"] == DEAD, resent["pay_re"]
    assert code not in json.dumps(resent)
    # The code resent is the one WeChat issued three hours ago (the operators' view keeps it).
    assert json.loads(cli("order", "show", oid, "--json").stdout)["pay_re"]["re_obj"] == code
    st, body, raw, _ = get("pay", oid)
    assert st == 200 and body["data"]["pay_id"] != slip, raw
    assert code_text(body["data"]["pay_re"]) and code_text(body["data"]["pay_re"]) != code, raw
    assert db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % slip) == ["FAIL", "t"]
