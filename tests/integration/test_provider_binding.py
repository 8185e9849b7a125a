"""Notifications are bound to their slip: the provider whose endpoint received one must have
issued the slip, its merchant's key must have signed it, a transaction id counts once, every
stored notification reaches a verdict (replay), and a superseded slip is asked about until its
provider confirms it closed. Notifications here are built and signed independently of the C++
code (hashlib for WeChat v2 MD5, the openssl command for Alipay RSA2)."""

import base64
import hashlib
import http.client
import secrets
import subprocess
import urllib.parse

import openapi_check
from conftest import STACK, api, cli, psql, sim
from helpers import buy_ok, check, db_row, sim_pay, wait_state

WX_FAIL_PREFIX = "<xml><return_code><![CDATA[FAIL]]>"
WX_SUCCESS_PREFIX = "<xml><return_code><![CDATA[SUCCESS]]>"


def wx_key():
    with open(STACK["DEMO_WX_KEY_FILE"], encoding="utf-8") as f:
        return f.read().strip()


def wx_notification(slip_id, total_fee, txn_id=None, **override):
    fields = {
        "appid": STACK["DEMO_WX_APP_ID"], "mch_id": STACK["DEMO_WX_MCH_ID"],
        "nonce_str": secrets.token_hex(8), "out_trade_no": slip_id,
        "transaction_id": txn_id or "42" + secrets.token_hex(10), "total_fee": str(total_fee),
        "fee_type": "CNY", "result_code": "SUCCESS", "return_code": "SUCCESS", "trade_type": "NATIVE",
        "openid": "oTestOpenid", "bank_type": "OTHERS", "cash_fee": str(total_fee), "time_end": "20261201120000",
    }
    fields.update(override)
    text = "&".join("%s=%s" % (k, fields[k]) for k in sorted(fields) if fields[k]) + "&key=" + wx_key()
    fields["sign"] = hashlib.md5(text.encode()).hexdigest().upper()
    return "<xml>" + "".join("<%s><![CDATA[%s]]></%s>" % (k, v, k) for k, v in fields.items()) + "</xml>"


def zfb_notification(slip_id, total_amount, trade_no=None):
    params = {
        "notify_time": "2026-12-01 12:00:00", "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16), "app_id": STACK["DEMO_ZFB_APP_ID"], "charset": "utf-8",
        "version": "1.0", "trade_no": trade_no or "2026120122001" + secrets.token_hex(6),
        "out_trade_no": slip_id, "seller_id": STACK["DEMO_ZFB_SELLER_ID"], "total_amount": total_amount,
        "trade_status": "TRADE_SUCCESS", "buyer_logon_id": "buy***@example.com",
    }
    content = "&".join("%s=%s" % (k, params[k]) for k in sorted(params))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", STACK["DEMO_ZFB_ALIPAY_PRIVATE_KEY"]],
                         input=content.encode(), capture_output=True, check=True).stdout
    params["sign"] = base64.b64encode(sig).decode()
    params["sign_type"] = "RSA2"
    return urllib.parse.urlencode(params)


def post_wx(xml, headers=None):
    hdrs = {"Content-Type": "text/xml"}
    hdrs.update(headers or {})
    st, _, raw, _ = api("POST", "re_wx", raw_body=xml, headers=hdrs)
    return st, raw.decode()


