"""What a PayPal return's reply says, and what strangers' PayPal messages leave in the inbox
(review s28b-attack #3, s28-diff #2). A buyer's return and its cancel are unsigned, so the reply's
`verified` is false for both, and its `trade_status` is what we found of the payment: a cancel on a
paid order said CANCELLED, and it never unpays or closes anything. A webhook about a paid slip that
asked PayPal nothing (a CRC32 twin of any genuine transmission, or PayPal's own resend) is recorded
`unconfirmed: ` and goes with the unverified rows after notify.keep_rejected_days, while the row
that settled the slip stays. Beyond those: a cancel racing the approval's return, a return for
another site's slip, and a twin naming another provider's slip."""

import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import STACK, cli, http
from helpers import buy_ok, db_row, sim_pay
from test_hostile_notify import forged_twin, paypal_webhook, post_paypal
from test_inbox_strangers import pp_token, pruned_after, reconcile_lines, rows_of
from test_paypal import approve, buy_paypal_ok, paypal_order

pytestmark = pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")

USD = STACK.get("DEMO_USD_SITE", "demo-usd")


def pp_return(order, cancel=False, site=USD):
    """The buyer's return (or cancel) for `order`'s PayPal order, answered as JSON."""
    url = "%s/api/%s/pay/re_paypal?token=%s&%s" % (STACK["ORDERPAY_URL"], site, pp_token(order),
                                                    "cancel=1" if cancel else "PayerID=BUYER1")
    return http("GET", url, headers={"Accept": "application/json"})


