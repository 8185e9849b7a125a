"""CRC32 twins of one genuine PayPal transmission on which orderpay asks PayPal nothing are kept
only as long as unverified rows (`unconfirmed: `, notify.keep_rejected_days): a capture event
that is not a payment naming a paid slip, an approval of a slip that takes no more money, an event
naming no slip of ours (review s29-diff L1: each was kept for good under notify.keep_days' default,
one genuine transmission making any number of them). The slips' own records stay.

Twins that do make orderpay ask PayPal, capture events naming a paid slip and another capture,
share one pace per slip, as reversals and approvals do: ten at once make at most a couple of
queries of PayPal's order, and the paced ones are counted paced and acknowledged (a PayPal order
takes one capture, and the query a moment before showed it). A paid slip's own capture still shown by PayPal's order, against a
twin's made-up one, is no confirmation of the twin: that row is `unconfirmed: ` too, as is a
finished refund told again, which asks PayPal nothing."""

import os
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, cli
from helpers import inbox, psql
from test_hostile_notify import forged_twin, paypal_webhook, post_paypal, refund_event
from test_metrics import delta, scrape
from test_paypal import approve, buy_paypal_ok, order_of
from test_paypal_refund import capture_of, paid_paypal_order, refund
from test_paypal_webhook_pace import approval_twins

pytestmark = pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")

ACCESS_LOG = os.path.join(STACK.get("STACK_LOG_DIR", ""), "nginx-access.log")
SITE = STACK.get("DEMO_USD_SITE", "demo-usd")
COUNTED = 'orderpay_notifications_total{provider="paypal",verdict="%s"}'


def capture_event(slip, event_type, value, status="PENDING"):
    return {"id": "WH-" + secrets.token_hex(10).upper(), "event_version": "1.0",
            "create_time": "2026-12-01T12:00:00Z", "resource_type": "capture", "event_type": event_type,
            "resource": {"id": "CAP" + secrets.token_hex(8).upper(), "status": status,
                         "amount": {"currency_code": "USD", "value": value}, "custom_id": slip,
                         "invoice_id": slip}, "links": []}


def wait_paid(order_id):
    for _ in range(50):
        if order_of(order_id)["or_st"] == "OK":
            return
        time.sleep(0.2)
    raise AssertionError("order %s not paid" % order_id)


def test_twins_that_asked_paypal_nothing_go_with_the_unverified_rows():
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    paid = buy_paypal_ok()
    approve(paid["pay_re"]["re_obj"])
    wait_paid(paid["id"])
    time.sleep(2.1)  # past the approval's pace, so the approvals below are judged, not paced
    closed = buy_paypal_ok()
    psql("UPDATE orders SET expi = now() - interval '1 hour' WHERE id = '%s'" % closed["id"])
    cli("expire")
    assert order_of(closed["id"])["or_st"] == "FA", order_of(closed["id"])
    before = int(psql("SELECT coalesce(max(id), 0) FROM notifications"))
    bodies = [forged_twin(genuine, capture_event(paid["pay_id"], "PAYMENT.CAPTURE.PENDING", "%.2f" % paid["fee"]))
              for _ in range(3)]
    bodies += approval_twins(genuine, closed, 3)
    bodies += [forged_twin(genuine, capture_event("9" * 20, "PAYMENT.CAPTURE.COMPLETED", "1.00")) for _ in range(3)]
    assert [post_paypal(headers, b) for b in bodies] == [200] * 9
    rows = psql("SELECT verdict || '|' || reason FROM notifications WHERE id > %d ORDER BY id" % before).splitlines()
    assert len(rows) == 9, rows
    assert all(r.startswith("ignored|unconfirmed: ") for r in rows), rows
    # Rows about the paid slip from before (its approval, however it settled) are not aged here.
    earlier = psql("SELECT count(*) FROM notifications WHERE slip_id = '%s' AND id <= %d" % (paid["pay_id"], before))
    try:
        psql("UPDATE notifications SET ct = ct - interval '30 days' WHERE id > %d" % before)
        out = cli("inbox", "prune", "--rejected-older-than", "8d").stdout
        assert "pruned" in out, out
        assert psql("SELECT count(*) FROM notifications WHERE id > %d" % before) == "0"
    finally:
        psql("DELETE FROM notifications WHERE id > %d AND ct < now() - interval '29 days'" % before)
    # The payment's own records stay, and the order is still paid.
    assert psql("SELECT count(*) FROM notifications WHERE slip_id = '%s' AND id <= %d"
                % (paid["pay_id"], before)) == earlier
    assert order_of(paid["id"])["or_st"] == "OK"


