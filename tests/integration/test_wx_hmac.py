"""A second shop whose WeChat merchant signs with HMAC-SHA256: requests, responses, JSAPI paySign
and notifications all use it, and an MD5-signed notification for it is refused."""

import hashlib
import hmac
import os
import secrets
import subprocess

import pytest

from conftest import STACK, api, cli, psql
from helpers import db_row, sim_pay, ensure_site


@pytest.fixture(scope="module")
def hmac_shop(tmp_path_factory):
    key = secrets.token_hex(16)  # 32 characters, like a WeChat v2 API key
    keyfile = tmp_path_factory.mktemp("keys") / "hmac.key"
    keyfile.write_text(key + "\n")
    ensure_site("hmacshop", "--store", "demo-users", "--name", "HMAC shop")
    cli("product", "add", "hm-tea", "--site", "hmacshop", "--title", "HMAC tea", "--price", "0.01")
    cli("merchant", "add", "wx-hmac", "--provider", "wx", "--app-id", "wxhmac00000000001", "--mch-id", "1900000777",
        "--sign-type", "HMAC-SHA256", "--key-file", str(keyfile))
    cli("seller", "set", "--site", "hmacshop", "--prefix", "wx", "--merchant", "wx-hmac")
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "paysim"), "merchant", "add", "--provider", "wx",
                    "--app-id", "wxhmac00000000001", "--mch-id", "1900000777", "--sign-type", "HMAC-SHA256",
                    "--key-file", str(keyfile)], env=env, check=True, capture_output=True)
    return key


def hbuy(pay_tp):
    status, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site="hmacshop",
                               json={"products": [{"id": "hm-tea"}], "pay_tp": pay_tp})
    assert status == 200, raw
    return body["data"]


def test_hmac_qrcode_pays(hmac_shop):
    order = hbuy("wx.qrcode")
    assert order["fee"] == 0.01 and order["pay_re"]["re_obj"].startswith("weixin://")
    result = sim_pay(order["pay_id"])
    assert "SUCCESS" in result["replies"][0]["body"]
    status, body, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], site="hmacshop", params={"id": order["id"]})
    assert status == 200 and body["data"]["or_st"] == "OK", raw
    assert db_row("SELECT amount FROM pay_slips WHERE id = '%s'" % order["pay_id"]) == ["1"]


def test_hmac_jsapi_pay_sign(hmac_shop):
    params = hbuy("wx.jsapi")["pay_re"]["re_obj"]
    assert params["signType"] == "HMAC-SHA256"
    signed = "&".join("%s=%s" % (k, params[k]) for k in sorted(params) if k != "paySign") + "&key=" + hmac_shop
    want = hmac.new(hmac_shop.encode(), signed.encode(), hashlib.sha256).hexdigest().upper()
    assert params["paySign"] == want


def test_md5_signed_notification_for_hmac_merchant_is_refused(hmac_shop):
    order = hbuy("wx.qrcode")
    fields = {"appid": "wxhmac00000000001", "mch_id": "1900000777", "nonce_str": "n1", "out_trade_no": order["pay_id"],
              "result_code": "SUCCESS", "return_code": "SUCCESS", "total_fee": "1", "fee_type": "CNY",
              "transaction_id": "4200000000000000000000000001", "sign_type": "MD5"}
    s = "&".join("%s=%s" % (k, fields[k]) for k in sorted(fields)) + "&key=" + hmac_shop
    fields["sign"] = hashlib.md5(s.encode()).hexdigest().upper()
    xml = "<xml>" + "".join("<%s><![CDATA[%s]]></%s>" % (k, v, k) for k, v in fields.items()) + "</xml>"
    status, _, raw, _ = api("POST", "re_wx", site="hmacshop", raw_body=xml, headers={"Content-Type": "text/xml"})
    assert status == 200 and b"FAIL" in raw, raw
    assert psql("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == "WT"
    reason = psql("SELECT reason FROM notifications WHERE slip_id = '%s' ORDER BY id DESC LIMIT 1" % order["pay_id"])
    assert "sign_type" in reason, reason
