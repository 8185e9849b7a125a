"""A verified payment its order does not count (refund_needed: a late payment of an expired order,
a second payment of an order paid through another slip) seen and given back through the operator
API. Before, only the CLI reached it: admin/order never showed it, and admin/refund of its order
was 409 not_paid (an unpaid order) or refunded the order's own payment instead, so a shop whose
operators work from a back office held the buyer's money with no way to see or return it.

admin/order (and every answer carrying the order as it does) lists the order's refund_needed
slips; admin/refund takes {"slip": ...} and gives such a slip back in full through the same
refund flow as `orderpay refund --slip`."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import STACK, cli, psql
from helpers import admin, buy_ok, check, db_row, paid_through_another_slip, sim_pay, sim_refunded, wait_for
from test_hostile_admin import OTHER_SITE, key, other_key  # noqa: F401 (key, other_key: fixtures)

SITE = STACK["DEMO_SITE"]


def refund_slip(key, slip, reason="held payment", idem=None, site=None, **extra):
    body = {"slip": slip, "reason": reason, "idempotency_key": idem or uuid.uuid4().hex}
    body.update(extra)
    return admin("refund", key, body, site=site)


def order_of(key, order_id):
    st, body, raw, _ = admin("order", key, method="GET", params="?id=" + order_id)
    assert st == 200, raw
    return body["data"]


def late_paid(price="3.00"):
    """A zfb.qrcode order that expired, whose last unit someone else bought, then paid anyway:
    FA with an OK refund_needed slip (its pay_id)."""
    pid = "rna-late-%d-%s" % (int(time.time() * 1000), uuid.uuid4().hex[:6])
    cli("product", "add", pid, "--site", SITE, "--title", "late " + pid, "--price", price, "--stock", "1")
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    sim_pay(order["pay_id"], force="1")
    row = db_row("SELECT o.or_st, s.st, s.refund_needed FROM orders o JOIN pay_slips s ON s.id = o.pay_id "
                 "WHERE o.id = '%s'" % order["id"])
    assert row == ["FA", "OK", "t"], row
    return order


def double_paid():
    """A 25.00 CNY order paid through zfb.qrcode after its first WeChat code, which the buyer then
    pays too: (order, the WeChat slip, OK and refund_needed)."""
    order, first = paid_through_another_slip()
    sim_pay(first, force="1")
    assert wait_for(lambda: db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % first)
                    == ["OK", "t"], 20)
    return order, first


def held(order):
    return {h["slip"]: h for h in order["refund_needed"]}


def test_a_late_payment_is_shown_and_given_back_through_the_api(key):
    order = late_paid()
    slip = order["pay_id"]
    seen = order_of(key, order["id"])
    assert seen["or_st"] == "FA"
    h = held(seen)[slip]
    assert h["pay_tp"] == "zfb.qrcode" and h["provider"] == "zfb" and h["amount"] == 3.0, h
    assert isinstance(h["paid_at"], int) and h["refunded"] == 0 and h["refunds"] == [], h
    # The order alone is still not refunded (nothing of it is paid).
    st, body, raw, _ = admin("refund", key, {"order": order["id"], "reason": "r", "idempotency_key": uuid.uuid4().hex})
    assert st == 409 and body["errCode"] == "e.www.refund.not_paid", raw

    idem = uuid.uuid4().hex
    st, body, raw, _ = refund_slip(key, slip, "sold out after expiry", idem=idem)
    assert st == 200, raw
    r, o = body["data"]["refund"], body["data"]["order"]
    assert r["st"] == "OK" and r["amount"] == 3.0 and r["slip"] == slip and r["replay"] is False, r
    assert r["requested_by"].startswith("api:"), r
    h = held(o)[slip]
    assert h["refunded"] == 3.0 and [x["id"] for x in h["refunds"]] == [r["id"]], h
    assert h["refunds"][0]["st"] == "OK" and h["refunds"][0]["amount"] == 3.0, h
    assert sim_refunded(slip) == 300
    assert slip not in cli("reconcile").stdout
    # The key replays that refund; nothing more is sent.
    st, body, raw, _ = refund_slip(key, slip, "sold out after expiry", idem=idem)
    assert st == 200 and body["data"]["refund"]["id"] == r["id"] and body["data"]["refund"]["replay"] is True, raw
    # Another key: nothing is left.
    st, body, raw, _ = refund_slip(key, slip, "again")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert "nothing is left to refund of this payment (refunded 3.00 of 3.00 CNY)" in body["msg"], raw
    # The same key for the order is another request.
    st, body, raw, _ = admin("refund", key, {"order": order["id"], "reason": "r", "idempotency_key": idem})
    assert st == 409 and body["errCode"] == "e.www.refund.not_paid", raw
    assert sim_refunded(slip) == 300
    assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip)) == 1


def test_a_double_payment_is_given_back_and_the_orders_own_payment_is_untouched(key):
    order, first = double_paid()
    seen = order_of(key, order["id"])
    own = seen["pay_id"]
    assert seen["or_st"] == "OK" and own != first, seen
    assert list(held(seen)) == [first] and held(seen)[first]["provider"] == "wx", seen
    assert held(seen)[first]["amount"] == 25.0 and held(seen)[first]["pay_tp"] == "wx.qrcode", seen
    # The same list in admin/orders: a page starting just before this order (the cursor is
    # "<ct in microseconds>.<id>"), and every order of it carries the list.
    ct_us = int(psql("SELECT (extract(epoch FROM ct) * 1000000)::bigint FROM orders WHERE id = '%s'" % order["id"]))
    st, body, raw, _ = admin("orders", key, method="GET", params="?state=OK&limit=20&after=%d.0" % (ct_us - 1))
    assert st == 200, raw
    page = {o["id"]: o for o in body["data"]["orders"]}
    assert all(isinstance(o["refund_needed"], list) for o in page.values()), page
    assert page[order["id"]]["refund_needed"] == seen["refund_needed"], page[order["id"]]
    idem = uuid.uuid4().hex
    st, body, raw, _ = refund_slip(key, first, "double payment", idem=idem)
    assert st == 200, raw
    r = body["data"]["refund"]
    assert r["slip"] == first and r["amount"] == 25.0 and r["st"] in ("OK", "PROCESSING"), r
    assert body["data"]["order"]["or_st"] == "OK" and body["data"]["order"]["pay_id"] == own
    assert [x["id"] for x in held(body["data"]["order"])[first]["refunds"]] == [r["id"]]
    assert sim_refunded(own) == 0
    assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % own)) == 0
    # The order's own slip is refused by "slip", as `refund --slip` refuses it; nothing written.
    st, body, raw, _ = refund_slip(key, own, "typo")
    assert st == 400 and body["errCode"] == "e.www.order.invalid.field", raw
    assert "slip %s pays order %s (OK): refund the order" % (own, order["id"]) in body["msg"], raw
    assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % own)) == 0 and sim_refunded(own) == 0
    st, body, raw, _ = refund_slip(key, first, "double payment", idem=idem)
    assert st == 200 and body["data"]["refund"]["id"] == r["id"] and body["data"]["refund"]["replay"] is True, raw
    assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % first)) == 1
    # admin/ship answers the order as admin/order does: the held payment with it.
    st, body, raw, _ = admin("ship", key, {"order": order["id"]})
    assert st == 200 and body["data"]["or_st"] == "SP", raw
    assert [h["slip"] for h in body["data"]["refund_needed"]] == [first], raw
    assert held(body["data"])[first]["refunds"][0]["id"] == r["id"], raw


def test_an_order_with_nothing_held_shows_an_empty_list(key):
    order = buy_ok("zfb.scan", auth_code="280000000000000002")
    assert order_of(key, order["id"])["refund_needed"] == []
    # The buyer's own view does not carry it.
    assert "refund_needed" not in check(order["id"])[1]["data"]


def test_slips_that_are_not_refund_needed_other_sites_and_unknown_ones(key, other_key):
    order = buy_ok("zfb.qrcode")  # WAIT: nothing paid
    st, body, raw, _ = refund_slip(key, order["pay_id"])
    assert st == 409 and body["errCode"] == "e.www.refund.not_paid", raw
    assert "slip %s is WAIT" % order["pay_id"] in body["msg"], raw
    late = late_paid()
    # Another site's key: the slip does not exist there, as another site's order does not.
    st, body, raw, _ = refund_slip(other_key, late["pay_id"], site=OTHER_SITE)
    assert st == 404 and body["errCode"] == "e.io.obj.noexists", raw
    for bogus in ["0" * 32, "nosuchslip", "x" * 33, "UPPER", "a b", "../x"]:
        st, body, raw, _ = refund_slip(key, bogus)
        assert st == 404 and body["errCode"] == "e.io.obj.noexists", (bogus, raw)
    assert int(psql("SELECT count(*) FROM refunds WHERE slip_id IN ('%s', '%s')"
                    % (order["pay_id"], late["pay_id"]))) == 0


def test_bodies_with_slip_that_are_refused(key):
    late = late_paid()
    slip = late["pay_id"]
    k = uuid.uuid4().hex
    cases = [
        ({"order": late["id"], "slip": slip, "reason": "r", "idempotency_key": k}, 400, "e.www.order.invalid.field"),
        ({"reason": "r", "idempotency_key": k}, 400, "e.www.order.nil.id"),
        ({"slip": "", "reason": "r", "idempotency_key": k}, 400, "e.www.order.nil.id"),
        ({"slip": 7, "reason": "r", "idempotency_key": k}, 400, "e.www.order.invalid.field"),
        ({"slip": slip, "amount": "1.00", "reason": "r", "idempotency_key": k}, 400, "e.www.refund.invalid.amount"),
        ({"slip": slip, "amount": None, "reason": "r", "idempotency_key": k}, 400, "e.www.refund.invalid.amount"),
        ({"slip": slip, "amount": 3, "reason": "r", "idempotency_key": k}, 400, "e.www.refund.invalid.amount"),
        ({"slip": slip, "reason": "r", "idempotency_key": k, "slips": [slip]}, 400, "e.www.order.invalid.field"),
        ({"slip": slip, "reason": "x" * 81, "idempotency_key": k}, 400, "e.www.refund.invalid.reason"),
        ({"slip": slip, "reason": "r", "idempotency_key": "k" * 129}, 400, "e.www.order.invalid.field"),
        ({"slip": slip, "reason": "r"}, 400, "e.www.order.invalid.field"),
    ]
    for body, want_st, want_code in cases:
        st, reply, raw, _ = admin("refund", key, body)
        assert st == want_st and reply["errCode"] == want_code, (body, raw)
    assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip)) == 0
    # At the limits: an 80-character reason and a 128-character key are taken.
    st, reply, raw, _ = refund_slip(key, slip, reason="é" * 80, idem=uuid.uuid4().hex * 4)
    assert st == 200 and reply["data"]["refund"]["reason"] == "é" * 80, raw
    assert sim_refunded(slip) == 300


def test_two_refunds_of_one_slip_at_once_refund_it_once(key):
    for same_key in (False, True):
        late = late_paid()
        slip = late["pay_id"]
        idem = uuid.uuid4().hex

        def one(_):
            return refund_slip(key, slip, "at once", idem=idem if same_key else None)

        with ThreadPoolExecutor(6) as ex:
            replies = list(ex.map(one, range(6)))
        ok = [b for st, b, _, _ in replies if st == 200]
        assert ok, replies
        ids = {b["data"]["refund"]["id"] for b in ok}
        assert len(ids) == 1, replies
        if same_key:  # the key's one refund, answered to all
            assert [st for st, _, _, _ in replies] == [200] * 6, [r[2] for r in replies]
        else:  # the slip's row lock: one fits, the others find nothing left
            codes = sorted((st, b["errCode"] if not b["ok"] else "") for st, b, _, _ in replies)
            assert codes == [(200, "")] + [(409, "e.www.refund.too_much")] * 5, codes
        assert int(psql("SELECT count(*) FROM refunds WHERE slip_id = '%s' AND st <> 'FAIL'" % slip)) == 1
        assert sim_refunded(slip) == 300
