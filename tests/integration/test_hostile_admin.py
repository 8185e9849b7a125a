"""Hostile and careless callers of the operator API (admin/*) beyond test_refund*.py,
test_admin_ticket.py, test_admin_orders.py and test_operator_orders.py: a refund body with a
misspelt field, keys in odd places and shapes, revoked keys on every route, another site's key,
order and cursor, admin/orders' bounds, ticket accounts at their limits and across stores, a
ticket revoked while its buyer is mid-buy, and refunds racing a second refund of the last unit,
admin/ship and a chargeback-free done. Every reply goes through conftest's http(), which checks it
against api/openapi.yaml."""

import json
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import (Locker, admin, buy_ok, check, ensure_site, lock_waiters, paid_through_another_slip, recorded,
                     refund_rows, sim_pay, sim_refunded, sim_trade, wait_for)
from test_hostile_ops import late_pay
from test_paypal_refund import JPY_SITE, jpy_key, paid_paypal_order  # noqa: F401 (jpy_key: a fixture)

SITE = STACK["DEMO_SITE"]
OTHER_SITE = "ha-site2"
OTHER_STORE = "ha-store2"


def refund(key, order, amount=None, reason="probe", idem=None, site=None, **extra):
    body = {"order": order, "reason": reason, "idempotency_key": idem or uuid.uuid4().hex}
    if amount is not None:
        body["amount"] = amount
    body.update(extra)
    return admin("refund", key, body, site=site)


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


@pytest.fixture(scope="module")
def other_key():
    """A key of another site, with an account store of its own."""
    cli("store", "add", OTHER_STORE, check=False)
    ensure_site(OTHER_SITE, "--store", OTHER_STORE)
    return cli("apikey", "issue", "--site", OTHER_SITE).stdout.strip()


def paid_zfb(amount=2):
    """An Alipay order (12.50 a tea) paid at once by scan code 280..."""
    order = buy_ok("zfb.scan", auth_code="280000000000000002",
                   products=[{"id": STACK["DEMO_PRODUCT"], "amount": amount}])
    assert order["or_st"] == "OK", order
    return order


# ---------------------------------------------------------------- admin/refund: a careless body


@pytest.mark.parametrize("field", ["amout", "Amount", "amount_cny", "refund_amount", "amount "])
def test_a_misspelt_amount_is_refused_not_read_as_all_that_is_left(key, field):
    """A back office that misspells "amount" must not refund the whole payment: without the
    field, admin/refund refunds all that is left, so an unknown field is refused by name and
    nothing is written or sent."""
    order = paid_zfb()
    st, body, raw, _ = refund(key, order["id"], **{field: "1.00"})
    assert st == 400 and body["errCode"] == "e.www.order.invalid.field", raw
    assert body["msg"] == "unknown field " + field, raw
    assert refund_rows(order["id"]) == 0 and sim_refunded(order["pay_id"]) == 0
    # Other unknown fields are refused too (a currency orderpay would not read, a note it has
    # nowhere to keep), and the good body still refunds just the part.
    for extra in ({"currency": "USD"}, {"note": "x"}):
        st, body, raw, _ = refund(key, order["id"], "1.00", **extra)
        assert st == 400 and body["msg"] == "unknown field " + next(iter(extra)), raw
    # "slip" is admin/refund's other way to name the money (a refund_needed slip), never with
    # "order": which would go back is not left to the server.
    st, body, raw, _ = refund(key, order["id"], "1.00", slip=order["pay_id"])
    assert st == 400 and body["errCode"] == "e.www.order.invalid.field", raw
    assert body["msg"].startswith("give order or slip, not both"), raw
    assert refund_rows(order["id"]) == 0
    st, body, raw, _ = refund(key, order["id"], "1.00")
    assert st == 200 and body["data"]["refund"]["amount"] == 1.0, raw
    assert recorded(order["id"]) == 100 == sim_refunded(order["pay_id"])


