"""Probes of the provider notification endpoints and settlement from the side of a provider that
writes its messages oddly, duplicates, reorders and lies, and of a careless integrator:
amounts written in unusual but validly signed forms, duplicated or malformed XML/form fields,
parallel copies of one notification, payments that arrive for superseded slips, expired or
refunded orders, and notifications signed by one merchant naming another merchant's slip.

Notifications are built and signed here, apart from the C++ code (test_provider_binding's and
test_wx3's builders: hashlib MD5 for WeChat v2, openssl RSA2 for Alipay, cryptography's RSA and
AES-GCM for WeChat v3)."""

import base64
import hashlib
import itertools
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import STACK, api, cli, psql, sim
from helpers import buy_ok, check, db_row, ensure_site, failing_update, inbox, sim_pay
from test_provider_binding import WX_FAIL_PREFIX, WX_SUCCESS_PREFIX, post_wx, post_zfb, wx_key

V3 = STACK.get("DEMO_V3_SITE", "demo-v3")
_seq = itertools.count()


# ---------------------------------------------------------------------------------------------
# builders


def wx_fields(slip_id, total_fee, **override):
    fields = {
        "appid": STACK["DEMO_WX_APP_ID"], "mch_id": STACK["DEMO_WX_MCH_ID"],
        "nonce_str": secrets.token_hex(8), "out_trade_no": slip_id,
        "transaction_id": "42" + secrets.token_hex(10), "total_fee": str(total_fee),
        "fee_type": "CNY", "result_code": "SUCCESS", "return_code": "SUCCESS", "trade_type": "NATIVE",
        "openid": "oTestOpenid", "bank_type": "OTHERS", "cash_fee": str(total_fee), "time_end": "20261201120000",
    }
    fields.update(override)
    return {k: v for k, v in fields.items() if v is not None}


def wx_sign(fields, key=None):
    text = "&".join("%s=%s" % (k, fields[k]) for k in sorted(fields) if fields[k] != "" and k != "sign")
    text += "&key=" + (key or wx_key())
    return hashlib.md5(text.encode()).hexdigest().upper()


def wx_xml(fields, extra=(), cdata=True, key=None):
    """The XML of `fields` signed with `key`; `extra` elements (name, raw inner text) are appended
    after signing (unsigned)."""
    fields = dict(fields)
    fields["sign"] = wx_sign(fields, key)
    parts = []
    for k, v in fields.items():
        parts.append("<%s><![CDATA[%s]]></%s>" % (k, v, k) if cdata else "<%s>%s</%s>" % (k, v, k))
    for k, raw in extra:
        parts.append("<%s>%s</%s>" % (k, raw, k))
    return "<xml>" + "".join(parts) + "</xml>"


def zfb_form(slip_id, total_amount, trade_status="TRADE_SUCCESS", trade_no=None, drop=(), **override):
    params = {
        "notify_time": "2026-12-01 12:00:00", "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16), "app_id": STACK["DEMO_ZFB_APP_ID"], "charset": "utf-8",
        "version": "1.0", "trade_no": trade_no or "2026120122001" + secrets.token_hex(6),
        "out_trade_no": slip_id, "seller_id": STACK["DEMO_ZFB_SELLER_ID"], "total_amount": total_amount,
        "trade_status": trade_status, "buyer_logon_id": "buy***@example.com",
    }
    params.update(override)
    for k in drop:
        params.pop(k, None)
    content = "&".join("%s=%s" % (k, params[k]) for k in sorted(params) if params[k] != "")
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", STACK["DEMO_ZFB_ALIPAY_PRIVATE_KEY"]],
                         input=content.encode(), capture_output=True, check=True).stdout
    params["sign"] = base64.b64encode(sig).decode()
    params["sign_type"] = "RSA2"
    return params


