"""Finding the orders that hold money owed back (helper-123's held-money-list):
admin/orders?refund_needed=1 and `orderpay order list --refund-needed`. A late payment (the order
expired first) or a second payment of a paid order is held on its order in whatever state that
order is (FA, OK, RF...); before, a back office found them only by paging through every order of
every state. An order is listed while one of its refund_needed slips has less refunded OK than it
paid: a refund in flight or FAIL'd leaves it listed, one given back in full does not."""

import json
import uuid

import pytest

from conftest import STACK, cli, psql, sim
from helpers import admin, buy_ok, wait_for
from test_refund_needed_api import double_paid, late_paid

SITE = STACK["DEMO_SITE"]
USD = STACK.get("DEMO_USD_SITE", "demo-usd")


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


def cursor_before(order_id):
    us = psql("SELECT (extract(epoch from ct) * 1000000)::bigint FROM orders WHERE id = '%s'" % order_id)
    return "%d.%s" % (int(us) - 1, "0" * 26)


def listed(key, after, state=None, limit=100, site=None):
    """Every order admin/orders?refund_needed=1 lists from `after` on, walking the pages."""
    got = []
    while True:
        q = "?refund_needed=1&limit=%d&after=%s" % (limit, after) + ("&state=" + state if state else "")
        st, body, raw, _ = admin("orders", key, method="GET", params=q, site=site)
        assert st == 200, raw
        got += body["data"]["orders"]
        if not body["data"]["next"]:
            return got
        after = body["data"]["next"]


def ids(orders):
    return [o["id"] for o in orders]


def order_of(key, order_id):
    st, body, raw, _ = admin("order", key, method="GET", params="?id=" + order_id)
    assert st == 200, raw
    return body["data"]


def refund_slip(key, slip, reason="held payment"):
    st, body, raw, _ = admin("refund", key, {"slip": slip, "reason": reason, "idempotency_key": uuid.uuid4().hex})
    return st, body, raw


def paid_order():
    order = buy_ok("zfb.scan", auth_code="280000000000000002")
    assert order["or_st"] == "OK", order
    return order


def wx_done(refund_id, status="SUCCESS", st_after="OK"):
    """WeChat (v2) accepts a refund PROCESSING and tells its end by notification: paysim sends it."""
    st, body, raw, _ = sim("/sim/wx/refund_notify", {"out_refund_no": refund_id, "mch_id": STACK["DEMO_WX_MCH_ID"],
                                                     "status": status})
    assert st == 200, raw
    assert wait_for(lambda: psql("SELECT st FROM refunds WHERE id = '%s'" % refund_id) == st_after, 20)


def test_late_and_double_payments_are_listed_in_any_state_and_paid_orders_are_not(key):
    plain = paid_order()
    late = late_paid()  # FA, its only slip held
    double, first = double_paid()  # OK, paid through its second slip, the first held
    mine = {plain["id"], late["id"], double["id"]}
    got = [o for o in listed(key, cursor_before(plain["id"])) if o["id"] in mine]
    assert ids(got) == [late["id"], double["id"]], got  # oldest first
    assert [o["or_st"] for o in got] == ["FA", "OK"], got
    # Each as admin/order answers it, its held slip with nothing refunded.
    for o in got:
        assert o == order_of(key, o["id"]), o
    assert [h["slip"] for h in got[1]["refund_needed"]] == [first] and got[1]["refund_needed"][0]["refunded"] == 0
    # With a state: only that state's.
    assert late["id"] in ids(listed(key, cursor_before(plain["id"]), state="FA"))
    assert double["id"] not in ids(listed(key, cursor_before(plain["id"]), state="FA"))
    assert double["id"] in ids(listed(key, cursor_before(plain["id"]), state="OK"))
    assert late["id"] not in ids(listed(key, cursor_before(plain["id"]), state="OK"))
    assert not (mine & set(ids(listed(key, cursor_before(plain["id"]), state="RF"))))


