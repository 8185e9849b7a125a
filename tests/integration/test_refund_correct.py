"""`orderpay refund finish R ok --note TEXT` corrects a refund recorded FAIL that its provider said
went back (a refund conflict on record: the answer's, "conflict: refund R answered OK, recorded
FAIL", or a notification's, "... notified|confirmed OK, recorded otherwise") to OK, when the
provider's own record, asked again read-only, says refunded too (or, with --despite-no-answer, it
cannot answer): never when it says otherwise, never without such a conflict. Before, nothing
could record it: the refund stayed FAIL, its amount counted free, the held list showed it owed,
and a week after the report `refund --slip` paid the buyer a second time (review s36 helper-125
#4). A correction updates what an OK finish does (the order RF when its whole payment is back;
nothing of the order for a held slip) and settles the conflict: the slip is no longer listed
CONFLICT for it, new refunds no longer wait for it, and "all that is left" no longer counts it."""

import json
import subprocess
import time
import uuid

from conftest import PSQL, STACK, _pg_env, cli, psql
from helpers import FakeGateway, db_row
from test_refund_answer_conflict import conflicts_of, finish_as_a_notice_would, listed
from test_refund_finish import age, finish, refund_state
from test_zzz_hostile_faults import wx_sign, wx_xml
import test_wx_refund as wx


def refundquery_answer(order, rid, status, fee, path, body):
    """WeChat v2's signed refundquery record of refund `rid`: `status` (None: 503, no answer)."""
    if path.endswith("/refundquery") and rid.encode() in body and status:
        f = {"return_code": "SUCCESS", "return_msg": "OK", "appid": STACK["DEMO_WX_APP_ID"],
             "mch_id": STACK["DEMO_WX_MCH_ID"], "nonce_str": "n0nce", "result_code": "SUCCESS",
             "out_trade_no": order["pay_id"], "refund_count": "1", "out_refund_no_0": rid,
             "refund_id_0": "50300000000000000000000000002", "refund_status_0": status,
             "refund_fee_0": str(fee)}
        f["sign"] = wx_sign(f)
        return wx_xml(f)
    return 503, b"busy"


def wx_saying(order, rid, status, fee):
    """A WeChat v2 stand-in whose refundquery says `status` of the refund (None: no answer)."""
    return FakeGateway(lambda path, body: refundquery_answer(order, rid, status, fee, path, body))


def correct(order, rid, status, fee, *flags, note="checked the console: refunded"):
    """`refund finish RID ok` against a WeChat saying `status`: (result, the stand-in's calls)."""
    gw = wx_saying(order, rid, status, fee)
    try:
        res = finish(rid, "ok", note, *flags, env={"ORDERPAY_WXPAY_GATEWAY": gw.url,
                                                   "ORDERPAY_HTTP_TIMEOUT_MS": "3000"})
    finally:
        gw.close()
    return res, [p for p, _ in gw.calls]


def kinds(slip):
    return [k for k, _ in listed(slip)]


def or_st(order):
    return db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"])[0]


def answered_ok_recorded_fail(amount=None):
    """A paid WeChat order (25.00 CNY) with a refund (`amount`, or all of it) PROCESSING; reconcile
    asks refundquery, a REFUNDCLOSE notification finishes it FAIL meanwhile, and WeChat's signed
    record says SUCCESS: the answer's conflict on record, the refund FAIL. (order, refund, fen)"""
    order = wx.paid_order()
    r = wx.refund_ok(order["id"], amount)
    assert r["st"] == "PROCESSING", r
    age(r["id"])
    fee = int(round(float(r["amount"]) * 100))
    finished = []

    def answer(path, body):
        if path.endswith("/refundquery") and r["id"].encode() in body and not finished:
            finished.append(finish_as_a_notice_would(r["id"], False, "REFUNDCLOSE"))
        return refundquery_answer(order, r["id"], "SUCCESS", fee, path, body)

    gw = FakeGateway(answer)
    try:
        cli("reconcile", "--min-age", "0", env={"ORDERPAY_WXPAY_GATEWAY": gw.url}, check=False)
    finally:
        gw.close()
    assert finished == ["finished"], finished
    assert refund_state(r["id"])[0] == "FAIL" and conflicts_of(order["pay_id"]) == "1"
    assert db_row("SELECT reason FROM notifications WHERE slip_id = '%s' AND method = 'ANSWER'"
                  % order["pay_id"]) == ["conflict: refund %s answered OK, recorded FAIL" % r["id"]]
    return order, r["id"], fee


