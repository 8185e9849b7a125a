"""A refusal may repeat what the sender wrote (WeChat's claimed sign_type, PayPal's
PAYPAL-AUTH-ALGO header, a refund id in a PayPal webhook twin), and MISMATCH's pattern was anchored
at one branch only, so a stranger knowing a slip id (and, for the twin, holding one genuine PayPal
transmission) made reconcile report "another amount paid" on it, kept for good, and with the newest
row winning, replaced a genuine report's figures (review s28-attack #1, s28b-attack #1). The
pattern is anchored to what writes a report (migration 025)."""
import json
import re
import secrets

import pytest

from conftest import STACK, cli, http, psql
from helpers import buy_ok, sim_pay
from test_hostile_notify import buy_pp, forged_twin, paypal_webhook, post_paypal, wx_fields, wx_xml

USD = STACK.get("DEMO_USD_SITE", "demo-usd")
needs_paypal = pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")


def reasons(slip_id):
    out = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' ORDER BY id" % slip_id)
    return out.splitlines() if out else []


def listed(slip_id):
    # --min-age 3600: nothing is asked of the provider about the fresh slip; the list only.
    out = cli("reconcile", "--min-age", "3600").stdout
    return [line for line in out.splitlines() if slip_id in line]


def listed_json(slip_id):
    out = json.loads(cli("reconcile", "--min-age", "3600", "--json").stdout)
    items = out["attention"] if isinstance(out, dict) else out
    return [item for item in items if slip_id in json.dumps(item)]


def post_wx(xml):
    st, _, _, _ = http("POST", STACK["ORDERPAY_URL"] + "/api/demo/pay/re_wx", body=xml.encode(),
                    headers={"Content-Type": "text/xml"})
    return st


def unsigned_wx(slip_id, fee, sign_type):
    fields = wx_fields(slip_id, fee)
    fields["sign_type"] = sign_type
    fields["sign"] = "0" * 32
    return "<xml>" + "".join("<%s><![CDATA[%s]]></%s>" % kv for kv in
                             ((k, v, k) for k, v in fields.items())) + "</xml>"


def test_an_unsigned_wechat_post_quoting_a_mismatch_is_no_report():
    order = buy_ok("wx.qrcode")
    slip = order["pay_id"]
    fee = int(round(order["fee"] * 100))
    post_wx(unsigned_wx(slip, fee, "amount/currency 999900 CNY != slip %d" % fee))
    rows = reasons(slip)
    assert len(rows) == 1 and rows[0].startswith("rejected|unverified: ") and "!= slip" in rows[0], rows
    assert not [line for line in listed(slip) if "MISMATCH" in line]
    assert not [item for item in listed_json(slip) if item.get("kind") == "MISMATCH"]


@needs_paypal
def test_an_unsigned_paypal_webhook_quoting_a_mismatch_in_its_auth_algo_is_no_report():
    order = buy_pp()
    slip = order["pay_id"]
    body = json.dumps({"id": "WH-" + secrets.token_hex(8).upper(), "event_type": "PAYMENT.CAPTURE.COMPLETED",
                       "resource": {"id": "CAPX", "status": "COMPLETED",
                                    "amount": {"currency_code": "USD", "value": "1.00"}, "custom_id": slip}})
    headers = {"Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": "t1",
               "PAYPAL-TRANSMISSION-TIME": "2026-01-01T00:00:00Z", "PAYPAL-TRANSMISSION-SIG": "AAAA",
               "PAYPAL-CERT-URL": "https://api-m.paypal.com/v1/notifications/certs/X",
               "PAYPAL-AUTH-ALGO": "amount/currency 1 != slip 9"}
    assert post_paypal(headers, body) == 400
    rows = reasons(slip)
    assert len(rows) == 1 and rows[0].startswith("rejected|unverified: ") and "!= slip" in rows[0], rows
    assert not [line for line in listed(slip) if "MISMATCH" in line]


def test_a_strangers_later_post_does_not_replace_a_genuine_reports_figures():
    order = buy_ok("wx.qrcode")
    slip = order["pay_id"]
    fee = int(round(order["fee"] * 100))
    try:
        # Signed with the merchant's key: the provider's own word that 999.00 was paid.
        assert post_wx(wx_xml(wx_fields(slip, 99900))) == 200
        before = listed(slip)
        assert len(before) == 1 and before[0].startswith("MISMATCH ") and "notified 99900" in before[0], before
        post_wx(unsigned_wx(slip, fee, "amount/currency %d CNY != slip %d CNY (resolved)" % (fee, fee)))
        after = listed(slip)
        assert after == before, (before, after)
        assert "(resolved)" not in json.dumps(listed_json(slip))
    finally:
        # Paid at the provider for the right amount: settled, no longer listed, the audit clean.
        sim_pay(slip)
        assert not listed(slip)


@needs_paypal
def test_a_refund_twin_quoting_a_mismatch_in_its_refund_id_is_no_report_and_goes():
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")  # any genuine transmission
    order = buy_pp()
    slip = order["pay_id"]
    twin = forged_twin(genuine, {"id": "WH-" + secrets.token_hex(10).upper(), "event_type": "PAYMENT.CAPTURE.REFUNDED",
                                 "resource_type": "refund",
                                 "resource": {"id": "amount/currency 999900 USD != slip 900", "status": "COMPLETED",
                                              "amount": {"currency_code": "USD", "value": "9999.00"},
                                              "custom_id": slip}})
    assert post_paypal(headers, twin) == 400
    rows = reasons(slip)
    assert len(rows) == 1 and rows[0].startswith("rejected|unverified: notified refund "), rows
    assert not [line for line in listed(slip) if "MISMATCH" in line]
    # Gone with the unverified rows after their window, not kept as a report.
    row = psql("SELECT id FROM notifications WHERE slip_id = '%s'" % slip)
    psql("UPDATE notifications SET ct = ct - interval '8 days' WHERE id = %s" % row)
    cli("inbox", "prune", "--rejected-older-than", "7d")
    assert psql("SELECT count(*) FROM notifications WHERE id = %s" % row) == "0"


@pytest.mark.parametrize("reason,report", [
    ("amount check failed: notified 99900, slip 2500", True),
    ("currency check failed: notified USD, slip CNY", True),
    ("amount/currency 99900 CNY != slip 2500 CNY", True),
    ("completed: amount/currency 99900 USD != slip 900 USD", True),
    ("confirmed by query: amount/currency 1 USD != slip 900 USD", True),
    ("confirmed by query (capture 7XY, notified 8AB): amount/currency 1 USD != slip 900 USD", True),
    ("notified PAYMENT.CAPTURE.DENIED, but paid by query: amount/currency 1 USD != slip 900 USD", True),
    ("unverified: sign_type amount/currency 1 CNY != slip 2 does not match", False),
    ("notified refund amount/currency 999900 USD != slip 900, not borne out: x", False),
    ("confirmed by query (capture 7XY, notified a): amount/currency 1 != slip 2): slip already OK", False),
    ("notified x: amount/currency 1 != slip, but paid by query: slip already OK with transaction 1", False),
    ("provider mismatch: slip s was issued by wx (amount/currency 1 != slip 2)", False),
])
def test_the_mismatch_pattern_is_exactly_what_writes_a_report(reason, report):
    from conftest import cli as run
    pattern = re.search(r"reason ~ ('\^\(\(amount[^']*')", run("sql", "slips_needing_attention").stdout).group(1)
    assert psql("SELECT %s ~ %s" % ("'" + reason.replace("'", "''") + "'", pattern)) == ("t" if report else "f")
