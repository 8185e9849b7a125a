"""Field-level hostile notifications for WeChat Pay v3 (POST pay/re_wx, JSON + Wechatpay-* headers,
AES-256-GCM resource) and PayPal (POST pay/re_paypal webhooks, GET pay/re_paypal buyer returns).

Every message is built here, apart from the C++ code (cryptography's RSA and AES-GCM for v3,
openssl with paysim's PayPal signing key for webhooks), properly signed and encrypted unless the
signature or the sealing is the point. Covered: each field of the decrypted v3 resource
(out_trade_no, transaction_id, trade_state, amount.total/payer_total/currency, appid, mchid,
success_time, attach) at and past its limit, empty, NUL, lone-surrogate escapes, raw non-UTF-8
bytes inside the plaintext, wrong JSON types, floats/exponents/negative/2^63 amounts, duplicate
JSON keys (outer body and plaintext), unknown trade_state and event_type, another merchant's
ids, another provider's or another site's slip, a transaction id already on another slip, one
payment under two event ids, the +-5 minute timestamp window, an unknown Wechatpay-Serial,
duplicated headers, the 64 KiB body limit, associated_data/nonce/ciphertext tampering. PayPal
webhooks: event types, resource/event/custom ids at and past limits, odd amounts and
currencies, custom_id/invoice_id naming another slip, PAYPAL-TRANSMISSION-* headers missing,
duplicated or wrong. PayPal returns: token/PayerID at and past the limit, non-UTF-8 bytes,
repeated token, another site's token. And 10 slips notified 5 times each concurrently amid forged
copies, settling exactly once.

Each probe checks the HTTP reply, the slip and order rows, that nothing settled on a forged or
contradictory message, no 500, no PostgreSQL ERROR logged meanwhile, and `orderpay audit`."""

import base64
import json
import os
import secrets
import subprocess
import time
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conftest import STACK, api, http, psql
from helpers import buy_ok, db_row, inbox
from test_hostile_notify import _conf, audit_violations, buy_pp, captured_pp, slip
from test_hostile_provider_values import RND, PgErrors, noise
from test_wx3 import apiv3_key, buy3_ok, platform_key

V3 = STACK.get("DEMO_V3_SITE", "demo-v3")
USD = STACK.get("DEMO_USD_SITE", "demo-usd")

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK or "DEMO_USD_SITE" not in STACK,
                                reason="stack.env has no v3 or PayPal site")


# ---------------------------------------------------------------------------------------------
# WeChat Pay v3 builders. A value given as Raw(b'...') is written into the JSON text as it is.


class Raw:
    def __init__(self, text):
        self.text = text if isinstance(text, bytes) else text.encode()


DROP = object()


def to_json(obj):
    """JSON bytes of obj, with every Raw value spliced in verbatim."""
    raws = {}

    def walk(v):
        if isinstance(v, Raw):
            mark = "@@RAW%d@@" % len(raws)
            raws['"%s"' % mark] = v.text
            return mark
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items() if x is not DROP}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    text = json.dumps(walk(obj), ensure_ascii=False, separators=(",", ":")).encode()
    for mark, raw in raws.items():
        text = text.replace(mark.encode(), raw)
    return text


def plain3(slip_id, total=1250, txn=None, **over):
    """The transaction resource (a dict); amount_<k>=v sets amount.k, DROP removes a field."""
    d = {"appid": STACK["DEMO_WX3_APP_ID"], "mchid": STACK["DEMO_WX3_MCH_ID"], "out_trade_no": slip_id,
         "transaction_id": txn or "4200" + secrets.token_hex(12), "trade_type": "NATIVE", "trade_state": "SUCCESS",
         "trade_state_desc": "ok", "bank_type": "OTHERS", "attach": "", "success_time": "2026-12-01T12:00:05+08:00",
         "payer": {"openid": "oTestOpenid"},
         "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"}}
    for k, v in over.items():
        if k.startswith("amount_"):
            d["amount"][k[7:]] = v
        else:
            d[k] = v
    return d


def seal(plain, aad=b"transaction", nonce=None, key=None):
    """The encrypted resource object for plaintext bytes (or a dict)."""
    data = plain if isinstance(plain, bytes) else to_json(plain)
    nonce = nonce or secrets.token_hex(6)
    ct = AESGCM((key or apiv3_key()).encode()).encrypt(nonce.encode(), data, aad)
    return {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ct).decode(), "associated_data": aad.decode(), "nonce": nonce}


def envelope(resource, event_type="TRANSACTION.SUCCESS", event_id=None, **over):
    d = {"id": event_id or "EV-" + secrets.token_hex(8), "create_time": "2026-12-01T12:00:06+08:00",
         "resource_type": "encrypt-resource", "event_type": event_type, "summary": "x", "resource": resource}
    d.update(over)
    return to_json(d)


def sign3(body, ts=None, serial=None):
    ts = str(int(time.time()) if ts is None else ts)
    nonce = secrets.token_hex(16)
    sig = platform_key().sign(ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n",
                              padding.PKCS1v15(), hashes.SHA256())
    return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": serial or STACK["DEMO_WX3_PUBKEY_ID"],
            "Wechatpay-Signature": base64.b64encode(sig).decode(),
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048", "Content-Type": "application/json"}


def notice3(plain, **kw):
    body = envelope(seal(plain))
    return sign3(body, **kw), body


def post3(headers, body, site=V3):
    return api("POST", "re_wx", raw_body=body, headers=headers, site=site)


