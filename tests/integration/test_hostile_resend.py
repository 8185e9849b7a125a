"""Hostile probes of the 2026-12-02 changes: resending a slip its buy never sent
(app/resend.cpp, the replayed pay/buy and pay/check), admin/refund's odd "amount" forms, sealed
notices opened only by merchants of their API, and reconcile's attention list gathered by index.

An "unsent" slip is made two ways: reset (the provider got the first request, orderpay never
recorded it: slip NEW, order NW) or swapped (a fresh NEW slip the provider never saw becomes the
order's live slip, as pay/pay's SwapSlip leaves it when its worker dies before sending). Either
is aged past buy.resend_after_ms (60 s) in the database."""

import json
import secrets
import threading
import time
import uuid

import pytest

from conftest import STACK, api, cli, http, psql, sim
from helpers import buy_ok, check, db_row, inbox, refund_rows, sim_pay, wait_for, wait_state
from test_metrics import delta, scrape
from test_wx3 import buy3_ok, state3, wait3

DEMO = STACK["DEMO_SITE"]
USD = STACK.get("DEMO_USD_SITE", "demo-usd")
V3 = STACK.get("DEMO_V3_SITE", "demo-v3")


def creates(before, after, provider):
    return sum(delta(before, after, 'orderpay_provider_calls_total{provider="%s",operation="create",'
                                    'outcome="%s"}' % (provider, o)) for o in ("ok", "failed", "unknown"))


def reset_unsent(order_id, slip_id, age_s=61):
    """The provider has the slip; orderpay's record of sending it was never written."""
    psql("UPDATE pay_slips SET st = 'NEW', re_tp = 'NONE', re_obj = '', "
         "lm = now() - make_interval(secs => %d) WHERE id = '%s'" % (age_s, slip_id))
    psql("UPDATE orders SET or_st = 'NW', wt_at = NULL WHERE id = '%s'" % order_id)


def swap_unsent(order_id, old_slip, age_s=61):
    """A new NEW slip the provider never saw is the order's live one (pay/pay died before sending);
    the old slip is superseded as Retire leaves it. Returns the new slip id."""
    new = secrets.token_hex(13)
    psql("INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, currency) "
         "SELECT '%s', order_id, site_id, pay_tp, provider, merchant_id, amount, currency FROM pay_slips "
         "WHERE id = '%s'" % (new, old_slip))
    psql("UPDATE pay_slips SET superseded = true, st = 'FAIL', note = 'superseded by pay/pay' "
         "WHERE id = '%s'" % old_slip)
    psql("UPDATE orders SET pay_id = '%s', or_st = 'NW', wt_at = NULL WHERE id = '%s'" % (new, order_id))
    psql("UPDATE pay_slips SET lm = now() - make_interval(secs => %d) WHERE id = '%s'" % (age_s, new))
    return new


def audit_violations():
    # As the expire timer would have (every minute): on a stack kept between runs, orders left
    # unpaid by earlier runs are otherwise "past expiry", which is not this file's doing.
    cli("expire", check=False)
    res = cli("audit", "--json", check=False)
    return json.loads(res.stdout)["violations"]


def trade_state(slip_id):
    st, body, raw, _ = sim("/sim/trade", {"out_trade_no": slip_id}, method="GET")
    return body["data"].get("state") if st == 200 and body.get("ok") else None


# ------------------------------------------------------------------- 1. resending unsent slips


@pytest.mark.parametrize("pay_tp", ["wx.qrcode", "zfb.qrcode"])
def test_resend_of_a_slip_the_buyer_already_paid_settles_it_not_fails_it(pay_tp):
    """The provider took the first request and the trade got paid, its notification lost
    (paysim times=0); orderpay still has the slip NEW. A provider answers a create for a paid
    out_trade_no with ORDERPAID (WeChat) / a trade-exists error: the resend must not turn that
    into FAIL (the money is held and the order would never be delivered, then expire). pay/check
    "a lost notification never leaves a paid order unpaid" (README endpoint table). Found failing
    (the slip went FAIL): the resend now asks the provider first."""
    order = buy_ok(pay_tp)
    slip = order["pay_id"]
    paid = sim_pay(slip, times=0)
    assert paid["sent"] == 0
    reset_unsent(order["id"], slip)
    check(order["id"])  # the resend runs here
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) != ["FAIL"], \
        "a slip the provider holds paid was failed by the resend"
    # A further check within the query interval, then one past it, settles it.
    psql("UPDATE pay_slips SET queried_at = NULL WHERE id = '%s'" % slip)
    o = wait_state(order["id"], "OK", timeout=6.0)
    assert o["or_st"] == "OK", o
    assert audit_violations() == []


