"""A chargeback on a paid PayPal order (review s29-attack #1): PayPal takes the money back
(PAYMENT.CAPTURE.REVERSED; its order shows the capture REVERSED). It was stored `ignored`, "not
paid: ...": nothing logged, nothing listed, and the order shipped. Now the event is a cue: our own
query of PayPal's order must show the slip's capture REVERSED; then an error is logged, reconcile
lists the slip CHARGEBACK, and ship and done refuse the order, which otherwise stays as it was.
A twin the order does not bear out (PayPal's signature covers only a CRC32 of the body) changes
nothing and goes with the unverified rows; a burst of twins makes at most a couple of queries."""

import json
import os
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, psql
from helpers import inbox
from test_hostile_notify import _reverse, forged_twin, paypal_webhook, post_paypal
from test_metrics import delta, scrape
from test_paypal_refund import capture_of, paid_paypal_order, paypal_token, pp_refund
from test_refund import admin

pytestmark = pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")

SITE = STACK.get("DEMO_USD_SITE", "demo-usd")
REVERSED = "PAYMENT.CAPTURE.REVERSED"
ACCESS_LOG = os.path.join(STACK.get("STACK_LOG_DIR", ""), "nginx-access.log")
DAEMON_LOG = os.path.join(STACK.get("STACK_LOG_DIR", ""), "orderpayd.log")
_KEY = {}


def key():
    if "k" not in _KEY:
        _KEY["k"] = cli("apikey", "issue", "--site", SITE).stdout.strip()
    return _KEY["k"]


def paypal_order_id(slip):
    return psql("SELECT provider_ref FROM pay_slips WHERE id = '%s'" % slip)


def order_queries(paypal_order):
    """Our GETs of the PayPal order that reached paysim (nginx's access log)."""
    with open(ACCESS_LOG, errors="replace") as f:
        return sum(1 for line in f if re.search(r'"GET /v2/checkout/orders/%s ' % paypal_order, line))


def refund_shaped(slip_capture, value, custom_id=None):
    """PAYMENT.CAPTURE.REVERSED as PayPal documents it: the resource is the reversal (a refund of
    the capture, its own id), naming the capture in its `up` link and not necessarily our slip."""
    resource = {"id": "REV" + secrets.token_hex(7).upper(), "status": "COMPLETED",
                "amount": {"currency_code": "USD", "value": value}, "note_to_payer": "Payment reversed",
                "links": [{"rel": "up", "method": "GET",
                           "href": "https://api-m.paypal.com/v2/payments/captures/" + slip_capture}]}
    if custom_id:
        resource["custom_id"] = custom_id
    return {"id": "WH-" + secrets.token_hex(10).upper(), "event_version": "1.0", "resource_type": "refund",
            "event_type": REVERSED, "resource": resource, "links": []}


def reversal(order, shape="capture", capture=None, custom_id=True):
    """(headers, body) of a verified REVERSED event about `order`'s slip."""
    slip, fee = order["pay_id"], "%.2f" % order["fee"]
    capture = capture or capture_of(slip)
    if shape == "capture":
        return paypal_webhook(slip if custom_id else "", fee, event_type=REVERSED, status="REVERSED",
                              capture_id=capture)
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")  # any genuine transmission
    return headers, forged_twin(genuine, refund_shaped(capture, fee, slip if custom_id else None))


def attention(slip):
    rec = json.loads(cli("reconcile", "--json", "--min-age", "3600", check=False).stdout)
    return [a for a in rec["attention"] if a["slip"] == slip]


def news(slip, since):
    """The slip's inbox rows after the first `since` (the payment's own)."""
    return inbox(slip)[since:]


def admin_order(order_id):
    st, body, raw, _ = admin("GET", "order", key(), params={"id": order_id}, site=SITE)
    assert st == 200, raw
    return body["data"]


