"""A payment whose notification was lost, refunded at the provider (the shop owner in its console)
before orderpay recorded it: pay/check's order query answers "paid, then refunded" (WeChat v2 and
v3 trade_state REFUND, PayPal's capture PARTIALLY_REFUNDED). The order settles (the money did
arrive), and the refund orderpay did not make is recorded beside it: reconcile lists the slip
OUTSIDE with the amount the provider tells (WeChat v2's refundquery, PayPal's order) or "amount
unknown" (WeChat v3 lists no refunds by trade); audit stays clean; orderpay's own refund later is
not counted outside, and the console refund's late notification lists it once."""

import json
import re
import secrets

import pytest

from conftest import STACK, api, cli, psql
from helpers import sim_pay
from test_outside_refunds import CASES, console_wx3, key_of, notify
from test_paypal_refund import paypal_token, pp_refund
from test_refund import admin
from test_tls import secapi, signed_xml

SITES = {"wx": STACK["DEMO_SITE"], "wx3": STACK.get("DEMO_V3_SITE"), "zfb": STACK["DEMO_SITE"],
         "paypal": STACK.get("DEMO_USD_SITE")}
PAY_TP = {"wx": "wx.qrcode", "wx3": "wx.qrcode", "zfb": "zfb.qrcode", "paypal": "paypal"}
CUR = {"wx": "CNY", "wx3": "CNY", "paypal": "USD"}


def lost_payment(prov):
    """An order paid at the provider whose notification never came: (site, order), slip WAIT."""
    site = SITES[prov]
    if site is None:
        pytest.skip("no %s site" % prov)
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=site,
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 2}], "pay_tp": PAY_TP[prov]})
    assert st == 200, raw
    order = body["data"]
    sim_pay(order["pay_id"], times="0")  # paid (PayPal: approved and captured), nothing notified
    assert slip_row(order["pay_id"])[0] == "WAIT"
    return site, order


def slip_row(slip):
    return psql("SELECT s.st || '|' || o.or_st FROM pay_slips s JOIN orders o ON o.id = s.order_id "
                "WHERE s.id = '%s'" % slip).split("|")


def console_refund(prov, order, minor):
    """A refund of `minor` units made at the provider with the merchant's own credentials: its id."""
    rid = "console" + secrets.token_hex(6)
    fen, slip = round(order["fee"] * 100), order["pay_id"]
    url = psql("SELECT notify_url FROM paysim.trades WHERE out_trade_no = '%s'" % slip) if prov != "paypal" else ""
    if prov == "wx":
        st, text = secapi("/secapi/pay/refund", signed_xml({
            "out_trade_no": slip, "out_refund_no": rid, "total_fee": str(fen), "refund_fee": str(minor),
            "notify_url": url}), cert=(STACK["DEMO_WX_CLIENT_CERT"], STACK["DEMO_WX_CLIENT_KEY"]))
        assert st == 200 and "<result_code><![CDATA[SUCCESS]]>" in text, text
    elif prov == "wx3":
        console_wx3(order, rid, minor)
    else:
        capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % slip)
        st, _, raw, _ = pp_refund(capture, {"invoice_id": rid, "amount": {"value": "%.2f" % (minor / 100),
                                                                          "currency_code": "USD"}},
                                  rid, paypal_token())
        assert st == 201, raw
    return rid


def check(site, order):
    st, body, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]}, site=site)
    assert st == 200, raw
    return body["data"]


def attention(slip):
    rec = json.loads(cli("reconcile", "--json", check=False).stdout)
    return [a for a in rec["attention"] if a["slip"] == slip]


def audit_names(order):
    aud = json.loads(cli("audit", "--json", check=False).stdout)
    return [v for v in aud["violations"] if order["id"] in json.dumps(v) or order["pay_id"] in json.dumps(v)]


def outside_rows(slip):
    return psql("SELECT method || '|' || reason FROM notifications WHERE slip_id = '%s' AND verdict = 'ignored' "
                "AND reason ~ '^no refund of ours named ' ORDER BY id" % slip).splitlines()


def amount_text(prov, minor, fen):
    if prov == "wx3":
        return "refunded at the provider, amount unknown"
    if minor >= fen:
        return ": all %.2f %s refunded at the provider" % (fen / 100, CUR[prov])
    return ": %.2f of %.2f %s refunded at the provider" % (minor / 100, fen / 100, CUR[prov])