def v3_build(slip_id, plain_amount, currency="CNY", event_type="TRANSACTION.SUCCESS", trade_state="SUCCESS"):
    """A v3 notification (headers, body) whose plaintext amount object is given as is."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    with open(STACK["DEMO_WX3_APIV3_KEY_FILE"]) as f:
        key = f.read().strip()
    with open(STACK["DEMO_WX3_PLATFORM_PRIVATE_KEY"], "rb") as f:
        signer = serialization.load_pem_private_key(f.read(), None)
    plain = ('{"appid":"%s","mchid":"%s","out_trade_no":"%s","transaction_id":"4200%s","trade_type":"NATIVE",'
             '"trade_state":"%s","bank_type":"OTHERS","success_time":"2026-12-01T12:00:05+08:00",'
             '"payer":{"openid":"o"},"amount":{"total":%s,"payer_total":%s,"currency":"%s",'
             '"payer_currency":"CNY"}}') % (STACK["DEMO_WX3_APP_ID"], STACK["DEMO_WX3_MCH_ID"], slip_id,
                                              secrets.token_hex(12), trade_state, plain_amount, plain_amount,
                                              currency)
    nonce = secrets.token_hex(6)
    ct = AESGCM(key.encode()).encrypt(nonce.encode(), plain.encode(), b"transaction")
    body = json.dumps({
        "id": "EV-" + secrets.token_hex(8), "create_time": "2026-12-01T12:00:06+08:00",
        "resource_type": "encrypt-resource", "event_type": event_type, "summary": "x",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": base64.b64encode(ct).decode(), "associated_data": "transaction",
                     "nonce": nonce}}, separators=(",", ":"))
    ts = str(int(time.time()))
    hnonce = secrets.token_hex(16)
    sig = signer.sign(("%s\n%s\n%s\n" % (ts, hnonce, body)).encode(), padding.PKCS1v15(), hashes.SHA256())
    headers = {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": hnonce, "Wechatpay-Serial": STACK["DEMO_WX3_PUBKEY_ID"],
               "Wechatpay-Signature": base64.b64encode(sig).decode(), "Content-Type": "application/json"}
    return headers, body


def post_zfb_params(params):
    return post_zfb(urllib.parse.urlencode(params))


# ---------------------------------------------------------------------------------------------
# state


def slip(slip_id):
    return db_row("SELECT s.st, coalesce(s.provider_txn_id, ''), s.refund_needed, o.or_st, o.pay_id, "
                  "o.stock_held FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % slip_id)


def verdicts(slip_id):
    """Every stored notification naming the slip anywhere in its body (also those no slip was bound to)."""
    out = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' OR "
               "position('%s'::bytea in body) > 0 ORDER BY id" % (slip_id, slip_id))
    return [tuple(x.split("|", 1)) for x in out.splitlines()] if out else []


def product(stock, price="1.00", site=None):
    pid = "pn-%d-%s" % (next(_seq), secrets.token_hex(3))
    cli("product", "add", pid, "--site", site or STACK["DEMO_SITE"], "--title", "probe " + pid, "--price", price,
        "--stock", str(stock))
    return pid


def stock(pid, site=None):
    return int(psql("SELECT stock FROM products WHERE site_id = '%s' AND id = '%s'" % (site or STACK["DEMO_SITE"], pid)))


def supersede(order, pt=None):
    params = {"id": order["id"], "force": "true"}
    if pt:
        params["pt"] = pt
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params=params)
    assert st == 200, raw
    new = body["data"]["pay_id"]
    assert new != order["pay_id"]
    return new


def expire_now(order):
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["FA"]


def audit_violations(*subjects):
    res = cli("audit", "--json", check=False)
    text = res.stdout
    return [line for line in text.replace("},{", "}\n{").splitlines() if any(s in line for s in subjects)]


def assert_consistent_wx(reply, slip_id, amount):
    """A reply that says SUCCESS means the slip is paid at its own amount; FAIL means nothing moved."""
    row = slip(slip_id)
    amt = psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip_id)
    if reply.startswith(WX_SUCCESS_PREFIX):
        assert row[0] == "OK" and row[3] == "OK" and int(amt) == amount, (reply, row)
    else:
        assert reply.startswith(WX_FAIL_PREFIX), reply
        assert row[0] == "WAIT" and row[3] == "WT", row


# ---------------------------------------------------------------------------------------------
# amounts written oddly, but signed by the right merchant


@pytest.mark.parametrize("total_fee, may_settle", [
    ("2500", True),
    # One rule for providers' amounts (README "Amounts providers send"): the exact value, so a
    # leading zero or a zero decimal is 2500 fen too; a sign, blank or exponent is no amount.
    ("02500", True), ("+2500", False), ("2500.0", True), (" 2500", False), ("2500 ", False),
    ("2.5e3", False), ("0x9C4", False), ("9223372036854775808", False), ("18446744073709554116", False),
    ("-2500", False), ("", False), ("250", False), ("25000", False), ("2500\n", False),
])
def test_wx_total_fee_written_oddly_never_settles_another_amount(total_fee, may_settle):
    order = buy_ok("wx.qrcode")  # 2 x 12.50 = 2500 fen
    st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], total_fee, cash_fee="2500")))
    assert st == 200, (st, reply)
    assert_consistent_wx(reply, order["pay_id"], 2500)
    if may_settle is True:
        assert reply.startswith(WX_SUCCESS_PREFIX), reply
    elif may_settle is False:
        assert reply.startswith(WX_FAIL_PREFIX), reply
        assert verdicts(order["pay_id"])[-1][0] == "rejected"


@pytest.mark.parametrize("fee_type", ["cny", "USD", " CNY", "CNY "])
def test_wx_fee_type_other_than_cny_is_refused(fee_type):
    order = buy_ok("wx.qrcode")
    st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], 2500, fee_type=fee_type)))
    assert st == 200 and reply.startswith(WX_FAIL_PREFIX), reply
    assert slip(order["pay_id"])[0] == "WAIT"


@pytest.mark.parametrize("total_amount, settles", [
    # 25.000 is 25.00 (review s30 Info 1: it was refused while WeChat's 02500 was taken as 2500).
    ("25.00", True), ("25", True), ("25.0", True), ("25.000", True), ("2.5e1", False), ("+25.00", False),
    (" 25.00", False), ("25.00 ", False), ("25,00", False), ("0025.00", True), ("25.001", False), ("-25.00", False),
    ("25.01", False), ("2500", False), ("NaN", False), ("Infinity", False),
])
def test_zfb_total_amount_written_oddly_never_settles_another_amount(total_amount, settles):
    order = buy_ok("zfb.qrcode")
    st, reply = post_zfb_params(zfb_form(order["pay_id"], total_amount))
    assert st == 200 and reply in ("success", "fail"), (st, reply)
    row = slip(order["pay_id"])
    if reply == "success":
        assert row[0] == "OK" and row[3] == "OK", row
    else:
        assert row[0] == "WAIT" and row[3] == "WT", row
    if settles is True:
        assert reply == "success"
    elif settles is False:
        assert reply == "fail"


def test_zfb_total_amount_missing_is_refused():
    order = buy_ok("zfb.qrcode")
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "", drop=("total_amount",)))
    assert (st, reply) == (200, "fail")
    assert slip(order["pay_id"])[0] == "WAIT"


@pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="no v3 site")
@pytest.mark.parametrize("amount, currency, settles", [
    ("1250", "CNY", True), ("1250.0", "CNY", False), ('"1250"', "CNY", False), ("1.25e3", "CNY", False),
    ("1250", "cny", False), ("1250", "USD", False), ("-1250", "CNY", False), ("9223372036854775808", "CNY", False),
    ("125", "CNY", False),
])
def test_wx3_amount_written_oddly(amount, currency, settles):
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=V3,
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    order = body["data"]
    headers, nbody = v3_build(order["pay_id"], amount, currency)
    st, parsed, raw, _ = api("POST", "re_wx", raw_body=nbody.encode(), headers=headers, site=V3)
    row = slip(order["pay_id"])
    if settles:
        assert st == 204 and row[0] == "OK", (st, raw, row)
    else:
        assert st == 400 and parsed["code"] == "FAIL", (st, raw)
        assert row[0] == "WAIT" and row[3] == "WT", row


# ---------------------------------------------------------------------------------------------
# odd XML and forms


def test_wx_duplicated_elements_are_refused_whichever_copy_is_signed():
    order = buy_ok("wx.qrcode")
    f = wx_fields(order["pay_id"], 2500)
    # A second total_fee / out_trade_no / result_code after the signed one, and before it.
    bodies = [
        wx_xml(f, extra=[("total_fee", "1")]),
        wx_xml(f, extra=[("out_trade_no", order["pay_id"])]),
        wx_xml(f, extra=[("return_code", "SUCCESS")]),
        wx_xml(f, extra=[("sign", wx_sign(f))]),
        wx_xml(f).replace("<xml>", "<xml><total_fee>1</total_fee>", 1),
    ]
    for b in bodies:
        st, reply = post_wx(b)
        assert st == 200 and reply.startswith(WX_FAIL_PREFIX), (b[:80], reply)
    assert slip(order["pay_id"])[0] == "WAIT"
    rows = verdicts(order["pay_id"])
    assert len(rows) == len(bodies) and all(v == "rejected" and "duplicate" in r for v, r in rows), rows


def test_wx_unsigned_nonempty_extra_field_breaks_the_signature():
    order = buy_ok("wx.qrcode")
    f = wx_fields(order["pay_id"], 2500)
    st, reply = post_wx(wx_xml(f, extra=[("coupon_fee", "100")]))
    assert reply.startswith(WX_FAIL_PREFIX), reply
    # An extra field that is empty is not signed by WeChat's rule, and changes nothing here.
    st, reply = post_wx(wx_xml(f, extra=[("attach", "")]))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    assert slip(order["pay_id"])[0] == "OK"


@pytest.mark.parametrize("name, transform, ok", [
    ("text, no cdata", lambda x: x, True),
    ("bom", lambda x: "\ufeff" + x, True),
    ("declaration", lambda x: '<?xml version="1.0" encoding="UTF-8"?>\n' + x, True),
    ("trailing garbage", lambda x: x + "garbage", False),
    ("second root", lambda x: x + "<xml></xml>", False),
    ("doctype", lambda x: '<!DOCTYPE xml [<!ENTITY a "b">]>' + x, False),
    ("entity in value", lambda x: x.replace("<bank_type>OTHERS", "<bank_type>&a;"), False),
    ("xml in utf-16", None, False),
    ("latin-1 declaration", lambda x: '<?xml version="1.0" encoding="ISO-8859-1"?>' + x, False),
    ("attribute on root", lambda x: x.replace("<xml>", '<xml a="1">', 1), False),
    ("nested element", lambda x: x.replace("<bank_type>OTHERS", "<bank_type><x>OTHERS</x>"), False),
])
def test_wx_xml_shapes(name, transform, ok):
    order = buy_ok("wx.qrcode")
    xml = wx_xml(wx_fields(order["pay_id"], 2500), cdata=False)
    if transform is None:
        raw = xml.encode("utf-16")
    else:
        raw = transform(xml).encode()
    st, _, body, hdrs = api("POST", "re_wx", raw_body=raw, headers={"Content-Type": "text/xml"})
    reply = body.decode()
    assert st == 200 and hdrs["content-type"].startswith("text/xml"), (st, reply)
    assert reply.startswith(WX_SUCCESS_PREFIX if ok else WX_FAIL_PREFIX), (name, reply)
    assert slip(order["pay_id"])[0] == ("OK" if ok else "WAIT")
    stored = psql("SELECT count(*) FROM notifications WHERE provider = 'wx' AND position('%s'::bytea in body) > 0"
                  % order["pay_id"])
    if transform is not None:
        assert stored == "1", stored  # stored raw whatever it was


def test_wx_non_utf8_byte_in_a_field_is_refused_and_stored():
    order = buy_ok("wx.qrcode")
    xml = wx_xml(wx_fields(order["pay_id"], 2500)).encode()
    raw = xml.replace(b"<bank_type><![CDATA[OTHERS]]>", b"<bank_type><![CDATA[OTH\xffERS]]>")
    st, _, body, _ = api("POST", "re_wx", raw_body=raw, headers={"Content-Type": "text/xml"})
    assert st == 200 and body.startswith(WX_FAIL_PREFIX.encode()), body
    assert slip(order["pay_id"])[0] == "WAIT"
    row = db_row("SELECT verdict FROM notifications WHERE position('\\xff'::bytea in body) > 0 AND "
                 "position('%s'::bytea in body) > 0" % order["pay_id"])
    assert row == ["rejected"], row


def test_zfb_duplicated_field_is_refused():
    order = buy_ok("zfb.qrcode")
    p = zfb_form(order["pay_id"], "25.00")
    for extra in ("&total_amount=0.01", "&out_trade_no=" + order["pay_id"], "&trade_status=TRADE_SUCCESS",
                  "&sign=" + urllib.parse.quote(p["sign"])):
        st, reply = post_zfb(urllib.parse.urlencode(p) + extra)
        assert (st, reply) == (200, "fail"), (extra, reply)
    # Before the signed copy, too.
    st, reply = post_zfb("total_amount=0.01&" + urllib.parse.urlencode(p))
    assert (st, reply) == (200, "fail")
    assert slip(order["pay_id"])[0] == "WAIT"


def test_zfb_unsigned_extra_fields():
    order = buy_ok("zfb.qrcode")
    p = zfb_form(order["pay_id"], "25.00")
    # A non-empty field nobody signed: the signature fails.
    st, reply = post_zfb(urllib.parse.urlencode(p) + "&out_biz_no=R1&gmt_refund=2026-12-01")
    assert reply == "fail"
    # Empty fields are outside Alipay's sign content; they must not turn a payment into something else.
    st, reply = post_zfb(urllib.parse.urlencode(p) + "&out_biz_no=&gmt_refund=&fund_bill_list=")
    assert reply == "success"
    assert slip(order["pay_id"])[0] == "OK"


# ---------------------------------------------------------------------------------------------
# the same notification in parallel


def parallel(n, fn):
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        results[i] = fn(i)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_same_wx_notification_in_parallel_settles_once_and_counts_stock_once():
    pid = product(3)
    order = buy_ok(products=[{"id": pid, "amount": 2}])
    assert stock(pid) == 1
    xml = wx_xml(wx_fields(order["pay_id"], 200))
    results = parallel(8, lambda i: post_wx(xml))
    assert all(st == 200 and r.startswith(WX_SUCCESS_PREFIX) for st, r in results), results
    vs = sorted(v for v, _ in verdicts(order["pay_id"]))
    assert vs == ["duplicate"] * 7 + ["settled"], vs
    assert stock(pid) == 1
    assert slip(order["pay_id"])[:4] == ["OK", slip(order["pay_id"])[1], "f", "OK"]
    assert not audit_violations(order["id"], order["pay_id"], pid)


def test_same_order_two_paid_slips_in_parallel_one_counts_the_other_is_flagged():
    pid = product(3)
    order = buy_ok(products=[{"id": pid, "amount": 1}])
    old = order["pay_id"]
    new = supersede(order)
    old_xml = wx_xml(wx_fields(old, 100))
    new_xml = wx_xml(wx_fields(new, 100))
    results = parallel(8, lambda i: post_wx(old_xml if i % 2 else new_xml))
    assert all(st == 200 and r.startswith(WX_SUCCESS_PREFIX) for st, r in results), results
    a, b = slip(old), slip(new)
    assert a[0] == b[0] == "OK", (a, b)
    paid_by = a[4]
    assert paid_by in (old, new)
    flagged = new if paid_by == old else old
    assert slip(flagged)[2] == "t" and slip(paid_by)[2] == "f", (a, b)
    assert a[3] == "OK" and stock(pid) == 2
    assert not audit_violations(order["id"], old, new, pid)


def test_same_zfb_notification_in_parallel_all_answered_success():
    order = buy_ok("zfb.qrcode")
    form = urllib.parse.urlencode(zfb_form(order["pay_id"], "25.00"))
    results = parallel(8, lambda i: post_zfb(form))
    assert results == [(200, "success")] * 8, results
    vs = sorted(v for v, _ in verdicts(order["pay_id"]))
    assert vs == ["duplicate"] * 7 + ["settled"], vs


# ---------------------------------------------------------------------------------------------
# payments that arrive late: superseded slips, expired and refunded orders


def test_superseded_slip_paid_while_order_waits_settles_and_then_the_new_one_is_flagged():
    order = buy_ok("wx.qrcode")
    old = order["pay_id"]
    new = supersede(order)
    st, reply = post_wx(wx_xml(wx_fields(old, 2500)))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    o = check(order["id"])[1]["data"]
    assert o["or_st"] == "OK" and o["pay_id"] == old, o
    # The buyer pays the new code too: a second payment, kept and flagged, never lost.
    st, reply = post_wx(wx_xml(wx_fields(new, 2500)))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    assert slip(new)[:3] == ["OK", slip(new)[1], "t"]
    assert check(order["id"])[1]["data"]["pay_id"] == old
    out = cli("reconcile", "--min-age", "3600").stdout
    assert any(line.startswith("REFUND") and new in line for line in out.splitlines()), out
    assert not audit_violations(order["id"], old, new)


def test_superseded_slip_paid_through_another_provider_after_switch():
    # wx -> zfb switch; the old WeChat code is paid later: settles the waiting order through it.
    order = buy_ok("wx.qrcode")
    old = order["pay_id"]
    new = supersede(order, pt="zfb.qrcode")
    assert db_row("SELECT provider FROM pay_slips WHERE id = '%s'" % new) == ["zfb"]
    st, reply = post_wx(wx_xml(wx_fields(old, 2500)))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    o = check(order["id"])[1]["data"]
    assert o["or_st"] == "OK" and o["pay_id"] == old and o["pay_tp"] == "wx.qrcode", o
    st, reply = post_zfb_params(zfb_form(new, "25.00"))
    assert reply == "success"
    assert slip(new)[2] == "t"
    assert not audit_violations(order["id"], old, new)


def test_refunded_order_takes_a_late_payment_as_refund_needed_and_stays_refunded():
    order = buy_ok("zfb.qrcode")
    first = order["pay_id"]
    second = supersede(order)
    sim_pay(second)
    assert slip(second)[0] == "OK"
    res = cli("refund", order["id"], "--reason", "probe full refund", "--key", "probe-" + order["id"], "--json")
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"], res.stdout
    # The superseded first code is paid after the refund: kept, flagged, order still RF.
    paid = sim_pay(first, force="1")
    assert [r["body"] for r in paid["replies"]] == ["success"], paid
    assert slip(first)[0] == "OK" and slip(first)[2] == "t", slip(first)
    assert db_row("SELECT or_st, pay_id FROM orders WHERE id = '%s'" % order["id"]) == ["RF", second]
    # The refunded payment's own notification again (a TRADE_SUCCESS resent): never back to OK.
    st, reply = post_zfb_params(zfb_form(second, "25.00", trade_no=slip(second)[1]))
    assert reply == "success"
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"]
    out = cli("reconcile", "--min-age", "3600").stdout
    assert any(line.startswith("REFUND") and first in line for line in out.splitlines()), out
    assert not audit_violations(order["id"], first, second)


def test_expired_order_with_a_superseded_slip_paid_late():
    pid = product(1)
    order = buy_ok(products=[{"id": pid, "amount": 1}])
    old = order["pay_id"]
    new = supersede(order)
    expire_now(order)
    assert stock(pid) == 1
    st, reply = post_wx(wx_xml(wx_fields(old, 100)))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    row = db_row("SELECT or_st, pay_id, stock_held FROM orders WHERE id = '%s'" % order["id"])
    assert row == ["OK", old, "t"], row
    assert stock(pid) == 0
    # Then the expired new slip is paid too: flagged, stock untouched.
    st, reply = post_wx(wx_xml(wx_fields(new, 100)))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    assert slip(new)[2] == "t" and stock(pid) == 0
    assert not audit_violations(order["id"], old, new, pid)


def test_zfb_paid_after_expire_settles_late():
    pid = product(2)
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    expire_now(order)
    assert stock(pid) == 2
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "1.00"))
    assert reply == "success"
    assert db_row("SELECT or_st, stock_held FROM orders WHERE id = '%s'" % order["id"]) == ["OK", "t"]
    assert stock(pid) == 1
    assert not audit_violations(order["id"], order["pay_id"], pid)


def test_zfb_trade_closed_then_success_reordered_is_not_lost():
    order = buy_ok("zfb.qrcode")
    trade_no = "2026120122001" + secrets.token_hex(6)
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "25.00", trade_status="TRADE_CLOSED", trade_no=trade_no))
    assert reply == "success"
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "25.00", trade_no=trade_no))
    assert reply == "success"
    assert slip(order["pay_id"])[0] == "OK"


def test_zfb_trade_closed_after_payment_changes_nothing():
    order = buy_ok("zfb.qrcode")
    trade_no = "2026120122001" + secrets.token_hex(6)
    assert post_zfb_params(zfb_form(order["pay_id"], "25.00", trade_no=trade_no))[1] == "success"
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "25.00", trade_status="TRADE_CLOSED", trade_no=trade_no))
    assert reply == "success"
    assert slip(order["pay_id"])[0] == "OK" and slip(order["pay_id"])[3] == "OK"


def test_virtual_goods_paid_after_expiry_go_to_done():
    order = buy_ok("wx.qrcode", tp="Q")
    expire_now(order)
    st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], 2500)))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    assert db_row("SELECT or_st, dn_at IS NOT NULL FROM orders WHERE id = '%s'" % order["id"]) == ["DN", "t"]


# ---------------------------------------------------------------------------------------------
# one merchant's signature, another merchant's slip


@pytest.fixture(scope="module")
def other_shop(tmp_path_factory):
    """Site probe-b (same account store) selling through its own WeChat v2 merchant wx-probe-b."""
    site = "probe-b"
    key = "probeBkeyprobeBkeyprobeBkey12345"  # fixed: a rerun on the same stack finds the merchant
    kf = tmp_path_factory.mktemp("k") / "wxb.key"
    kf.write_text(key)
    ensure_site(site, "--store", "demo-users")
    res = cli("merchant", "add", "wx-probe-b", "--provider", "wx", "--app-id", "wxprobeb000000001", "--mch-id",
              "1900000199", "--key-file", str(kf), check=False)
    assert res.returncode == 0 or "exist" in (res.stdout + res.stderr), res.stdout + res.stderr
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "paysim"), "merchant", "add", "--provider", "wx",
                    "--app-id", "wxprobeb000000001", "--mch-id", "1900000199", "--key-file", str(kf)],
                   env=env, capture_output=True)
    cli("seller", "set", "--site", site, "--prefix", "wx", "--merchant", "wx-probe-b")
    cli("product", "add", "tea-b", "--site", site, "--title", "tea b", "--price", "3.00", check=False)
    return {"site": site, "key": key, "app_id": "wxprobeb000000001", "mch_id": "1900000199"}


def buy_b(shop):
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=shop["site"],
                           json={"products": [{"id": "tea-b", "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    return body["data"]


def post_wx_site(xml, site):
    st, _, raw, _ = api("POST", "re_wx", raw_body=xml, headers={"Content-Type": "text/xml"}, site=site)
    return st, raw.decode()


def test_merchant_a_cannot_vouch_for_merchant_b_slip(other_shop):
    order = buy_b(other_shop)
    # Signed by the demo merchant (A), with A's ids, naming B's slip: on B's endpoint and on A's.
    xml = wx_xml(wx_fields(order["pay_id"], 300))
    for site in (other_shop["site"], STACK["DEMO_SITE"]):
        st, reply = post_wx_site(xml, site)
        assert st == 200 and reply.startswith(WX_FAIL_PREFIX), (site, reply)
    # A's key with B's ids.
    xml = wx_xml(wx_fields(order["pay_id"], 300, appid=other_shop["app_id"], mch_id=other_shop["mch_id"]))
    st, reply = post_wx_site(xml, other_shop["site"])
    assert reply.startswith(WX_FAIL_PREFIX), reply
    assert slip(order["pay_id"])[0] == "WAIT"
    # B's own notification settles it.
    xml = wx_xml(wx_fields(order["pay_id"], 300, appid=other_shop["app_id"], mch_id=other_shop["mch_id"]),
                 key=other_shop["key"])
    st, reply = post_wx_site(xml, other_shop["site"])
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    assert slip(order["pay_id"])[0] == "OK"


def test_merchant_b_cannot_settle_merchant_a_slip(other_shop):
    order = buy_ok("wx.qrcode")  # demo site, merchant A
    xml = wx_xml(wx_fields(order["pay_id"], 2500, appid=other_shop["app_id"], mch_id=other_shop["mch_id"]),
                 key=other_shop["key"])
    for site in (STACK["DEMO_SITE"], other_shop["site"]):
        st, reply = post_wx_site(xml, site)
        assert reply.startswith(WX_FAIL_PREFIX), (site, reply)
    # B's key over A's ids: still not A's signature.
    xml = wx_xml(wx_fields(order["pay_id"], 2500), key=other_shop["key"])
    st, reply = post_wx_site(xml, STACK["DEMO_SITE"])
    assert reply.startswith(WX_FAIL_PREFIX), reply
    assert slip(order["pay_id"])[0] == "WAIT"


def test_a_broken_refund_notice_of_another_merchant_reports_that_merchants_reason(other_shop):
    """A v2 refund notice names its merchant (appid, mch_id) in the clear and its slip only inside
    req_info. Sent to the demo site's endpoint with merchant B's ids and a req_info that opens
    with no key: the seller (A) and every other merchant are strangers to it, and the inbox must
    say what B, the merchant it is addressed to, found wrong, not A's mch_id mismatch."""
    req_info = base64.b64encode(secrets.token_bytes(64)).decode()
    xml = ("<xml><return_code>SUCCESS</return_code><appid><![CDATA[%s]]></appid><mch_id><![CDATA[%s]]></mch_id>"
           "<nonce_str><![CDATA[%s]]></nonce_str><req_info><![CDATA[%s]]></req_info></xml>"
           % (other_shop["app_id"], other_shop["mch_id"], secrets.token_hex(8), req_info))
    st, reply = post_wx_site(xml, STACK["DEMO_SITE"])
    assert reply.startswith(WX_FAIL_PREFIX), reply
    verdict, reason = db_row("SELECT verdict, reason FROM notifications WHERE provider = 'wx'"
                             " AND position('%s'::bytea IN body) > 0 ORDER BY id DESC LIMIT 1" % req_info[:40])
    assert verdict == "rejected", (verdict, reason)
    assert "req_info" in reason and "not merchant" not in reason, reason


