"""WeChat Pay API v3 through nginx on site demo-v3 (a v3 merchant in public-key mode) and on a
certificate-mode merchant made here: qrcode, jsapi (paySign checked with the merchant's public
key by python's `cryptography`, apart from the C++ code), scan through USERPAYING, 20 concurrent
duplicate notifications, every tamper knob, v2/v3 cross notifications, a platform certificate
rotation picked up without a restart, and `notify verify` on a v3 notification. Notifications
built here are signed and encrypted with `cryptography`, not with orderpay's code."""

import base64
import json
import os
import secrets
import subprocess
import tempfile
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conftest import STACK, api, cli, psql, sim
from helpers import buy, check, db_row, ensure_site, inbox, sim_pay, write_headers
from test_provider_binding import wx_notification

V3 = STACK.get("DEMO_V3_SITE", "demo-v3")

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")


def buy3(pay_tp="wx.qrcode", site=V3, **extra):
    body = {"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": pay_tp}
    body.update(extra)
    return api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=site)


def buy3_ok(pay_tp="wx.qrcode", site=V3, **extra):
    status, body, raw, _ = buy3(pay_tp, site, **extra)
    assert status == 200, raw
    return body["data"]


def state3(order_id, site=V3):
    status, body, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order_id}, site=site)
    assert status == 200, raw
    return body["data"]


