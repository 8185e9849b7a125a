"""A held payment (a late payment of an expired order, a second payment of a paid one: refund_needed)
given back by the shop owner in the provider's own console, outside orderpay (helper-123's
held-money-list finding 3). Before, the console refund was kept as an OUTSIDE report and recorded
no money: the slip's `refunded` stayed 0, so its order stayed in admin/orders?refund_needed=1 and
`order list --refund-needed` for good, reconcile listed it REFUND with `orderpay refund --slip`,
and that refund was refused by the provider (nothing left to refund). Alipay's was cleared only
when a void mark happened to make reconcile ask.

Now such a refund, confirmed by the provider's own record of it (asked by its name, as reconcile
asks about ours), is recorded as the held slip's refund (requested_by `provider`), in the report's
transaction, once: the order counts nothing of a held payment, so its state, its own payment and
what it counts do not change, and nothing can be given back twice (orderpay_refund_open's cap, and
the provider refuses more than it holds). A refund of an ordinary (counted) payment is still only
reported (test_outside_refunds)."""

import json
import secrets
import time
import uuid

import pytest

from conftest import STACK, api, cli, psql
from helpers import admin, db_row, sim_pay, sim_trade
from test_hostile_notify import post_zfb_params, zfb_form
from test_outside_refunds import CASES, console_zfb, notify, refunded_at_provider
from test_paypal_refund import paid_paypal_order
from test_refund_needed_api import double_paid

SITES = {"wx": STACK["DEMO_SITE"], "zfb": STACK["DEMO_SITE"], "wx3": STACK.get("DEMO_V3_SITE"),
         "paypal": STACK.get("DEMO_USD_SITE")}
PAY_TP = {"wx": "wx.qrcode", "zfb": "zfb.qrcode", "wx3": "wx.qrcode"}
PROVIDERS = ["wx", "wx3", "zfb", "paypal"]
_KEYS = {}


def key_of(site):
    if site not in _KEYS:
        _KEYS[site] = cli("apikey", "issue", "--site", site).stdout.strip()
    return _KEYS[site]


def new_product(site, stock=True):
    pid = "hor-%d-%s" % (int(time.time() * 1000), uuid.uuid4().hex[:6])
    cli("product", "add", pid, "--site", site, "--title", "held " + pid, "--price", "3.00",
        *(["--stock", "1"] if stock else []))
    return pid


def buy(site, pid, pay_tp):
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=site,
                           json={"products": [{"id": pid, "amount": 1}], "pay_tp": pay_tp})
    assert st == 200, raw
    return body["data"]


def held_slip(prov):
    """A 3.00 order whose only payment is held: (site, order), the order FA, its pay_id the slip.
    WeChat and Alipay: it expired, its last unit was sold to someone else, then it was paid anyway
    (a real late payment). PayPal captures only for a live slip of a payable order, so no late
    PayPal payment can be made here: a paid PayPal order is made into one (its state and slip as a
    late payment leaves them; its product counts no stock), as test_paypal_chargeback does."""
    site = SITES[prov]
    if site is None:
        pytest.skip("no %s site" % prov)
    if prov == "paypal":
        order = paid_paypal_order(site=site, products=[{"id": new_product(site, stock=False), "amount": 1}])
        psql("UPDATE orders SET or_st = 'FA', fa_at = now(), stock_held = false WHERE id = '%s'" % order["id"])
        psql("UPDATE pay_slips SET refund_needed = true, note = 'paid after expiry and out of stock: refund "
             "needed' WHERE id = '%s'" % order["pay_id"])
    else:
        pid = new_product(site)
        order = buy(site, pid, PAY_TP[prov])
        psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
        cli("expire", "--limit", "100000")
        buy(site, pid, PAY_TP[prov])
        sim_pay(order["pay_id"], force="1")
    row = db_row("SELECT o.or_st, s.st, s.refund_needed FROM orders o JOIN pay_slips s ON s.id = o.pay_id "
                 "WHERE o.id = '%s'" % order["id"])
    assert row == ["FA", "OK", "t"], row
    return site, order


