"""pay/products: what a site sells now, as pay/buy prices it, for the shop's pages (review
s28-newuser #10: the demo page showed a price copied at start-up and charged another)."""

import secrets
import urllib.parse

import pytest

from conftest import STACK, cli, http
from helpers import buy_ok, ensure_site

SITE = STACK["DEMO_SITE"]


def products(site=SITE, query="", method="GET"):
    return http(method, "%s/api/%s/pay/products%s" % (STACK["ORDERPAY_URL"], site, query))


def listed(site=SITE, query=""):
    st, body, raw, _ = products(site, query)
    assert st == 200, raw
    return body["data"]


def test_the_catalogue_is_what_buy_charges_and_needs_no_ticket():
    data = listed()
    by_id = {p["id"]: p for p in data["products"]}
    tea = by_id[STACK["DEMO_PRODUCT"]]
    assert tea["currency"] == "CNY" and tea["decimals"] == 2 and tea["stock"] is None, tea
    assert by_id[STACK["DEMO_STOCK_PRODUCT"]]["stock"] >= 0
    assert [p["id"] for p in data["products"]] == sorted(by_id) and data["next"] is None, data
    order = buy_ok("wx.qrcode")
    line = [p for p in order["products"] if p["id"] == tea["id"]][0]
    assert line["price"] == tea["price"] and order["currency"] == tea["currency"], (line, tea)


def test_a_price_change_and_a_withdrawn_product_show_at_once():
    site = "prod" + secrets.token_hex(3)
    ensure_site(site, "--currency", "JPY")
    cli("product", "add", "p1", "--site", site, "--title", "Matcha", "--price", "300", "--currency", "JPY",
        "--stock", "4")
    cli("product", "add", "p2", "--site", site, "--title", "Bowl", "--price", "1200", "--currency", "JPY")
    first = listed(site)["products"]
    assert first == [{"id": "p1", "title": "Matcha", "price": 300, "currency": "JPY", "decimals": 0, "stock": 4},
                     {"id": "p2", "title": "Bowl", "price": 1200, "currency": "JPY", "decimals": 0,
                      "stock": None}], first
    cli("product", "add", "p1", "--site", site, "--title", "Matcha", "--price", "350", "--currency", "JPY",
        "--stock", "4")
    assert listed(site)["products"][0]["price"] == 350
    cli("product", "disable", "p2", "--site", site)
    assert [p["id"] for p in listed(site)["products"]] == ["p1"]
    cli("product", "disable", "p1", "--site", site)
    assert listed(site) == {"products": [], "next": None}


def test_pages_follow_the_cursor():
    everything = [p["id"] for p in listed()["products"]]
    assert len(everything) >= 2, everything
    first = listed(query="?limit=1")
    assert [p["id"] for p in first["products"]] == everything[:1] and first["next"] == everything[0], first
    rest = listed(query="?after=" + urllib.parse.quote(first["next"]) + "&limit=1000")
    assert [p["id"] for p in rest["products"]] == everything[1:] and rest["next"] is None, rest


@pytest.mark.parametrize("query", ["?limit=0", "?limit=1001", "?limit=abc", "?limit=-1", "?limit=", "?limit=+1",
                                   "?limit=1e3", "?after=", "?after=bad%20id", "?after=" + "a" * 65,
                                   "?after=%C3%A9"])
def test_bad_queries_are_refused_with_a_reason(query):
    st, body, raw, _ = products(query=query)
    assert st == 400 and body["errCode"] in ("e.www.api.invalid.query", "e.www.api.invalid.encoding"), raw


def test_no_such_site_and_other_methods():
    st, body, raw, _ = products(site="nosuch" + secrets.token_hex(3))
    assert st == 404 and body["errCode"] == "e.www.site.noexists", raw
    st, body, raw, _ = products(method="POST")
    assert st == 405, raw