# ---------------------------------------------------------------- keys in odd places and shapes


def test_keys_in_odd_places_and_shapes_are_refused_and_the_scheme_is_any_case(key):
    order = paid_zfb(1)
    q = "?id=" + order["id"]
    # The scheme in any letter case (RFC 9110); spaces after it are skipped.
    for auth in ("bearer " + key, "BEARER " + key, "Bearer   " + key):
        st, body, raw, _ = admin("order", method="GET", params=q, headers={"Authorization": auth})
        assert st == 200 and body["data"]["id"] == order["id"], (auth[:12], raw)
    nokey = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer\t" + key},            # a tab is not the space the scheme needs
        {"Authorization": "Basic " + key},
        {"Authorization": "Token " + key},
        {"Authorization": key},                          # the key without its scheme
        {"X-Api-Key": key},
        {"Proxy-Authorization": "Bearer " + key},
    ]
    for hdrs in nokey:
        st, body, raw, h = admin("order", method="GET", params=q, headers=hdrs)
        assert st == 401 and body["errCode"] == "e.www.api.auth.nokey", (hdrs, raw)
        assert h.get("www-authenticate") == 'Bearer realm="orderpay admin"', h
    # In the query string, under any name, a key is no key.
    for name in ("key", "api_key", "apikey", "access_token", "Authorization", "bearer"):
        st, body, raw, _ = admin("order", method="GET", params=q + "&%s=%s" % (name, key))
        assert st == 401 and body["errCode"] == "e.www.api.auth.nokey", (name, raw)
    badkey = [
        key.upper(), key + "x", key[:-1], key + " x", key + "," + key, key.replace("opk_", "opk-", 1),
        "opk_" + key[4:].replace("_", "__", 1), "x" * 256, "x" * 257, key + "y" * 300,
        "opk_\xff\xfe_" + "a" * 40,                      # bytes that are not UTF-8 (sent as latin-1)
        "opk_" + "\u00e9" * 20 + "_x",
    ]
    for k in badkey:
        st, body, raw, h = admin("order", method="GET", params=q, headers={"Authorization": "Bearer " + k})
        assert st == 401 and body["errCode"] == "e.www.api.auth.badkey", (k[:40], raw)
        assert "www-authenticate" in h, h
    # A header nginx will not take (over its 8k) is its 400, never a 5xx.
    st, body, raw, _ = admin("order", method="GET", params=q, headers={"Authorization": "Bearer " + "a" * 9000})
    assert st == 400 and body["errCode"] == "e.www.api.bad_request", raw


def test_a_revoked_key_is_refused_on_every_admin_route_and_its_twin_still_works(key):
    """`apikey revoke ID` (by id, as `apikey list` shows it) ends the key on every route, the login
    server's too; another key of the same site keeps working (rotation: issue, switch, revoke)."""
    order = paid_zfb(1)
    issued = json.loads(cli("apikey", "issue", "--site", SITE, "--json").stdout)
    old, new = issued["key"], cli("apikey", "issue", "--site", SITE).stdout.strip()
    assert admin("order", old, method="GET", params="?id=" + order["id"])[0] == 200
    res = cli("apikey", "revoke", issued["id"])
    assert res.stdout == "revoked\n", res
    listed = [ln.split("\t") for ln in cli("apikey", "list", "--site", SITE).stdout.splitlines()]
    assert [issued["id"], SITE, "revoked"] in listed, listed
    for action, method, params, body in every_admin_call(order["id"], {"amount": "1.00", "idempotency_key": "k"},
                                                         "ha-revoked"):
        st, reply, raw, _ = admin(action, old, body, method=method, params=params)
        assert st == 401 and reply["errCode"] == "e.www.api.auth.badkey", (action, raw)
    assert refund_rows(order["id"]) == 0
    assert psql("SELECT count(*) FROM accounts WHERE id = 'ha-revoked'") == "0"
    assert not refused(STACK["DEMO_TICKET"])
    assert admin("order", new, method="GET", params="?id=" + order["id"])[1]["data"]["or_st"] == "OK"
    # The key by itself with a forged secret cannot revoke the live one: only the whole key, or its id.
    forged = new.rsplit("_", 1)[0] + "_" + "A" * 43
    res = cli("apikey", "revoke", forged, check=False)
    assert res.returncode == 1 and "no such live key" in res.stderr, res
    assert admin("order", new, method="GET", params="?id=" + order["id"])[0] == 200
    cli("apikey", "revoke", new)


