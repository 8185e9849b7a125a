"""A slip its sender never sent (app/resend.hpp): pay/buy committed the order and its NEW slip,
then its worker died before the provider call. The order is made here exactly as pay/buy's
one write makes it (orderpay_create_order, migration 009) and nothing sends it, which is what
such a death leaves. The buyer's pay/check sends it once buy.resend_after_ms (60 s here; aged in
the database, not waited for) says the sender is gone: once, whoever asks at the same time;
never a scan's one-time code, never for an order that can no longer pay, never before."""

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, psql
from helpers import buy, check, db_row, sim_pay, wait_state
from test_metrics import delta, scrape

TITLE, PRICE = "Green tea", 1250
SELLERS = {"wx": "wx-demo", "zfb": "zfb-demo"}


def unsent_order(pay_tp="wx.qrcode", age_s=61, expire_minutes=30):
    """An order with one NEW slip nobody sent, its slip `age_s` seconds old; (order, slip)."""
    prefix = pay_tp.split(".")[0]
    seller = SELLERS[prefix]
    order, slip = secrets.token_hex(13), secrets.token_hex(13)
    psql("SELECT orderpay_create_order('%s', 'demo', 'A', '%s', '', 'demo-users', 'alice', 1, %d, 0, 0, "
         "%d, %d, 'CNY', '%s', '%s', '{}', '127.0.0.1', %d, NULL, NULL, '%s', '%s', '%s', "
         "ARRAY['demo-tea'], ARRAY['%s'], ARRAY[1]::bigint[], ARRAY[%d]::bigint[], ARRAY[%d]::bigint[])"
         % (order, TITLE, PRICE, PRICE, PRICE, pay_tp, seller, expire_minutes, slip, prefix, seller,
            TITLE, PRICE, PRICE))
    psql("UPDATE pay_slips SET lm = lm - make_interval(secs => %d) WHERE id = '%s'" % (age_s, slip))
    return order, slip


def creates(before, after, provider):
    return sum(delta(before, after, 'orderpay_provider_calls_total{provider="%s",operation="create",'
                                    'outcome="%s"}' % (provider, o)) for o in ("ok", "failed", "unknown"))


@pytest.mark.parametrize("pay_tp,re_tp", [("wx.qrcode", "QRCODE"), ("zfb.qrcode", "QRCODE"),
                                          ("wx.jsapi", "JSON")])
def test_check_sends_a_slip_its_buy_never_sent(pay_tp, re_tp):
    order, slip = unsent_order(pay_tp)
    before = scrape()
    status, body, raw, _ = check(order)
    assert status == 200, raw
    assert body["data"]["pay_re"]["st"] == "WAIT", raw
    assert body["data"]["pay_re"]["re_tp"] == re_tp, raw
    assert body["data"]["or_st"] == "WT", raw
    assert db_row("SELECT st, re_tp FROM pay_slips WHERE id = '%s'" % slip) == ["WAIT", re_tp]
    # Sent: the next check reads it and sends nothing more.
    status, again, raw, _ = check(order)
    assert status == 200 and again["data"]["pay_re"] == body["data"]["pay_re"], raw
    assert creates(before, scrape(), pay_tp.split(".")[0]) == 1
    if pay_tp == "wx.qrcode":
        assert sim_pay(slip)["replies"][0]["status"] == 200
        wait_state(order, "OK")


def test_a_young_unsent_slip_is_left_to_its_sender():
    # Under buy.resend_after_ms its buy may still be at the provider: nothing is sent twice.
    order, slip = unsent_order(age_s=0)
    before = scrape()
    for _ in range(3):
        status, body, raw, _ = check(order)
        assert status == 200 and body["data"]["pay_re"]["st"] == "NEW", raw
    assert creates(before, scrape(), "wx") == 0
    assert db_row("SELECT st, lm = ct FROM pay_slips WHERE id = '%s'" % slip) == ["NEW", "t"]


def test_concurrent_checks_send_it_once():
    order, slip = unsent_order()
    before = scrape()
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: check(order), range(16)))
    assert [r[0] for r in replies] == [200] * 16, [r[2] for r in replies]
    assert creates(before, scrape(), "wx") == 1
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["WAIT"]
    # Each reply is the slip as that request saw it: NEW before the send, WAIT after; never FAIL.
    assert {r[1]["data"]["pay_re"]["st"] for r in replies} <= {"NEW", "WAIT"}


def test_a_scan_code_is_never_sent_again():
    # wx.scan's auth_code was the dead request's, good for about a minute, and is not stored.
    order, slip = unsent_order("wx.scan")
    before = scrape()
    status, body, raw, _ = check(order)
    assert status == 200 and body["data"]["pay_re"]["st"] == "NEW", raw
    assert creates(before, scrape(), "wx") == 0


def test_an_expired_order_is_not_sent():
    order, slip = unsent_order()
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order)
    before = scrape()
    status, body, raw, _ = check(order)
    assert status == 200, raw
    assert creates(before, scrape(), "wx") == 0
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["NEW"]


def test_a_slip_that_is_no_longer_the_orders_is_not_sent():
    # pay/pay moved the order to another slip (compare-and-set on pay_id): the old one is not
    # sent even if it is still NEW.
    order, slip = unsent_order()
    other = secrets.token_hex(13)
    psql("INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, currency) "
         "SELECT '%s', order_id, site_id, pay_tp, provider, merchant_id, amount, currency FROM pay_slips "
         "WHERE id = '%s'" % (other, slip))
    psql("UPDATE orders SET pay_id = '%s' WHERE id = '%s'" % (other, order))
    psql("UPDATE pay_slips SET lm = lm - interval '61 seconds' WHERE id = '%s'" % other)
    before = scrape()
    status, body, raw, _ = check(order)
    assert status == 200, raw
    # The order's current slip (other) is the one sent; the old one stays as it was.
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["NEW"]
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % other) == ["WAIT"]
    assert creates(before, scrape(), "wx") == 1


def test_someone_elses_check_sends_nothing():
    order, slip = unsent_order()
    before = scrape()
    status, body, raw, _ = check(order, ticket=STACK["DEMO_TICKET_BOB"])
    assert status == 404, raw
    assert creates(before, scrape(), "wx") == 0
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["NEW"]


@pytest.mark.parametrize("pay_tp", ["wx.qrcode", "zfb.qrcode"])
def test_a_slip_the_provider_did_get_comes_back_with_the_same_code(pay_tp):
    # The worker died after the provider took the slip but before recording it (MarkWaiting):
    # the slip is NEW here, open there. Sent again under the same id, the provider answers the
    # trade it has, and the buyer gets the code that can actually be paid.
    order = buy(pay_tp)[1]["data"]
    slip, qr = order["pay_id"], order["pay_re"]["re_obj"]
    assert order["pay_re"]["st"] == "WAIT" and qr
    psql("UPDATE pay_slips SET st = 'NEW', re_tp = 'NONE', re_obj = '', lm = lm - interval '61 seconds' "
         "WHERE id = '%s'" % slip)
    psql("UPDATE orders SET or_st = 'NW', wt_at = NULL WHERE id = '%s'" % order["id"])
    status, body, raw, _ = check(order["id"])
    assert status == 200, raw
    assert body["data"]["pay_re"] == {"st": "WAIT", "re_tp": "QRCODE", "re_obj": qr}, raw
    assert sim_pay(slip)["replies"][0]["status"] == 200
    wait_state(order["id"], "OK")