def reply3_ok(st, parsed, raw):
    """v3 reply shape: 204 empty, or 4xx/5xx {"code":"FAIL","message":...}; never 500 here."""
    assert st != 500, raw
    if st == 204:
        assert raw == b"", raw
    else:
        assert st in (400, 413), (st, raw)
        if st == 400:
            assert parsed and parsed.get("code") == "FAIL" and parsed.get("message"), raw


def settled_exactly(slip_id, amount, txn=None):
    row = slip(slip_id)
    assert row[0] == "OK" and row[3] == "OK", row
    assert psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip_id) == str(amount)
    if txn is not None:
        assert row[1] == txn, (row[1][:80], txn[:80])


def untouched(slip_id):
    row = slip(slip_id)
    assert row[0] == "WAIT" and row[3] == "WT" and row[1] == "", row


# ---------------------------------------------------------------------------------------------
# v3: each field of the decrypted resource


def huge():
    return noise(8000)


BIG_TXN = "4200" + noise(3000)
# expect: "settle" (204 and paid exactly, txn as sent), "refuse" (400, nothing moved),
# "nosettle" (204 or 400, nothing paid), "either" (204 and paid exactly as sent, or 400 and untouched)
FIELD_CASES = [
    ("out_trade_no_empty", {"out_trade_no": ""}, "refuse"),
    ("out_trade_no_missing", {"out_trade_no": DROP}, "refuse"),
    ("out_trade_no_number", {"out_trade_no": 12345}, "refuse"),
    ("out_trade_no_null", {"out_trade_no": None}, "refuse"),
    ("out_trade_no_array", {"out_trade_no": ["@SLIP"]}, "refuse"),
    ("out_trade_no_object", {"out_trade_no": {"v": "@SLIP"}}, "refuse"),
    ("out_trade_no_nul_suffix", {"out_trade_no": Raw('"@SLIP\\u0000x"')}, "refuse"),
    ("out_trade_no_huge", {"out_trade_no": "@SLIP" + "a" * 8000}, "refuse"),
    ("out_trade_no_lone_surrogate", {"out_trade_no": Raw('"@SLIP\\udc00"')}, "refuse"),
    ("out_trade_no_high_surrogate", {"out_trade_no": Raw('"@SLIP\\ud800"')}, "refuse"),
    ("out_trade_no_raw_ff", {"out_trade_no": Raw(b'"@SLIP\xff"')}, "refuse"),
    ("txn_64", {"transaction_id": "@TXN64"}, "settle"),
    ("txn_empty", {"transaction_id": ""}, "refuse"),
    ("txn_missing", {"transaction_id": DROP}, "refuse"),
    ("txn_number", {"transaction_id": 4200000001}, "refuse"),
    ("txn_null", {"transaction_id": None}, "refuse"),
    ("txn_huge_3000", {"transaction_id": BIG_TXN}, "either"),
    ("txn_nul", {"transaction_id": Raw('"4200@RND\\u0000456"')}, "refuse"),
    ("txn_lone_surrogate", {"transaction_id": Raw('"4200\\udc00"')}, "refuse"),
    ("txn_raw_ff", {"transaction_id": Raw(b'"4200\xfe\xff"')}, "refuse"),
    ("state_notpay", {"trade_state": "NOTPAY"}, "nosettle"),
    ("state_lower", {"trade_state": "success"}, "nosettle"),
    ("state_unknown", {"trade_state": "PAID_MAYBE"}, "nosettle"),
    ("state_empty", {"trade_state": ""}, "nosettle"),
    ("state_number", {"trade_state": 1}, "nosettle"),
    ("state_array", {"trade_state": ["SUCCESS"]}, "nosettle"),
    ("state_nul", {"trade_state": Raw('"SUCCESS\\u0000"')}, "nosettle"),
    ("total_null", {"amount_total": None}, "refuse"),
    ("total_array", {"amount_total": [1250]}, "refuse"),
    ("total_object", {"amount_total": {"v": 1250}}, "refuse"),
    ("total_exp_int", {"amount_total": Raw("1250e0")}, "refuse"),
    ("total_exp_frac", {"amount_total": Raw("12.5e2")}, "refuse"),
    ("total_zero", {"amount_total": 0}, "refuse"),
    ("total_minus_zero", {"amount_total": Raw("-0")}, "refuse"),
    ("total_int64_max", {"amount_total": 9223372036854775807}, "refuse"),
    ("total_2e64_wrap", {"amount_total": 18446744073709552866}, "refuse"),
    ("total_bool", {"amount_total": True}, "refuse"),
    ("amount_not_object", {"amount": "1250"}, "refuse"),
    ("payer_total_string", {"amount_payer_total": "x"}, "either"),
    ("payer_total_negative", {"amount_payer_total": -1}, "either"),
    ("payer_total_2e63", {"amount_payer_total": 9223372036854775808}, "either"),
    ("payer_total_null", {"amount_payer_total": None}, "either"),
    ("currency_empty", {"amount_currency": ""}, "refuse"),
    ("currency_null", {"amount_currency": None}, "refuse"),
    ("currency_number", {"amount_currency": 156}, "refuse"),
    ("currency_nul", {"amount_currency": Raw('"CNY\\u0000"')}, "refuse"),
    ("currency_surrogate", {"amount_currency": Raw('"CN\\udc00"')}, "refuse"),
    ("currency_usd", {"amount_currency": "USD"}, "refuse"),
    ("appid_of_v2_merchant", {"appid": STACK["DEMO_WX_APP_ID"]}, "refuse"),
    ("appid_empty", {"appid": ""}, "refuse"),
    ("appid_number", {"appid": 1}, "refuse"),
    ("appid_surrogate", {"appid": Raw('"wx\\udc00"')}, "refuse"),
    ("mchid_of_v2_merchant", {"mchid": STACK["DEMO_WX_MCH_ID"]}, "refuse"),
    ("mchid_number", {"mchid": int(STACK["DEMO_WX3_MCH_ID"])}, "refuse"),
    ("mchid_huge", {"mchid": "1" * 8000}, "refuse"),
    ("success_time_garbage", {"success_time": "yesterday"}, "either"),
    ("success_time_number", {"success_time": 5}, "either"),
    ("success_time_surrogate", {"success_time": Raw('"\\udc00"')}, "either"),
    ("attach_huge", {"attach": "@HUGE"}, "either"),
    ("attach_nul", {"attach": Raw('"a\\u0000b"')}, "either"),
    ("attach_surrogate", {"attach": Raw('"\\udc00"')}, "either"),
    ("attach_raw_ff", {"attach": Raw(b'"\xff\xfe"')}, "either"),
]

