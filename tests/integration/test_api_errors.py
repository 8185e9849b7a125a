"""Every seed error code and every HTTP error class, through nginx, for the condition that
DESIGN.md gives it."""

import hashlib

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import buy, buy_ok, ensure_site


@pytest.fixture(scope="module")
def fixtures():
    """A site with no account store, one with no merchant, a foreign account, an expired ticket."""
    ensure_site("noaccts", "--name", "No account store")
    cli("store", "add", "other-users")
    ensure_site("nomerchant", "--store", "demo-users")
    cli("product", "add", "nm-tea", "--site", "nomerchant", "--title", "Tea", "--price", "1.00")
    cli("account", "add", "mallory", "--store", "other-users")
    foreign = cli("ticket", "issue", "--account", "mallory").stdout.strip()
    # A ticket's lifetime must be positive; an expired one is made by moving its expiry back.
    assert cli("ticket", "issue", "--account", "alice", "--ttl-hours", "0", check=False).returncode == 2
    expired = cli("ticket", "issue", "--account", "alice", "--ttl-hours", "1").stdout.strip()
    psql("UPDATE sessions SET expires_at = now() - interval '1 second' "
         "WHERE ticket_hash = decode('%s', 'hex')" % hashlib.sha256(expired.encode()).hexdigest())
    return {"foreign": foreign, "expired": expired}


def expect(resp, status, code):
    st, body, raw, headers = resp
    assert st == status, raw
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert body["ok"] is False and body["errCode"] == code, raw
    assert body.get("msg"), raw
    return body


def test_nil_products_missing_empty_or_zero():
    for products in (None, [], [{"id": STACK["DEMO_PRODUCT"], "amount": 0}]):
        body = {"pay_tp": "wx.qrcode"}
        if products is not None:
            body["products"] = products
        expect(api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body), 400, "e.www.order.nil.products")


def test_nil_pay_tp():
    expect(buy(pay_tp=None), 400, "e.www.order.nil.pay_tp")


def test_invalid_pay_tp_unknown_type():
    expect(buy(pay_tp="bitcoin"), 400, "e.www.order.invalid.pay_tp")


def test_invalid_pay_tp_site_without_merchant(fixtures):
    resp = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site="nomerchant",
               json={"products": [{"id": "nm-tea"}], "pay_tp": "wx.qrcode"})
    expect(resp, 400, "e.www.order.invalid.pay_tp")


def test_nil_accounts(fixtures):
    resp = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site="noaccts",
               json={"products": [{"id": "x"}], "pay_tp": "wx.qrcode"})
    expect(resp, 400, "e.www.order.nil.accounts")


def test_nil_buyer_id_ticket_of_another_store(fixtures):
    expect(buy(ticket=fixtures["foreign"]), 400, "e.www.order.nil.buyer_id")


def test_nologin_missing_unknown_expired(fixtures):
    body = {"products": [{"id": STACK["DEMO_PRODUCT"]}], "pay_tp": "wx.qrcode"}
    expect(api("POST", "buy", json=body), 401, "e.www.api.auth.nologin")
    expect(api("POST", "buy", ticket="not-a-ticket", json=body), 401, "e.www.api.auth.nologin")
    expect(api("POST", "buy", ticket=fixtures["expired"], json=body), 401, "e.www.api.auth.nologin")
    expect(api("GET", "check", params={"id": "x"}), 401, "e.www.api.auth.nologin")


def test_unknown_product_is_noexists():
    expect(buy(products=[{"id": "no-such-product"}]), 404, "e.io.obj.noexists")


def test_invalid_tp():
    expect(buy(tp="Z"), 400, "e.www.order.invalid.tp")


def test_negative_or_fractional_amount():
    expect(buy(products=[{"id": STACK["DEMO_PRODUCT"], "amount": -1}]), 400, "e.www.order.invalid.amount")
    expect(buy(products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1.5}]), 400, "e.www.order.invalid.amount")
    # "2" is not a number at all: a field of the wrong type (test_bad_input.py has the others).
    expect(buy(products=[{"id": STACK["DEMO_PRODUCT"], "amount": "2"}]), 400, "e.www.order.invalid.field")