def order_of(site, order_id):
    st, body, raw, _ = admin("order", key_of(site), method="GET", params="?id=" + order_id, site=site)
    assert st == 200, raw
    return body["data"]


def cursor_before(order_id):
    us = psql("SELECT (extract(epoch from ct) * 1000000)::bigint FROM orders WHERE id = '%s'" % order_id)
    return "%d.%s" % (int(us) - 1, "0" * 26)


def listed_api(site, order_id):
    """Whether admin/orders?refund_needed=1 lists the order (walked from just before it)."""
    after = cursor_before(order_id)
    while True:
        st, body, raw, _ = admin("orders", key_of(site), method="GET",
                                 params="?refund_needed=1&limit=100&after=" + after, site=site)
        assert st == 200, raw
        if order_id in [o["id"] for o in body["data"]["orders"]]:
            return True
        if not body["data"]["next"]:
            return False
        after = body["data"]["next"]


def listed_cli(site, order_id):
    rows = json.loads(cli("order", "list", "--refund-needed", "--site", site, "--limit", "1000", "--json").stdout)
    return order_id in [r["id"] for r in rows]


def attention(slip):
    rec = json.loads(cli("reconcile", "--json", check=False).stdout)
    return [a for a in rec["attention"] if a["slip"] == slip]


def refunds_of(slip):
    return psql("SELECT st || '|' || amount || '|' || requested_by || '|' || reason FROM refunds WHERE slip_id = '%s' "
                "ORDER BY ct, id" % slip).splitlines()


def report_of(slip):
    return psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' AND verdict IN "
                "('ignored', 'duplicate') ORDER BY id" % slip).splitlines()


def audit_names(order):
    aud = json.loads(cli("audit", "--json", check=False).stdout)
    return [v for v in aud["violations"] if order["id"] in json.dumps(v) or order["pay_id"] in json.dumps(v)]


def refund_slip(site, slip, reason="held payment"):
    return admin("refund", key_of(site), {"slip": slip, "reason": reason, "idempotency_key": uuid.uuid4().hex},
                 site=site)


@pytest.mark.parametrize("prov", PROVIDERS)
def test_a_held_payment_given_back_in_the_console_is_recorded_and_leaves_the_list(prov):
    site, order = held_slip(prov)
    slip, fen = order["pay_id"], round(order["fee"] * 100)
    assert listed_api(site, order["id"]) and listed_cli(site, order["id"])
    rid = "console" + secrets.token_hex(6)
    CASES[prov][2](order, rid)  # the shop owner, in the provider's console
    assert refunded_at_provider(prov, slip) == fen
    assert notify(prov, order, rid) == [CASES[prov][3]]
    # The report is kept as for any payment, and says what it recorded.
    (report,) = report_of(slip)
    assert report.startswith("ignored|no refund of ours named %s" % rid), report
    assert ": a held payment, recorded as refund " in report, report
    # Recorded as the slip's refund, OK, the provider's: what the provider's record says went back.
    assert refunds_of(slip) == ["OK|%d|provider|given back at the provider, outside orderpay" % fen]
    # Off the list of money owed, in the API and the CLI; reconcile lists nothing.
    assert not listed_api(site, order["id"]) and not listed_cli(site, order["id"])
    assert attention(slip) == []
    # The order: its state and what it counts unchanged; its held slip shows the refund.
    seen = order_of(site, order["id"])
    assert seen["or_st"] == "FA" and seen["pay_id"] == slip, seen
    (h,) = seen["refund_needed"]
    assert h["slip"] == slip and h["refunded"] == h["amount"] == order["fee"], h
    assert [(r["st"], r["reason"]) for r in h["refunds"]] == [("OK", "given back at the provider, outside orderpay")]
    # Nothing is offered again: refused before anything is sent, nothing more goes back.
    st, body, raw, _ = refund_slip(site, slip)
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert "nothing is left to refund of this payment" in body["msg"], raw
    res = cli("refund", "--slip", slip, "--reason", "held", check=False)
    assert res.returncode != 0, (res.stdout, res.stderr)
    assert refunded_at_provider(prov, slip) == fen
    assert len(refunds_of(slip)) == 1
    # Told again (the provider resends): no second refund, no second report.
    assert notify(prov, order, rid) == [CASES[prov][3]]
    assert len(refunds_of(slip)) == 1
    assert [r.split("|")[0] for r in report_of(slip)] == ["ignored", "duplicate"], report_of(slip)
    assert audit_names(order) == []


