"""A void that refunds: Alipay's cancel of a trade the buyer paid meanwhile refunds it and answers
action=refund. orderpay cancels a precreated code when close says "not exist" (expire, pay/pay)
and a scan payment it could not confirm; in both the buyer can pay in between. paysim's
"paid_at_cancel" trades make that race certain: the cancel first pays the trade and sends its
notification, then refunds it. The order must end refunded (RF, a provider refund recorded OK),
never paid on money the buyer has back, and the stock it took stays accounted for."""

import uuid

from conftest import STACK, api, cli, psql, sim
from helpers import buy_ok, db_row, inbox, sim_pay, sim_refunded, wait_for, wait_state, sim_trade as trade


def product(stock=3, price="1.00"):
    pid = "void-%s" % uuid.uuid4().hex[:10]
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "void " + pid, "--price", price,
        "--stock", str(stock))
    return pid


def stock_of(pid):
    return int(psql("SELECT stock FROM products WHERE id = '%s' AND site_id = '%s'" % (pid, STACK["DEMO_SITE"])))


def paid_at_cancel(slip):
    """The buyer will pay this trade the moment orderpay cancels it (a paysim test hook)."""
    assert psql("UPDATE paysim.zfb_trades SET scan = 'paid_at_cancel' WHERE out_trade_no = '%s'"
                " AND state = 'NOT_SCANNED' RETURNING 1" % slip).startswith("1")


def assert_reversed(order_id, slip, fee):
    """orderpay recorded the payment and the provider's refund of it; paysim agrees."""
    t = trade(slip)
    assert t["state"] == "TRADE_CLOSED" and t["refunded"] is True, t
    or_st, pay_id = db_row("SELECT or_st, coalesce(pay_id, '') FROM orders WHERE id = '%s'" % order_id)
    st, txn, refund_needed = db_row("SELECT st, provider_txn_id, refund_needed FROM pay_slips WHERE id = '%s'"
                                    % slip)
    assert st == "OK" and txn == t["trade_no"], (st, txn, t)
    assert (or_st == "RF" and pay_id == slip) or refund_needed == "t", (or_st, pay_id, refund_needed)
    refunds = psql("SELECT st || ':' || amount || ':' || requested_by FROM refunds WHERE slip_id = '%s'" % slip)
    assert refunds == "OK:%d:provider" % fee, refunds
    return or_st


def audit_clean():
    cli("expire")  # as the minute timer would, so older tests' unpaid orders do not count
    res = cli("audit", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_expire_of_a_code_paid_as_it_is_cancelled_ends_refunded_not_paid():
    pid = product()
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    slip = order["pay_id"]
    paid_at_cancel(slip)
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    res = cli("expire")
    assert res.returncode == 0, res.stderr
    # The notification sent before the refund settled the order first: it was accepted.
    assert wait_for(lambda: [v for v, _ in inbox(slip)] == ["settled"], 5), inbox(slip)
    assert assert_reversed(order["id"], slip, 100) == "RF"
    # The notification showed the order paid before the void's refund was known: the shop may have
    # shipped, so the RF order keeps what it took, like any refunded order.
    assert stock_of(pid) == 2
    # The buyer sees a refunded order, not a paid one, and cannot pay it again.
    st, body, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]})
    assert st == 200 and body["data"]["or_st"] == "RF", raw
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "zfb.qrcode"})
    assert body["ok"] is False, raw
    # Timers again: nothing more is refunded or expired.
    cli("expire")
    cli("reconcile", "--min-age", "0")
    assert_reversed(order["id"], slip, 100)
    audit_clean()


def no_notification(slip):
    """paysim will send no notification for this trade; returns the URL it had."""
    notify_url = psql("SELECT notify_url FROM paysim.zfb_trades WHERE out_trade_no = '%s'" % slip)
    assert notify_url
    psql("UPDATE paysim.zfb_trades SET notify_url = '' WHERE out_trade_no = '%s'" % slip)
    return notify_url


def late_paid_notification(slip, notify_url):
    """Alipay's retry of the TRADE_SUCCESS notification arrives after the void: paysim re-sends it
    from a paid copy of the trade, which is then put back as the provider left it."""
    psql("UPDATE paysim.zfb_trades SET state = 'TRADE_SUCCESS', refunded = false, notify_url = '%s'"
         " WHERE out_trade_no = '%s'" % (notify_url, slip))
    try:
        st, body, raw, _ = sim("/sim/pay", {"out_trade_no": slip})
        assert st == 200 and body["data"]["replies"][0]["body"] == "success", raw
    finally:
        psql("UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED', refunded = true WHERE out_trade_no = '%s'" % slip)


