"""A product withdrawn while it is being bought: pay/buy reads the catalogue, prices the order and
writes it (orderpay_create_order) a moment later, in another transaction. A product disabled,
re-priced or moved to another currency in that moment, or its site moved to another currency,
was still sold at the price just read; since migration 028 the write looks at each product again
as it takes it and refuses the whole order (nothing written, no stock taken) with the reply of a
product not on sale: 404 e.io.obj.noexists, "no such product: ID".

The moment is held open two ways, each on an orderpayd of its own whose db.lock_timeout_ms leaves
a slow box all the time it needs:
- under the product's row: a psql session holds a counted product's row, which the write's stock
  UPDATE waits for, changes the product and commits (the write must judge the newest row);
- before the write reads any product: the buyer reuses an Idempotency-Key whose order is over 24
  hours old, so the write first takes that order's row to release the key; a session holds that
  row while the operator's own CLI commands run, counted product or not.
"""

import os
import secrets
import subprocess
import threading

import pytest

from conftest import STACK, api, cli, psql
from helpers import Locker, lock_waiters, own_orderpayd, wait_for
from test_hostile_provider_values import fcgi

SITE = STACK["DEMO_SITE"]


def q(text):
    return "'" + text.replace("'", "''") + "'"


def product(stock=None, price="3.00", site=SITE, tag="bw"):
    pid = "%s-%s" % (tag, secrets.token_hex(4))  # fresh per run: the test holds on a reused stack
    args = ["product", "add", pid, "--site", site, "--title", "Withdrawn " + pid, "--price", price]
    if stock is not None:
        args += ["--stock", str(stock)]
    cli(*args)
    return pid


def stock(pid, site=SITE):
    return psql("SELECT coalesce(stock::text, 'unlimited') FROM products WHERE site_id = %s AND id = %s"
                % (q(site), q(pid)))


def sold(pid):
    return int(psql("SELECT count(*) FROM order_items WHERE product_id = %s" % q(pid)))


def where(pid, site=SITE):
    return "WHERE site_id = %s AND id = %s" % (q(site), q(pid))


class Buys:
    """Buys on an orderpayd of its own, each in a thread; `replies` fill as they end."""

    def __init__(self, own):
        self.own, self.threads, self.replies = own, [], []

    def start(self, products, site=SITE, key=None):
        body = ('{"products":[%s],"pay_tp":"wx.qrcode"}'
                % ",".join('{"id":"%s","amount":%d}' % (p, n) for p, n in products)).encode()
        headers = {"Idempotency-Key": key} if key else None
        t = threading.Thread(target=lambda: self.replies.append(
            fcgi(self.own["sock"], "POST", "/api/%s/pay/buy" % site, {"ticket": STACK["DEMO_TICKET"]}, body,
                 headers=headers, timeout=120)))
        t.start()
        self.threads.append(t)

    def waiting(self, n):
        """Until n of them wait for a lock inside the write."""
        assert wait_for(lambda: lock_waiters("orderpay_create_order") >= n, 30, 0.02), \
            "the buys never came to wait in their write"

    def join(self):
        for t in self.threads:
            t.join(timeout=120)
        assert len(self.replies) == len(self.threads), "a buy did not end"
        return self.replies


@pytest.fixture
def own():
    with own_orderpayd("bw", ORDERPAY_DB_LOCK_TIMEOUT_MS="60000", ORDERPAY_WORKERS="2") as o:
        yield o


def commit(locker, sql):
    """The holding session runs `sql` and commits; its output lines up to the commit."""
    locker.proc.stdin.write(sql + ";\nCOMMIT;\nSELECT 'committed';\n")
    locker.proc.stdin.flush()
    out = []
    while True:
        line = locker.proc.stdout.readline()
        assert line, "psql ended: %s" % locker.proc.stderr.read()
        if line.strip() == "committed":
            return out
        out.append(line.strip())


def refused(reply, pid):
    status, body, raw = reply
    assert status == 404 and body["errCode"] == "e.io.obj.noexists", raw
    assert body["msg"] == "no such product: " + pid, raw


def bought(reply):
    status, body, raw = reply
    assert status == 200 and body["ok"] is True, raw
    return body["data"]


# --- under the product's row ---------------------------------------------------------------------

# What each change writes, as the CLI's statement does (the session holds the row, so the CLI
# itself would wait behind the buy). "currency" alone, still on sale, is what only a database an
# older build wrote could hold: it shows the currency is checked for itself.
ROW_CHANGES = {
    "disabled": ("UPDATE products SET active = false, lm = now() %s", False),
    "repriced": ("UPDATE products SET price = price + 1, lm = now() %s", False),
    "readded_in_usd": ("UPDATE products SET price = 45, currency = 'USD', active = false, lm = now() %s", False),
    "currency": ("UPDATE products SET currency = 'USD', lm = now() %s", False),
    "disabled_then_enabled": ("UPDATE products SET active = false %s;\nUPDATE products SET active = true %s", True),
    "retitled": ("UPDATE products SET title = 'New title', lm = now() %s", True),
}


