"""`orderpay inbox show ID`: one stored notification as it arrived, piped into `notify verify`
without psql (review s28-newuser); credentials never printed; JSON that parses whatever the body."""

import base64
import json
import os
import subprocess

import pytest

from conftest import STACK, cli, psql
from helpers import buy_ok, sim_pay, wait_state


def orderpay_env():
    return dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])


def stored_body(row_id):
    return bytes.fromhex(psql("SELECT encode(body, 'hex') FROM notifications WHERE id = %s" % row_id))


def show_raw(*args):
    return subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "inbox", "show", *map(str, args)],
                          env=orderpay_env(), capture_output=True, timeout=60)


def settled_wx_notification():
    order = buy_ok("wx.qrcode")
    sim_pay(order["pay_id"])
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    row = psql("SELECT id FROM notifications WHERE slip_id = '%s' AND verdict = 'settled'" % order["pay_id"])
    assert row, order
    return order, row


def test_a_stored_wechat_notification_is_shown_and_verifies_again_through_a_pipe():
    order, row = settled_wx_notification()
    text = cli("inbox", "show", row).stdout
    for line in ("id           %s" % row, "provider     wx", "site         %s" % STACK["DEMO_SITE"],
                 "route        POST /api/%s/pay/re_wx" % STACK["DEMO_SITE"], "slip         %s" % order["pay_id"],
                 "verdict      settled", "headers", "body (%d bytes)" % len(stored_body(row))):
        assert line in text.splitlines(), (line, text)
    assert "<xml>" in text and order["pay_id"] in text, text
    # --body-only: the stored bytes exactly, no newline added.
    raw = show_raw(row, "--body-only")
    assert raw.returncode == 0 and raw.stdout == stored_body(row) and raw.stderr == b"", raw
    # The pipe an operator runs: the slip is paid now, so the endpoint would record a duplicate.
    op = os.path.join(STACK["ORDERPAY_BIN"], "orderpay")
    pipe = subprocess.run("'%s' inbox show %s --body-only | '%s' notify verify --provider wx --body -" % (op, row, op),
                          shell=True, env=orderpay_env(), capture_output=True, text=True, timeout=60)
    assert pipe.returncode == 0, pipe
    assert "PASS signature" in pipe.stdout, pipe.stdout
    assert "verdict: would record a duplicate (slip already OK" in pipe.stdout, pipe.stdout
    # A byte changed on the way is caught: the pipe carries the signed bytes, nothing else.
    forged = stored_body(row).replace(b"<total_fee>", b"<total_fee>1", 1)
    bad = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "notify", "verify", "--provider", "wx",
                          "--body", "-"], input=forged, env=orderpay_env(), capture_output=True, timeout=60)
    assert bad.returncode == 1 and b"FAIL signature" in bad.stdout, bad
    shown = json.loads(cli("inbox", "show", row, "--json").stdout)
    assert shown["id"] == int(row) and shown["provider"] == "wx" and shown["verdict"] == "settled", shown
    assert shown["slip"] == order["pay_id"] and shown["method"] == "POST" and shown["body_encoding"] == "utf-8"
    assert shown["body"].encode() == stored_body(row) and shown["body_bytes"] == len(stored_body(row)), shown
    assert shown["route"] == "/api/%s/pay/re_wx" % STACK["DEMO_SITE"] and shown["received"].endswith("Z"), shown
    assert isinstance(shown["headers"], dict) and isinstance(shown["ct"], int), shown
    # nginx passes the type twice (CONTENT_TYPE, HTTP_CONTENT_TYPE): each name once, the JSON's too.
    names = [line.split(":")[0] for line in cli("inbox", "show", row, "--headers-only").stdout.splitlines()]
    assert names.count("Content-Type") == 1 and len(names) == len(set(names)) == len(shown["headers"]), names