def stock_held(order_id):
    return psql("SELECT stock_held FROM orders WHERE id = '%s'" % order_id) == "t"


def test_a_late_copy_of_the_paid_notification_after_the_reversal_changes_nothing():
    pid = product()
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    slip = order["pay_id"]
    # No notification at the cancel: the reversal alone records the payment and its refund.
    notify_url = no_notification(slip)
    paid_at_cancel(slip)
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire")
    assert inbox(slip) == []
    assert assert_reversed(order["id"], slip, 100) == "RF"
    # No one saw the order paid: its stock is back on the shelf.
    assert stock_of(pid) == 3 and not stock_held(order["id"])
    late_paid_notification(slip, notify_url)
    assert [v for v, _ in inbox(slip)] == ["duplicate"], inbox(slip)
    assert assert_reversed(order["id"], slip, 100) == "RF"
    assert stock_of(pid) == 3 and not stock_held(order["id"])
    audit_clean()


def test_the_last_item_voided_before_anyone_saw_it_paid_can_be_bought_again():
    """The buyer pays the last cup just as expire cancels its code, and no notification comes: the
    reversal is where orderpay first learns of the payment. The stock goes back once, however
    often the timers run, and the next buyer gets the cup."""
    pid = product(stock=1)
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    slip = order["pay_id"]
    assert stock_of(pid) == 0
    no_notification(slip)
    paid_at_cancel(slip)
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    out = cli("expire")
    assert out.returncode == 0, out.stderr
    assert assert_reversed(order["id"], slip, 100) == "RF"
    assert stock_of(pid) == 1 and not stock_held(order["id"])
    for _ in range(2):
        cli("expire")
        _reconcile("--min-age", "0")
    assert stock_of(pid) == 1
    again = buy_ok("wx.qrcode", products=[{"id": pid, "amount": 1}])
    assert stock_of(pid) == 0 and stock_held(again["id"])
    audit_clean()


def test_pay_pay_retiring_a_code_paid_unseen_gives_the_stock_back_for_a_new_order():
    """pay/pay retires the last cup's code; its cancel refunds a payment no notification reported.
    pay/pay answers that the order is closed, and the buyer can order the cup again at once."""
    pid = product(stock=1)
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    slip = order["pay_id"]
    notify_url = no_notification(slip)
    paid_at_cancel(slip)
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "wx.qrcode"})
    assert body["ok"] is False and body["errCode"] == "e.www.order.closed", raw
    assert body["data"]["or_st"] == "RF", raw
    assert assert_reversed(order["id"], slip, 100) == "RF"
    assert stock_of(pid) == 1 and not stock_held(order["id"])
    again = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    assert stock_of(pid) == 0
    # The notification, late, is a duplicate: the stock stays with the new order.
    late_paid_notification(slip, notify_url)
    assert [v for v, _ in inbox(slip)] == ["duplicate"], inbox(slip)
    assert assert_reversed(order["id"], slip, 100) == "RF"
    assert stock_of(pid) == 0 and stock_held(again["id"]) and not stock_held(order["id"])
    audit_clean()


def test_pay_pay_retiring_a_code_paid_as_it_is_cancelled_answers_closed():
    """pay/pay to another type closes the old slip first; the close's cancel refunds a payment made
    meanwhile: the order ends RF and no second slip is issued."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    paid_at_cancel(slip)
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "wx.qrcode"})
    assert body["ok"] is False and body["data"]["or_st"] == "RF", raw
    assert body["errCode"] == "e.www.order.closed", raw
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "1"
    assert assert_reversed(order["id"], slip, 100) == "RF"
    audit_clean()


def test_scan_paid_as_it_is_cancelled_fails_the_buy_and_records_the_refund():
    """zfb.scan answers 20000; the query says WAIT_BUYER_PAY; the buyer confirms just as the
    cancel arrives, which refunds it. The buy fails, the order is RF, and paysim's refund is ours."""
    pid = product()
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"],
                           json={"products": [{"id": pid, "amount": 1}], "pay_tp": "zfb.scan",
                                 "auth_code": "287000000000000001"})
    assert body["ok"] is False and body["errCode"] == "e.www.pay.failed", raw
    order = body["data"]
    assert order["or_st"] == "RF", raw
    assert assert_reversed(order["id"], order["pay_id"], 100) == "RF"
    assert [v for v, _ in inbox(order["pay_id"])] == ["settled"], inbox(order["pay_id"])
    audit_clean()