def test_a_double_payment_given_back_in_the_wechat_console_leaves_the_cli_list():
    """helper-123's own case: the order is OK through its Alipay slip; its first WeChat code was
    paid too (held), then given back from WeChat's console."""
    site = STACK["DEMO_SITE"]
    order, first = double_paid()
    assert listed_cli(site, order["id"]) and [a["kind"] for a in attention(first)] == ["REFUND"]
    rid = "console" + secrets.token_hex(6)
    CASES["wx"][2](dict(order, pay_id=first), rid)
    assert notify("wx", dict(order, pay_id=first), rid) == [CASES["wx"][3]]
    assert not listed_cli(site, order["id"]) and not listed_api(site, order["id"])
    assert attention(first) == []
    seen = order_of(site, order["id"])
    # The order's own payment is untouched: still OK, nothing of its own refunded.
    assert seen["or_st"] == "OK" and seen["pay_id"] != first, seen
    assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % seen["pay_id"]) == "0"
    assert [(h["slip"], h["refunded"]) for h in seen["refund_needed"]] == [(first, 25.0)], seen
    text = cli("order", "list", "--refund-needed", "--site", site, "--limit", "1000").stdout
    assert order["id"] not in text


def test_a_part_given_back_in_the_console_is_recorded_and_the_rest_is_refunded_through_orderpay():
    site, order = held_slip("zfb")
    slip = order["pay_id"]
    rid = "console" + secrets.token_hex(6)
    console_zfb(order, rid, "1.00")
    assert notify("zfb", order, rid) == [(200, "success")]
    assert refunds_of(slip) == ["OK|100|provider|given back at the provider, outside orderpay"]
    # 2.00 is still owed: listed, and reconcile offers the rest.
    assert listed_api(site, order["id"]) and listed_cli(site, order["id"])
    (a,) = attention(slip)
    assert a["kind"] == "REFUND" and a["refunded_minor"] == 100, a
    text = cli("reconcile", check=False).stdout
    assert "(it refunds the 200 CNY left)" in text.split(slip, 1)[1].split("\n")[1], text
    # `refund --slip` (all that is left) fits what Alipay still holds, and the order leaves.
    st, body, raw, _ = refund_slip(site, slip)
    assert st == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["refund"]["amount"] == 2.0, raw
    assert refunded_at_provider("zfb", slip) == 300
    assert not listed_api(site, order["id"]) and attention(slip) == []
    assert audit_names(order) == []


def test_a_refund_notification_the_providers_record_does_not_bear_out_records_nothing():
    """A refund message signed with Alipay's key naming a refund Alipay's record does not have
    (none was made): reported as before, nothing recorded, the slip still owed and listed."""
    site, order = held_slip("zfb")
    slip = order["pay_id"]
    txn = psql("SELECT provider_txn_id FROM pay_slips WHERE id = '%s'" % slip)
    rid = "console" + secrets.token_hex(6)
    params = zfb_form(slip, "3.00", trade_status="TRADE_CLOSED", trade_no=txn, out_biz_no=rid,
                      refund_fee="3.00", gmt_refund="2026-12-01 12:00:01.000")
    st, text = post_zfb_params(params)
    assert st == 200 and text == "success", text
    (report,) = report_of(slip)
    assert report.startswith("ignored|no refund of ours named %s: a held payment, not recorded: the provider's "
                             "record says " % rid), report
    assert refunds_of(slip) == []
    assert listed_api(site, order["id"]) and [a["kind"] for a in attention(slip)] == ["REFUND"]
    # Alipay still holds it: giving it back through orderpay works.
    st, body, raw, _ = refund_slip(site, slip)
    assert st == 200 and body["data"]["refund"]["st"] == "OK", raw
    assert not listed_api(site, order["id"])


