"""pay/buy reads in one statement (site, session, seller, products, idempotency key) and writes
in one (orderpay_create_order): product ids reach PostgreSQL as array elements, so every
character an operator may put in an id must survive, and a shortage in any line, in whatever
order the client lists them, must leave nothing written."""

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, cli, psql
from helpers import Locker, buy, buy_ok, wait_for

# Characters that mean something in a PostgreSQL array literal or in SQL. Product ids are
# [A-Za-z0-9_.-] in the database, but a client may send anything; titles may hold anything.
ODD = ['q"uote', 'back\\slash', '{brace},comma', 'NULL', ' spaced ', "it's", "\u00e9t\u00e9-\u4e2d"]


def add_product(pid, stock=None, price="1.00", title=None):
    args = ["product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", title or ("title of " + pid),
            "--price", price]
    if stock is not None:
        args += ["--stock", str(stock)]
    cli(*args)


def q(text):
    return "'" + text.replace("'", "''") + "'"


def stock(pid):
    return psql("SELECT stock FROM products WHERE site_id = %s AND id = %s" % (q(STACK["DEMO_SITE"]), q(pid)))


def test_odd_titles_are_written_exactly():
    ids = ["odd-title-%d" % i for i in range(len(ODD))]
    for i, (pid, title) in enumerate(zip(ids, ODD)):
        add_product(pid, stock=10, price="%d.00" % (i + 1), title=title)
    products = [{"id": pid, "amount": i + 1} for i, pid in enumerate(ids)]
    order = buy_ok(products=products)
    rows = psql("SELECT title FROM order_items WHERE order_id = '%s' ORDER BY pos" % order["id"]).split("\n")
    assert rows == ODD, rows
    amounts = psql("SELECT string_agg(amount || '*' || price, ',' ORDER BY pos) FROM order_items "
                   "WHERE order_id = '%s'" % order["id"])
    assert amounts == ",".join("%d*%d" % (i + 1, (i + 1) * 100) for i in range(len(ODD))), amounts
    for i, pid in enumerate(ids):
        assert stock(pid) == str(10 - (i + 1)), pid
    assert [line["title"] for line in order["products"]] == ODD, order


@pytest.mark.parametrize("pid", ODD)
def test_odd_requested_ids_are_not_found_never_500(pid):
    status, body, raw, _ = buy(products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}, {"id": pid, "amount": 1}])
    assert status == 404 and body["errCode"] == "e.io.obj.noexists", raw


@pytest.mark.parametrize("reverse", [False, True])
def test_a_short_line_writes_nothing_whatever_the_listing_order(reverse):
    # By product id "a..." is taken before "z...": the shortage in "z..." must give "a..." back.
    first, second = "a-plenty-%d" % reverse, "z-scarce-%d" % reverse
    add_product(first, stock=5)
    add_product(second, stock=1)
    orders_before = psql("SELECT count(*) FROM orders")
    products = [{"id": first, "amount": 2}, {"id": second, "amount": 2}]
    if reverse:
        products.reverse()
    status, body, raw, _ = buy(products=products)
    assert status == 409 and body["errCode"] == "e.www.order.OutOfStore", raw
    assert body["data"] == {"product": second}, raw
    assert stock(first) == "5" and stock(second) == "1"
    assert psql("SELECT count(*) FROM orders") == orders_before


def test_unknown_and_inactive_products_are_404_before_anything_is_written():
    add_product("soon-gone", stock=3)
    psql("UPDATE products SET active = false WHERE site_id = %s AND id = 'soon-gone'" % q(STACK["DEMO_SITE"]))
    for pid in ["soon-gone", "never-was"]:
        status, body, raw, _ = buy(products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}, {"id": pid, "amount": 1}])
        assert status == 404 and body["errCode"] == "e.io.obj.noexists", raw
        assert pid in body.get("msg", ""), raw
    assert stock("soon-gone") == "3"


def test_a_product_of_another_site_is_not_found():
    # The statement joins products on the request's site: the same id elsewhere does not count.
    status, body, raw, _ = buy(products=[{"id": "odd-other-site-only", "amount": 1}])
    assert status == 404, raw