def ship(order_id, action="ship"):
    st, body, raw, _ = admin("POST", action, key(), {"order": order_id}, site=SITE)
    return st, body


def error_lines(slip):
    with open(DAEMON_LOG, errors="replace") as f:
        return [line for line in f if slip in line and " error: " in line and "chargeback" in line]


def audit_clean(order):
    found = json.loads(cli("audit", "--json", check=False).stdout)["violations"]
    assert [v for v in found if order["id"] in json.dumps(v) or order["pay_id"] in json.dumps(v)] == [], found


@pytest.mark.parametrize("shape", ["capture", "refund"])
def test_a_chargeback_paypal_confirms_is_logged_listed_and_stops_shipping(shape):
    order = paid_paypal_order(site=SITE)
    slip, capture = order["pay_id"], capture_of(order["pay_id"])
    before, n0 = admin_order(order["id"]), len(inbox(order["pay_id"]))
    _reverse(order, capture)  # PayPal's record: the buyer won the dispute
    headers, body = reversal(order, shape, custom_id=shape == "capture")
    assert post_paypal(headers, body) == 200
    rows = news(slip, n0)
    assert [v for v, _ in rows] == ["ignored"], rows
    assert rows[0][1].startswith("no refund of ours named %s: chargeback: the provider's order COMPLETED, "
                                 "capture REVERSED" % capture), rows
    assert len(error_lines(slip)) == 1, error_lines(slip)
    # Listed for the operator, text and JSON, with what to do; no refund command is offered.
    listed = attention(slip)
    assert [a["kind"] for a in listed] == ["CHARGEBACK"], listed
    assert "took the payment back" in listed[0]["detail"] and listed[0]["refunded_minor"] == 0, listed
    text = cli("reconcile", "--min-age", "3600", check=False).stdout.splitlines()
    at = [i for i, t in enumerate(text) if t.startswith("CHARGEBACK ") and slip in t]
    assert len(at) == 1 and "do not ship" in text[at[0] + 1] and "refund --slip" not in text[at[0] + 1], text
    # Neither the API nor the CLI ships it.
    st, reply = ship(order["id"])
    assert st == 409 and reply["errCode"] == "e.www.order.state", reply
    assert "took the payment back (a chargeback): do not ship it" in reply["msg"], reply
    res = cli("order", "ship", order["id"], "--site", SITE, check=False)
    assert res.returncode == 1 and "chargeback" in res.stderr and "CHARGEBACK" in res.stderr, res
    # Nothing else moved: the order, its refunds and its money are as they were; it says why.
    after = admin_order(order["id"])
    assert before["chargeback_at"] is None and isinstance(after.pop("chargeback_at"), int), after
    before.pop("chargeback_at")
    assert after == before
    assert psql("SELECT st || ' ' || reversed FROM pay_slips WHERE id = '%s'" % slip) == "OK false"
    # PayPal sends it again: a duplicate, listed once, still one error line.
    assert post_paypal(headers, body) == 200
    assert [v for v, _ in news(slip, n0)] == ["ignored", "duplicate"]
    assert [a["kind"] for a in attention(slip)] == ["CHARGEBACK"]
    assert len(error_lines(slip)) == 1
    audit_clean(order)


def test_a_chargeback_after_shipping_is_listed_and_stops_closing():
    order = paid_paypal_order(site=SITE)
    assert ship(order["id"])[0] == 200
    _reverse(order, capture_of(order["pay_id"]))
    assert post_paypal(*reversal(order)) == 200
    assert [a["kind"] for a in attention(order["pay_id"])] == ["CHARGEBACK"]
    st, reply = ship(order["id"], "done")
    assert st == 409 and reply["errCode"] == "e.www.order.state" and "do not close it" in reply["msg"], reply
    assert admin_order(order["id"])["or_st"] == "SP"
    audit_clean(order)


