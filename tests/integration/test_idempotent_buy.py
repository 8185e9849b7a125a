"""pay/buy with an Idempotency-Key (header or idempotency_key field): a retry gets the same order
with no second order and no second provider call, another body with the key is a 409, concurrent
requests with one key make one order. And orders a provider must refuse are refused before
anything is written."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import STACK, api, cli, psql
from helpers import ensure_site


def buy_raw(body, key=None, ticket=None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api("POST", "buy", ticket=ticket or STACK["DEMO_TICKET"], raw_body=json.dumps(body), headers=headers)


def body(amount=1, **extra):
    b = {"products": [{"id": STACK["DEMO_PRODUCT"], "amount": amount}], "pay_tp": "wx.qrcode"}
    b.update(extra)
    return b


def count_orders():
    return int(psql("SELECT count(*) FROM orders"))


def test_same_key_same_body_returns_the_same_order():
    key = "k-" + uuid.uuid4().hex
    st1, b1, raw1, _ = buy_raw(body(), key)
    assert st1 == 200, raw1
    before = count_orders()
    st2, b2, raw2, _ = buy_raw(body(), key)
    assert st2 == 200, raw2
    assert b2["data"]["id"] == b1["data"]["id"] and b2["data"]["pay_id"] == b1["data"]["pay_id"]
    assert count_orders() == before
    # One slip: every provider call is made for a slip, so the retry made none.
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % b1["data"]["id"]) == "1"


def test_same_key_other_body_is_409_and_writes_nothing():
    key = "k-" + uuid.uuid4().hex
    assert buy_raw(body(1), key)[0] == 200
    before = count_orders()
    st, b, raw, _ = buy_raw(body(2), key)
    assert st == 409 and b["errCode"] == "e.www.api.idempotency_mismatch", raw
    assert count_orders() == before


def test_key_in_the_body_field_works_too():
    key = "f-" + uuid.uuid4().hex
    st1, b1, raw1, _ = buy_raw(body(idempotency_key=key))
    st2, b2, raw2, _ = buy_raw(body(idempotency_key=key))
    assert st1 == st2 == 200, (raw1, raw2)
    assert b1["data"]["id"] == b2["data"]["id"]


def test_keys_are_per_buyer():
    key = "b-" + uuid.uuid4().hex
    st1, b1, raw1, _ = buy_raw(body(), key)
    st2, b2, raw2, _ = buy_raw(body(), key, ticket=STACK["DEMO_TICKET_BOB"])
    assert st1 == st2 == 200, (raw1, raw2)
    assert b1["data"]["id"] != b2["data"]["id"]


def test_concurrent_requests_with_one_key_make_one_order():
    key = "c-" + uuid.uuid4().hex
    before = count_orders()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: buy_raw(body(), key), range(10)))
    assert [r[0] for r in results] == [200] * 10, [r[2][:200] for r in results]
    assert len({r[1]["data"]["id"] for r in results}) == 1
    assert count_orders() == before + 1


def test_bad_keys_are_400():
    for key in ["", "x" * 65, "bad key", "ключ"]:
        st, b, raw, _ = buy_raw(body(), key.encode("utf-8").decode("latin-1"))
        assert st == 400 and b["errCode"] == "e.www.order.invalid.field", (key, raw)
    st, b, raw, _ = buy_raw(body(idempotency_key=5))
    assert st == 400 and b["errCode"] == "e.www.order.invalid.field", raw


def test_provider_limits_are_checked_before_writing():
    site = "limits-" + uuid.uuid4().hex[:6]
    ensure_site(site, "--store", "demo-users", "--currency", "CNY")
    cli("seller", "set", "--site", site, "--prefix", "wx", "--merchant", STACK["DEMO_MERCHANT"])
    cli("seller", "set", "--site", site, "--prefix", "zfb", "--merchant", STACK["DEMO_ZFB_MERCHANT"])
    cli("product", "add", "free", "--site", site, "--title", "Free", "--price", "0")
    cli("product", "add", "huge", "--site", site, "--title", "Huge", "--price", "100000000.01")
    cli("product", "add", "wxmax", "--site", site, "--title", "Over WeChat", "--price", "21474836.48", "--stock", "3")
    usd = "usd-" + uuid.uuid4().hex[:6]
    ensure_site(usd, "--store", "demo-users", "--currency", "USD")
    cli("seller", "set", "--site", usd, "--prefix", "wx", "--merchant", STACK["DEMO_MERCHANT"])
    cli("product", "add", "usd-tea", "--site", usd, "--title", "Tea", "--price", "1.00")
    cases = [
        (site, "free", "wx.qrcode", "e.www.order.invalid.amount"),
        (site, "free", "zfb.qrcode", "e.www.order.invalid.amount"),
        (site, "huge", "zfb.qrcode", "e.www.order.invalid.amount"),
        (site, "wxmax", "wx.qrcode", "e.www.order.invalid.amount"),
        (usd, "usd-tea", "wx.qrcode", "e.www.order.invalid.currency"),
    ]
    before = count_orders()
    for s, product, pay_tp, code in cases:
        st, b, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=s,
                            json={"products": [{"id": product, "amount": 1}], "pay_tp": pay_tp})
        assert st == 400 and b["errCode"] == code, (s, product, pay_tp, raw)
    assert count_orders() == before
    assert psql("SELECT stock FROM products WHERE site_id = '%s' AND id = 'wxmax'" % site) == "3"
