"""The master when fork() fails (out of processes): it backs off instead of spinning, starts the
workers once fork works again, and SIGTERM still stops it. A second orderpayd on its own socket,
with an LD_PRELOAD shim (shims/fail_fork.c) that fails fork() while a file exists."""

import os
import signal
import subprocess
import time

import pytest

from conftest import STACK
from helpers import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    out = tmp_path_factory.mktemp("shim") / "fail_fork.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(out), os.path.join(HERE, "shims", "fail_fork.c"),
                    "-ldl"], check=True)
    return str(out)


def start(shim, tmp, fail_file):
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_LISTEN=str(tmp / "m.sock"),
               ORDERPAY_LOG_FILE=str(tmp / "m.log"), LD_PRELOAD=shim, FAIL_FORK_FILE=str(fail_file),
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    return subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def log_text(tmp):
    path = tmp / "m.log"
    return path.read_text(errors="replace") if path.exists() else ""


def test_failing_fork_backs_off_then_recovers(shim, tmp_path):
    fail = tmp_path / "fail"
    fail.write_text("")
    proc = start(shim, tmp_path, fail)
    try:
        time.sleep(2.5)
        assert proc.poll() is None, "the master must keep running"
        assert children(proc.pid) == []
        tries = log_text(tmp_path).count("fork: ")
        # 250, 500, 1000 ms ... apart: a handful in 2.5 s, never a spin.
        assert 1 <= tries <= 6, (tries, log_text(tmp_path)[-2000:])
        assert "next try in" in log_text(tmp_path)
        fail.unlink()
        assert wait_for(lambda: len(children(proc.pid)) >= 2, 10), log_text(tmp_path)[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0


def test_sigterm_stops_a_master_that_cannot_fork(shim, tmp_path):
    fail = tmp_path / "fail"
    fail.write_text("")
    proc = start(shim, tmp_path, fail)
    time.sleep(1.5)
    assert proc.poll() is None
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert time.time() - t0 < 5 and proc.returncode == 0
