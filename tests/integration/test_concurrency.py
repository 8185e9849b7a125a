"""Stock under concurrency: 30 simultaneous buys of a product with stock 5."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import STACK, cli, psql
from helpers import buy


def test_thirty_buyers_five_in_stock():
    pid = "race-" + uuid.uuid4().hex[:8]  # fresh per run, so the test also holds on a reused stack
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Race cup", "--price", "1.00",
        "--stock", "5")
    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(lambda _: buy(products=[{"id": pid, "amount": 1}]), range(30)))
    ok = [r for r in results if r[0] == 200]
    out = [r for r in results if r[0] == 409 and r[1]["errCode"] == "e.www.order.OutOfStore"]
    assert len(ok) == 5, [r[2][:200] for r in results if r[0] != 200 and r[0] != 409]
    assert len(out) == 25
    assert psql("SELECT stock FROM products WHERE id = '%s'" % pid) == "0"
    assert psql("SELECT count(*) FROM order_items WHERE product_id = '%s'" % pid) == "5"


def test_demo_stock_product_has_five():
    # The demo data promises DEMO_STOCK_PRODUCT with stock 5 on a fresh stack (other tests only
    # ever over-ask it, which takes nothing).
    assert psql("SELECT stock FROM products WHERE id = '%s'" % STACK["DEMO_STOCK_PRODUCT"]) == "5"


def test_expiry_gives_stock_back_exactly_once():
    pid = "exp-" + uuid.uuid4().hex[:8]
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Expiring cup", "--price", "1.00",
        "--stock", "3")
    status, body, raw, _ = buy(products=[{"id": pid, "amount": 2}])
    assert status == 200, raw
    order_id = body["data"]["id"]
    assert psql("SELECT stock FROM products WHERE id = '%s'" % pid) == "1"
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order_id)
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: cli("expire", "--limit", "100000"), range(3)))
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "FA"
    assert psql("SELECT stock FROM products WHERE id = '%s'" % pid) == "3"
    assert psql("SELECT st FROM pay_slips WHERE order_id = '%s'" % order_id) == "FAIL"


def test_reversed_two_product_buys_never_deadlock():
    """Half the buyers list the products one way, half the other: stock is taken in product-id
    order everywhere, so no transaction waits on another in a cycle (no 500), and stock is exact."""
    a, b = "dl-a-" + uuid.uuid4().hex[:6], "dl-b-" + uuid.uuid4().hex[:6]
    for pid in (a, b):
        cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Pair " + pid, "--price", "0.50",
            "--stock", "1000")

    def one(i):
        pair = [{"id": a, "amount": 1}, {"id": b, "amount": 2}]
        return buy(products=pair if i % 2 else pair[::-1])

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, range(400)))
    statuses = sorted({r[0] for r in results})
    assert statuses == [200], [r[2][:200] for r in results if r[0] != 200][:5]
    assert psql("SELECT stock FROM products WHERE id = '%s'" % a) == str(1000 - 400)
    assert psql("SELECT stock FROM products WHERE id = '%s'" % b) == str(1000 - 800)
    # The lines keep the order the buyer gave, whatever order the stock was taken in.
    first = psql("SELECT product_id FROM order_items WHERE order_id = '%s' AND pos = 0" % results[0][1]["data"]["id"])
    assert first == b