def wait3(order_id, want, site=V3, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        o = state3(order_id, site)
        if o["or_st"] == want or time.time() > deadline:
            return o
        time.sleep(0.1)


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def apiv3_key():
    return read(STACK["DEMO_WX3_APIV3_KEY_FILE"]).strip()


def platform_key(path=None):
    return serialization.load_pem_private_key(read(path or STACK["DEMO_WX3_PLATFORM_PRIVATE_KEY"], "rb"), None)


def v3_notification(slip_id, total, appid=None, mchid=None, key=None, serial=None, signer=None, ts=None):
    """A TRANSACTION.SUCCESS notification as WeChat sends it: (headers, body)."""
    plain = json.dumps({
        "appid": appid or STACK["DEMO_WX3_APP_ID"], "mchid": mchid or STACK["DEMO_WX3_MCH_ID"],
        "out_trade_no": slip_id, "transaction_id": "4200" + secrets.token_hex(12)[:24],
        "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
        "bank_type": "OTHERS", "attach": "", "success_time": "2026-12-01T12:00:05+08:00",
        "payer": {"openid": "oTestOpenid"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
    }, ensure_ascii=False, separators=(",", ":"))
    nonce = secrets.token_hex(6)
    ct = AESGCM((key or apiv3_key()).encode()).encrypt(nonce.encode(), plain.encode(), b"transaction")
    body = json.dumps({
        "id": "EV-" + secrets.token_hex(8), "create_time": "2026-12-01T12:00:06+08:00",
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": base64.b64encode(ct).decode(), "associated_data": "transaction",
                     "nonce": nonce}}, ensure_ascii=False, separators=(",", ":"))
    ts = str(ts or int(time.time()))
    hnonce = secrets.token_hex(16)
    sig = (signer or platform_key()).sign(("%s\n%s\n%s\n" % (ts, hnonce, body)).encode(),
                                          padding.PKCS1v15(), hashes.SHA256())
    headers = {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": hnonce,
               "Wechatpay-Serial": serial or STACK["DEMO_WX3_PUBKEY_ID"],
               "Wechatpay-Signature": base64.b64encode(sig).decode(),
               "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048", "Content-Type": "application/json"}
    return headers, body


def post_v3(headers, body, site=V3):
    return api("POST", "re_wx", raw_body=body.encode(), headers=headers, site=site)


def test_qrcode_pay_settles_with_204():
    order = buy3_ok()
    assert order["pay_re"]["re_tp"] == "QRCODE"
    assert order["pay_re"]["re_obj"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert order["seller"] == STACK["DEMO_WX3_MERCHANT"]
    data = sim_pay(order["pay_id"])
    assert data["replies"] == [{"status": 204, "body": ""}]
    o = wait3(order["id"], "OK")
    assert o["or_st"] == "OK" and o["pay_re"]["st"] == "OK"
    assert inbox(order["pay_id"])[0][0] == "settled"
    _, t, _, _ = sim("/sim/trade", {"out_trade_no": order["pay_id"]}, method="GET")
    assert t["data"]["trade_type"] == "NATIVE" and t["data"]["state"] == "SUCCESS"


def test_twenty_concurrent_duplicates_settle_once():
    order = buy3_ok()
    data = sim_pay(order["pay_id"], times=20)
    assert data["sent"] == 20
    assert [r["status"] for r in data["replies"]] == [204] * 20
    assert all(r["body"] == "" for r in data["replies"])
    wait3(order["id"], "OK")
    verdicts = [v for v, _ in inbox(order["pay_id"])]
    assert verdicts.count("settled") == 1 and verdicts.count("duplicate") == 19, verdicts
    assert db_row("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st = 'OK'" % order["id"]) == ["1"]


@pytest.mark.parametrize("tamper,reason", [
    ("sign", "signature invalid"),
    ("serial", "unknown Wechatpay-Serial"),
    ("timestamp", "not within 5 minutes"),
    ("ciphertext", "does not decrypt"),
    ("aad", "does not decrypt"),
    ("amount_resigned", "amount check failed"),
    ("appid", "app_id check failed"),
])
def test_each_tamper_is_refused_and_changes_nothing(tamper, reason):
    order = buy3_ok()
    data = sim_pay(order["pay_id"], tamper=tamper)
    assert data["replies"][0]["status"] == 400, data
    assert json.loads(data["replies"][0]["body"])["code"] == "FAIL"
    # Read from the database: pay/check would ask paysim, where the trade is paid.
    assert db_row("SELECT o.or_st, s.st FROM orders o JOIN pay_slips s ON s.order_id = o.id "
                  "WHERE s.id = '%s'" % order["pay_id"]) == ["WT", "WAIT"]
    # A notice that never opened names no slip: the newest row of the site is this one.
    last = db_row("SELECT verdict, reason FROM notifications WHERE site_id = '%s' ORDER BY id DESC LIMIT 1" % V3)
    assert last[0] == "rejected" and reason in last[1], last


def test_unknown_tamper_name_is_a_400_from_paysim():
    order = buy3_ok()
    status, body, raw, _ = sim("/sim/pay", {"out_trade_no": order["pay_id"], "tamper": "doctype"})
    assert status == 400 and b"serial" in raw


def test_notification_built_apart_settles_and_missing_headers_refused():
    order = buy3_ok()
    headers, body = v3_notification(order["pay_id"], 1250)
    for drop in ("Wechatpay-Signature", "Wechatpay-Nonce", "Wechatpay-Timestamp", "Wechatpay-Serial"):
        partial = {k: v for k, v in headers.items() if k != drop}
        st, parsed, raw, _ = post_v3(partial, body)
        assert st == 400 and parsed["code"] == "FAIL", (drop, raw)
    st, _, raw, hdrs = post_v3({**headers, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]}, body)
    assert st == 400, raw
    assert state3(order["id"])["or_st"] == "WT"
    st, _, raw, hdrs = post_v3(headers, body)
    assert st == 204 and raw == b"", raw
    assert wait3(order["id"], "OK")["or_st"] == "OK"
    # A replay of the same bytes: a duplicate, still 204.
    st, _, raw, _ = post_v3(headers, body)
    assert st == 204 and raw == b""


def test_garbage_v3_bodies_get_json_fail_not_500():
    headers, _ = v3_notification("x" * 26, 1)
    for body in ["{", "[]", '{"resource":5}', "{}", "x" * 70000]:
        st, parsed, raw, _ = post_v3(headers, body)
        assert st in (400, 413), (body[:20], st, raw)
        if st == 400:
            assert parsed == {"code": "FAIL", "message": "malformed notification"} or parsed["code"] == "FAIL"


def test_v3_notification_for_a_v2_slip_is_refused():
    order = buy("wx.qrcode")[1]["data"]  # site demo, v2 merchant wx-demo
    headers, body = v3_notification(order["pay_id"], 2500, appid=STACK["DEMO_WX_APP_ID"], mchid=STACK["DEMO_WX_MCH_ID"])
    st, parsed, raw, _ = post_v3(headers, body, site=STACK["DEMO_SITE"])
    assert st == 400 and parsed["code"] == "FAIL", raw
    assert check(order["id"])[1]["data"]["or_st"] == "WT"
    assert any("v3 notification for v2 merchant" in r for _, r in inbox(order["pay_id"])), inbox(order["pay_id"])


def test_v2_notification_for_a_v3_slip_is_refused():
    order = buy3_ok()
    # The best a forger can do: v2 XML "signed" with the v3 merchant's APIv3 key as if it were a v2 key.
    import hashlib
    fields = {"appid": STACK["DEMO_WX3_APP_ID"], "mch_id": STACK["DEMO_WX3_MCH_ID"], "nonce_str": "abc",
              "out_trade_no": order["pay_id"], "transaction_id": "42" + secrets.token_hex(10),
              "total_fee": "1250", "fee_type": "CNY", "result_code": "SUCCESS", "return_code": "SUCCESS"}
    text = "&".join("%s=%s" % (k, fields[k]) for k in sorted(fields)) + "&key=" + apiv3_key()
    fields["sign"] = hashlib.md5(text.encode()).hexdigest().upper()
    xml = "<xml>" + "".join("<%s><![CDATA[%s]]></%s>" % (k, v, k) for k, v in fields.items()) + "</xml>"
    st, _, raw, _ = api("POST", "re_wx", raw_body=xml, headers={"Content-Type": "text/xml"}, site=V3)
    assert st == 200 and raw.startswith(b"<xml><return_code><![CDATA[FAIL]]>"), raw
    assert state3(order["id"])["or_st"] == "WT"
    assert any("v2 notification for v3 merchant" in r for _, r in inbox(order["pay_id"])), inbox(order["pay_id"])
    # And the demo v2 notification builder's output for that slip (v2 key) is refused too.
    st, _, raw, _ = api("POST", "re_wx", raw_body=wx_notification(order["pay_id"], 1250),
                        headers={"Content-Type": "text/xml"}, site=V3)
    assert raw.startswith(b"<xml><return_code><![CDATA[FAIL]]>"), raw
    assert state3(order["id"])["or_st"] == "WT"


def test_jsapi_paysign_verifies_with_the_merchant_public_key():
    order = buy3_ok("wx.jsapi")
    assert order["pay_re"]["re_tp"] == "JSON"
    p = order["pay_re"]["re_obj"]  # the object itself, ready for wx.requestPayment
    assert p["appId"] == STACK["DEMO_WX3_APP_ID"] and p["signType"] == "RSA"
    assert p["package"].startswith("prepay_id=wx")
    pub = serialization.load_pem_private_key(read(STACK["DEMO_WX3_PRIVATE_KEY"], "rb"), None).public_key()
    msg = "%s\n%s\n%s\n%s\n" % (p["appId"], p["timeStamp"], p["nonceStr"], p["package"])
    pub.verify(base64.b64decode(p["paySign"]), msg.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(Exception):
        pub.verify(base64.b64decode(p["paySign"]), msg.replace("prepay_id", "prepay_iD").encode(),
                   padding.PKCS1v15(), hashes.SHA256())
    sim_pay(order["pay_id"])
    assert wait3(order["id"], "OK")["or_st"] == "OK"


def test_scan_through_userpaying_and_failures():
    order = buy3_ok("wx.scan", auth_code="131000000000000003")
    assert order["or_st"] == "OK" and order["pay_re"]["st"] == "OK"
    _, t, _, _ = sim("/sim/trade", {"out_trade_no": order["pay_id"]}, method="GET")
    assert t["data"]["trade_type"] == "MICROPAY" and t["data"]["queries"] >= 3
    paid = buy3_ok("wx.scan", auth_code="130000000000000003")
    assert paid["or_st"] == "OK"
    st, body, raw, _ = buy3("wx.scan", auth_code="132000000000000003")
    assert st == 409 and body["errCode"] == "e.www.pay.failed", raw
    # v3's code and message, as v2's err_code and err_code_des (review s27 #7).
    assert body["msg"] == "the payment was declined: AUTHCODEEXPIRE: 二维码已过期，请用户在微信上刷新后再试", raw
    st, body, raw, _ = buy3("wx.scan", auth_code="134000000000000003")
    assert st == 409 and body["errCode"] == "e.www.pay.failed", raw
    assert body["msg"] == "the payment was declined: not confirmed in time, reversed", raw
    _, t, _, _ = sim("/sim/trade", {"out_trade_no": body["data"]["pay_id"]}, method="GET")
    assert t["data"]["state"] == "REVOKED"


def test_pay_with_another_type_closes_the_old_slip():
    order = buy3_ok()
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"],
                           params={"id": order["id"], "pt": "wx.jsapi"}, site=V3)
    assert st == 200, raw
    _, t, _, _ = sim("/sim/trade", {"out_trade_no": order["pay_id"]}, method="GET")
    assert t["data"]["state"] == "CLOSED"
    assert body["data"]["pay_id"] != order["pay_id"]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def key_and_cert(d, name, cn):
    key, cert = os.path.join(d, name + "_key.pem"), os.path.join(d, name + "_cert.pem")
    openssl("genrsa", "-out", key, "2048")
    serial = secrets.token_hex(8).upper().lstrip("0") or "1"
    openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", "30", "-set_serial", "0x" + serial,
            "-out", cert)
    return key, cert, serial