# The transaction_id cases (3000 characters, NUL, a lone surrogate, raw FE FF) were answered 500
# with a PostgreSQL error (index row size, invalid byte sequence) or settled on an id cut at the
# NUL, until a notification's ids had to be plausible (app/notify BusinessChecks) and v3 bodies
# were parsed strictly (v3_notify Strict).


def fill(v, slip_id):
    if isinstance(v, str):
        if v == "@TXN64":
            return "4200" + secrets.token_hex(30)
        return v.replace("@SLIP", slip_id).replace("@HUGE", huge()) if "@" in v else v
    if isinstance(v, Raw):
        return Raw(v.text.replace(b"@SLIP", slip_id.encode()).replace(b"@RND", secrets.token_hex(8).encode()))
    if isinstance(v, list):
        return [fill(x, slip_id) for x in v]
    if isinstance(v, dict):
        return {k: fill(x, slip_id) for k, x in v.items()}
    return v


def judge3(st, parsed, raw, slip_id, expect, txn):
    reply3_ok(st, parsed, raw)
    if expect == "settle":
        assert st == 204, raw
        settled_exactly(slip_id, 1250, txn)
    elif expect == "refuse":
        assert st == 400, (st, raw)
        untouched(slip_id)
    elif expect == "nosettle":
        row = slip(slip_id)
        assert row[0] in ("WAIT", "FAIL") and row[3] == "WT" and row[1] == "", row
    else:
        if st == 204:
            settled_exactly(slip_id, 1250, txn)
        else:
            untouched(slip_id)


def field_params():
    out = []
    for name, over, expect in FIELD_CASES:
        out.append(pytest.param(name, over, expect, id=name))
    return out


@pytest.mark.parametrize("name, over, expect", field_params())
def test_v3_resource_field_values(name, over, expect):
    pg = PgErrors()
    order = buy3_ok()
    sid = order["pay_id"]
    over = {k: fill(v, sid) for k, v in over.items()}
    plain = plain3(sid, **over)
    txn = plain["transaction_id"] if isinstance(plain.get("transaction_id"), str) else None
    headers, body = notice3(plain)
    st, parsed, raw, _ = post3(headers, body)
    judge3(st, parsed, raw, sid, expect, txn)
    assert pg.new() == [], pg.new()
    assert not audit_violations(order["id"], sid)


# ---------------------------------------------------------------------------------------------
# v3: duplicate keys, binding to other slips, reuse, two event ids


# Both duplicate-key cases settled the slip of the FIRST copy (most readers take the last) until
# v3 bodies and resources were parsed with http::ParseJsonInput, which refuses a repeated key.


def test_v3_duplicate_keys_in_the_plaintext_never_settle():
    """Signed and sealed, but the plaintext holds out_trade_no or amount.total twice: readers
    disagree which copy counts, so it must not settle (as duplicated v2 XML elements and Alipay
    form fields are refused)."""
    pg = PgErrors()
    a, b = buy3_ok(), buy3_ok()
    base = to_json(plain3(a["pay_id"]))
    # out_trade_no twice: a's first, b's last.
    twice_slip = base.replace(b'"out_trade_no":', b'"out_trade_no":"%s","out_trade_no":' % b["pay_id"].encode(), 1)
    # amount.total twice: 1 first, 1250 last.
    twice_total = base.replace(b'"total":1250', b'"total":1,"total":1250', 1)
    for plain in (twice_slip, twice_total):
        st, parsed, raw, _ = post3(*notice3(plain))
        reply3_ok(st, parsed, raw)
    rows = [slip(a["pay_id"]), slip(b["pay_id"])]
    assert pg.new() == []
    assert rows[0][0] == "WAIT" and rows[1][0] == "WAIT", rows


