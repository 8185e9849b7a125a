"""`product set`: a restock that needs no price (review s28-newuser #1). A relative `--stock +N`
/ `-N` is one conditional UPDATE, so it never overwrites what buyers took meanwhile, and keeps
the audit's stock_conserved ledger; every price change is said, in major units, both ways."""

import json
import uuid

from conftest import STACK, cli, psql
from helpers import buy_ok

SITE = STACK["DEMO_SITE"]


def ledger(pid):
    """available|stock_initial|what orders holding stock took, of a demo-site product."""
    return psql("SELECT coalesce(p.stock::text, '-') || '|' || coalesce(p.stock_initial::text, '-') || '|' || "
                "(SELECT coalesce(sum(i.amount), 0) FROM order_items i JOIN orders o ON o.id = i.order_id "
                "WHERE o.site_id = p.site_id AND i.product_id = p.id AND o.stock_held AND i.stock_taken) "
                "FROM products p WHERE p.site_id = '%s' AND p.id = '%s'" % (SITE, pid))


def violations(*subjects):
    res = cli("audit", "--json", check=False)
    return [v for v in json.loads(res.stdout)["violations"] if any(s in json.dumps(v) for s in subjects)]


def drop(pid, order_id=None):
    """Gives back what the test took: its order expired (stock back), its product gone."""
    if order_id:
        psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order_id)
        cli("expire", "--limit", "100000")
    psql("DELETE FROM products WHERE site_id = '%s' AND id = '%s'" % (SITE, pid))


def test_product_set_restocks_relatively_without_the_price():
    pid = "pset-" + uuid.uuid4().hex[:8]
    cli("product", "add", pid, "--site", SITE, "--title", "Cup", "--price", "3.50", "--stock", "5")
    order = buy_ok(products=[{"id": pid, "amount": 1}])
    try:
        assert ledger(pid) == "4|5|1"
        res = cli("product", "set", pid, "--site", SITE, "--stock", "+2")
        assert res.stdout == "stock of %s: 4 -> 6\n" % pid and res.stderr == "", res
        assert ledger(pid) == "6|7|1"
        assert psql("SELECT price || ' ' || title FROM products WHERE id = '%s'" % pid) == "350 Cup"
        # Below 0 is refused whole: nothing changed, not even the title given with it.
        res = cli("product", "set", pid, "--site", SITE, "--stock", "-7", "--title", "Mug", check=False)
        assert res.returncode == 1 and "only 6 available" in res.stderr and "usage" not in res.stderr, res
        assert res.stderr.count("\n") == 1, res.stderr
        assert ledger(pid) == "6|7|1" and psql("SELECT title FROM products WHERE id = '%s'" % pid) == "Cup"
        cli("product", "set", pid, "--site", SITE, "--stock", "-6")
        assert ledger(pid) == "0|1|1"
        # A price copied from `product list` (minor units) is said, in major units, both ways.
        res = cli("product", "set", pid, "--site", SITE, "--price", "350", "--title", "Mug")
        assert res.stdout == "price of %s: 3.50 -> 350.00 CNY\n" % pid, res
        assert psql("SELECT price || ' ' || title FROM products WHERE id = '%s'" % pid) == "35000 Mug"
        res = cli("product", "set", pid, "--site", SITE, "--price", "350.00")
        assert res.stdout == "", res  # the same price: no change to report
        # An absolute count is what is available now; the ledger adds what is held.
        cli("product", "set", pid, "--site", SITE, "--stock", "3")
        assert ledger(pid) == "3|4|1"
        cli("product", "set", pid, "--site", SITE, "--stock", "unlimited")
        assert ledger(pid) == "-|-|1"
        res = cli("product", "set", pid, "--site", SITE, "--stock", "+1", check=False)
        assert res.returncode == 1 and "unlimited" in res.stderr and "--stock N" in res.stderr, res
        assert ledger(pid) == "-|-|1"
        cli("product", "set", pid, "--site", SITE, "--stock", "2")
        assert ledger(pid) == "2|3|1"
        for bad in ("+", "-x", "+1.5", "++1", "1-", ""):
            res = cli("product", "set", pid, "--site", SITE, "--stock", bad, check=False)
            assert res.returncode == 2 and "--stock" in res.stderr and "ERROR" not in res.stderr, (bad, res)
        res = cli("product", "set", pid, "--site", SITE, check=False)
        assert res.returncode == 2 and "--stock" in res.stderr, res
        res = cli("product", "set", "nosuch-" + pid, "--site", SITE, "--stock", "+1", check=False)
        assert res.returncode == 1 and res.stderr == "orderpay: no such product nosuch-%s in site %s\n" % (
            pid, SITE), res
        assert ledger(pid) == "2|3|1"
        assert violations(pid, order["id"]) == []
    finally:
        drop(pid, order["id"])


def test_product_add_again_says_when_the_price_changed():
    pid = "padd-" + uuid.uuid4().hex[:8]
    base = ["product", "add", pid, "--site", SITE, "--title", "Cup"]
    try:
        assert cli(*base, "--price", "3.20").stdout == ""
        res = cli(*base, "--price", "350", "--stock", "5")
        assert res.stdout == "price of %s: 3.20 -> 350.00 CNY\n" % pid, res
        assert cli(*base, "--price", "350").stdout == ""
        res = cli(*base, "--price", "2", "--currency", "USD")
        assert res.stdout == "price of %s: 350.00 CNY -> 2.00 USD\n" % pid, res
        assert psql("SELECT price || currency || stock FROM products WHERE id = '%s'" % pid) == "200USD5"
    finally:
        drop(pid)


def test_restocks_racing_buys_oversell_nothing_and_keep_the_ledger():
    """Several rows at once: 12 buyers of a 6-unit product while 4 operators each add 2 (`+2`) and
    one takes 3 back (`-3`): every unit is sold at most once, no restock overwrites a sale, and the
    audit's ledger (stock_initial = stock + what holding orders took) holds at the end."""
    from concurrent.futures import ThreadPoolExecutor

    from helpers import buy
    pid = "prace-" + uuid.uuid4().hex[:8]
    cli("product", "add", pid, "--site", SITE, "--title", "Cup", "--price", "1.00", "--stock", "6")

    def restock(delta):
        return cli("product", "set", pid, "--site", SITE, "--stock", delta, check=False).returncode

    orders = []
    try:
        with ThreadPoolExecutor(max_workers=17) as pool:
            buys = [pool.submit(buy, "wx.qrcode", products=[{"id": pid, "amount": 1}]) for _ in range(12)]
            sets = [pool.submit(restock, d) for d in ["+2"] * 4 + ["-3"]]
            results = [f.result() for f in buys]
            codes = [f.result() for f in sets]
        sold = [body["data"]["id"] for st, body, _, _ in results if st == 200]
        orders = sold
        assert all(st in (200, 409) for st, _, _, _ in results), [r[2] for r in results]
        assert codes.count(0) >= 4, codes  # every +2; the -3 only if 3 were left when it ran
        added = 8 - (3 if codes[-1] == 0 else 0)
        stock, initial, taken = ledger(pid).split("|")
        assert int(taken) == len(sold) and int(stock) + int(taken) == int(initial), ledger(pid)
        assert int(initial) == 6 + added and len(sold) <= 6 + 8, (ledger(pid), codes, len(sold))
        assert violations(pid) == []
    finally:
        for oid in orders[:-1]:
            psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % oid)
        drop(pid, orders[-1] if orders else None)