def every_admin_call(order_id, refund_fields, account):
    """(action, method, params, body) for each of the 7 admin routes, about `order_id`; `refund_fields`
    completes admin/refund's body, `account` is admin/ticket's."""
    return [
        ("order", "GET", "?id=" + order_id, None),
        ("orders", "GET", "?state=OK", None),
        ("refund", "POST", "", dict({"order": order_id, "reason": "r"}, **refund_fields)),
        ("ship", "POST", "", {"order": order_id}),
        ("done", "POST", "", {"order": order_id}),
        ("ticket", "POST", "", {"account": account}),
        ("ticket_revoke", "POST", "", {"account": STACK["DEMO_ACCOUNT"]}),
    ]


def refused(ticket):
    st, body, raw, _ = check("nosuchorder1", ticket=ticket)
    return st == 401 and body["errCode"] == "e.www.api.auth.nologin"


# ---------------------------------------------------------------- another site's key, order, cursor


def test_another_sites_key_is_forbidden_and_its_own_site_never_sees_this_sites_orders(key, other_key):
    order = paid_zfb(1)
    calls = every_admin_call(order["id"], {"idempotency_key": "k-other"}, "ha-other")
    for action, method, params, body in calls:
        st, reply, raw, _ = admin(action, other_key, body, method=method, params=params)
        assert st == 403 and reply["errCode"] == "e.www.api.auth.forbidden", (action, raw)
        # On its own site, this site's order is no order of it: 404, nothing done.
        if action in ("order", "refund", "ship", "done"):
            st, reply, raw, _ = admin(action, other_key, body, method=method, params=params, site=OTHER_SITE)
            assert st == 404 and reply["errCode"] == "e.io.obj.noexists", (action, raw)
    assert refund_rows(order["id"]) == 0 and sim_refunded(order["pay_id"]) == 0
    st, reply, raw, _ = admin("order", key, method="GET", params="?id=" + order["id"])
    assert reply["data"]["or_st"] == "OK" and reply["data"]["sp_at"] is None, raw
    # A cursor of this site's list is only a place in time on the other's: it lists nothing of ours.
    page = admin("orders", key, method="GET", params="?state=OK&limit=1")[1]["data"]
    assert page["next"], page
    st, reply, raw, _ = admin("orders", other_key, method="GET", params="?state=OK&limit=100&after=" + page["next"],
                              site=OTHER_SITE)
    assert st == 200 and all(o["id"] != order["id"] for o in reply["data"]["orders"]), raw
    # A site that does not exist is 404 before any key is looked at, for every route.
    for action, method, params, body in calls:
        st, reply, raw, _ = admin(action, key, body, method=method, params=params, site="ha-no-such-site")
        assert st == 404 and reply["errCode"] == "e.www.site.noexists", (action, raw)


