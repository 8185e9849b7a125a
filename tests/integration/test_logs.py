"""log_format = json and nginx's $request_id: nginx passes its id to orderpayd (REQUEST_ID) and
answers it as X-Request-Id; orderpayd logs it and stores it on the notification row; in json
format every line is one JSON object with the request's context and one line per request."""

import json
import os
import subprocess
import tempfile

from conftest import STACK, api, psql
from helpers import buy_ok, wait_for
from test_fcgi_raw import handed_socket_pool, request

FORGED = ("<xml><appid><![CDATA[wxd0000000000demo]]></appid><mch_id>1900000109</mch_id>"
          "<out_trade_no>%s</out_trade_no><result_code>SUCCESS</result_code><return_code>SUCCESS"
          "</return_code><total_fee>1250</total_fee><sign>00000000000000000000000000000000</sign></xml>")


def test_request_id_is_answered_logged_and_stored_with_the_notification():
    order = buy_ok("wx.qrcode")
    status, _, raw, headers = api("POST", "re_wx", raw_body=FORGED % order["pay_id"],
                                  headers={"Content-Type": "text/xml"})
    assert status == 200 and b"FAIL" in raw, raw
    rid = headers.get("x-request-id", "")
    assert len(rid) == 32 and all(c in "0123456789abcdef" for c in rid), headers
    row = psql("SELECT request_id, verdict FROM notifications WHERE request_id = '%s'" % rid)
    assert row == rid + "|rejected", row
    # The rejection's log line names the request (text format: "req=<id>").
    log = os.path.join(STACK["STACK_LOG_DIR"], "orderpayd.log")

    def logged():
        with open(log, encoding="utf-8", errors="replace") as f:
            return any("req=" + rid in line and "rejected" in line for line in f)
    assert wait_for(logged, 5), "no log line with req=" + rid


def test_every_reply_carries_a_fresh_request_id():
    ids = {api("GET", "check", params={"id": "x"})[3].get("x-request-id") for _ in range(5)}
    assert None not in ids and len(ids) == 5, ids


def read_json_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_json_format_lines_with_context_and_one_line_per_request():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        logfile = os.path.join(tmp, "orderpayd.json.log")
        with handed_socket_pool(1, ORDERPAY_LOG_FORMAT="json", ORDERPAY_LOG_FILE=logfile) as (_, path, _u):
            status, _, _ = request("GET", "/healthz", path=path, extra={"REQUEST_ID": "abc123def456"})
            assert status == 200
            # A hostile id is dropped, never written into the line as it is.
            status, _, _ = request("GET", "/api/demo/pay/check", path=path,
                                   extra={"REQUEST_ID": 'x"}\n{"level":"forged', "QUERY_STRING": "id=zzz"})
            assert status == 401
            status, _, _ = request("GET", "/api/demo/pay/nope", path=path, extra={"REQUEST_ID": "r-2"})
            assert status == 404

            def three_requests():
                return len([x for x in read_json_lines(logfile) if x.get("msg") == "request"]) >= 3
            assert wait_for(three_requests, 10)
        lines = read_json_lines(logfile)  # every line parses, or json.loads raised
        for x in lines:
            assert {"time", "level", "pid", "msg"} <= set(x), x
            assert x["level"] in ("debug", "info", "warn", "error"), x
            assert x.get("level") != "forged"
        reqs = [x for x in lines if x.get("msg") == "request"]
        # (the pool's readiness probes are /healthz requests without an id)
        health = [x for x in reqs if x.get("request_id") == "abc123def456"]
        assert len(health) == 1 and health[0]["route"] == "healthz" and health[0]["status"] == 200, reqs
        assert isinstance(health[0]["duration_ms"], (int, float))
        check = [x for x in reqs if x.get("route") == "pay/check"]
        assert check and "request_id" not in check[0] and check[0]["status"] == 401, check
        other = [x for x in reqs if x.get("route") == "other"]
        assert other and other[0]["request_id"] == "r-2" and other[0]["status"] == 404, other
        # The master's lines (outside any request) are JSON too, without a request context.
        assert any("master started" in x["msg"] and "request_id" not in x for x in lines), lines[:3]


def test_bad_log_format_refuses_to_start():
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_LOG_FORMAT="xml")
    res = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=env,
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1 and "log_format" in res.stderr, res.stderr