def test_a_slip_pay_pay_never_sent_on_a_waiting_order_is_sent_too():
    """pay/pay on a WT order (the buyer switches from WeChat to Alipay) swaps in a NEW slip and
    keeps the order WT (order_set_pay_tp); its worker dies before the provider call. resend.hpp:
    "pay/buy (or pay/pay) committed the order's NEW slip and its worker died ... the buyer's
    pay/check sends it". Found failing: the claim (slip_claim_resend) wanted or_st = 'NW', so
    this slip was never sent and the order showed a NEW slip with no code until it expired."""
    order = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    assert order["or_st"] == "WT"
    old = order["pay_id"]
    new = secrets.token_hex(13)
    # Exactly what pay/pay's Retire + SwapSlip commit before SendSlip.
    psql("UPDATE pay_slips SET superseded = true, st = 'FAIL', note = 'superseded by pay/pay' WHERE id = '%s'" % old)
    psql("INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, currency) "
         "SELECT '%s', order_id, site_id, 'zfb.qrcode', 'zfb', 'zfb-demo', amount, currency FROM pay_slips "
         "WHERE id = '%s'" % (new, old))
    psql("UPDATE orders SET pay_id = '%s', pay_tp = 'zfb.qrcode', seller = 'zfb-demo' WHERE id = '%s'"
         % (new, order["id"]))
    psql("UPDATE pay_slips SET lm = now() - interval '61 seconds' WHERE id = '%s'" % new)
    before = scrape()
    st, body, raw, _ = check(order["id"])
    assert st == 200, raw
    assert body["data"]["pay_id"] == new
    assert body["data"]["pay_re"]["st"] == "WAIT" and body["data"]["pay_re"]["re_tp"] == "QRCODE", raw
    assert creates(before, scrape(), "zfb") == 1
    sim_pay(new)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"


def test_reconcile_leaves_an_unsent_slip_for_the_resend():
    """reconcile's query of an old NEW slip the provider never saw (ORDERNOTEXIST / no trade)
    must not fail it: it is listed UNKNOWN and the buyer's next pay/check still sends it."""
    for pay_tp in ("wx.qrcode", "zfb.qrcode"):
        order = buy_ok(pay_tp, products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
        new = swap_unsent(order["id"], order["pay_id"])
        psql("UPDATE pay_slips SET ct = ct - interval '20 minutes' WHERE id = '%s'" % new)
        out = cli("reconcile", "--min-age", "0", "--limit", "100000").stdout
        assert [x for x in out.splitlines() if new in x][0].startswith("UNKNOWN "), out
        assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % new) == ["NEW"]
        st, body, raw, _ = check(order["id"])
        assert st == 200 and body["data"]["pay_re"]["st"] == "WAIT", raw
        psql("UPDATE pay_slips SET ct = now() WHERE id = '%s'" % new)


def test_resend_racing_the_payment_notification_of_the_same_slip_settles_once():
    """The provider had the slip (reset); the buyer pays it while the poll resends it: three
    duplicate notifications and the resend race. One settlement, order OK, audit clean."""
    order = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    slip = order["pay_id"]
    reset_unsent(order["id"], slip)
    out = {}
    t = threading.Thread(target=lambda: out.__setitem__("pay", sim_pay(slip, times=3)))
    t.start()
    st, body, raw, _ = check(order["id"])
    t.join()
    assert st == 200, raw
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    assert db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % slip) == ["OK", "f"]
    # Settled once: by one of the notifications, or by the resend's query before any of them
    # (then all three are duplicates); never twice.
    verdicts = [v for v, _ in inbox(slip)]
    assert verdicts.count("settled") <= 1 and set(verdicts) <= {"settled", "duplicate"}, inbox(slip)
    assert audit_violations() == []


def test_replay_with_the_same_key_by_another_buyer_never_touches_the_first_buyers_slip():
    key = "hr-" + uuid.uuid4().hex
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], headers={"Idempotency-Key": key},
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    alice = body["data"]
    new = swap_unsent(alice["id"], alice["pay_id"])
    before = scrape()
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET_BOB"], headers={"Idempotency-Key": key},
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    assert body["data"]["id"] != alice["id"], "bob's replay answered alice's order"
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % new) == ["NEW"]
    assert creates(before, scrape(), "wx") == 1  # bob's own order only
    # Alice's own replay sends hers.
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], headers={"Idempotency-Key": key},
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200 and body["data"]["id"] == alice["id"], raw
    assert body["data"]["pay_id"] == new and body["data"]["pay_re"]["st"] == "WAIT", raw


@pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="no demo-v3")
def test_resend_of_a_wx_v3_slip_gives_a_payable_code_and_settles_once():
    order = buy3_ok()
    new = swap_unsent(order["id"], order["pay_id"])
    o = state3(order["id"], V3)
    assert o["pay_id"] == new and o["pay_re"]["st"] == "WAIT" and o["pay_re"]["re_tp"] == "QRCODE", o
    assert o["pay_re"]["re_obj"].startswith("weixin://"), o
    data = sim_pay(new, times=3)
    assert all(r["status"] == 204 for r in data["replies"]), data
    assert wait3(order["id"], "OK", V3, timeout=6.0)["or_st"] == "OK"
    assert int(psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st = 'OK'" % order["id"])) == 1
    assert audit_violations() == []


def test_resend_of_a_paypal_slip_gives_a_link_that_captures_once():
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=USD,
                           json={"products": [{"id": "demo-tea", "amount": 1}], "pay_tp": "paypal"})
    if st == 400 and "no merchant" in raw:
        pytest.skip("no paypal seller on %s" % USD)
    assert st == 200, raw
    order = body["data"]
    new = swap_unsent(order["id"], order["pay_id"])
    o = state3(order["id"], USD)
    assert o["pay_id"] == new and o["pay_re"]["st"] == "WAIT" and o["pay_re"]["re_tp"] == "LINK", o
    link = o["pay_re"]["re_obj"]
    status, _, raw, headers = http("GET", link)
    assert status == 302, raw
    ret = headers["location"]
    http("GET", ret)
    http("GET", ret)  # the browser's back-and-forward
    assert wait3(order["id"], "OK", USD, timeout=6.0)["or_st"] == "OK"
    row = db_row("SELECT status, captures FROM paysim.pp_orders WHERE custom_id = '%s'" % new)
    assert row[0] == "COMPLETED" and row[1] == "1", row
    # The superseded first slip is never captured.
    old = db_row("SELECT coalesce(max(captures), 0) FROM paysim.pp_orders WHERE custom_id = '%s'"
                 % order["pay_id"])
    assert old == ["0"], old
    assert audit_violations() == []


def test_resend_refused_by_the_provider_answers_like_buy_and_the_order_stays_payable():
    """The provider refuses the resent slip (its trade there was closed meanwhile): the replayed
    buy answers the provider's error with the order (as pay/buy would), the slip FAILs, nothing
    is charged, and pay/pay then issues a payable slip."""
    key = "hr-" + uuid.uuid4().hex
    body_json = {"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"}
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], headers={"Idempotency-Key": key},
                           json=body_json)
    assert st == 200, raw
    order = body["data"]
    slip = order["pay_id"]
    psql("UPDATE paysim.trades SET state = 'CLOSED' WHERE out_trade_no = '%s'" % slip)
    reset_unsent(order["id"], slip)
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], headers={"Idempotency-Key": key},
                           json=body_json)
    assert st >= 400 and body["ok"] is False, raw
    assert body["data"]["id"] == order["id"], raw
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["FAIL"]
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["NW"]
    # Another replay sends nothing more and answers the order as it is.
    before = scrape()
    st, again, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], headers={"Idempotency-Key": key},
                            json=body_json)
    assert st == 200 and again["data"]["id"] == order["id"], raw
    assert creates(before, scrape(), "wx") == 0
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "force": "true"})
    assert st == 200 and body["data"]["pay_re"]["st"] == "WAIT", raw
    sim_pay(body["data"]["pay_id"])
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    assert audit_violations() == []


