"""A refund made outside orderpay is reported once, whichever tells of it first: its own
notification or the order query that finds the payment refunded (review s30-diff M1), under a name
that does not read back as it was (L1), and PayPal twins naming a reported refund ask nothing and
go with the unconfirmed rows (L2)."""
import secrets

import pytest

from conftest import STACK, cli, psql
from test_hostile_notify import forged_twin, paypal_webhook, post_paypal, refund_event, signed_paypal
from test_outside_refunds import CASES, notify
from test_paypal_refund import capture_of, paid_paypal_order, paypal_token, pp_refund
from test_paypal_twin_retention import paypal_asked
from test_query_refunded import check, console_refund, lost_payment, outside_rows


@pytest.mark.parametrize("prov", ["wx", "wx3"])
def test_notification_first_then_query_reports_the_refund_once(prov):
    site, order = lost_payment(prov)
    rid = console_refund(prov, order, 100)
    # The console refund's notification comes first (sent at once; the payment's was lost).
    assert notify(prov, order, rid) == [CASES[prov][3]]
    first = outside_rows(order["pay_id"])
    assert len(first) == 1 and first[0].startswith("POST|no refund of ours named "), first
    # Then pay/check asks the order (REFUND): it settles, and reports nothing twice (WeChat v3's
    # answer names no refund: the report there stands for it).
    assert check(site, order)["or_st"] in ("OK", "DN")
    assert outside_rows(order["pay_id"]) == first
    # The refund told again (a resend) is a duplicate of the report, not a second one.
    assert notify(prov, order, rid) == [CASES[prov][3]]
    assert outside_rows(order["pay_id"]) == first


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_a_paypal_refund_named_with_a_blank_is_reported_once():
    site, order = lost_payment("paypal")
    rid = "RMA " + secrets.token_hex(4)  # an invoice number typed in PayPal's console
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % order["pay_id"])
    st, got, raw, _ = pp_refund(capture, {"invoice_id": rid, "amount": {"value": "1.00", "currency_code": "USD"}},
                                secrets.token_hex(6), paypal_token())
    assert st == 201, raw
    assert check(site, order)["or_st"] in ("OK", "DN")
    rows = outside_rows(order["pay_id"])
    assert len(rows) == 1 and rows[0].startswith("QUERY|no refund of ours named %s,%s:" % (rid.replace(" ", "?"),
                                                                                           got["id"])), rows
    headers, body = signed_paypal(dict(refund_event(rid, got["id"], capture, "1.00", "COMPLETED", order["pay_id"]),
                                       event_version="1.0", create_time="2026-12-01T12:00:00Z", summary="late"))
    assert post_paypal(headers, body) == 200
    assert outside_rows(order["pay_id"]) == rows


def twins_leave_nothing_kept(slip, rid, pp_rid, capture):
    """Five CRC32 twins of a genuine transmission rewritten as refund `rid`'s REFUNDED: no PayPal
    query, no second report, and every row they made gone with the unverified rows."""
    n0 = int(psql("SELECT max(id) FROM notifications"))
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    asked = paypal_asked("/v2/payments/refunds/")
    for _ in range(5):
        assert post_paypal(headers, forged_twin(genuine, refund_event(rid, pp_rid, capture, "1.00", "COMPLETED",
                                                                       slip))) == 200
    assert paypal_asked("/v2/payments/refunds/") == asked
    made = psql("SELECT id || '|' || verdict || '|' || reason FROM notifications WHERE id > %d AND slip_id = '%s' "
                "ORDER BY id" % (n0, slip)).splitlines()
    assert len(made) == 5 and all("|duplicate|unconfirmed: refund " in r for r in made), made
    ids = ",".join(r.split("|")[0] for r in made)
    psql("UPDATE notifications SET ct = ct - interval '30 days' WHERE id IN (%s)" % ids)
    cli("inbox", "prune", "--rejected-older-than", "7d")
    assert psql("SELECT count(*) FROM notifications WHERE id IN (%s)" % ids) == "0"


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_twins_of_a_refund_the_query_reported_ask_nothing_and_are_not_kept():
    site, order = lost_payment("paypal")
    rid = console_refund("paypal", order, 100)
    check(site, order)
    slip = order["pay_id"]
    rows = outside_rows(slip)
    assert len(rows) == 1 and rows[0].startswith("QUERY|"), rows
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % slip)
    body = psql("SELECT convert_from(body, 'UTF8') FROM notifications WHERE slip_id = '%s' AND method = 'QUERY'" % slip)
    pp_rid = body.split("refund %s (" % rid)[1].split(")")[0]
    twins_leave_nothing_kept(slip, rid, pp_rid, capture)
    assert outside_rows(slip) == rows


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_twins_of_a_refund_its_webhook_reported_write_no_second_report():
    order = paid_paypal_order(site=STACK.get("DEMO_USD_SITE", "demo-usd"))
    slip, capture = order["pay_id"], capture_of(order["pay_id"])
    rid = "console" + secrets.token_hex(6)
    st, got, raw, _ = pp_refund(capture, {"invoice_id": rid, "amount": {"value": "1.00", "currency_code": "USD"}},
                                rid, paypal_token())
    assert st == 201, raw
    # Its genuine webhook, confirmed by PayPal's record: the report.
    headers, body = signed_paypal(dict(refund_event(rid, got["id"], capture, "1.00", "COMPLETED", slip),
                                       event_version="1.0", create_time="2026-12-01T12:00:00Z", summary="console"))
    assert post_paypal(headers, body) == 200
    rows = outside_rows(slip)
    assert len(rows) == 1 and rows[0].startswith("POST|"), rows
    twins_leave_nothing_kept(slip, rid, got["id"], capture)
    assert outside_rows(slip) == rows