def hold_product_row(pid, seconds):
    """A psql session that locks the product row (as a buy in flight would) for `seconds`."""
    from conftest import PSQL, _pg_env
    sql = ("BEGIN; SELECT 1 FROM products WHERE site_id = %s AND id = %s FOR UPDATE; SELECT pg_sleep(%d); COMMIT;"
           % (q(STACK["DEMO_SITE"]), q(pid), seconds))
    proc = subprocess.Popen([PSQL, "-X", "-q", "-c", sql], env=_pg_env(), stdout=subprocess.DEVNULL)
    locked = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.query LIKE '%%pg_sleep(%d)%%' AND l.locktype = 'transactionid'" % seconds
    assert wait_for(lambda: psql(locked) != "0", 10), "the holder did not take its lock"
    return proc


def test_a_product_without_stock_count_is_never_locked_by_a_buy():
    # The demo tea has no stock count: a buy neither updates nor waits on its row.
    holder = hold_product_row(STACK["DEMO_PRODUCT"], 20)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(buy, products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
            status = fut.result(timeout=15)[0]
        assert status == 200
        assert holder.poll() is None, "the buy returned only once the holder let go"
    finally:
        holder.kill()
        holder.wait()
        # The server side would sleep on with the lock: end it.
        psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE query LIKE '%%pg_sleep(20)%%' AND pid <> pg_backend_pid()")


def test_counted_stock_still_serialises_on_the_row():
    pid = "counted-lock-%d" % os.getpid()
    add_product(pid, stock=5)
    # Held until released, well under orderpayd's db.lock_timeout_ms (2 s) after the buy starts
    # waiting, past which the buy would answer 503. (A lock timed by pg_sleep could end before
    # the check on a slow box, and the buy with it.)
    holder = Locker("SELECT 1 FROM products WHERE site_id = %s AND id = %s FOR UPDATE" % (q(STACK["DEMO_SITE"]), q(pid)))
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(buy, products=[{"id": pid, "amount": 1}])
            time.sleep(0.5)
            assert not fut.done(), "a counted product's buy did not wait for the row lock"
            holder.release()
            assert fut.result(timeout=30)[0] == 200
    finally:
        holder.release()
    assert stock(pid) == "4"


def test_ids_that_read_as_array_words_race_without_oversell_or_deadlock():
    """Product ids an array literal could misread ("NULL", "null", with dots and dashes) reach the
    one-statement create as array elements; 40 concurrent buys of pairs of them listed in both
    orders must take exactly the stock there is, never deadlock, and leave lines equal to sales."""
    suffix = str(os.getpid())
    ids = ["NULL", "null", "a.b-" + suffix, "-." + suffix]
    for pid in ids:
        psql("DELETE FROM products WHERE site_id = %s AND id = %s AND NOT EXISTS "
             "(SELECT 1 FROM order_items WHERE product_id = %s)" % (q(STACK["DEMO_SITE"]), q(pid), q(pid)))
        # `product add --stock 10`, not an UPDATE: on a stack that ran this test before, the earlier
        # orders still hold their units, and only the CLI counts them into stock_initial.
        add_product(pid, stock=10)
    before = {pid: int(psql("SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id "
                            "WHERE o.site_id = %s AND i.product_id = %s" % (q(STACK["DEMO_SITE"]), q(pid))))
              for pid in ids}

    def one(i):
        a, b = ids[i % 4], ids[(i + 1) % 4]
        pair = [{"id": a, "amount": 1}, {"id": b, "amount": 1}]
        return buy(products=pair if i % 2 else list(reversed(pair)))

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(40)))
    statuses = [r[0] for r in results]
    assert set(statuses) <= {200, 409}, [r[2] for r in results if r[0] not in (200, 409)]
    assert statuses.count(200) == 20, statuses  # 4 products x 10 units, 2 units a buy
    for pid in ids:
        assert stock(pid) == "0", pid
        sold = int(psql("SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id "
                        "WHERE o.site_id = %s AND i.product_id = %s" % (q(STACK["DEMO_SITE"]), q(pid))))
        assert sold - before[pid] == 10, pid
