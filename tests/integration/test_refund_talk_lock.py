"""A refund's talk lock (store::RefundTalk): whoever talks to a refund's provider holds it, a
sender from before its claim until the answer is recorded, reconcile for its query and repeat, the
operator's `refund finish` for its look and its word. Before it, `refund finish` judged "may a
request be in flight" by time alone (lm and queried_at within a window), so a sender that stalled
between its claim and its POST (SIGSTOP, swap, a paused VM, a PayPal that holds the request open)
for longer than the window had its refund recorded FAIL while the request was still on its way:
the amount free again, refunded twice (review s23-finish H-B).

Each sender here is the CLI's `orderpay refund` (the same app::SendRefund the API's workers run)
against a fake PayPal that holds the refund request open until the test lets it go."""

import json
import os
import signal
import subprocess
import threading

import pytest
from conftest import STACK, cli, psql
from helpers import Locker, db_row, wait_for
from test_paypal_refund import SITE, capture_of, paid_paypal_order, refund, sim_refunds
from test_refund_finish import FakePaypal, age, finish, refund_state

pytestmark = pytest.mark.skipif("DEMO_PAYPAL_CLIENT_ID" not in STACK, reason="stack.env has no PayPal merchant")

DENIED = (403, json.dumps({"name": "PERMISSION_DENIED", "message": "No permission"}).encode())


class HeldPaypal(FakePaypal):
    """Holds the refund request for one capture open until `release()` (then answers it 500: the
    outcome unknown, the refund stays PROCESSING); everything else is refused (403)."""

    def __init__(self, capture):
        self.let_go = threading.Event()

        def route(path):
            if path.endswith("/refund") and capture in path:
                self.let_go.wait(90)
                return 500, b'{"name":"INTERNAL_SERVER_ERROR"}'
            return DENIED

        super().__init__(route)

    def release(self):
        self.let_go.set()

    def close(self):
        self.release()
        super().close()


def start_sender(order_id, gw, key):
    """`orderpay refund ORDER` in the background, its request to `gw` held open."""
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], **gw.env)
    env["ORDERPAY_HTTP_TIMEOUT_MS"] = "120000"  # waits as long as the fake holds it
    proc = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "refund", order_id, "--reason",
                             "held open", "--key", key], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(lambda: gw.refund_posts() or proc.poll() is not None, timeout=30)
    assert proc.poll() is None and len(gw.refund_posts()) == 1, (proc.poll(), gw.paths())
    rid = db_row("SELECT id FROM refunds WHERE order_id = '%s' ORDER BY ct DESC LIMIT 1" % order_id)[0]
    return proc, rid


def held(rid):
    """Whether some session holds refund `rid`'s talk lock."""
    return db_row("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1380339268 "
                  "AND objid = hashtext('%s')::oid AND objsubid = 2 AND granted" % rid) == ["1"]


@pytest.fixture
def gone():
    g = FakePaypal()
    yield g
    g.close()


def test_a_refund_whose_request_is_still_on_its_way_is_not_decided_however_long_ago_it_was_sent(gone):
    order = paid_paypal_order()
    held = HeldPaypal(capture_of(order["pay_id"]))
    proc = None
    try:
        proc, rid = start_sender(order["id"], held, "held-" + order["id"])
        assert refund_state(rid)[0] == "PROCESSING"
        # As if it had been sent two days ago and last touched ten minutes ago: past the time window
        # `refund finish` also keeps, which alone let this through before.
        age(rid)
        res = finish(rid, "fail", "console shows nothing", "--despite-no-answer", env=gone.env)
        assert res.returncode == 1 and "another process is sending it" in res.stderr, res
        # Named, so a sender that hangs can be found and stopped.
        assert "(orderpay (database backend pid " in res.stderr, res.stderr
        assert refund_state(rid)[0] == "PROCESSING"
        assert gone.paths() == [], "judged busy before asking anything: %s" % gone.paths()
        # reconcile neither asks about it nor sends it again while the first request is open.
        rec = cli("reconcile", "--min-age", "0", env=held.env, check=False)
        assert "REFUNDING %s" % rid in rec.stdout and "another process right now" in rec.stdout, rec.stdout
        assert "orderpay refund finish %s" % rid not in rec.stdout, rec.stdout  # not the operator's yet
        # The one request on record for this payment is the sender's own, still open.
        ref = db_row("SELECT provider_ref FROM pay_slips WHERE id = '%s'" % order["pay_id"])[0]
        capture = capture_of(order["pay_id"])
        ours = [p for p in held.paths() if ref in p or capture in p]
        assert len(ours) == 1 and ours[0].endswith("/refund"), held.paths()
        # Its answer (a 500: unknown) is recorded by the sender, which then lets go.
        held.release()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "PROCESSING" in out, (out, err)
        proc = None
    finally:
        held.close()
        if proc:
            proc.kill()
            proc.wait()
    assert refund_state(rid)[0] == "PROCESSING"
    age(rid)
    done = finish(rid, "fail", "console shows nothing", "--despite-no-answer", env=gone.env)
    assert done.returncode == 0 and "recorded FAIL on your word" in done.stdout, done
    assert refund_state(rid)[0] == "FAIL"