def post_zfb(form):
    st, _, raw, _ = api("POST", "re_zfb", raw_body=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    return st, raw.decode()


def slip_row(slip_id):
    return db_row("SELECT s.st, coalesce(s.provider_txn_id, ''), o.or_st FROM pay_slips s "
                  "JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % slip_id)


def last_verdict(provider, slip_id):
    return db_row("SELECT verdict, reason FROM notifications WHERE provider = '%s' AND "
                  "position('%s'::bytea in body) > 0 ORDER BY id DESC LIMIT 1" % (provider, slip_id))


def test_independently_signed_notifications_settle():
    """The builders below are right: an honest notification for each provider settles."""
    wx_order = buy_ok("wx.qrcode")
    st, reply = post_wx(wx_notification(wx_order["pay_id"], 2500))
    assert st == 200 and reply.startswith(WX_SUCCESS_PREFIX), reply
    assert slip_row(wx_order["pay_id"])[0] == "OK"
    zfb_order = buy_ok("zfb.qrcode")
    st, reply = post_zfb(zfb_notification(zfb_order["pay_id"], "25.00"))
    assert (st, reply) == (200, "success")
    assert slip_row(zfb_order["pay_id"])[0] == "OK"


def test_wechat_notification_naming_an_alipay_slip_is_refused():
    order = buy_ok("zfb.qrcode")
    before = slip_row(order["pay_id"])
    st, reply = post_wx(wx_notification(order["pay_id"], 2500))
    assert st == 200 and reply.startswith(WX_FAIL_PREFIX), reply
    assert slip_row(order["pay_id"]) == before == ["WAIT", "", "WT"]
    verdict = last_verdict("wx", order["pay_id"])
    assert verdict[0] == "rejected" and "provider mismatch" in verdict[1], verdict
    assert "issued by zfb" in verdict[1], verdict


def test_alipay_notification_naming_a_wechat_slip_is_refused():
    order = buy_ok("wx.qrcode")
    before = slip_row(order["pay_id"])
    st, reply = post_zfb(zfb_notification(order["pay_id"], "25.00"))
    assert (st, reply) == (200, "fail")
    assert slip_row(order["pay_id"]) == before == ["WAIT", "", "WT"]
    verdict = last_verdict("zfb", order["pay_id"])
    assert verdict[0] == "rejected" and "provider mismatch" in verdict[1] and "issued by wx" in verdict[1], verdict


def test_notify_verify_names_the_provider_mismatch(tmp_path):
    order = buy_ok("zfb.qrcode")
    body = tmp_path / "wx.xml"
    body.write_text(wx_notification(order["pay_id"], 2500))
    res = cli("notify", "verify", "--site", STACK["DEMO_SITE"], "--provider", "wx", "--body", body, check=False)
    assert res.returncode == 1 and "provider mismatch" in res.stdout, res.stdout + res.stderr


def test_reused_transaction_id_is_refused():
    first = buy_ok("wx.qrcode")
    txn = "4200009999" + secrets.token_hex(6)
    st, reply = post_wx(wx_notification(first["pay_id"], 2500, txn_id=txn))
    assert reply.startswith(WX_SUCCESS_PREFIX), reply
    second = buy_ok("wx.qrcode")
    st, reply = post_wx(wx_notification(second["pay_id"], 2500, txn_id=txn))
    assert st == 200 and reply.startswith(WX_FAIL_PREFIX), reply
    assert slip_row(second["pay_id"]) == ["WAIT", "", "WT"]
    verdict = last_verdict("wx", second["pay_id"])
    assert verdict[0] == "rejected" and verdict[1].startswith("txn_id_reused"), verdict
    # The same again is refused the same way, never a 5xx.
    st, reply = post_wx(wx_notification(second["pay_id"], 2500, txn_id=txn))
    assert st == 200 and reply.startswith(WX_FAIL_PREFIX), reply


def test_odd_header_byte_still_settles_and_is_stored():
    order = buy_ok("wx.qrcode")
    conn = http.client.HTTPConnection("127.0.0.1", int(STACK["API_PORT"]), timeout=30)
    body = wx_notification(order["pay_id"], 2500).encode()
    conn.putrequest("POST", "/api/%s/pay/re_wx" % STACK["DEMO_SITE"])
    conn.putheader("Content-Type", "text/xml")
    conn.putheader("Content-Length", str(len(body)))
    conn.putheader("X-Forwarded-For", b"caf\xe9")
    conn.endheaders(body)
    resp = conn.getresponse()
    raw = resp.read()
    openapi_check.check_reply("POST", "/api/%s/pay/re_wx" % STACK["DEMO_SITE"], resp.status, dict(resp.getheaders()), raw)
    reply = raw.decode()
    assert resp.status == 200 and reply.startswith(WX_SUCCESS_PREFIX), reply
    assert slip_row(order["pay_id"])[0] == "OK"
    stored = db_row("SELECT verdict, header_form FROM notifications WHERE slip_id = '%s'" % order["pay_id"])
    assert stored[0] == "settled" and "HTTP_X_FORWARDED_FOR=caf%E9" in stored[1], stored


def test_received_row_left_by_a_dying_worker_is_replayed():
    order = buy_ok("wx.qrcode")
    xml = wx_notification(order["pay_id"], 2500)
    # Exactly what a worker killed between storing and deciding leaves behind.
    row = psql("INSERT INTO notifications (provider, site_id, method, header_form, body, ct) VALUES "
               "('wx', '%s', 'POST', 'CONTENT_TYPE=text%%2Fxml', convert_to('%s', 'UTF8'), "
               "now() - interval '5 minutes') RETURNING id" % (STACK["DEMO_SITE"], xml)).splitlines()[0]
    listed = cli("inbox", "list", "--verdict", "received", "--json").stdout
    assert '"id":%s,' % row in listed, listed
    res = cli("inbox", "replay", "--older-than", "60s")
    assert "%s\twx\tsettled" % row in res.stdout, res.stdout
    assert wait_state(order["id"], "OK", timeout=1.0)["or_st"] == "OK"
    assert db_row("SELECT verdict, slip_id FROM notifications WHERE id = %s" % row) == ["settled", order["pay_id"]]
    # Idempotent: nothing is left to replay, and a second run changes nothing.
    again = cli("inbox", "replay", "--older-than", "0s").stdout
    assert "\t%s\t" % row not in again and "%s\t" % row not in again.splitlines()[0], again


def test_failure_while_deciding_answers_in_provider_format_and_is_replayed():
    order = buy_ok("wx.qrcode")
    slip = order["pay_id"]
    # A trigger makes settling this one slip fail, as a database fault in the middle would.
    psql("CREATE OR REPLACE FUNCTION test_boom_%s() RETURNS trigger LANGUAGE plpgsql AS "
         "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$; "
         "CREATE TRIGGER test_boom_%s BEFORE UPDATE ON pay_slips FOR EACH ROW "
         "WHEN (NEW.id = '%s' AND NEW.st = 'OK') EXECUTE FUNCTION test_boom_%s()" % (slip, slip, slip, slip))
    try:
        st, reply = post_wx(wx_notification(slip, 2500))
        assert st == 500 and reply.startswith(WX_FAIL_PREFIX), (st, reply)
        verdict = db_row("SELECT verdict, reason FROM notifications WHERE slip_id IS NULL AND "
                         "position('%s'::bytea in body) > 0 ORDER BY id DESC LIMIT 1" % slip)
        assert verdict[0] == "error" and "injected fault" in verdict[1], verdict
        assert slip_row(slip)[0] == "WAIT"
    finally:
        psql("DROP TRIGGER test_boom_%s ON pay_slips; DROP FUNCTION test_boom_%s()" % (slip, slip))
    res = cli("inbox", "replay", "--verdict", "error", "--older-than", "0s")
    assert "settled" in res.stdout, res.stdout
    assert slip_row(slip)[0] == "OK"


def test_unknown_provider_route_is_404():
    st, body, raw, _ = api("POST", "re_stripe", raw_body="{}", headers={"Content-Type": "application/json"})
    assert st == 404 and body["errCode"] == "e.www.api.noexists", raw


def test_superseded_slip_paid_with_lost_notification_is_found_by_reconcile():
    order = buy_ok("wx.qrcode")
    old = order["pay_id"]
    st, _, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "force": "true"})
    assert st == 200, raw
    new = check(order["id"])[1]["data"]["pay_id"]
    assert new != old and db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % old) == ["FAIL", "t"]
    # The buyer pays the old code at the provider anyway, and that notification is lost.
    result = sim_pay(old, force="1", times="0")
    assert result["sent"] == 0
    assert check(order["id"])[1]["data"]["or_st"] == "WT"
    res = cli("reconcile")
    assert "PAID    %s" % old in res.stdout, res.stdout
    paid = check(order["id"])[1]["data"]
    assert paid["or_st"] == "OK" and paid["pay_id"] == old
    assert db_row("SELECT st, provider_txn_id FROM pay_slips WHERE id = '%s'" % old) == ["OK", result["transaction_id"]]
    # The new slip, never paid, can no longer take money for a paid order: the next reconcile
    # fails it and closes it at the provider (it was still payable there).
    out = cli("reconcile").stdout
    assert "CLOSING %s order %s" % (new, order["id"]) in out, out
    assert db_row("SELECT st, superseded FROM pay_slips WHERE id = '%s'" % new) == ["FAIL", "t"]
    st, trade, raw, _ = sim("/sim/trade", {"out_trade_no": new}, method="GET")
    assert st == 200 and trade["data"]["state"] == "CLOSED", raw