def test_the_same_idempotency_key_in_two_sites_is_two_refunds(key, other_key):
    """Keys are per site: the demo site's key "rma-1" and another site's "rma-1" name different
    refunds, and neither site's replay answers the other's."""
    cli("product", "add", "ha-tea", "--site", OTHER_SITE, "--title", "Tea", "--price", "5.00", check=False)
    cli("seller", "set", "--site", OTHER_SITE, "--prefix", "zfb", "--merchant", STACK["DEMO_ZFB_MERCHANT"])
    t = admin("ticket", other_key, {"account": "ha-buyer"}, site=OTHER_SITE)[1]["data"]["ticket"]
    st, body, raw, _ = api("POST", "buy", ticket=t, site=OTHER_SITE, json={
        "products": [{"id": "ha-tea"}], "pay_tp": "zfb.scan", "auth_code": "280000000000000002"})
    assert st == 200 and body["data"]["or_st"] == "OK", raw
    theirs = body["data"]
    ours = paid_zfb(1)
    idem = "rma-" + secrets.token_hex(4)
    a = refund(key, ours["id"], "1.00", idem=idem)
    b = refund(other_key, theirs["id"], "1.00", idem=idem, site=OTHER_SITE)
    assert a[0] == 200 and b[0] == 200, (a[2], b[2])
    assert a[1]["data"]["refund"]["id"] != b[1]["data"]["refund"]["id"]
    assert not a[1]["data"]["refund"]["replay"] and not b[1]["data"]["refund"]["replay"]
    # The other site's order under our key (and ours under theirs): not found, not a mismatch.
    st, body, raw, _ = refund(key, theirs["id"], "1.00", idem=idem)
    assert st == 404 and body["errCode"] == "e.io.obj.noexists", raw
    assert recorded(ours["id"]) == 100 and recorded(theirs["id"]) == 100


# ---------------------------------------------------------------- refunds racing


def test_two_keys_racing_for_the_last_unit_one_gets_it(key):
    """25.00 paid, 24.99 refunded: eight requests under eight keys ask for the last 0.01 (and
    eight more for "all that is left") at once. One refund gets it; every other is told nothing is
    left; the buyer gets 25.00 back, once."""
    order = paid_zfb()
    assert refund(key, order["id"], "24.99")[0] == 200
    asks = [("0.01", None)] * 8 + [(None, None)] * 8
    with ThreadPoolExecutor(8) as pool:
        res = list(pool.map(lambda a: refund(key, order["id"], a[0]), asks))
    won = [r for r in res if r[0] == 200]
    assert len(won) == 1 and won[0][1]["data"]["refund"]["amount"] == 0.01, [r[2] for r in res if r[0] == 200]
    for st, body, raw, _ in res:
        if st != 200:
            assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert recorded(order["id"]) == 2500 == sim_refunded(order["pay_id"])
    assert refund_rows(order["id"]) == 2
    st, body, raw, _ = admin("order", key, method="GET", params="?id=" + order["id"])
    assert body["data"]["or_st"] == "RF" and body["data"]["refunded"] == 25.0, raw


@pytest.mark.parametrize("step", ["ship", "done"])
def test_a_whole_refund_racing_ship_or_done_ends_refunded_either_way(key, step):
    """A back office ships (or closes) an order while another operator refunds all of it. Either
    order of events is allowed (README: refunds of shipped and done orders follow the same rules),
    but the money goes back once and the order ends RF; a ship or done that lost is 409 naming
    the refund's state, never a 5xx, and audit's fulfilment check holds."""
    for _ in range(3):
        order = paid_zfb()
        if step == "done":
            assert admin("ship", key, {"order": order["id"]})[0] == 200
        with ThreadPoolExecutor(2) as pool:
            f = pool.submit(admin, step, key, {"order": order["id"]})
            r = pool.submit(refund, key, order["id"])
            (fs, fb, fraw, _), (rs, rb, rraw, _) = f.result(30), r.result(30)
        assert rs == 200 and rb["data"]["refund"]["st"] == "OK" and rb["data"]["refund"]["amount"] == 25.0, rraw
        if fs == 200:
            assert fb["changed"] is True, fraw
        else:
            assert fs == 409 and fb["errCode"] == "e.www.order.state", fraw
        st, body, raw, _ = admin("order", key, method="GET", params="?id=" + order["id"])
        o = body["data"]
        assert o["or_st"] == "RF" and o["refunded"] == 25.0, raw
        assert recorded(order["id"]) == 2500 == sim_refunded(order["pay_id"])
        # Once RF, neither moves it.
        for s in ("ship", "done"):
            st, body, raw, _ = admin(s, key, {"order": order["id"]})
            assert st == 409 and body["errCode"] == "e.www.order.state", raw


