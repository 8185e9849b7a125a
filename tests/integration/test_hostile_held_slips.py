"""A hostile back office and a lying provider against the refund_needed slips (late or double
payments the order does not count) as the operator views show them and admin/refund {"slip"}
gives them back (helper-118's refund-needed-api): several held slips of one order in several
refund states, keys shared between an order refund and a slip refund, a slip refund racing an
order refund and `orderpay refund --slip`, JSON bodies at the edges, the buyer's views, and the
audit after it all."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, psql, sim
from helpers import admin, buy_ok, check, db_row, sim_pay, sim_trade, wait_for, wait_state

SITE = STACK["DEMO_SITE"]


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


def refund_slip(key, slip, reason="held payment", idem=None, **extra):
    body = {"slip": slip, "reason": reason, "idempotency_key": idem or uuid.uuid4().hex}
    body.update(extra)
    return admin("refund", key, body)


def refund_order(key, order_id, reason="order refund", idem=None):
    return admin("refund", key, {"order": order_id, "reason": reason, "idempotency_key": idem or uuid.uuid4().hex})


def order_of(key, order_id):
    st, body, raw, _ = admin("order", key, method="GET", params="?id=" + order_id)
    assert st == 200, raw
    return body["data"]


def held(order):
    return {h["slip"]: h for h in order["refund_needed"]}


def wx_done(refund_id):
    """WeChat (v2) accepts a refund PROCESSING and says it is done by notification: paysim sends it."""
    st, body, raw, _ = sim("/sim/wx/refund_notify", {"out_refund_no": refund_id, "mch_id": STACK["DEMO_WX_MCH_ID"]})
    assert st == 200, raw
    assert wait_for(lambda: psql("SELECT st FROM refunds WHERE id = '%s'" % refund_id) == "OK", 20)


def refunded_at_sim(slip):
    """What paysim gave back of the trade, in fen: Alipay's refund_fee, WeChat's refunds (each
    asked with the slip's own total_fee)."""
    t = sim_trade(slip)
    if t["provider"] != "wx":
        return t["refund_fee"]
    st, body, raw, _ = sim("/sim/wx/refunds", {"out_trade_no": slip, "mch_id": STACK["DEMO_WX_MCH_ID"]}, method="GET")
    assert st == 200, raw
    assert all(r["total_fee"] == t["total_fee"] for r in body["data"]["refunds"]), raw
    return sum(r["refund_fee"] for r in body["data"]["refunds"] if r["state"] == "SUCCESS")


def switch(order_id, pt):
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order_id, "pt": pt})
    assert st == 200, raw
    return body["data"]["pay_id"]


def several_held(types):
    """A 25.00 CNY order bought with types[0], switched (pay/pay) through the rest, paid by the
    last slip; then every earlier code is paid too. (order, its own slip, the held slips oldest
    first)."""
    order = buy_ok(types[0])
    slips = [order["pay_id"]] + [switch(order["id"], pt) for pt in types[1:]]
    own = slips[-1]
    sim_pay(own)
    assert wait_state(order["id"], "OK", timeout=20)["or_st"] == "OK"
    for s in slips[:-1]:
        sim_pay(s, force="1")
    in_list = ",".join("'%s'" % s for s in slips[:-1])
    assert wait_for(lambda: psql("SELECT count(*) FROM pay_slips WHERE id IN (%s) AND st = 'OK' AND refund_needed"
                                 % in_list) == str(len(slips) - 1), 20)
    return order, own, slips[:-1]


def one_held():
    """(order, its own zfb slip, a held zfb slip): Alipay answers refunds at once."""
    order, own, (first, _wx) = several_held(("zfb.qrcode", "wx.qrcode", "zfb.qrcode"))
    return order, own, first


def violations(*subjects):
    res = cli("audit", "--json", check=False)
    found = json.loads(res.stdout)["violations"]
    return [v for v in found if any(s in json.dumps(v) for s in subjects)]


