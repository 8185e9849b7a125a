"""The demo checkout page (web/demo) in a real browser: headless Chromium driven over the
DevTools protocol (cdp.py) buys with real clicks and typing, sees the QR code (decoded from the
screenshot with zbarimg: it is the slip's QR text), presses "pay with the sandbox phone" and sees
"paid"; the order is paid in the database too. Screenshots are kept in $STACK_LOG_DIR/browser/.
Skipped, saying why, only when Chromium is not installed or cannot start here."""

import os
import shutil
import subprocess
import time

import pytest

import cdp
import openapi_check
from conftest import STACK, cli, psql, sim


@pytest.fixture(scope="module")
def browser():
    if not cdp.find_chromium():
        pytest.skip("chromium is not installed (Debian package chromium; deploy/install-deps.sh installs it)")
    try:
        b = cdp.Browser()
    except RuntimeError as e:
        pytest.skip("chromium cannot start here: %s" % e)
    yield b
    b.close()


@pytest.fixture(scope="module")
def shots():
    d = os.path.join(STACK.get("STACK_LOG_DIR") or "/tmp", "browser")
    os.makedirs(d, exist_ok=True)
    return d


def decode_png(path):
    if not shutil.which("zbarimg"):
        pytest.skip("zbarimg not installed (Debian package zbar-tools)")
    out = subprocess.run(["zbarimg", "-q", "--raw", path], capture_output=True, timeout=30)
    assert out.returncode == 0, "no QR code found in %s: %s" % (path, out.stderr)
    return out.stdout.decode().strip().splitlines()


def visible(b, selector):
    """Laid out and not display:none (the hidden attribute alone can be overridden by CSS)."""
    return b.evaluate("(() => { const el = document.querySelector(%r); const r = el.getBoundingClientRect();"
                      " return getComputedStyle(el).display !== 'none' && r.width > 0 && r.height > 0; })()"
                      % selector)


def demo_url():
    return STACK["ORDERPAY_URL"] + "/demo/"


def check_api_replies(b):
    """The page's own API calls, as the browser received them, must match api/openapi.yaml."""
    base = STACK["ORDERPAY_URL"]
    seen = b.replies(base + "/api/")
    for method, url, status, headers, body in seen:
        openapi_check.check_reply(method, url[len(base):], status, headers, body)
    return seen


@pytest.mark.parametrize("pay_tp", ["wx.qrcode", "zfb.qrcode"])
def test_buy_see_qr_pay_with_sandbox_phone_see_paid(browser, shots, pay_tp):
    b = browser
    b.events.clear()
    b.navigate(demo_url())
    b.wait_for("document.querySelectorAll('#products input').length >= 2")
    # Two teas, no cup (the cup's stock of 5 belongs to other tests).
    b.type_into("#qty-demo-tea", "2")
    b.type_into("#qty-demo-cup", "0")
    b.click("input[name=pay_tp][value='%s']" % pay_tp)
    b.click("#buy")

    b.wait_for("document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0 "
               "&& !document.getElementById('qr').hidden", timeout=20)
    assert visible(b, "#qr") and visible(b, "#sandbox")
    order_id = b.evaluate("document.getElementById('order-id').textContent")
    assert b.evaluate("document.getElementById('status').dataset.state") == "waiting"
    assert b.evaluate("document.getElementById('fee').textContent") == "25.00 CNY"
    assert "/pay/qr?" in b.evaluate("document.getElementById('qr').src")
    row = psql("SELECT o.pay_tp || '|' || s.re_obj || '|' || o.or_st FROM orders o JOIN pay_slips s "
               "ON s.id = o.pay_id WHERE o.id = '%s'" % order_id).split("|")
    assert row[0] == pay_tp and row[2] == "WT", row
    qr_shot = b.screenshot(os.path.join(shots, "checkout-%s-1-qr.png" % pay_tp))
    # What the buyer's phone would read off the screen is the slip's QR text.
    assert decode_png(qr_shot) == [row[1]]

    b.click("#sandbox")
    b.wait_for("document.getElementById('status').dataset.state === 'paid'", timeout=30)
    assert "Paid" in b.evaluate("document.getElementById('status').textContent")
    assert not visible(b, "#qr") and not visible(b, "#sandbox")
    b.screenshot(os.path.join(shots, "checkout-%s-2-paid.png" % pay_tp))
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "OK"
    assert b.page_errors() == []
    actions = [url.split("?")[0].rsplit("/", 1)[1] for _, url, _, _, _ in check_api_replies(b)]
    # The catalogue first (pay/products, as the page loads), then the buy.
    assert actions[:2] == ["products", "buy"] and "qr" in actions and "check" in actions, actions


