"""admin/orders: a back office's list of the site's orders in one state, oldest first, a page at
a time, each as admin/order answers it (review s28-newuser #2: the paid orders to ship could be
found only with the operator CLI on the database host)."""

import json
import uuid

import pytest

from conftest import STACK, cli, http, psql
from helpers import buy_ok
from test_hostile_notify import buy_pp

SITE = STACK["DEMO_SITE"]
USD = STACK.get("DEMO_USD_SITE", "demo-usd")


def key(site=SITE):
    return cli("apikey", "issue", "--site", site).stdout.strip()


def get(path, k, site=SITE, method="GET"):
    return http(method, "%s/api/%s/admin/%s" % (STACK["ORDERPAY_URL"], site, path),
                headers={"Authorization": "Bearer " + k})


def paid_order():
    order = buy_ok("zfb.scan", auth_code="280000000000000002")
    assert order["or_st"] == "OK", order
    return order


def cursor_before(order_id):
    """A cursor just before `order_id`: its ct in microseconds less one, and the smallest id."""
    us = psql("SELECT (extract(epoch from ct) * 1000000)::bigint FROM orders WHERE id = '%s'" % order_id)
    return "%d.%s" % (int(us) - 1, "0" * 26)


def page(k, state, after=None, limit=None, site=SITE):
    q = "orders?state=" + state + ("&after=" + after if after else "") + ("&limit=%d" % limit if limit else "")
    st, body, raw, _ = get(q, k, site)
    assert st == 200, raw
    return body["data"]


def test_pages_of_paid_orders_oldest_first_each_as_admin_order_answers_it():
    k = key()
    orders = [paid_order() for _ in range(3)]
    start = cursor_before(orders[0]["id"])
    first = page(k, "OK", after=start, limit=2)
    assert [o["id"] for o in first["orders"]] == [orders[0]["id"], orders[1]["id"]], first
    assert first["next"], first
    second = page(k, "OK", after=first["next"], limit=2)
    assert [o["id"] for o in second["orders"]] == [orders[2]["id"]] and second["next"] is None, second
    # The buyer's fields come with each, as admin/order gives them to operators.
    one = get("order?id=" + orders[1]["id"], k)[1]["data"]
    assert first["orders"][1] == one, (first["orders"][1], one)
    assert "buyer_id" in one and "note" in one, one
    # Shipped, it leaves the paid list for the shipped one.
    st, _, raw, _ = http("POST", "%s/api/%s/admin/ship" % (STACK["ORDERPAY_URL"], SITE),
                         body=b'{"order":"%s"}' % orders[1]["id"].encode(),
                         headers={"Authorization": "Bearer " + k, "Content-Type": "application/json"})
    assert st == 200, raw
    assert [o["id"] for o in page(k, "OK", after=start)["orders"]] == [orders[0]["id"], orders[2]["id"]]
    assert orders[1]["id"] in [o["id"] for o in page(k, "SP", after=start, limit=100)["orders"]]


def test_a_full_last_page_leads_to_an_empty_one():
    k = key()
    order = paid_order()
    only = page(k, "OK", after=cursor_before(order["id"]), limit=1)
    assert [o["id"] for o in only["orders"]] == [order["id"]] and only["next"], only
    assert page(k, "OK", after=only["next"], limit=1) == {"orders": [], "next": None}


def test_the_first_page_starts_with_the_sites_oldest_order_in_that_state():
    k = key()
    oldest = psql("SELECT id FROM orders WHERE site_id = '%s' AND or_st = 'OK' ORDER BY ct, id LIMIT 1" % SITE)
    if not oldest:
        paid_order()
        oldest = psql("SELECT id FROM orders WHERE site_id = '%s' AND or_st = 'OK' ORDER BY ct, id LIMIT 1" % SITE)
    got = page(k, "OK", limit=1)["orders"]
    assert [o["id"] for o in got] == [oldest], got
    assert len(page(k, "OK")["orders"]) <= 20  # the default page