def test_resend_racing_pay_pay_to_another_provider_leaves_one_payable_slip():
    """The buyer's poll resends the unsent wx slip while the buyer switches to Alipay. Whatever
    the order, the order ends with one live slip; the other can never settle the order twice:
    paying both is one settlement and one refund_needed, and audit stays clean."""
    for _ in range(3):
        order = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
        swap_unsent(order["id"], order["pay_id"])
        out = {}
        t1 = threading.Thread(target=lambda: out.__setitem__("check", check(order["id"])))
        t2 = threading.Thread(target=lambda: out.__setitem__("pay", api(
            "GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "zfb.qrcode"})))
        t1.start(); t2.start(); t1.join(); t2.join()
        assert out["check"][0] == 200, out["check"][2]
        live = db_row("SELECT pay_id FROM orders WHERE id = '%s'" % order["id"])[0]
        slips = psql("SELECT id || '|' || st || '|' || superseded FROM pay_slips WHERE order_id = '%s'"
                     % order["id"]).splitlines()
        open_live = [s for s in slips if s.split("|")[1] in ("NEW", "WAIT") and s.split("|")[2] == "f"]
        assert len(open_live) <= 1 and all(s.startswith(live) for s in open_live), slips
        # The buyer pays every slip the providers will take: one settles the order, any other is
        # flagged for refund, never a second settlement.
        for s in slips:
            sid = s.split("|")[0]
            if trade_state(sid) in ("NOTPAY", "WAIT_BUYER_PAY"):
                sim_pay(sid)
        wait_for(lambda: db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"], 5)
        ok = int(psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st = 'OK' AND NOT refund_needed"
                      % order["id"]))
        assert ok <= 1
    assert audit_violations() == []


def test_resend_racing_expire_never_leaves_a_payable_trade_on_a_failed_order():
    """The resend claims the slip just before the order's expiry and `orderpay expire` runs while
    it is at the provider: the order FAILs, its stock comes back once, and the trade the resend
    opened cannot settle the failed order (a payment is flagged refund_needed)."""
    product = STACK["DEMO_PRODUCT"]
    order = buy_ok("wx.qrcode", products=[{"id": product, "amount": 1}])
    new = swap_unsent(order["id"], order["pay_id"])
    psql("UPDATE orders SET expi = now() + interval '300 milliseconds' WHERE id = '%s'" % order["id"])
    t = threading.Thread(target=lambda: check(order["id"]))
    t.start()
    time.sleep(0.4)
    cli("expire")
    t.join()
    cli("expire")
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["FA"]
    st = db_row("SELECT st FROM pay_slips WHERE id = '%s'" % new)[0]
    assert st == "FAIL", st
    if trade_state(new) == "NOTPAY":
        sim_pay(new)
        time.sleep(0.5)
        assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["FA"]
        assert db_row("SELECT refund_needed FROM pay_slips WHERE id = '%s'" % new) == ["t"]
    assert audit_violations() == []


# ------------------------------------------------------------------- 2. admin/refund amount forms


@pytest.fixture(scope="module")
def opkey():
    return cli("apikey", "issue", "--site", DEMO).stdout.strip()


def raw_refund(key, text):
    url = "%s/api/%s/admin/refund" % (STACK["ORDERPAY_URL"], DEMO)
    return http("POST", url, text.encode(), {"Content-Type": "application/json", "Authorization": "Bearer " + key})


@pytest.mark.parametrize("amount_json", [
    '{"value": null}', '""', '[]', '{}', 'true', 'false', '[null]', '"  "', '"\\t"', '" 1.00"', '"1.00 "',
    '"1.00\\n"', '"\\u00a01.00"', '"+1.00"', '"0x10"', '"1_0"', '"\\uff11.00"', '"1e0"', '"NaN"',
    '"Infinity"', '"-0"', '"0.001"', '"."', '"1..0"', '"١"',
])
def test_odd_amount_forms_write_nothing(opkey, amount_json):
    order = buy_ok("zfb.scan", auth_code="280000000000000002", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    text = '{"order": "%s", "reason": "probe", "idempotency_key": "%s", "amount": %s}' % (
        order["id"], uuid.uuid4().hex, amount_json)
    st, body, raw, _ = raw_refund(opkey, text)
    assert st == 400, raw
    assert refund_rows(order["id"]) == 0


@pytest.mark.parametrize("tail", ['"amount": null, "amount": "1.00"', '"amount": "1.00", "amount": null',
                                  '"amount": "1.00", "amount": "12.50"'])
def test_duplicated_amount_key_writes_nothing(opkey, tail):
    order = buy_ok("zfb.scan", auth_code="280000000000000002", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    text = '{"order": "%s", "reason": "probe", "idempotency_key": "%s", %s}' % (order["id"], uuid.uuid4().hex, tail)
    st, body, raw, _ = raw_refund(opkey, text)
    assert st == 400, raw
    assert refund_rows(order["id"]) == 0


# ------------------------------------------------------------------- 3. sealed notices


@pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="no demo-v3")
def test_v3_notice_with_no_v3_merchant_at_all_is_refused_with_a_reason_and_settles_later():
    from test_wx3 import post_v3, v3_notification
    order = buy3_ok()
    slip = order["pay_id"]
    # Every v3 merchant of the stack parked (test_wx3 adds a certificate-mode one), not only ours.
    parked = psql("SELECT id FROM merchants WHERE options->>'api' = 'v3'").split()
    assert "wx3-demo" in parked
    psql("UPDATE merchants SET options = options || '{\"api\": \"v3-parked\"}' WHERE options->>'api' = 'v3'")
    try:
        headers, nbody = v3_notification(slip, int(round(order["fee"] * 100)))
        st, _, raw, _ = post_v3(headers, nbody)
        assert st >= 400, raw
        why = psql("SELECT reason FROM notifications ORDER BY id DESC LIMIT 1")
        # The reason names the API nobody could open it for (notify.cpp builds " v3" into it).
        assert "no wx v3 merchant can open it" in why, why
    finally:
        psql("UPDATE merchants SET options = options || '{\"api\": \"v3\"}' WHERE id IN (%s)"
             % ", ".join("'%s'" % m for m in parked))
    headers, nbody = v3_notification(slip, int(round(order["fee"] * 100)))
    st, _, raw, _ = post_v3(headers, nbody)
    assert st == 204, raw
    assert wait3(order["id"], "OK", V3, timeout=6.0)["or_st"] == "OK"


@pytest.mark.parametrize("api_value", ['"v2"', 'null', '"V2"', '2'])
def test_v2_refund_notice_opens_for_a_v2_merchant_whatever_its_options_say(api_value):
    """wx-demo stays a v2 merchant for every provider call (IsV3 needs "api":"v3" exactly), so
    its v2 refund notifications must still be opened by it, v3 merchants present or not."""
    from test_wx_refund import notify, paid_order, refund_ok, refund_row
    opts = psql("SELECT options::text FROM merchants WHERE id = 'wx-demo'")
    order = paid_order()
    psql("UPDATE merchants SET options = options || '{\"api\": %s}' WHERE id = 'wx-demo'" % api_value)
    try:
        r = refund_ok(order["id"], "1.00")
        sent = notify(r["id"])
        assert sent["replies"][0]["status"] == 200 and "SUCCESS" in sent["replies"][0]["body"], sent
        assert refund_row(r["id"])[0] == "OK", inbox(order["pay_id"])
    finally:
        psql("UPDATE merchants SET options = $$%s$$::jsonb WHERE id = 'wx-demo'" % opts)


# ------------------------------------------------------------------- 4. reconcile attention list


def attention():
    out = cli("reconcile", "--min-age", "3600").stdout
    return out.splitlines()


def test_every_attention_kind_is_listed_once():
    # UNKNOWN: an open slip older than ten minutes.
    unknown = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])["pay_id"]
    psql("UPDATE pay_slips SET ct = ct - interval '11 minutes' WHERE id = '%s'" % unknown)
    # UNCLOSED: failed, never confirmed closed, older than a day.
    unclosed = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])["pay_id"]
    psql("UPDATE pay_slips SET st = 'FAIL', closed_at = NULL, ct = ct - interval '2 days' WHERE id = '%s'" % unclosed)
    # MISMATCH: a signed notification for another amount.
    mismatch = buy_ok("zfb.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])["pay_id"]
    sim_pay(mismatch, tamper="amount_resigned")
    # MISMATCH: a paid slip reported paid again under another transaction.
    again_order = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    again = again_order["pay_id"]
    sim_pay(again)
    wait_state(again_order["id"], "OK")
    psql("UPDATE paysim.trades SET transaction_id = transaction_id || '9', state = 'NOTPAY' "
         "WHERE out_trade_no = '%s'" % again)
    try:
        sim_pay(again)
    finally:
        # paysim's record goes back to the payment orderpay holds: the chaos and fault tests check
        # that every payment paysim took is on its slip with paysim's transaction id.
        psql("UPDATE paysim.trades SET transaction_id = left(transaction_id, -1), state = 'SUCCESS' "
             "WHERE out_trade_no = '%s'" % again)
    # REFUND: a late payment on a superseded slip of a paid order.
    ref_order = buy_ok("wx.qrcode", products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    first = ref_order["pay_id"]
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": ref_order["id"], "force": "true"})
    assert st == 200, raw
    second = body["data"]["pay_id"]
    sim_pay(second)
    wait_state(ref_order["id"], "OK")
    sim_pay(first, force=1)
    assert wait_for(lambda: db_row("SELECT refund_needed FROM pay_slips WHERE id = '%s'" % first) == ["t"], 5)
    lines = attention()
    for slip, kind in ((unknown, "UNKNOWN"), (unclosed, "UNCLOSED"), (mismatch, "MISMATCH"), (again, "MISMATCH"),
                       (first, "REFUND")):
        mine = [x for x in lines if slip in x and not x.startswith(" ")]
        assert len(mine) == 1 and mine[0].startswith(kind + " "), (kind, mine, inbox(slip))
    # Cleanup so later runs on this stack are not listing them.
    psql("UPDATE pay_slips SET ct = now() WHERE id IN ('%s', '%s')" % (unknown, unclosed))