def test_v3_duplicate_keys_in_the_outer_body_never_settle():
    """The outer JSON holds `resource` twice (the first for slip a, the second for b) and
    event_type twice: signed over those bytes, yet ambiguous; nothing may settle."""
    pg = PgErrors()
    a, b = buy3_ok(), buy3_ok()
    ra, rb = seal(plain3(a["pay_id"])), seal(plain3(b["pay_id"]))
    body = (b'{"id":"EV-%s","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource",'
            b'"resource":%s,"resource":%s}' % (secrets.token_hex(6).encode(), to_json(ra), to_json(rb)))
    st, parsed, raw, _ = post3(sign3(body), body)
    reply3_ok(st, parsed, raw)
    body2 = envelope(seal(plain3(a["pay_id"])), event_type="TRANSACTION.FAIL")
    body2 = body2.replace(b'"event_type":"TRANSACTION.FAIL"',
                          b'"event_type":"TRANSACTION.FAIL","event_type":"TRANSACTION.SUCCESS"')
    st2, parsed2, raw2, _ = post3(sign3(body2), body2)
    reply3_ok(st2, parsed2, raw2)
    assert pg.new() == []
    assert [slip(a["pay_id"])[0], slip(b["pay_id"])[0]] == ["WAIT", "WAIT"], (st, raw, st2, raw2)


def test_v3_naming_another_providers_or_another_sites_slip_is_refused():
    pg = PgErrors()
    zfb = buy_ok("zfb.qrcode")  # site demo, Alipay slip
    st, parsed, raw, _ = post3(*notice3(plain3(zfb["pay_id"], 2500)))
    reply3_ok(st, parsed, raw)
    assert st == 400 and slip(zfb["pay_id"])[0] == "WAIT", raw
    # A real demo-v3 slip, correctly signed and sealed, posted to site demo's endpoint.
    order = buy3_ok()
    st, parsed, raw, _ = post3(*notice3(plain3(order["pay_id"])), site=STACK["DEMO_SITE"])
    reply3_ok(st, parsed, raw)
    assert st == 400, raw
    untouched(order["pay_id"])
    assert pg.new() == []


def test_v3_transaction_id_of_another_slip_is_refused():
    pg = PgErrors()
    a, b = buy3_ok(), buy3_ok()
    txn = "4200" + secrets.token_hex(12)
    st, _, raw, _ = post3(*notice3(plain3(a["pay_id"], txn=txn)))
    assert st == 204, raw
    st, parsed, raw, _ = post3(*notice3(plain3(b["pay_id"], txn=txn)))
    reply3_ok(st, parsed, raw)
    assert st == 400, raw
    untouched(b["pay_id"])
    assert any("txn_id_reused" in r for _, r in inbox(b["pay_id"])), inbox(b["pay_id"])
    settled_exactly(a["pay_id"], 1250, txn)
    assert pg.new() == []


def test_v3_one_payment_under_two_event_ids_settles_once():
    order = buy3_ok()
    plain = plain3(order["pay_id"])
    for _ in range(2):
        body = envelope(seal(plain))  # new id, new nonce, same transaction
        st, _, raw, _ = post3(sign3(body), body)
        assert st == 204, raw
    assert sorted(v for v, _ in inbox(order["pay_id"])) == ["duplicate", "settled"]
    settled_exactly(order["pay_id"], 1250, plain["transaction_id"])
    assert not audit_violations(order["id"], order["pay_id"])


# ---------------------------------------------------------------------------------------------
# v3: headers, window, size, sealing


@pytest.mark.parametrize("skew, ok", [(-290, True), (290, True), (-310, False), (310, False)])
def test_v3_timestamp_window(skew, ok):
    order = buy3_ok()
    headers, body = notice3(plain3(order["pay_id"]), ts=int(time.time()) + skew)
    st, parsed, raw, _ = post3(headers, body)
    reply3_ok(st, parsed, raw)
    if ok:
        assert st == 204, raw
        settled_exactly(order["pay_id"], 1250)
    else:
        assert st == 400, raw
        untouched(order["pay_id"])


@pytest.mark.parametrize("ts", ["", "abc", "1e9", "-1", "99999999999999999999", "0x10", "@NOW.5", "@NOW\x01"])
def test_v3_timestamp_not_a_number_is_refused(ts):
    order = buy3_ok()
    now = str(int(time.time()))
    ts = ts.replace("@NOW", now)
    body = envelope(seal(plain3(order["pay_id"])))
    headers = sign3(body)
    if "\x01" in ts:
        ts = now + "x"
    # Signed over the odd timestamp itself, so only the timestamp rule can refuse it.
    nonce = headers["Wechatpay-Nonce"]
    sig = platform_key().sign(ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n", padding.PKCS1v15(),
                              hashes.SHA256())
    headers.update({"Wechatpay-Timestamp": ts, "Wechatpay-Signature": base64.b64encode(sig).decode()})
    st, parsed, raw, _ = post3(headers, body)
    reply3_ok(st, parsed, raw)
    assert st == 400, (ts, raw)
    untouched(order["pay_id"])


def test_v3_unknown_serial_and_serial_case():
    pg = PgErrors()
    order = buy3_ok()
    for serial in ("PUB_KEY_ID_0119000001102026999999999999", "X" * 1024, "X" * 1025):
        st, parsed, raw, _ = post3(*notice3(plain3(order["pay_id"]), serial=serial))
        reply3_ok(st, parsed, raw)
        assert st == 400, (serial[:40], raw)
    untouched(order["pay_id"])
    assert pg.new() == []