def test_several_held_slips_failed_processing_and_refunded_in_one_view(key):
    # zfb A (held), wx B (held), zfb C (held), wx D (own payment).
    order, own, (a, b, c) = several_held(("zfb.qrcode", "wx.qrcode", "zfb.qrcode", "wx.qrcode"))
    seen = order_of(key, order["id"])
    assert [h["slip"] for h in seen["refund_needed"]] == [a, b, c], seen["refund_needed"]
    assert seen["pay_id"] == own and seen["refunded"] == 0

    # A: the provider refuses. FAIL, nothing taken; its key replays the FAIL, another key works.
    fail_key = uuid.uuid4().hex
    st, body, raw, _ = refund_slip(key, a, "[sim:fail] broke", idem=fail_key)
    assert st != 200 and body["data"]["refund"]["st"] == "FAIL", raw
    assert held(body["data"]["order"])[a]["refunded"] == 0, raw
    assert refunded_at_sim(a) == 0
    st, body, raw, _ = refund_slip(key, a, "[sim:fail] broke", idem=fail_key)
    assert st == st and body["data"]["refund"]["st"] == "FAIL" and body["data"]["refund"]["replay"] is True, raw
    # B (WeChat): given back whole.
    st, body, raw, _ = refund_slip(key, b, "double payment")
    assert st == 200 and body["data"]["refund"]["amount"] == 25.0, raw
    assert body["data"]["refund"]["st"] == "PROCESSING", raw
    wx_done(body["data"]["refund"]["id"])
    # C: the provider answers after orderpay gave up: PROCESSING, its amount taken.
    st, body, raw, _ = refund_slip(key, c, "[sim:timeout] slow")
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    st, body, raw, _ = refund_slip(key, c, "again")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert "refunded or being refunded 25.00 of 25.00 CNY" in body["msg"], raw

    seen = order_of(key, order["id"])
    h = held(seen)
    assert [r["st"] for r in h[a]["refunds"]] == ["FAIL"] and h[a]["refunded"] == 0, h[a]
    assert [r["st"] for r in h[b]["refunds"]] == ["OK"] and h[b]["refunded"] == 25.0, h[b]
    assert [r["st"] for r in h[c]["refunds"]] == ["PROCESSING"] and h[c]["refunded"] == 0, h[c]
    assert seen["or_st"] == "OK"

    # Reconcile finds C done; A is given back with a new key.
    cli("reconcile", "--min-age", "0")
    assert psql("SELECT st FROM refunds WHERE slip_id = '%s'" % c) == "OK"
    st, body, raw, _ = refund_slip(key, a, "retry")
    assert st == 200 and body["data"]["refund"]["st"] == "OK", raw
    assert refunded_at_sim(a) == 2500 and refunded_at_sim(c) == 2500 and refunded_at_sim(b) == 2500
    assert refunded_at_sim(own) == 0
    # The order's own payment: nothing of it went back, and it can still be refunded whole.
    st, body, raw, _ = refund_order(key, order["id"])
    assert st == 200 and body["data"]["refund"]["amount"] == 25.0, raw
    wx_done(body["data"]["refund"]["id"])
    assert wait_state(order["id"], "RF", timeout=20)["or_st"] == "RF"
    assert refunded_at_sim(own) == 2500
    assert int(psql("SELECT count(*) FROM refunds WHERE order_id = '%s' AND st = 'OK'" % order["id"])) == 4
    assert violations(order["id"], own, a, b, c) == []