def test_seller_change_keeps_the_slip_merchant(other_shop):
    order = buy_b(other_shop)
    cli("seller", "set", "--site", other_shop["site"], "--prefix", "wx", "--merchant", STACK["DEMO_MERCHANT"])
    try:
        # The site's new seller (A) signs for the old slip of B: refused.
        xml = wx_xml(wx_fields(order["pay_id"], 300))
        st, reply = post_wx_site(xml, other_shop["site"])
        assert reply.startswith(WX_FAIL_PREFIX), reply
        # B, whose slip it is, still settles it.
        xml = wx_xml(wx_fields(order["pay_id"], 300, appid=other_shop["app_id"], mch_id=other_shop["mch_id"]),
                     key=other_shop["key"])
        st, reply = post_wx_site(xml, other_shop["site"])
        assert reply.startswith(WX_SUCCESS_PREFIX), reply
    finally:
        cli("seller", "set", "--site", other_shop["site"], "--prefix", "wx", "--merchant", "wx-probe-b")


# ---------------------------------------------------------------------------------------------
# the order's other slip once a superseded one has paid it


@pytest.mark.parametrize("pay_tp", ["wx.qrcode", "zfb.qrcode"])
def test_once_a_superseded_slip_pays_the_order_the_live_slip_is_closed(pay_tp):
    """The buyer paid the old code after pay/pay issued a new one (a late payment the provider
    still delivered). The order is paid through the old slip; the new slip can take no money
    for this order any more: it must be closed at its provider (or the buyer can pay twice) and
    stop being a waiting slip that reconcile asks about and lists as UNKNOWN forever.
    (test_provider_binding's reconcile test says "The new slip, never paid, is confirmed closed
    once its provider says so", but asserts nothing.)"""
    from conftest import sim
    order = buy_ok(pay_tp)
    old = order["pay_id"]
    new = supersede(order)
    result = sim_pay(old, force="1")
    assert slip(old)[0] == "OK" and slip(old)[4] == old, (result, slip(old))
    # The timers run: expire (nothing: the order is paid) and reconcile.
    cli("expire")
    cli("reconcile", "--min-age", "0")
    trade = json.loads(sim("/sim/trade?out_trade_no=" + new, method="GET")[2])["data"]
    state = trade.get("state") or trade.get("trade_status")
    assert slip(new)[0] != "WAIT", (slip(new), state)
    assert state not in ("NOTPAY", "WAIT_BUYER_PAY", None), trade


