"""The operator's commands a new user found missing (review s27-newuser #2, #4, #8, #9):
shipping and closing orders (`orderpay order ship|done`, admin/ship, admin/done: OK -> SP -> DN,
each a conditional UPDATE), withdrawing a product from sale (`product disable|enable`, kept by
`product add`), removing a site's return page (`site set --return-url ""`), and `site set
--currency` refused while the site sells products in another currency."""

import json
import os
import subprocess
import uuid

from conftest import STACK, cli, http, psql, sim
from helpers import Locker, buy, buy_ok, check, ensure_site, lock_waiters, sim_pay, wait_for
from test_refund import admin
from test_refund_timeout import refund as knob_refund

SITE = STACK["DEMO_SITE"]


def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


def paid_order(**extra):
    """A 25.00 CNY order of goods paid at once (Alipay scan)."""
    order = buy_ok("zfb.scan", auth_code="280000000000000002", **extra)
    assert order["or_st"] in ("OK", "DN"), order
    return order


def row(order_id):
    """(or_st, sp_at set, dn_at set) from the database."""
    out = psql("SELECT or_st, sp_at IS NOT NULL, dn_at IS NOT NULL FROM orders WHERE id = '%s'" % order_id)
    st, sp, dn = out.split("|")
    return st, sp == "t", dn == "t"


def ship(order_id, *flags):
    return cli("order", "ship", order_id, *flags, check=False)


def done(order_id, *flags):
    return cli("order", "done", order_id, *flags, check=False)


def audit_of(order_id):
    out = cli("audit", "--json", check=False).stdout
    return [v for v in json.loads(out)["violations"] if v["subject"] == order_id]


def test_ship_then_done_through_the_cli_and_repeats_say_already():
    order = paid_order()
    assert row(order["id"]) == ("OK", False, False)
    res = ship(order["id"])
    assert res.returncode == 0 and "shipped (OK -> SP)" in res.stdout, res
    assert row(order["id"]) == ("SP", True, False)
    seen = check(order["id"])[1]["data"]  # the buyer sees it too
    assert seen["or_st"] == "SP" and seen["sp_at"] and seen["dn_at"] is None, seen
    sp_at = psql("SELECT sp_at FROM orders WHERE id = '%s'" % order["id"])
    # Again: already shipped, exit 0, nothing rewritten.
    res = ship(order["id"], "--site", SITE)
    assert res.returncode == 0 and "is SP (shipped) already" in res.stdout, res
    assert psql("SELECT sp_at FROM orders WHERE id = '%s'" % order["id"]) == sp_at
    res = done(order["id"])
    assert res.returncode == 0 and "done (SP -> DN)" in res.stdout, res
    assert row(order["id"]) == ("DN", True, True)
    for again in (done, ship):  # done implies shipped: a ship-then-done script can run again
        res = again(order["id"])
        assert res.returncode == 0 and "is DN (done) already" in res.stdout, res
    assert psql("SELECT sp_at FROM orders WHERE id = '%s'" % order["id"]) == sp_at
    assert order["id"] in cli("order", "list", "--state", "DN").stdout
    assert audit_of(order["id"]) == []


def test_audit_names_an_order_whose_times_do_not_match_its_state():
    order = paid_order()
    assert ship(order["id"]).returncode == 0
    psql("UPDATE orders SET sp_at = NULL WHERE id = '%s'" % order["id"])
    try:
        found = audit_of(order["id"])
        assert [v["invariant"] for v in found] == ["fulfilment_times_match_state"], found
    finally:
        psql("UPDATE orders SET sp_at = now() WHERE id = '%s'" % order["id"])
    assert audit_of(order["id"]) == []


