"""`orderpay refund finish` on a WeChat Pay v3 refund: WeChat's 404 RESOURCE_NOT_EXISTS for our
out_refund_no is "no such refund" (the operator's word is recorded) only when WeChat signed it.
Before, any 404 with that code was believed: a wrong ORDERPAY_WXPAY_GATEWAY in the operator's shell,
or anything between us and WeChat, could make every v3 refund "never made" and let `fail` free its
amount for a second refund (review s23-finish2 M-B)."""

import json

import pytest
from conftest import STACK, cli
from helpers import FakeGateway, db_row
from test_refund_finish import age, finish, refund_state
from test_wx3_refund import V3, paid_order, sim_refunded

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")


def processing_refund_wechat_never_made(order_id):
    """A v3 refund whose request a fake WeChat answered 500 (may have been processed): PROCESSING,
    and WeChat (paysim) has no record of it."""
    down = FakeGateway(lambda path, body: (500, b'{"code":"SYSTEM_ERROR","message":"busy"}'),
                       content_type="application/json")
    try:
        out = cli("refund", order_id, "--amount", "1.00", "--reason", "lost answer", "--key", "wx3fin-" + order_id,
                  env={"ORDERPAY_WXPAY_GATEWAY": down.url}, check=False)
    finally:
        down.close()
    rid = db_row("SELECT id FROM refunds WHERE order_id = '%s' ORDER BY ct DESC LIMIT 1" % order_id)[0]
    assert refund_state(rid)[0] == "PROCESSING", (out.stdout, out.stderr)
    assert db_row("SELECT count(*) FROM paysim.wx3_refunds WHERE out_refund_no = '%s'" % rid) == ["0"]
    return rid


def test_an_unsigned_not_found_is_no_answer_and_wechats_signed_one_takes_the_operators_word():
    order = paid_order()
    rid = processing_refund_wechat_never_made(order["id"])
    age(rid)
    body = json.dumps({"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}).encode()
    unsigned = FakeGateway(lambda path, b: (404, body), content_type="application/json")
    try:
        res = finish(rid, "fail", "console: nothing", env={"ORDERPAY_WXPAY_GATEWAY": unsigned.url})
    finally:
        unsigned.close()
    assert res.returncode == 1 and "no answer from the provider" in res.stderr, res
    assert "unsigned: not taken as WeChat's word" in res.stderr, res.stderr
    assert refund_state(rid)[0] == "PROCESSING"
    # paysim answers as WeChat does, signed: WeChat has no such refund, and the word is recorded.
    done = finish(rid, "fail", "console: nothing")
    assert done.returncode == 0 and "recorded FAIL on your word" in done.stdout, done
    st, note = refund_state(rid)
    assert st == "FAIL" and "the provider has no such refund" in note and "RESOURCE_NOT_EXISTS" in note, note
    assert sim_refunded(order["pay_id"]) == 0
    assert V3 in db_row("SELECT site_id FROM refunds WHERE id = '%s'" % rid)
