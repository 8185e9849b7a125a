"""`orderpay refund finish REFUND ok|fail --note TEXT`: the operator's word on a refund orderpay
cannot resolve by itself. Before it, a refund PayPal would not answer for (its order GET refused
for good, a 403 on every repeat) stayed PROCESSING for ever: listed REFUNDING by every reconcile,
its amount held, the order never RF, and nothing an operator who had checked PayPal's console
could do about it (review s22-b #4, F8). The provider is asked first, read-only: its own final
word wins over the operator's, a refund still under way there is never finished, nothing is
ever sent; only where the provider cannot say is the operator's word recorded, and only while
the refund is still in the state the command judged."""

import json
import os
import subprocess
import time

import pytest
from conftest import PSQL, STACK, _pg_env, cli, sim
from helpers import FakeGateway, db_row, failing_update, inbox, lock_waiters
from test_paypal_refund import SITE, admin_order, paid_paypal_order, paysim_refund, refund, sim_refunds

pytestmark = pytest.mark.skipif("DEMO_PAYPAL_CLIENT_ID" not in STACK, reason="stack.env has no PayPal merchant")


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


class Gone:
    """A PayPal that grants tokens and refuses everything else with 403 (PERMISSION_DENIED), as a
    merchant account whose REST app lost its refund permission answers: nothing can be learned."""

    def __init__(self):
        def answer(path, body):
            if path.startswith("/v1/oauth2/token"):
                return 200, json.dumps({"access_token": "gone", "token_type": "Bearer", "expires_in": 32400}).encode()
            return 403, json.dumps({"name": "PERMISSION_DENIED", "message": "No permission"}).encode()

        self.gw = FakeGateway(answer, content_type="application/json")
        self.env = {"ORDERPAY_PAYPAL_GATEWAY": self.gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": "3000"}

    def posts_of_refunds(self):
        return [p for p, _ in self.gw.calls if p.endswith("/refund")]

    def close(self):
        self.gw.close()


@pytest.fixture
def gone():
    g = Gone()
    yield g
    g.close()


def refund_state(rid):
    return db_row("SELECT st, note FROM refunds WHERE id = '%s'" % rid)


def processing_refund_paypal_never_made(oid, gone, amount=None):
    """A refund whose request PayPal answered with a 500 (here a fake PayPal that then refuses
    every read too): PROCESSING, and PayPal (paysim) has no refund of it."""

    def answer(path, body):
        if path.startswith("/v1/oauth2/token"):
            return 200, json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 32400}).encode()
        return 500, b'{"name":"INTERNAL_SERVER_ERROR"}'

    down = FakeGateway(answer, content_type="application/json")
    try:
        args = ["refund", oid, "--reason", "lost answer", "--key", "fin-" + oid]
        if amount:
            args += ["--amount", amount]
        out = cli(*args, env={"ORDERPAY_PAYPAL_GATEWAY": down.url})
    finally:
        down.close()
    rid = db_row("SELECT id FROM refunds WHERE order_id = '%s' ORDER BY ct DESC LIMIT 1" % oid)[0]
    assert refund_state(rid)[0] == "PROCESSING", out.stdout
    return rid


def test_fail_on_the_operators_word_frees_the_amount_when_paypal_cannot_say(key, gone):
    order = paid_paypal_order()  # 9.00 USD
    rid = processing_refund_paypal_never_made(order["id"], gone)
    # reconcile against a PayPal that refuses every read keeps it so, run after run, sending
    # nothing: this is what needed a way out.
    rec = cli("reconcile", "--min-age", "0", env=gone.env, check=False)
    assert "REFUNDING " + rid in rec.stdout, rec.stdout + rec.stderr
    assert "orderpay refund finish %s ok|fail" % rid in rec.stdout, rec.stdout
    assert refund_state(rid)[0] == "PROCESSING" and gone.posts_of_refunds() == [], gone.gw.calls
    seen = len(gone.gw.calls)
    done = cli("refund", "finish", rid, "fail", "--note", "console: no refund on the capture", env=gone.env)
    assert "recorded FAIL on your word" in done.stdout and "could not say" in done.stdout, done.stdout
    st, note = refund_state(rid)
    assert st == "FAIL" and note.startswith("operator: console: no refund on the capture (the provider could not say: ")
    # Asked, read-only: a GET of the order, never a refund request.
    assert len(gone.gw.calls) > seen and gone.posts_of_refunds() == [], gone.gw.calls
    # The 9.00 is free again: refunded for real, once, through PayPal (paysim).
    status, body, raw, _ = refund(key, order["id"], reason="again")
    assert status == 200 and body["data"]["refund"]["st"] == "OK", raw
    assert sim_refunds(order["pay_id"])["refunded"] == 900
    assert admin_order(key, order["id"])["or_st"] == "RF"
    # Run again: the same word is "already", the other is refused and changes nothing.
    again = cli("refund", "finish", rid, "fail", "--note", "again")
    assert again.stdout.strip() == "refund %s: already FAIL" % rid
    other = cli("refund", "finish", rid, "ok", "--note", "changed my mind", check=False)
    assert other.returncode == 1 and "recorded FAIL before" in other.stderr, other
    assert refund_state(rid)[0] == "FAIL"


