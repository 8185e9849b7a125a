"""A provider's answer that contradicts a refund another path already finished is a conflict, as a
notification's is (test_refund_conflict). A refund's outcome reaches orderpay three ways: the
answer to its request (app/refund's sender: the CLI, admin/refund), the provider's notification,
and reconcile's query. A notification that looked at the refund's talk lock a moment before a
sender or reconcile took it finishes the refund while that request is on its way; the answer that
then says otherwise was only logged ("provider now says OK ..., recorded otherwise before"): the
books kept the first word (FAIL for money that went back), reconcile listed nothing and a second
refund of the same money was accepted and paid (helper-120's finding 5, session 36).

Now the contradicting answer is kept in the inbox as a conflict (method ANSWER, `ignored`,
"conflict: refund R answered OK, recorded FAIL"), once however often it is told: reconcile lists the
slip CONFLICT, new refunds of it wait for `--despite-conflict`, `orderpay inbox` shows it.

The window is made wide with fake gateways that, while orderpay's request is on its way, finish the
refund in the database as the notification's orderpay_refund_finish does, then answer otherwise."""

import json
import uuid

import pytest
from conftest import STACK, cli, psql
from helpers import FakeGateway, db_row
from test_paypal_refund import capture_of, paid_paypal_order
from test_refund_finish import TOKEN, age, refund_state

PAYPAL = pytest.mark.skipif("DEMO_PAYPAL_CLIENT_ID" not in STACK, reason="stack.env has no PayPal merchant")


def finish_as_a_notice_would(rid, ok, status):
    """What a refund notification that passed the talk lock's look does: the refund finished."""
    return psql("SELECT outcome FROM orderpay_refund_finish('%s', %s, '', 'notified: %s')"
                % (rid, "true" if ok else "false", status))


def conflicts_of(slip):
    return db_row("SELECT count(*) FROM notifications WHERE slip_id = '%s' AND verdict = 'ignored' "
                  "AND reason ~ '^conflict: refund '" % slip)[0]


def listed(slip):
    att = json.loads(cli("reconcile", "--min-age", "0", "--json", check=False).stdout)["attention"]
    return [(a["kind"], a["detail"]) for a in att if a["slip"] == slip]


def paypal_refund_json(rid, status, value, currency="USD", refund_id=None):
    return json.dumps({"id": refund_id or "FAKE" + uuid.uuid4().hex[:12].upper(), "status": status,
                       "invoice_id": rid, "amount": {"value": value, "currency_code": currency}}).encode()


