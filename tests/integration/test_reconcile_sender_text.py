"""A refusal before the signature is checked may repeat what the sender wrote (WeChat's claimed
sign_type, PayPal's PAYPAL-AUTH-ALGO header), and MISMATCH's pattern is not anchored, so a
stranger knowing only a slip id made reconcile report "another amount paid" on it, and with the
newest row winning, replaced a genuine report's figures (review s28-attack #1). A row marked
`unverified: ` or `return: ` is never a report."""
import json
import secrets

import pytest

from conftest import STACK, cli, http, psql
from helpers import buy_ok, sim_pay
from test_hostile_notify import buy_pp, post_paypal, wx_fields, wx_xml

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
