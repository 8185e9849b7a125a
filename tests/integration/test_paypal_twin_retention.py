"""CRC32 twins of one genuine PayPal transmission on which orderpay asks PayPal nothing are kept
only as long as unverified rows (`unconfirmed: `, notify.keep_rejected_days): a capture event
that is not a payment naming a paid slip, an approval of a slip that takes no more money, an event
naming no slip of ours (review s29-diff L1: each was kept for good under notify.keep_days' default,
one genuine transmission making any number of them). The slips' own records stay."""

import secrets
import time

from conftest import cli
from helpers import psql
from test_hostile_notify import forged_twin, paypal_webhook, post_paypal
from test_paypal import approve, buy_paypal_ok, order_of
from test_paypal_webhook_pace import approval_twins


def capture_event(slip, event_type, value):
    return {"id": "WH-" + secrets.token_hex(10).upper(), "event_version": "1.0",
            "create_time": "2026-12-01T12:00:00Z", "resource_type": "capture", "event_type": event_type,
            "resource": {"id": "CAP" + secrets.token_hex(8).upper(), "status": "PENDING",
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