def test_a_console_refund_of_a_counted_payment_still_records_no_money():
    """The documented rule for the order's own payment is unchanged (test_outside_refunds)."""
    site = STACK["DEMO_SITE"]
    order = CASES["zfb"][1]()
    rid = "console" + secrets.token_hex(6)
    console_zfb(order, rid)
    assert notify("zfb", order, rid) == [(200, "success")]
    assert refunds_of(order["pay_id"]) == []
    assert report_of(order["pay_id"]) == ["ignored|no refund of ours named " + rid]
    assert order_of(site, order["id"])["or_st"] == "OK"


def test_a_held_payment_whose_record_cannot_be_read_now_is_asked_again_not_reported():
    """WeChat v3 answers the confirming query 401 (our request's signature refused: the merchant's
    key file swapped for another here): nothing is written but the row's `error`, and the refund is
    answered as a temporary failure, so WeChat sends it again. A report written then would have made
    every resend its duplicate and the held money never recorded. Replayed once the query works,
    it is recorded."""
    site, order = held_slip("wx3")
    slip = order["pay_id"]
    rid = "console" + secrets.token_hex(6)
    CASES["wx3"][2](order, rid)
    keys = psql("SELECT options->>'private_key_file' FROM merchants WHERE id = 'wx3-demo'")
    wrong = STACK["DEMO_ZFB_ALIPAY_PRIVATE_KEY"]
    psql("UPDATE merchants SET options = jsonb_set(options, '{private_key_file}', to_jsonb('%s'::text)) "
         "WHERE id = 'wx3-demo'" % wrong)
    try:
        replies = notify("wx3", order, rid)
    finally:
        psql("UPDATE merchants SET options = jsonb_set(options, '{private_key_file}', to_jsonb('%s'::text)) "
             "WHERE id = 'wx3-demo'" % keys)
    assert replies and replies[0][0] >= 500, replies
    rows = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' AND reason ~ '%s' "
                "ORDER BY id" % (slip, rid)).splitlines()
    assert rows and all(r.startswith("error|refund %s," % rid) for r in rows), rows
    assert "of a held payment; the query to confirm it failed: " in rows[0], rows
    assert report_of(slip) == [] and refunds_of(slip) == []
    cli("inbox", "replay", "--verdict", "error", "--older-than", "0s")
    assert refunds_of(slip) == ["OK|300|provider|given back at the provider, outside orderpay"]
    assert not listed_api(site, order["id"]) and attention(slip) == []


def test_a_late_payment_found_refunded_by_the_order_query_is_recorded_by_its_refunds_notification():
    """The late payment's own notification was lost and the owner gave it back in WeChat's console
    first: reconcile's query of the failed slip finds it paid, then refunded (REFUND), settles it
    held and writes the query's OUTSIDE report, which records no money. The console refund's own
    notification then was that report's duplicate, and the slip stayed owed for good; now it asks
    WeChat's record and records it, once."""
    site = STACK["DEMO_SITE"]
    pid = new_product(site)
    order = buy(site, pid, "wx.qrcode")
    slip = order["pay_id"]
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    buy(site, pid, "wx.qrcode")
    sim_pay(slip, force="1", times="0")  # paid after expiry; its notification never arrives
    rid = "console" + secrets.token_hex(6)
    CASES["wx"][2](order, rid)
    cli("reconcile", check=False)  # asks the failed slip: paid, then refunded
    assert db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % slip) == ["OK", "t"]
    (query,) = report_of(slip)
    assert query.startswith("ignored|no refund of ours named %s," % rid) and "found by the order query" in query
    assert refunds_of(slip) == [] and listed_api(site, order["id"])
    assert notify("wx", order, rid) == [CASES["wx"][3]]
    assert refunds_of(slip) == ["OK|300|provider|given back at the provider, outside orderpay"]
    rows = report_of(slip)
    assert len(rows) == 2 and rows[1].startswith("duplicate|refund %s," % rid), rows
    assert ": a held payment, recorded as refund " in rows[1], rows
    assert not listed_api(site, order["id"]) and not listed_cli(site, order["id"]) and attention(slip) == []
    # Told again: asked again, recorded before, nothing more.
    assert notify("wx", order, rid) == [CASES["wx"][3]]
    assert len(refunds_of(slip)) == 1
    assert audit_names(order) == []


