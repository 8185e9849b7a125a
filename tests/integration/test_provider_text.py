"""Text that crosses to or from a provider stays well-formed: a buyer's title cut to PayPal's
127-character description never splits a character (a cut 128-byte title made the whole order
request malformed), paysim refuses what PayPal would (bytes that are not UTF-8, a description
past 127 characters), and a provider's answer whose text is not UTF-8 still lets orderpay record
its verdict (PostgreSQL refuses such text, so the refusal used to be lost with an error)."""

import base64
import json
import os
import subprocess
import time

import pytest
from conftest import STACK, api, http as http_call, psql
from helpers import FakeGateway, db_row

SITE = STACK.get("DEMO_USD_SITE", "demo-usd")
CJK = "\u4e2d"  # three bytes in UTF-8


def paypal_buy(title):
    body = {"products": [{"id": "demo-tea"}], "pay_tp": "paypal", "title": title}
    return api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=SITE)


def paypal_token():
    secret = open(STACK["DEMO_PAYPAL_SECRET_FILE"]).read().strip()
    basic = base64.b64encode(("%s:%s" % (STACK["DEMO_PAYPAL_CLIENT_ID"], secret)).encode()).decode()
    status, body, raw, _ = http_call("POST", STACK["PAYSIM_URL"] + "/v1/oauth2/token",
                                     b"grant_type=client_credentials",
                                     {"Authorization": "Basic " + basic,
                                      "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, raw
    return body["access_token"]


def sim_create(raw_body, token):
    """POST /v2/checkout/orders to paysim with these exact bytes."""
    return http_call("POST", STACK["PAYSIM_URL"] + "/v2/checkout/orders", raw_body,
                     {"Authorization": "Bearer " + token, "Content-Type": "application/json",
                      "PayPal-Request-Id": "pt-" + os.urandom(6).hex()})


def order_json(description):
    ret = "%s/api/%s/pay/re_paypal" % (STACK["ORDERPAY_URL"], SITE)
    unit = {"custom_id": "pt" + os.urandom(6).hex(), "amount": {"currency_code": "USD", "value": "1.00"}}
    if description is not None:
        unit["description"] = description
    return {"intent": "CAPTURE", "purchase_units": [unit],
            "payment_source": {"paypal": {"experience_context": {"return_url": ret, "cancel_url": ret}}}}


# --- to the provider ------------------------------------------------------------------------------

@pytest.mark.parametrize("title", [
    "ab" + CJK * 42,                      # 128 bytes; byte 127 is inside the last character
    "\U0001F375" * 32,                   # 128 bytes of four-byte characters, the last across byte 127
    CJK * 42 + "xy",                      # 128 bytes; the cut at 127 falls between x and y
    "x" * 128,                            # 128 ASCII bytes: 127 characters are sent
])
def test_paypal_order_with_a_title_past_127_bytes_is_created(title):
    assert len(title.encode()) == 128
    status, body, raw, _ = paypal_buy(title)
    assert status == 200, raw
    order = body["data"]
    # The reply keeps the buyer's whole title; PayPal's copy is cut, the order's is not.
    assert order["title"] == title
    assert order["pay_re"]["st"] == "WAIT" and order["pay_re"]["re_tp"] == "LINK", raw
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % order["pay_id"]) == ["WAIT"]


def test_paysim_refuses_a_body_that_is_not_utf8_as_paypal_would():
    token = paypal_token()
    good = json.dumps(order_json("tea"), ensure_ascii=False).encode()
    status, _, raw, _ = sim_create(good, token)
    assert status == 201, raw
    cut = json.dumps(order_json("ab" + CJK * 42), ensure_ascii=False).encode()
    i = cut.index(("ab" + CJK * 42).encode()) + 127  # keep two of the last character's three bytes
    broken = cut[:i] + cut[i + 1:]
    status, body, raw, _ = sim_create(broken, token)
    assert status == 400, raw
    assert body["name"] == "INVALID_REQUEST" and body["details"][0]["issue"] == "MALFORMED_REQUEST_JSON", raw


@pytest.mark.parametrize("description,ok", [
    ("d" * 127, True), (CJK * 127, True), ("d" * 128, False), (CJK * 128, False), ("", False),
])
def test_paysim_takes_descriptions_of_1_to_127_characters(description, ok):
    token = paypal_token()
    status, body, raw, _ = sim_create(json.dumps(order_json(description), ensure_ascii=False).encode(), token)
    if ok:
        assert status == 201, raw
    else:
        assert status == 400, raw
        assert body["details"][0]["issue"] == "INVALID_STRING_LENGTH", raw


# --- from the provider ----------------------------------------------------------------------------

def paypal_liar(status, body):
    """A PayPal stand-in: a token for anyone, and every other call answered `status` with `body`."""
    token = json.dumps({"access_token": "liar", "token_type": "Bearer", "expires_in": 32400}).encode()
    return FakeGateway(lambda path, _: (200, token) if path.startswith("/v1/oauth2/token") else (status, body),
                       content_type="application/json")


def paid_paypal_order():
    h = http_call
    status, body, raw, _ = paypal_buy("text probe")
    assert status == 200, raw
    order = body["data"]
    st, _, raw, headers = h("GET", order["pay_re"]["re_obj"])
    assert st == 302, raw
    st, _, raw, _ = h("GET", headers["location"])  # the buyer's return captures the order
    for _ in range(50):
        if db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]:
            return order
        time.sleep(0.1)
    raise AssertionError("the PayPal order was not paid: %s" % raw)


@pytest.mark.parametrize("name", [
    b"UNPROCESSABLE_\xff\xfeENTITY",          # bytes that are not UTF-8
    ("X" * 78 + CJK * 3).encode(),            # text, with byte 80 inside a character
    b"NUL\\u0000INSIDE",                       # a JSON escape that decodes to NUL
])
def test_a_paypal_refusal_whose_text_is_not_utf8_is_recorded_as_a_refusal(name):
    order = paid_paypal_order()
    answer = (b'{"name":"' + name + b'","message":"refused","details":[{"issue":"REFUND_NOT_ALLOWED"}]}')
    liar = paypal_liar(422, answer)
    try:
        env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_PAYPAL_GATEWAY=liar.url,
                   ORDERPAY_HTTP_TIMEOUT_MS="3000")
        res = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "refund", order["id"],
                              "--reason", "text probe", "--key", "pt-" + order["pay_id"]],
                             env=env, capture_output=True, timeout=120)
    finally:
        liar.close()
    assert any("/refund" in p for p, _ in liar.calls), (liar.calls, res.stdout, res.stderr)
    out = res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
    # The provider's word is recorded: the refund failed, nothing is refunded, the order stays paid.
    rows = psql("SELECT st || '|' || note FROM refunds WHERE slip_id = '%s'" % order["pay_id"]).splitlines()
    assert len(rows) == 1 and rows[0].startswith("FAIL|provider: http 422 "), (rows, out)
    assert "refund.failed" in out, out
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    assert "REFUND_NOT_ALLOWED" in rows[0]