def test_other_states_are_refused_naming_them_and_nothing_changes():
    unpaid = buy_ok("wx.qrcode")
    res = ship(unpaid["id"])
    assert res.returncode == 1 and "is WT (waiting for payment)" in res.stderr, res
    res = done(unpaid["id"])
    assert res.returncode == 1 and "is WT" in res.stderr, res
    assert row(unpaid["id"]) == ("WT", False, False)
    # Goods are shipped before they are done.
    paid = paid_order()
    res = done(paid["id"])
    assert res.returncode == 1 and "is OK" in res.stderr and "order ship " + paid["id"] in res.stderr, res
    assert row(paid["id"]) == ("OK", False, False)
    # Virtual goods are done when paid: nothing to ship; done is a repeat.
    virtual = paid_order(tp="Q")
    assert row(virtual["id"]) == ("DN", False, True)
    res = ship(virtual["id"])
    assert res.returncode == 1 and "virtual goods" in res.stderr, res
    assert done(virtual["id"]).returncode == 0
    assert row(virtual["id"]) == ("DN", False, True)
    # Refunded in full: nothing to ship.
    refunded = paid_order()
    cli("refund", refunded["id"], "--reason", "out of stock")
    assert row(refunded["id"])[0] == "RF"
    res = ship(refunded["id"])
    assert res.returncode == 1 and "is RF (refunded in full)" in res.stderr, res
    assert row(refunded["id"]) == ("RF", False, False)
    # No such order, or not in the site named.
    res = ship("nosuchorder" + uuid.uuid4().hex[:8])
    assert res.returncode == 1 and "no such order" in res.stderr, res
    ensure_site("opo-other", "--store", "demo-users")
    res = ship(paid["id"], "--site", "opo-other")
    assert res.returncode == 1 and "no such order %s in site opo-other" % paid["id"] in res.stderr, res
    assert row(paid["id"]) == ("OK", False, False)
    # A flag the command does not take is a usage error before anything happens.
    res = cli("order", "ship", paid["id"], "--force", "x", check=False)
    assert res.returncode == 2 and row(paid["id"]) == ("OK", False, False), res


