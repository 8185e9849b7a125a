"""Provider calls keep their TLS connections: each worker's next call to the same gateway reuses
the connection (and TLS session) of its last one instead of a new TCP and TLS handshake, which
halved pay/buy's throughput when paysim moved behind https. Read from the gateway's side: nginx
logs each request's connection serial number and its count of requests on that connection."""

import re

from conftest import STACK
from helpers import buy_ok

LINE = re.compile(r'"POST (/pay/unifiedorder) [^"]*" .*"orderpay/1" \S+ c=(\d+):(\d+)$')


def unifiedorder_calls():
    with open(STACK["STACK_LOG_DIR"] + "/nginx-access.log", encoding="utf-8", errors="replace") as f:
        return [(int(m.group(2)), int(m.group(3))) for m in map(LINE.search, f.read().splitlines()) if m]


def test_sequential_buys_reuse_the_gateway_connections():
    before = len(unifiedorder_calls())
    for _ in range(16):
        buy_ok("wx.qrcode")
    calls = unifiedorder_calls()[before:]
    assert len(calls) == 16, calls
    connections = {conn for conn, _ in calls}
    # At most one new connection per worker (and one more for a worker whose idle connection the
    # gateway closed meanwhile): 16 calls over a few workers must reuse.
    assert len(connections) < len(calls), calls
    assert max(n for _, n in calls) >= 2, calls