def test_given_back_in_full_leaves_the_list_in_flight_failed_or_in_part_does_not(key):
    double, first = double_paid()  # the held slip is WeChat's: its refund is PROCESSING until notified
    start = cursor_before(double["id"])
    assert double["id"] in ids(listed(key, start))
    # In flight: the buyer does not have it yet.
    st, body, raw = refund_slip(key, first, "double payment")
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    assert double["id"] in ids(listed(key, start))
    # WeChat closes it (REFUNDCLOSE): FAIL, nothing went back, still listed.
    wx_done(body["data"]["refund"]["id"], "REFUNDCLOSE", "FAIL")
    assert double["id"] in ids(listed(key, start))
    st, body, raw = refund_slip(key, first, "double payment, again")
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    assert double["id"] in ids(listed(key, start))
    wx_done(body["data"]["refund"]["id"])
    assert double["id"] not in ids(listed(key, start))
    # It stays in the order's refund_needed, given back.
    h = order_of(key, double["id"])["refund_needed"]
    assert [x["slip"] for x in h] == [first] and h[0]["refunded"] == h[0]["amount"] == 25.0, h

    # In part: a refund of part of a held payment (as one the provider reports) leaves it listed
    # until the rest is back.
    late = late_paid("4.00")
    slip = late["pay_id"]
    psql("INSERT INTO refunds (id, order_id, slip_id, site_id, provider, merchant_id, amount, currency, reason, "
         "st, requested_by, ok_at) SELECT 'hml%s', order_id, id, site_id, provider, merchant_id, 150, currency, "
         "'part at the provider', 'OK', 'provider', now() FROM pay_slips WHERE id = '%s'" % (uuid.uuid4().hex[:20], slip))
    start = cursor_before(late["id"])
    got = [o for o in listed(key, start) if o["id"] == late["id"]]
    assert len(got) == 1 and got[0]["refund_needed"][0]["refunded"] == 1.5, got
    st, body, raw = refund_slip(key, slip, "the rest")
    assert st == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["refund"]["amount"] == 2.5, raw
    assert late["id"] not in ids(listed(key, start))


def test_pages_follow_the_cursor_with_no_order_twice(key):
    made = [late_paid() for _ in range(3)]
    start = cursor_before(made[0]["id"])
    want = [o["id"] for o in made]
    got, after, pages = [], start, 0
    while True:
        st, body, raw, _ = admin("orders", key, method="GET", params="?refund_needed=1&limit=1&after=" + after)
        assert st == 200, raw
        assert len(body["data"]["orders"]) <= 1, raw
        got += ids(body["data"]["orders"])
        pages += 1
        if not body["data"]["next"]:
            break
        assert body["data"]["next"] == "%s.%s" % (
            psql("SELECT (extract(epoch from ct) * 1000000)::bigint FROM orders WHERE id = '%s'" % got[-1]), got[-1])
        after = body["data"]["next"]
    assert len(got) == len(set(got)), got
    assert [i for i in got if i in want] == want, got
    # The default page is 20; the first page starts with the site's oldest held order.
    st, body, raw, _ = admin("orders", key, method="GET", params="?refund_needed=1")
    assert st == 200 and len(body["data"]["orders"]) <= 20, raw
    oldest = psql("SELECT o.id FROM orders o WHERE o.site_id = '%s' AND EXISTS (SELECT 1 FROM pay_slips s "
                  "WHERE s.order_id = o.id AND s.refund_needed AND s.amount > (SELECT coalesce(sum(r.amount), 0) "
                  "FROM refunds r WHERE r.slip_id = s.id AND r.st = 'OK')) ORDER BY o.ct, o.id LIMIT 1" % SITE)
    assert ids(body["data"]["orders"])[:1] == [oldest], raw


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_another_sites_held_orders_are_never_listed(key):
    from test_hostile_notify import buy_pp
    theirs = buy_pp()
    # Their slip held (written here: a PayPal payment held takes a capture the test cannot make late).
    # Undone in the end, whatever happens: `orderpay audit` (test_hostile_ops) finds an OK slip
    # with no provider transaction.
    psql("UPDATE pay_slips SET st = 'OK', refund_needed = true, paid_at = now() WHERE id = '%s'" % theirs["pay_id"])
    try:
        ours = late_paid()
        start = cursor_before(theirs["id"])
        assert theirs["id"] not in ids(listed(key, start)) and ours["id"] in ids(listed(key, start))
        usd_key = cli("apikey", "issue", "--site", USD).stdout.strip()
        theirs_listed = ids(listed(usd_key, start, site=USD))
        assert theirs["id"] in theirs_listed and ours["id"] not in theirs_listed
        # Our key on their path: refused, as every admin/ call.
        st, body, raw, _ = admin("orders", key, method="GET", params="?refund_needed=1", site=USD)
        assert st == 403 and body["errCode"] == "e.www.api.auth.forbidden", raw
    finally:
        psql("UPDATE pay_slips SET refund_needed = false, st = 'FAIL' WHERE id = '%s'" % theirs["pay_id"])


