"""The stack itself: nginx reaches orderpayd, and unknown API paths answer in the API's shape."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import STACK, api, http


def test_healthz_through_nginx():
    status, _, raw, _ = http("GET", STACK["ORDERPAY_URL"] + "/healthz")
    assert status == 200, raw


def test_unknown_action_is_json_404():
    status, body, raw, headers = api("GET", "nope", ticket=STACK["DEMO_TICKET"])
    assert status == 404, raw
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert body is not None and body.get("ok") is False, raw
    assert body.get("errCode"), raw


def test_access_log_never_records_the_ticket(stack):
    secret = "NoTicketInLogs" + stack["API_PORT"]
    api("GET", "check", ticket=secret, params={"id": "x"})
    log = open(stack["STACK_LOG_DIR"] + "/nginx-access.log", encoding="utf-8").read()
    assert "/api/demo/pay/check" in log
    assert secret not in log


def test_each_program_names_itself_to_postgresql():
    """pg_stat_activity (and the server log's %a) tells an operator which program holds a
    session; make bench counts paysim's backends apart from orderpay's by the same name."""
    from conftest import psql
    names = set(psql("SELECT DISTINCT application_name FROM pg_stat_activity "
                     "WHERE datname = current_database()").split())
    assert {"orderpayd", "paysim", "psql"} <= names, names


@pytest.mark.parametrize("sig", ["TERM", "HUP"])
def test_run_stops_the_stack_on_a_signal_to_its_process_group(sig):
    """`make run` ended as a supervisor, `timeout` or a script ends a background job: a signal
    to the whole process group. make forwards its own SIGTERM to the stack.sh run below it, so
    that shell gets it twice; the second one used to kill it inside `down` (and SIGHUP was not
    trapped at all), leaving PostgreSQL, paysim, orderpayd and nginx running. A Makefile of the
    test's own runs the real recipe's `bash deploy/stack.sh run`, without the real one's
    dependency install and build, on a state directory of its own."""
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    var = "/tmp/orderpay-run-%d-%s" % (os.getpid(), sig.lower())
    env = dict(os.environ, ORDERPAY_VAR=var, ORDERPAY_BIN=STACK["ORDERPAY_BIN"])
    for k in [k for k in env if k.startswith("ORDERPAY_") and k not in ("ORDERPAY_VAR", "ORDERPAY_BIN")]:
        del env[k]
    stack = [os.path.join(repo, "deploy", "stack.sh")]
    subprocess.run(["bash", *stack, "down"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(var, ignore_errors=True)
    os.makedirs(var)
    makefile = os.path.join(var, "Makefile")
    with open(makefile, "w") as f:
        f.write("run:\n\tbash %s run\n" % stack[0])
    out = os.path.join(var, "run.log")
    try:
        with open(out, "wb") as log:
            proc = subprocess.Popen(["make", "-f", makefile, "run"], env=env, cwd=repo, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 180
        while b"running in the foreground" not in open(out, "rb").read():
            assert proc.poll() is None and time.time() < deadline, open(out, errors="replace").read()
            time.sleep(0.2)
        running = subprocess.run(["bash", *stack, "status"], env=env, capture_output=True, text=True)
        assert running.returncode == 0, running.stdout
        os.killpg(proc.pid, getattr(signal, "SIG" + sig))
        proc.wait(timeout=120)
        text = open(out, errors="replace").read()
        status = subprocess.run(["bash", *stack, "status"], env=env, capture_output=True, text=True)
        assert status.returncode == 1 and "running" not in status.stdout, status.stdout + text
        assert "[stack] down (%s)" % var in text, text
        # Nothing of it left anywhere: no process names the state directory.
        left = subprocess.run(["pgrep", "-af", var], capture_output=True, text=True).stdout
        assert left == "", left
    finally:
        subprocess.run(["bash", *stack, "down"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(var, ignore_errors=True)