@pytest.mark.parametrize("change", list(ROW_CHANGES))
def test_a_counted_product_changed_while_its_buy_waits_for_the_row(own, change):
    sql, sells = ROW_CHANGES[change]
    pid = product(stock=5)
    locker = Locker("SELECT 1 FROM products %s FOR UPDATE" % where(pid))
    buys = Buys(own)
    try:
        buys.start([(pid, 1)])
        buys.waiting(1)
        commit(locker, sql.replace("%s", where(pid)))
    finally:
        locker.release()
    reply = buys.join()[0]
    if change == "currency":  # the audit's product_on_sale_in_site_currency, for later tests
        cli("product", "disable", pid, "--site", SITE)
    if sells:
        order = bought(reply)
        assert order["fee"] == 3.00 and stock(pid) == "4" and sold(pid) == 1, order
    else:
        refused(reply, pid)
        assert stock(pid) == "5" and sold(pid) == 0


def test_the_second_of_three_lines_withdrawn_gives_back_the_first(own):
    """By product id the write takes a..., then waits for b..., whose product is withdrawn: the
    whole order is refused and a...'s unit, already taken, is given back with it."""
    tag = secrets.token_hex(3)
    a, b, c = (product(stock=5, tag="bw%s-%s" % (x, tag)) for x in "abc")
    locker = Locker("SELECT 1 FROM products %s FOR UPDATE" % where(b))
    buys = Buys(own)
    try:
        buys.start([(c, 1), (b, 1), (a, 1)])
        buys.waiting(1)
        # The buy holds a...'s row: it took that unit before it came to b...
        assert psql("SELECT count(*) FROM (SELECT 1 FROM products %s FOR UPDATE SKIP LOCKED) r" % where(a)) == "0"
        assert stock(a) == "5"  # (not committed)
        commit(locker, "UPDATE products SET active = false, lm = now() " + where(b))
    finally:
        locker.release()
    refused(buys.join()[0], b)
    assert [stock(p) for p in (a, b, c)] == ["5", "5", "5"]
    assert [sold(p) for p in (a, b, c)] == [0, 0, 0]


def test_two_buys_waiting_for_a_product_withdrawn_meanwhile_are_both_refused(own):
    pid = product(stock=5)
    locker = Locker("SELECT 1 FROM products %s FOR UPDATE" % where(pid))
    buys = Buys(own)
    try:
        buys.start([(pid, 1)])
        buys.start([(pid, 2)])
        buys.waiting(2)
        commit(locker, "UPDATE products SET active = false, lm = now() " + where(pid))
    finally:
        locker.release()
    for reply in buys.join():
        refused(reply, pid)
    assert stock(pid) == "5" and sold(pid) == 0


# --- a retry under the same key, waiting behind the request it retries -------------------------