def test_one_transaction_id_on_several_slips_at_once_pays_only_one():
    orders = [buy_ok("wx.qrcode") for _ in range(4)]
    txn = "4200007777" + secrets.token_hex(6)
    xmls = [wx_xml(wx_fields(o["pay_id"], 2500, transaction_id=txn)) for o in orders]
    results = parallel(4, lambda i: post_wx(xmls[i]))
    assert all(st == 200 for st, _ in results), results
    ok = [o for o in orders if slip(o["pay_id"])[0] == "OK"]
    assert len(ok) == 1, [slip(o["pay_id"]) for o in orders]
    replies = sorted(r.startswith(WX_SUCCESS_PREFIX) for _, r in results)
    assert replies == [False, False, False, True], results


def test_two_late_payments_of_one_expired_order_at_once_take_stock_once():
    pid = product(2)
    order = buy_ok(products=[{"id": pid, "amount": 1}])
    old = order["pay_id"]
    new = supersede(order)
    expire_now(order)
    assert stock(pid) == 2
    xmls = {old: wx_xml(wx_fields(old, 100)), new: wx_xml(wx_fields(new, 100))}
    results = parallel(6, lambda i: post_wx(xmls[old if i % 2 else new]))
    assert all(st == 200 and r.startswith(WX_SUCCESS_PREFIX) for st, r in results), results
    a, b = slip(old), slip(new)
    assert a[3] == "OK" and a[0] == b[0] == "OK" and sorted([a[2], b[2]]) == ["f", "t"], (a, b)
    assert stock(pid) == 1
    assert not audit_violations(order["id"], old, new, pid)


@pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="no v3 site")
def test_wx3_paid_after_expire_settles_late_and_parallel_copies_count_once():
    pid = product(2, site=V3)
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=V3,
                           json={"products": [{"id": pid, "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    order = body["data"]
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["FA"]
    assert stock(pid, V3) == 2
    headers, nbody = v3_build(order["pay_id"], "100")
    results = parallel(6, lambda i: api("POST", "re_wx", raw_body=nbody.encode(), headers=headers, site=V3)[0])
    assert results == [204] * 6, results
    assert db_row("SELECT or_st, stock_held FROM orders WHERE id = '%s'" % order["id"]) == ["OK", "t"]
    assert stock(pid, V3) == 1
    assert sorted(v for v, _ in inbox(order["pay_id"])) == ["duplicate"] * 5 + ["settled"]
    assert not audit_violations(order["id"], order["pay_id"], pid)


# ---------------------------------------------------------------------------------------------
# PayPal webhooks built and signed here (with the key paysim signs with, under its certificate)


def _conf(name):
    with open(STACK["ORDERPAY_CONFIG"]) as f:
        for line in f:
            k, sep, v = line.partition("=")
            if sep and k.strip() == name:
                return v.strip()
    return None


def paypal_webhook(custom_id, value, currency="USD", event_type="PAYMENT.CAPTURE.COMPLETED", status="COMPLETED",
                   capture_id=None, webhook_id=None, event_id=None):
    import zlib
    key_file, cert_base = _conf("paysim.paypal_sign_key_file"), _conf("paysim.paypal_cert_base")
    if not key_file or not cert_base:
        pytest.skip("no paysim PayPal signing key in the config")
    resource = {"id": capture_id or "CAP" + secrets.token_hex(8).upper(), "status": status,
                "amount": {"currency_code": currency, "value": value}, "final_capture": True,
                "custom_id": custom_id, "invoice_id": custom_id}
    body = json.dumps({"id": event_id or "WH-" + secrets.token_hex(10).upper(), "event_version": "1.0",
                       "create_time": "2026-12-01T12:00:00Z", "resource_type": "capture",
                       "resource_version": "2.0", "event_type": event_type, "summary": "probe",
                       "resource": resource, "links": []}, separators=(",", ":"))
    tid = secrets.token_hex(4) + "-" + secrets.token_hex(2) + "-" + secrets.token_hex(6)
    tm = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = "%s|%s|%s|%d" % (tid, tm, webhook_id or STACK["DEMO_PAYPAL_WEBHOOK_ID"], zlib.crc32(body.encode()))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_file], input=text.encode(),
                         capture_output=True, check=True).stdout
    headers = {"Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": tid, "PAYPAL-TRANSMISSION-TIME": tm,
               "PAYPAL-TRANSMISSION-SIG": base64.b64encode(sig).decode(),
               "PAYPAL-CERT-URL": cert_base + "CERT-paysim", "PAYPAL-AUTH-ALGO": "SHA256withRSA"}
    return headers, body


def post_paypal(headers, body, site=None):
    st, _, raw, _ = api("POST", "re_paypal", raw_body=body.encode(), headers=headers,
                        site=site or STACK.get("DEMO_USD_SITE", "demo-usd"))
    return st


def buy_pp():
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=STACK.get("DEMO_USD_SITE", "demo-usd"),
                           json={"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 2}], "pay_tp": "paypal"})
    assert st == 200, raw
    return body["data"]


def captured_pp():
    """A PayPal order the buyer paid at paysim (approved and captured), whose webhook was never
    sent: what a webhook built here claims, PayPal's own order then bears out."""
    order = buy_pp()
    sim_pay(order["pay_id"], times="0")
    assert slip(order["pay_id"])[0] == "WAIT"
    return order


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_webhook_builder_settles():
    order = captured_pp()
    amount = "%.2f" % order["fee"]
    headers, body = paypal_webhook(order["pay_id"], amount)
    assert post_paypal(headers, body) == 200
    assert slip(order["pay_id"])[0] == "OK"
    # The same capture in another event: a duplicate, never a second payment.
    headers, body = paypal_webhook(order["pay_id"], amount, capture_id=slip(order["pay_id"])[1])
    assert post_paypal(headers, body) == 200
    assert sorted(v for v, _ in inbox(order["pay_id"])) == ["duplicate", "settled"]


def crc32_twin(body, filler_at, n=64):
    """`body` with the n characters from `filler_at` (all 'a') turned to 'a' or 'c' so that its
    CRC32 is `target`: CRC32 is affine over GF(2), so 32 independent one-bit changes reach any
    value. This is all an attacker needs to reuse a PayPal transmission's signature, which
    covers only the body's CRC32 (PROTOCOLS.md §3.3)."""
    import zlib

    def solve(target):
        base = bytearray(body)
        c0 = zlib.crc32(bytes(base))
        rows = []  # (crc delta, set of positions) in echelon form, keyed by top bit
        for i in range(filler_at, filler_at + n):
            base[i] = ord("c")
            d = zlib.crc32(bytes(base)) ^ c0
            base[i] = ord("a")
            rows.append((d, 1 << (i - filler_at)))
        basis = {}
        for d, m in rows:
            for bit in range(31, -1, -1):
                if not d >> bit & 1:
                    continue
                if bit in basis:
                    d, m = d ^ basis[bit][0], m ^ basis[bit][1]
                else:
                    basis[bit] = (d, m)
                    break
        want, mask = target ^ c0, 0
        for bit in range(31, -1, -1):
            if want >> bit & 1:
                assert bit in basis, "filler too short to reach the CRC"
                want, mask = want ^ basis[bit][0], mask ^ basis[bit][1]
        out = bytearray(body)
        for j in range(n):
            if mask >> j & 1:
                out[filler_at + j] = ord("c")
        return bytes(out)
    return solve


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_signed_webhook_for_an_order_paypal_never_captured_settles_nothing():
    """PayPal's word in a webhook is only a cue (review s21 H-1): a COMPLETED capture for an
    order PayPal never captured is refused with 400 (so a genuine one that ran ahead of the
    order is sent again), whatever its signature, and the slip stays WAIT."""
    order = buy_pp()
    headers, body = paypal_webhook(order["pay_id"], "%.2f" % order["fee"])
    assert post_paypal(headers, body) == 400
    assert slip(order["pay_id"])[0] == "WAIT"
    rows = verdicts(order["pay_id"])
    assert rows[-1][0] == "rejected" and "provider's order says" in rows[-1][1], rows
    # Paid at PayPal afterwards, the same message is sent again: now PayPal bears it out.
    sim_pay(order["pay_id"], times="0")
    assert post_paypal(headers, body) == 200
    assert slip(order["pay_id"])[0] == "OK"
    assert verdicts(order["pay_id"])[-1][0] == "settled"


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_transmission_reused_with_a_crc32_twin_body_settles_nothing():
    """One genuine transmission (headers and body, as a database dump, a backup or a logging
    proxy holds them) and a body of the attacker's own with the same CRC32: the signature
    verifies, and before settling on PayPal's own answer this made any unpaid PayPal slip of the
    merchant OK, as often as wanted."""
    import zlib
    paid = captured_pp()
    headers, genuine = paypal_webhook(paid["pay_id"], "%.2f" % paid["fee"])
    assert post_paypal(headers, genuine) == 200 and slip(paid["pay_id"])[0] == "OK"
    victim = buy_pp()
    forged = json.dumps({"id": "WH-" + secrets.token_hex(10).upper(), "event_type": "PAYMENT.CAPTURE.COMPLETED",
                         "resource": {"id": "CAPFORGED" + secrets.token_hex(4).upper(), "status": "COMPLETED",
                                      "amount": {"currency_code": "USD", "value": "%.2f" % victim["fee"]},
                                      "custom_id": victim["pay_id"]},
                         "summary": "a" * 64}, separators=(",", ":")).encode()
    twin = crc32_twin(forged, forged.index(b'"summary":"') + len(b'"summary":"'))(zlib.crc32(genuine.encode()))
    assert zlib.crc32(twin) == zlib.crc32(genuine.encode()) and twin != genuine.encode()
    for _ in range(2):
        assert post_paypal(headers, twin.decode()) == 400
    assert slip(victim["pay_id"])[0] == "WAIT"
    rows = verdicts(victim["pay_id"])
    assert len(rows) == 2, rows
    for verdict, reason in rows:
        # The signature did verify: only PayPal's own order stopped it.
        assert verdict == "rejected" and "provider's order says" in reason, rows


def forged_twin(genuine, forged):
    """`forged` (a dict) as a body with the CRC32 of the genuine transmission's body `genuine`,
    so that transmission's headers verify it."""
    import zlib
    text = json.dumps(dict(forged, summary="a" * 64), separators=(",", ":")).encode()
    twin = crc32_twin(text, text.index(b'"summary":"') + len(b'"summary":"'))(zlib.crc32(genuine.encode()))
    assert zlib.crc32(twin) == zlib.crc32(genuine.encode()) and twin != genuine.encode()
    return twin.decode()


def refund_event(refund_id, provider_refund_id, capture, value, status, slip_id=None):
    resource = {"id": provider_refund_id, "status": status, "amount": {"currency_code": "USD", "value": value},
                "links": [{"rel": "up", "method": "GET",
                           "href": "https://api-m.paypal.com/v2/payments/captures/" + capture}]}
    if refund_id is not None:
        resource["invoice_id"] = refund_id
    if slip_id:
        resource["custom_id"] = slip_id
    return {"id": "WH-" + secrets.token_hex(10).upper(), "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "resource_type": "refund", "resource": resource}


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_refund_webhook_twins_neither_finish_a_refund_nor_invent_one():
    """Review s21-diff F1: a CRC32 twin of one genuine transmission, as a PAYMENT.CAPTURE.REFUNDED
    event, once failed a PROCESSING refund (FAILED with amount 0.00 skipped the amount check),
    freeing its amount for a second refund while PayPal could still complete the first; recorded
    OK a refund PayPal had not made; and put any paid order on reconcile's OUTSIDE list. A refund
    event is now recorded only on PayPal's own record of that refund."""
    order = buy_pp()
    sim_pay(order["pay_id"])
    assert slip(order["pay_id"])[0] == "OK"
    capture = slip(order["pay_id"])[1]
    res = cli("refund", order["id"], "--amount", "1.00", "--reason", "sim:pending", "--key",
              "twin-" + order["id"], "--json")
    rid = json.loads(res.stdout.splitlines()[0])["id"]
    st, pp_rid = db_row("SELECT st, coalesce(provider_refund_id, '') FROM refunds WHERE id = '%s'" % rid)
    assert st == "PROCESSING" and pp_rid, (st, pp_rid, res.stdout)
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")  # any genuine transmission
    assert post_paypal(headers, genuine) == 200
    forgeries = [
        refund_event(rid, pp_rid, capture, "0.00", "FAILED"),      # skipped the amount check
        refund_event(rid, pp_rid, capture, "1.00", "CANCELLED"),
        refund_event(rid, pp_rid, capture, "1.00", "COMPLETED"),   # PayPal has not completed it
        refund_event(rid, "RFNOSUCH" + secrets.token_hex(4).upper(), capture, "1.00", "COMPLETED"),
    ]
    for forged in forgeries:
        assert post_paypal(headers, forged_twin(genuine, forged)) == 400, forged
        assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == ["PROCESSING"], forged
    rows = [r for r in verdicts(order["pay_id"]) if r[0] != "settled"]
    assert len(rows) == 4 and all(v == "rejected" for v, _ in rows), rows
    # The signature verified each time: only PayPal's own record of the refund stopped them (asked
    # by the refund id PayPal gave us; a message naming another id is asked about that id).
    assert all("provider's refund says" in why and "PENDING" in why for _, why in rows[:3]), rows
    assert "not borne out: PayPal knows no refund RFNOSUCH" in rows[3][1], rows
    # A refund "made outside orderpay" that PayPal never made is not listed for the operator.
    outside = refund_event("dash-" + secrets.token_hex(4), "RFOUT" + secrets.token_hex(5).upper(), capture,
                           "2.00", "COMPLETED", slip_id=order["pay_id"])
    assert post_paypal(headers, forged_twin(genuine, outside)) == 400
    rows = verdicts(order["pay_id"])
    assert rows[-1][0] == "rejected" and "not borne out: PayPal knows no refund" in rows[-1][1], rows
    assert not [r for r in rows if r[1].startswith("no refund of ours")]
    assert order["pay_id"] not in cli("reconcile", check=False).stdout
    # PayPal really finishes the refund and says so: recorded on its word, once.
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "status": "FAILED"})
    assert status == 200 and [x["status"] for x in sent["data"]["replies"]] == [200], raw
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == ["FAIL"]
    # ...and a twin saying COMPLETED afterwards does not turn it round.
    forged = refund_event(rid, pp_rid, capture, "1.00", "COMPLETED")
    assert post_paypal(headers, forged_twin(genuine, forged)) == 200
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == ["FAIL"]


def signed_paypal(event):
    """`event` (a dict) as a webhook body PayPal signed (with paysim's key, as
    paypal_webhook signs): a genuine transmission."""
    import zlib
    body = json.dumps(event, separators=(",", ":"))
    headers, _ = paypal_webhook("x", "1")
    text = "%s|%s|%s|%d" % (headers["PAYPAL-TRANSMISSION-ID"], headers["PAYPAL-TRANSMISSION-TIME"],
                            STACK["DEMO_PAYPAL_WEBHOOK_ID"], zlib.crc32(body.encode()))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", _conf("paysim.paypal_sign_key_file")],
                         input=text.encode(), capture_output=True, check=True).stdout
    headers["PAYPAL-TRANSMISSION-SIG"] = base64.b64encode(sig).decode()
    return headers, body


