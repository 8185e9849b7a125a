"""pay/buy refuses a body field it does not know, at the top level and in a products line, with 400
e.www.order.invalid.field "unknown field NAME" and writes nothing (README, pay/buy).

Ignored, a misspelt field changed what happened without a word: `idempotencyKey` (or the header's
name, or a "headers" object) left the buy without its key, so every retry made another order; a
line's `qty` bought the default 1. The name is echoed at most 64 bytes long, cut on a character
boundary. Every field the README lists is still read.
"""

import json
import uuid

from conftest import STACK, api, cli, psql

TICKET = STACK["DEMO_TICKET"]
SITE = STACK["DEMO_SITE"]
TEA = STACK["DEMO_PRODUCT"]


def written():
    return psql("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items), "
                "(SELECT count(*) FROM pay_slips)")


def post(body, headers=None, ticket=TICKET):
    raw = body if isinstance(body, str) else json.dumps(body)
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    return api("POST", "buy", ticket=ticket, raw_body=raw.encode(), headers=hdrs)


def refused_as_unknown(body, name):
    """Posts `body`; it must be 400 invalid.field "unknown field <name>" and write nothing."""
    before = written()
    st, reply, raw, _ = post(body)
    assert st == 400 and reply is not None, raw[:400]
    assert reply["errCode"] == "e.www.order.invalid.field", raw[:400]
    assert reply["msg"] == "unknown field " + name, raw[:400]
    assert written() == before
    return reply


def tea(**extra):
    body = {"products": [{"id": TEA, "amount": 1}], "pay_tp": "wx.qrcode"}
    body.update(extra)
    return body


def new_product(stock):
    pid = "unk-" + uuid.uuid4().hex[:10]
    cli("product", "add", pid, "--site", SITE, "--title", "probe " + pid, "--price", "2.00",
        "--stock", str(stock))
    return pid


def stock(pid):
    return int(psql("SELECT stock FROM products WHERE site_id = '%s' AND id = '%s'" % (SITE, pid)))


def test_an_unknown_top_level_field_is_refused_by_name():
    refused_as_unknown(tea(price=0.01), "price")
    refused_as_unknown(tea(coupon="FREE"), "coupon")


def test_null_for_an_unknown_field_is_still_unknown():
    refused_as_unknown(tea(discount=None), "discount")


def test_a_misspelt_idempotency_key_is_refused_and_retries_create_no_order():
    key = "unk-" + uuid.uuid4().hex
    for name, value in (("idempotencyKey", key), ("Idempotency-Key", key), ("idempotency-key", key),
                        ("headers", {"Idempotency-Key": key})):
        # A client retrying a timed-out buy sends it again: neither try may create an order.
        for _ in range(2):
            refused_as_unknown(tea(**{name: value}), name)
    assert psql("SELECT count(*) FROM orders WHERE idem_key = '%s'" % key) == "0"


def test_an_unknown_key_in_a_line_is_refused_with_its_place():
    pid = new_product(stock=5)
    refused_as_unknown({"products": [{"id": pid, "qty": 3}], "pay_tp": "wx.qrcode"}, "products[0].qty")
    refused_as_unknown({"products": [{"id": TEA}, {"id": pid, "amount": 2, "price": 0.01}],
                        "pay_tp": "wx.qrcode"}, "products[1].price")
    assert stock(pid) == 5


def test_an_unknown_field_is_refused_before_products_and_pay_type_are_looked_up():
    # Not 404 for the product nor invalid.pay_tp: the body is refused before either is read.
    refused_as_unknown({"products": [{"id": "no-such-" + uuid.uuid4().hex[:8]}], "pay_tp": "xx.nothing",
                        "cur": "USD"}, "cur")
    refused_as_unknown({"product": [{"id": TEA}], "pay_tp": "wx.qrcode"}, "product")


def test_a_very_long_unknown_key_is_echoed_bounded():
    before = written()
    st, reply, raw, _ = post(tea(**{"k" * 10000: 1}))
    assert st == 400 and reply["errCode"] == "e.www.order.invalid.field", raw[:400]
    assert reply["msg"] == "unknown field " + "k" * 64 + "…"
    assert len(raw) < 200, raw[:400]
    # Cut on a character boundary: the reply stays UTF-8 (json.loads of its bytes would fail).
    long_key = "a" + "é" * 5000
    st, reply, raw, _ = post(tea(**{long_key: 1}))
    assert st == 400 and reply is not None, raw[:400]
    assert reply["msg"] == "unknown field a" + "é" * 31 + "…"
    st, reply, raw, _ = post({"products": [{"id": TEA, long_key: 1}], "pay_tp": "wx.qrcode"})
    assert st == 400 and reply is not None, raw[:400]
    assert reply["msg"] == "unknown field products[0].a" + "é" * 31 + "…"
    assert written() == before


def test_a_body_with_every_known_field_is_bought():
    key = "unk-" + uuid.uuid4().hex
    body = {"products": [{"id": TEA, "amount": 2}], "pay_tp": "wx.qrcode", "auth_code": None,
            "tp": "A", "title": "every field", "note": "all of them", "idempotency_key": key,
            "name": "N", "phone": "1", "email": "e@x", "country": "CN", "province": "P", "city": "C",
            "district": "D", "address": "A", "postcode": "100000", "company": "Co"}
    st, reply, raw, _ = post(body)
    assert st == 200 and reply["ok"] is True, raw[:400]
    order = reply["data"]
    assert order["title"] == "every field" and order["products"][0]["amount"] == 2
    assert psql("SELECT count(*) FROM orders WHERE idem_key = '%s'" % key) == "1"
    st, again, raw, _ = post(body)
    assert st == 200 and again["data"]["id"] == order["id"], raw[:400]
    # auth_code is read too (a scan's), with a value.
    scan = dict(body, pay_tp="wx.scan", auth_code="130000000000000001", idempotency_key=None)
    st, reply, raw, _ = post(scan)
    assert st == 200 and reply["data"]["or_st"] == "OK", raw[:400]