def raw_post(path, headers, body):
    """POST with header lines exactly as given (a list of pairs, repeats allowed)."""
    u = urllib.parse.urlparse(STACK["ORDERPAY_URL"])
    c = HTTPConnection(u.hostname, u.port, timeout=60)
    c.putrequest("POST", path)
    for k, v in headers:
        c.putheader(k, v)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    c.send(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


@pytest.mark.parametrize("dup", ["Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Serial",
                                 "Wechatpay-Nonce"])
def test_v3_repeated_header_with_a_forged_second_copy(dup):
    """The genuine header, then a second copy with another value: whatever orderpay makes of the
    pair, a 204 means the genuine message settled exactly, a 400 means nothing moved."""
    pg = PgErrors()
    order = buy3_ok()
    headers, body = notice3(plain3(order["pay_id"]))
    forged = {"Wechatpay-Signature": base64.b64encode(os.urandom(256)).decode(),
              "Wechatpay-Timestamp": str(int(time.time()) - 3600), "Wechatpay-Serial": "PUB_KEY_ID_NOPE",
              "Wechatpay-Nonce": "other"}[dup]
    pairs = list(headers.items()) + [(dup, forged)]
    st, data = raw_post("/api/%s/pay/re_wx" % V3, pairs, body)
    assert st in (204, 400), (st, data)
    if st == 204:
        settled_exactly(order["pay_id"], 1250)
    else:
        assert json.loads(data)["code"] == "FAIL"
        untouched(order["pay_id"])
    assert pg.new() == []


def test_v3_body_at_and_past_64_kib():
    order = buy3_ok()
    res = seal(plain3(order["pay_id"]))
    base = envelope(res, pad="")
    at = envelope(res, pad="p" * (65536 - len(base)))
    assert len(at) == 65536
    past = envelope(res, pad="p" * (65537 - len(base)))
    st, parsed, raw, _ = post3(sign3(past), past)
    reply3_ok(st, parsed, raw)
    assert st in (400, 413), raw
    untouched(order["pay_id"])
    st, parsed, raw, _ = post3(sign3(at), at)
    assert st == 204, raw
    settled_exactly(order["pay_id"], 1250)


def test_v3_sealing_tampered_is_refused_and_empty_aad_opens():
    pg = PgErrors()
    order = buy3_ok()
    sid = order["pay_id"]
    good = seal(plain3(sid))
    variants = [
        dict(good, associated_data="transactioN"),
        dict(good, associated_data=""),
        dict(good, nonce=good["nonce"][:-1] + ("0" if good["nonce"][-1] != "0" else "1")),
        dict(good, nonce=good["nonce"] + "00"),
        dict(good, nonce=""),
        dict(good, ciphertext="!!!not base64!!!"),
        dict(good, ciphertext=""),
        dict(good, ciphertext=base64.b64encode(b"short").decode()),
        dict(good, ciphertext=5),
        dict(good, algorithm="AEAD_AES_128_GCM"),
        dict(good, algorithm=None),
        {k: v for k, v in good.items() if k != "nonce"},
        seal(plain3(sid), key="k" * 32),
        seal(b"\xff\xfe not json"),
        seal(b""),
        seal(b"[]"),
    ]
    for res in variants:
        body = envelope(res)
        st, parsed, raw, _ = post3(sign3(body), body)
        reply3_ok(st, parsed, raw)
        assert st == 400, (res, raw)
        untouched(sid)
    # associated_data "" used consistently: PROTOCOLS 1.8 says it may be empty.
    res = seal(plain3(sid), aad=b"")
    body = envelope(res)
    st, parsed, raw, _ = post3(sign3(body), body)
    assert st == 204, raw
    settled_exactly(sid, 1250)
    assert pg.new() == []


@pytest.mark.parametrize("event_type", ["TRANSACTION.FAIL", "", "transaction.success", "TRANSACTION.SUCCESS ",
                                        "REFUND.SUCCESS", None, 1])
def test_v3_event_type_other_than_transaction_success_never_settles(event_type):
    pg = PgErrors()
    order = buy3_ok()
    body = envelope(seal(plain3(order["pay_id"])), event_type=event_type if event_type is not None else DROP)
    st, parsed, raw, _ = post3(sign3(body), body)
    reply3_ok(st, parsed, raw)
    row = slip(order["pay_id"])
    assert row[0] == "WAIT" and row[3] == "WT", (event_type, st, row)
    assert pg.new() == []


# ---------------------------------------------------------------------------------------------
# v3: many slips, many copies, forged ones among them


def test_v3_ten_slips_five_copies_each_with_forgeries_settle_exactly_once():
    pg = PgErrors()
    orders = [buy3_ok() for _ in range(10)]
    jobs = []
    for o in orders:
        plain = plain3(o["pay_id"])
        h, b = notice3(plain)
        jobs += [("good", o, h, b)] * 5
        bad = dict(h, **{"Wechatpay-Signature": base64.b64encode(os.urandom(256)).decode()})
        jobs.append(("forged", o, bad, b))
        jobs.append(("forged", o, *notice3(plain3(o["pay_id"], 1249))))
        wrong_key = envelope(seal(plain, key="z" * 32))
        jobs.append(("forged", o, sign3(wrong_key), wrong_key))
    RND.shuffle(jobs)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda j: (j[0], post3(j[2], j[3])[0]), jobs))
    assert [s for k, s in results if k == "good"] == [204] * 50, results
    assert [s for k, s in results if k == "forged"] == [400] * 30, results
    for o in orders:
        settled_exactly(o["pay_id"], 1250)
        v = [x for x, _ in inbox(o["pay_id"])]
        assert v.count("settled") == 1 and v.count("duplicate") == 4, v
    assert pg.new() == []
    ids = [o["id"] for o in orders] + [o["pay_id"] for o in orders]
    assert not audit_violations(*ids)


# ---------------------------------------------------------------------------------------------
# PayPal webhooks


