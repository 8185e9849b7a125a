"""WeChat Pay API v3 refunds end to end on site demo-v3 (a v3 merchant in public-key mode):
a paid order refunded in part through the operator API (PROCESSING, as WeChat's refunds are,
until the REFUND.SUCCESS notification), then the rest -> fully refunded; 20 concurrent copies of
the notification recorded once; 10 concurrent partial refunds, only the ones that fit, WeChat's
total equal to orderpay's; every envelope tamper refused with nothing changed; an unknown
outcome resolved by reconcile's query; WeChat's refusal -> FAIL, an ABNORMAL refund kept PROCESSING
and counted until redirected; a late
payment (refund_needed) given back with `orderpay refund --slip`, then no longer listed."""

import json
import secrets

import pytest
from conftest import STACK, api, cli, http, sim
from helpers import db_row, inbox, sim_pay

V3 = STACK.get("DEMO_V3_SITE", "demo-v3")

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", V3).stdout.strip()


def paid_order(amount=2):
    body = {"products": [{"id": STACK["DEMO_PRODUCT"], "amount": amount}], "pay_tp": "wx.qrcode"}
    status, reply, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=V3)
    assert status == 200, raw
    order = reply["data"]
    sim_pay(order["pay_id"])
    status, reply, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]}, site=V3)
    assert status == 200 and reply["data"]["or_st"] == "OK", raw
    return reply["data"]


def refund(key, order_id, reason="damaged", amount=None):
    body = {"order": order_id, "reason": reason, "idempotency_key": secrets.token_hex(8)}
    if amount is not None:
        body["amount"] = amount
    return http("POST", "%s/api/%s/admin/refund" % (STACK["ORDERPAY_URL"], V3), json.dumps(body).encode(),
                {"Authorization": "Bearer " + key, "Content-Type": "application/json"})


def refund_ok(key, order_id, **kw):
    status, body, raw, _ = refund(key, order_id, **kw)
    assert status == 200, raw
    return body["data"]


def admin_order(key, order_id):
    status, body, raw, _ = http("GET", "%s/api/%s/admin/order?id=%s" % (STACK["ORDERPAY_URL"], V3, order_id),
                                headers={"Authorization": "Bearer " + key})
    assert status == 200, raw
    return body["data"]


def st(refund_id):
    return db_row("SELECT st FROM refunds WHERE id = '%s'" % refund_id)[0]


def at_wechat(refund_id):
    """paysim's view of our refund: (status, calls, queries, notify_count)."""
    return db_row("SELECT status, calls, queries, notify_count FROM paysim.wx3_refunds WHERE out_refund_no = '%s'"
                  % refund_id)


def finish(refund_id, status="SUCCESS", **form):
    form.update({"out_refund_no": refund_id, "provider": "wx", "status": status})
    code, body, raw, _ = sim("/sim/refund", form)
    assert code == 200, raw
    return [r["status"] for r in body["data"]["replies"]]


def sim_refunded(slip_id):
    status, body, raw, _ = sim("/sim/refunds", {"out_trade_no": slip_id, "provider": "wx"}, method="GET")
    assert status == 200, raw
    return body["data"]["refunded"]


def test_partial_refund_then_rest_fully_refunded(key):
    order = paid_order()  # 2 x demo-tea
    fee = order["fee"]
    first = refund_ok(key, order["id"], amount="0.50")
    rid = first["refund"]["id"]
    # WeChat accepted it: PROCESSING until its notification says SUCCESS.
    assert first["refund"]["st"] == "PROCESSING" and first["refund"]["provider_refund_id"], first
    assert at_wechat(rid)[:2] == ["PROCESSING", "1"]
    assert finish(rid) == [204]
    assert st(rid) == "OK"
    seen = admin_order(key, order["id"])
    assert seen["refunded"] == 0.5 and seen["or_st"] == "OK", seen
    rest = refund_ok(key, order["id"])
    assert rest["refund"]["st"] == "PROCESSING" and rest["refund"]["amount"] == round(fee - 0.5, 2), rest
    assert finish(rest["refund"]["id"]) == [204]
    seen = admin_order(key, order["id"])
    assert seen["or_st"] == "RF" and seen["refunded"] == fee, seen
    assert sim_refunded(order["pay_id"]) == round(fee * 100)


