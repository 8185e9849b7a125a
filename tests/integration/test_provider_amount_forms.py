"""What providers send, read by one rule each (review s30, Info items 1-3): an amount is its
exact value (Alipay's total_amount 25.000 is 25.00, as WeChat's total_fee 02500 is 2500; 25.001
is no amount), an Alipay message is read only in a charset orderpay knows, and a WeChat v2
notification whose return_code is FAIL is acknowledged as no payment, its stored reason naming
return_code and return_msg.

Notifications are signed here with the simulated providers' keys (test_hostile_notify's builders)."""

import urllib.parse

import pytest

from conftest import STACK, http, psql
from helpers import buy_ok
from test_hostile_notify import post_zfb_params, slip, verdicts, wx_fields, wx_xml, zfb_form
from test_provider_binding import WX_SUCCESS_PREFIX, post_wx

# ---------------------------------------------------------------------------------------------
# 1. amounts: the exact value, whatever zeros surround it


@pytest.mark.parametrize("total_amount", ["25.000", "25.0000000000", "0025.00", "25", "25.0", "025.000"])
def test_a_signed_alipay_notification_of_the_same_amount_written_with_more_zeros_settles(total_amount):
    order = buy_ok("zfb.qrcode")  # 2 x 12.50 = 25.00 CNY
    st, reply = post_zfb_params(zfb_form(order["pay_id"], total_amount))
    assert (st, reply) == (200, "success"), (total_amount, reply, verdicts(order["pay_id"]))
    row = slip(order["pay_id"])
    assert row[0] == "OK" and row[3] == "OK", row
    assert verdicts(order["pay_id"])[-1][0] == "settled"


@pytest.mark.parametrize("total_amount", [
    "25.001", "25.0000001", "+25.00", "-25.00", "2.5e1", " 25.00", "25.00 ", "", ".25", "25.", "２５.００",
    "25.00%00", "0" * 40 + "25", "25.0" + "0" * 40,
])
def test_a_signed_alipay_notification_of_no_exact_amount_is_refused(total_amount):
    order = buy_ok("zfb.qrcode")
    params = zfb_form(order["pay_id"], urllib.parse.unquote(total_amount))
    st, reply = post_zfb_params(params)
    assert (st, reply) == (200, "fail"), (total_amount, reply)
    assert slip(order["pay_id"])[0] == "WAIT"
    verdict, reason = verdicts(order["pay_id"])[-1]
    assert verdict == "rejected", (verdict, reason)
    # Empty is left out of the signed set (and then missing); everything else is unreadable.
    assert "amount check failed: notified no readable amount, slip 2500" in reason, reason


@pytest.mark.parametrize("total_fee", ["02500", "2500.0", "0002500.000"])
def test_a_signed_wechat_notification_of_the_same_amount_written_with_zeros_settles(total_fee):
    order = buy_ok("wx.qrcode")  # 2500 fen
    st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], total_fee, cash_fee="2500")))
    assert st == 200 and reply.startswith(WX_SUCCESS_PREFIX), (total_fee, reply)
    assert slip(order["pay_id"])[0] == "OK"


@pytest.mark.parametrize("total_fee", ["2500.5", "2500.01", "+2500", "2.5e3", "9223372036854775808"])
def test_a_signed_wechat_notification_of_no_exact_amount_is_refused(total_fee):
    order = buy_ok("wx.qrcode")
    st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], total_fee, cash_fee="2500")))
    assert st == 200 and not reply.startswith(WX_SUCCESS_PREFIX), (total_fee, reply)
    assert slip(order["pay_id"])[0] == "WAIT"
    assert "notified no readable amount" in verdicts(order["pay_id"])[-1][1]


# ---------------------------------------------------------------------------------------------
# 2. Alipay's charset: one orderpay reads, or refused


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "Utf-8", "gbk", "GBK", "gb2312", "GB2312"])
def test_an_alipay_notification_in_a_charset_orderpay_reads_settles(charset):
    order = buy_ok("zfb.qrcode")
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "25.00", charset=charset))
    assert (st, reply) == (200, "success"), (charset, reply, verdicts(order["pay_id"]))
    assert slip(order["pay_id"])[0] == "OK"


def test_an_alipay_notification_without_a_charset_is_utf8():
    order = buy_ok("zfb.qrcode")
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "25.00", drop=("charset",)))
    assert (st, reply) == (200, "success"), reply
    assert slip(order["pay_id"])[0] == "OK"