def pp_resource(custom_id, value="9.00", currency="USD", status="COMPLETED", capture_id=None, **over):
    r = {"id": capture_id or "CAP" + secrets.token_hex(8).upper(), "status": status,
         "amount": {"currency_code": currency, "value": value}, "final_capture": True,
         "custom_id": custom_id, "invoice_id": custom_id}
    r.update(over)
    return r


def pp_body(resource, event_type="PAYMENT.CAPTURE.COMPLETED", event_id=None):
    return to_json({"id": event_id if event_id is not None else "WH-" + secrets.token_hex(10).upper(),
                    "event_version": "1.0", "create_time": "2026-12-01T12:00:00Z", "resource_type": "capture",
                    "resource_version": "2.0", "event_type": event_type, "summary": "probe", "resource": resource,
                    "links": []})


def pp_headers(body, tid=None, tm=None, webhook_id=None):
    key_file, cert_base = _conf("paysim.paypal_sign_key_file"), _conf("paysim.paypal_cert_base")
    if not key_file or not cert_base:
        pytest.skip("no paysim PayPal signing key in the config")
    tid = tid or "%s-%s-%s" % (secrets.token_hex(4), secrets.token_hex(2), secrets.token_hex(6))
    tm = tm or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = "%s|%s|%s|%d" % (tid, tm, webhook_id or STACK["DEMO_PAYPAL_WEBHOOK_ID"], zlib.crc32(body))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_file], input=text.encode(),
                         capture_output=True, check=True).stdout
    return {"Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": tid, "PAYPAL-TRANSMISSION-TIME": tm,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(sig).decode(),
            "PAYPAL-CERT-URL": cert_base + "CERT-paysim", "PAYPAL-AUTH-ALGO": "SHA256withRSA"}


def post_pp(headers, body, site=USD):
    st, parsed, raw, _ = api("POST", "re_paypal", raw_body=body, headers=headers, site=site)
    assert st != 500, raw
    assert st in (200, 400), (st, raw)
    if st == 200:
        assert parsed == {"result": "success"}, raw
    return st


def pp_capture(slip_id):
    """The capture id paysim (PayPal) holds for the slip's order."""
    return psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % slip_id)


def pp_untouched(slip_id):
    row = slip(slip_id)
    assert row[0] in ("WAIT", "FAIL") and row[3] == "WT" and row[1] == "", row


@pytest.mark.parametrize("event_type", ["PAYMENT.CAPTURE.COMPLETED ", "payment.capture.completed",
                                        "PAYMENT.CAPTURE.REVERSED", "CHECKOUT.ORDER.COMPLETED",
                                        "PAYMENT.CAPTURE.PENDING", "PAYMENT.CAPTURE.COMPLETED\u0000",
                                        "X" * 5000])
def test_paypal_event_type_variants_never_settle(event_type):
    pg = PgErrors()
    order = captured_pp()
    body = pp_body(pp_resource(order["pay_id"]), event_type=event_type)
    post_pp(pp_headers(body), body)
    pp_untouched(order["pay_id"])
    assert pg.new() == []


PP_ID_CASES = ["capture_64", "capture_3000", "capture_nul", "capture_surrogate", "capture_ff", "capture_number",
               "event_3000", "event_surrogate", "event_ff", "custom_surrogate", "custom_ff", "custom_huge",
               "custom_number"]
# capture_3000, capture_nul, capture_surrogate, capture_ff and event_3000 were answered 500 with a
# PostgreSQL error or settled on a capture id cut at the NUL, until a notification's ids had to be
# plausible and PayPal's webhook body was parsed strictly.


def pp_id_params():
    return [pytest.param(c, id=c) for c in PP_ID_CASES]


@pytest.mark.parametrize("case", pp_id_params())
def test_paypal_resource_ids_at_and_past_limits(case):
    pg = PgErrors()
    order = captured_pp()
    sid = order["pay_id"]
    res, eid, want_txn = pp_resource(sid), None, None
    field, kind = case.split("_", 1)
    value = {"64": "C" + secrets.token_hex(32)[:63], "3000": noise(3000), "nul": Raw('"CAP%s\\u0000X"' % secrets.token_hex(8)), "surrogate": Raw('"CAP\\udc00"'),
             "ff": Raw(b'"CAP\xff"'), "number": 12345, "huge": sid + "a" * 8000}[kind]
    if field == "capture":
        res["id"] = value
        # What settles is PayPal's own capture, whatever id the message names (review s21 H-1).
        want_txn = pp_capture(sid) if isinstance(value, str) else None
    elif field == "event":
        eid = value
    else:
        res["custom_id"] = res["invoice_id"] = Raw(value.text.replace(b"CAP", sid.encode())) \
            if isinstance(value, Raw) else value
    body = pp_body(res, event_id=eid)
    st = post_pp(pp_headers(body), body)
    row = slip(sid)
    if st == 200 and row[0] == "OK":
        settled_exactly(sid, 900, want_txn if field == "capture" else None)
        assert field != "custom", row
        assert want_txn is not None or field == "event", row
    else:
        pp_untouched(sid)
    if case == "capture_64":
        assert st == 200 and row[0] == "OK", (st, row)
    assert pg.new() == []


@pytest.mark.parametrize("value, currency", [("9.001", "USD"), ("1e2", "USD"), ("-1", "USD"), ("9.00", ""),
                                             ("99999999999999999999999999.00", "USD"),
                                             ("92233720368547758.08", "USD"), ("92233720368547758.07", "USD"),
                                             ("9.00", "USD\u0000"), ("9,00", "USD"), ("0x9", "USD"),
                                             ("", "USD"), ("9.00", "US"), ("9.00", "USDX")])