def _refund_open(order_id, slip, amount, by):
    """orderpay_refund_open as the operator API (by 'api:...') or RecordReversal (by 'provider') call it."""
    rid = uuid.uuid4().hex[:26]
    row = db_row("SELECT outcome, coalesce(refund_id, '') FROM orderpay_refund_open(%s, %s, %s, %s, 'r', '%s',"
                 " NULL, '%s')" % ("'%s'" % STACK["DEMO_SITE"] if order_id else "NULL",
                                   "'%s'" % order_id if order_id else "''", "'%s'" % slip if slip else "NULL",
                                   amount if amount is not None else "NULL", by, rid))
    return row


def _finish(refund_id, ok):
    return db_row("SELECT outcome, order_st FROM orderpay_refund_finish('%s', %s, '', 'probe')"
                  % (refund_id, "true" if ok else "false"))


def _refunds(slip):
    return psql("SELECT string_agg(st || ':' || amount || ':' || requested_by, ',' ORDER BY ct, st)"
                " FROM refunds WHERE slip_id = '%s'" % slip)


def test_a_refund_in_flight_over_a_reversal_fails_and_the_rest_is_the_providers():
    """migration 015: the operator refunded 0.60 of a 1.00 payment and that refund is in flight when
    the provider's void refunds the trade: only 0.40 can be recorded then. When the operator's
    refund fails, its 0.60 is recorded as the provider's and the order ends RF; on a slip that was
    not reversed a failed refund records nothing."""
    for reversed_slip in (True, False):
        order = buy_ok("zfb.scan", auth_code="280000000000000002", products=[{"id": product(), "amount": 1}])
        slip = order["pay_id"]
        outcome, operator = _refund_open(order["id"], None, 60, "api:probe")
        assert outcome == "created"
        psql("UPDATE refunds SET st = 'PROCESSING' WHERE id = '%s'" % operator)
        if reversed_slip:  # what store::RecordReversal writes, in its order
            psql("UPDATE pay_slips SET reversed = true WHERE id = '%s'" % slip)
            outcome, rest = _refund_open(None, slip, None, "provider")
            assert outcome == "created"
            assert _finish(rest, True) == ["finished", "OK"]
        assert _finish(operator, False)[0] == "finished"
        or_st = psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"])
        if reversed_slip:
            assert _refunds(slip) == "FAIL:60:api:probe,OK:40:provider,OK:60:provider", _refunds(slip)
            assert or_st == "RF"
        else:
            assert _refunds(slip) == "FAIL:60:api:probe" and or_st == "OK", (_refunds(slip), or_st)
    audit_clean()