@pytest.mark.parametrize("query", [
    "", "refund_needed=0", "refund_needed=", "refund_needed=true", "refund_needed=yes", "refund_needed=11",
    "refund_needed=1%00", "refund_needed=%201", "refund_needed=-1", "refund_needed=1&refund_needed=1",
    "refund_needed=1&state=", "refund_needed=1&state=ok", "refund_needed=1&state=XX",
    "refund_needed=1&limit=0", "refund_needed=1&limit=101", "refund_needed=1&limit=", "refund_needed=1&limit=1e2",
    "refund_needed=1&after=", "refund_needed=1&after=abc", "refund_needed=1&after=1.%s" % ("A" * 26),
    "state=OK&refund_needed=0", "refund_needed", "refund_needed=1&after=-1.%s" % ("a" * 26),
])
def test_bad_queries_are_refused_with_a_reason(key, query):
    st, body, raw, _ = admin("orders", key, method="GET", params="?" + query)
    assert st == 400 and body["errCode"] in ("e.www.api.invalid.query", "e.www.api.invalid.encoding"), raw
    assert body["msg"], raw


def test_the_percent_encoded_one_is_one(key):
    st, body, raw, _ = admin("orders", key, method="GET", params="?refund%5Fneeded=%31&limit=1")
    assert st == 200, raw


def test_the_cli_lists_them_with_the_amount_held():
    plain = paid_order()
    late = late_paid("3.00")
    double, _first = double_paid()
    rows = json.loads(cli("order", "list", "--site", SITE, "--refund-needed", "--limit", "500", "--json").stdout)
    by_id = {r["id"]: r for r in rows}
    assert late["id"] in by_id and double["id"] in by_id and plain["id"] not in by_id, rows
    assert by_id[late["id"]]["held_minor"] == 300 and by_id[late["id"]]["held"] == 3.0, by_id[late["id"]]
    assert by_id[late["id"]]["or_st"] == "FA" and by_id[double["id"]]["held_minor"] == 2500
    assert all(r["held_minor"] > 0 for r in rows), rows
    # Newest first, as order list is.
    assert [r["id"] for r in rows].index(double["id"]) < [r["id"] for r in rows].index(late["id"])
    # Text: a last column REFUND-NEEDED with the amount; the plain list shows it too.
    text = cli("order", "list", "--site", SITE, "--refund-needed", "--state", "FA", "--limit", "500").stdout
    line = [ln for ln in text.splitlines() if ln.startswith(late["id"])]
    assert line and line[0].endswith("\tREFUND-NEEDED 3.00 CNY"), text
    assert double["id"] not in text
    every = cli("order", "list", "--site", SITE, "--limit", "20").stdout
    assert [ln for ln in every.splitlines() if ln.startswith(double["id"])][0].endswith("\tREFUND-NEEDED 25.00 CNY")
    assert "REFUND-NEEDED" not in [ln for ln in every.splitlines() if ln.startswith(plain["id"])][0]
    plain_json = json.loads(cli("order", "list", "--site", SITE, "--limit", "20", "--json").stdout)
    assert [r["held_minor"] for r in plain_json if r["id"] == plain["id"]] == [0], plain_json
    # A value is not a flag's: refused as a usage error, not read as another filter.
    res = cli("order", "list", "--refund-needed=0", check=False)
    assert res.returncode == 2, res


def test_an_order_holding_several_payments_is_listed_once_until_the_last_is_back(key):
    from test_hostile_held_slips import several_held
    order, _own, (a, b) = several_held(("zfb.qrcode", "wx.qrcode", "zfb.qrcode"))
    start = cursor_before(order["id"])
    # Pages of one: the order comes once, however many of its slips are held.
    got, after = [], start
    while True:
        st, body, raw, _ = admin("orders", key, method="GET", params="?refund_needed=1&limit=1&after=" + after)
        assert st == 200, raw
        got += ids(body["data"]["orders"])
        if not body["data"]["next"]:
            break
        after = body["data"]["next"]
    assert got.count(order["id"]) == 1, got
    st, body, raw = refund_slip(key, a)  # Alipay: OK at once
    assert st == 200 and body["data"]["refund"]["st"] == "OK", raw
    assert ids(listed(key, start)).count(order["id"]) == 1
    st, body, raw = refund_slip(key, b)
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    assert order["id"] in ids(listed(key, start))
    wx_done(body["data"]["refund"]["id"])
    assert order["id"] not in ids(listed(key, start))
    assert order["id"] not in [r["id"] for r in json.loads(cli("order", "list", "--site", SITE, "--refund-needed",
                                                                "--limit", "500", "--json").stdout)]