def paid_pp_with_refund(reason, amount="1.00", st="PROCESSING"):
    """A PayPal order paid and settled, and a refund of it through the CLI: (order, refund id,
    capture id, PayPal's refund id or '')."""
    order = buy_pp()
    sim_pay(order["pay_id"])
    assert slip(order["pay_id"])[0] == "OK"
    res = cli("refund", order["id"], "--amount", amount, "--reason", reason, "--key", "t-" + order["id"], "--json")
    rid = json.loads(res.stdout.splitlines()[0])["id"]
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == [st], res.stdout
    return order, rid, slip(order["pay_id"])[1], psql("SELECT id FROM paysim.pp_refunds WHERE invoice_id = '%s'" % rid)


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_refund_twin_without_our_invoice_finishes_our_refund_not_an_outside_one():
    """Review s22 M1: our refund's answer was lost, so its row has no PayPal id yet. A twin naming
    PayPal's real refund id without our invoice_id found no refund of ours, and PayPal confirmed
    the refund was of the slip's capture: it was listed for the operator as a refund orderpay did
    not make, quoting the attacker's text. PayPal's own record names our refund: it finishes it."""
    order, rid, capture, pp_rid = paid_pp_with_refund("sim:unknown")
    assert pp_rid and psql("SELECT coalesce(provider_refund_id, '-') FROM refunds WHERE id = '%s'" % rid) == "-"
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    assert post_paypal(headers, genuine) == 200
    forged = refund_event(None, pp_rid, capture, "1.00", "COMPLETED", slip_id=order["pay_id"])
    forged["resource"]["note_to_payer"] = "console refund, already handled"
    assert post_paypal(headers, forged_twin(genuine, forged)) == 200
    assert db_row("SELECT st, provider_refund_id FROM refunds WHERE id = '%s'" % rid) == ["OK", pp_rid]
    rows = verdicts(order["pay_id"])
    assert rows[-1][0] == "settled" and rid in rows[-1][1], rows
    assert not [r for r in rows if r[1].startswith("no refund of ours")], rows
    listed = cli("reconcile", check=False).stdout.splitlines()
    assert not [line for line in listed if line.startswith("OUTSIDE") and order["pay_id"] in line], listed


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_second_refund_under_our_refund_id_is_not_a_mere_duplicate():
    """Review s22-b #5: our refund is OK as PayPal's refund Y. PayPal reports another refund X
    carrying our refund id as its invoice (a second refund of the same money). A finished refund
    told about again is answered without asking PayPal, which hid this: it is now confirmed by
    X's own record and kept as a conflict for the operator. A forged X is refused."""
    from test_paypal_refund import paypal_token, pp_refund
    order, rid, capture, pp_rid = paid_pp_with_refund("plain", st="OK")
    status, second, raw, _ = pp_refund(capture, {"amount": {"value": "1.00", "currency_code": "USD"},
                                                 "invoice_id": rid}, "again-" + rid, paypal_token())
    assert status == 201 and second["id"] != pp_rid, raw
    headers, body = signed_paypal(refund_event(rid, second["id"], capture, "1.00", "COMPLETED"))
    assert post_paypal(headers, body) == 200
    verdict, why = verdicts(order["pay_id"])[-1]
    assert verdict == "ignored" and why.startswith("conflict: refund " + rid) and pp_rid in why, (verdict, why)
    # Our books keep the one refund, as recorded.
    assert db_row("SELECT st, provider_refund_id FROM refunds WHERE id = '%s'" % rid) == ["OK", pp_rid]
    # The same about a refund PayPal does not have: refused.
    headers, body = signed_paypal(refund_event(rid, "RFNONE" + secrets.token_hex(5).upper(), capture, "1.00",
                                               "COMPLETED"))
    assert post_paypal(headers, body) == 400


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_forged_copy_under_an_event_id_does_not_turn_the_genuine_resend_into_a_duplicate():
    """Review s22 M2: PayPal's genuine REFUNDED event ran ahead of PayPal's own record of the
    refund and was refused (400) for PayPal to send again. A twin under the same event id, saying
    the refund was still pending, was acknowledged; the event id counted as handled, so PayPal's
    resend was a mere "duplicate" and the refund stayed PROCESSING."""
    order, rid, capture, pp_rid = paid_pp_with_refund("sim:pending")
    event = refund_event(rid, pp_rid, capture, "1.00", "COMPLETED")
    headers, body = signed_paypal(event)
    assert post_paypal(headers, body) == 400  # PayPal still says PENDING
    forged = dict(event, resource=dict(event["resource"], status="PENDING"))
    assert post_paypal(headers, forged_twin(body, forged)) == 200
    psql("UPDATE paysim.pp_refunds SET status = 'COMPLETED' WHERE id = '%s'" % pp_rid)
    assert post_paypal(headers, body) == 200  # PayPal's resend
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == ["OK"]
    assert verdicts(order["pay_id"])[-1][0] == "settled"


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_denied_twin_for_a_captured_order_settles_it_on_paypals_word():
    """A twin saying DENIED about an order PayPal has captured: PayPal's own order says paid, so
    the slip settles on that answer, never fails."""
    order = captured_pp()
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    assert post_paypal(headers, genuine) == 200
    forged = {"id": "WH-" + secrets.token_hex(10).upper(), "event_type": "PAYMENT.CAPTURE.DENIED",
              "resource": {"id": "CAPDENY" + secrets.token_hex(4).upper(), "status": "DECLINED",
                           "amount": {"currency_code": "USD", "value": "%.2f" % order["fee"]},
                           "custom_id": order["pay_id"]}}
    assert post_paypal(headers, forged_twin(genuine, forged)) == 200
    assert slip(order["pay_id"])[0] == "OK"
    verdict, why = verdicts(order["pay_id"])[-1]
    assert verdict == "settled" and "but paid by query" in why, (verdict, why)


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_notify_verify_of_a_paypal_capture_does_not_promise_a_settlement(tmp_path):
    """Review s21-diff F4: `notify verify` said "would settle" of a PayPal capture webhook whose
    every check passes, though the live path settles only on PayPal's own order, which an offline
    check does not ask for (and which, here, never captured anything)."""
    order = buy_pp()
    headers, body = paypal_webhook(order["pay_id"], "%.2f" % order["fee"])
    (tmp_path / "body").write_text(body)
    (tmp_path / "headers").write_text("".join("%s: %s\n" % kv for kv in headers.items()))
    args = ["notify", "verify", "--provider", "paypal", "--headers", str(tmp_path / "headers"),
            "--body", str(tmp_path / "body")]
    out = json.loads(cli(*args, "--json").stdout)
    assert out["signature_ok"] and out["business_ok"], out
    assert out["would_settle"] is False and out["settles_only_on_provider_query"] is True, out
    text = cli(*args).stdout
    assert "verdict: would ask paypal for its own record" in text and "would settle" not in text, text
    assert post_paypal(headers, body) == 400 and slip(order["pay_id"])[0] == "WAIT"


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_capture_reversed_or_refunded_before_we_settled_is_acknowledged_and_fails_the_slip(
        reversed_or_refunded):
    """Review s21-diff F5/F6: PayPal's order shows the capture REVERSED (a chargeback the buyer
    won), or REFUNDED whole (in PayPal's console), before the slip was settled. REVERSED read as
    unknown: every copy of the capture webhook was answered 500, for PayPal to resend for three
    days, and pay/check asked again on every poll. REFUNDED read as paid: the order was settled and
    would ship on money already given back. Either way the money went back: the webhook is
    acknowledged (nothing a resend could change), and the slip fails."""
    order = captured_pp()
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % order["pay_id"])
    reversed_or_refunded(order, capture)
    headers, body = paypal_webhook(order["pay_id"], "%.2f" % order["fee"], capture_id=capture)
    assert post_paypal(headers, body) == 200
    verdict, why = verdicts(order["pay_id"])[-1]
    assert verdict == "ignored" and "provider's order says" in why and "(slip failed)" in why, (verdict, why)
    assert slip(order["pay_id"])[0] == "FAIL"
    st, data, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]},
                           site=STACK.get("DEMO_USD_SITE", "demo-usd"))
    assert st == 200 and data["data"]["or_st"] != "OK", raw
    # PayPal's resend: the same answer, nothing settles.
    assert post_paypal(headers, body) == 200 and slip(order["pay_id"])[0] == "FAIL"


