"""orderpayd over raw FastCGI, without nginx: routing and body limits as the worker sees them,
malformed PARAMS lengths that libfcgi rejects or aborts on (CVE-2025-23016, FASTCGI.md §1.9) and
that the pool must survive, and a second orderpayd handed its listening socket as fd 0, the way
spawn-fcgi and systemd's StandardInput=socket do (FASTCGI.md §1.4, §1.5)."""

import contextlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

import openapi_check
from conftest import STACK
from helpers import wait_for

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
RESPONDER = 1
TIMEOUT = 10  # seconds; every socket operation is bounded, so a hang fails instead of blocking


def record(rtype, content=b""):
    """One FastCGI record with request id 1 and no padding."""
    return struct.pack(">BBHHBx", 1, rtype, 1, len(content), 0) + content


def stream(rtype, data):
    """A stream (PARAMS or STDIN) as records of at most 65535 bytes, then its empty record."""
    chunks = [data[i:i + 65535] for i in range(0, len(data), 65535)]
    return b"".join(record(rtype, c) for c in chunks) + record(rtype)


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_params(params):
    out = b""
    for name, value in params.items():
        name, value = name.encode(), str(value).encode()
        out += nv_len(len(name)) + nv_len(len(value)) + name + value
    return out


def begin():
    return record(BEGIN, struct.pack(">HB5x", RESPONDER, 0))  # flags 0: no keep-conn


def connect(path=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path or STACK["ORDERPAYD_SOCKET"])
    return s