def test_ok_on_the_operators_word_refunds_the_order_when_paypal_cannot_say(key, gone):
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"], gone)
    done = cli("--json", "refund", "finish", rid, "ok", "--note", "refunded by bank transfer", env=gone.env)
    shown = json.loads(done.stdout)
    assert shown["id"] == rid and shown["st"] == "OK" and shown["note"].startswith("operator: refunded by bank"), shown
    view = admin_order(key, order["id"])
    assert view["or_st"] == "RF" and view["refunded"] == 9.0, view
    assert sim_refunds(order["pay_id"])["refunded"] == 0  # orderpay asked PayPal for nothing
    # Nothing is left to refund.
    status, body, raw, _ = refund(key, order["id"], reason="more")
    assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw
    out = cli("audit", check=False)
    assert rid not in out.stdout and order["id"] not in out.stdout, out.stdout


def test_a_refund_paypals_order_does_not_list_is_read_about_never_sent(key, gone):
    """PayPal (paysim) answers, and its order lists no refund under our id: reconcile would send
    the refund again now; the command only reads, so PayPal cannot say, and the word is recorded."""
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"], gone, amount="5.00")
    done = cli("refund", "finish", rid, "fail", "--note", "customer kept the goods")
    assert "recorded FAIL on your word" in done.stdout and "lists no refund under our id" in done.stdout, done.stdout
    assert db_row("SELECT count(*) FROM paysim.pp_refunds WHERE invoice_id = '%s'" % rid) == ["0"]
    assert sim_refunds(order["pay_id"])["refunded"] == 0
    assert admin_order(key, order["id"])["or_st"] == "OK"


@pytest.mark.parametrize("word", ["ok", "fail"])
def test_paypals_own_final_word_wins_over_the_operators(key, word):
    """PayPal made the refund and its answer was lost (paysim `sim:unknown`): the command asks
    PayPal's order, finds it COMPLETED and records that, whatever the operator said, sending
    nothing: a mistaken `fail` must not free 4.00 PayPal already gave back."""
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="4.00", reason="sim:unknown")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    assert refund_state(rid)[0] == "PROCESSING"
    res = cli("refund", "finish", rid, word, "--note", "looked in the console", check=False)
    assert refund_state(rid)[0] == "OK"
    if word == "ok":
        assert res.returncode == 0 and "the provider says so too: recorded OK" in res.stdout, res
    else:
        assert res.returncode == 1 and "the provider says otherwise: recorded OK, not your word" in res.stderr, res
    assert "operator" not in refund_state(rid)[1]
    assert paysim_refund(rid)[:2] == ["COMPLETED", "1"]  # asked for once, by the original request
    assert sim_refunds(order["pay_id"])["refunded"] == 400
    assert admin_order(key, order["id"])["refunded"] == 4.0


def test_a_refund_still_pending_at_paypal_is_not_finished_either_way(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="3.00", reason="sim:pending")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    for word in ("fail", "ok"):
        res = cli("refund", "finish", rid, word, "--note", "impatient", check=False)
        assert res.returncode == 1 and "still under way" in res.stderr, res
        assert refund_state(rid)[0] == "PROCESSING"
    # It ends at PayPal, and orderpay records that.
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "status": "COMPLETED"})
    assert status == 200, raw
    assert refund_state(rid)[0] == "OK"