def _reverse(order, capture):
    psql("UPDATE paysim.pp_orders SET capture_status = 'REVERSED' WHERE custom_id = '%s'" % order["pay_id"])


def _refund_at_paypal(order, capture):
    from test_paypal_refund import paypal_token, pp_refund
    status, _, raw, _ = pp_refund(capture, {}, "console-" + order["pay_id"], paypal_token())
    assert status == 201, raw


@pytest.fixture(params=["reversed", "refunded"])
def reversed_or_refunded(request):
    return {"reversed": _reverse, "refunded": _refund_at_paypal}[request.param]


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_settlement_on_our_query_and_its_verdict_commit_together():
    """Review s21-diff F3: a capture webhook settled on our own query wrote its verdict in a
    second transaction; a failure between the two left the slip OK and the row undecided, and
    the resend was recorded as a mere duplicate: no inbox row said what settled the slip. Now a
    failure writing the verdict undoes the settlement too, and the resend settles it."""
    order = captured_pp()
    sid = order["pay_id"]
    headers, body = paypal_webhook(sid, "%.2f" % order["fee"])
    with failing_update("notifications", sid, "NEW.slip_id = '%s' AND NEW.verdict = 'settled'" % sid):
        assert post_paypal(headers, body) == 500
        assert slip(sid)[0] == "WAIT"
    assert post_paypal(headers, body) == 200
    assert slip(sid)[0] == "OK"
    # (The error's reason runs over several lines: PostgreSQL's context of the fault.)
    assert psql("SELECT verdict FROM notifications WHERE position('%s'::bytea in body) > 0 ORDER BY id"
                % sid).split() == ["error", "settled"]
    why = verdicts(sid)[-1][1]
    assert why.startswith("confirmed by query") and "): settled: " in why, why
    # The row the fault left "error" is decided by `inbox replay` as what it now is: a duplicate.
    cli("inbox", "replay", "--verdict", "error", "--older-than", "0s", check=False)
    assert psql("SELECT verdict FROM notifications WHERE position('%s'::bytea in body) > 0 ORDER BY id"
                % sid).split() == ["duplicate", "settled"]


def test_paypal_settlement_on_our_query_losing_a_transaction_id_race_says_so_and_on_what():
    """Review s22 L6: two slips settling with one transaction id at the same moment end in the
    unique index's violation (23505) for one of them; in a settlement on our own query that verdict
    lost the query's context. Here the violation is injected on the slip's settling UPDATE."""
    order = captured_pp()
    sid = order["pay_id"]
    headers, body = paypal_webhook(sid, "%.2f" % order["fee"])
    with failing_update("pay_slips", sid, "NEW.id = '%s' AND NEW.st = 'OK'" % sid, errcode="23505"):
        assert post_paypal(headers, body) == 400
    assert slip(sid)[0] == "WAIT"
    verdict, why = verdicts(sid)[-1]
    assert verdict == "rejected" and why.startswith("confirmed by query"), why
    assert "): txn_id_reused: transaction " in why, why
    # The race over, PayPal's resend settles it.
    assert post_paypal(headers, body) == 200
    assert slip(sid)[0] == "OK"