def test_credentials_are_never_shown_and_a_body_that_is_not_utf8_keeps_the_json_whole():
    """A row as an older worker may have written it after migration 023: a cookie and an
    Authorization header stored, and a body of bytes that are not UTF-8 (a GBK form)."""
    body = b"trade_status=TRADE_SUCCESS&subject=\xb2\xe8\xb1\xad&x=\x1b[31m\n"
    form = ("CONTENT_TYPE=application%2Fx-www-form-urlencoded&HTTP_AUTHORIZATION=Bearer%20s3cret-auth"
            "&HTTP_COOKIE=session%3Ds3cret-cookie&HTTP_PROXY_AUTHORIZATION=Basic%20s3cret-proxy"
            "&HTTP_USER_AGENT=Mozilla%2F5.0")
    row = psql("INSERT INTO notifications (provider, site_id, body, header_form, verdict, reason) "
               "VALUES ('zfb', '%s', '\\x%s'::bytea, '%s', 'rejected', 'unverified: test') RETURNING id"
               % (STACK["DEMO_SITE"], body.hex(), form)).splitlines()[0]
    try:
        for args in ((), ("--json",), ("--headers-only",), ("--body-only",)):
            res = show_raw(row, *args)
            assert res.returncode == 0, (args, res)
            assert b"s3cret" not in res.stdout and b"s3cret" not in res.stderr, (args, res.stdout)
        text = show_raw(row).stdout
        assert b"\x1b" not in text and b"\\x1b[31m" in text, text  # no terminal escape reaches the screen
        assert b"User-Agent: Mozilla/5.0" in text and b"Content-Type: application/x-www-form-urlencoded" in text
        shown = json.loads(show_raw(row, "--json").stdout)
        assert shown["body_encoding"] == "base64" and base64.b64decode(shown["body"]) == body, shown
        assert set(shown["headers"]) == {"Content-Type", "User-Agent"}, shown
        assert show_raw(row, "--headers-only").stdout == \
            b"Content-Type: application/x-www-form-urlencoded\nUser-Agent: Mozilla/5.0\n"
        assert show_raw(row, "--body-only").stdout == body
    finally:
        psql("DELETE FROM notifications WHERE id = %s" % row)


def test_no_such_notification_is_one_line_and_a_bad_id_is_a_usage_error():
    missing = int(psql("SELECT coalesce(max(id), 0) + 1000000 FROM notifications"))
    res = cli("inbox", "show", missing, check=False)
    assert (res.returncode, res.stdout, res.stderr) == (1, "", "orderpay: no such notification %d\n" % missing), res
    for bad in ("abc", "-1", "1.5", "9" * 30, ""):
        res = cli("inbox", "show", bad, check=False)
        assert res.returncode == 2 and "usage" in res.stderr and res.stdout == "", (bad, res)
    res = cli("inbox", "show", check=False)
    assert res.returncode == 2 and "inbox show ID" in res.stderr, res
    res = cli("inbox", "show", "1", "--body-only", "--json", check=False)
    assert res.returncode == 2 and "one of --body-only" in res.stderr, res


@pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")
def test_a_wechat_v3_notification_verifies_again_with_its_headers_from_headers_only():
    """WeChat v3 signs the body with headers (Wechatpay-Signature, -Timestamp, -Nonce, -Serial):
    --headers-only writes them as `notify verify --headers` reads them."""
    from test_crash_before_settle import buy3_ok
    order = buy3_ok()
    sim_pay(order["pay_id"])
    row = psql("SELECT id FROM notifications WHERE slip_id = '%s' AND verdict = 'settled'" % order["pay_id"])
    assert row, order
    op = os.path.join(STACK["ORDERPAY_BIN"], "orderpay")
    res = subprocess.run("'{0}' inbox show {1} --body-only | '{0}' notify verify --provider wx "
                         "--headers <('{0}' inbox show {1} --headers-only) --body -".format(op, row),
                         shell=True, executable="/bin/bash", env=orderpay_env(), capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "PASS signature" in res.stdout, res
    assert "verdict: would record a duplicate (slip already OK" in res.stdout, res.stdout


def test_c1_controls_and_bidi_overrides_from_a_sender_never_reach_the_terminal():
    """UTF-8 C1 controls (CSI clears the screen, OSC sets the title) and bidi overrides in a body,
    a header and the reason are shown as bytes in the text output (review s29-diff M2); the body
    itself stays exact for `--body-only` and `--json`."""
    body = "hello\u009b2J\u009d0;pwned\u009c\u202eevil\u2067x".encode()
    form = "CONTENT_TYPE=text%2Fxml&HTTP_X_NOTE=a%C2%9B2Jb%E2%80%AE"
    row = psql("INSERT INTO notifications (provider, site_id, body, header_form, verdict, reason) "
               "VALUES ('wx', '%s', '\\x%s'::bytea, '%s', 'rejected', 'unverified: %s') RETURNING id"
               % (STACK["DEMO_SITE"], body.hex(), form, "r\u009b2J\u202e")).splitlines()[0]
    try:
        for args in ((), ("--headers-only",)):
            out = show_raw(row, *args).stdout
            for raw in (b"\xc2\x9b", b"\xc2\x9d", b"\xc2\x9c", b"\xe2\x80\xae", b"\xe2\x81\xa7"):
                assert raw not in out, (args, raw, out)
        text = show_raw(row).stdout
        assert b"hello\\xc2\\x9b2J" in text and b"a\\xc2\\x9b2Jb\\xe2\\x80\\xae" in text, text
        listed = cli("inbox", "list", "--limit", "50").stdout.encode()
        assert b"\xc2\x9b" not in listed and b"\xe2\x80\xae" not in listed
        assert show_raw(row, "--body-only").stdout == body
        assert json.loads(show_raw(row, "--json").stdout)["body"] == body.decode()
    finally:
        psql("DELETE FROM notifications WHERE id = %s" % row)
