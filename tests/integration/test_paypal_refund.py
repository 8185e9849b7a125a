"""PayPal refunds end to end through nginx, orderpayd and paysim: paysim's refund endpoint
itself (PayPal's shapes, PayPal-Request-Id idempotency, never more than captured), and a paid
PayPal order refunded through the operator API: a partial refund COMPLETED synchronously, the
rest -> fully refunded; PAYMENT.CAPTURE.REFUNDED webhooks found by their capture, duplicates
recorded once, tampered ones refused; PENDING finished by the webhook; an unknown outcome
resolved by reconcile; PayPal's refusal -> FAIL; JPY (no decimals at PayPal)."""

import base64
import json
import secrets
import urllib.parse

import pytest
from conftest import STACK, api, cli, http, psql, sim
from helpers import db_row, ensure_site, inbox

SITE = STACK.get("DEMO_USD_SITE", "demo-usd")

pytestmark = pytest.mark.skipif("DEMO_PAYPAL_CLIENT_ID" not in STACK, reason="stack.env has no PayPal merchant")


def paid_paypal_order(site=SITE, products=None):
    """A PayPal order bought, approved at paysim and captured by the buyer's return: the order."""
    body = {"products": products or [{"id": STACK["DEMO_PRODUCT"], "amount": 2}], "pay_tp": "paypal"}
    status, reply, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=site)
    assert status == 200, raw
    order = reply["data"]
    status, _, raw, headers = http("GET", order["pay_re"]["re_obj"])
    assert status == 302, raw
    status, _, raw, _ = http("GET", headers["location"], headers={"Accept": "application/json"})
    assert status == 200, raw
    status, reply, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]}, site=site)
    assert status == 200 and reply["data"]["or_st"] == "OK", raw
    return reply["data"]


def capture_of(slip_id):
    return db_row("SELECT provider_txn_id FROM pay_slips WHERE id = '%s'" % slip_id)[0]


def paypal_token():
    secret = open(STACK["DEMO_PAYPAL_SECRET_FILE"]).read().strip()
    basic = base64.b64encode(("%s:%s" % (STACK["DEMO_PAYPAL_CLIENT_ID"], secret)).encode()).decode()
    status, body, raw, _ = http("POST", STACK["PAYSIM_URL"] + "/v1/oauth2/token", b"grant_type=client_credentials",
                                {"Authorization": "Basic " + basic,
                                 "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, raw
    return body["access_token"]


def pp_refund(capture, body, request_id, token, representation=True):
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
               "PayPal-Request-Id": request_id}
    if representation:
        headers["Prefer"] = "return=representation"
    return http("POST", STACK["PAYSIM_URL"] + "/v2/payments/captures/%s/refund" % capture,
                json.dumps(body).encode(), headers)


def sim_refunds(slip_id):
    status, body, raw, _ = sim("/sim/refunds", {"out_trade_no": slip_id, "provider": "paypal"}, method="GET")
    assert status == 200, raw
    return body["data"]


def test_paysim_refund_endpoint_is_idempotent_and_never_over_refunds():
    order = paid_paypal_order()  # 9.00 USD
    capture, token = capture_of(order["pay_id"]), paypal_token()
    amount = {"value": "2.50", "currency_code": "USD"}
    status, first, raw, _ = pp_refund(capture, {"amount": amount, "invoice_id": "inv1"}, "req-1", token)
    assert status == 201, raw
    assert first["status"] == "COMPLETED" and first["amount"] == amount and first["invoice_id"] == "inv1"
    up = [l["href"] for l in first["links"] if l["rel"] == "up"]
    assert up and up[0].endswith("/v2/payments/captures/" + capture)
    # The same request id: the same refund, nothing refunded again (whatever the body says).
    status, again, raw, _ = pp_refund(capture, {"amount": {"value": "5.00", "currency_code": "USD"}}, "req-1", token)
    assert status == 200 and again["id"] == first["id"] and again["amount"] == amount, raw
    # 6.51 more would exceed the 9.00 captured.
    status, body, raw, _ = pp_refund(capture, {"amount": {"value": "6.51", "currency_code": "USD"}}, "req-2", token)
    assert status == 422 and body["details"][0]["issue"] == "REFUND_AMOUNT_EXCEEDED", raw
    # The wrong decimals, the wrong currency, an unknown capture.
    status, body, raw, _ = pp_refund(capture, {"amount": {"value": "1.001", "currency_code": "USD"}}, "req-3", token)
    assert status == 422 and body["details"][0]["issue"] == "DECIMAL_PRECISION", raw
    status, body, raw, _ = pp_refund(capture, {"amount": {"value": "1.00", "currency_code": "EUR"}}, "req-4", token)
    assert status == 422, raw
    status, _, raw, _ = pp_refund("NOSUCHCAPTURE0000", {}, "req-5", token)
    assert status == 404, raw
    # No amount: the rest (6.50); then nothing is left.
    status, rest, raw, _ = pp_refund(capture, {}, "req-6", token, representation=False)
    assert status == 201 and rest["status"] == "COMPLETED" and "amount" not in rest, raw
    status, body, raw, _ = pp_refund(capture, {}, "req-7", token)
    assert status == 422 and body["details"][0]["issue"] == "CAPTURE_FULLY_REFUNDED", raw
    status, got, raw, _ = http("GET", STACK["PAYSIM_URL"] + "/v2/payments/refunds/" + rest["id"],
                               headers={"Authorization": "Bearer " + token})
    assert status == 200 and got["amount"]["value"] == "6.50", raw
    seen = sim_refunds(order["pay_id"])
    assert seen["refunded"] == 900 and len(seen["refunds"]) == 2
    # Without a token nothing happens.
    status, _, raw, _ = http("POST", STACK["PAYSIM_URL"] + "/v2/payments/captures/%s/refund" % capture, b"{}",
                             {"Content-Type": "application/json"})
    assert status == 401, raw


def test_refund_webhook_is_found_by_its_capture():
    """A verified PAYMENT.CAPTURE.REFUNDED names only the capture: it lands on that slip. A refund
    made outside orderpay (here straight at paysim) is acknowledged and changes nothing."""
    order = paid_paypal_order()
    capture, token = capture_of(order["pay_id"]), paypal_token()
    status, _, raw, _ = pp_refund(capture, {"amount": {"value": "1.00", "currency_code": "USD"},
                                            "invoice_id": "outside1"}, "req-o1", token)
    assert status == 201, raw
    status, body, raw, _ = sim("/sim/refund", {"out_refund_no": "outside1", "provider": "paypal"})
    assert status == 200, raw
    assert [r["status"] for r in body["data"]["replies"]] == [200], raw
    rows = inbox(order["pay_id"])
    assert rows and rows[-1][0] == "ignored", rows
    # Tampered: refused (400), whatever it says.
    status, body, raw, _ = sim("/sim/refund", {"out_refund_no": "outside1", "provider": "paypal", "tamper": "sign"})
    assert status == 200 and [r["status"] for r in body["data"]["replies"]] == [400], raw