def test_a_refund_in_flight_over_a_reversal_that_succeeds_needs_nothing_more():
    order = buy_ok("zfb.scan", auth_code="280000000000000002", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    outcome, operator = _refund_open(order["id"], None, 60, "api:probe")
    psql("UPDATE pay_slips SET reversed = true WHERE id = '%s'" % slip)
    outcome, rest = _refund_open(None, slip, None, "provider")
    assert _finish(rest, True) == ["finished", "OK"]  # 0.40 of 1.00: still OK
    assert _finish(operator, True) == ["finished", "RF"]
    assert _refunds(slip) == "OK:60:api:probe,OK:40:provider", _refunds(slip)
    audit_clean()


def _crash_at_the_reversal(where):
    """A test trigger that fails store::RecordReversal's transaction as a kill would (the
    statement that marks the slip reversed raises) for the slips `where` selects; returns a
    function that removes it."""
    fn = "vr_crash_%s" % uuid.uuid4().hex[:8]
    psql("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF %s THEN RAISE EXCEPTION 'crash';"
         " END IF; RETURN NEW; END $$; CREATE TRIGGER %s BEFORE UPDATE ON pay_slips FOR EACH ROW"
         " WHEN (NEW.reversed AND NOT OLD.reversed) EXECUTE FUNCTION %s()" % (fn, where, fn, fn))
    return lambda: psql("DROP TRIGGER IF EXISTS %s ON pay_slips; DROP FUNCTION IF EXISTS %s()" % (fn, fn))


def _reconcile(*flags):
    res = cli("reconcile", *flags)
    return res.stdout


def test_a_crash_between_the_refunding_cancel_and_its_record_is_recovered():
    """expire dies after Alipay's cancel answered action=refund and before the reversal was
    committed; the notification sent before the refund had settled the order OK. The void's mark,
    committed before the call (migration 016), sends reconcile to the provider, whose closed trade
    is the refund: the order ends RF, once, however often reconcile runs."""
    pid = product()
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    slip = order["pay_id"]
    paid_at_cancel(slip)
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    drop = _crash_at_the_reversal("NEW.id = '%s'" % slip)
    try:
        res = cli("expire", check=False)
    finally:
        drop()
    assert res.returncode != 0, res.stdout  # it died at the reversal
    assert trade(slip)["refunded"] is True  # the money went back at the provider
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "OK"  # what the crash left
    assert psql("SELECT voiding_at IS NOT NULL FROM pay_slips WHERE id = '%s'" % slip) == "t"
    cli("expire")
    # A mark younger than --min-age may be a void still in flight: not asked about yet.
    assert "REVERSED " + slip not in _reconcile("--min-age", "3600")
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "OK"
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, out
    assert assert_reversed(order["id"], slip, 100) == "RF"
    assert "REVERSED " + slip not in _reconcile("--min-age", "0")  # reversed: out of the queue
    assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == "1"
    assert stock_of(pid) == 2
    audit_clean()


def _attention(slip, *flags):
    return [x for x in _reconcile(*flags).splitlines() if slip in x and not x.startswith(" ")]


def test_a_void_unanswered_for_ten_minutes_is_listed_for_the_operator():
    """The crash above, but reconcile cannot get an answer about the marked slip (here: it skips
    marks younger than --min-age). For ten minutes it is a void possibly in flight; after that the
    attention list shows it as VOID, and once reconcile records the reversal it is gone."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    paid_at_cancel(slip)
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    drop = _crash_at_the_reversal("NEW.id = '%s'" % slip)
    try:
        assert cli("expire", check=False).returncode != 0
    finally:
        drop()
    psql("UPDATE pay_slips SET voiding_at = now() - interval '9 minutes' WHERE id = '%s'" % slip)
    assert _attention(slip, "--min-age", "3600") == []
    psql("UPDATE pay_slips SET voiding_at = now() - interval '11 minutes' WHERE id = '%s'" % slip)
    lines = _attention(slip, "--min-age", "3600")
    assert len(lines) == 1 and lines[0].startswith("VOID    " + slip + " order " + order["id"]), lines
    assert "a void was sent at" in lines[0] and "has not said whether it refunded" in lines[0], lines
    out = _reconcile("--min-age", "3600")
    hint = out.splitlines()[out.splitlines().index(lines[0]) + 1]
    assert hint.startswith("        ask the provider"), out
    # The provider answers for the slip's own trade: the reversal is recorded and the slip leaves the list.
    assert "REVERSED " + slip in _reconcile("--min-age", "0")
    assert assert_reversed(order["id"], slip, 100) == "RF"
    assert _attention(slip, "--min-age", "3600") == []
    audit_clean()


def test_a_mark_on_a_slip_still_paid_leaves_the_list_once_the_provider_says_so():
    """A void that found the trade paid (WeChat's close of a paid order) leaves a mark on a paid
    slip. Listed after ten minutes unanswered; reconcile's answer (paid, this trade) clears it."""
    order = buy_ok("wx.qrcode")
    slip = order["pay_id"]
    sim_pay(slip)
    wait_state(order["id"], "OK")
    psql("UPDATE pay_slips SET voiding_at = now() - interval '11 minutes' WHERE id = '%s'" % slip)
    assert [x.split()[0] for x in _attention(slip, "--min-age", "3600")] == ["VOID"]
    _reconcile("--min-age", "0")
    assert psql("SELECT voiding_at IS NULL, st FROM pay_slips WHERE id = '%s'" % slip) == "t|OK"
    assert _attention(slip, "--min-age", "3600") == []
    audit_clean()


def test_a_crash_between_a_scan_payments_refunding_cancel_and_its_record_is_recovered():
    """zfb.scan: 20000, the query says unpaid, and the cancel refunds a payment confirmed just then
    (its notification settled the slip). The buy dies recording that; reconcile finds it."""
    pid = product()
    drop = _crash_at_the_reversal("NEW.order_id IN (SELECT order_id FROM order_items WHERE product_id = '%s')"
                                  % pid)
    try:
        st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"],
                               json={"products": [{"id": pid, "amount": 1}], "pay_tp": "zfb.scan",
                                     "auth_code": "287000000000000003"})
    finally:
        drop()
    assert st >= 500 and body["ok"] is False, raw
    order_id, slip = db_row("SELECT o.id, s.id FROM orders o JOIN pay_slips s ON s.order_id = o.id"
                            " WHERE o.id IN (SELECT order_id FROM order_items WHERE product_id = '%s')" % pid)
    assert trade(slip)["refunded"] is True
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id) == "OK"
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, out
    assert assert_reversed(order_id, slip, 100) == "RF"
    st, body, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order_id})
    assert st == 200 and body["data"]["or_st"] == "RF", raw
    audit_clean()


