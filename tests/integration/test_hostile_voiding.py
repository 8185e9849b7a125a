"""Hostile probes of the void's mark (migration 016): orderpay commits pay_slips.voiding_at before
it closes, cancels or reverses a slip, and `orderpay reconcile` asks the provider about every paid,
not reversed slip that carries it, so a crash between Alipay's refunding cancel and
store::RecordReversal's commit is recovered. Crashes (a trigger failing RecordReversal's
transaction as a kill would) in expire, pay/pay's retire and a scan buy; late and duplicate
notifications and inbox replay around the recovery; concurrent reconcile runs; a provider that
lies or has not settled its answer; operator refunds made between the crash and the recovery;
--min-age and --limit; WeChat slips carrying a mark. Money is never lost, refunded twice or kept
on a refunded order, and `orderpay audit` stays clean."""

import threading
import uuid

import pytest

from conftest import STACK, api, cli, psql, sim
from helpers import buy_ok, db_row, inbox, sim_pay, wait_for, wait_state
from test_hostile_reversal import admin
from test_void_refunds import _crash_at_the_reversal, _reconcile
from test_void_refunds import assert_reversed as void_assert_reversed
from test_void_refunds import audit_clean, paid_at_cancel, product, stock_of, trade

TICKET = STACK["DEMO_TICKET"]


# ---------------------------------------------------------------- helpers

def due(order_id):
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order_id)


def or_st(order_id):
    return psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id)


def marked(slip):
    return psql("SELECT voiding_at IS NOT NULL FROM pay_slips WHERE id = '%s'" % slip) == "t"


def refunds(slip):
    return psql("SELECT coalesce(string_agg(st || ':' || amount || ':' || requested_by, ',' ORDER BY st, amount),"
                " '') FROM refunds WHERE slip_id = '%s'" % slip)


def sim_refund_rows(slip):
    """Refunds paysim (Alipay) made through alipay.trade.refund: a void's refund is not one."""
    return int(psql("SELECT count(*) FROM paysim.zfb_refunds WHERE out_trade_no = '%s'" % slip))


def assert_reversed_once(order_id, slip, fee=100):
    """The order is RF on exactly one provider refund of all it paid; paysim refunded it once,
    by the void, and nothing through alipay.trade.refund."""
    assert void_assert_reversed(order_id, slip, fee) == "RF"
    assert psql("SELECT reversed FROM pay_slips WHERE id = '%s'" % slip) == "t"
    ok = int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = '%s' AND st = 'OK'" % order_id))
    assert ok == fee, refunds(slip)
    assert sim_refund_rows(slip) == 0


def age_mark(slip, when="now() - interval '2 minutes'"):
    psql("UPDATE pay_slips SET voiding_at = %s WHERE id = '%s'" % (when, slip))


def resend_paid_notification(slip):
    """Alipay's retry of the TRADE_SUCCESS notification sent before the cancel refunded the trade:
    paysim re-sends it from a paid copy of the trade, which is then put back as it was."""
    state, refunded = db_row("SELECT state, refunded FROM paysim.zfb_trades WHERE out_trade_no = '%s'" % slip)
    psql("UPDATE paysim.zfb_trades SET state = 'TRADE_SUCCESS', refunded = false WHERE out_trade_no = '%s'" % slip)
    try:
        st, body, raw, _ = sim("/sim/pay", {"out_trade_no": slip})
        assert st == 200, raw
        return body["data"]["replies"][0]["body"]
    finally:
        psql("UPDATE paysim.zfb_trades SET state = '%s', refunded = %s WHERE out_trade_no = '%s'"
             % (state, "true" if refunded == "t" else "false", slip))


NOTIFY_URL = {}


