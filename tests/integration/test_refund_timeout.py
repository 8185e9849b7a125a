"""A refund whose provider answers only after orderpay's HTTP timeout (http.timeout_ms, 10 s), for
Alipay, PayPal and WeChat Pay v3 (WeChat v2: test_wx_refund.py): paysim's `sim:timeout` knob
records the refund as done, then sleeps 11 s before answering. orderpay must give up on the call,
leave the refund PROCESSING (the outcome is unknown, the amount still counted as taken), and
`orderpay reconcile` must then find it done by query (or by the repeated request id) and make it
OK, with the refunded total the same at both ends and nothing refunded twice; a reconcile while
PayPal or WeChat v3 cannot be reached must leave it PROCESSING, not FAIL it."""

import json
import os
import socket
import subprocess
import time
import uuid

import pytest
from conftest import STACK, cli, http, sim
from helpers import buy_ok, db_row
from test_paypal_refund import SITE as PP_SITE
from test_paypal_refund import paid_paypal_order
from test_wx3_refund import V3
from test_wx3_refund import paid_order as paid_v3_order

KNOB = "[sim:timeout] answer after the caller gave up"
TIMEOUT_S = 10  # orderpay's http.timeout_ms in the stack (its default)


def api_key(site):
    return cli("apikey", "issue", "--site", site).stdout.strip()


def refund(key, site, order_id, amount, reason=KNOB):
    body = {"order": order_id, "reason": reason, "idempotency_key": uuid.uuid4().hex, "amount": amount}
    return http("POST", "%s/api/%s/admin/refund" % (STACK["ORDERPAY_URL"], site), json.dumps(body).encode(),
                {"Authorization": "Bearer " + key, "Content-Type": "application/json"})


def our_refunds(order_id):
    """(st, amount) of each of the order's refunds, oldest first."""
    rows = db_row("SELECT string_agg(st || ':' || amount, ',' ORDER BY ct) FROM refunds WHERE order_id = '%s'"
                  % order_id)
    return [tuple(x.split(":")) for x in rows[0].split(",")] if rows and rows[0] else []


def timed_out_refund(key, site, order, amount, minor):
    """Asks for a refund with the knob: orderpay gives up after its timeout, the refund is left
    PROCESSING and its amount still counted as taken. Returns the refund."""
    started = time.monotonic()
    status, body, raw, _ = refund(key, site, order["id"], amount)
    took = time.monotonic() - started
    assert status == 200, raw
    r = body["data"]["refund"]
    # A real timeout: orderpay waited its full http.timeout_ms, and did not wait for the answer.
    assert TIMEOUT_S - 0.5 <= took < TIMEOUT_S + 1, took
    assert r["st"] == "PROCESSING" and "timeout" in r["note"], r
    assert body["data"]["order"]["refunded"] == 0 and body["data"]["order"]["or_st"] == "OK", body["data"]
    assert our_refunds(order["id"]) == [("PROCESSING", str(minor))]
    return r