def test_a_void_that_found_the_trade_paid_leaves_the_payment_alone():
    """A close sent for a slip the buyer had paid (close answers "already paid", or a crash came
    before any void was sent) leaves the mark on a slip the provider still holds paid: reconcile
    asks once, keeps the payment and drops the mark."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    psql("UPDATE pay_slips SET voiding_at = now() - interval '2 minutes' WHERE id = '%s'" % slip)
    out = _reconcile()  # the default --min-age (60 s) is past this mark
    assert slip not in out, out
    assert psql("SELECT voiding_at IS NULL FROM pay_slips WHERE id = '%s'" % slip) == "t"
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "OK"
    assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == "0"
    assert trade(slip)["state"] == "TRADE_SUCCESS"
    audit_clean()


def test_a_marked_slip_refunded_whole_by_the_operator_is_not_refunded_twice():
    """A paid Alipay trade is TRADE_CLOSED also once an operator refunded all of it. With a mark
    left on its slip, reconcile sees the closed trade, but the slip's OK refunds already cover it:
    the void took nothing, so the mark is dropped, the slip is not reversed, and the operator's
    refund stays the only one."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    cli("refund", order["id"], "--reason", "whole")
    assert psql("SELECT string_agg(st || ':' || amount, ',') FROM refunds WHERE slip_id = '%s'" % slip) == "OK:100"
    assert sim_refunded(slip) == 100
    assert trade(slip)["state"] == "TRADE_CLOSED"  # Alipay closes a trade refunded whole
    psql("UPDATE pay_slips SET voiding_at = now() - interval '11 minutes' WHERE id = '%s'" % slip)
    # Nothing is at stake: not listed for the operator even while the queue has not asked.
    assert _attention(slip, "--min-age", "3600") == []
    for _ in range(2):
        out = _reconcile("--min-age", "0")
        assert "REVERSED " + slip not in out and "VOIDING  " + slip not in out, out
    # The operator's refunds closed the trade, not the void: the mark goes, the slip is not reversed.
    assert psql("SELECT voiding_at IS NULL, reversed FROM pay_slips WHERE id = '%s'" % slip) == "t|f"
    assert psql("SELECT string_agg(st || ':' || amount || ':' || requested_by, ',') FROM refunds"
                " WHERE slip_id = '%s'" % slip) == "OK:100:cli"
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "RF"
    audit_clean()


def _failed_unclosed(state):
    """A zfb.qrcode slip orderpay holds failed but never closed at Alipay (as a slip failed by
    reconcile for an order paid through another slip is, until reconcile closes it), whose paysim
    trade is in `state`."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    psql("UPDATE pay_slips SET st = 'FAIL', superseded = true, closed_at = NULL WHERE id = '%s'" % slip)
    if state != "NOT_SCANNED":
        psql("UPDATE paysim.zfb_trades SET state = '%s' WHERE out_trade_no = '%s'" % (state, slip))
    return order, slip


def test_reconcile_cancels_a_failed_code_nobody_scanned_instead_of_taking_not_found_as_closed():
    """Alipay's query does not know a precreated code nobody has scanned (ACQ.TRADE_NOT_EXIST),
    yet the code stays payable. reconcile once confirmed such a failed slip closed on that answer;
    it must close it (the close, then the cancel that records it closed) before confirming."""
    order, slip = _failed_unclosed("NOT_SCANNED")
    _reconcile("--min-age", "0")
    assert trade(slip)["state"] == "TRADE_CLOSED", trade(slip)
    assert psql("SELECT closed_at IS NOT NULL FROM pay_slips WHERE id = '%s'" % slip) == "t"
    st, body, raw, _ = sim("/sim/pay", {"out_trade_no": slip})  # the old code can no longer be paid
    assert st != 200 or body.get("ok") is False, raw
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    audit_clean()


def test_reconcile_closes_a_failed_code_scanned_but_not_paid():
    """Scanned, not paid (WAIT_BUYER_PAY) is as open as unpaid: closed, then confirmed by the next
    run's query."""
    order, slip = _failed_unclosed("WAIT_BUYER_PAY")
    _reconcile("--min-age", "0")
    assert trade(slip)["state"] == "TRADE_CLOSED", trade(slip)
    _reconcile("--min-age", "0")
    assert psql("SELECT closed_at IS NOT NULL FROM pay_slips WHERE id = '%s'" % slip) == "t"
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    audit_clean()