def assert_held(order, rid, word, recorded):
    """The slip listed CONFLICT naming the refund, a new refund of the order refused (nothing
    written), --despite-conflict lets the operator through."""
    slip = order["pay_id"]
    got = listed(slip)
    assert [k for k, _ in got] == ["CONFLICT"], got
    assert "conflict: refund %s answered %s, recorded %s" % (rid, word, recorded) in got[0][1], got
    before = db_row("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip)
    res = cli("refund", order["id"], "--amount", "1.00", "--reason", "again", "--key", "ac-" + uuid.uuid4().hex,
              check=False)
    assert res.returncode == 1 and "e.www.refund.conflict" in res.stderr, res
    assert "conflict: refund " + rid in res.stderr and "--despite-conflict" in res.stderr, res.stderr
    assert db_row("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == before


@PAYPAL
def test_a_refund_answer_contradicting_a_finished_refund_is_a_conflict_paypal():
    order = paid_paypal_order()  # 9.00 USD
    slip = order["pay_id"]
    capture = capture_of(slip)
    seen = []

    def answer(path, body):
        if path.startswith("/v1/oauth2/token"):
            return 200, TOKEN
        if path.endswith("/captures/%s/refund" % capture):
            req = json.loads(body)
            rid = req["invoice_id"]
            seen.append(finish_as_a_notice_would(rid, False, "REFUND.CLOSED"))
            return 201, paypal_refund_json(rid, "COMPLETED", req["amount"]["value"])
        return 500, b'{"name":"INTERNAL_SERVER_ERROR"}'

    gw = FakeGateway(answer, content_type="application/json")
    try:
        res = cli("refund", order["id"], "--amount", "3.00", "--reason", "answer after notice", "--key",
                  "ac-" + slip, env={"ORDERPAY_PAYPAL_GATEWAY": gw.url}, check=False)
    finally:
        gw.close()
    assert seen == ["finished"], (seen, res.stdout, res.stderr)
    rid = db_row("SELECT id FROM refunds WHERE slip_id = '%s'" % slip)[0]
    # The first word stays (nothing is fought over), but the contradiction is on record.
    assert refund_state(rid)[0] == "FAIL"
    assert conflicts_of(slip) == "1"
    row = db_row("SELECT id, method, verdict, reason FROM notifications WHERE slip_id = '%s' "
                 "AND reason ~ '^conflict: refund '" % slip)
    assert row[1:] == ["ANSWER", "ignored", "conflict: refund %s answered OK, recorded FAIL" % rid], row
    assert_held(order, rid, "OK", "FAIL")
    # The operator's views: the inbox lists and shows it, saying no request brought it.
    shown = cli("inbox", "show", row[0]).stdout
    assert "orderpay's own request" in shown and "COMPLETED" in shown, shown
    res = cli("refund", order["id"], "--amount", "1.00", "--reason", "checked at PayPal", "--despite-conflict",
              check=False)
    assert res.returncode == 0 and "despite its provider contradicting a recorded refund" in res.stderr, res


@PAYPAL
def test_reconciles_query_contradicting_a_finished_refund_is_one_conflict_however_often_told():
    """A refund PENDING at PayPal (PROCESSING, its id known): reconcile asks about it; a
    notification finishes it OK meanwhile; PayPal's record says FAILED. Told twice (the refund put
    back as it was, and the same happening again), it is one conflict."""
    order = paid_paypal_order()
    slip = order["pay_id"]
    capture = capture_of(slip)
    pp_id = "FAKEPEND" + uuid.uuid4().hex[:10].upper()
    finished = []

    def answer(path, body):
        if path.startswith("/v1/oauth2/token"):
            return 200, TOKEN
        if path.endswith("/captures/%s/refund" % capture):
            req = json.loads(body)
            return 201, paypal_refund_json(req["invoice_id"], "PENDING", req["amount"]["value"], refund_id=pp_id)
        if path == "/v2/payments/refunds/" + pp_id:
            rid = db_row("SELECT id FROM refunds WHERE provider_refund_id = '%s'" % pp_id)[0]
            finished.append(finish_as_a_notice_would(rid, True, "PAYMENT.CAPTURE.REFUNDED"))
            return 200, paypal_refund_json(rid, "FAILED", "2.00", refund_id=pp_id)
        return 500, b'{"name":"INTERNAL_SERVER_ERROR"}'

    gw = FakeGateway(answer, content_type="application/json")
    env = {"ORDERPAY_PAYPAL_GATEWAY": gw.url}
    try:
        res = cli("refund", order["id"], "--amount", "2.00", "--reason", "pending", "--key", "acq-" + slip,
                  env=env, check=False)
        rid = db_row("SELECT id FROM refunds WHERE slip_id = '%s'" % slip)[0]
        assert refund_state(rid)[0] == "PROCESSING", res
        for n in (1, 2):
            age(rid)
            cli("reconcile", "--min-age", "0", env=env, check=False)
            assert finished == ["finished"] * n, finished
            assert refund_state(rid)[0] == "OK"
            assert conflicts_of(slip) == "1", n
            if n == 1:  # as it was before the notification, to be told the same again
                psql("UPDATE refunds SET st = 'PROCESSING', ok_at = NULL WHERE id = '%s'" % rid)
    finally:
        gw.close()
    assert_held(order, rid, "FAIL", "OK")


def test_a_refund_answer_contradicting_a_finished_refund_is_a_conflict_alipay():
    """The same through Alipay's signed synchronous answer (fund_change Y), one refund of the
    whole payment: recorded FAIL by the notification, answered refunded."""
    from test_hostile_provider_answers_more import (paid_zfb_order, refund_through_fake_zfb, zfb_not_found,
                                                    zfb_refund_node, zfb_signed)
    order, slip, amount = paid_zfb_order()
    seen = []

    def per_method(method, biz):
        if method == "alipay.trade.refund":
            seen.append(finish_as_a_notice_would(biz["out_request_no"], False, "refund closed"))
            return zfb_signed(method, zfb_refund_node(biz))
        return zfb_not_found(method)

    res, _ = refund_through_fake_zfb(order["id"], slip, per_method, "answer after notice", "acz-" + slip)
    assert seen == ["finished"], (seen, res.stdout, res.stderr)
    rid = db_row("SELECT id FROM refunds WHERE slip_id = '%s'" % slip)[0]
    assert refund_state(rid)[0] == "FAIL" and conflicts_of(slip) == "1"
    assert_held(order, rid, "OK", "FAIL")


@PAYPAL
def test_one_refund_of_several_contradicted_holds_the_payment_but_replays_the_others():
    """A payment refunded 1.00 (OK, PayPal's own paysim), then 2.00 whose answer contradicts the
    FAIL a notification recorded meanwhile: the payment is held (new refunds refused, all that is
    left too), the first refund's key still answers it, and the conflict names the second."""
    order = paid_paypal_order()  # 9.00 USD
    slip = order["pay_id"]
    capture = capture_of(slip)
    first = cli("refund", order["id"], "--amount", "1.00", "--reason", "first", "--key", "ac1-" + slip,
                check=False)
    assert first.returncode == 0 and " OK 1.00 USD " in first.stdout, first

    def answer(path, body):
        if path.startswith("/v1/oauth2/token"):
            return 200, TOKEN
        if path.endswith("/captures/%s/refund" % capture):
            req = json.loads(body)
            finish_as_a_notice_would(req["invoice_id"], False, "REFUND.CLOSED")
            return 201, paypal_refund_json(req["invoice_id"], "COMPLETED", req["amount"]["value"])
        return 500, b'{"name":"INTERNAL_SERVER_ERROR"}'

    gw = FakeGateway(answer, content_type="application/json")
    try:
        cli("refund", order["id"], "--amount", "2.00", "--reason", "second", "--key", "ac2-" + slip,
            env={"ORDERPAY_PAYPAL_GATEWAY": gw.url}, check=False)
    finally:
        gw.close()
    second = db_row("SELECT id FROM refunds WHERE slip_id = '%s' AND amount = 200" % slip)[0]
    assert refund_state(second)[0] == "FAIL" and conflicts_of(slip) == "1"
    assert_held(order, second, "OK", "FAIL")
    rest = cli("refund", order["id"], "--reason", "all that is left", check=False)
    assert rest.returncode == 1 and "e.www.refund.conflict" in rest.stderr, rest
    again = cli("refund", order["id"], "--amount", "1.00", "--reason", "first", "--key", "ac1-" + slip,
                check=False)
    assert again.returncode == 0 and "(replay)" in again.stdout and " OK 1.00 USD " in again.stdout, again


def test_reconciles_query_contradicting_a_finished_refund_is_a_conflict_wechat_v3():
    """WeChat Pay v3 (helper-120's example the other way round): a refund PROCESSING at WeChat,
    reconcile asks about it, a REFUND.CLOSED notification finishes it FAIL meanwhile, and WeChat's
    signed record says SUCCESS: the money went back while the books say FAIL."""
    import secrets
    import test_wx3_refund as wx3
    from test_hostile_provider_answers_more import v3_fake, v3_ok
    key = cli("apikey", "issue", "--site", wx3.V3).stdout.strip()
    order = wx3.paid_order()
    slip = order["pay_id"]
    paid = int(db_row("SELECT amount FROM pay_slips WHERE id = '%s'" % slip)[0])
    st, body, raw, _ = wx3.refund(key, order["id"], amount="1.00")
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    rid = body["data"]["refund"]["id"]
    age(rid)
    finished = []

    def handler(cmd, path, body):
        if path.startswith("/v3/refund/domestic/refunds/" + rid):
            finished.append(finish_as_a_notice_would(rid, False, "REFUND.CLOSED"))
            return v3_ok({"refund_id": "5030" + secrets.token_hex(12), "out_refund_no": rid, "out_trade_no": slip,
                          "transaction_id": "4200", "channel": "ORIGINAL", "user_received_account": "x",
                          "status": "SUCCESS", "create_time": "2026-12-01T12:00:05+08:00",
                          "success_time": "2026-12-01T12:00:09+08:00",
                          "amount": {"total": paid, "refund": 100, "payer_total": paid, "payer_refund": 100,
                                     "currency": "CNY"}})
        return (503, b'{"code":"SYSTEM_ERROR","message":"busy"}')

    gw = v3_fake(handler)
    try:
        cli("reconcile", "--min-age", "0", env={"ORDERPAY_WXPAY_GATEWAY": gw.url}, check=False)
    finally:
        gw.close()
    assert finished == ["finished"], (finished, gw.calls[-3:])
    assert refund_state(rid)[0] == "FAIL" and conflicts_of(slip) == "1"
    assert_held(order, rid, "OK", "FAIL")