def test_two_processes_ship_one_order_one_ships_the_other_is_told():
    order = paid_order()
    # Both wait behind a lock on the order's row, then race for it.
    locker = Locker("SELECT 1 FROM orders WHERE id = '%s' FOR UPDATE" % order["id"])
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    exe = os.path.join(STACK["ORDERPAY_BIN"], "orderpay")
    try:
        procs = [subprocess.Popen([exe, "order", "ship", order["id"]], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        assert wait_for(lambda: lock_waiters("SET or_st = 'SP'") >= 2, 10)
    finally:
        locker.release()
    outs = [p.communicate(timeout=30) + (p.returncode,) for p in procs]
    assert [rc for _, _, rc in outs] == [0, 0], outs
    said = sorted("shipped (OK -> SP)" in out for out, _, _ in outs)
    assert said == [False, True], outs
    assert any("already" in out for out, _, _ in outs), outs
    assert row(order["id"]) == ("SP", True, False)


def test_two_back_office_calls_ship_one_order_one_is_told_it_changed_nothing():
    """Both answered 200 (a retry must succeed), but only one says "changed": true, so two back
    office users no longer both believe they shipped it (review s28-newuser #9)."""
    from concurrent.futures import ThreadPoolExecutor
    k, order = key(), paid_order()
    locker = Locker("SELECT 1 FROM orders WHERE id = '%s' FOR UPDATE" % order["id"])
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            calls = [pool.submit(admin, "POST", "ship", k, {"order": order["id"]}) for _ in range(2)]
            assert wait_for(lambda: lock_waiters("SET or_st = 'SP'") >= 2, 10)
            locker.release()
            replies = [c.result(timeout=30) for c in calls]
    finally:
        locker.release()
    assert [st for st, _, _, _ in replies] == [200, 200], replies
    assert sorted(body["changed"] for _, body, _, _ in replies) == [False, True], replies
    assert row(order["id"]) == ("SP", True, False)


def test_refunds_of_shipped_and_done_orders_follow_the_refund_rules():
    k = key()
    # Partly refunded: still shipped, and ships; refunded in full from SP: RF.
    order = paid_order()
    cli("refund", order["id"], "--amount", "5.00", "--reason", "one cup broken")
    assert ship(order["id"]).returncode == 0
    assert row(order["id"]) == ("SP", True, False)
    cli("refund", order["id"], "--amount", "5.00", "--reason", "another cup")
    assert row(order["id"])[0] == "SP"
    cli("refund", order["id"], "--reason", "returned the rest")
    assert row(order["id"]) == ("RF", True, False)
    res = done(order["id"])
    assert res.returncode == 1 and "is RF" in res.stderr, res
    # Done, then refunded in full through the API: RF.
    order = paid_order()
    assert ship(order["id"]).returncode == 0 and done(order["id"]).returncode == 0
    st, body, raw, _ = admin("POST", "refund", k, {"order": order["id"], "reason": "returned",
                                                   "idempotency_key": uuid.uuid4().hex})
    assert st == 200 and body["data"]["order"]["or_st"] == "RF", raw
    assert row(order["id"]) == ("RF", True, True)
    # A refund of all of it still under way (the provider's answer lost): not shipped meanwhile.
    order = paid_order()
    r = knob_refund(k, SITE, order["id"], "25.00")[1]["data"]["refund"]
    assert r["st"] == "PROCESSING", r
    res = ship(order["id"])
    assert res.returncode == 1 and "refunds of all of its payment are under way" in res.stderr, res
    assert "refund %s PROCESSING" % r["id"] in res.stderr, res
    st, body, raw, _ = admin("POST", "ship", k, {"order": order["id"]})
    assert st == 409 and body["errCode"] == "e.www.order.state" and body["data"]["order"]["or_st"] == "OK", raw
    assert row(order["id"]) == ("OK", False, False)
    cli("reconcile", "--min-age", "0", check=False)
    assert wait_for(lambda: row(order["id"])[0] == "RF", 10), row(order["id"])


def test_the_operator_api_ships_and_closes_and_refuses_what_it_must():
    k = key()
    order = paid_order()
    # A carrier or tracking number has nowhere to go: refused by name, not dropped (s28-newuser #9).
    st, body, raw, _ = admin("POST", "ship", k, {"order": order["id"], "tracking": "SF123"})
    assert st == 400 and body["errCode"] == "e.www.order.invalid.field", raw
    assert body["msg"] == "unknown field tracking", raw
    assert row(order["id"]) == ("OK", False, False)
    st, body, raw, _ = admin("POST", "ship", k, {"order": order["id"]})
    assert st == 200 and body["data"]["or_st"] == "SP" and body["data"]["sp_at"], raw
    assert body["data"]["id"] == order["id"] and "refunds" in body["data"], raw  # as admin/order
    # The reply says what this call did, in the CLI's words.
    assert body["changed"] is True and body["msg"] == "order %s shipped (OK -> SP)" % order["id"], raw
    st, body, raw, _ = admin("POST", "ship", k, {"order": order["id"]})  # a retry
    assert st == 200 and body["data"]["or_st"] == "SP", raw
    assert body["changed"] is False and body["msg"] == "order %s is SP (shipped) already" % order["id"], raw
    assert ship(order["id"]).stdout.strip() == body["msg"]  # the CLI says the same
    st, body, raw, _ = admin("POST", "done", k, {"order": order["id"], "carrier": "SF"})
    assert st == 400 and body["msg"] == "unknown field carrier" and row(order["id"])[0] == "SP", raw
    st, body, raw, _ = admin("POST", "done", k, {"order": order["id"]})
    assert st == 200 and body["data"]["or_st"] == "DN" and body["data"]["dn_at"], raw
    assert body["changed"] is True and body["msg"] == "order %s done (SP -> DN)" % order["id"], raw
    st, body, raw, _ = admin("POST", "done", k, {"order": order["id"]})
    assert st == 200 and body["data"]["or_st"] == "DN", raw
    assert body["changed"] is False and body["msg"] == "order %s is DN (done) already" % order["id"], raw
    st, body, raw, _ = admin("POST", "ship", k, {"order": order["id"]})  # done implies shipped
    assert st == 200 and body["changed"] is False and "is DN (done) already" in body["msg"], raw

    other = paid_order()
    unpaid = buy_ok("wx.qrcode")
    st, body, raw, _ = admin("POST", "done", k, {"order": other["id"]})
    assert st == 409 and body["errCode"] == "e.www.order.state" and "is OK" in body["msg"], raw
    # An API caller is not told to run a CLI command; the CLI keeps its hint.
    assert body["msg"] == "order %s is OK (paid, not shipped): ship it first" % other["id"], raw
    res = done(other["id"])
    assert res.returncode == 1 and res.stderr.strip() == "orderpay: %s (orderpay order ship %s)" % (
        body["msg"], other["id"]), res
    st, body, raw, _ = admin("POST", "ship", k, {"order": unpaid["id"]})
    assert st == 409 and body["errCode"] == "e.www.order.state" and "is WT" in body["msg"], raw
    assert body["data"]["order"]["id"] == unpaid["id"], raw
    # Who may call it.
    st, body, raw, hdrs = admin("POST", "ship", None, {"order": other["id"]})
    assert st == 401 and body["errCode"] == "e.www.api.auth.nokey" and "www-authenticate" in hdrs, raw
    st, body, raw, _ = admin("POST", "ship", "opk_" + "x" * 40, {"order": other["id"]})
    assert st == 401 and body["errCode"] == "e.www.api.auth.badkey", raw
    st, body, raw, _ = admin("POST", "ship", STACK["DEMO_TICKET"], {"order": other["id"]})
    assert st == 401 and body["errCode"] == "e.www.api.auth.badkey", raw
    ensure_site("opo-other", "--store", "demo-users")
    other_key = cli("apikey", "issue", "--site", "opo-other").stdout.strip()
    st, body, raw, _ = admin("POST", "ship", other_key, {"order": other["id"]})
    assert st == 403 and body["errCode"] == "e.www.api.auth.forbidden", raw
    st, body, raw, _ = admin("POST", "ship", other_key, {"order": other["id"]}, site="opo-other")
    assert st == 404 and body["errCode"] == "e.io.obj.noexists", raw  # another site's order
    # Bad requests.
    st, body, raw, hdrs = admin("GET", "ship", k, params={"order": other["id"]})
    assert st == 405 and body["errCode"] == "e.www.api.method" and hdrs["allow"] == "POST", raw
    st, body, raw, _ = admin("POST", "ship", k, {})
    assert st == 400 and body["errCode"] == "e.www.order.nil.id", raw
    st, body, raw, _ = admin("POST", "ship", k, {"order": 5})
    assert st == 400 and body["errCode"] == "e.www.order.invalid.field", raw
    st, body, raw, _ = admin("POST", "ship", k, raw=b'{"order":')
    assert st == 400 and body["errCode"] == "e.www.api.invalid.json", raw
    st, body, raw, _ = admin("POST", "ship", k, raw=b'{"order":"%s"}' % other["id"].encode(),
                             headers={"Content-Type": "text/plain"})
    assert st == 415 and body["errCode"] == "e.www.api.unsupported_media_type", raw
    st, body, raw, _ = admin("POST", "ship", k, {"order": other["id"], "pad": "x" * 5000})
    assert st == 413 and body["errCode"] == "e.www.api.too_large", raw
    for missing in ("nosuchorder", "NOT-AN-ID!"):
        st, body, raw, _ = admin("POST", "ship", k, {"order": missing})
        assert st == 404 and body["errCode"] == "e.io.obj.noexists", raw
    assert row(other["id"]) == ("OK", False, False) and row(unpaid["id"]) == ("WT", False, False)


def test_a_disabled_product_is_not_sold_and_product_add_keeps_it_disabled():
    pid = "opo-mug-" + uuid.uuid4().hex[:6]
    cli("product", "add", pid, "--site", SITE, "--title", "Mug", "--price", "3.00", "--stock", "5")
    line = [{"id": pid, "amount": 1}]
    assert buy("wx.qrcode", products=line)[0] == 200
    res = cli("product", "disable", pid, "--site", SITE)
    assert "withdrawn from sale" in res.stdout, res
    st, body, raw, _ = buy("wx.qrcode", products=line)
    assert st == 404 and body["errCode"] == "e.io.obj.noexists" and "no such product" in body["msg"], raw
    listed = {p["id"]: p for p in json.loads(cli("product", "list", "--site", SITE, "--json").stdout)}
    assert listed[pid]["active"] is False and listed[pid]["stock"] == 4, listed[pid]
    # Again: already, exit 0. Another site's or an unknown product: exit 1.
    assert "already" in cli("product", "disable", pid, "--site", SITE).stdout
    res = cli("product", "disable", "nosuch-" + pid, "--site", SITE, check=False)
    assert res.returncode == 1 and "no such product" in res.stderr, res
    # A setup script run again changes the price, and leaves the product withdrawn (and its count).
    res = cli("product", "add", pid, "--site", SITE, "--title", "Mug", "--price", "3.50")
    assert "is disabled, and stays so" in res.stderr, res
    assert psql("SELECT active, price, stock FROM products WHERE site_id = '%s' AND id = '%s'" % (SITE, pid)) \
        == "f|350|4"
    assert buy("wx.qrcode", products=line)[0] == 404
    res = cli("product", "enable", pid, "--site", SITE)
    assert "on sale" in res.stdout, res
    st, body, raw, _ = buy("wx.qrcode", products=line)
    assert st == 200 and body["data"]["fee"] == 3.5, raw
    # Enabled, product add keeps it enabled too.
    res = cli("product", "add", pid, "--site", SITE, "--title", "Mug", "--price", "3.50")
    assert res.stderr == "" and psql("SELECT active FROM products WHERE site_id = '%s' AND id = '%s'"
                                     % (SITE, pid)) == "t", res


def test_a_return_url_can_be_removed_and_returns_then_answer_json():
    site = "opo-ret"
    ensure_site(site, "--store", "demo-users", "--return-url", "https://shop.example/back")
    cli("seller", "set", "--site", site, "--prefix", "zfb", "--merchant", "zfb-demo")
    cli("product", "add", "opo-tea", "--site", site, "--title", "Tea", "--price", "2.00")
    st, body, raw, _ = http("POST", "%s/api/%s/pay/buy?ticket=%s" % (STACK["ORDERPAY_URL"], site, STACK["DEMO_TICKET"]),
                            b'{"products":[{"id":"opo-tea","amount":1}],"pay_tp":"zfb.qrcode"}',
                            {"Content-Type": "application/json"})
    assert st == 200, raw
    order = body["data"]
    sim_pay(order["pay_id"], tamper="sign")  # paid at paysim; its notification lost
    query = sim("/sim/return_url", {"out_trade_no": order["pay_id"]}, method="GET")[1]["data"]["query"]
    url = "%s/api/%s/pay/re_zfb?%s" % (STACK["ORDERPAY_URL"], site, query)
    st, _, raw, hdrs = http("GET", url)
    assert st == 302 and hdrs["location"].startswith("https://shop.example/back?order_id="), (st, raw)
    cli("site", "set", site, "--return-url", "")
    sites = {s["id"]: s for s in json.loads(cli("site", "list", "--json").stdout)}
    assert sites[site]["return_url"] is None, sites[site]
    st, body, raw, _ = http("GET", url)
    assert st == 200 and body["data"]["verified"] is True and body["data"]["order_id"] == order["id"], raw
    # A bad URL is still refused, and names the way to remove it.
    res = cli("site", "set", site, "--return-url", "ftp://x", check=False)
    assert res.returncode == 2 and '"" for no return page' in res.stderr, res
    cli("site", "set", site, "--return-url", "https://shop.example/back")  # put back for a rerun


def test_site_currency_is_refused_while_it_sells_in_another_and_changes_when_it_does_not():
    site = "opo-cur-" + uuid.uuid4().hex[:6]
    cli("site", "add", site, "--store", "demo-users", "--name", "Before")
    cli("product", "add", "p1", "--site", site, "--title", "One", "--price", "2.50")
    cli("product", "add", "p2", "--site", site, "--title", "Two", "--price", "3.50")
    res = cli("site", "set", site, "--currency", "JPY", "--name", "After", check=False)
    assert res.returncode == 1, res
    assert "2 active products" in res.stderr and "p1 CNY" in res.stderr, res.stderr
    assert "product add p1 --site %s" % site in res.stderr and "product disable p1" in res.stderr, res.stderr
    # Nothing changed, not even the name given with it.
    assert psql("SELECT currency, name FROM sites WHERE id = '%s'" % site) == "CNY|Before"
    # Re-add one in the new currency, withdraw the other: then the site may change.
    cli("product", "add", "p1", "--site", site, "--title", "One", "--price", "400", "--currency", "JPY")
    res = cli("site", "set", site, "--currency", "JPY", check=False)
    assert res.returncode == 1 and "1 active product " in res.stderr and "p2 CNY" in res.stderr, res
    # Its own currency given again (a script that sets every field) changes nothing: not refused.
    cli("site", "set", site, "--currency", "CNY", "--expire-minutes", "45")
    assert psql("SELECT currency, expire_minutes FROM sites WHERE id = '%s'" % site) == "CNY|45"
    cli("product", "disable", "p2", "--site", site)
    cli("site", "set", site, "--currency", "JPY", "--name", "After")
    assert psql("SELECT currency, name FROM sites WHERE id = '%s'" % site) == "JPY|After"
    # A site with no products changes at once; a site that does not exist is still "no such site".
    empty = "opo-cur-empty-" + uuid.uuid4().hex[:6]
    cli("site", "add", empty, "--store", "demo-users")
    cli("site", "set", empty, "--currency", "USD")
    assert psql("SELECT currency FROM sites WHERE id = '%s'" % empty) == "USD"
    res = cli("site", "set", "nosuch-" + empty, "--currency", "USD", check=False)
    assert res.returncode == 1 and "no such site" in res.stderr, res


def test_an_order_whose_payment_a_void_may_have_given_back_is_neither_shipped_nor_closed():
    """A void sent for the paying slip (Alipay's cancel of a trade paid meanwhile returns the
    money), not answered yet: reconcile lists it VOID, and a reversal makes the order RF. Shipping
    it then sent goods whose money was gone (review s27-diff M2)."""
    order, later = paid_order(), paid_order()
    assert ship(later["id"]).returncode == 0
    for o in (order, later):
        psql("UPDATE pay_slips SET voiding_at = now() - interval '11 minutes' WHERE id = '%s'" % o["pay_id"])
    res = ship(order["id"])
    assert res.returncode == 1 and "a void of its payment was sent" in res.stderr and "VOID" in res.stderr, res
    res = done(later["id"])
    assert res.returncode == 1 and "a void of its payment was sent" in res.stderr, res
    st, body, raw, _ = admin("POST", "ship", key(), {"order": order["id"]})
    assert st == 409 and body["errCode"] == "e.www.order.state", raw
    assert "a void of its payment was sent" in body["msg"] and "orderpay" not in body["msg"], raw
    assert row(order["id"]) == ("OK", False, False) and row(later["id"]) == ("SP", True, False)
    # The provider said it kept the money (the void found the trade paid and left it): they go on.
    for o in (order, later):
        psql("UPDATE pay_slips SET voiding_at = NULL WHERE id = '%s'" % o["pay_id"])
    assert ship(order["id"]).returncode == 0 and done(later["id"]).returncode == 0
    assert row(order["id"]) == ("SP", True, False) and row(later["id"]) == ("DN", True, True)
