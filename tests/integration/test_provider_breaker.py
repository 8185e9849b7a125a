"""The gateway circuit breaker (http.breaker_timeouts, http.breaker_open_ms; providers/breaker.hpp)
on an orderpayd of our own whose WeChat gateway is a fake that can hang: three calls in a row that
run into http.timeout_ms open it, and then a buy fails at once with 502 and its order, never sent
(the fake sees no call), while the rest of the shop answers; after the open period one call probes
the gateway and an answer closes the breaker. Before, every buy of a hanging gateway held a worker
for the whole timeout and /healthz and pay/check queued behind them. The shared dev stack runs
with the breaker off (its tests time paysim out on purpose)."""

import json
import os
import subprocess
import threading
import time

import pytest

from conftest import STACK, psql
from helpers import FakeGateway, own_orderpayd
from test_hostile_provider_values import fcgi, unifiedorder_answer

OPEN_MS = 2000


class Gw:
    hang = 0.0


def _answer(path, body):
    if Gw.hang:
        time.sleep(Gw.hang)
    return unifiedorder_answer()(path, body)


def start(threshold="3"):
    gw = FakeGateway(_answer)
    Gw.hang = 0
    own = own_orderpayd("hpb", ORDERPAY_WORKERS="2", ORDERPAY_WXPAY_GATEWAY=gw.url, ORDERPAY_HTTP_TIMEOUT_MS="700",
                        ORDERPAY_HTTP_CONNECT_TIMEOUT_MS="500", ORDERPAY_HTTP_BREAKER_TIMEOUTS=threshold,
                        ORDERPAY_HTTP_BREAKER_OPEN_MS=str(OPEN_MS))
    return gw, own


@pytest.fixture
def own():
    gw, ctx = start()
    try:
        with ctx as o:
            yield dict(o, gw=gw)
    finally:
        Gw.hang = 0
        gw.close()


def buy(own):
    body = json.dumps({"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"}).encode()
    return fcgi(own["sock"], "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"], {"ticket": STACK["DEMO_TICKET"]}, body)


def calls(own):
    return len(own["gw"].calls)


def open_it(own):
    """Three buys whose calls time out (the gateway hangs past http.timeout_ms): 504, each sent."""
    Gw.hang = 2.0
    for _ in range(3):
        before = calls(own)
        status, body, raw = buy(own)
        assert status == 504 and body["errCode"] == "e.www.pay.timeout", raw[:300]
        assert calls(own) > before, [p for p, _ in own["gw"].calls]


def refused_at_once(own):
    """A buy while the breaker is open: 502 with its order, and the gateway never asked."""
    before = calls(own)
    status, body, raw = buy(own)
    assert status == 502 and body["errCode"] == "e.www.pay.provider", raw[:300]
    order = body["data"]
    assert order["or_st"] == "NW", order
    # Never sent, so nobody can pay it: the slip is failed, saying why; pay/pay retries the order.
    slip = psql("SELECT st || '|' || note FROM pay_slips WHERE id = '%s'" % order["pay_id"])
    assert slip.startswith("FAIL|") and "not called" in slip, slip
    assert calls(own) == before, "the open breaker let a call through"
    return order


def test_three_timeouts_in_a_row_open_it_and_buys_fail_at_once_unsent(own):
    open_it(own)
    order = refused_at_once(own)
    # The rest of the shop answers; pay/pay of that order is refused the same way, unsent.
    status, body, raw = fcgi(own["sock"], "GET", "/healthz")
    assert status == 200, raw
    before = calls(own)
    status, body, raw = fcgi(own["sock"], "GET", "/api/%s/pay/pay" % STACK["DEMO_SITE"],
                             {"ticket": STACK["DEMO_TICKET"], "id": order["id"], "pay_tp": "wx.qrcode"})
    assert status == 502 and body["errCode"] == "e.www.pay.provider", raw[:300]
    assert calls(own) == before
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st <> 'FAIL'" % order["id"]) == "0"


def test_the_open_breaker_is_shared_by_every_worker(own):
    open_it(own)
    before = calls(own)
    out = []
    threads = [threading.Thread(target=lambda: out.append(buy(own))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert [r[0] for r in out] == [502] * 6, [r[2][:200] for r in out]
    assert calls(own) == before


def test_after_the_open_period_one_probe_and_an_answer_close_it(own):
    open_it(own)
    refused_at_once(own)
    Gw.hang = 0
    time.sleep(OPEN_MS / 1000 + 0.3)
    before = calls(own)
    status, body, raw = buy(own)  # the probe
    assert status == 200 and body["data"]["pay_re"]["st"] == "WAIT", raw[:300]
    assert calls(own) == before + 1
    status, body, raw = buy(own)  # closed again: calls go through
    assert status == 200, raw[:300]
    assert calls(own) == before + 2


def test_a_probe_that_times_out_keeps_it_open(own):
    open_it(own)
    time.sleep(OPEN_MS / 1000 + 0.3)
    before = calls(own)
    status, body, raw = buy(own)  # the probe, still hanging
    assert status == 504, raw[:300]
    assert calls(own) == before + 1
    refused_at_once(own)


def test_pay_check_answers_the_stored_state_without_asking_while_open(own):
    status, body, raw = buy(own)
    assert status == 200, raw[:300]
    waiting = body["data"]
    open_it(own)
    time.sleep(1.2)  # past query_min_interval_ms (1 s on the stack): pay/check would ask
    before = calls(own)
    status, body, raw = fcgi(own["sock"], "GET", "/api/%s/pay/check" % STACK["DEMO_SITE"],
                             {"ticket": STACK["DEMO_TICKET"], "id": waiting["id"]})
    assert status == 200 and body["data"]["or_st"] == "WT", raw[:300]
    assert calls(own) == before


def test_threshold_zero_turns_it_off():
    gw, ctx = start(threshold="0")
    try:
        with ctx as o:
            o = dict(o, gw=gw)
            Gw.hang = 2.0
            for i in range(4):
                status, body, raw = buy(o)
                assert status == 504, raw[:300]
            assert calls(o) == 4
    finally:
        Gw.hang = 0
        gw.close()


@pytest.mark.parametrize("key,value", [("HTTP_BREAKER_TIMEOUTS", "-1"), ("HTTP_BREAKER_TIMEOUTS", "3x"),
                                       ("HTTP_BREAKER_TIMEOUTS", "1001"), ("HTTP_BREAKER_OPEN_MS", "0"),
                                       ("HTTP_BREAKER_OPEN_MS", "3600001")])
@pytest.mark.parametrize("program", ["orderpayd", "orderpay"])
def test_a_bad_value_stops_orderpayd_and_the_cli(tmp_path, key, value, program):
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_LISTEN=str(tmp_path / "x.sock"),
               ORDERPAY_LOG_FILE="", **{"ORDERPAY_" + key: value})
    args = [os.path.join(STACK["ORDERPAY_BIN"], program)] + (["audit"] if program == "orderpay" else [])
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    name = key.lower().replace("_", ".", 1)
    assert "%s must be a whole number from" % name in proc.stderr and "not '%s'" % value in proc.stderr, proc.stderr
    assert not (tmp_path / "x.sock").exists()