def test_a_refund_never_sent_can_be_cancelled_never_finished_ok():
    order = paid_paypal_order()
    oid = order["id"]
    # The CLI dies between writing the refund and claiming it: NEW, never sent.
    with failing_update("refunds", oid, "NEW.order_id = '%s' AND NEW.st = 'PROCESSING'" % oid):
        died = cli("refund", oid, "--amount", "2.00", "--reason", "cancel me", check=False)
        assert died.returncode != 0, died.stdout
    rid, st = db_row("SELECT id, st FROM refunds WHERE order_id = '%s'" % oid)
    assert st == "NEW"
    res = cli("refund", "finish", rid, "ok", "--note", "no", check=False)
    assert res.returncode == 1 and "never sent" in res.stderr, res
    assert refund_state(rid)[0] == "NEW"
    done = cli("refund", "finish", rid, "fail", "--note", "entered by mistake")
    assert "recorded FAIL" in done.stdout, done.stdout
    assert refund_state(rid) == ["FAIL", "operator: entered by mistake (cancelled before it was sent)"]
    # Reconcile sends nothing for it, and PayPal never saw it.
    cli("reconcile", "--min-age", "0", check=False)
    assert refund_state(rid)[0] == "FAIL"
    assert sim_refunds(order["pay_id"])["refunded"] == 0
    rerun = cli("refund", oid, "--amount", "2.00", "--reason", "cancel me", check=False)
    assert rerun.returncode == 1 and "made before and is FAIL" in rerun.stderr, rerun


def test_a_refund_that_changes_while_the_command_runs_is_left_as_it_became(gone):
    """The command judged PROCESSING, asked PayPal (which could not say), and by the time it writes
    something else has finished the refund (a webhook, reconcile): its word is not written over."""
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"], gone)
    locker = subprocess.Popen([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1"], env=_pg_env(), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        locker.stdin.write("BEGIN;\nUPDATE refunds SET st = 'OK', ok_at = now(), note = 'raced' WHERE id = '%s';\n"
                           "SELECT 'locked';\n" % rid)
        locker.stdin.flush()
        while True:  # psql echoes BEGIN and UPDATE 1 first
            line = locker.stdout.readline()
            assert line, locker.stderr.read()
            if line.strip() == "locked":
                break
        env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], **gone.env)
        finish = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "refund", "finish", rid, "fail",
                                   "--note", "late word"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        # It waits on the row wherever it first touches it (the query stamp, or the final lock).
        while lock_waiters("refunds") == 0:
            assert finish.poll() is None and time.time() < deadline, finish.communicate()
            time.sleep(0.05)
        locker.stdin.write("COMMIT;\n")
        locker.stdin.close()
        locker.wait(timeout=10)
        out, err = finish.communicate(timeout=60)
    finally:
        if locker.poll() is None:
            locker.kill()
    assert finish.returncode == 1 and "changed while this ran (it is OK now)" in err, (out, err)
    assert refund_state(rid) == ["OK", "raced"]


def run_raw(*args):
    """orderpay with arguments as bytes (not every byte string is UTF-8)."""
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    return subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay").encode(), *args], env=env,
                          capture_output=True, timeout=60)