def read_reply(s):
    """STDOUT bytes up to END_REQUEST, or None when the peer closes (or resets) before it."""
    buf, out = b"", b""
    try:
        while True:
            while len(buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if rtype == STDOUT:
                    out += content
                elif rtype == END:
                    return out
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    except ConnectionResetError:
        return None


def parse_http(raw):
    """(status, headers with lower-cased names, parsed JSON body or None) of a CGI reply."""
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, json.loads(body) if body else None


def request(method, uri, body=b"", extra=None, stdin=None, path=None):
    """One request on a fresh connection; stdin overrides the body sent (CONTENT_LENGTH stays)."""
    params = {"REQUEST_METHOD": method, "DOCUMENT_URI": uri, "REQUEST_URI": uri, "QUERY_STRING": "",
              "CONTENT_LENGTH": len(body), "CONTENT_TYPE": "application/json", "REMOTE_ADDR": "127.0.0.1"}
    params.update(extra or {})
    with connect(path) as s:
        s.sendall(begin() + stream(PARAMS, encode_params(params))
                  + stream(STDIN, body if stdin is None else stdin))
        raw = read_reply(s)
    assert raw is not None, "connection closed without END_REQUEST"
    status, headers, parsed = parse_http(raw)
    # What orderpayd answers without nginx in front must match api/openapi.yaml as well.
    openapi_check.check_reply(method, uri, status, headers, raw.partition(b"\r\n\r\n")[2])
    return status, headers, parsed


def master_pid():
    with open(STACK["ORDERPAYD_PID_FILE"], encoding="utf-8") as f:
        return int(f.read().split()[0])


def healthz_ok(path=None):
    try:
        status, headers, body = request("GET", "/healthz", path=path)
    except (OSError, AssertionError, ValueError):
        return False
    return status == 200 and headers["content-type"].startswith("application/json") and body["ok"] is True



def max_body_bytes():
    with open(STACK["ORDERPAY_CONFIG"], encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and key.strip() == "max_body_bytes":
                return int(value)
    return 65536  # orderpayd's default


def test_healthz_200_json():
    status, headers, body = request("GET", "/healthz")
    assert status == 200, body
    assert headers["content-type"].startswith("application/json"), headers
    assert body == {"ok": True, "data": {"db": "ok"}}


@pytest.mark.parametrize("role", [2, 3])  # AUTHORIZER, FILTER
def test_roles_other_than_responder_are_refused(role):
    # An AUTHORIZER would take our 200 as "allowed"; a FILTER's data stream would go unread.
    params = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "REQUEST_URI": "/healthz",
              "QUERY_STRING": "", "CONTENT_LENGTH": 0, "REMOTE_ADDR": "127.0.0.1"}
    with connect() as s:
        s.sendall(record(BEGIN, struct.pack(">HB5x", role, 0)) + stream(PARAMS, encode_params(params))
                  + stream(STDIN, b"") + (stream(8, b"") if role == 3 else b""))  # 8: FCGI_DATA
        raw = read_reply(s)
    assert raw is not None, "connection closed without END_REQUEST"
    status, _, body = parse_http(raw)
    assert status == 400 and body["errCode"] == "e.www.api.bad_request", raw
    assert "RESPONDER only" in body["msg"], raw
    assert request("GET", "/healthz")[0] == 200  # the same worker pool still serves responders


def test_wrong_method_405_with_allow_and_unknown_path_404():
    status, headers, body = request("PUT", "/api/demo/pay/buy", b"{}")
    assert status == 405 and body["errCode"] == "e.www.api.method", body
    assert headers.get("allow") == "POST", headers
    status, headers, body = request("GET", "/no/such/path")
    assert status == 404 and body["ok"] is False and body["errCode"] == "e.www.api.noexists", body
    assert headers["content-type"].startswith("application/json"), headers


def hostile_params(name_len, value_len, path=None):
    """Sends a PARAMS record announcing these (4-byte form) lengths; returns the reply or None."""
    content = struct.pack(">II", name_len | 0x80000000, value_len | 0x80000000) + b"X" * 16
    with connect(path) as s:
        s.sendall(begin() + record(PARAMS, content))
        return read_reply(s)


@contextlib.contextmanager
def handed_socket_pool(workers, **env):
    """A second orderpayd serving a listening socket that we create and hand over as fd 0, as
    spawn-fcgi and systemd's StandardInput=socket do. Yields (process, socket path, the unused
    `listen` path); the process group is SIGKILLed on the way out if it still runs."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        path, unused = os.path.join(tmp, "handed.sock"), os.path.join(tmp, "unused.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        os.chmod(path, 0o660)
        lsock.listen(16)
        env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_WORKERS=str(workers),
                   ORDERPAY_LISTEN=unused, **env)
        log = open(os.path.join(STACK["STACK_LOG_DIR"], "orderpayd-handed.log"), "ab")
        proc = None
        try:
            proc = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=env, cwd=tmp,
                                    stdin=lsock.fileno(), stdout=log, stderr=log, start_new_session=True)
            assert wait_for(lambda: healthz_ok(path), 20), "no /healthz over the handed socket"
            yield proc, path, unused
        finally:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the master and its workers
                proc.wait()
            lsock.close()
            log.close()


def test_param_length_0x7fffffff_drops_the_connection_and_the_pool_survives():
    master = master_pid()
    # Rejected by the CVE-2025-23016 check ("nameLen >= INT_MAX"): the connection is dropped.
    assert hostile_params(0x7fffffff, 0) is None
    assert wait_for(healthz_ok, 10), "the pool stopped answering"
    assert master_pid() == master
    os.kill(master, 0)  # the master itself is alive


def test_param_lengths_summing_past_int_max_cost_one_worker_each_and_never_empty_the_pool():
    """PARAMS lengths of 0x7ffffffe twice: Debian 12's libfcgi computes malloc(-2) and aborts in
    its ASSERT, inside FCGX_Accept_r, before our code runs. Each such request costs the worker
    that reads it and nothing else: a pool of our own with one worker, so /healthz answers again
    only once the master respawned it, and the master lives on.
    The master gave a worker that died within 2 s of its start a doubling backoff (meant for one
    that cannot start), so a run of them kept a one-worker pool empty for 0.25, 0.5, 1 ... 30 s,
    every request meanwhile refused. A worker that was serving is now replaced at once, out of a
    budget of 4 a second for a pool this small: past it, a replacement waits 250 ms at most.
    allocator_may_return_null: an ASan build then fails that malloc like glibc does (NULL, so the
    same abort) instead of reporting it, which would fail tests/integration/run.sh."""
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "allocator_may_return_null=1"]))
    log_path = os.path.join(STACK["STACK_LOG_DIR"], "orderpayd-handed.log")
    with handed_socket_pool(1, ASAN_OPTIONS=asan) as (proc, path, _):
        log_start = os.path.getsize(log_path)
        waits = []
        for _ in range(8):
            assert hostile_params(0x7ffffffe, 0x7ffffffe, path) is None
            t0 = time.time()
            assert wait_for(lambda: healthz_ok(path), 40, 0.02), "the pool did not recover"
            waits.append(round(time.time() - t0, 2))
        assert proc.poll() is None, "the master died"
        with open(log_path, encoding="utf-8", errors="replace") as f:
            f.seek(log_start)
            log = f.read()
    assert log.count("respawning") == 8, log
    paced = [int(ms) for ms in re.findall(r"next worker start in (\d+) ms", log)]
    assert all(ms <= 251 for ms in paced), (waits, log)
    # Before: 0.25 + 0.5 + ... + 30 s. A respawn is a fork and a database connection.
    assert max(waits) < 10, waits


def test_body_over_max_body_bytes_413():
    body = b"x" * (max_body_bytes() + 1000)
    status, headers, reply = request("POST", "/api/demo/pay/buy", body)
    assert status == 413 and reply["ok"] is False and reply["errCode"] == "e.www.api.too_large", reply
    assert headers["content-type"].startswith("application/json"), headers


def test_short_body_400_without_hanging():
    t0 = time.time()
    status, _, reply = request("POST", "/api/demo/pay/buy", b"x" * 10, stdin=b"abc")
    assert status == 400 and reply["errCode"] == "e.www.api.bad_request", reply
    assert time.time() - t0 < 5


def test_socket_handed_over_as_stdin():
    with handed_socket_pool(2) as (proc, path, unused):
        assert healthz_ok(path)
        assert not os.path.exists(unused), "orderpayd opened its own socket despite fd 0"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert os.path.exists(path), "orderpayd unlinked a socket it did not create"


def served_while_replies_are_held(path, workers):
    """Seconds a /healthz takes while `workers` peers hold their connections open after their
    replies (each has read END_REQUEST and the worker's EOF, and does not close)."""
    held = []
    try:
        for _ in range(workers):
            s = connect(path)
            held.append(s)
            s.sendall(begin() + stream(PARAMS, encode_params(
                {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "REQUEST_URI": "/healthz",
                 "QUERY_STRING": "", "CONTENT_LENGTH": 0, "REMOTE_ADDR": "127.0.0.1"})) + stream(STDIN, b""))
            assert read_reply(s) is not None
            assert s.recv(1) == b"", "the worker did not end its side of the connection"
        t0 = time.monotonic()
        status, _, body = request("GET", "/healthz", path=path)
        assert status == 200 and body["ok"] is True
        return time.monotonic() - t0
    finally:
        for s in held:
            s.close()


def test_a_peer_that_keeps_its_connection_after_the_reply_holds_no_worker():
    # libfcgi's close waits up to LIBFCGI_OS_CLOSE_POLL_TIMEOUT ms (2000) for the peer to close
    # first; orderpayd sets 0 (src/fcgi/worker.cpp), so a worker is free as soon as its reply is
    # out, whether nginx is slow to close or a peer never does.
    with handed_socket_pool(2) as (_, path, _unused):
        assert served_while_replies_are_held(path, 2) < 1.0


def test_an_operators_close_timeout_wins():
    # The same two held connections with the operator's LIBFCGI_OS_CLOSE_POLL_TIMEOUT=2000 in the
    # environment: both workers wait out the 2 s for a close that never comes, so the third
    # request waits for them. This is also what the test above would measure without the setting.
    with handed_socket_pool(2, LIBFCGI_OS_CLOSE_POLL_TIMEOUT="2000") as (_, path, _unused):
        assert served_while_replies_are_held(path, 2) > 1.5


def test_one_worker_alternates_providers_on_its_one_curl_handle():
    # A worker's provider calls share one curl easy handle, reset before each (src/providers/
    # http_client.cpp): WeChat's XML POST, Alipay's form POST and PayPal's token and JSON calls
    # (another host, Basic then Bearer authorization), in turn on a single worker, each get the
    # provider's real answer: nothing of one call's options (body, headers, method) leaks into
    # the next.
    ticket = STACK["DEMO_TICKET"]
    sites = {"wx.qrcode": STACK["DEMO_SITE"], "zfb.qrcode": STACK["DEMO_SITE"],
             "paypal": STACK.get("DEMO_USD_SITE", "demo-usd")}
    with handed_socket_pool(1) as (_, path, _unused):
        for pay_tp in ["wx.qrcode", "zfb.qrcode", "paypal", "wx.qrcode", "paypal", "zfb.qrcode", "wx.qrcode"]:
            body = json.dumps({"products": [{"id": STACK["DEMO_PRODUCT"]}], "pay_tp": pay_tp}).encode()
            uri = "/api/%s/pay/buy" % sites[pay_tp]
            status, _, reply = request("POST", uri, body, path=path,
                                       extra={"QUERY_STRING": "ticket=" + ticket, "REQUEST_URI": uri + "?ticket=" + ticket})
            assert status == 200 and reply["ok"] is True, (pay_tp, reply)
            assert reply["data"]["pay_tp"] == pay_tp and reply["data"]["or_st"] == "WT", (pay_tp, reply)