def slip_and_order(order):
    return db_row("SELECT s.st, o.or_st, coalesce(s.provider_txn_id, '') FROM pay_slips s "
                  "JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % order["pay_id"])


def audit_clean(*orders):
    found = json.loads(cli("audit", "--json", check=False).stdout)["violations"]
    ids = [i for o in orders for i in (o["id"], o["pay_id"])]
    assert [v for v in found if any(i in json.dumps(v) for i in ids)] == []


def paid_by_return():
    order = buy_paypal_ok()
    http("GET", approve(order["pay_re"]["re_obj"]))
    assert slip_and_order(order)[:2] == ["OK", "OK"]
    return order


def test_a_cancel_return_on_a_paid_order_says_it_is_paid_and_changes_nothing():
    order = paid_by_return()
    before = slip_and_order(order)
    for _ in range(2):  # the buyer's other tab, then a stranger with the URL
        status, body, raw, _ = pp_return(order, cancel=True)
        assert status == 200, raw
        assert body["data"]["trade_status"] == "COMPLETED", raw  # it said CANCELLED
        assert body["data"]["verified"] is False and body["data"]["order"]["or_st"] == "OK", raw
    assert slip_and_order(order) == before and before[2]
    assert paypal_order(order["pay_id"])[:2] == ["COMPLETED", "1"]
    rows = rows_of(order["pay_id"])
    assert [r[1] for r in rows] == ["settled", "ignored", "ignored"], rows
    assert rows[1][2] == "return: never settles: not a payment: CANCELLED (slip already paid)", rows
    # Without a return page's JSON, the browser is sent on as before.
    status, _, raw, headers = http("GET", "%s/api/%s/pay/re_paypal?token=%s&cancel=1"
                                   % (STACK["ORDERPAY_URL"], USD, pp_token(order)))
    assert status == 302 and headers["location"].endswith("order_id=" + order["id"]), raw
    assert slip_and_order(order) == before
    audit_clean(order)


def test_a_cancel_return_reports_an_open_slip_cancelled_and_a_superseded_one_closed():
    order = buy_paypal_ok()
    status, body, raw, _ = pp_return(order, cancel=True)
    assert status == 200 and body["data"]["trade_status"] == "CANCELLED", raw
    assert body["data"]["verified"] is False and body["data"]["order"]["or_st"] == "WT", raw
    old = dict(order)
    status, body, raw, _ = http("GET", "%s/api/%s/pay/pay?ticket=%s&id=%s&pt=paypal&force=true"
                                % (STACK["ORDERPAY_URL"], USD, STACK["DEMO_TICKET"], order["id"]))
    assert status == 200 and body["data"]["pay_id"] != old["pay_id"], raw
    before = slip_and_order(old)
    status, body, raw, _ = pp_return(old, cancel=True)
    assert status == 200 and body["data"]["trade_status"] == "CLOSED", raw  # takes no more money
    assert slip_and_order(old) == before and before[1] == "WT"
    assert rows_of(old["pay_id"])[-1][2].endswith("(slip %s takes no more money)" % old["pay_id"])


def test_an_approval_return_is_not_called_verified():
    order = buy_paypal_ok()
    back = approve(order["pay_re"]["re_obj"])
    status, body, raw, _ = http("GET", back, headers={"Accept": "application/json"})
    # Unsigned: what vouches for it is our capture, which trade_status reports.
    assert status == 200 and body["data"]["verified"] is False, raw
    assert body["data"]["trade_status"] == "COMPLETED" and body["data"]["order"]["or_st"] == "OK", raw


def test_a_cancel_racing_the_approval_return_never_unpays_and_says_nothing_false():
    orders = []
    for _ in range(4):
        order = buy_paypal_ok()
        orders.append(order)
        approve(order["pay_re"]["re_obj"])  # approved at PayPal; both tabs come back at once
        with ThreadPoolExecutor(max_workers=2) as pool:
            ret = pool.submit(pp_return, order)
            cancel = pool.submit(pp_return, order, True)
            (rs, rb, rraw, _), (cs, cb, craw, _) = ret.result(), cancel.result()
        assert rs == 200 and rb["data"]["trade_status"] == "COMPLETED", rraw
        assert cs == 200 and cb["data"]["trade_status"] in ("CANCELLED", "COMPLETED"), craw
        if cb["data"]["trade_status"] == "COMPLETED":
            assert cb["data"]["order"]["or_st"] == "OK", craw
        assert slip_and_order(order)[:2] == ["OK", "OK"]
        assert paypal_order(order["pay_id"])[:2] == ["COMPLETED", "1"]
        verdicts = sorted(r[1] for r in rows_of(order["pay_id"]))
        assert verdicts == ["ignored", "settled"], rows_of(order["pay_id"])
    audit_clean(*orders)


def test_a_return_for_another_sites_slip_is_refused_and_changes_nothing():
    paid, open_ = paid_by_return(), buy_paypal_ok()
    approve(open_["pay_re"]["re_obj"])  # approved: a return on its own site would capture it
    other = STACK["DEMO_SITE"]
    for order in (paid, open_):
        before = slip_and_order(order)
        for cancel in (True, False):
            status, body, raw, _ = pp_return(order, cancel=cancel, site=other)
            assert status == 400 and b"site check failed" in raw and order["id"].encode() not in raw, raw
        assert slip_and_order(order) == before
    assert paypal_order(open_["pay_id"]) == ["APPROVED", "0", "0"]
    strangers = [r for r in rows_of(open_["pay_id"])]
    assert len(strangers) == 2 and all(r[1] == "rejected" and r[2].startswith("unverified: site check failed")
                                       for r in strangers), strangers
    assert pruned_after([r[0] for r in strangers], 8) == set()


def twin_of(genuine, event_type, resource):
    return forged_twin(genuine, {"id": "WH-" + secrets.token_hex(10).upper(), "event_version": "1.0",
                                 "create_time": "2026-12-01T12:00:00Z", "event_type": event_type,
                                 "resource": resource, "links": []})


def capture_resource(slip, capture, value, status="COMPLETED"):
    return {"id": capture, "status": status, "amount": {"currency_code": "USD", "value": value},
            "custom_id": slip}


def test_webhooks_about_a_paid_slip_that_asked_nothing_go_with_the_unverified_rows():
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")  # any genuine transmission
    order = paid_by_return()
    slip, value = order["pay_id"], "%.2f" % order["fee"]
    capture = slip_and_order(order)[2]
    approval = {"id": pp_token(order), "status": "APPROVED", "intent": "CAPTURE",
                "purchase_units": [{"custom_id": slip, "amount": {"currency_code": "USD", "value": value}}]}
    twins = [twin_of(genuine, "CHECKOUT.ORDER.APPROVED", approval) for _ in range(3)]
    twins += [twin_of(genuine, "PAYMENT.CAPTURE.COMPLETED", capture_resource(slip, capture, value))
              for _ in range(3)]
    twins.append(twin_of(genuine, "PAYMENT.CAPTURE.DENIED", capture_resource(slip, capture, value, "DENIED")))
    assert [post_paypal(headers, t) for t in twins] == [200] * len(twins)
    # PayPal's own resend of the payment's event is no more proof than a twin: the settled row is.
    resend_headers, resend = paypal_webhook(slip, value, capture_id=capture)
    assert post_paypal(resend_headers, resend) == 200
    rows = rows_of(slip)
    settled, rest = rows[0], rows[1:]
    assert settled[1] == "settled" and len(rest) == len(twins) + 1, rows
    assert [r[1] for r in rest] == ["duplicate"] * 6 + ["ignored", "duplicate"], rows
    assert {r[2] for r in rest} == {"unconfirmed: slip already paid", "unconfirmed: slip already paid by " + capture,
                                    "unconfirmed: trade closed (slip no longer open)"}, rows
    assert slip_and_order(order)[:2] == ["OK", "OK"]
    # Nothing reconcile lists or audit checks rests on them: the same before and after they go.
    listed = reconcile_lines(slip)
    assert pruned_after([r[0] for r in rows], 8) == {settled[0]}
    assert reconcile_lines(slip) == listed
    audit_clean(order)


def test_a_twin_naming_another_providers_slip_is_refused_unverified_and_goes():
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    wx_paid, wx_open = buy_ok("wx.qrcode"), buy_ok("wx.qrcode")
    sim_pay(wx_paid["pay_id"])
    for order in (wx_paid, wx_open):
        slip, value = order["pay_id"], "%.2f" % order["fee"]
        before = slip_and_order(order)
        for site in (USD, STACK["DEMO_SITE"]):
            for kind, resource in (("PAYMENT.CAPTURE.COMPLETED", capture_resource(slip, "CAPW" + slip[-6:], value)),
                                   ("CHECKOUT.ORDER.APPROVED",
                                    {"id": "PPW" + slip[-6:], "status": "APPROVED",
                                     "purchase_units": [{"custom_id": slip,
                                                         "amount": {"currency_code": "USD", "value": value}}]})):
                assert post_paypal(headers, twin_of(genuine, kind, resource), site=site) == 400
        assert slip_and_order(order) == before
        strangers = [r for r in rows_of(slip) if r[1] == "rejected"]
        assert len(strangers) == 4 and all(r[2].startswith("unverified: provider mismatch: slip %s was issued by wx"
                                                           % slip) for r in strangers), rows_of(slip)
        assert pruned_after([r[0] for r in strangers], 8) == set()