@pytest.mark.parametrize("charset, shown", [
    ("iso-8859-1", '"iso-8859-1"'), ("latin1", '"latin1"'), ("ISO-8859-1", '"ISO-8859-1"'), ("utf8", '"utf8"'),
    ("utf-16", '"utf-16"'), ("big5", '"big5"'), ("x", '"x"'), ("utf-8 ", '"utf-8 "'),
    ("\x1b[31mgbk", '"\\x1b[31mgbk"'), ("g" * 60, '"' + "g" * 40 + '..."'),
])
def test_an_alipay_notification_in_another_charset_is_refused_with_its_name(charset, shown):
    order = buy_ok("zfb.qrcode")
    st, reply = post_zfb_params(zfb_form(order["pay_id"], "25.00", charset=charset))
    assert (st, reply) == (200, "fail"), (charset, reply)
    assert slip(order["pay_id"])[0] == "WAIT"
    verdict, reason = verdicts(order["pay_id"])[-1]
    assert verdict == "rejected", reason
    assert "charset %s is not one orderpay reads (utf-8, gbk, gb2312)" % shown in reason, reason


def zfb_return_url(params):
    return "%s/api/%s/pay/re_zfb?%s" % (STACK["ORDERPAY_URL"], STACK["DEMO_SITE"], urllib.parse.urlencode(params))


def test_an_alipay_return_in_another_charset_is_refused_and_in_a_known_one_verifies():
    order = buy_ok("zfb.qrcode")
    for charset in ("latin1", "iso-8859-1"):
        st, body, raw, _ = http("GET", zfb_return_url(zfb_form(order["pay_id"], "25.00", charset=charset)),
                                headers={"Accept": "application/json"})
        assert st == 400 and body["errCode"] == "e.www.api.bad_request", raw
        assert body["msg"] == ('return parameters do not verify: charset "%s" is not one orderpay reads '
                               "(utf-8, gbk, gb2312)" % charset), raw
    st, body, raw, _ = http("GET", zfb_return_url(zfb_form(order["pay_id"], "25.00", charset="GBK")),
                            headers={"Accept": "application/json"})
    assert st == 200 and body["data"]["verified"] is True, raw
    assert slip(order["pay_id"])[0] == "WAIT"  # a return never settles


# ---------------------------------------------------------------------------------------------
# 3. WeChat v2's return_code FAIL: no payment, acknowledged, its reason quoted


def wx_reason(slip_id):
    return psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' ORDER BY id DESC LIMIT 1"
                % slip_id).split("|", 1)


@pytest.mark.parametrize("drop_amount", [False, True])
def test_a_signed_wechat_return_code_fail_is_no_payment_and_names_return_code_and_msg(drop_amount):
    order = buy_ok("wx.qrcode")
    fields = wx_fields(order["pay_id"], 2500, return_code="FAIL", return_msg="签名失败", result_code="SUCCESS")
    if drop_amount:  # WeChat's FAIL messages carry no business fields: nothing to check them against
        fields = {k: v for k, v in fields.items() if k not in ("total_fee", "cash_fee", "fee_type")}
    st, reply = post_wx(wx_xml(fields))
    # PROTOCOLS.md §1.5: the reply that stops retries, for a message that is no payment.
    assert st == 200 and reply == ("<xml><return_code><![CDATA[SUCCESS]]></return_code>"
                                   "<return_msg><![CDATA[OK]]></return_msg></xml>"), reply
    assert slip(order["pay_id"])[0] == "WAIT"
    verdict, reason = wx_reason(order["pay_id"])
    assert verdict == "ignored", (verdict, reason)
    assert reason == "not paid: return_code FAIL, return_msg 签名失败", reason


def test_a_wechat_return_msg_is_quoted_blanked_and_cut():
    order = buy_ok("wx.qrcode")
    msg = "bad\tline\x7f" + "错" * 100
    st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], 2500, return_code="FAIL", return_msg=msg)))
    assert st == 200 and reply.startswith(WX_SUCCESS_PREFIX), reply
    verdict, reason = wx_reason(order["pay_id"])
    assert verdict == "ignored"
    head = "not paid: return_code FAIL, return_msg "
    assert reason.startswith(head + "bad line ") and reason.endswith("错…"), reason
    assert len(reason[len(head):-1].encode()) <= 128, reason
    # Without a return_msg the reason says so.
    order = buy_ok("wx.qrcode")
    post_wx(wx_xml(wx_fields(order["pay_id"], 2500, return_code="FAIL")))
    assert wx_reason(order["pay_id"])[1] == "not paid: return_code FAIL, return_msg (none)"


def test_a_wechat_result_code_fail_is_still_reported_as_result_code():
    order = buy_ok("wx.qrcode")
    st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], 2500, result_code="FAIL")))
    assert st == 200 and reply.startswith(WX_SUCCESS_PREFIX), reply
    assert wx_reason(order["pay_id"]) == ["ignored", "not paid: FAIL"]


def test_an_unsigned_wechat_return_code_fail_is_refused():
    order = buy_ok("wx.qrcode")
    xml = ("<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[x]]></return_msg>"
           "<out_trade_no>%s</out_trade_no></xml>" % order["pay_id"])
    st, reply = post_wx(xml)
    assert st == 200 and not reply.startswith(WX_SUCCESS_PREFIX), reply
    assert slip(order["pay_id"])[0] == "WAIT"