def test_paypal_settlement_on_our_query_is_run_again_after_a_deadlock():
    """The settlement and its verdict are one transaction, run again when PostgreSQL aborts it for
    a deadlock (40P01): nothing of the first attempt committed, so the second settles once."""
    order = captured_pp()
    sid = order["pay_id"]
    headers, body = paypal_webhook(sid, "%.2f" % order["fee"])
    with failing_update("pay_slips", sid, "NEW.id = '%s' AND NEW.st = 'OK'" % sid, errcode="40P01", times=1):
        assert post_paypal(headers, body) == 200
    assert slip(sid)[0] == "OK"
    rows = verdicts(sid)
    assert len(rows) == 1 and rows[0][0] == "settled" and rows[0][1].startswith("confirmed by query"), rows


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_denied_twin_does_not_fail_an_open_slip():
    """Review s21-diff F1: a CRC32 twin saying PAYMENT.CAPTURE.DENIED once failed any open PayPal
    slip of the merchant, so the buyer's approval was then refused. The slip fails only when
    PayPal's own order shows the capture declined."""
    victim = buy_pp()
    headers, genuine = paypal_webhook("x" + secrets.token_hex(4), "1.00")
    assert post_paypal(headers, genuine) == 200
    for event_type in ("PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED"):
        forged = {"id": "WH-" + secrets.token_hex(10).upper(), "event_type": event_type,
                  "resource": {"id": "CAPDENY" + secrets.token_hex(4).upper(), "status": "DECLINED",
                               "amount": {"currency_code": "USD", "value": "%.2f" % victim["fee"]},
                               "custom_id": victim["pay_id"]}}
        assert post_paypal(headers, forged_twin(genuine, forged)) == 400
        assert slip(victim["pay_id"])[0] == "WAIT"
    rows = verdicts(victim["pay_id"])
    assert len(rows) == 2 and all(v == "rejected" and "provider's order says" in why for v, why in rows), rows
    # The buyer still pays, and the order settles.
    sim_pay(victim["pay_id"])
    assert slip(victim["pay_id"])[0] == "OK"


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
@pytest.mark.parametrize("value, currency, settles", [
    ("9", "USD", None), ("9.0", "USD", None), ("9.000", "USD", None), ("9e0", "USD", False), ("+9.00", "USD", False),
    ("9.00", "usd", False), ("9.00", "EUR", False), ("900", "JPY", False), ("8.99", "USD", False), ("-9.00", "USD", False),
    (" 9.00", "USD", False),
])
def test_paypal_capture_amount_written_oddly(value, currency, settles):
    order = captured_pp()
    assert order["fee"] == 9.0, order
    headers, body = paypal_webhook(order["pay_id"], value, currency)
    st = post_paypal(headers, body)
    row = slip(order["pay_id"])
    if st == 200:
        assert row[0] == "OK" and row[3] == "OK", (st, row)
    else:
        assert st == 400 and row[0] == "WAIT", (st, row)
    if settles is False:
        assert st == 400 and row[0] == "WAIT", (value, currency, st, row)


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_webhook_naming_another_providers_slip_is_refused():
    wx = buy_ok("wx.qrcode")
    zfb = buy_ok("zfb.qrcode")
    for o in (wx, zfb):
        headers, body = paypal_webhook(o["pay_id"], "25.00", "CNY")
        st = post_paypal(headers, body)
        assert st in (200, 400), st
        assert slip(o["pay_id"])[0] == "WAIT", slip(o["pay_id"])
        rows = verdicts(o["pay_id"])
        assert rows and rows[-1][0] in ("rejected", "ignored"), rows
    # ...and on the slip's own site's endpoint too.
    headers, body = paypal_webhook(wx["pay_id"], "25.00", "CNY")
    post_paypal(headers, body, site=STACK["DEMO_SITE"])
    assert slip(wx["pay_id"])[0] == "WAIT"


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_completed_event_with_capture_not_completed_does_not_settle():
    # Captured at PayPal, so only the event's own status word can keep it from settling (an
    # uncaptured order would be refused by the order query whatever the parser made of it).
    order = captured_pp()
    for status in ("PENDING", "DECLINED", "", "completed"):
        headers, body = paypal_webhook(order["pay_id"], "9.00", status=status)
        assert post_paypal(headers, body) == 200
        assert slip(order["pay_id"])[0] in ("WAIT", "FAIL"), (status, slip(order["pay_id"]))
    assert "settled" not in [v for v, _ in verdicts(order["pay_id"])]


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_webhook_for_another_webhook_id_is_refused():
    # Captured at PayPal, so only the signature check can refuse it.
    order = captured_pp()
    headers, body = paypal_webhook(order["pay_id"], "9.00", webhook_id="OTHERAPPWEBHOOK")
    assert post_paypal(headers, body) == 400
    assert slip(order["pay_id"])[0] == "WAIT"
    verdict, reason = verdicts(order["pay_id"])[-1]
    assert verdict == "rejected" and "signature does not verify" in reason, (verdict, reason)


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_paypal_same_event_in_parallel_settles_once():
    order = captured_pp()
    headers, body = paypal_webhook(order["pay_id"], "9.00")
    results = parallel(6, lambda i: post_paypal(headers, body))
    assert results == [200] * 6, results
    assert sorted(v for v, _ in inbox(order["pay_id"])) == ["duplicate"] * 5 + ["settled"]


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
@pytest.mark.parametrize("amount", [None, {"currency_code": "USD", "value": "abc"},
                                    {"currency_code": "usd", "value": "1.00"}, {"value": "1.00"},
                                    {"currency_code": "JPY", "value": "100"}, {"currency_code": "EUR", "value": "1.00"}])
def test_paypal_refund_webhook_without_a_readable_amount_does_not_finish_a_refund(amount):
    """A PAYMENT.CAPTURE.REFUNDED event names our refund (invoice_id) and says COMPLETED, but its
    amount is missing or unreadable, or in another currency: the amount and currency checks must
    not be skipped (README: a refund's notification is refused when its amount is not the refund's;
    a tampered amount leaves the refund PROCESSING)."""
    order = buy_pp()
    sim_pay(order["pay_id"])
    assert slip(order["pay_id"])[0] == "OK"
    capture = slip(order["pay_id"])[1]
    res = cli("refund", order["id"], "--amount", "1.00", "--reason", "sim:pending", "--key", "pp-" + order["id"],
              "--json")
    rid = json.loads(res.stdout.splitlines()[0])["id"]
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == ["PROCESSING"], res.stdout
    resource = {"id": "RF" + secrets.token_hex(6).upper(), "status": "COMPLETED", "invoice_id": rid,
                "custom_id": order["pay_id"],
                "links": [{"rel": "up", "method": "GET",
                           "href": "https://api-m.paypal.com/v2/payments/captures/" + capture}]}
    if amount is not None:
        resource["amount"] = amount
    headers, body = signed_paypal({"id": "WH-" + secrets.token_hex(10).upper(), "event_version": "1.0",
                                   "create_time": "2026-12-01T12:00:00Z", "resource_type": "refund",
                                   "event_type": "PAYMENT.CAPTURE.REFUNDED", "summary": "probe",
                                   "resource": resource})
    st = post_paypal(headers, body)
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == ["PROCESSING"], (st, inbox(order["pay_id"]))


@pytest.mark.parametrize("provider", ["wx", "paypal"])
def test_a_second_verified_payment_of_a_paid_slip_is_not_thrown_away(provider):
    """The provider reports, correctly signed and for the right amount, a second payment (another
    transaction / capture id) of a slip that is already paid. DESIGN §3: "A verified payment is
    never thrown away" - it must at least reach the operator (reconcile lists it: MISMATCH or
    REFUND), not only sit in the inbox as a rejected message that the provider retries for days."""
    if provider == "wx":
        order = buy_ok("wx.qrcode")
        assert post_wx(wx_xml(wx_fields(order["pay_id"], 2500)))[1].startswith(WX_SUCCESS_PREFIX)
        first_txn = slip(order["pay_id"])[1]
        st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], 2500)))  # another transaction_id
    else:
        if "DEMO_USD_SITE" not in STACK:
            pytest.skip("no PayPal site")
        order = captured_pp()
        headers, body = paypal_webhook(order["pay_id"], "9.00")
        assert post_paypal(headers, body) == 200
        first_txn = slip(order["pay_id"])[1]
        headers, body = paypal_webhook(order["pay_id"], "9.00")  # another capture id
        assert post_paypal(headers, body) == 200
        # A PayPal order takes one capture, and PayPal's own order names only the first: the
        # message claims money PayPal never took, so there is no second payment to keep
        # (review s21 H-1). The inbox says which capture it named.
        assert slip(order["pay_id"])[1] == first_txn
        rows = verdicts(order["pay_id"])
        assert [v for v, _ in rows] == ["settled", "duplicate"] and "notified" in rows[-1][1], rows
        return
    assert slip(order["pay_id"])[1] == first_txn
    assert [v for v, _ in verdicts(order["pay_id"])][0] == "settled"
    out = cli("reconcile", "--min-age", "3600").stdout
    assert any(order["pay_id"] in line and line.split()[0] in ("MISMATCH", "REFUND") for line in out.splitlines()), \
        (verdicts(order["pay_id"]), [line for line in out.splitlines() if order["pay_id"] in line])