def test_a_reversal_paypal_does_not_bear_out_changes_nothing_and_is_pruned():
    """A CRC32 twin of any genuine transmission says REVERSED of a paid slip; PayPal's order still
    shows the capture COMPLETED."""
    order = paid_paypal_order(site=SITE)
    slip = order["pay_id"]
    n0 = len(inbox(slip))
    for shape in ("capture", "refund"):
        headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
        forged = refund_shaped(capture_of(slip), "%.2f" % order["fee"], slip) if shape == "refund" else {
            "id": "WH-" + secrets.token_hex(10).upper(), "event_type": REVERSED,
            "resource": {"id": capture_of(slip), "status": "REVERSED", "custom_id": slip,
                         "amount": {"currency_code": "USD", "value": "%.2f" % order["fee"]}}}
        assert post_paypal(headers, forged_twin(genuine, forged)) == 400
        time.sleep(2.1)  # past the pace, so the second shape is asked about too
    rows = news(slip, n0)
    assert len(rows) == 2 and all(v == "rejected" and r.startswith("unverified: notified " + REVERSED)
                                  and "provider's order says: order COMPLETED, capture COMPLETED" in r
                                  for v, r in rows), rows
    assert attention(slip) == [] and error_lines(slip) == []
    st, reply = ship(order["id"])
    assert st == 200 and reply["data"]["or_st"] == "SP", reply
    cli("inbox", "prune", "--rejected-older-than", "0s")
    assert news(slip, n0) == []
    audit_clean(order)


def burst(headers, bodies):
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(lambda b: post_paypal(headers, b), bodies))


def twins(order, n):
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    capture = capture_of(order["pay_id"])
    return headers, [forged_twin(genuine, refund_shaped(capture, "%.2f" % order["fee"], order["pay_id"]))
                     for _ in range(n)]


@pytest.mark.parametrize("reversed_at_paypal", [True, False])
def test_ten_reversal_twins_make_at_most_two_queries(reversed_at_paypal):
    order = paid_paypal_order(site=SITE)
    slip, pp = order["pay_id"], paypal_order_id(order["pay_id"])
    n0 = len(inbox(slip))
    if reversed_at_paypal:
        _reverse(order, capture_of(slip))
    headers, bodies = twins(order, 10)
    asked = order_queries(pp)
    before = scrape()
    answers = burst(headers, bodies)
    after = scrape()
    assert order_queries(pp) - asked <= 2, (asked, order_queries(pp))
    rows = news(slip, n0)
    assert len(rows) == 10, rows
    paced = [r for v, r in rows if v == "error" and r.startswith("paced: ")]
    assert answers.count(500) == len(paced) and len(paced) >= 8 - answers.count(200), (answers, rows)
    # Counted as paced, not as errors an operator is alerted to.
    counted = 'orderpay_notifications_total{provider="paypal",verdict="%s"}'
    assert delta(before, after, counted % "paced") == len(paced), (before, after)
    assert delta(before, after, counted % "error") == 0, (before, after)
    if reversed_at_paypal:
        # One records it; the rest are paced (PayPal sends them again) or find it recorded.
        assert sum(r.startswith("no refund of ours named ") for _, r in rows) == 1, rows
        assert {v for v, _ in rows} <= {"ignored", "duplicate", "error"}, rows
        assert [a["kind"] for a in attention(slip)] == ["CHARGEBACK"]
        assert len(error_lines(slip)) == 1
    else:
        assert {v for v, _ in rows} <= {"rejected", "error"}, rows
        assert all(r.startswith(("unverified: ", "paced: ")) for _, r in rows), rows
        assert attention(slip) == [] and ship(order["id"])[0] == 200
    audit_clean(order)