def test_a_refund_racing_a_late_payment_of_a_superseded_slip_refunds_the_order_payment(key):
    """The buyer switched from WeChat to Alipay and paid there; the old WeChat code is paid late
    while the operator refunds the order in full. The refund is of the Alipay payment that pays the
    order, never of the late one, which is flagged refund_needed for `orderpay refund --slip`."""
    order, first = paid_through_another_slip()
    paying = admin("order", key, method="GET", params="?id=" + order["id"])[1]["data"]["pay_id"]
    assert paying != first
    with ThreadPoolExecutor(2) as pool:
        late = pool.submit(sim_pay, first, force="1")
        r = pool.submit(refund, key, order["id"])
        late.result(30)
        st, body, raw, _ = r.result(30)
    assert st == 200 and body["data"]["refund"]["slip"] == paying and body["data"]["refund"]["amount"] == 25.0, raw
    assert wait_for(lambda: psql("SELECT refund_needed FROM pay_slips WHERE id = '%s'" % first) == "t", 10)
    assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % first) == "0"
    st, body, raw, _ = admin("order", key, method="GET", params="?id=" + order["id"])
    assert body["data"]["or_st"] == "RF" and body["data"]["pay_id"] == paying, raw
    # A second "all that is left" finds nothing: the late payment is not the order's to refund.
    st, body, raw, _ = refund(key, order["id"])
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw


# ---------------------------------------------------------------- tickets


def test_a_ticket_revoked_while_its_buyer_is_mid_buy(key):
    """The login server ends a ticket while a pay/buy of it waits in the database (held here on the
    counted product's row). The buy had read the ticket before: it finishes, one whole order. From
    then on the ticket is 401 on pay/check and pay/pay, and the order is neither lost nor left
    half-made: paid at the provider, it settles (notifications need no ticket), and the operator
    sees it paid. A ticket issued after the revoke reads the order again."""
    account = "ha-" + secrets.token_hex(5)
    pid = "ha-cup-" + secrets.token_hex(4)  # a counted product of its own, whose row a buy locks
    cli("product", "add", pid, "--site", SITE, "--title", "cup", "--price", "2.00", "--stock", "3")
    t = admin("ticket", key, {"account": account})[1]["data"]["ticket"]
    lock = Locker("SELECT 1 FROM products WHERE site_id = '%s' AND id = '%s' FOR UPDATE" % (SITE, pid))
    try:
        with ThreadPoolExecutor(1) as pool:
            b = pool.submit(api, "POST", "buy", ticket=t, json={
                "products": [{"id": pid, "amount": 1}], "pay_tp": "zfb.qrcode"})
            assert wait_for(lambda: lock_waiters("orderpay_create_order") == 1, 10)
            st, body, raw, _ = admin("ticket_revoke", key, {"ticket": t})
            assert st == 200 and body["data"]["revoked"] == 1, raw
            lock.release()
            st, body, raw, _ = b.result(30)
    finally:
        lock.release()
    assert st == 200 and body["data"]["or_st"] == "WT" and body["data"]["buyer_id"] == account, raw
    order = body["data"]
    st, body, raw, _ = check(order["id"], ticket=t)
    assert st == 401 and body["errCode"] == "e.www.api.auth.nologin", raw
    st, body, raw, _ = api("GET", "pay", ticket=t, params={"id": order["id"]})
    assert st == 401 and body["errCode"] == "e.www.api.auth.nologin", raw
    sim_pay(order["pay_id"])

    def paid():
        return admin("order", key, method="GET", params="?id=" + order["id"])[1]["data"]["or_st"] == "OK"
    assert wait_for(paid, 10)
    again = admin("ticket", key, {"account": account})[1]["data"]["ticket"]
    st, body, raw, _ = check(order["id"], ticket=again)
    assert st == 200 and body["data"]["or_st"] == "OK", raw