def test_a_retry_behind_its_request_replays_it_though_the_product_is_withdrawn_next(own):
    """The first request (K) waits in its write for the product's row; `product disable` queues
    behind it, then the retry (same key, same body: it read no order under K) behind that. The
    first commits its order, the disable commits, then the retry's write goes on: the key names an
    order, so the retry answers it (README: the same key returns the same order), not 404."""
    pid = product(stock=5)
    key = "bw-" + secrets.token_hex(6)
    locker = Locker("SELECT 1 FROM products %s FOR UPDATE" % where(pid))
    buys = Buys(own)
    disabling = None
    try:
        buys.start([(pid, 1)], key=key)
        buys.waiting(1)
        disabling = subprocess.Popen(
            [os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "product", "disable", pid, "--site", SITE],
            env=dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_for(lambda: lock_waiters("products p SET active") == 1, 30, 0.02), "the disable never waited"
        buys.start([(pid, 1)], key=key)
        buys.waiting(2)
    finally:
        locker.release()
        if disabling:
            out, err = disabling.communicate(timeout=120)
            assert disabling.returncode == 0, out + err
    first, retry = (bought(r) for r in buys.join())
    assert first["id"] == retry["id"]
    assert (stock(pid), sold(pid)) == ("4", 1)
    assert psql("SELECT active FROM products " + where(pid)) == "f"


def test_a_retry_behind_its_request_replays_it_though_that_took_the_last_unit(own):
    pid = product(stock=1)
    key = "bw-" + secrets.token_hex(6)
    locker = Locker("SELECT 1 FROM products %s FOR UPDATE" % where(pid))
    buys = Buys(own)
    try:
        buys.start([(pid, 1)], key=key)
        buys.waiting(1)
        buys.start([(pid, 1)], key=key)
        buys.waiting(2)
    finally:
        locker.release()
    first, retry = (bought(r) for r in buys.join())
    assert first["id"] == retry["id"]
    assert (stock(pid), sold(pid)) == ("0", 1)


# --- before the write reads any product: the operator's own commands -----------------------------

def stale_key_order(pid, site=SITE):
    """A key whose order (one of `pid`) is over 24 hours old: a buy may use the key again, and its
    write first takes that order's row to release the key. (key, order id)."""
    key = "bw-" + secrets.token_hex(6)
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=site, headers={"Idempotency-Key": key},
                           json={"products": [{"id": pid, "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    oid = body["data"]["id"]
    psql("UPDATE orders SET ct = ct - interval '25 hours' WHERE id = %s" % q(oid))
    return key, oid


def between_read_and_write(own, pid, meanwhile, site=SITE, amount=1):
    """A buy of `pid` read the catalogue and waits in its write, before it reads any product, while
    `meanwhile()` runs; then the write goes on. Its reply."""
    key, oid = stale_key_order(pid, site)
    locker = Locker("SELECT 1 FROM orders WHERE id = %s FOR UPDATE" % q(oid))
    buys = Buys(own)
    try:
        buys.start([(pid, amount)], site=site, key=key)
        buys.waiting(1)
        meanwhile()
    finally:
        locker.release()
    return buys.join()[0]


def disable(pid, site=SITE):
    cli("product", "disable", pid, "--site", site)


def reprice(pid, site=SITE):
    cli("product", "set", pid, "--site", site, "--price", "3.01")


def disable_enable(pid, site=SITE):
    disable(pid, site)
    cli("product", "enable", pid, "--site", site)


CLI_CHANGES = {"disable": (disable, False), "set_price": (reprice, False), "disable_enable": (disable_enable, True)}


@pytest.mark.parametrize("counted", [True, False], ids=["counted", "uncounted"])
@pytest.mark.parametrize("change", list(CLI_CHANGES))
def test_a_product_changed_by_the_operator_between_read_and_write(own, change, counted):
    fn, sells = CLI_CHANGES[change]
    pid = product(stock=5 if counted else None)
    reply = between_read_and_write(own, pid, lambda: fn(pid))
    # The key's old order took one unit and is one line.
    if sells:
        assert bought(reply)["fee"] == 3.00, reply
        assert (stock(pid), sold(pid)) == ("3" if counted else "unlimited", 2)
    else:
        refused(reply, pid)
        assert (stock(pid), sold(pid)) == ("4" if counted else "unlimited", 1)


def own_site(currency="CNY"):
    site = "bw-" + secrets.token_hex(4)
    cli("site", "add", site, "--store", "demo-users", "--currency", currency)
    cli("seller", "set", "--site", site, "--prefix", "wx", "--merchant", STACK["DEMO_MERCHANT"])
    return site


def test_a_site_moved_to_another_currency_between_read_and_write(own):
    """The README's three steps, in that moment: the product re-added in USD (off sale), the site
    set to USD, the product enabled again. A buy that read it at 3.00 CNY must not be sold it."""
    site = own_site()
    pid = product(site=site)

    def move():
        cli("product", "add", pid, "--site", site, "--title", "Withdrawn " + pid, "--price", "0.45",
            "--currency", "USD")
        cli("site", "set", site, "--currency", "USD")
        cli("product", "enable", pid, "--site", site)

    refused(between_read_and_write(own, pid, move, site), pid)
    assert sold(pid) == 1  # the key's old order only


def test_a_site_alone_moved_to_another_currency_between_read_and_write(own):
    """The site's currency changed under a product still on sale in the old one: `site set
    --currency` refuses that, but a database an older build wrote can hold it. The site's currency
    is checked for itself, and the first product listed named, as a read a moment later would."""
    site = own_site()
    pid, other = product(site=site), product(site=site)

    def move():
        psql("UPDATE sites SET currency = 'USD' WHERE id = %s" % q(site))

    key, oid = stale_key_order(pid, site)
    locker = Locker("SELECT 1 FROM orders WHERE id = %s FOR UPDATE" % q(oid))
    buys = Buys(own)
    try:
        buys.start([(other, 1), (pid, 1)], site=site, key=key)
        buys.waiting(1)
        move()
    finally:
        locker.release()
        replies = buys.join()
        for p in (pid, other):  # the audit's product_on_sale_in_site_currency, for later tests
            cli("product", "disable", p, "--site", site)
    refused(replies[0], other)
    assert sold(pid) == 1 and sold(other) == 0