def test_a_reversal_for_another_sites_slip_or_an_unknown_capture_changes_nothing():
    order = paid_paypal_order(site=SITE)
    slip, pp = order["pay_id"], paypal_order_id(order["pay_id"])
    n0 = len(inbox(slip))
    _reverse(order, capture_of(slip))  # even true at PayPal, these messages prove nothing of it
    asked = order_queries(pp)
    # Posted to another site's endpoint: refused on the site check, asking nothing.
    headers, body = reversal(order)
    assert post_paypal(headers, body, site=STACK["DEMO_SITE"]) == 400
    assert [(v, r.split(":")[0]) for v, r in news(slip, n0)] == [("rejected", "unverified")], news(slip, n0)
    assert "site check failed" in news(slip, n0)[0][1]
    # A capture of no slip of ours, naming no slip: another integration's event, acknowledged.
    unknown = "CAP" + secrets.token_hex(7).upper()
    headers, body = reversal(order, "refund", capture=unknown, custom_id=False)
    assert post_paypal(headers, body) == 200
    row = psql("SELECT verdict || '|' || reason FROM notifications WHERE position('%s'::bytea in body) > 0"
               % unknown)
    assert row.startswith("ignored|unconfirmed: verified, but names no slip of ours"), row
    assert order_queries(pp) == asked
    assert attention(slip) == [] and error_lines(slip) == []
    # The stage was set: PayPal's own event for the slip records the chargeback.
    assert post_paypal(*reversal(order)) == 200
    assert [a["kind"] for a in attention(slip)] == ["CHARGEBACK"] and ship(order["id"])[0] == 409


def console_refund(order, value):
    """Money taken back at PayPal outside orderpay (as a reversal is recorded there: a refund of
    the capture): PayPal's own refund of `value`, under an invoice that is none of ours."""
    status, body, raw, _ = pp_refund(capture_of(order["pay_id"]),
                                     {"amount": {"currency_code": "USD", "value": value},
                                      "invoice_id": "rev-" + secrets.token_hex(6)},
                                     "rev-" + secrets.token_hex(8), paypal_token())
    assert status in (200, 201), raw
    return body["id"]


def told_as_refund(order, reversal_id, value):
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    event = refund_shaped(capture_of(order["pay_id"]), value)
    event["resource"]["id"] = reversal_id
    return headers, forged_twin(genuine, event)


@pytest.mark.parametrize("value", ["1.00", "whole"])
def test_a_reversal_shown_as_paypal_documents_it_is_recorded_from_its_own_refund_record(value):
    """PayPal's capture statuses name no REVERSED: a chargeback shows as the capture (partially)
    refunded, and the event's resource is that refund. Its own record (by its id, of this slip's
    capture, done, not ours) is what records it (review s29b F1: refused for good, the order
    shipped)."""
    order = paid_paypal_order(site=SITE)
    slip, capture = order["pay_id"], capture_of(order["pay_id"])
    n0 = len(inbox(slip))
    taken = "%.2f" % order["fee"] if value == "whole" else value
    rid = console_refund(order, taken)
    headers, body = told_as_refund(order, rid, taken)
    assert post_paypal(headers, body) == 200
    rows = news(slip, n0)
    assert [v for v, _ in rows] == ["ignored"], rows
    assert rows[0][1].startswith("no refund of ours named %s: chargeback: the provider's refund %s of capture %s"
                                 % (capture, rid, capture)), rows
    assert [a["kind"] for a in attention(slip)] == ["CHARGEBACK"]
    st, reply = ship(order["id"])
    assert st == 409 and "chargeback" in reply["msg"], reply
    assert len(error_lines(slip)) == 1
    audit_clean(order)


