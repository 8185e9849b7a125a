"""What follows a recorded PayPal chargeback (test_paypal_chargeback.py records one): a refund of
the payment is refused before anything is written or sent (it was opened, sent to PayPal, refused
there and FAIL); the order says it was charged back in every view, admin/order, admin/orders,
`order show` and `order list`, after reconcile's week too (they said nothing); and the operator
can end it, `order done ORDER --charged-back`, OK or SP -> DN without a shipment made up, which
`orderpay audit` accepts (it stayed OK, unshippable, in admin/orders?state=OK for good)."""

import json
import re
import secrets

import pytest

from conftest import STACK, cli, psql
from test_paypal_chargeback import (ACCESS_LOG, SITE, admin_order, attention, audit_clean, key, reversal, ship)
from test_hostile_notify import _reverse, post_paypal
from test_paypal_refund import capture_of, paid_paypal_order
from test_refund import admin

pytestmark = pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")

AGED = ("UPDATE notifications SET ct = ct %s interval '8 days' WHERE slip_id = '%s' AND verdict = 'ignored' "
        "AND reason LIKE 'no refund of ours named %%%%: chargeback: %%%%'")


def charged_back(order=None):
    """A paid PayPal order whose payment PayPal took back, the chargeback recorded."""
    order = order or paid_paypal_order(site=SITE)
    _reverse(order, capture_of(order["pay_id"]))
    assert post_paypal(*reversal(order)) == 200
    assert [a["kind"] for a in attention(order["pay_id"])] == ["CHARGEBACK"]
    return order


def refund_posts(slip):
    """Our refund requests for the slip's capture that reached paysim (nginx's access log)."""
    needle = '"POST /v2/payments/captures/%s/refund ' % capture_of(slip)
    with open(ACCESS_LOG, errors="replace") as f:
        return sum(1 for line in f if needle in line)


def refund_rows(slip):
    return [r for r in psql("SELECT id || ' ' || st FROM refunds WHERE slip_id = '%s' ORDER BY ct" % slip)
            .splitlines() if r]


def api_refund(order_id, amount=None, idem=None):
    body = {"order": order_id, "reason": "returned", "idempotency_key": idem or secrets.token_hex(8)}
    if amount is not None:
        body["amount"] = amount
    st, reply, raw, _ = admin("POST", "refund", key(), body, site=SITE)
    return st, reply


def orders_page(state):
    out, after = [], None
    while True:
        params = {"state": state, "limit": 100}
        if after:
            params["after"] = after
        st, body, raw, _ = admin("GET", "orders", key(), params=params, site=SITE)
        assert st == 200, raw
        out += body["data"]["orders"]
        after = body["data"]["next"]
        if not after:
            return out


def listed(order_id):
    lines = [l.split("\t") for l in cli("order", "list", "--site", SITE, "--limit", "500").stdout.splitlines()]
    mine = [l for l in lines if l[0] == order_id]
    assert len(mine) == 1, lines[:5]
    js = [o for o in json.loads(cli("order", "list", "--site", SITE, "--limit", "500", "--json").stdout)
          if o["id"] == order_id]
    return mine[0], js[0]


def test_a_refund_of_a_charged_back_payment_is_refused_before_anything_is_written_or_sent():
    order = charged_back()
    slip = order["pay_id"]
    posts = refund_posts(slip)
    for amount in (None, 1.0):
        st, reply = api_refund(order["id"], amount)
        assert st == 409 and reply["errCode"] == "e.www.refund.chargeback", reply
        assert "took this payment back (a chargeback)" in reply["msg"], reply
        assert "capture REVERSED" in reply["msg"], reply  # what PayPal's record showed
        assert reply["data"]["refund"] is None and reply["data"]["order"]["chargeback_at"], reply
    # The CLI: exit 1, one line, the same code; with --amount, --key, and the words' own key.
    for more in ([], ["--amount", "1.00"], ["--key", "k-" + secrets.token_hex(6)]):
        res = cli("refund", order["id"], "--reason", "returned", *more, check=False)
        assert res.returncode == 1 and res.stdout == "", res
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("orderpay: e.www.refund.chargeback: "), res.stderr
        assert "settle with the buyer" in lines[0], lines
    # `refund --slip` of a charged-back payment owed back (a refund_needed slip; reconcile offers
    # none): the same refusal (the slip is marked by SQL, and restored).
    psql("UPDATE pay_slips SET refund_needed = true WHERE id = '%s'" % slip)
    try:
        res = cli("refund", "--slip", slip, "--reason", "owed back", check=False)
        assert res.returncode == 1 and res.stderr.startswith("orderpay: e.www.refund.chargeback: "), res
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    finally:
        psql("UPDATE pay_slips SET refund_needed = false WHERE id = '%s'" % slip)
    # Nothing written, nothing sent: no refund row, no request to PayPal.
    assert refund_rows(slip) == [] and refund_posts(slip) == posts
    assert admin_order(order["id"])["refunds"] == []
    # Still refused after the week reconcile lists it for: the inbox keeps the record for good.
    psql(AGED % ("-", slip))
    try:
        assert attention(slip) == []
        assert api_refund(order["id"])[1]["errCode"] == "e.www.refund.chargeback"
    finally:
        psql(AGED % ("+", slip))
    assert refund_rows(slip) == [] and refund_posts(slip) == posts
    audit_clean(order)