def test_usage_and_hostile_input_change_nothing(gone):
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"], gone)
    usage = [
        ["refund", "finish", rid, "fail"],                      # no --note
        ["refund", "finish", rid, "fail", "--note"],            # --note without a value
        ["refund", "finish", rid, "fail", "--note", ""],        # empty
        ["refund", "finish", rid, "fail", "--note", "x" * 81],  # over 80 characters
        ["refund", "finish", rid, "fail", "--note", "a\x01b"],  # a control character
        ["refund", "finish", rid, "fail", "--note", "a\nb"],
        ["refund", "finish", rid, "maybe", "--note", "n"],      # not ok|fail
        ["refund", "finish", rid, "FAIL", "--note", "n"],
        ["refund", "finish", rid, "--note", "n"],               # no word
        ["refund", "finish", "--note", "n"],                    # nothing
        ["refund", "finish", rid, "fail", "extra", "--note", "n"],
        ["refund", "finish", rid, "fail", "--note", "n", "--reason", "r"],  # a flag it does not take
        ["refund", "finish", rid, "fail", "--note", "n", "--amount", "1"],
    ]
    for args in usage:
        res = cli(*args, check=False, env=gone.env)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
    res = run_raw(b"refund", b"finish", rid.encode(), b"fail", b"--note", b"caf\xe9 \xff")
    assert res.returncode == 2 and b"UTF-8" in res.stderr, res
    for bad in ["nosuchrefund", "", "x" * 300, "' OR 1=1 --", "\u9000" * 10, rid.upper()]:
        res = cli("refund", "finish", bad, "fail", "--note", "n", check=False, env=gone.env)
        assert res.returncode == 1 and "no such refund" in res.stderr, (bad, res.stdout, res.stderr)
    res = run_raw(b"refund", b"finish", b"\xff\xfe", b"fail", b"--note", b"n")
    assert res.returncode == 1 and b"no such refund" in res.stderr, res
    assert refund_state(rid)[0] == "PROCESSING" and gone.posts_of_refunds() == []
    # The refund command's own --reason: not UTF-8 was PostgreSQL's "invalid byte sequence" (exit
    # 1); now a usage error like any other bad reason, and nothing is written.
    before = db_row("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order["id"])
    res = run_raw(b"refund", order["id"].encode(), b"--amount", b"0.01", b"--reason", b"caf\xe9 \xff")
    assert res.returncode == 2 and b"UTF-8" in res.stderr, res
    assert db_row("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order["id"]) == before
    # 80 characters, any script: taken whole.
    note = "\u9000" * 80
    cli("refund", "finish", rid, "fail", "--note", note, env=gone.env)
    assert refund_state(rid)[1].startswith("operator: " + note + " (")


def test_wechat_a_refund_stuck_or_pending_at_wechat_is_not_finished_and_its_own_word_wins():
    """WeChat Pay v2 (refundquery, a read): a refund WeChat holds because the buyer's card refused
    it (CHANGE: the money left the merchant) is never failed on the operator's word, which would
    free 20.00 WeChat still holds; one WeChat still processes neither; one WeChat made while its
    answer was lost (paysim `timeout`) is recorded OK, as WeChat says, over a mistaken `fail`."""
    import test_wx_refund as wx
    order = wx.paid_order()  # 25.00 CNY
    stuck = wx.refund_ok(order["id"], "20.00")
    assert [x["status"] for x in wx.notify(stuck["id"], status="CHANGE")["replies"]] == [200]
    pending = wx.refund_ok(order["id"], "1.00")
    for rid in (stuck["id"], pending["id"]):
        res = cli("refund", "finish", rid, "fail", "--note", "the buyer says nothing came", check=False)
        assert res.returncode == 1 and "still under way" in res.stderr, res
        assert refund_state(rid)[0] == "PROCESSING"
    assert refund_state(stuck["id"])[1].startswith("stuck at the provider")
    st, body, raw, _ = wx.refund(order["id"], "4.01")  # still counted: 21.00 of 25.00
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    wx.set_mode(order["pay_id"], "timeout")  # WeChat refunds, orderpay gives up on the answer
    lost = wx.refund_ok(order["id"], "2.50")
    wx.set_mode(order["pay_id"], "")
    assert lost["st"] == "PROCESSING" and "timeout" in lost["note"], lost
    res = cli("refund", "finish", lost["id"], "fail", "--note", "not in the console yet", check=False)
    assert res.returncode == 1 and "the provider says otherwise: recorded OK" in res.stderr, res
    assert refund_state(lost["id"])[0] == "OK"
    assert wx.sim_refunds(order["pay_id"])["refunded"] == 2350  # 20.00 + 1.00 + 2.50, each once


def test_the_operators_fail_is_not_recorded_over_by_a_later_notification_it_is_a_logged_conflict():
    """The operator's word is final here: WeChat could not be reached, the operator said fail,
    and WeChat's refund notification later says SUCCESS. It is acknowledged, kept in the inbox as
    a conflict and logged, never written over the refund (README: give fail only for a refund you
    saw did not happen)."""
    import test_wx_refund as wx
    order = wx.paid_order()
    r = wx.refund_ok(order["id"], "3.00")
    assert r["st"] == "PROCESSING"
    unreachable = {"ORDERPAY_WXPAY_GATEWAY": "http://127.0.0.1:9", "ORDERPAY_HTTP_CONNECT_TIMEOUT_MS": "1000"}
    done = cli("refund", "finish", r["id"], "fail", "--note", "bank says never sent", env=unreachable)
    assert "recorded FAIL on your word" in done.stdout, done.stdout
    assert [x["status"] for x in wx.notify(r["id"], status="SUCCESS")["replies"]] == [200]
    assert refund_state(r["id"])[0] == "FAIL"
    verdict, reason = inbox(order["pay_id"])[-1]
    assert verdict == "ignored" and reason.startswith("conflict: refund " + r["id"]), (verdict, reason)