def test_a_reversal_naming_a_refund_paypal_does_not_have_or_one_of_ours_records_nothing():
    order = paid_paypal_order(site=SITE)
    slip = order["pay_id"]
    n0 = len(inbox(slip))
    # A made-up reversal id: PayPal knows no such refund.
    headers, body = told_as_refund(order, "REV" + secrets.token_hex(7).upper(), "1.00")
    assert post_paypal(headers, body) == 400
    time.sleep(2.1)  # past the reversal's pace
    # A refund of ours (made through admin/refund), told as a reversal: its own notice records it.
    st, _, raw, _ = admin("POST", "refund", key(), {"order": order["id"], "amount": 1.0, "reason": "one cup",
                                                    "idempotency_key": secrets.token_hex(8)}, site=SITE)
    assert st == 200, raw
    ours = psql("SELECT provider_refund_id FROM refunds WHERE slip_id = '%s'" % slip)
    assert ours, raw
    headers, body = told_as_refund(order, ours, "1.00")
    assert post_paypal(headers, body) == 400
    rows = [r for r in news(slip, n0) if "REVERSED" in r[1]]
    assert [v for v, _ in rows] == ["rejected", "rejected"], rows
    assert all(r.startswith("unverified: ") for _, r in rows), rows
    assert attention(slip) == [] or [a["kind"] for a in attention(slip)] != ["CHARGEBACK"]
    assert ship(order["id"])[0] == 200


def test_a_charged_back_slip_owed_back_is_never_offered_a_refund():
    """A refund_needed slip (a late or second payment, listed REFUND until refunded) charged back by
    the buyer: CHARGEBACK, never REFUND with a `refund --slip` command, and still CHARGEBACK after
    the week that ends the listing of other chargebacks (review s29b F2; the slip is marked and
    the row aged by SQL, both restored)."""
    order = paid_paypal_order(site=SITE)
    slip = order["pay_id"]
    _reverse(order, capture_of(slip))
    assert post_paypal(*reversal(order)) == 200
    psql("UPDATE pay_slips SET refund_needed = true WHERE id = '%s'" % slip)
    aged = ("UPDATE notifications SET ct = ct %s interval '8 days' WHERE slip_id = '%s' AND verdict = 'ignored' "
            "AND reason LIKE 'no refund of ours named %%%%: chargeback: %%%%'")
    try:
        assert [a["kind"] for a in attention(slip)] == ["CHARGEBACK"]
        psql(aged % ("-", slip))
        assert [a["kind"] for a in attention(slip)] == ["CHARGEBACK"]
        text = cli("reconcile", "--min-age", "3600", check=False).stdout
        assert "refund --slip %s" % slip not in text, text
        # Not owed back: a slip that is not, after the week, leaves the list as other chargebacks do.
        psql("UPDATE pay_slips SET refund_needed = false WHERE id = '%s'" % slip)
        assert attention(slip) == []
    finally:
        psql("UPDATE pay_slips SET refund_needed = false WHERE id = '%s'" % slip)
        psql(aged % ("+", slip))


def test_paced_copies_replayed_in_a_row_are_no_failure_of_inbox_replay():
    """Copies of one reversal kept `error`, `paced:` and replayed in a row by `inbox replay`: the
    first asks PayPal, the rest are paced again, counted apart and not as failures, so a burst of
    twins does not fail the reconcile timer's unit."""
    order = paid_paypal_order(site=SITE)
    slip = order["pay_id"]
    n0 = len(inbox(slip))
    headers, bodies = twins(order, 6)
    burst(headers, bodies)
    paced = [r for r in psql("SELECT id FROM notifications WHERE slip_id = '%s' AND verdict = 'error' "
                             "AND reason LIKE 'paced: %%'" % slip).splitlines() if r]
    assert len(paced) >= 4, news(slip, n0)
    time.sleep(2.1)
    res = cli("inbox", "replay", "--verdict", "error", "--older-than", "0s", check=False)
    mine = [line.split("\t") for line in res.stdout.splitlines() if line.split("\t")[0] in paced]
    assert len(mine) == len(paced), res.stdout
    assert [m[2] for m in mine].count("rejected") == 1, mine  # the one that asked: not borne out
    assert all(m[2] == "rejected" or m[3].startswith("paced: ") for m in mine), mine
    assert "paced (asked again next run)" in res.stdout.splitlines()[-1], res.stdout