def paysim_bin():
    return os.path.join(STACK["ORDERPAY_BIN"], "paysim")


def sim_cli(*args):
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    subprocess.run([paysim_bin(), *args], env=env, check=True, capture_output=True, text=True)


def test_certificate_mode_and_rotation_without_restart():
    d = tempfile.mkdtemp(prefix="wx3cert-", dir=os.path.dirname(STACK["ORDERPAY_CONFIG"]))
    mkey, mcert, mserial = key_and_cert(d, "merchant", "1900000777")
    pkey, pcert, pserial = key_and_cert(d, "platform", "Tenpay.com Root CA")
    keyfile = os.path.join(d, "apiv3.key")
    with open(keyfile, "w") as f:
        f.write(secrets.token_hex(16))
    site, mid, app, mch = "demo-v3c", "wx3-cert", "wxd0000000certmode", "1900000777"
    cli("merchant", "add", mid, "--provider", "wx", "--api", "v3", "--app-id", app, "--mch-id", mch,
        "--private-key-file", mkey, "--cert-serial", mserial, "--cert-file", mcert, "--apiv3-key-file", keyfile,
        "--platform-certificates")
    ensure_site(site, "--store", "demo-users", "--currency", "CNY")
    cli("product", "add", STACK["DEMO_PRODUCT"], "--site", site, "--title", "Green tea", "--price", "12.50",
        check=False)
    cli("seller", "set", "--site", site, "--prefix", "wx", "--merchant", mid)
    sim_cli("merchant", "add", "--provider", "wx", "--api", "v3", "--app-id", app, "--mch-id", mch,
            "--merchant-public-key-file", mcert, "--cert-serial", mserial, "--apiv3-key-file", keyfile,
            "--platform-private-key-file", pkey, "--platform-cert-file", pcert)
    order = buy3_ok(site=site)
    data = sim_pay(order["pay_id"])
    assert data["replies"][0]["status"] == 204, data
    assert wait3(order["id"], "OK", site=site)["or_st"] == "OK"
    # A notification built apart, under the platform certificate's serial (lower case works too).
    order = buy3_ok(site=site)
    h, b = v3_notification(order["pay_id"], 1250, appid=app, mchid=mch, key=read(keyfile),
                           serial=pserial.lower(), signer=serialization.load_pem_private_key(read(pkey, "rb"), None))
    st, _, raw, _ = post_v3(h, b, site=site)
    assert st == 204, raw
    # Rotation: paysim gets a new platform certificate; orderpayd, not restarted, fetches it when
    # the new serial first appears (refreshes are at most one per merchant every 5 s).
    time.sleep(5.5)
    pkey2, pcert2, pserial2 = key_and_cert(d, "platform2", "Tenpay.com Root CA")
    sim_cli("merchant", "add", "--provider", "wx", "--api", "v3", "--app-id", app, "--mch-id", mch,
            "--merchant-public-key-file", mcert, "--cert-serial", mserial, "--apiv3-key-file", keyfile,
            "--platform-private-key-file", pkey2, "--platform-cert-file", pcert2)
    order = buy3_ok(site=site)
    data = sim_pay(order["pay_id"])
    assert data["replies"][0]["status"] == 204, data
    assert wait3(order["id"], "OK", site=site)["or_st"] == "OK"
    # A serial nobody issued is refused after the refresh.
    order = buy3_ok(site=site)
    h, b = v3_notification(order["pay_id"], 1250, appid=app, mchid=mch, key=read(keyfile), serial="ABCDEF0123",
                           signer=serialization.load_pem_private_key(read(pkey2, "rb"), None))
    st, _, raw, _ = post_v3(h, b, site=site)
    assert st == 400, raw
    assert state3(order["id"], site)["or_st"] == "WT"
    last = db_row("SELECT verdict, reason FROM notifications WHERE site_id = '%s' ORDER BY id DESC LIMIT 1" % site)
    assert last[0] == "rejected" and "unknown Wechatpay-Serial ABCDEF0123" in last[1], last