def test_paypal_amount_and_currency_values_never_settle(value, currency):
    pg = PgErrors()
    order = captured_pp()
    body = pp_body(pp_resource(order["pay_id"], value, currency))
    post_pp(pp_headers(body), body)
    pp_untouched(order["pay_id"])
    assert pg.new() == []


def test_paypal_amount_of_wrong_json_type_never_settles():
    order = captured_pp()
    for amount in ({"currency_code": "USD", "value": 9.0}, {"currency_code": "USD", "value": 9},
                   {"currency_code": "USD", "value": None}, {"currency_code": 840, "value": "9.00"},
                   {"currency_code": "USD", "value": ["9.00"]}, "9.00 USD", None):
        body = pp_body(pp_resource(order["pay_id"], amount=amount))
        post_pp(pp_headers(body), body)
        pp_untouched(order["pay_id"])


def test_paypal_custom_id_or_invoice_id_naming_another_slip():
    pg = PgErrors()
    a, b = captured_pp(), captured_pp()
    # custom_id names b, at a's amount but for a capture meant for b: it settles b (signed by
    # PayPal, amount right) or nothing, never a.
    body = pp_body(pp_resource(b["pay_id"], invoice_id=a["pay_id"]))
    post_pp(pp_headers(body), body)
    assert slip(a["pay_id"])[0] == "WAIT"
    # custom_id names a wx slip of site demo (CNY 25.00): refused or ignored, never settled.
    wx = buy_ok("wx.qrcode")
    body = pp_body(pp_resource(wx["pay_id"], "25.00", "CNY", invoice_id=a["pay_id"]))
    post_pp(pp_headers(body), body)
    assert slip(wx["pay_id"])[0] == "WAIT" and slip(a["pay_id"])[0] == "WAIT"
    # custom_id names a v3 slip of demo-v3.
    v3 = buy3_ok()
    body = pp_body(pp_resource(v3["pay_id"], "12.50", "CNY"))
    post_pp(pp_headers(body), body)
    assert slip(v3["pay_id"])[0] == "WAIT"
    # A webhook for a's slip, signed correctly, posted to the v3 site's endpoint.
    body = pp_body(pp_resource(a["pay_id"]))
    post_pp(pp_headers(body), body, site=V3)
    assert slip(a["pay_id"])[0] == "WAIT"
    assert pg.new() == []


PP_HEADERS = ["PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-TIME", "PAYPAL-TRANSMISSION-SIG", "PAYPAL-CERT-URL",
              "PAYPAL-AUTH-ALGO"]


def test_paypal_verification_headers_missing_or_wrong_are_refused():
    pg = PgErrors()
    order = captured_pp()
    sid = order["pay_id"]
    body = pp_body(pp_resource(sid))
    good = pp_headers(body)
    for h in PP_HEADERS:
        st = post_pp({k: v for k, v in good.items() if k != h}, body)
        assert st == 400, h
        st = post_pp(dict(good, **{h: ""}), body)
        assert st == 400, h
    cert = good["PAYPAL-CERT-URL"]
    wrong = {
        "PAYPAL-TRANSMISSION-ID": [good["PAYPAL-TRANSMISSION-ID"] + "x", "T" * 200],
        "PAYPAL-TRANSMISSION-TIME": ["2017-03-30T20:04:05Z", "Z" * 100],
        "PAYPAL-TRANSMISSION-SIG": ["WECHATPAY/SIGNTEST/", "A" * 3000, good["PAYPAL-TRANSMISSION-SIG"][4:]],
        "PAYPAL-CERT-URL": [cert.replace("https://", "http://"), cert.replace("https://", "https://user@"),
                            "https://evil.example.com/cert", cert + "x" * 3000],
        "PAYPAL-AUTH-ALGO": ["sha256withrsa", "SHA1withRSA", "SHA256withRSAx", "none"],
    }
    for h, values in wrong.items():
        for v in values:
            st = post_pp(dict(good, **{h: v}), body)
            assert st == 400, (h, v[:60])
            pp_untouched(sid)
    # Signed with a wrong webhook id, or over other bytes.
    assert post_pp(pp_headers(body, webhook_id="1DEMO0000WEBHOOK2"), body) == 400
    assert post_pp(good, body + b" ") == 400
    pp_untouched(sid)
    assert post_pp(good, body) == 200
    settled_exactly(sid, 900)
    assert pg.new() == []


@pytest.mark.parametrize("dup", PP_HEADERS)
def test_paypal_repeated_verification_header(dup):
    pg = PgErrors()
    order = captured_pp()
    body = pp_body(pp_resource(order["pay_id"]))
    good = pp_headers(body)
    forged = {"PAYPAL-TRANSMISSION-ID": "forged-id", "PAYPAL-TRANSMISSION-TIME": "2017-03-30T20:04:05Z",
              "PAYPAL-TRANSMISSION-SIG": base64.b64encode(os.urandom(256)).decode(),
              "PAYPAL-CERT-URL": "https://evil.example.com/c", "PAYPAL-AUTH-ALGO": "SHA1withRSA"}[dup]
    st, data = raw_post("/api/%s/pay/re_paypal" % USD, list(good.items()) + [(dup, forged)], body)
    assert st in (200, 400), (st, data)
    if st == 200:
        settled_exactly(order["pay_id"], 900)
    else:
        pp_untouched(order["pay_id"])
    assert pg.new() == []