def paypal_asked(path):
    """Our calls whose path starts with `path` that reached paysim (nginx's access log)."""
    with open(ACCESS_LOG, errors="replace") as f:
        return sum(1 for line in f if re.search(r'"(GET|POST) %s' % re.escape(path), line))


def burst(headers, bodies):
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(lambda b: post_paypal(headers, b), bodies))


def pruned(slip, since, days=8):
    """The slip's rows after the first `since`, aged by `days`, then the unverified rows'
    retention run at its default age: what is left of them."""
    ids = psql("SELECT id FROM notifications WHERE slip_id = '%s' ORDER BY id" % slip).split()[since:]
    psql("UPDATE notifications SET ct = ct - interval '%d days' WHERE id IN (%s)" % (days, ",".join(ids)))
    cli("inbox", "prune", "--rejected-older-than", "7d")
    return psql("SELECT count(*) FROM notifications WHERE id IN (%s)" % ",".join(ids))


def test_ten_capture_twins_naming_a_paid_slip_and_another_capture_make_at_most_two_queries_and_go():
    """Each was a query of PayPal's order, unpaced, and its `confirmed by query (capture A,
    notified B) ... duplicate` row kept for good: PayPal's order showing the slip's own capture
    bears out nothing the settled row does not, and nothing the twin claims."""
    order = paid_paypal_order(site=SITE)
    slip, value = order["pay_id"], "%.2f" % order["fee"]
    ours = capture_of(slip)
    pp = psql("SELECT provider_ref FROM pay_slips WHERE id = '%s'" % slip)
    n0 = len(inbox(slip))
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")  # any genuine transmission
    bodies = [forged_twin(genuine, capture_event(slip, "PAYMENT.CAPTURE.COMPLETED", value, "COMPLETED"))
              for _ in range(10)]
    asked, before = paypal_asked("/v2/checkout/orders/" + pp), scrape()
    answers = burst(headers, bodies)
    after = scrape()
    assert paypal_asked("/v2/checkout/orders/" + pp) - asked <= 2, answers
    rows = inbox(slip)[n0:]
    assert len(rows) == 10, rows
    # The one that asked (two if the burst straddles the pace) found PayPal's order showing the
    # slip's own capture; the rest were paced. All acknowledged: a PayPal order takes one capture,
    # so nothing a resend could record.
    asked_rows = [r for r in rows if re.fullmatch(
        r"unconfirmed: slip already paid by %s, as the provider's order says \(notified capture CAP[0-9A-F]{16}\)"
        % ours, r[1])]
    paced = [r for r in rows if re.fullmatch(
        r"unconfirmed: slip already paid by %s \(notified capture CAP[0-9A-F]{16}; the provider's order was "
        r"asked less than 2 s ago\)" % ours, r[1])]
    assert len(asked_rows) + len(paced) == 10 and len(paced) >= 8, rows
    assert {v for v, _ in rows} == {"duplicate"} and answers == [200] * 10, (answers, rows)
    # Counted as paced, not as errors an operator is alerted to.
    assert delta(before, after, COUNTED % "paced") == len(paced), (before, after)
    assert delta(before, after, COUNTED % "error") == 0, (before, after)
    assert pruned(slip, n0) == "0"
    assert len(inbox(slip)) == n0 and order_of(order["id"])["or_st"] == "OK"
    assert capture_of(slip) == ours


def test_a_finished_refund_told_again_asks_nothing_and_goes_with_the_unverified_rows():
    """A twin (or PayPal's resend) of a refund's COMPLETED event, once the refund is OK: nothing to
    ask (review s22 M3), and the refund's own row is its record; its `duplicate` row was kept for
    good."""
    order = paid_paypal_order(site=SITE)
    slip, capture = order["pay_id"], capture_of(order["pay_id"])
    key = cli("apikey", "issue", "--site", SITE).stdout.strip()
    status, body, raw, _ = refund(key, order["id"], amount="1.00")
    assert status == 200 and body["data"]["refund"]["st"] == "OK", raw
    rid, pp_rid = body["data"]["refund"]["id"], body["data"]["refund"]["provider_refund_id"]
    n0 = len(inbox(slip))
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    asked = paypal_asked("/v2/payments/refunds/")
    for _ in range(3):
        twin = forged_twin(genuine, refund_event(rid, pp_rid, capture, "1.00", "COMPLETED", slip))
        assert post_paypal(headers, twin) == 200
    assert paypal_asked("/v2/payments/refunds/") == asked
    rows = inbox(slip)[n0:]
    assert rows == [("duplicate", "unconfirmed: refund %s already OK" % rid)] * 3, rows
    assert pruned(slip, n0) == "0"
    assert psql("SELECT st FROM refunds WHERE id = '%s'" % rid) == "OK"