def test_a_sender_that_dies_mid_request_lets_go_of_the_refund(gone):
    """The lock is its holder's session's: a sender killed while its request is open (SIGKILL, no
    clean-up) lets go with its connection, and the refund is the operator's to decide again."""
    order = paid_paypal_order()
    held = HeldPaypal(capture_of(order["pay_id"]))
    try:
        proc, rid = start_sender(order["id"], held, "dies-" + order["id"])
        age(rid)
        res = finish(rid, "fail", "nothing there", "--despite-no-answer", env=gone.env)
        assert res.returncode == 1 and "another process is sending it" in res.stderr, res
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

        tries = []

        def let_go():
            tries.append(finish(rid, "fail", "nothing there", "--despite-no-answer", env=gone.env))
            return "another process is sending it" not in tries[-1].stderr

        assert wait_for(let_go, timeout=30, step=0.5), tries[-1]
        done = tries[-1]
    finally:
        held.close()
    assert done.returncode == 0 and "recorded FAIL on your word" in done.stdout, done
    assert refund_state(rid)[0] == "FAIL"


def test_reconcile_does_not_send_a_new_refund_another_session_is_deciding():
    """The lock from PostgreSQL's side: a session holding a NEW refund's key (as the operator's
    command does while it cancels one) keeps reconcile from claiming and sending it, and reconcile
    does not count it failed; let go, reconcile sends it."""
    order = paid_paypal_order()
    rid = "t" + order["id"][1:]
    out = db_row("SELECT outcome FROM orderpay_refund_open('%s', '%s', NULL, 100::bigint, 'held new', 'test', "
                 "NULL, '%s')" % (SITE, order["id"], rid))
    assert out == ["created"], out
    age(rid)
    holder = subprocess.Popen([os.path.join(STACK["PGBIN"], "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                              env=dict(os.environ, **{k: STACK[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")}),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holder.stdin.write("SELECT pg_advisory_lock(1380339268, hashtext('%s'));\n" % rid)
        holder.stdin.flush()
        assert wait_for(lambda: held(rid), timeout=10)
        rec = cli("reconcile", "--min-age", "0", "--json", check=False)
        # Left exactly as the holder has it: not sent, not even stamped as asked about.
        assert db_row("SELECT st, queried_at IS NULL FROM refunds WHERE id = '%s'" % rid) == ["NEW", "t"], rec.stdout
        events = [e for e in json.loads(rec.stdout)["events"] if e.get("id") == rid]
        assert events and "another process right now" in events[0]["detail"], rec.stdout
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert wait_for(lambda: not held(rid), timeout=10)  # psql gone; its backend may take a moment
    cli("reconcile", "--min-age", "0", check=False)
    assert refund_state(rid)[0] == "OK"


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


def test_a_replay_of_a_refund_another_process_is_sending_answers_it_new_and_sends_nothing(key):
    """The API's replay of a NEW refund (the first request still before its claim, or reconcile
    or the operator on it): answered as it is, NEW, "sent" nothing; the holder or the next
    reconcile sends it, once."""
    order = paid_paypal_order()
    rid = "u" + order["id"][1:]
    idem = "replay-" + order["id"]
    out = db_row("SELECT outcome FROM orderpay_refund_open('%s', '%s', NULL, 150::bigint, 'held replay', 'test', "
                 "'%s', '%s')" % (SITE, order["id"], idem, rid))
    assert out == ["created"], out
    locker = Locker("SELECT pg_advisory_lock(1380339268, hashtext('%s'))" % rid)
    try:
        status, body, raw, _ = refund(key, order["id"], reason="held replay", amount="1.50", idem=idem)
        assert status == 200, raw
        got = body["data"]["refund"]
        assert got["id"] == rid and got["st"] == "NEW" and got["replay"] is True, raw
        assert sim_refunds(order["pay_id"])["refunded"] == 0
    finally:
        locker.release()
    assert wait_for(lambda: not held(rid), timeout=10)
    cli("reconcile", "--min-age", "0", check=False)
    assert refund_state(rid)[0] == "OK"
    assert sim_refunds(order["pay_id"])["refunded"] == 150