def test_the_orders_refunded_counts_its_held_slips_and_they_say_how_much(key):
    """The rule README states (`refunded`): the order's `refunded` and `refunds` count every refund
    of the order, its held slips' too (to the buyer, money that went back), so `price - refunded`
    is not what is left of its own payment; the operator's view says how much of it was the held
    slips' (refund_needed[].refunded), and subtracting that gives it. With the double payment
    returned: 25.00 refunded, all of it the held slip's, 25.00 of the order's own left (and the
    order path does give 25.00 back); after that, 50.00 refunded of a 25.00 order, RF."""
    order, own, first = one_held()
    st, body, raw, _ = refund_slip(key, first, "double payment")
    assert st == 200 and body["data"]["refund"]["st"] == "OK", raw
    seen = order_of(key, order["id"])
    assert seen["or_st"] == "OK" and refunded_at_sim(own) == 0
    held = sum(h["refunded"] for h in seen["refund_needed"])
    assert seen["refunded"] == 25.0 and held == 25.0, seen
    assert round(seen["price"] - (seen["refunded"] - held), 2) == 25.0, seen
    st, body, raw, _ = refund_order(key, order["id"])
    assert st == 200 and body["data"]["refund"]["amount"] == 25.0, raw
    after = body["data"]["order"]
    held = sum(h["refunded"] for h in after["refund_needed"])
    assert after["or_st"] == "RF" and after["refunded"] == 50.0 and held == 25.0, after
    assert refunded_at_sim(own) == 2500


