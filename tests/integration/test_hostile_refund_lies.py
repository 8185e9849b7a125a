"""A provider lying about refunds (session 35, attack-refund-lies): signed, well-formed refund
results whose content is not what orderpay asked for or recorded. None of them may record money
refunded that was not, or free money that went back.

Found here: a v3 REFUND.SUCCESS stating 0 refunded finished the refund (0 read as "not stated");
the payment a WeChat refund notice names (v2 total_fee, v3 amount.total) was never compared with
the refund's; Alipay's refund_fee (the trade's total refunded), in the trade notification after a
refund and in alipay.trade.refund's fund_change=Y answer, was not held against the refund, so
"0.00 back" or "twice the payment back" recorded it OK; a notification that came while the
refund's request was on its way was recorded first, and the answer that then contradicted it only
logged (never listed, the amount free): it now waits for the answer."""
import secrets

import pytest

from conftest import STACK, cli
from helpers import db_row
from test_hostile_v3_paypal_notify import envelope, post3, seal, sign3
import test_wx3_refund as wx3

V3 = STACK.get("DEMO_V3_SITE", "demo-v3")

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no v3 site")


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", V3).stdout.strip()


def refund_notice3(order, rf, event_type="REFUND.SUCCESS", status="SUCCESS", **amount):
    """A REFUND.* notification of refund `rf` as WeChat signs it, amount fields overridden."""
    paid, back = int(round(float(order["fee"]) * 100)), int(round(float(rf["amount"]) * 100))
    amt = {"total": paid, "refund": back, "payer_total": paid, "payer_refund": back}
    amt.update(amount)
    plain = {"mchid": STACK["DEMO_WX3_MCH_ID"], "out_trade_no": rf["slip"],
             "transaction_id": "4200" + secrets.token_hex(12), "out_refund_no": rf["id"],
             "refund_id": rf.get("provider_refund_id") or "50300" + secrets.token_hex(10),
             "refund_status": status, "success_time": "2026-12-01T12:00:05+08:00",
             "user_received_account": "x", "amount": amt}
    body = envelope(seal(plain, aad=b"refund"), event_type=event_type)
    return sign3(body), body


def test_v3_refund_success_notice_stating_0_refunded_does_not_finish_the_refund(key):
    """REFUND.SUCCESS for our refund with amount.refund 0: read as "no amount stated" (the check is
    skipped for 0), the refund was recorded OK and the order refunded, on WeChat's word that
    nothing went back. The query path already takes 0 as another amount (review s23-finish Low);
    the notification must too."""
    order = wx3.paid_order()
    r = wx3.refund_ok(key, order["id"])["refund"]
    assert r["st"] == "PROCESSING", r
    headers, body = refund_notice3(order, r, refund=0, payer_refund=0)
    status, _, raw, _ = post3(headers, body)
    assert wx3.st(r["id"]) == "PROCESSING", (status, raw)
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    # The truth still finishes it.
    assert wx3.finish(r["id"]) == [204]
    assert wx3.st(r["id"]) == "OK"


@pytest.mark.parametrize("field,delta", [("refund", 1), ("refund", -1), ("total", 1), ("total", -1)])
def test_v3_refund_success_notice_of_another_amount_does_not_finish_the_refund(key, field, delta):
    """amount.refund other than the refund's, or amount.total other than the payment it was asked
    of (the total was never looked at: a refund's result claims no money of the slip's)."""
    order = wx3.paid_order()
    r = wx3.refund_ok(key, order["id"], amount="1.00")["refund"]
    stated = {"refund": 100, "total": int(round(order["fee"] * 100))}[field]
    headers, body = refund_notice3(order, r, **{field: stated + delta})
    status, _, raw, _ = post3(headers, body)
    assert wx3.st(r["id"]) == "PROCESSING", (status, raw)


def listed(slip_id):
    import json
    out = json.loads(cli("reconcile", "--min-age", "0", "--json", check=False).stdout)["attention"]
    return [a["kind"] for a in out if a["slip"] == slip_id]