def test_paypal_five_slips_four_copies_each_with_forgeries_settle_once():
    pg = PgErrors()
    orders = [captured_pp() for _ in range(5)]
    jobs = []
    for o in orders:
        body = pp_body(pp_resource(o["pay_id"]))
        h = pp_headers(body)
        jobs += [("good", h, body)] * 4
        jobs.append(("forged", dict(h, **{"PAYPAL-TRANSMISSION-SIG": base64.b64encode(os.urandom(256)).decode()}),
                     body))
        lie = pp_body(pp_resource(o["pay_id"], "8.99"))
        jobs.append(("forged", pp_headers(lie), lie))
    RND.shuffle(jobs)
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda j: (j[0], post_pp(j[1], j[2])), jobs))
    assert [s for k, s in results if k == "good"] == [200] * 20, results
    assert [s for k, s in results if k == "forged"] == [400] * 10, results
    for o in orders:
        settled_exactly(o["pay_id"], 900)
        v = [x for x, _ in inbox(o["pay_id"])]
        assert v.count("settled") == 1 and v.count("duplicate") == 3, v
    assert pg.new() == []
    assert not audit_violations(*[o["id"] for o in orders])


# ---------------------------------------------------------------------------------------------
# PayPal buyer returns (GET)


def pp_token(order):
    return urllib.parse.parse_qs(urllib.parse.urlparse(order["pay_re"]["re_obj"]).query)["token"][0]


def pp_order(slip_id):
    return db_row("SELECT status, captures FROM paysim.pp_orders WHERE custom_id = '%s'" % slip_id)


def ret(query, site=USD):
    """GET re_paypal with a raw query string; Accept JSON."""
    url = "%s/api/%s/pay/re_paypal?%s" % (STACK["ORDERPAY_URL"], site, query)
    st, parsed, raw, _ = http("GET", url, headers={"Accept": "application/json"})
    assert st != 500, raw
    return st, parsed, raw


@pytest.mark.parametrize("query", ["token=" + "A" * 64, "token=" + "A" * 65, "token=%FF%FE", "token=%ED%B0%80",
                                   "token=%C0%AF", "token=A%00B", "token=", "token=%20", "token=" + "%F0" * 64])
def test_paypal_return_token_odd_values(query):
    pg = PgErrors()
    st, parsed, raw = ret(query + "&PayerID=X")
    assert st == 400, (query, st, raw)
    assert pg.new() == []


def test_paypal_return_payerid_and_repeated_token():
    pg = PgErrors()
    order = buy_pp()
    token = pp_token(order)
    st, _, _, _ = http("GET", order["pay_re"]["re_obj"])  # approved at paysim
    assert st == 302
    # A token of nothing first, the real one repeated after it: nothing captured for the real one.
    st, parsed, raw = ret("token=NOSUCHTOKEN123&token=%s&PayerID=X" % token)
    assert st in (200, 400), raw
    if st == 400:
        assert pp_order(order["pay_id"]) == ["APPROVED", "0"]
    # PayerID past any sane length, and with non-UTF-8 bytes: the unsigned return still only
    # makes orderpay capture at PayPal, and that answer settles.
    st, parsed, raw = ret("token=%s&PayerID=%s%%FF%%00" % (token, "P" * 5000))
    assert st in (200, 400), raw
    st, parsed, raw = ret("token=%s&PayerID=Z" % token)
    assert st == 200, raw
    settled_exactly(order["pay_id"], 900)
    assert pp_order(order["pay_id"]) == ["COMPLETED", "1"]
    assert pg.new() == []


def test_paypal_return_with_another_sites_token_captures_nothing():
    pg = PgErrors()
    order = buy_pp()  # site demo-usd
    token = pp_token(order)
    http("GET", order["pay_re"]["re_obj"])
    for site in (STACK["DEMO_SITE"], V3):
        st, parsed, raw = ret("token=%s&PayerID=X" % token, site=site)
        assert st in (200, 400), raw
        assert pp_order(order["pay_id"]) == ["APPROVED", "0"], site
        pp_untouched(order["pay_id"])
    st, parsed, raw = ret("token=%s&PayerID=X" % token)
    assert st == 200, raw
    settled_exactly(order["pay_id"], 900)
    assert pg.new() == []


def test_paypal_capture_naming_another_paypal_order_settles_nothing():
    # custom_id is ours to set at create time, but a capture also names its PayPal order: one of
    # another order (another integration's, or a buyer's other order) must not settle this slip.
    pg = PgErrors()
    order = captured_pp()
    sid = order["pay_id"]
    ref = psql("SELECT provider_ref FROM pay_slips WHERE id = '%s'" % sid)
    assert ref, "a PayPal slip keeps its order id"
    other = pp_resource(sid, supplementary_data={"related_ids": {"order_id": "5O190127TN364715T"}})
    body = pp_body(other)
    assert post_pp(pp_headers(body), body) == 400
    pp_untouched(sid)
    verdict, reason = inbox(sid)[-1]
    assert verdict == "rejected" and "notified order 5O190127TN364715T, slip's " + ref in reason, reason
    # The same capture naming the slip's own order settles it.
    body = pp_body(pp_resource(sid, supplementary_data={"related_ids": {"order_id": ref}}))
    assert post_pp(pp_headers(body), body) == 200
    settled_exactly(sid, 900)
    assert pg.new() == []