def crashed_by_expire(pid=None, notify=True):
    """An Alipay code paid as expire cancels it; expire dies recording the reversal. Returns
    (order id, slip id)."""
    pid = pid or product()
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    slip = order["pay_id"]
    if not notify:
        NOTIFY_URL[slip] = psql("SELECT notify_url FROM paysim.zfb_trades WHERE out_trade_no = '%s'" % slip)
        psql("UPDATE paysim.zfb_trades SET notify_url = '' WHERE out_trade_no = '%s'" % slip)
    paid_at_cancel(slip)
    due(order["id"])
    drop = _crash_at_the_reversal("NEW.id = '%s'" % slip)
    try:
        res = cli("expire", check=False)
    finally:
        drop()
    assert res.returncode != 0, res.stdout
    t = trade(slip)
    assert t["state"] == "TRADE_CLOSED" and t["refunded"] is True, t
    assert marked(slip)
    return order["id"], slip


# ---------------------------------------------------------------- crashes elsewhere, and recovery

def test_a_crash_in_pay_pays_retire_is_recovered_and_the_order_can_take_nothing_more():
    pid = product()
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    slip = order["pay_id"]
    paid_at_cancel(slip)
    drop = _crash_at_the_reversal("NEW.id = '%s'" % slip)
    try:
        st, body, raw, _ = api("GET", "pay", ticket=TICKET, params={"id": order["id"], "pt": "wx.qrcode"})
    finally:
        drop()
    assert not (body or {}).get("ok"), raw
    assert trade(slip)["refunded"] is True
    assert or_st(order["id"]) == "OK" and marked(slip)  # what the crash left: paid on money gone back
    # No second slip was issued, and pay/pay now sees a paid order: nothing to pay.
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "1"
    st, body, raw, _ = api("GET", "pay", ticket=TICKET, params={"id": order["id"], "pt": "zfb.qrcode"})
    assert body["ok"] is False, raw
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, out
    assert_reversed_once(order["id"], slip)
    for pt in ("wx.qrcode", "zfb.qrcode"):
        st, body, raw, _ = api("GET", "pay", ticket=TICKET, params={"id": order["id"], "pt": pt})
        assert body["ok"] is False and body["data"]["or_st"] == "RF", raw
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "1"
    assert stock_of(pid) == 2
    audit_clean()


def test_late_and_duplicate_notifications_around_the_recovery_change_nothing():
    order_id, slip = crashed_by_expire()
    assert [v for v, _ in inbox(slip)] == ["settled"]
    # Before the recovery: a duplicate of the paid notification, an inbox replay and expire.
    assert resend_paid_notification(slip) == "success"
    cli("inbox", "replay", "--older-than", "0s")
    cli("expire")
    assert or_st(order_id) == "OK" and refunds(slip) == ""
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, out
    assert_reversed_once(order_id, slip)
    # After it: the same again, and reconcile again.
    assert resend_paid_notification(slip) == "success"
    cli("inbox", "replay", "--older-than", "0s")
    cli("expire")
    out = _reconcile("--min-age", "0")
    assert slip not in out, out
    assert "settled" not in [v for v, _ in inbox(slip)][1:], inbox(slip)
    assert_reversed_once(order_id, slip)
    audit_clean()


def test_a_crash_before_any_notification_then_expire_again_then_the_late_notification():
    """The cancel paid and refunded the trade but its notification never arrived, and expire died
    recording the reversal: the slip is still WAIT. The next expire closes it (the trade is closed)
    and the late TRADE_SUCCESS notification comes after. The buyer has his money back: orderpay
    must not refund it again, nor keep the order paid."""
    pid = product()
    order_id, slip = crashed_by_expire(pid, notify=False)
    assert inbox(slip) == []
    cli("expire")
    after_expire = (or_st(order_id), psql("SELECT st FROM pay_slips WHERE id = '%s'" % slip))
    psql("UPDATE paysim.zfb_trades SET notify_url = '%s' WHERE out_trade_no = '%s'" % (NOTIFY_URL[slip], slip))
    resend_paid_notification(slip)
    for _ in range(2):
        cli("inbox", "replay", "--older-than", "0s")
        cli("expire")
        _reconcile("--min-age", "0")
    final = (or_st(order_id), refunds(slip), sim_refund_rows(slip), [v for v, _ in inbox(slip)])
    assert sim_refund_rows(slip) == 0, (after_expire, final)
    assert after_expire == ("FA", "FAIL"), after_expire  # closed: the second close found the trade closed
    # The late notification records the payment on the marked slip; reconcile finds the trade
    # closed and records the void's refund: RF, the money counted once.
    assert final == ("RF", "OK:100:provider", 0, ["settled"]), final
    assert psql("SELECT reversed FROM pay_slips WHERE id = '%s'" % slip) == "t"
    audit_clean()