def test_reconcile_confirms_a_closed_superseded_slip_and_stops_asking():
    order = buy_ok("zfb.qrcode")
    old = order["pay_id"]
    api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "force": "true"})
    cli("reconcile")
    assert db_row("SELECT st, closed_at IS NOT NULL FROM pay_slips WHERE id = '%s'" % old) == ["FAIL", "t"]
    assert check(order["id"])[1]["data"]["or_st"] == "WT"


def test_notification_fields_that_are_not_utf8_are_refused_and_stored():
    order = buy_ok("zfb.qrcode")
    for form in ("out_trade_no=%ff&trade_status=TRADE_SUCCESS&sign=x",
                 "out_trade_no=" + order["pay_id"] + "&app_id=%ff%fe&total_amount=25.00&sign=x&sign_type=RSA2",
                 "out_trade_no=%00&sign=x"):
        st, reply = post_zfb(form)
        assert (st, reply) == (200, "fail"), (form, st, reply)
    rows = psql("SELECT verdict FROM notifications WHERE provider = 'zfb' AND position('%ff'::bytea in body) > 0")
    assert rows and set(rows.splitlines()) == {"rejected"}, rows
    assert slip_row(order["pay_id"])[0] == "WAIT"
    assert psql("SELECT count(*) FROM notifications WHERE verdict = 'received' AND "
                "ct < now() - interval '1 second' AND site_id = '%s'" % STACK["DEMO_SITE"]) == "0"