def test_merchant_add_v3_checks_files():
    d = tempfile.mkdtemp(prefix="wx3bad-", dir=os.path.dirname(STACK["ORDERPAY_CONFIG"]))
    mkey, mcert, mserial = key_and_cert(d, "m", "1900000888")
    other, _, _ = key_and_cert(d, "o", "other")
    short = os.path.join(d, "short.key")
    good = os.path.join(d, "good.key")
    with open(short, "w") as f:
        f.write("tooshort")
    with open(good, "w") as f:
        f.write(secrets.token_hex(16))
    base = ["merchant", "add", "wx3-bad", "--provider", "wx", "--api", "v3", "--app-id", "wxbad", "--mch-id", "1",
            "--cert-serial", mserial, "--platform-certificates"]
    res = cli(*base, "--private-key-file", mkey, "--apiv3-key-file", short, check=False)
    assert res.returncode != 0 and "32 bytes" in res.stderr
    res = cli(*base, "--private-key-file", other, "--cert-file", mcert, "--apiv3-key-file", good, check=False)
    assert res.returncode != 0 and "does not belong" in res.stderr
    res = cli("merchant", "add", "wx3-bad", "--provider", "wx", "--api", "v3", "--app-id", "wxbad", "--mch-id", "1",
              "--cert-serial", "ABC123", "--cert-file", mcert, "--private-key-file", mkey,
              "--apiv3-key-file", good, "--platform-certificates", check=False)
    assert res.returncode != 0 and "not the serial" in res.stderr
    res = cli("merchant", "add", "wx3-bad", "--provider", "wx", "--api", "v3", "--app-id", "wxbad", "--mch-id", "1",
              "--cert-serial", mserial, "--private-key-file", mkey, "--apiv3-key-file", good, check=False)
    assert res.returncode != 0 and "platform-certificates" in res.stderr
    assert psql("SELECT count(*) FROM merchants WHERE id = 'wx3-bad'") == "0"
    # The APIv3 key never shows in the listing.
    listing = cli("merchant", "list", "--json").stdout
    assert apiv3_key() not in listing


def test_notify_verify_runs_the_v3_path():
    order = buy3_ok()
    headers, body = v3_notification(order["pay_id"], 1250)
    d = tempfile.mkdtemp(prefix="wx3nv-", dir=os.path.dirname(STACK["ORDERPAY_CONFIG"]))
    hf, bf = os.path.join(d, "h.txt"), os.path.join(d, "b.json")
    write_headers(hf, headers)
    with open(bf, "w") as f:
        f.write(body)
    res = cli("notify", "verify", "--provider", "wx", "--headers", hf, "--body", bf, "--json", check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["signature_ok"] and out["business_ok"] and out["would_settle"], out
    assert state3(order["id"])["or_st"] == "WT"  # it changes nothing
    bad = dict(headers, **{"Wechatpay-Timestamp": str(int(time.time()) - 900)})
    write_headers(hf, bad)
    res = cli("notify", "verify", "--provider", "wx", "--headers", hf, "--body", bf, "--json", check=False)
    assert res.returncode == 1 and "not within 5 minutes" in json.loads(res.stdout)["reason"]