@pytest.mark.parametrize("prov", ["zfb", "wx"])
def test_copies_of_a_held_payments_console_refund_at_once_record_it_once(prov):
    """paysim sends eight copies of the refund's notification at once (its deliveries overlap):
    one report, one refund, every copy acknowledged."""
    site, order = held_slip(prov)
    slip = order["pay_id"]
    rid = "console" + secrets.token_hex(6)
    CASES[prov][2](order, rid)
    assert notify(prov, order, rid, times="8") == [CASES[prov][3]] * 8
    assert refunds_of(slip) == ["OK|300|provider|given back at the provider, outside orderpay"]
    rows = report_of(slip)
    assert [r.split("|")[0] for r in rows].count("ignored") == 1 and len(rows) == 8, rows
    assert refunded_at_provider(prov, slip) == 300 and not listed_api(site, order["id"])
    assert audit_names(order) == []


def test_a_console_refund_while_a_refund_of_ours_is_in_flight_waits_for_it():
    """A refund of the held slip written by orderpay and never sent (its sender died) holds the
    money when the console refund's notification comes: that cannot be recorded beside it, and a
    report written then would make every later telling its duplicate, the slip owed for good once
    ours fails. It is answered as a temporary failure instead; reconcile sends ours, Alipay refuses
    it (nothing left), and the notification told again records the console's."""
    site, order = held_slip("zfb")
    slip = order["pay_id"]
    ours = "hor" + uuid.uuid4().hex[:20]
    psql("INSERT INTO refunds (id, order_id, slip_id, site_id, provider, merchant_id, amount, currency, reason, "
         "requested_by, ct, lm) SELECT '%s', order_id, id, site_id, provider, merchant_id, amount, currency, "
         "'held payment', 'cli', now() - interval '1 hour', now() - interval '1 hour' FROM pay_slips "
         "WHERE id = '%s'" % (ours, slip))
    rid = "console" + secrets.token_hex(6)
    console_zfb(order, rid)
    assert notify("zfb", order, rid) != [(200, "success")]
    rows = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' AND reason ~ '%s' "
                "ORDER BY id" % (slip, rid)).splitlines()
    assert rows and all(r.startswith("error|refund %s orderpay did not make, of a held payment, waits for a "
                                      "refund of ours in flight: not recorded: " % rid) for r in rows), rows
    assert report_of(slip) == [] and refunds_of(slip) == ["NEW|300|cli|held payment"]
    cli("reconcile", check=False)  # sends ours: Alipay holds nothing, refuses it
    assert psql("SELECT st FROM refunds WHERE id = '%s'" % ours) == "FAIL"
    cli("inbox", "replay", "--verdict", "error", "--older-than", "0s")
    assert refunds_of(slip) == ["FAIL|300|cli|held payment",
                                "OK|300|provider|given back at the provider, outside orderpay"]
    assert not listed_api(site, order["id"]) and attention(slip) == []
    assert sim_trade(slip)["refund_fee"] == 300
    assert audit_names(order) == []