def test_twenty_concurrent_notifications_recorded_once(key):
    order = paid_order()
    rid = refund_ok(key, order["id"], amount="0.30")["refund"]["id"]
    replies = finish(rid, times=20)
    assert replies == [204] * 20, replies
    assert st(rid) == "OK"
    verdicts = [v for v, _ in inbox(order["pay_id"])]
    assert verdicts.count("settled") == 2, verdicts  # the payment, and the refund once
    assert admin_order(key, order["id"])["refunded"] == 0.3


@pytest.mark.parametrize("tamper", ["sign", "serial", "timestamp", "ciphertext", "aad", "amount_resigned", "appid"])
def test_tampered_notification_refused_and_changes_nothing(key, tamper):
    order = paid_order()
    rid = refund_ok(key, order["id"], amount="0.20")["refund"]["id"]
    replies = finish(rid, tamper=tamper)
    assert len(replies) == 1 and replies[0] in (400, 401), (tamper, replies)
    assert st(rid) == "PROCESSING"
    assert admin_order(key, order["id"])["refunded"] == 0
    # The genuine one still finishes it.
    assert finish(rid) == [204]
    assert st(rid) == "OK"


def test_unknown_outcome_resolved_by_reconcile_query(key):
    order = paid_order()
    data = refund_ok(key, order["id"], amount="0.40", reason="sim:unknown")
    rid = data["refund"]["id"]
    # WeChat refunded it but answered 500 SYSTEM_ERROR: unknown, PROCESSING.
    assert data["refund"]["st"] == "PROCESSING" and st(rid) == "PROCESSING"
    assert at_wechat(rid)[0] == "SUCCESS"
    out = cli("reconcile", "--min-age", "0").stdout
    assert "REFUNDING " + rid not in out, out
    assert st(rid) == "OK"
    status, calls, queries, _ = at_wechat(rid)
    assert status == "SUCCESS" and calls == "1" and int(queries) >= 1  # found by query, not asked again
    assert sim_refunded(order["pay_id"]) == 40


def test_wechat_refusal_fails_the_refund(key):
    order = paid_order()
    status, body, raw, _ = refund(key, order["id"], reason="sim:fail")
    assert status == 409 and body["errCode"] == "e.www.refund.failed", raw
    assert "NOT_ENOUGH" in body["msg"], raw
    assert st(body["data"]["refund"]["id"]) == "FAIL"
    assert at_wechat(body["data"]["refund"]["id"]) is None


def test_abnormal_refund_stays_counted_until_redirected_then_ok(key):
    """REFUND.ABNORMAL: the buyer's card refused it, but WeChat has taken the money from the
    merchant and holds it until the merchant redirects it. It was recorded FAIL, which freed the
    amount for a second refund of the same money. Now it stays PROCESSING, noted stuck, and its
    amount counted; reconcile's query keeps it so; once redirected, SUCCESS makes it OK."""
    order = paid_order()
    rid = refund_ok(key, order["id"])["refund"]["id"]  # everything
    assert finish(rid, status="ABNORMAL") == [204]  # acknowledged, so WeChat stops sending it
    assert st(rid) == "PROCESSING"
    note = db_row("SELECT note FROM refunds WHERE id = '%s'" % rid)[0]
    assert note.startswith("stuck at the provider"), note
    assert sim_refunded(order["pay_id"]) == 0  # nothing reached the buyer yet
    # Not one cent of it can be refunded again.
    status, body, raw, _ = refund(key, order["id"], amount="0.01")
    assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw
    # Reconcile's query finds it ABNORMAL still: kept, and listed as not resolved.
    out = cli("reconcile", "--min-age", "0").stdout
    assert st(rid) == "PROCESSING" and at_wechat(rid)[0] == "ABNORMAL", out
    assert admin_order(key, order["id"])["or_st"] == "OK"
    # The merchant redirects it (here: paysim, as the merchant platform would): SUCCESS, then RF.
    assert finish(rid, status="SUCCESS") == [204]
    assert st(rid) == "OK"
    assert admin_order(key, order["id"])["or_st"] == "RF"
    assert sim_refunded(order["pay_id"]) == round(order["fee"] * 100)