def test_ticket_accounts_at_and_past_their_limits(key, other_key):
    allowed = "A-z_.@-9" + "a" * 56  # every kind of character the id may hold, 64 in all
    assert len(allowed) == 64
    st, body, raw, _ = admin("ticket", key, {"account": allowed})
    assert st == 200 and body["data"]["account"] == allowed, raw
    assert not refused(body["data"]["ticket"])
    for bad in ("a" * 65, "caf\u00e9", "\u0430dmin", "a b", "a/b", "a+b", "a%40b", "a\tb", "a:b", "*", "a'b"):
        st, body, raw, _ = admin("ticket", key, {"account": bad})
        assert st == 400 and body["errCode"] == "e.www.order.invalid.field", (bad, raw)
        assert body["msg"].startswith("account must be"), raw
    # Not UTF-8 (raw bytes) or NUL: the encoding error, before anything is read.
    for raw_body in (b'{"account":"a\xc3"}', b'{"account":"a\\u0000b"}', b'{"acc\xffount":"a"}'):
        st, body, raw, _ = admin("ticket", key, raw=raw_body)
        assert st == 400 and body["errCode"] == "e.www.api.invalid.encoding", (raw_body, raw)
    # Names at their 64 characters, counted as characters (4-byte ones too), and one past.
    acct = "ha-" + secrets.token_hex(5)
    assert admin("ticket", key, {"account": acct, "name": "\U0001F375" * 64})[0] == 200
    st, body, raw, _ = admin("ticket", key, {"account": acct, "name": "\U0001F375" * 65})
    assert st == 400 and "name" in body["msg"], raw
    for bad in ("a\u202eb", "a\u200bb", "a\u2028b", "a\nb"):
        st, body, raw, _ = admin("ticket", key, {"account": acct, "name": bad})
        assert st == 400 and "name" in body["msg"], (bad, raw)
    assert psql("SELECT name FROM accounts WHERE id = '%s'" % acct) == "\U0001F375" * 64
    # ttl_hours as JSON spells numbers it is not a whole count of: refused by name.
    for ttl in ("1e1", "24.0", "-0", "8784.0", "0x10"):
        st, body, raw, _ = admin("ticket", key, raw='{"account":"%s","ttl_hours":%s}' % (acct, ttl))
        assert st == 400 and body["errCode"] in ("e.www.order.invalid.field", "e.www.api.invalid.json"), (ttl, raw)
    # An account of another account store only: this site's key creates this store's own.
    theirs = "ha-" + secrets.token_hex(5)
    assert admin("ticket", other_key, {"account": theirs, "name": "Theirs"}, site=OTHER_SITE)[0] == 200
    assert admin("ticket", key, {"account": theirs})[0] == 200
    assert psql("SELECT store_id || ':' || name FROM accounts WHERE id = '%s' ORDER BY store_id" % theirs) == \
        "demo-users:\n%s:Theirs" % OTHER_STORE


# ---------------------------------------------------------------- amounts in a currency with no decimals