def refunded_then_checked(prov, part):
    """A lost payment refunded (`part` of it, or all) in the console, then pay/check."""
    site, order = lost_payment(prov)
    fen = round(order["fee"] * 100)
    minor = fen if part is None else part
    rid = console_refund(prov, order, minor)
    data = check(site, order)
    return site, order, rid, fen, minor, data


@pytest.mark.parametrize("prov,part", [("wx", 1000), ("wx", None), ("wx3", 100), ("wx3", None), ("paypal", 300)])
def test_paid_then_refunded_at_the_provider_settles_and_is_listed_outside(prov, part):
    site, order, rid, fen, minor, data = refunded_then_checked(prov, part)
    # The money did arrive: the order is paid, and orderpay's own refunds are none.
    assert data["or_st"] in ("OK", "DN") and data["refunded"] == 0, data
    assert slip_row(order["pay_id"])[0] == "OK"
    rows = outside_rows(order["pay_id"])
    assert len(rows) == 1 and rows[0].startswith("QUERY|no refund of ours named "), rows
    # Both of a refund's names (ours for it, the provider's), so a late notification naming either
    # finds the report; v3's answer names none.
    named = r"%s,[0-9A-Z]+" % rid if prov != "wx3" else r"\(unknown\)"
    assert re.match(r"QUERY\|no refund of ours named %s: found by the order query" % named, rows[0]), rows
    assert amount_text(prov, minor, fen) in rows[0], rows
    # The inbox shows it for what it is: no request brought it; its body is what the answer said.
    qid = psql("SELECT id FROM notifications WHERE slip_id = '%s' AND method = 'QUERY'" % order["pay_id"])
    shown = cli("inbox", "show", qid).stdout
    assert "route        none: orderpay's own order query" in shown and ", then refunded: " in shown, shown
    if prov != "wx3":
        assert "refund %s" % rid in shown, shown
    listed = attention(order["pay_id"])
    assert [a["kind"] for a in listed] == ["OUTSIDE"], listed
    assert amount_text(prov, minor, fen) in listed[0]["detail"], listed
    text = cli("reconcile", check=False).stdout.splitlines()
    at = [i for i, t in enumerate(text) if t.startswith("OUTSIDE ") and order["pay_id"] in t]
    assert len(at) == 1 and "do not ship" in text[at[0] + 1], text
    assert audit_names(order) == []
    # Asked again (a second poll, a reconcile): the slip is paid, nothing is recorded twice.
    check(site, order)
    cli("reconcile", "--min-age", "0", check=False)
    assert len(outside_rows(order["pay_id"])) == 1


@pytest.mark.parametrize("prov", ["wx", "wx3", "paypal"])
def test_own_refund_afterwards_is_not_outside_and_the_late_notification_lists_it_once(prov):
    site, order, rid, fen, minor, data = refunded_then_checked(prov, 100)
    assert data["or_st"] in ("OK", "DN")
    # The operator refunds part of what is left: orderpay's own refund, never an outside one.
    st, body, raw, _ = admin("POST", "refund", key_of(site), {
        "order": order["id"], "reason": "returned", "amount": "0.50",
        "idempotency_key": secrets.token_hex(8)}, site=site)
    assert st == 200, raw
    ours = body["data"]["refund"]["id"]
    if body["data"]["refund"]["st"] != "OK":  # WeChat: PROCESSING until its notification
        replies = notify(prov, order, ours)
        assert replies == [CASES[prov][3]], replies
    assert psql("SELECT st FROM refunds WHERE id = '%s'" % ours) == "OK"
    # The console refund's own notification, late: acknowledged, and a duplicate of the query's
    # record where that named it (v3's could not: it is then the one report naming the refund).
    assert notify(prov, order, rid) == [CASES[prov][3]]
    rows = outside_rows(order["pay_id"])
    if prov == "wx3":
        assert [r.split("|")[0] for r in rows] == ["QUERY", "POST"], rows
    else:
        assert len(rows) == 1 and rows[0].startswith("QUERY|"), rows
        last = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' ORDER BY id DESC "
                    "LIMIT 1" % order["pay_id"])
        # Asked nothing (a PayPal twin naming it would change nothing either): unconfirmed there.
        assert re.match(r"duplicate\|(unconfirmed: )?refund %s,[0-9A-Z]+ orderpay did not make, already reported "
                        r"\(inbox row " % rid, last), last
    # Listed once, OUTSIDE; orderpay's own refund counted as its own, not outside.
    listed = attention(order["pay_id"])
    assert [a["kind"] for a in listed] == ["OUTSIDE"] and listed[0]["refunded_minor"] == 50, listed
    assert ours not in listed[0]["detail"], listed
    assert audit_names(order) == []


