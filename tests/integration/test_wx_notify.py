"""pay/re_wx under duplicates, forgeries and hostile XML: one settlement, exact replies, nothing
changed on a bad message, every message in the inbox with its verdict."""

import pytest

from conftest import STACK, api, cli, psql
from helpers import buy_ok, check, db_row, inbox, sim_pay

SUCCESS = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"


def order_state(order):
    return db_row("SELECT o.or_st, s.st, coalesce(o.ok_at::text, '') FROM orders o JOIN pay_slips s "
                  "ON s.id = o.pay_id WHERE o.id = '%s'" % order["id"])


def test_twenty_duplicates_settle_once():
    order = buy_ok("wx.qrcode")
    result = sim_pay(order["pay_id"], times="20")
    assert result["sent"] == 20
    bodies = [r["body"] for r in result["replies"]]
    assert bodies == [SUCCESS] * 20, bodies
    verdicts = [v for v, _ in inbox(order["pay_id"])]
    assert len(verdicts) == 20
    assert verdicts.count("settled") == 1 and verdicts.count("duplicate") == 19, verdicts
    st = order_state(order)
    assert st[0] == "OK" and st[1] == "OK" and st[2]
    ok_at = check(order["id"])[1]["data"]["ok_at"]
    # A late resend an hour later changes nothing either.
    sim_pay(order["pay_id"])
    assert check(order["id"])[1]["data"]["ok_at"] == ok_at


def assert_rejected_unchanged(order, tamper, reason_part):
    result = sim_pay(order["pay_id"], tamper=tamper)
    reply = result["replies"][0]["body"]
    assert reply.startswith("<xml><return_code><![CDATA[FAIL]]>"), reply
    assert order_state(order)[:2] == ["WT", "WAIT"]
    last = db_row("SELECT verdict, reason FROM notifications WHERE position('%s'::bytea in body) > 0 "
                  "ORDER BY id DESC LIMIT 1" % order["pay_id"])
    assert last[0] == "rejected", last
    assert reason_part in last[1], last


@pytest.mark.parametrize("tamper, reason_part", [
    ("sign", "signature invalid"),
    ("amount", "signature invalid"),  # changed, old sign
    ("amount_resigned", "amount"),  # changed and signed again with the merchant key
    ("appid", "app_id"),
    ("doctype", "doctype"),
    # A declared encoding other than UTF-8 would make another reader decode the signed bytes
    # differently; a comment inside a signed value is dropped by lenient readers, which would then
    # verify the old signature over a document that is not what was signed.
    ("gbk_declaration", "malformed"),
    ("comment", "unexpected node"),
])
def test_tampered_notification_is_rejected(tamper, reason_part):
    order = buy_ok("wx.qrcode")
    assert_rejected_unchanged(order, tamper, reason_part)


def test_a_notification_written_another_way_settles_once():
    # The same signed values as a pretty-printing sender writes them: a byte order mark, the XML
    # declaration, a comment before the root, CRLF indentation, character references in every
    # value and no CDATA. Our own XML parser (it replaced libxml2) reads exactly those values, so
    # the signature verifies and the order settles, once: the plain resend is a duplicate.
    order = buy_ok("wx.qrcode")
    result = sim_pay(order["pay_id"], tamper="pretty")
    assert [r["body"] for r in result["replies"]] == [SUCCESS], result
    assert order_state(order)[:2] == ["OK", "OK"]
    sim_pay(order["pay_id"])
    assert sorted(v for v, _ in inbox(order["pay_id"])) == ["duplicate", "settled"]


def test_a_signed_notification_for_another_amount_is_listed_by_reconcile_at_once():
    # WeChat's own signature on another total_fee: not settled, and the operator hears of it at
    # once (MISMATCH) instead of ten minutes later as UNKNOWN; the true notification settles it.
    order = buy_ok("wx.qrcode")
    assert_rejected_unchanged(order, "amount_resigned", "amount")
    out = cli("reconcile", "--min-age", "3600").stdout
    line = [x for x in out.splitlines() if order["pay_id"] in x]
    assert line and line[0].startswith("MISMATCH") and "notified 2501, slip 2500" in line[0], out
    sim_pay(order["pay_id"])
    assert order_state(order)[:2] == ["OK", "OK"]
    assert order["pay_id"] not in cli("reconcile", "--min-age", "3600").stdout


def test_garbage_and_unsigned_posts():
    for body in ("not xml", "<xml><out_trade_no>x</out_trade_no><total_fee>1</total_fee></xml>", ""):
        st, _, raw, headers = api("POST", "re_wx", raw_body=body, headers={"Content-Type": "text/xml"})
        assert st == 200, raw
        assert raw.startswith(b"<xml><return_code><![CDATA[FAIL]]>"), raw
        assert headers["content-type"].startswith("text/xml")


def test_notify_verify_cli_explains(tmp_path):
    order = buy_ok("wx.qrcode")
    sim_pay(order["pay_id"], tamper="amount_resigned")
    body = psql("SELECT encode(body, 'escape') FROM notifications WHERE position('%s'::bytea in body) > 0 "
                "ORDER BY id DESC LIMIT 1" % order["pay_id"])
    f = tmp_path / "notify.xml"
    f.write_text(body)
    res = cli("notify", "verify", "--site", STACK["DEMO_SITE"], "--body", str(f), check=False)
    assert res.returncode == 0, res.stdout + res.stderr  # the signature itself is valid
    lines = res.stdout.splitlines()
    assert lines[0].startswith("PASS signature")
    assert any(line.startswith("FAIL amount") for line in lines), res.stdout
    # One changed byte in a signed value: the signature fails and the exit code says so.
    f.write_text(body.replace("<openid>", "<openid>x", 1) if "<openid>" in body else body.replace("CNY", "USD"))
    res = cli("notify", "verify", "--site", STACK["DEMO_SITE"], "--body", str(f), check=False)
    assert res.returncode == 1 and res.stdout.startswith("FAIL signature"), res.stdout
    assert order_state(order)[:2] == ["WT", "WAIT"]  # verify changed nothing