def test_two_concurrent_reconciles_over_several_crashed_slips_record_each_refund_once():
    crashed = [crashed_by_expire() for _ in range(4)]
    start = threading.Barrier(3)
    outs = {}

    def run(n):
        start.wait()
        outs[n] = cli("reconcile", "--min-age", "0", check=False)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for res in outs.values():
        assert res.returncode == 0, res.stdout + res.stderr
    for order_id, slip in crashed:
        assert_reversed_once(order_id, slip)
        assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == "1"
    audit_clean()


# ---------------------------------------------------------------- marks on slips really paid

def test_a_mark_on_a_waiting_code_that_is_then_paid_keeps_the_payment():
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    age_mark(slip)
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    assert marked(slip)
    out = _reconcile("--min-age", "0")
    assert slip not in out, out
    assert not marked(slip)
    assert or_st(order["id"]) == "OK" and refunds(slip) == ""
    assert trade(slip)["state"] == "TRADE_SUCCESS" and trade(slip)["refunded"] is False
    audit_clean()


def test_wx_slips_closed_by_expire_or_retire_and_paid_keep_their_payment():
    # A wx code closed by pay/pay's retire (it answers "paid" if the buyer paid it first).
    order = buy_ok("wx.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    st, body, raw, _ = api("GET", "pay", ticket=TICKET, params={"id": order["id"], "pt": "zfb.qrcode"})
    assert body["ok"] is False, raw
    age_mark(slip)
    # An expired wx order whose code is closed, then paid late anyway (forced by paysim).
    late = buy_ok("wx.qrcode", products=[{"id": product(), "amount": 1}])
    due(late["id"])
    cli("expire")
    assert marked(late["pay_id"]) and or_st(late["id"]) == "FA"
    sim_pay(late["pay_id"], force="1")  # the trade was closed: the buyer paid anyway
    assert or_st(late["id"]) == "OK" and marked(late["pay_id"])
    age_mark(late["pay_id"])
    for _ in range(2):
        out = _reconcile("--min-age", "0")
        assert "REVERSED " + slip not in out, out
        assert "REVERSED " + late["pay_id"] not in out, out
    for o in (order, late):
        s = o["pay_id"]
        assert not marked(s) and or_st(o["id"]) == "OK" and refunds(s) == "", (s, refunds(s))
        assert psql("SELECT reversed FROM pay_slips WHERE id = '%s'" % s) == "f"
    audit_clean()


def test_a_wx_slip_the_operator_refunded_in_part_is_not_taken_as_reversed():
    order = buy_ok("wx.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    cli("refund", order["id"], "--amount", "0.40", "--reason", "part")
    age_mark(slip)
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip not in out, out
    # WeChat refunds are asynchronous (PROCESSING until WeChat says): only the operator's 0.40.
    assert refunds(slip) in ("OK:40:cli", "PROCESSING:40:cli"), refunds(slip)
    assert or_st(order["id"]) == "OK" and not marked(slip)
    assert psql("SELECT reversed FROM pay_slips WHERE id = '%s'" % slip) == "f"
    audit_clean()


# ---------------------------------------------------------------- a provider that lies or waits

@pytest.mark.parametrize("lie", ["WAIT_BUYER_PAY", "NOT_SCANNED"])
def test_an_unsettled_answer_after_the_crash_records_nothing_until_the_trade_is_closed(lie):
    order_id, slip = crashed_by_expire()
    psql("UPDATE paysim.zfb_trades SET state = '%s', refunded = false WHERE out_trade_no = '%s'" % (lie, slip))
    try:
        for _ in range(2):
            out = _reconcile("--min-age", "0")
            assert "VOIDING  " + slip in out, out
        assert or_st(order_id) == "OK" and refunds(slip) == "" and marked(slip)
    finally:
        psql("UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED', refunded = true WHERE out_trade_no = '%s'" % slip)
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, out
    assert_reversed_once(order_id, slip)
    audit_clean()


def test_a_paid_answer_for_another_trade_no_neither_drops_the_mark_nor_records():
    order_id, slip = crashed_by_expire()
    real = trade(slip)["trade_no"]
    psql("UPDATE paysim.zfb_trades SET state = 'TRADE_SUCCESS', refunded = false, trade_no = 'X' || trade_no"
         " WHERE out_trade_no = '%s'" % slip)
    try:
        out = _reconcile("--min-age", "0")
        assert "VOIDING  " + slip in out, out
        assert marked(slip) and or_st(order_id) == "OK" and refunds(slip) == ""
    finally:
        psql("UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED', refunded = true, trade_no = '%s'"
             " WHERE out_trade_no = '%s'" % (real, slip))
    assert "REVERSED " + slip in _reconcile("--min-age", "0")
    assert_reversed_once(order_id, slip)
    audit_clean()


@pytest.mark.parametrize("lie", ["trade_no = 'X' || trade_no", "total_fee = 50"])
def test_a_closed_answer_for_another_trade_is_not_taken_as_our_refund(lie):
    order_id, slip = crashed_by_expire()
    real = trade(slip)["trade_no"]
    psql("UPDATE paysim.zfb_trades SET %s WHERE out_trade_no = '%s'" % (lie, slip))
    try:
        out = _reconcile("--min-age", "0")
        recorded = (out, refunds(slip), or_st(order_id))
    finally:
        psql("UPDATE paysim.zfb_trades SET trade_no = '%s', total_fee = 100 WHERE out_trade_no = '%s'" % (real, slip))
    assert "REVERSED " + slip not in recorded[0] and recorded[1:] == ("", "OK"), recorded
    assert "VOIDING  " + slip in recorded[0] and marked(slip), recorded
    # Once the provider's answer matches the slip the recovery is made.
    assert "REVERSED " + slip in _reconcile("--min-age", "0")
    assert_reversed_once(order_id, slip)


def test_a_paid_answer_without_a_trade_no_does_not_drop_the_mark():
    order_id, slip = crashed_by_expire()
    real = trade(slip)["trade_no"]
    psql("UPDATE paysim.zfb_trades SET state = 'TRADE_SUCCESS', refunded = false, trade_no = NULL"
         " WHERE out_trade_no = '%s'" % slip)
    try:
        _reconcile("--min-age", "0")
        kept = marked(slip)
    finally:
        psql("UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED', refunded = true, trade_no = '%s'"
             " WHERE out_trade_no = '%s'" % (real, slip))
    out = _reconcile("--min-age", "0")
    recovered = or_st(order_id)
    if recovered != "RF":  # leave no paid order on money gone back for the tests after this one
        age_mark(slip)
        _reconcile("--min-age", "0")
    assert kept, out
    assert recovered == "RF", out


def test_a_paid_answer_with_the_slips_trade_no_drops_the_mark_and_keeps_the_payment():
    """The provider says the trade is still paid (the cancel took nothing back): orderpay keeps
    the payment and forgets the mark, and a late closed answer is then no longer asked for."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    slip = order["pay_id"]
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    age_mark(slip)
    assert slip not in _reconcile("--min-age", "0")
    assert not marked(slip) and refunds(slip) == "" and or_st(order["id"]) == "OK"
    audit_clean()


def test_a_crash_of_reconciles_own_record_is_recovered_by_the_next_run():
    order_id, slip = crashed_by_expire()
    drop = _crash_at_the_reversal("NEW.id = '%s'" % slip)
    try:
        res = cli("reconcile", "--min-age", "0", check=False)
    finally:
        drop()
    assert "REVERSED " + slip not in res.stdout, res.stdout
    assert or_st(order_id) == "OK" and marked(slip) and refunds(slip) == ""
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, out
    assert_reversed_once(order_id, slip)
    audit_clean()


@pytest.fixture(scope="module")
def key():
    out = cli("apikey", "issue", "--site", STACK["DEMO_SITE"]).stdout
    assert out.startswith("opk_"), out
    return out.strip()


def test_an_admin_refund_after_the_crash_never_takes_more_than_was_paid(key):
    order_id, slip = crashed_by_expire()
    st, body, raw, _ = admin("POST", "refund", key, {"order": order_id, "amount": "0.60", "reason": "x",
                                                     "idempotency_key": uuid.uuid4().hex})
    between = (st, raw, refunds(slip))
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, (out, between)
    ok = int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip))
    assert ok == 100 and or_st(order_id) == "RF", (refunds(slip), between)
    assert sim_refund_rows(slip) == 0
    st, body, raw, _ = admin("POST", "refund", key, {"order": order_id, "reason": "again",
                                                     "idempotency_key": uuid.uuid4().hex})
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip)) == 100
    audit_clean()


# ---------------------------------------------------------------- an operator between crash and recovery

def test_an_operator_refund_after_the_crash_is_refused_and_the_recovery_accounts_once():
    order_id, slip = crashed_by_expire()
    res = cli("refund", order_id, "--amount", "0.40", "--reason", "x", check=False)
    between = (res.returncode, refunds(slip), or_st(order_id))
    ok = int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip))
    assert ok == 0, between  # paysim refunds nothing of a closed trade
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, (out, between)
    ok = int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip))
    assert ok == 100 and or_st(order_id) == "RF", (refunds(slip), between)
    assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip) == "1", refunds(slip)
    assert sim_refund_rows(slip) == 0
    # The whole-order refund after the recovery is refused: nothing is left.
    res = cli("refund", order_id, "--reason", "again", check=False)
    assert res.returncode != 0, res.stdout
    assert int(psql("SELECT coalesce(sum(amount), 0) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip)) == 100
    audit_clean()


# ---------------------------------------------------------------- --min-age and --limit

def test_min_age_keeps_young_marks_out_of_both_answers():
    order_id, slip = crashed_by_expire()
    paid = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    sim_pay(paid["pay_id"])
    assert wait_state(paid["id"], "OK")["or_st"] == "OK"
    age_mark(paid["pay_id"], "now()")
    for _ in range(2):
        out = _reconcile("--min-age", "3600")
        assert slip not in out and paid["pay_id"] not in out, out
    assert or_st(order_id) == "OK" and marked(slip) and marked(paid["pay_id"])  # a young mark is not dropped
    age_mark(slip)
    age_mark(paid["pay_id"])
    out = _reconcile()  # the default 60 s
    assert "REVERSED " + slip in out, out
    assert not marked(paid["pay_id"]) and or_st(paid["id"]) == "OK"
    assert_reversed_once(order_id, slip)
    audit_clean()


def test_limit_takes_the_oldest_marks_first_one_run_at_a_time():
    crashed = [crashed_by_expire() for _ in range(3)]
    for n, (_, slip) in enumerate(crashed):
        age_mark(slip, "timestamptz '1990-01-0%d'" % (n + 1))
    for n, (order_id, slip) in enumerate(crashed):
        out = _reconcile("--min-age", "0", "--limit", "1")
        assert "REVERSED " + slip in out, out
        for _, other in crashed[n + 1:]:
            # Not asked yet: only the attention list shows it (VOID).
            assert "REVERSED " + other not in out and "VOIDING  " + other not in out, out
            assert "VOID    " + other in out, out
    for order_id, slip in crashed:
        assert_reversed_once(order_id, slip)
    audit_clean()


def test_slips_the_provider_cannot_answer_for_do_not_starve_the_queue():
    stuck_order, stuck = crashed_by_expire()
    order_id, slip = crashed_by_expire()
    age_mark(stuck, "timestamptz '1990-01-01'")
    age_mark(slip, "timestamptz '1990-01-02'")
    psql("UPDATE paysim.zfb_trades SET state = 'WAIT_BUYER_PAY', refunded = false WHERE out_trade_no = '%s'" % stuck)
    try:
        for _ in range(3):
            _reconcile("--min-age", "0", "--limit", "1")
        recovered = or_st(order_id)
    finally:
        psql("UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED', refunded = true WHERE out_trade_no = '%s'"
             % stuck)
        _reconcile("--min-age", "0")
    assert_reversed_once(stuck_order, stuck)
    assert recovered == "RF"


# ---------------------------------------------------------------- scan buys

def test_a_crashed_scan_buy_then_a_late_notification_and_replay_end_rf_once():
    pid = product()
    drop = _crash_at_the_reversal("NEW.order_id IN (SELECT order_id FROM order_items WHERE product_id = '%s')" % pid)
    try:
        st, body, raw, _ = api("POST", "buy", ticket=TICKET,
                               json={"products": [{"id": pid, "amount": 1}], "pay_tp": "zfb.scan",
                                     "auth_code": "287000000000000011"})
    finally:
        drop()
    assert body is None or body["ok"] is False, raw
    order_id, slip = db_row("SELECT o.id, s.id FROM orders o JOIN pay_slips s ON s.order_id = o.id"
                            " WHERE o.id IN (SELECT order_id FROM order_items WHERE product_id = '%s')" % pid)
    assert marked(slip) and or_st(order_id) == "OK"
    assert resend_paid_notification(slip) == "success"
    cli("inbox", "replay", "--older-than", "0s")
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + slip in out, out
    assert resend_paid_notification(slip) == "success"
    assert wait_for(lambda: len(inbox(slip)) == 3, 5), inbox(slip)
    assert_reversed_once(order_id, slip)
    assert stock_of(pid) == 2
    audit_clean()


def test_a_retired_marked_code_paid_late_on_a_paid_order_is_a_double_payment_not_a_reversal():
    """pay/pay retired the zfb code (marked, cancelled: closed) and the order was paid by the wx
    slip. The old code is paid anyway: a double payment, flagged for a refund. The mark must not
    turn it into a reversal: not while Alipay holds it paid, nor once the operator refunded it
    whole and Alipay closed the trade; the order stays paid by its wx slip."""
    order = buy_ok("zfb.qrcode", products=[{"id": product(), "amount": 1}])
    old = order["pay_id"]
    st, body, raw, _ = api("GET", "pay", ticket=TICKET, params={"id": order["id"], "pt": "wx.qrcode"})
    assert body["ok"] is True, raw
    new = body["data"]["pay_id"]
    assert new != old and marked(old) and trade(old)["state"] == "TRADE_CLOSED"
    sim_pay(new)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    sim_pay(old, force="1")  # the buyer pays the old code anyway
    assert wait_for(lambda: psql("SELECT st || refund_needed FROM pay_slips WHERE id = '%s'" % old) == "OKtrue", 5)
    age_mark(old)
    out = _reconcile("--min-age", "0")
    assert "REVERSED " + old not in out and not marked(old), out
    assert old in out  # listed for the operator's refund
    cli("refund", "--slip", old, "--reason", "double")
    assert refunds(old) == "OK:100:cli" and sim_refund_rows(old) == 1
    # Alipay closes a trade refunded whole; a mark left on the slip (set again here as a crashed
    # void would leave it) is then answered "closed".
    psql("UPDATE paysim.zfb_trades SET state = 'TRADE_CLOSED' WHERE out_trade_no = '%s'" % old)
    age_mark(old)
    _reconcile("--min-age", "0")
    _reconcile("--min-age", "0")
    assert refunds(old) == "OK:100:cli" and refunds(new) == "", (refunds(old), refunds(new))
    assert db_row("SELECT or_st, pay_id FROM orders WHERE id = '%s'" % order["id"]) == ["OK", new]
    assert sim_refund_rows(old) == 1
    audit_clean()
