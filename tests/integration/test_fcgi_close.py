"""The workers close their FastCGI connection as soon as the reply is out, without waiting for
nginx to close first (LIBFCGI_OS_CLOSE_POLL_TIMEOUT=0, src/fcgi/worker.cpp): nginx must still get
every reply whole, for bodies around libfcgi's 8 KiB read buffer, a FastCGI record's 65535 bytes
and the 64 KiB limit, many at once, and log no upstream error (a reset, a premature close)."""

import json
import os
from concurrent.futures import ThreadPoolExecutor

from conftest import STACK, api

SIZES = [64, 8191, 8192, 8193, 16384, 65535, 65536]


def nginx_error_log():
    path = os.path.join(STACK["STACK_LOG_DIR"], "nginx-error.log")
    with open(path, "rb") as f:
        return f.read()


def padded_buy(size):
    """A pay/buy body of exactly `size` bytes that orderpayd reads whole and refuses (no order)."""
    body = json.dumps({"products": [{"id": STACK["DEMO_PRODUCT"]}], "pay_tp": "nope"}).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def test_every_reply_reaches_nginx_whole_at_every_body_size():
    before = len(nginx_error_log())
    jobs = [size for size in SIZES for _ in range(6)]

    def one(size):
        return size, api("POST", "buy", ticket=STACK["DEMO_TICKET"], raw_body=padded_buy(size),
                         headers={"Content-Type": "application/json"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, jobs))
    for size, (status, body, raw, _) in results:
        assert status == 400, (size, raw[:200])
        assert body["errCode"] == "e.www.order.invalid.pay_tp", (size, raw[:200])
    upstream = [line for line in nginx_error_log()[before:].splitlines() if b"upstream" in line]
    assert not upstream, upstream[:5]


def test_many_short_requests_at_once_get_their_replies():
    before = len(nginx_error_log())
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: api("GET", "check", ticket=STACK["DEMO_TICKET"],
                                              params={"id": "0"}), range(400)))
    assert all(r[0] == 404 and r[1]["ok"] is False for r in results), {r[0] for r in results}
    upstream = [line for line in nginx_error_log()[before:].splitlines() if b"upstream" in line]
    assert not upstream, upstream[:5]