def test_a_sender_whose_lock_went_with_its_session_sends_nothing():
    """The server ended the session holding the lock (a failover, pg_terminate_backend) while the
    sender lives on, between its claim and its request: here, a trigger on the claim lets go of the
    session's advisory locks. The sender finds the lock gone right before the request and sends
    nothing (someone else may be deciding the refund); reconcile later asks and sends it, once."""
    order = paid_paypal_order()
    oid = order["id"]
    name = "test_unlock_%s" % oid
    psql("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_unlock_all(); "
         "RETURN NEW; END $$; CREATE TRIGGER %s BEFORE UPDATE ON refunds FOR EACH ROW WHEN (NEW.order_id = '%s' "
         "AND OLD.st = 'NEW' AND NEW.st = 'PROCESSING') EXECUTE FUNCTION %s()" % (name, name, oid, name))
    try:
        res = cli("refund", oid, "--amount", "2.00", "--reason", "lost lock", "--key", "lost-" + oid, check=False)
    finally:
        psql("DROP TRIGGER IF EXISTS %s ON refunds; DROP FUNCTION IF EXISTS %s()" % (name, name))
    rid = db_row("SELECT id FROM refunds WHERE order_id = '%s'" % oid)[0]
    st, note = refund_state(rid)
    assert st == "PROCESSING" and "talk lock was lost" in note and "nothing sent" in note, (st, note, res)
    assert sim_refunds(order["pay_id"])["refunded"] == 0
    assert db_row("SELECT count(*) FROM paysim.pp_refunds WHERE invoice_id = '%s'" % rid) == ["0"]
    cli("reconcile", "--min-age", "0", check=False)
    assert refund_state(rid)[0] == "OK"
    assert sim_refunds(order["pay_id"])["refunded"] == 200


@pytest.mark.parametrize("kill_at", ["claim", "answer"])
def test_the_senders_database_session_ended_for_real_mid_refund_sends_at_most_once(key, kill_at):
    """The server ends a worker's database session for real (pg_terminate_backend, as a failover
    or an operator would), once: at the refund's claim (before any request: the session and its
    talk lock go, the claim with them), or when the provider's answer is recorded (after the
    request). Whatever the worker answers, the refund is sent at most once, is never FAIL without
    the provider's word, and reconcile brings it to OK with PayPal holding exactly one refund."""
    order = paid_paypal_order()
    oid = order["id"]
    name = "test_kill_%s_%s" % (kill_at, oid)
    when = ("OLD.st = 'NEW' AND NEW.st = 'PROCESSING'" if kill_at == "claim"
            else "OLD.st = 'PROCESSING' AND NEW.st <> 'NEW'")
    # Once: the sequence survives the statement's rollback, so a retry on the next session passes.
    psql("CREATE SEQUENCE %s; CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
         "IF nextval('%s') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$; "
         "CREATE TRIGGER %s BEFORE UPDATE ON refunds FOR EACH ROW WHEN (NEW.order_id = '%s' AND %s) "
         "EXECUTE FUNCTION %s()" % (name, name, name, name, oid, when, name))
    try:
        status, body, raw, _ = refund(key, oid, reason="killed session", amount="2.00", idem="kill-" + oid)
    finally:
        psql("DROP TRIGGER IF EXISTS %s ON refunds; DROP FUNCTION IF EXISTS %s(); DROP SEQUENCE IF EXISTS %s"
             % (name, name, name))
    assert status in (200, 503), raw
    rid = db_row("SELECT id FROM refunds WHERE order_id = '%s'" % oid)[0]
    st, note = refund_state(rid)
    assert st in ("NEW", "PROCESSING", "OK"), (st, note, raw)
    sent = db_row("SELECT count(*) FROM paysim.pp_refunds WHERE invoice_id = '%s'" % rid)
    # At the claim nothing can have been sent from the ended session (the worker lost its lock
    # with it); at the answer, the one request went and only its record was lost.
    assert sent == (["0"] if kill_at == "claim" else ["1"]), (st, note, raw)
    age(rid)
    cli("reconcile", "--min-age", "0", check=False)
    assert refund_state(rid)[0] == "OK", refund_state(rid)
    assert sim_refunds(order["pay_id"])["refunded"] == 200
    assert db_row("SELECT count(*) FROM paysim.pp_refunds WHERE invoice_id = '%s'" % rid) == ["1"]
    # The worker that lost its session serves the next request.
    status, body, raw, _ = refund(key, oid, reason="killed session", amount="2.00", idem="kill-" + oid)
    assert status == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["refund"]["replay"], raw
