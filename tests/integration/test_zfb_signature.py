"""A request whose signature paysim cannot verify: the gateway answers 40002
isv.invalid-signature in the method's own node, as Alipay does (not error_response), and
orderpay's Alipay client takes that signed answer as a failed payment, not an unknown one."""

import base64
import os
import urllib.parse

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import db_row

APP_ID = STACK["DEMO_ZFB_APP_ID"]  # an app paysim knows, verified with the demo app's public key
SELLER_ID = STACK["DEMO_ZFB_SELLER_ID"]
KEYS = os.path.dirname(STACK["DEMO_ZFB_ALIPAY_PRIVATE_KEY"])


@pytest.fixture(scope="module")
def badsig_shop():
    # orderpay signs with a key that is not the app's (the simulated Alipay private key will do),
    # so paysim's check with the app's public key fails; Alipay's public key is the right one, so
    # orderpay can verify the answer.
    cli("site", "add", "badsigshop", "--store", "demo-users", "--name", "Bad signature shop")
    cli("product", "add", "bs-tea", "--site", "badsigshop", "--title", "Tea", "--price", "0.01")
    cli("merchant", "add", "zfb-badsig", "--provider", "zfb", "--app-id", APP_ID, "--seller-id", SELLER_ID,
        "--app-private-key-file", os.path.join(KEYS, "zfb_alipay_private.pem"),
        "--alipay-public-key-file", os.path.join(KEYS, "zfb_alipay_public.pem"))
    cli("seller", "set", "--site", "badsigshop", "--prefix", "zfb", "--merchant", "zfb-badsig")
    return "badsigshop"


def test_gateway_answers_a_bad_signature_in_the_methods_node():
    params = {"app_id": APP_ID, "method": "alipay.trade.precreate", "format": "JSON", "charset": "utf-8",
              "sign_type": "RSA2", "timestamp": "2024-01-01 12:00:00", "version": "1.0",
              "biz_content": '{"out_trade_no":"badsig-direct-1","total_amount":"0.01","subject":"tea"}',
              "sign": base64.b64encode(b"\x01" * 256).decode()}
    status, body, raw, _ = http("POST", STACK["PAYSIM_URL"] + "/gateway.do?charset=utf-8",
                                urllib.parse.urlencode(params).encode(),
                                {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
    assert status == 200, raw
    assert "error_response" not in body, raw
    assert body["alipay_trade_precreate_response"] == {
        "code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}
    assert body["sign"], raw  # the app is known: the refusal is signed
    assert psql("SELECT count(*) FROM paysim.zfb_trades WHERE out_trade_no = 'badsig-direct-1'") == "0"


def test_orderpay_takes_the_refusal_as_a_failed_payment(badsig_shop):
    status, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=badsig_shop,
                               json={"products": [{"id": "bs-tea"}], "pay_tp": "zfb.qrcode"})
    # A definite refusal (502, slip FAIL), not an answer orderpay could not trust (504, slip WAIT).
    assert status == 502 and body["errCode"] == "e.www.pay.provider", raw
    slip_id, st, note = db_row("SELECT id, st, note FROM pay_slips WHERE site_id = '%s' ORDER BY ct DESC LIMIT 1"
                               % badsig_shop)
    assert st == "FAIL", note
    assert note.startswith("40002 isv.invalid-signature"), note
    assert psql("SELECT count(*) FROM paysim.zfb_trades WHERE out_trade_no = '%s'" % slip_id) == "0"