def test_jpy_refund_amounts_have_no_decimals_whatever_their_spelling(jpy_key):
    """JPY has no minor unit: "1500.0", 1500.0, "0.5" and "1e3" are refused (nothing written), the
    message says 0 decimals in JPY; whole yen refund, "all that is left" is whole yen too, and one
    yen past it is too much."""
    order = paid_paypal_order(site=JPY_SITE, products=[{"id": "pp-jpy-tea", "amount": 1}])
    assert order["currency"] == "JPY" and order["fee"] == 1500, order
    for bad in ("1500.0", "100.00", "0.5", "1e3", "0", "-1", ""):
        st, body, raw, _ = refund(jpy_key, order["id"], bad, site=JPY_SITE)
        assert st == 400 and body["errCode"] == "e.www.refund.invalid.amount", (bad, raw)
        if bad not in ("",):
            assert body["msg"] == "amount must be a positive decimal with at most 0 decimals, in JPY", raw
    st, body, raw, _ = admin("refund", jpy_key, site=JPY_SITE, raw='{"order":"%s","amount":1500.0,"reason":"r",'
                             '"idempotency_key":"%s"}' % (order["id"], uuid.uuid4().hex))
    assert st == 400 and body["errCode"] == "e.www.refund.invalid.amount", raw
    assert refund_rows(order["id"]) == 0
    st, body, raw, _ = refund(jpy_key, order["id"], 1, site=JPY_SITE)
    assert st == 200 and body["data"]["refund"]["amount"] == 1, raw
    assert '"amount":1,' in raw.decode(), raw  # no decimals in the reply either
    st, body, raw, _ = refund(jpy_key, order["id"], "1500", site=JPY_SITE)
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    st, body, raw, _ = refund(jpy_key, order["id"], site=JPY_SITE)
    assert st == 200 and body["data"]["refund"]["amount"] == 1499, raw
    assert body["data"]["order"]["or_st"] == "RF" and body["data"]["order"]["refunded"] == 1500, raw
    st, body, raw, _ = refund(jpy_key, order["id"], site=JPY_SITE)
    assert st == 409 and body["msg"] == ("nothing is left to refund of this payment (refunded 1500 of 1500 JPY)"), raw


# ---------------------------------------------------------------- admin/orders cursors


def test_forged_cursors_are_places_in_time_and_never_a_5xx(key):
    """A cursor is "<ct in microseconds>.<order id>": forged ones at the epoch, at the largest
    value it may hold, with an id that names no order, or taken from another state's list, each
    answer a page (or none), never an error; a walk a page at a time sees each order once."""
    paid = [paid_zfb(1)["id"] for _ in range(3)]
    def page(params):
        st, body, raw, _ = admin("orders", key, method="GET", params="?" + params)
        assert st == 200, (params, raw)
        return body["data"]
    def ct_us(order_id):
        return int(psql("SELECT (extract(epoch from ct) * 1000000)::bigint FROM orders WHERE id = '%s'" % order_id))
    assert page("state=OK&after=0.0&limit=1")["orders"] == page("state=OK&limit=1")["orders"]
    assert page("state=OK&after=999999999999999999.zzzz") == {"orders": [], "next": None}
    # Walk one at a time from just before the first of these (an id below any: "0"): each once,
    # in order, then a page with none and no next.
    seen, after = [], "&after=%d.0" % ct_us(paid[0])
    while True:
        p = page("state=OK&limit=1" + after)
        seen += [o["id"] for o in p["orders"]]
        if not p["next"]:
            break
        after = "&after=" + p["next"]
        assert len(seen) <= 3, seen
    assert seen == paid, (seen, paid)
    # The last one's cursor with an id that is no order's: the orders of that instant after it.
    last = ct_us(paid[-1])
    assert [o["id"] for o in page("state=OK&after=%d.0" % last)["orders"]] == [paid[-1]]
    assert page("state=OK&after=%d.zzz" % last)["orders"] == []
    # Another state's cursor is a place in time for this one too.
    assert page("state=WT&limit=100&after=%d.%s" % (last, paid[-1]))["next"] is None
    for bad in ("state=OK&state=OK", "state=OK&limit=5&limit=5", "state=OK&after=0.a&after=0.b"):
        st, body, raw, _ = admin("orders", key, method="GET", params="?" + bad)
        assert st == 400 and body["errCode"] == "e.www.api.invalid.query" and "more than once" in body["msg"], raw


# ---------------------------------------------------------------- an empty order is a missing one