def test_orders_of_several_lines_with_refunds_are_each_as_admin_order_answers_them():
    """A page is one statement of one row per line: each order's lines, slip and refunds stay its
    own however many lines its neighbours have, in the order the buyer listed them."""
    k = key()
    tag = uuid.uuid4().hex[:8]
    extra = ["ao-%s-%d" % (tag, i) for i in range(3)]
    for i, pid in enumerate(extra):
        cli("product", "add", pid, "--site", SITE, "--title", "Line %d of %s" % (i, tag), "--price", "%d.00" % (i + 1))
    try:
        shapes = [[extra[2], extra[0], extra[1]], [STACK["DEMO_PRODUCT"]], [extra[1], extra[2]]]
        orders = [buy_ok("zfb.scan", auth_code="280000000000000002",
                         products=[{"id": pid, "amount": n + 1} for n, pid in enumerate(shape)]) for shape in shapes]
        assert all(o["or_st"] == "OK" for o in orders), orders
        st, _, raw, _ = http("POST", "%s/api/%s/admin/refund" % (STACK["ORDERPAY_URL"], SITE),
                             body=json.dumps({"order": orders[0]["id"], "amount": 1.0, "reason": "one cup",
                                              "idempotency_key": uuid.uuid4().hex}).encode(),
                             headers={"Authorization": "Bearer " + k, "Content-Type": "application/json"})
        assert st == 200, raw
        got = []
        after = cursor_before(orders[0]["id"])
        while True:
            p = page(k, "OK", after=after, limit=2)
            got += [o for o in p["orders"] if o["id"] in {x["id"] for x in orders}]
            if not p["next"] or len(got) == len(orders):
                break
            after = p["next"]
        assert [o["id"] for o in got] == [o["id"] for o in orders], got
        for listed, shape in zip(got, shapes):
            assert [line["id"] for line in listed["products"]] == shape, listed
            assert listed == get("order?id=" + listed["id"], k)[1]["data"], listed
        assert got[0]["refunds"] and not got[1]["refunds"] and not got[2]["refunds"], got
    finally:
        for pid in extra:
            cli("product", "disable", pid, "--site", SITE)


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_another_sites_orders_are_not_listed_and_its_key_is_refused():
    k = key()
    theirs = buy_pp()  # waiting (WT) on the USD site
    listed = page(k, "WT", after=cursor_before(theirs["id"]), limit=100)["orders"]
    assert theirs["id"] not in [o["id"] for o in listed], listed
    assert theirs["id"] in [o["id"] for o in page(key(USD), "WT", after=cursor_before(theirs["id"]),
                                                  limit=100, site=USD)["orders"]]
    st, body, raw, _ = get("orders?state=OK", key(USD))
    assert st == 403 and body["errCode"] == "e.www.api.auth.forbidden", raw
    st, body, raw, _ = http("GET", "%s/api/%s/admin/orders?state=OK" % (STACK["ORDERPAY_URL"], SITE))
    assert st == 401 and body["errCode"] == "e.www.api.auth.nokey", raw
    st, body, raw, _ = http("GET", "%s/api/%s/admin/orders?state=OK&ticket=%s" % (STACK["ORDERPAY_URL"], SITE,
                                                                                 STACK["DEMO_TICKET"]))
    assert st == 401, raw  # a buyer's ticket never opens an operator route
    st, body, raw, _ = get("orders?state=OK", k, method="POST")
    assert st == 405, raw


@pytest.mark.parametrize("query", [
    "", "state=", "state=ok", "state=XX", "state=OK%00", "state=OKOK",
    "state=OK&limit=0", "state=OK&limit=101", "state=OK&limit=abc", "state=OK&limit=-1", "state=OK&limit=1e2",
    "state=OK&limit=", "state=OK&limit=+5",
    "state=OK&after=", "state=OK&after=abc", "state=OK&after=123", "state=OK&after=123.",
    "state=OK&after=.%s" % ("a" * 26), "state=OK&after=-1.%s" % ("a" * 26), "state=OK&after=1.%s" % ("A" * 26),
    "state=OK&after=1.%s" % ("a" * 33), "state=OK&after=1234567890123456789.%s" % ("a" * 26),
    "state=OK&after=1.%s%%00" % ("a" * 25),
])
def test_bad_queries_are_refused_with_a_reason(query):
    st, body, raw, _ = get("orders?" + query, key())
    assert st == 400 and body["errCode"] in ("e.www.api.invalid.query", "e.www.api.invalid.encoding"), raw
    assert body["msg"], raw


@pytest.mark.parametrize("path, name", [
    # A misspelt filter used to be ignored: the page then held every OK order, held money or not.
    ("orders?state=OK&refund-needed=1", "refund-needed"),
    ("orders?state=OK&Refund_needed=1", "Refund_needed"),
    ("orders?State=OK", "State"),
    ("orders?state=OK&limit=5&Limit=1", "Limit"),
    ("orders?state=OK&id=x", "id"),
    ("order?id=x&state=OK", "state"),
    ("order?ID=x", "ID"),
    ("orders?state=OK&%s=1" % ("n" * 200), "n" * 64 + "…"),
])
def test_a_query_name_an_operator_route_does_not_read_is_refused_by_name(path, name):
    st, body, raw, _ = get(path, key())
    assert st == 400 and body["errCode"] == "e.www.api.invalid.query", raw
    assert body["msg"] == "unknown query name " + name, raw


def test_a_cache_buster_is_not_an_unknown_name():
    k = key()
    order = paid_order()
    st, body, raw, _ = get("order?id=%s&_=1733600000000" % order["id"], k)
    assert st == 200 and body["data"]["id"] == order["id"], raw
    st, body, raw, _ = get("orders?state=OK&limit=1&_=1733600000000", k)
    assert st == 200 and len(body["data"]["orders"]) == 1, raw