def test_a_refund_made_before_the_chargeback_still_replays_and_a_new_one_is_refused():
    order = paid_paypal_order(site=SITE)
    idem = "before-" + secrets.token_hex(6)
    st, first = api_refund(order["id"], 1.0, idem)
    assert st == 200 and first["data"]["refund"]["st"] == "OK", first
    charged_back(order)
    posts = refund_posts(order["pay_id"])
    assert posts == 1  # the one sent before: the access log counts what reached paysim
    st, again = api_refund(order["id"], 1.0, idem)
    assert st == 200 and again["data"]["refund"]["id"] == first["data"]["refund"]["id"], again
    assert again["data"]["refund"]["replay"] is True
    st, other = api_refund(order["id"], 1.0)
    assert st == 409 and other["errCode"] == "e.www.refund.chargeback", other
    assert len(refund_rows(order["pay_id"])) == 1 and refund_posts(order["pay_id"]) == posts


def opened_not_sent(order):
    """A refund opened before the chargeback whose worker died before sending it (NEW)."""
    rid = "cb" + secrets.token_hex(12)
    idem = "unsent-" + secrets.token_hex(6)
    out = psql("SELECT outcome FROM orderpay_refund_open('%s', '%s', NULL, 100::bigint, 'returned', 'test', '%s', "
               "'%s')" % (SITE, order["id"], idem, rid))
    assert out == "created", out
    return rid, idem


@pytest.mark.parametrize("by", ["reconcile", "replay"])
def test_a_refund_opened_before_the_chargeback_and_sent_after_it_fails_unsent(by):
    """The race made deterministic: the refund passed the check (none then) and was opened; the
    chargeback is recorded before it is sent. Whoever sends it (reconcile, or the replay of its key)
    finds the chargeback first: FAIL, never sent, its amount free, said as the chargeback. A
    chargeback recorded while the request itself is on its way is PayPal's to refuse (FAIL too)."""
    order = paid_paypal_order(site=SITE)
    rid, idem = opened_not_sent(order)
    charged_back(order)
    posts = refund_posts(order["pay_id"])
    if by == "reconcile":
        cli("reconcile", "--min-age", "0", check=False)
    else:
        st, reply = api_refund(order["id"], 1.0, idem)
        assert st == 409 and reply["errCode"] == "e.www.refund.chargeback", reply
        assert reply["data"]["refund"]["id"] == rid and reply["data"]["refund"]["st"] == "FAIL", reply
    row = psql("SELECT st || '|' || note FROM refunds WHERE id = '%s'" % rid)
    assert row.startswith("FAIL|not sent: its provider took the payment back (a chargeback)"), row
    assert refund_posts(order["pay_id"]) == posts
    assert admin_order(order["id"])["refunded"] == 0
    audit_clean(order)


def test_every_view_of_the_order_says_it_was_charged_back_after_the_week_too():
    order = paid_paypal_order(site=SITE)
    assert admin_order(order["id"])["chargeback_at"] is None
    assert "CHARGEBACK" not in cli("order", "show", order["id"]).stdout
    assert listed(order["id"])[1]["chargeback_at"] is None and len(listed(order["id"])[0]) == 6
    charged_back(order)
    slip = order["pay_id"]
    at = int(psql("SELECT (extract(epoch from min(ct)) * 1000)::bigint FROM notifications WHERE slip_id = '%s' "
                  "AND verdict = 'ignored' AND reason LIKE 'no refund of ours named %%: chargeback: %%'" % slip))
    psql(AGED % ("-", slip))
    try:
        assert attention(slip) == []  # reconcile's week is over; the order still says it
        at -= 8 * 86400 * 1000
        one = admin_order(order["id"])
        assert one["chargeback_at"] == at and one["or_st"] == "OK", one
        page = [o for o in orders_page("OK") if o["id"] == order["id"]]
        assert page == [one], page
        text = cli("order", "show", order["id"]).stdout
        assert re.search(r"\n  CHARGEBACK: its provider took the payment back \(confirmed \d{4}-\d\d-\d\dT[0-9:.]+Z\): "
                         r"do not ship it; settle with the buyer, then close it: orderpay order done %s "
                         r"--charged-back\n" % order["id"], text), text
        assert json.loads(cli("order", "show", order["id"], "--json").stdout)["chargeback_at"] == at
        line, js = listed(order["id"])
        assert line[3] == "OK" and line[6:] == ["CHARGEBACK"], line
        assert js["chargeback_at"] == at, js
    finally:
        psql(AGED % ("+", slip))
    audit_clean(order)