def test_one_key_for_an_order_refund_and_a_slip_refund(key):
    order, own, first = one_held()
    k1, k2 = uuid.uuid4().hex, uuid.uuid4().hex
    # The order's key, then a slip refund with it: another request, nothing written.
    st, body, raw, _ = refund_order(key, order["id"], idem=k1)
    assert st == 200, raw
    st, body, raw, _ = refund_slip(key, first, idem=k1)
    assert st == 409 and body["errCode"] == "e.www.api.idempotency_mismatch", raw
    assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % first)) == 0
    # The slip's key, then the order with it.
    st, body, raw, _ = refund_slip(key, first, idem=k2)
    assert st == 200, raw
    st, body, raw, _ = refund_order(key, order["id"], idem=k2)
    assert st == 409 and body["errCode"] == "e.www.api.idempotency_mismatch", raw
    assert int(psql("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order["id"])) == 2
    assert refunded_at_sim(own) == 2500 and refunded_at_sim(first) == 2500


def test_a_slip_refund_racing_an_order_refund_and_the_cli(key):
    order, own, first = one_held()

    def one(i):
        if i % 3 == 0:
            return ("slip", refund_slip(key, first, "race %d" % i)[0])
        if i % 3 == 1:
            return ("order", refund_order(key, order["id"], "race %d" % i)[0])
        return ("cli", cli("refund", "--slip", first, "--reason", "race %d" % i, check=False).returncode)

    with ThreadPoolExecutor(9) as ex:
        results = list(ex.map(one, range(9)))
    assert ("slip", 200) in results or ("cli", 0) in results, results
    assert ("order", 200) in results, results
    for s in (own, first):
        assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s' AND st <> 'FAIL'" % s)) == 1, s
    assert wait_for(lambda: psql("SELECT count(*) FROM refunds WHERE order_id = '%s' AND st = 'OK'"
                                 % order["id"]) == "2", 20)
    assert refunded_at_sim(own) == 2500 and refunded_at_sim(first) == 2500
    assert wait_state(order["id"], "RF", timeout=20)["or_st"] == "RF"
    assert violations(order["id"], own, first) == []


def test_bodies_at_the_edges(key):
    order, own, first = one_held()
    k = uuid.uuid4().hex
    raws = [
        ('{"slip":"%s","slip":"%s","reason":"r","idempotency_key":"%s"}' % (first, own, k), 400),
        ('{"slip":["%s"],"reason":"r","idempotency_key":"%s"}' % (first, k), 400),
        ('{"slip":{"id":"%s"},"reason":"r","idempotency_key":"%s"}' % (first, k), 400),
        ('{"slip":true,"reason":"r","idempotency_key":"%s"}' % k, 400),
        ('{"slip":null,"reason":"r","idempotency_key":"%s"}' % k, 400),
        ('{"slip":"%s\\u0000","reason":"r","idempotency_key":"%s"}' % (first, k), 400),
        ('{"slip":"%s ","reason":"r","idempotency_key":"%s"}' % (first, k), 404),
        ('{"slip":"%s","reason":"r","idempotency_key":"%s"}' % (first.upper(), k), 404),
        ('{"slip":"%s","reason":"r","idempotency_key":"%s"}' % ("a" * 3000, k), 404),
        ('{"slip":"%s","order":"%s","reason":"r","idempotency_key":"%s"}' % (first, order["id"], k), 400),
        ('{"slip":"%s","order":null,"reason":"","idempotency_key":"%s"}' % (first, k), 400),
        ('["slip","%s"]' % first, 400),
        ('{"slip":"%s","reason":"r","idempotency_key":"%s"' % (first, k), 400),
    ]
    for raw_body, want in raws:
        st, body, raw, _ = admin("refund", key, raw=raw_body)
        assert st == want and body["ok"] is False, (raw_body[:120], raw)
    # Bytes that are not UTF-8, in the slip and in the reason; a body past its limit.
    for raw_body in [b'{"slip":"\xff\xfe","reason":"r","idempotency_key":"k1"}',
                     b'{"slip":"' + first.encode() + b'","reason":"\xc3\x28","idempotency_key":"k2"}',
                     b'{"slip":"' + first.encode() + b'","reason":"' + b"x" * 5000 + b'","idempotency_key":"k3"}']:
        st, body, raw, _ = admin("refund", key, raw=raw_body)
        assert st in (400, 413), raw
    assert int(psql("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order["id"])) == 0
    # An empty "order" is a missing one: the body is a slip refund.
    st, body, raw, _ = admin("refund", key, {"order": "", "slip": first, "reason": "r", "idempotency_key": k})
    assert st == 200 and body["data"]["refund"]["slip"] == first, raw
    assert refunded_at_sim(own) == 0


def test_the_buyers_views_never_carry_the_held_slips(key):
    order, own, first = one_held()
    st, body, raw, _ = refund_slip(key, first, "double payment")
    assert st == 200, raw
    st, body, raw, _ = check(order["id"])
    assert st == 200 and "refund_needed" not in body["data"], raw
    assert first.encode() not in raw, raw
    # pay/pay (the buyer's LoadOrder, which reads the operators' columns) does not either.
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "zfb.qrcode"})
    assert b"refund_needed" not in raw and first.encode() not in raw, raw


def test_nothing_left_of_an_order_whose_refund_is_still_with_the_provider_says_so(key):
    """admin/refund's "nothing is left" says "refunded" only when every refund that takes the
    payment is OK, "refunded or being refunded" while one is still with the provider. It judged
    that from the order's `refunded`, which also counts its held slips' refunds: with the double
    payment given back (OK), the order's own refund still PROCESSING was called refunded."""
    order, own, first = one_held()
    st, body, raw, _ = refund_slip(key, first, "double payment")
    assert st == 200 and body["data"]["refund"]["st"] == "OK", raw
    st, body, raw, _ = refund_order(key, order["id"], "[sim:timeout] slow")
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    st, body, raw, _ = refund_order(key, order["id"], "again")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert "(refunded or being refunded 25.00 of 25.00 CNY)" in body["msg"], raw
    cli("reconcile", "--min-age", "0")
    assert wait_state(order["id"], "RF", timeout=20)["or_st"] == "RF"
    st, body, raw, _ = refund_order(key, order["id"], "again")
    assert st == 409 and "(refunded 25.00 of 25.00 CNY)" in body["msg"], raw
    assert refunded_at_sim(own) == 2500 and refunded_at_sim(first) == 2500


def test_a_wechat_v3_late_payment_given_back_through_the_api():
    """WeChat v3: the held slip's refund names the slip and its WeChat transaction and asks its own
    total; a refund WeChat ends CLOSED frees the amount, and another key gives it back once."""
    from test_wx3_refund import V3, finish
    from test_wx3_refund import sim_refunded as wx3_refunded
    v3_key = cli("apikey", "issue", "--site", V3).stdout.strip()
    pid = "hhs3-" + uuid.uuid4().hex[:8]
    cli("product", "add", pid, "--site", V3, "--title", "late " + pid, "--price", "1.00", "--stock", "1")
    body = {"products": [{"id": pid, "amount": 1}], "pay_tp": "wx.qrcode"}
    status, reply, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=V3)
    assert status == 200, raw
    order = reply["data"]
    slip = order["pay_id"]
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    status, _, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=V3)  # the last one
    assert status == 200, raw
    sim_pay(slip, force="1")
    assert db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % slip) == ["OK", "t"]
    # The demo site's key does not reach it.
    st, body, raw, _ = refund_slip(cli("apikey", "issue", "--site", SITE).stdout.strip(), slip)
    assert st == 404, raw
    st, body, raw, _ = admin("refund", v3_key, {"slip": slip, "reason": "sold out", "idempotency_key": uuid.uuid4().hex},
                             site=V3)
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    rid = body["data"]["refund"]["id"]
    row = db_row("SELECT out_trade_no, transaction_id, refund, total FROM paysim.wx3_refunds "
                 "WHERE out_refund_no = '%s'" % rid)
    txn = psql("SELECT provider_txn_id FROM pay_slips WHERE id = '%s'" % slip)
    assert row == [slip, txn, "100", "100"], row
    assert finish(rid, status="CLOSED") == [204]
    assert psql("SELECT st FROM refunds WHERE id = '%s'" % rid) == "FAIL"
    st, body, raw, _ = admin("order", v3_key, method="GET", params="?id=" + order["id"], site=V3)
    h = held(body["data"])[slip]
    assert h["refunded"] == 0 and [r["st"] for r in h["refunds"]] == ["FAIL"], h
    st, body, raw, _ = admin("refund", v3_key, {"slip": slip, "reason": "sold out", "idempotency_key": uuid.uuid4().hex},
                             site=V3)
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    assert finish(body["data"]["refund"]["id"]) == [204]
    assert wx3_refunded(slip) == 100
    st, body, raw, _ = admin("refund", v3_key, {"slip": slip, "reason": "sold out", "idempotency_key": uuid.uuid4().hex},
                             site=V3)
    assert st == 409 and "(refunded 1.00 of 1.00 CNY)" in body["msg"], raw
    assert violations(order["id"], slip) == []