def test_v3_closed_notice_for_a_refund_recorded_ok_is_a_listed_conflict(key):
    """WeChat answered SUCCESS at once, then signs REFUND.CLOSED for the same refund: the buyer may
    not have the money orderpay says went back. Kept OK (not fought over), but listed."""
    order = wx3.paid_order()
    r = wx3.refund_ok(key, order["id"], reason="sim:success")["refund"]
    assert r["st"] == "OK", r
    headers, body = refund_notice3(order, r, event_type="REFUND.CLOSED", status="CLOSED")
    status, _, raw, _ = post3(headers, body)
    assert status == 204, raw
    assert wx3.st(r["id"]) == "OK"
    assert listed(order["pay_id"]) == ["CONFLICT"]


def test_v3_closed_notice_while_the_request_is_on_its_way_waits_for_the_answer():
    """The refund's own answer comes after its notification: WeChat signs REFUND.CLOSED for it
    while the request is on its way, then answers that request SUCCESS. Before, the notice
    recorded FAIL (its amount free again) and the answer's SUCCESS was only logged: nothing listed
    it, and a second refund of the amount was sent at once. Now the notice is answered "tell me
    again" while the refund's talk lock is held, the answer is recorded (OK), and the notice's
    resend is the contradiction it is: kept, and the slip listed CONFLICT."""
    import json
    from test_hostile_provider_answers_more import TIMEOUT_MS, paid_v3_order, v3_fake, v3_ok, v3_refund_answer
    from test_zzz_hostile_faults import run_cli_env
    order, slip, fen = paid_v3_order()
    seen = {}

    def handler(cmd, path, body):
        if path != "/v3/refund/domestic/refunds":
            return (503, b'{"code":"SYSTEM_ERROR","message":"busy"}')
        req = json.loads(body)
        rf = {"id": req["out_refund_no"], "slip": slip, "amount": "%.2f" % (req["amount"]["refund"] / 100)}
        seen["notice"] = refund_notice3({"fee": fen / 100}, rf, event_type="REFUND.CLOSED", status="CLOSED")
        seen["first"] = post3(*seen["notice"])[0]
        seen["st"] = wx3.st(rf["id"])
        return v3_ok(v3_refund_answer(body))

    gw = v3_fake(handler)
    try:
        res = run_cli_env({"ORDERPAY_WXPAY_GATEWAY": gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": TIMEOUT_MS},
                          "refund", order["id"], "--reason", "lie probe", "--key", "hrl-" + slip)
    finally:
        gw.close()
    # Not decided while the request was on its way: answered so that WeChat sends it again.
    assert seen["first"] != 204 and seen["st"] == "PROCESSING", (seen, res.stderr[-500:])
    assert res.returncode == 0, res.stderr[-500:]
    assert db_row("SELECT st FROM refunds WHERE slip_id = '%s'" % slip) == ["OK"]
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"]
    # WeChat's resend: against the answer recorded, a conflict for an operator, listed.
    assert post3(*seen["notice"])[0] == 204
    assert db_row("SELECT st FROM refunds WHERE slip_id = '%s'" % slip) == ["OK"]
    assert listed(slip) == ["CONFLICT"]


# --- WeChat v2 refund notifications: req_info opened with the merchant's key ---------------------

def req_info(plain):
    """req_info as WeChat seals it: AES-256-ECB (PKCS#7) under the lowercase hex MD5 of the
    merchant's key, base64."""
    import base64
    import hashlib
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    with open(STACK["DEMO_WX_KEY_FILE"], encoding="utf-8") as f:
        k = hashlib.md5(f.read().strip().encode()).hexdigest().encode()
    p = sym_padding.PKCS7(128).padder()
    data = p.update(plain) + p.finalize()
    enc = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def v2_info(slip_id, refund_id, fen, total=None, status="SUCCESS", extra=b""):
    return (b"<root><out_refund_no><![CDATA[" + refund_id.encode() + b"]]></out_refund_no>"
            b"<out_trade_no><![CDATA[" + slip_id.encode() + b"]]></out_trade_no>"
            b"<refund_id><![CDATA[50300000000000000000000000001]]></refund_id>"
            b"<transaction_id><![CDATA[4200000000000000000000000001]]></transaction_id>"
            b"<refund_status><![CDATA[" + status.encode() + b"]]></refund_status>"
            b"<total_fee>" + str(total or fen).encode() + b"</total_fee><refund_fee>" + str(fen).encode() +
            b"</refund_fee><settlement_refund_fee>" + str(fen).encode() + b"</settlement_refund_fee>"
            b"<success_time>2026-12-01 12:00:05</success_time>" + extra + b"</root>")


def post_v2_notice(info):
    from test_hostile_notify import post_wx_site
    xml = ("<xml><return_code>SUCCESS</return_code><appid><![CDATA[%s]]></appid><mch_id><![CDATA[%s]]></mch_id>"
           "<nonce_str><![CDATA[%s]]></nonce_str><req_info><![CDATA[%s]]></req_info></xml>"
           % (STACK["DEMO_WX_APP_ID"], STACK["DEMO_WX_MCH_ID"], secrets.token_hex(8),
              info if isinstance(info, str) else req_info(info)))
    return post_wx_site(xml, STACK["DEMO_SITE"])


def v2_processing():
    import test_wx_refund as wx
    order = wx.paid_order()
    r = wx.refund_ok(order["id"], "3.00")
    assert r["st"] == "PROCESSING", r
    return order, r


def test_v2_genuine_built_notice_finishes_the_refund():
    """The builder above is WeChat's: its notice finishes a refund (so the refusals below are the
    lies', not the builder's)."""
    order, r = v2_processing()
    st, reply = post_v2_notice(v2_info(order["pay_id"], r["id"], 300, total=2500))
    assert "SUCCESS" in reply, reply
    assert wx3.st(r["id"]) == "OK"


V2_LIES = {
    "garbage": lambda s, r: secrets.token_bytes(200),
    "not_xml": lambda s, r: b"SUCCESS " + r.encode(),
    "not_utf8": lambda s, r: v2_info(s, r, 300, 2500, extra=b"<x>\xff\xfe\xc0</x>"),
    "doctype": lambda s, r: b'<!DOCTYPE root [<!ENTITY e "' + r.encode() + b'">]>' + v2_info(s, "&e;", 300, 2500),
    "dup_refund_no_ours_first": lambda s, r: v2_info(s, r, 300, 2500, extra=b"<out_refund_no>zz</out_refund_no>"),
    "dup_refund_no_ours_last": lambda s, r: v2_info(s, "zz", 300, 2500,
                                                    extra=b"<out_refund_no>" + r.encode() + b"</out_refund_no>"),
    "dup_status": lambda s, r: v2_info(s, r, 300, 2500, status="REFUNDCLOSE",
                                       extra=b"<refund_status>SUCCESS</refund_status>"),
    "dup_fee": lambda s, r: v2_info(s, r, 1, 2500, extra=b"<refund_fee>300</refund_fee>"),
    "huge": lambda s, r: v2_info(s, r, 300, 2500, extra=b"<pad>" + b"a" * 2000000 + b"</pad>"),
    "bigger": lambda s, r: v2_info(s, r, 301, 2500),
    "smaller": lambda s, r: v2_info(s, r, 299, 2500),
    "fee_above_payment": lambda s, r: v2_info(s, r, 2600, 2500),
    "fee_zero": lambda s, r: v2_info(s, r, 0, 2500),
    "fee_negative": lambda s, r: v2_info(s, r, -300, 2500),
    "total_other": lambda s, r: v2_info(s, r, 300, 2499),
    "total_below_fee": lambda s, r: v2_info(s, r, 300, 299),
    "status_lower": lambda s, r: v2_info(s, r, 300, 2500, status="success"),
    "another_slip": lambda s, r: v2_info("x" + s[1:], r, 300, 2500),
    "another_refund": lambda s, r: v2_info(s, "y" + r[1:], 300, 2500),
}


@pytest.mark.parametrize("lie", sorted(V2_LIES))
def test_v2_refund_notice_lies_finish_nothing(lie):
    from test_hostile_provider_values import PgErrors
    errors = PgErrors()
    order, r = v2_processing()
    st, reply = post_v2_notice(V2_LIES[lie](order["pay_id"], r["id"]))
    assert st != 500, reply
    assert wx3.st(r["id"]) == "PROCESSING", (lie, reply)
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    assert errors.new() == [], lie


# --- Alipay: the trade's notification after a refund (out_biz_no, gmt_refund, refund_fee) -------

ZFB_REFUND_FEE = {  # refund_fee is what the whole trade has had back, per Alipay's notification
    "nothing_back": lambda amount: "0.00",
    "less_than_this_refund": lambda amount: "0.01",
    "more_than_paid": lambda amount: "%.2f" % (float(amount) * 2),
    "unreadable": lambda amount: "abc",
    "missing": lambda amount: "",
}


@pytest.mark.parametrize("kind", sorted(ZFB_REFUND_FEE))
def test_zfb_refund_notice_whose_trade_refunded_cannot_include_the_refund_does_not_finish_it(kind):
    """Our Alipay refund of the whole payment is open (its answer never came: nothing reached
    Alipay). A signed trade notification naming it (out_biz_no) says the trade had less back
    than this refund, or more than was paid: it was recorded OK on that, the order refunded."""
    from test_hostile_notify import post_zfb_params, zfb_form
    from test_hostile_provider_answers_more import paid_zfb_order, refund_through_fake_zfb, unfinished_refund
    order, slip, amount = paid_zfb_order()
    res, _ = refund_through_fake_zfb(order["id"], slip, lambda method, biz: (504, b"gateway timeout"), "lie probe",
                                     "hrz-" + slip)
    unfinished_refund(slip, kind, res)
    rid = db_row("SELECT id FROM refunds WHERE slip_id = '%s'" % slip)[0]
    form = zfb_form(slip, amount, out_biz_no=rid, gmt_refund="2026-12-01 12:10:00",
                    refund_fee=ZFB_REFUND_FEE[kind](amount), trade_status="TRADE_SUCCESS")
    post_zfb_params(form)
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid)[0] in ("NEW", "PROCESSING"), kind
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]