def done(order_id, *more):
    return cli("order", "done", order_id, "--charged-back", *more, check=False)


def test_the_operator_closes_a_charged_back_order_without_a_shipment_made_up():
    order = charged_back()
    assert [o["id"] for o in orders_page("OK")].count(order["id"]) == 1
    res = done(order["id"])
    assert res.returncode == 0, res
    assert res.stdout == "order %s done after its chargeback (OK -> DN, never shipped)\n" % order["id"], res
    now = admin_order(order["id"])
    assert now["or_st"] == "DN" and now["dn_at"] and now["sp_at"] is None and now["chargeback_at"], now
    # It leaves the list of what to ship and is found among the done ones, saying why.
    assert order["id"] not in [o["id"] for o in orders_page("OK")]
    assert [o for o in orders_page("DN") if o["id"] == order["id"]] == [now]
    audit_clean(order)
    # A repeat (after a timeout, another operator first) is "already", exit 0; nothing changes.
    res = done(order["id"], "--site", SITE)
    assert res.returncode == 0 and res.stdout == "order %s is DN (done) already\n" % order["id"], res
    assert admin_order(order["id"]) == now
    # Still no refund of money that is gone, and neither ship nor done move it.
    assert api_refund(order["id"])[1]["errCode"] == "e.www.refund.chargeback"
    assert ship(order["id"])[0] == 200 and admin_order(order["id"]) == now  # DN: shipped "already"
    audit_clean(order)


def test_an_order_shipped_before_its_chargeback_is_closed_sp_to_dn():
    order = paid_paypal_order(site=SITE)
    assert ship(order["id"])[0] == 200
    charged_back(order)
    st, reply = ship(order["id"], "done")
    assert st == 409 and "do not close it" in reply["msg"], reply  # the API's done still refuses
    res = done(order["id"])
    assert res.returncode == 0 and res.stdout == "order %s done after its chargeback (SP -> DN)\n" % order["id"], res
    now = admin_order(order["id"])
    assert now["or_st"] == "DN" and now["sp_at"] and now["dn_at"] and now["chargeback_at"], now
    audit_clean(order)


def test_the_close_is_refused_for_an_order_not_charged_back_unknown_or_in_another_state():
    order = paid_paypal_order(site=SITE)
    before = admin_order(order["id"])
    res = done(order["id"])
    assert res.returncode == 1 and res.stdout == "", res
    assert ("order %s is OK (paid, not shipped), and no chargeback of its payment is on record" % order["id"]
            in res.stderr and "(orderpay order ship %s)" % order["id"] in res.stderr), res.stderr
    assert admin_order(order["id"]) == before
    # Done the ordinary way, and still no chargeback: the flag is not taken on the operator's word.
    assert ship(order["id"])[0] == 200 and ship(order["id"], "done")[0] == 200
    res = done(order["id"])
    assert res.returncode == 1 and "is DN (done), and no chargeback" in res.stderr, res.stderr
    res = done("nosuchorder" + secrets.token_hex(4))
    assert res.returncode == 1 and "no such order" in res.stderr, res
    res = done(order["id"], "--site", STACK["DEMO_SITE"])  # another shop's id
    assert res.returncode == 1 and "no such order" in res.stderr, res
    # Only `done` takes it; ship does not.
    res = cli("order", "ship", order["id"], "--charged-back", check=False)
    assert res.returncode == 2 and "takes no --charged-back" in res.stderr, res
    assert admin_order(order["id"])["or_st"] == "DN"
    audit_clean(order)


def test_audit_still_refuses_goods_done_without_a_shipment_or_a_chargeback():
    """The audit's exception is the chargeback on record, nothing else: goods made DN with no
    sp_at by hand (SQL) are still a violation, and the charged-back one closed is not."""
    order = paid_paypal_order(site=SITE)
    psql("UPDATE orders SET or_st = 'DN', dn_at = now() WHERE id = '%s'" % order["id"])
    try:
        found = json.loads(cli("audit", "--json", check=False).stdout)["violations"]
        mine = [v for v in found if v["subject"] == order["id"]]
        assert [v["invariant"] for v in mine] == ["fulfilment_times_match_state"], found
    finally:
        psql("UPDATE orders SET or_st = 'OK', dn_at = NULL WHERE id = '%s'" % order["id"])
    audit_clean(order)