def test_out_of_store_when_asking_more_than_stock():
    body = expect(buy(products=[{"id": STACK["DEMO_STOCK_PRODUCT"], "amount": 6}]), 409, "e.www.order.OutOfStore")
    assert body["data"]["product"] == STACK["DEMO_STOCK_PRODUCT"]


def test_someone_elses_order_is_404():
    order = buy_ok()
    bob = STACK["DEMO_TICKET_BOB"]
    expect(api("GET", "check", ticket=bob, params={"id": order["id"]}), 404, "e.io.obj.noexists")
    expect(api("GET", "pay", ticket=bob, params={"id": order["id"]}), 404, "e.io.obj.noexists")
    expect(api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": "nosuchorder"}), 404, "e.io.obj.noexists")


def test_missing_id():
    expect(api("GET", "check", ticket=STACK["DEMO_TICKET"]), 400, "e.www.order.nil.id")


def test_malformed_json_and_non_object():
    expect(api("POST", "buy", ticket=STACK["DEMO_TICKET"], raw_body="{\"products\":",
               headers={"Content-Type": "application/json"}), 400, "e.www.api.invalid.json")
    expect(api("POST", "buy", ticket=STACK["DEMO_TICKET"], raw_body="[1,2]",
               headers={"Content-Type": "application/json"}), 400, "e.www.api.invalid.json")
    deep = "[" * 100 + "]" * 100
    expect(api("POST", "buy", ticket=STACK["DEMO_TICKET"], raw_body=deep,
               headers={"Content-Type": "application/json"}), 400, "e.www.api.invalid.json")


def test_malformed_query_escape():
    url = "%s/api/%s/pay/check?ticket=%s&id=%%zz" % (STACK["ORDERPAY_URL"], STACK["DEMO_SITE"], STACK["DEMO_TICKET"])
    expect(http("GET", url), 400, "e.www.api.invalid.query")


def test_body_too_large():
    big = "{\"pad\":\"" + "x" * 70000 + "\"}"
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], raw_body=big,
                           headers={"Content-Type": "application/json"})
    assert st == 413, raw  # nginx's client_max_body_size or our own limit, whichever is lower


def test_wrong_method_is_405_and_unknown_action_404():
    st, body, raw, headers = api("GET", "buy", ticket=STACK["DEMO_TICKET"])
    assert st == 405 and body["errCode"] == "e.www.api.method", raw
    # orderpayd's 404 and nginx's (a path outside /api) read alike: "no such api" was orderpayd's.
    assert expect(api("GET", "nope"), 404, "e.www.api.noexists")["msg"] == "no such API"
    assert expect(http("GET", STACK["ORDERPAY_URL"] + "/nothing"), 404, "e.www.api.noexists")["msg"] == "no such API"
    expect(api("GET", "check", site="no-such-site", ticket=STACK["DEMO_TICKET"], params={"id": "x"}), 404,
           "e.www.site.noexists")


def test_scan_without_auth_code():
    expect(buy(pay_tp="wx.scan"), 400, "e.www.order.nil.auth_code")


def test_scan_with_a_code_that_is_not_one_names_the_field():
    for code in ("abc", "1" * 33, "12 34"):
        st, body, raw, _ = buy(pay_tp="wx.scan", auth_code=code)
        assert st == 400 and body["errCode"] == "e.www.order.invalid.field", raw
        assert body["msg"].startswith("auth_code: 1 to 32 digits"), raw


def test_jsapi_without_openid(fixtures):
    cli("account", "add", "noopenid", "--store", "demo-users")
    ticket = cli("ticket", "issue", "--account", "noopenid").stdout.strip()
    expect(buy(pay_tp="wx.jsapi", ticket=ticket), 400, "e.www.order.nil.openid")