def test_a_slip_paid_by_its_notification_is_never_listed_for_its_own_refunds():
    """The ordinary case: a paid order refunded by the operator; nothing asks the provider about a
    paid slip, and no OUTSIDE record is made of orderpay's own refund."""
    from test_wx_refund import paid_order
    order = paid_order()
    st, body, raw, _ = admin("POST", "refund", key_of(STACK["DEMO_SITE"]), {
        "order": order["id"], "reason": "returned", "amount": "1.00", "idempotency_key": secrets.token_hex(8)})
    assert st == 200, raw
    assert notify("wx", order, body["data"]["refund"]["id"]) == [CASES["wx"][3]]
    check(STACK["DEMO_SITE"], order)
    assert outside_rows(order["pay_id"]) == [] and attention(order["pay_id"]) == []


def test_expiry_that_finds_the_payment_refunded_settles_it_and_lists_it():
    """`orderpay expire` closes the slip of an order past its time: WeChat answers ORDERPAID, the
    query REFUND; the order is paid (not expired) and the console refund is listed OUTSIDE."""
    site, order = lost_payment("wx")
    rid = console_refund("wx", order, 500)
    psql("UPDATE orders SET expi = now() - interval '1 minute' WHERE id = '%s'" % order["id"])
    cli("expire")
    assert slip_row(order["pay_id"]) == ["OK", "OK"]
    rows = outside_rows(order["pay_id"])
    assert len(rows) == 1 and rows[0].startswith("QUERY|no refund of ours named %s," % rid), rows
    assert ": 5.00 of 25.00 CNY refunded at the provider" in rows[0], rows
    assert [a["kind"] for a in attention(order["pay_id"])] == ["OUTSIDE"]


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_capture_webhook_confirmed_on_a_partly_refunded_capture_settles_and_lists_it():
    """The late notification being confirmed: PayPal's PAYMENT.CAPTURE.COMPLETED is only a cue,
    and our query finds the capture PARTIALLY_REFUNDED: settled on that answer, the webhook's row
    says so, and the refund is recorded beside it, once."""
    from test_hostile_notify import paypal_webhook, post_paypal
    site, order = lost_payment("paypal")
    rid = console_refund("paypal", order, 250)
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % order["pay_id"])
    headers, body = paypal_webhook(order["pay_id"], "%.2f" % order["fee"], capture_id=capture)
    assert post_paypal(headers, body) == 200
    assert slip_row(order["pay_id"])[0] == "OK"
    settled = psql("SELECT reason FROM notifications WHERE slip_id = '%s' AND verdict = 'settled'" % order["pay_id"])
    assert settled.startswith("confirmed by query"), settled
    rows = outside_rows(order["pay_id"])
    assert len(rows) == 1 and rows[0].startswith("QUERY|no refund of ours named %s," % rid), rows
    assert ": 2.50 of %.2f USD refunded at the provider" % order["fee"] in rows[0], rows
    # Its resend: a duplicate of the payment, and nothing recorded again.
    assert post_paypal(headers, body) == 200
    assert len(outside_rows(order["pay_id"])) == 1
    assert [a["kind"] for a in attention(order["pay_id"])] == ["OUTSIDE"]


def test_concurrent_askers_record_the_refund_once():
    """pay/check polls and reconcile runs ask about the same slip at once: one of them settles it,
    and the refund is recorded in that settlement's transaction only, never by the others."""
    import threading
    site, order = lost_payment("wx")
    console_refund("wx", order, 700)
    errors = []

    def ask(i):
        try:
            if i % 2:
                cli("reconcile", "--min-age", "0", check=False)
            else:
                check(site, order)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check(site, order)
    assert slip_row(order["pay_id"]) == ["OK", "OK"]
    rows = outside_rows(order["pay_id"])
    assert len(rows) == 1 and ": 7.00 of 25.00 CNY refunded at the provider" in rows[0], rows