def test_one_key_sent_at_once_for_the_order_and_its_held_slip(key):
    """The two refunds lock different slips, so neither sees the other's key under its lock: the
    key's unique index decides, one refund is opened and the other call is a key mismatch."""
    for _ in range(3):
        order, own, first = one_held()
        idem = uuid.uuid4().hex
        calls = [lambda: refund_slip(key, first, idem=idem), lambda: refund_order(key, order["id"], idem=idem)]
        with ThreadPoolExecutor(2) as ex:
            replies = list(ex.map(lambda f: f(), calls))
        codes = sorted((st, b["errCode"] if not b["ok"] else "") for st, b, _, _ in replies)
        assert codes == [(200, ""), (409, "e.www.api.idempotency_mismatch")], [r[2] for r in replies]
        assert psql("SELECT count(*) FROM refunds WHERE site_id = '%s' AND idempotency_key = '%s'" % (SITE, idem)) == "1"
        assert refunded_at_sim(own) + refunded_at_sim(first) == 2500


def test_a_superseded_unpaid_slip_holds_nothing(key):
    order = buy_ok("zfb.qrcode")
    old = order["pay_id"]
    own = switch(order["id"], "wx.qrcode")
    sim_pay(own)
    assert wait_state(order["id"], "OK", timeout=20)["or_st"] == "OK"
    st, body, raw, _ = refund_slip(key, old)
    assert st == 409 and body["errCode"] == "e.www.refund.not_paid", raw
    assert body["data"]["order"]["id"] == order["id"] and body["data"]["order"]["refund_needed"] == [], raw
    st, body, raw, _ = refund_slip(key, own)
    assert st == 400 and "pays order %s (OK)" % order["id"] in body["msg"], raw
    assert psql("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order["id"]) == "0"
