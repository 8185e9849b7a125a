"""A WeChat v3 refund WeChat reports ABNORMAL (taken from the merchant, held until redirected),
against duplicates, a lie after the fact and a wrong amount, with notices signed here as WeChat
would sign them: copies arriving at once keep it PROCESSING and counted once; an ABNORMAL notice
arriving after SUCCESS changes nothing; one for another amount is refused."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import STACK
from helpers import db_row
from test_hostile_v3_paypal_notify import envelope, post3, seal, sign3
from test_wx3_refund import V3, admin_order, finish, key, paid_order, refund_ok  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")


def abnormal_notice(order, rid, refund_minor):
    """A REFUND.ABNORMAL notice for our refund `rid`, sealed and signed with the stack's keys."""
    wx_id, total, txn = db_row("SELECT r.refund_id, r.total, r.transaction_id FROM paysim.wx3_refunds r"
                               " WHERE r.out_refund_no = '%s'" % rid)
    plain = {"mchid": STACK["DEMO_WX3_MCH_ID"], "out_trade_no": order["pay_id"], "transaction_id": txn,
             "out_refund_no": rid, "refund_id": wx_id, "refund_status": "ABNORMAL",
             "user_received_account": "招商银行信用卡0403",
             "amount": {"total": int(total), "refund": refund_minor, "payer_total": int(total),
                        "payer_refund": refund_minor}}
    resource = seal(plain, aad=b"refund")
    resource["original_type"] = "refund"
    body = envelope(resource, event_type="REFUND.ABNORMAL")
    return sign3(body), body


def row(rid):
    return db_row("SELECT st, note FROM refunds WHERE id = '%s'" % rid)


def test_abnormal_copies_at_once_then_a_late_abnormal_after_success_and_a_wrong_amount(key):  # noqa: F811
    order = paid_order()
    rid = refund_ok(key, order["id"], amount="0.50")["refund"]["id"]
    headers, body = abnormal_notice(order, rid, 50)
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: post3(headers, body)[0], range(6)))
    assert replies == [204] * 6, replies  # acknowledged: WeChat stops sending it
    st, note = row(rid)
    assert st == "PROCESSING" and note.startswith("stuck at the provider"), (st, note)
    # Each copy stored and judged alike: acknowledged, settling nothing.
    verdicts = db_row("SELECT string_agg(verdict, ',' ORDER BY id) FROM notifications WHERE slip_id = '%s'"
                      " AND reason LIKE '%%%s%%'" % (order["pay_id"], rid))[0]
    assert verdicts == ",".join(["ignored"] * 6), verdicts
    # The other side of the money: the rest refundable, 0.50 still counted.
    assert admin_order(key, order["id"])["refunded"] == 0
    # Redirected by the merchant: SUCCESS. Then the stale ABNORMAL again (a late copy, or a lie).
    assert finish(rid, status="SUCCESS") == [204]
    assert row(rid)[0] == "OK"
    headers, body = abnormal_notice(order, rid, 50)
    assert post3(headers, body)[0] == 204
    st, note = row(rid)
    assert st == "OK" and not note.startswith("stuck"), (st, note)
    assert admin_order(key, order["id"])["refunded"] == 0.5
    # An ABNORMAL naming another amount for our refund is refused, and changes nothing.
    headers, body = abnormal_notice(order, rid, 49)
    status, _, raw, _ = post3(headers, body)
    assert status in (400, 401), raw
    assert row(rid)[0] == "OK"