def test_a_whole_refund_wechat_says_went_back_is_corrected_and_the_order_refunded():
    """Counted slip, the whole payment: corrected on WeChat's record (asked read-only, nothing
    sent), the order RF as an OK finish makes it, the conflict settled; a second refund is
    refused as too much, not held; the same command again is "already OK"."""
    order, rid, fee = answered_ok_recorded_fail()
    slip = order["pay_id"]
    assert kinds(slip) == ["CONFLICT"] and or_st(order) == "OK"
    res, calls = correct(order, rid, "SUCCESS", fee)
    assert res.returncode == 0 and res.stdout.startswith("refund %s: corrected FAIL to OK" % rid), res
    assert "its refund conflict is settled" in res.stdout and "order RF" in res.stdout, res.stdout
    assert any(p.endswith("/refundquery") for p in calls) and not any(p.endswith("/refund") for p in calls), calls
    st, note = refund_state(rid)
    assert st == "OK" and note.startswith("operator: checked the console: refunded (corrected FAIL to OK, "
                                          "the provider's record says refunded"), note
    assert db_row("SELECT ok_at IS NOT NULL FROM refunds WHERE id = '%s'" % rid) == ["t"]
    assert or_st(order) == "RF"
    assert "CONFLICT" not in kinds(slip), listed(slip)
    # The inbox keeps the conflict as it was: the record of what happened.
    assert conflicts_of(slip) == "1"
    st, body, raw, _ = wx.refund(order["id"], "1.00")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    again, calls = correct(order, rid, "SUCCESS", fee, note="again")
    assert again.returncode == 0 and again.stdout.strip() == "refund %s: already OK" % rid, again
    assert calls == [] and refund_state(rid) == ["OK", note]