def test_abnormal_refund_found_by_reconcile_query_stays_processing(key):
    order = paid_order()
    rid = refund_ok(key, order["id"], amount="0.30")["refund"]["id"]
    assert finish(rid, status="ABNORMAL", times="0") == []  # no notification: only a query sees it
    cli("reconcile", "--min-age", "0")
    assert st(rid) == "PROCESSING"
    assert db_row("SELECT note FROM refunds WHERE id = '%s'" % rid)[0].startswith("stuck at the provider")
    # The rest of the order can still be refunded, that much and no more.
    rest = round(order["fee"] * 100) - 30
    status, body, raw, _ = refund(key, order["id"], amount="%.2f" % ((rest + 1) / 100))
    assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert refund_ok(key, order["id"], amount="%.2f" % (rest / 100))["refund"]["st"] == "PROCESSING"


def test_late_payment_refunded_with_refund_slip_and_no_longer_listed():
    """The buyer paid a v3 trade after its order expired and the last item was sold: the slip is
    kept paid and refund_needed; `orderpay refund --slip` gives it back through WeChat v3, and
    once WeChat says SUCCESS reconcile no longer lists it."""
    pid = "late3-" + secrets.token_hex(4)
    cli("product", "add", pid, "--site", V3, "--title", "late " + pid, "--price", "1.00", "--stock", "1")
    body = {"products": [{"id": pid, "amount": 1}], "pay_tp": "wx.qrcode"}
    status, reply, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=V3)
    assert status == 200, raw
    order = reply["data"]
    db_row("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s' RETURNING id" % order["id"])
    cli("expire", "--limit", "100000")
    status, _, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=V3)  # the last one
    assert status == 200, raw
    sim_pay(order["pay_id"], force="1")
    assert db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % order["pay_id"]) == ["OK", "t"]
    assert order["pay_id"] in cli("reconcile", "--min-age", "0").stdout
    cli("refund", "--slip", order["pay_id"], "--reason", "sold out")
    rid = db_row("SELECT id FROM refunds WHERE slip_id = '%s'" % order["pay_id"])[0]
    assert st(rid) == "PROCESSING"
    assert at_wechat(rid)[:2] == ["PROCESSING", "1"]
    assert finish(rid) == [204]
    assert st(rid) == "OK"
    assert order["pay_id"] not in cli("reconcile", "--min-age", "0").stdout
    assert sim_refunded(order["pay_id"]) == 100


def test_ten_concurrent_partial_refunds_only_the_ones_that_fit(key):
    from concurrent.futures import ThreadPoolExecutor
    order = paid_order()
    fee_fen = round(order["fee"] * 100)
    part = fee_fen // 4  # four fit, six do not
    amount = "%d.%02d" % (part // 100, part % 100)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: refund(key, order["id"], amount=amount), range(10)))
    ok = [b["data"]["refund"]["id"] for s, b, _, _ in results if s == 200]
    too_much = [b for s, b, _, _ in results if s == 409 and b["errCode"] == "e.www.refund.too_much"]
    assert len(ok) == 4 and len(too_much) == 6, [(s, r[:120]) for s, _, r, _ in results]
    for rid in ok:
        assert finish(rid) == [204]
    # What WeChat gave back is what orderpay recorded.
    assert sim_refunded(order["pay_id"]) == 4 * part
    assert round(admin_order(key, order["id"])["refunded"] * 100) == 4 * part