@pytest.mark.parametrize("kind", ["less_than_this_refund", "more_than_paid", "nothing_back", "unreadable"])
def test_zfb_refund_answer_fund_change_y_whose_trade_refunded_cannot_include_it_is_not_ok(kind):
    """alipay.trade.refund answers fund_change Y with refund_fee, the trade's total refunded, that
    cannot include this refund (less than it, more than the payment, none): recorded OK on it
    before. Left open; reconcile's query (the real Alipay, paysim, asked under the same
    out_request_no) finishes it."""
    from test_hostile_provider_answers_more import (paid_zfb_order, refund_through_fake_zfb, unfinished_refund,
                                                    zfb_not_found, zfb_refund_node, zfb_signed)
    order, slip, amount = paid_zfb_order()

    def per_method(method, biz):
        if method == "alipay.trade.refund":
            return zfb_signed(method, zfb_refund_node(biz, refund_fee=ZFB_REFUND_FEE[kind](amount)))
        return zfb_not_found(method)

    res, _ = refund_through_fake_zfb(order["id"], slip, per_method, "lie probe", "hrza-" + slip)
    unfinished_refund(slip, kind, res)
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    cli("reconcile", "--min-age", "0", "--limit", "100000")
    assert db_row("SELECT st FROM refunds WHERE slip_id = '%s'" % slip) == ["OK"], kind
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"]