def test_a_part_refund_is_corrected_in_json_and_the_rest_is_refunded_without_waiting():
    order, rid, fee = answered_ok_recorded_fail("5.00")
    slip = order["pay_id"]
    gw = wx_saying(order, rid, "SUCCESS", fee)
    try:
        res = cli("--json", "refund", "finish", rid, "ok", "--note", "WeChat shows 5.00 back",
                  env={"ORDERPAY_WXPAY_GATEWAY": gw.url}, check=False)
    finally:
        gw.close()
    shown = json.loads(res.stdout)
    assert res.returncode == 0 and shown["outcome"] == "corrected", (res.stdout, res.stderr)
    assert shown["refund"]["id"] == rid and shown["refund"]["st"] == "OK", shown
    assert shown["detail"].startswith("the provider's record says refunded"), shown
    # Part of the payment: the order stays paid, 5.00 refunded.
    assert or_st(order) == "OK"
    assert db_row("SELECT sum(amount) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip) == ["500"]
    assert "CONFLICT" not in kinds(slip)
    # "All that is left" is now 20.00, and it is not held by the settled conflict.
    r = wx.refund_ok(order["id"], reason="the rest")
    assert r["amount"] in ("20.00", "20.0", 20.0, "20"), r


def test_wechat_saying_the_refund_failed_leaves_it_fail_and_in_conflict():
    order, rid, fee = answered_ok_recorded_fail("2.00")
    res, calls = correct(order, rid, "REFUNDCLOSE", fee, "--despite-no-answer")
    assert res.returncode == 1 and "the provider's record says it failed too" in res.stderr, res
    assert any(p.endswith("/refundquery") for p in calls), calls
    assert refund_state(rid)[0] == "FAIL" and kinds(order["pay_id"]) == ["CONFLICT"]


def test_no_answer_takes_the_operators_word_only_when_given_despite_no_answer():
    order, rid, fee = answered_ok_recorded_fail("2.00")
    slip = order["pay_id"]
    res, _ = correct(order, rid, None, fee)
    assert res.returncode == 1 and "no answer from the provider" in res.stderr, res
    assert "--despite-no-answer" in res.stderr and refund_state(rid)[0] == "FAIL"
    assert kinds(slip) == ["CONFLICT"]
    res, calls = correct(order, rid, None, fee, "--despite-no-answer", note="bank statement shows it")
    assert res.returncode == 0 and "corrected FAIL to OK" in res.stdout, res
    st, note = refund_state(rid)
    assert st == "OK" and note.startswith("operator: bank statement shows it (corrected FAIL to OK, no answer "
                                          "from the provider"), note
    assert "CONFLICT" not in kinds(slip) and or_st(order) == "OK"


def test_a_fail_refund_with_no_conflict_on_record_is_refused_as_before_and_nothing_is_asked():
    from test_refund_conflict import UNREACHABLE
    order = wx.paid_order()
    r = wx.refund_ok(order["id"], "3.00")
    age(r["id"])
    done = finish(r["id"], "fail", "never sent", "--despite-no-answer", env=UNREACHABLE)
    assert done.returncode == 0 and refund_state(r["id"])[0] == "FAIL", done
    res, calls = correct(order, r["id"], "SUCCESS", 300)
    assert res.returncode == 1 and "recorded FAIL before" in res.stderr, res
    assert calls == [] and refund_state(r["id"])[0] == "FAIL"


def test_a_notifications_conflict_is_corrected_on_the_providers_own_record():
    """The notification's form ("... notified OK, recorded otherwise"): an operator failed the
    refund, WeChat then notified SUCCESS; WeChat's record (paysim) says refunded."""
    from test_refund_conflict import in_conflict
    order, rid, _ = in_conflict()
    slip = order["pay_id"]
    reason = db_row("SELECT reason FROM notifications WHERE slip_id = '%s' AND reason ~ '^conflict: refund '" % slip)
    assert reason[0] in ("conflict: refund %s notified OK, recorded otherwise" % rid,
                         "conflict: refund %s confirmed OK, recorded otherwise" % rid), reason
    assert kinds(slip) == ["CONFLICT"]
    res = finish(rid, "ok", "WeChat merchant console: refunded")
    assert res.returncode == 0 and "corrected FAIL to OK" in res.stdout, res
    assert refund_state(rid)[0] == "OK" and "CONFLICT" not in kinds(slip)
    # Not held any more: 1.00 more is refunded, and "all that is left" counts the 3.00 as gone.
    st, body, raw, _ = wx.refund(order["id"], "22.01")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw


def hold_slip_opening(slip, amount, seconds):
    """A refund request's transaction (orderpay_refund_open, under the slip's row lock) held open
    for `seconds` in another session: (the process, the refund id it opens)."""
    nid = uuid.uuid4().hex[:26]
    sql = ("BEGIN; SELECT outcome FROM orderpay_refund_open(NULL, NULL, '%s', %d, 'race', 'test', NULL, '%s'); "
           "SELECT pg_sleep(%d); COMMIT;" % (slip, amount, nid, seconds))
    p = subprocess.Popen([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], env=_pg_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(100):  # until it holds the lock
        if psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT outcome FROM "
                "orderpay_refund_open(NULL, NULL, ''%s''%%' AND state = 'active'" % slip) == "1":
            break
        time.sleep(0.05)
    return p, nid


def test_a_correction_and_a_refund_request_at_once_never_give_more_than_was_paid():
    """The refund request first (it holds the slip's lock while the correction waits): the 25.00
    the FAIL freed is in flight, so the correction is refused, not recorded on top of it. Once that
    refund has ended FAIL, the correction goes through; a request after it finds 22.00 left."""
    order, rid, fee = answered_ok_recorded_fail("3.00")
    slip = order["pay_id"]
    p, nid = hold_slip_opening(slip, 2500, 2)
    res, _ = correct(order, rid, "SUCCESS", fee)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and "created" in out, (out, err)
    assert res.returncode == 1 and "another refund of the slip is in flight" in res.stderr, res
    assert refund_state(rid)[0] == "FAIL"
    assert finish_as_a_notice_would(nid, False, "refused at the provider") == "finished"
    res, _ = correct(order, rid, "SUCCESS", fee)
    assert res.returncode == 0 and "corrected FAIL to OK" in res.stdout, res
    # The other way round: the correction first, then the request of 25.00 is too much.
    st, body, raw, _ = wx.refund(order["id"], "25.00")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert db_row("SELECT sum(amount) FROM refunds WHERE slip_id = '%s' AND st <> 'FAIL'" % slip) == ["300"]