@pytest.mark.parametrize("action", ["refund", "ship", "done"])
def test_an_empty_order_is_missing_as_admin_orders_empty_id_is(key, action):
    """`"order": ""` is the field left empty, as `admin/order?id=` and `pay/check?id=` are: 400
    e.www.order.nil.id "order is missing" (the README's row for it), not 404 for an order that
    does not exist, which a back office would read as "that order is gone"."""
    body = {"order": ""}
    if action == "refund":
        body.update(reason="r", idempotency_key=uuid.uuid4().hex)
    st, reply, raw, _ = admin(action, key, body)
    assert st == 400 and reply["errCode"] == "e.www.order.nil.id" and reply["msg"] == "order is missing", raw
    st, reply, raw, _ = admin("order", key, method="GET", params="?id=")
    assert st == 400 and reply["errCode"] == "e.www.order.nil.id", raw


# ---------------------------------------------------------------- a refund racing expire and a late payment


def test_a_refund_racing_expire_and_the_payment_never_counts_money_twice(key):
    """The order's code is paid just as `orderpay expire` closes it, while the operator asks for a
    whole refund (again and again until something answers it). Whatever wins: what Alipay gave
    back is what orderpay recorded, the order is RF exactly when that is all of it, and a payment
    Alipay kept is the order's (OK) or flagged refund_needed; every refusal is 409 not_paid or
    too_much, never a 5xx."""
    pid = "ha-race-" + uuid.uuid4().hex[:8]
    cli("product", "add", pid, "--site", SITE, "--title", "race " + pid, "--price", "1.00", "--stock", "9")

    def refunds_until_answered(order_id, delay):
        time.sleep(delay)
        answers = []
        for _ in range(15):
            answers.append(refund(key, order_id))
            if answers[-1][0] == 200:
                break
            time.sleep(0.02)
        return answers

    for i in range(4):
        order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
        slip = order["pay_id"]
        psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
        with ThreadPoolExecutor(3) as pool:
            ex = pool.submit(cli, "expire", check=False)
            pay = pool.submit(late_pay, slip, 0.03 * i)
            ref = pool.submit(refunds_until_answered, order["id"], 0.02 * i)
            assert ex.result(600).returncode == 0
            assert pay.result(30)[0] in (200, 409)
            answers = ref.result(60)
        for st, body, raw, _ in answers:
            assert st == 200 or (st == 409 and body["errCode"] in ("e.www.refund.not_paid",
                                                                  "e.www.refund.too_much")), raw
        assert wait_for(lambda: psql("SELECT count(*) FROM notifications WHERE slip_id = '%s' AND verdict = "
                                     "'received'" % slip) == "0", 5)
        or_st, pay_id, slip_st, refund_needed = psql(
            "SELECT o.or_st || '|' || o.pay_id || '|' || s.st || '|' || s.refund_needed FROM orders o "
            "JOIN pay_slips s ON s.id = '%s' WHERE o.id = '%s'" % (slip, order["id"])).split("|")
        # Given back by a refund, or by expire's cancel of the trade the buyer paid just then
        # (Alipay's cancel refunds a paid trade whole: paysim's `refunded`, not in refund_fee).
        trade = sim_trade(slip)
        given_back = trade["refund_fee"] + (trade["total_fee"] if trade["refunded"] else 0)
        assert given_back == recorded(order["id"]), (or_st, given_back, trade["state"])
        assert (or_st == "RF") == (given_back == 100), (or_st, given_back)
        st, body, raw, _ = http("GET", "%s/sim/trade?out_trade_no=%s" % (STACK["PAYSIM_URL"], slip))
        state = body["data"]["state"]
        if state in ("TRADE_SUCCESS", "TRADE_FINISHED") and given_back == 0:
            assert slip_st == "OK" and ((or_st == "OK" and pay_id == slip) or refund_needed == "t"), \
                (or_st, slip_st, refund_needed)