def test_v3_timed_out_refund_told_by_notification_and_reconcile_at_once_is_recorded_once():
    """The answer never came (orderpay gave up at its timeout; WeChat refunded it): then its
    REFUND.SUCCESS (five copies at once) and reconcile's query tell it at the same moment. OK
    once, the order RF, WeChat's refund the only one, the audit clean."""
    import threading
    from test_refund_timeout import api_key, timed_out_refund
    key = api_key(V3)
    order = wx3.paid_order()
    fee = int(round(order["fee"] * 100))
    r = timed_out_refund(key, V3, order, "%.2f" % (fee / 100), fee)
    replies = []
    t = threading.Thread(target=lambda: replies.append(wx3.finish(r["id"], times="5")))
    t.start()
    cli("reconcile", "--min-age", "0", check=False)
    t.join()
    assert replies and all(x == 204 for x in replies[0]), replies
    assert wx3.st(r["id"]) == "OK"
    assert db_row("SELECT count(*), sum(amount) FROM refunds WHERE order_id = '%s'" % order["id"]) == ["1", str(fee)]
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"]
    assert wx3.sim_refunded(order["pay_id"]) == fee
    assert db_row("SELECT count(*) FROM notifications WHERE slip_id = '%s' AND verdict = 'settled'"
                  % order["pay_id"]) in (["1"], ["2"])  # the payment's; the refund's unless the query came first
    assert cli("audit", check=False).returncode == 0