def test_page_reports_api_errors(browser, shots):
    b = browser
    b.events.clear()
    b.navigate(demo_url())
    b.wait_for("document.querySelectorAll('#products input').length >= 2")
    b.type_into("#qty-demo-tea", "0")
    b.type_into("#qty-demo-cup", "0")
    b.click("#buy")
    assert b.wait_for("!document.getElementById('error').hidden && document.getElementById('error').textContent")
    # More cups than there are: the API's 409 reaches the buyer as a message, no order shown.
    b.type_into("#qty-demo-cup", "9")
    b.click("#buy")
    text = b.wait_for("document.getElementById('error').textContent.includes('OutOfStore') "
                      "&& document.getElementById('error').textContent")
    assert "not enough stock" in text
    assert not visible(b, "#pay")
    b.screenshot(os.path.join(shots, "checkout-error.png"))
    assert [st for _, _, st, _, _ in check_api_replies(b)] == [200, 409]  # pay/products, then the buy


def test_page_shows_the_price_buy_charges_after_a_change(browser):
    """The page listed a copy of the catalogue taken when the stack started: after a price change
    it showed 3.20 and charged 3.50 (review s28-newuser #10). It reads pay/products now."""
    b = browser
    cup = STACK["DEMO_STOCK_PRODUCT"]
    title, price, stock = psql("SELECT title || '|' || price || '|' || stock FROM products WHERE site_id = '%s' "
                               "AND id = '%s'" % (STACK["DEMO_SITE"], cup)).split("|")
    new = int(price) + 30
    cli("product", "add", cup, "--site", STACK["DEMO_SITE"], "--title", title, "--price",
        "%d.%02d" % (new // 100, new % 100), "--stock", stock)
    try:
        b.navigate(demo_url())
        b.wait_for("document.querySelectorAll('#products input').length >= 2")
        label = b.evaluate("document.querySelector(\"label[for='qty-%s']\").textContent" % cup)
        assert label.endswith("%d.%02d CNY" % (new // 100, new % 100)), label
    finally:
        cli("product", "add", cup, "--site", STACK["DEMO_SITE"], "--title", title, "--price",
            "%d.%02d" % (int(price) // 100, int(price) % 100), "--stock", stock)


def buy_one_tea(b, pay_tp="wx.qrcode"):
    """Buys one tea on a freshly loaded page; returns the order id once its QR code shows."""
    b.navigate(demo_url())
    b.wait_for("document.querySelectorAll('#products input').length >= 2")
    b.type_into("#qty-demo-tea", "1")
    b.type_into("#qty-demo-cup", "0")
    b.click("input[name=pay_tp][value='%s']" % pay_tp)
    b.click("#buy")
    b.wait_for("!document.getElementById('qr').hidden && document.getElementById('status').dataset.state === 'waiting'",
               timeout=20)
    assert b.evaluate("document.getElementById('buy').disabled") is True
    return b.evaluate("document.getElementById('order-id').textContent")


def move_expiry(order_id, seconds_ago):
    """The order (and its creation, which comes before it) as if it had expired `seconds_ago`."""
    psql("UPDATE orders SET expi = now() - interval '%d seconds', ct = now() - interval '%d seconds' "
         "WHERE id = '%s'" % (seconds_ago, seconds_ago + 1800, order_id))


def state(b):
    return b.evaluate("document.getElementById('status').dataset.state")


def test_order_expiring_while_the_shopper_waits_ends_expired_and_buy_works_again(browser, shots):
    b = browser
    b.events.clear()
    order_id = buy_one_tea(b)
    move_expiry(order_id, 1)
    # The next pay/check brings the new expi: past it, the code is gone but the page keeps asking.
    b.wait_for("document.getElementById('status').dataset.state === 'expiring'", timeout=20)
    assert not visible(b, "#qr") and not visible(b, "#sandbox")
    assert b.evaluate("document.getElementById('buy').disabled") is True
    b.screenshot(os.path.join(shots, "checkout-expiring.png"))
    # The expire timer's run fails the order; the page, never reloaded, sees it on a later check.
    checks_before = len([r for r in b.replies(STACK["ORDERPAY_URL"] + "/api/") if "/pay/check?" in r[1]])
    cli("expire")
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "FA"
    b.wait_for("document.getElementById('status').dataset.state === 'expired'", timeout=20)
    assert "expired" in b.evaluate("document.getElementById('status').textContent")
    assert not visible(b, "#qr") and not visible(b, "#sandbox")
    assert b.evaluate("document.getElementById('buy').disabled") is False
    assert len([r for r in check_api_replies(b) if "/pay/check?" in r[1]]) > checks_before
    b.screenshot(os.path.join(shots, "checkout-expired.png"))
    # Buy again, the same cart: a new order (a new Idempotency-Key), not the expired one again.
    b.click("#buy")
    b.wait_for("document.getElementById('status').dataset.state === 'waiting' "
               "&& document.getElementById('order-id').textContent !== %r" % order_id, timeout=20)
    second = b.evaluate("document.getElementById('order-id').textContent")
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % second) == "WT"
    assert b.page_errors() == []
    move_expiry(second, 1)  # its stock back now, not in half an hour
    cli("expire")


def test_page_gives_an_order_up_long_after_expiry_when_nothing_expires_it(browser, shots):
    """No expire timer (or one that cannot close the slip): a few minutes past expi the page stops
    waiting by itself, after one more pay/check, rather than poll a dead order for ever."""
    b = browser
    b.events.clear()
    order_id = buy_one_tea(b, "zfb.qrcode")
    move_expiry(order_id, 6 * 60)
    b.wait_for("document.getElementById('status').dataset.state === 'expired'", timeout=20)
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "WT"  # the page's own verdict
    assert not visible(b, "#qr")
    assert b.evaluate("document.getElementById('buy').disabled") is False
    time.sleep(10)  # and it stopped asking: no pay/check after the verdict
    checks = [r for r in b.replies(STACK["ORDERPAY_URL"] + "/api/") if "/pay/check?" in r[1]]
    time.sleep(9)
    assert len([r for r in b.replies(STACK["ORDERPAY_URL"] + "/api/") if "/pay/check?" in r[1]]) == len(checks)
    assert b.page_errors() == []
    cli("expire")  # what the timer would have done: the audit finds no order open past expiry
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "FA"


def test_order_refunded_while_the_page_waits_shows_refunded(browser, shots):
    """Paid and refunded in full before the page's next check (it was offline meanwhile): the
    page shows the refund, not "waiting for payment" over a QR code."""
    b = browser
    b.events.clear()
    order_id = buy_one_tea(b, "zfb.qrcode")  # Alipay refunds at once (WeChat's finish later)
    slip = psql("SELECT pay_id FROM orders WHERE id = '%s'" % order_id)
    b.send("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1, uploadThroughput=-1)
    try:
        assert sim("/sim/pay", {"out_trade_no": slip})[0] == 200
        deadline = time.time() + 20
        while psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) != "OK":
            assert time.time() < deadline, "the payment's notification did not settle the order"
            time.sleep(0.2)
        cli("refund", order_id, "--reason", "demo page refund probe")
        assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "RF"
    finally:
        b.send("Network.emulateNetworkConditions", offline=False, latency=0, downloadThroughput=-1,
               uploadThroughput=-1)
    b.wait_for("document.getElementById('status').dataset.state === 'refunded'", timeout=30)
    assert "refunded" in b.evaluate("document.getElementById('status').textContent")
    assert not visible(b, "#qr") and not visible(b, "#sandbox")
    assert b.evaluate("document.getElementById('buy').disabled") is False
    b.screenshot(os.path.join(shots, "checkout-refunded.png"))


def test_checks_failing_past_expiry_leave_the_order_unknown_not_expired(browser, shots):
    """The page judged expiry from the last check that answered: with every later check failing
    (the network down), it said "expired" 5 minutes past expi and enabled Buy again, though a
    payment made just before expi may have settled unseen. Now its state is unknown, it keeps
    asking, and only a check that answers ends it."""
    b = browser
    b.events.clear()
    order_id = buy_one_tea(b, "zfb.qrcode")
    move_expiry(order_id, 5 * 60 - 20)  # the page's give-up comes 20 s from now
    b.wait_for("document.getElementById('status').dataset.state === 'expiring'", timeout=20)
    b.send("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1, uploadThroughput=-1)
    try:
        b.wait_for("document.getElementById('status').dataset.state === 'unknown'", timeout=20)
        time.sleep(25)  # past the give-up, checks still failing: never "expired"
        assert state(b) == "unknown", b.evaluate("document.getElementById('status').textContent")
        assert "Cannot tell whether order %s was paid" % order_id in b.evaluate(
            "document.getElementById('status').textContent")
        assert b.evaluate("document.getElementById('buy').disabled") is True
        assert not visible(b, "#qr") and not visible(b, "#sandbox")
        b.screenshot(os.path.join(shots, "checkout-unknown.png"))
    finally:
        b.send("Network.emulateNetworkConditions", offline=False, latency=0, downloadThroughput=-1,
               uploadThroughput=-1)
    # A check answers again: still unpaid this long past expi, so now it is given up as expired.
    b.wait_for("document.getElementById('status').dataset.state === 'expired'", timeout=20)
    assert b.evaluate("document.getElementById('buy').disabled") is False
    assert b.page_errors() == []
    cli("expire")
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "FA"