def reconcile_during_outage(tmp_path, rid, gateway_key):
    """`orderpay reconcile` while the provider cannot be reached (its gateway a closed port): the
    query gets no answer and neither does the repeated refund request. The refund was sent before
    and the provider carried it out, so it must stay PROCESSING, its amount counted. It was failed
    (PayPal: no token; WeChat v3: connection refused), which freed the money for a second refund."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    lines = open(STACK["ORDERPAY_CONFIG"]).read().splitlines()
    conf = [("%s = https://127.0.0.1:%d" % (gateway_key, port)) if x.startswith(gateway_key + " =") else x
            for x in lines]
    assert conf != lines, gateway_key
    path = tmp_path / "outage.conf"
    path.write_text("\n".join(conf) + "\n")
    out = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "reconcile", "--min-age", "0"],
                         env=dict(os.environ, ORDERPAY_CONFIG=str(path)), capture_output=True, text=True,
                         timeout=600)
    st, note = db_row("SELECT st, note FROM refunds WHERE id = '%s'" % rid)
    # Either the repeat did not get out, or (PayPal) the order it first reads for the refund could
    # not be read, so nothing was sent at all.
    assert st == "PROCESSING" and ("repeat not sent" in note or "refund lookup: " in note), \
        (st, note, out.stdout[-500:], out.stderr[-500:])


def reconcile_resolves(rid):
    out = cli("reconcile", "--min-age", "0").stdout
    assert "REFUNDING " + rid not in out, out
    st = db_row("SELECT st FROM refunds WHERE id = '%s'" % rid)[0]
    assert st == "OK", (st, out)


def test_alipay_refund_timeout_resolved_by_reconcile_query():
    key = api_key(STACK["DEMO_SITE"])
    order = buy_ok("zfb.scan", auth_code="280000000000000002")  # 25.00 CNY, paid at once
    assert order["or_st"] == "OK", order
    r = timed_out_refund(key, STACK["DEMO_SITE"], order, "10.00", 1000)
    # Alipay refunded it; while unknown, the rest that fits is 15.00, not more.
    status, body, raw, _ = refund(key, STACK["DEMO_SITE"], order["id"], "15.01", reason="more")
    assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw
    reconcile_resolves(r["id"])
    cli("reconcile", "--min-age", "0")  # again: nothing changes, nothing asked again
    status, trade, raw, _ = sim("/sim/trade", {"out_trade_no": order["pay_id"]}, method="GET")
    assert status == 200 and trade["data"]["refund_fee"] == 1000, raw
    assert our_refunds(order["id"]) == [("OK", "1000")]
    # One refund request at Alipay (the query found it: no second alipay.trade.refund).
    assert db_row("SELECT count(*) FROM paysim.zfb_refunds WHERE out_trade_no = '%s'" % order["pay_id"]) == ["1"]


@pytest.mark.skipif("DEMO_PAYPAL_CLIENT_ID" not in STACK, reason="stack.env has no PayPal merchant")
def test_paypal_refund_timeout_resolved_by_reconcile_once(tmp_path):
    key = api_key(PP_SITE)
    order = paid_paypal_order()  # 9.00 USD
    r = timed_out_refund(key, PP_SITE, order, "4.00", 400)
    at_paypal = db_row("SELECT status, minor, calls FROM paysim.pp_refunds WHERE invoice_id = '%s'" % r["id"])
    assert at_paypal == ["COMPLETED", "400", "1"], at_paypal
    reconcile_during_outage(tmp_path, r["id"], "paypal.gateway")
    status, body, raw, _ = refund(key, PP_SITE, order["id"], "5.01", reason="more")
    assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw
    reconcile_resolves(r["id"])
    # Reconcile found the refund in PayPal's order by its invoice id and sent nothing again: one
    # refund, asked for once.
    rows = db_row("SELECT count(*), sum(minor), max(calls) FROM paysim.pp_refunds WHERE order_id ="
                  " (SELECT id FROM paysim.pp_orders WHERE custom_id = '%s')" % order["pay_id"])
    assert rows == ["1", "400", "1"], rows
    status, seen, raw, _ = sim("/sim/refunds", {"out_trade_no": order["pay_id"], "provider": "paypal"}, method="GET")
    assert status == 200 and seen["data"]["refunded"] == 400 and seen["data"]["pending"] == 0, raw
    assert our_refunds(order["id"]) == [("OK", "400")]


@pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")
def test_wx3_refund_timeout_resolved_by_reconcile_query(tmp_path):
    key = api_key(V3)
    order = paid_v3_order()
    r = timed_out_refund(key, V3, order, "2.50", 250)
    assert db_row("SELECT status, calls FROM paysim.wx3_refunds WHERE out_refund_no = '%s'" % r["id"]) == [
        "SUCCESS", "1"]
    reconcile_during_outage(tmp_path, r["id"], "wxpay.gateway")
    reconcile_resolves(r["id"])
    # Found by the refund query; the refund was never asked for again.
    status, calls, queries = db_row("SELECT status, calls, queries FROM paysim.wx3_refunds"
                                    " WHERE out_refund_no = '%s'" % r["id"])
    assert (status, calls) == ("SUCCESS", "1") and int(queries) >= 1, (status, calls, queries)
    status, seen, raw, _ = sim("/sim/refunds", {"out_trade_no": order["pay_id"], "provider": "wx"}, method="GET")
    assert status == 200 and seen["data"]["refunded"] == 250 and len(seen["data"]["refunds"]) == 1, raw
    assert our_refunds(order["id"]) == [("OK", "250")]
