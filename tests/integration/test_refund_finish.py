"""`orderpay refund finish REFUND ok|fail --note TEXT [--despite-no-answer]`: the operator's word
on a refund orderpay cannot resolve by itself. Before it, a refund PayPal would not answer for (its
order GET refused for good, a 403 on every repeat) stayed PROCESSING for ever: listed REFUNDING by
every reconcile, its amount held, the order never RF, and nothing an operator who had checked
PayPal's console could do about it (review s22-b #4, F8).

The provider is asked first, read-only (nothing is ever sent): its own final word wins over the
operator's; a refund it reports under way, or paid out in a way that cannot be recorded (another
amount, two refunds under our id), is left alone; the operator's word is recorded only where the
provider has no such refund, or gives no answer and the operator says so; `fail` only for a refund
a day old; never while a sender or reconcile may have a request in flight; and only if nothing
touched the refund while the command ran (review s23-finish H1, H2, M1, M4)."""

import json
import os
import subprocess

import pytest
from conftest import STACK, cli, psql, sim
from helpers import FakeGateway, db_row, failing_update, inbox
from test_paypal_refund import SITE, admin_order, capture_of, paid_paypal_order, paysim_refund, refund, sim_refunds

pytestmark = pytest.mark.skipif("DEMO_PAYPAL_CLIENT_ID" not in STACK, reason="stack.env has no PayPal merchant")

TOKEN = json.dumps({"access_token": "fake", "token_type": "Bearer", "expires_in": 32400}).encode()


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


class FakePaypal:
    """A PayPal stand-in: tokens granted, everything else answered by `route(path)` (default: 403
    PERMISSION_DENIED, as an account whose REST app lost its permission answers)."""

    def __init__(self, route=None):
        def answer(path, body):
            if path.startswith("/v1/oauth2/token"):
                return 200, TOKEN
            if route:
                return route(path)
            return 403, json.dumps({"name": "PERMISSION_DENIED", "message": "No permission"}).encode()

        self.gw = FakeGateway(answer, content_type="application/json")
        self.env = {"ORDERPAY_PAYPAL_GATEWAY": self.gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": "3000"}

    def paths(self):
        return [p for p, _ in self.gw.calls if not p.startswith("/v1/oauth2/token")]

    def refund_posts(self):
        return [p for p in self.paths() if p.endswith("/refund")]

    def close(self):
        self.gw.close()


@pytest.fixture
def gone():
    g = FakePaypal()
    yield g
    g.close()


def refund_state(rid):
    return db_row("SELECT st, note FROM refunds WHERE id = '%s'" % rid)


def age(rid, young=False):
    """As if the refund had been written two days ago (or, `young`, an hour ago) and last sent or
    asked about ten minutes ago: past any request a sender or reconcile may have in flight."""
    made = "1 hour" if young else "2 days"
    psql("UPDATE refunds SET ct = now() - interval '%s', lm = now() - interval '10 minutes', "
         "queried_at = CASE WHEN queried_at IS NULL THEN NULL ELSE now() - interval '10 minutes' END "
         "WHERE id = '%s'" % (made, rid))


def finish(rid, word, note="checked the console", *flags, env=None):
    return cli("refund", "finish", rid, word, "--note", note, *flags, check=False, env=env)


def processing_refund_paypal_never_made(oid, amount=None):
    """A refund whose request PayPal answered with a 500 (a fake PayPal): PROCESSING, and PayPal
    (paysim) has no refund of it."""

    def answer(path, body):
        return (200, TOKEN) if path.startswith("/v1/oauth2/token") else (500, b'{"name":"INTERNAL_SERVER_ERROR"}')

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


def test_fail_where_paypal_has_no_such_refund_frees_the_amount_but_not_while_a_request_may_be_in_flight(key):
    order = paid_paypal_order()  # 9.00 USD
    rid = processing_refund_paypal_never_made(order["id"])
    # Just sent: its request may still be in flight, and what PayPal says now may be overtaken.
    res = finish(rid, "fail")
    assert res.returncode == 1 and "a request may be in flight" in res.stderr, res
    assert refund_state(rid)[0] == "PROCESSING"
    age(rid)
    done = finish(rid, "fail", "console: no refund on the capture")
    assert done.returncode == 0, done
    assert "recorded FAIL on your word" in done.stdout and "lists no refund under our id" in done.stdout, done.stdout
    st, note = refund_state(rid)
    assert st == "FAIL" and note.startswith("operator: console: no refund on the capture (the provider has no such")
    # Asked, read-only: PayPal never saw a refund request.
    assert db_row("SELECT count(*) FROM paysim.pp_refunds WHERE invoice_id = '%s'" % rid) == ["0"]
    # The 9.00 is free again: refunded for real, once.
    status, body, raw, _ = refund(key, order["id"], reason="again")
    assert status == 200 and body["data"]["refund"]["st"] == "OK", raw
    assert sim_refunds(order["pay_id"])["refunded"] == 900
    assert admin_order(key, order["id"])["or_st"] == "RF"
    # Run again: the same word is "already", the other is refused and changes nothing.
    again = finish(rid, "fail", "again")
    assert again.returncode == 0 and again.stdout.strip() == "refund %s: already FAIL" % rid, again
    other = finish(rid, "ok", "changed my mind")
    assert other.returncode == 1 and "recorded FAIL before" in other.stderr, other
    assert refund_state(rid)[0] == "FAIL"


def test_fail_is_not_taken_for_a_refund_under_a_day_old():
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"], amount="2.00")
    age(rid, young=True)
    res = finish(rid, "fail")
    assert res.returncode == 1 and "under a day old may still be on its way" in res.stderr, res
    assert refund_state(rid)[0] == "PROCESSING"


def test_no_answer_from_paypal_takes_the_operators_say_so(key, gone):
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"])
    age(rid)
    # reconcile against a PayPal that refuses every read keeps it so, run after run, sending
    # nothing, and names the way out.
    rec = cli("reconcile", "--min-age", "0", env=gone.env, check=False)
    assert "REFUNDING " + rid in rec.stdout and "orderpay refund finish %s ok|fail" % rid in rec.stdout, rec.stdout
    assert refund_state(rid)[0] == "PROCESSING" and gone.refund_posts() == [], gone.paths()
    age(rid)  # reconcile just asked about it
    res = finish(rid, "fail", env=gone.env)
    assert res.returncode == 1 and "no answer from the provider" in res.stderr and "--despite-no-answer" in res.stderr
    assert refund_state(rid)[0] == "PROCESSING"
    asked = len(gone.paths())
    done = finish(rid, "fail", "no refund in the console", "--despite-no-answer", env=gone.env)
    assert done.returncode == 0 and "recorded FAIL on your word" in done.stdout, done
    assert refund_state(rid)[1].startswith("operator: no refund in the console (no answer from the provider: ")
    # It asked (a GET of PayPal's order), and never asked for a refund.
    assert any(p.startswith("/v2/checkout/orders/") for p in gone.paths()[asked:]), gone.paths()
    assert gone.refund_posts() == []


def test_ok_on_the_operators_word_refunds_the_order(key, gone):
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"])
    age(rid)
    done = cli("--json", "refund", "finish", rid, "ok", "--note", "refunded by bank transfer",
               "--despite-no-answer", env=gone.env)
    shown = json.loads(done.stdout)
    assert shown["outcome"] == "recorded" and shown["detail"].startswith("no answer from the provider"), shown
    assert shown["refund"]["id"] == rid and shown["refund"]["st"] == "OK", shown
    assert shown["refund"]["note"].startswith("operator: refunded by bank"), shown
    view = admin_order(key, order["id"])
    assert view["or_st"] == "RF" and view["refunded"] == 9.0, view
    assert sim_refunds(order["pay_id"])["refunded"] == 0  # orderpay asked PayPal for nothing
    status, body, raw, _ = refund(key, order["id"], reason="more")
    assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw
    out = cli("--json", "audit", check=False)
    found = json.loads(out.stdout)["violations"]  # audit ran, whatever earlier tests left it to find
    assert out.returncode in (0, 1) and rid not in out.stdout and order["id"] not in out.stdout, found


@pytest.mark.parametrize("word", ["ok", "fail"])
def test_paypals_own_final_word_wins_over_the_operators(key, word):
    """PayPal made the refund and its answer was lost (paysim `sim:unknown`): the command finds it
    COMPLETED in PayPal's order and records that, whatever the operator said, sending nothing: a
    mistaken `fail` must not free 4.00 PayPal already gave back. Exit 3: recorded, not as said."""
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="4.00", reason="sim:unknown")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    assert refund_state(rid)[0] == "PROCESSING"
    age(rid)
    res = finish(rid, word, "looked in the console", "--despite-no-answer")
    assert refund_state(rid)[0] == "OK"
    if word == "ok":
        assert res.returncode == 0 and "the provider says so too: recorded OK" in res.stdout, res
    else:
        assert res.returncode == 3 and "the provider says otherwise: recorded OK, not your word" in res.stderr, res
    assert "operator" not in refund_state(rid)[1]
    assert paysim_refund(rid)[:2] == ["COMPLETED", "1"]  # asked for once, by the original request
    assert sim_refunds(order["pay_id"])["refunded"] == 400
    assert admin_order(key, order["id"])["refunded"] == 4.0


def test_a_refund_still_pending_at_paypal_is_not_finished_either_way(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="3.00", reason="sim:pending")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    age(rid)
    for word in ("fail", "ok"):
        res = finish(rid, word, "impatient", "--despite-no-answer")
        assert res.returncode == 1 and "still under way" in res.stderr, res
        assert refund_state(rid)[0] == "PROCESSING"
    # It ends at PayPal, and orderpay records that.
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "status": "COMPLETED"})
    assert status == 200, raw
    assert refund_state(rid)[0] == "OK"


def pp_refund_json(pid, rid, value, status="COMPLETED"):
    return {"id": pid, "status": status, "invoice_id": rid, "amount": {"value": value, "currency_code": "USD"}}


def test_money_paypal_reports_moved_otherwise_is_never_freed_by_the_operators_word(key):
    """Review s23-finish H1: answers that say money moved, but not as this refund can be recorded,
    were "could not say" and took a `fail`: PayPal's refund reported for 1.00 against our 3.00, and
    PayPal's order listing two COMPLETED refunds under our id (a second payout already made)."""
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="3.00", reason="sim:pending")
    assert status == 200, raw
    rid, pid = body["data"]["refund"]["id"], body["data"]["refund"]["provider_refund_id"]
    age(rid)
    other = FakePaypal(lambda path: (200, json.dumps(pp_refund_json(pid, rid, "1.00")).encode()))
    try:
        for word in ("fail", "ok"):
            res = finish(rid, word, "console", "--despite-no-answer", env=other.env)
            assert res.returncode == 1 and "money moved" in res.stderr and "another amount" in res.stderr, res
            assert refund_state(rid)[0] == "PROCESSING"
        assert other.paths() and all(p == "/v2/payments/refunds/" + pid for p in other.paths()), other.paths()
        # reconcile says so too, and does not point the operator at `refund finish`, which would
        # refuse it: it is settled at the provider.
        rec = cli("reconcile", "--min-age", "0", env=other.env, check=False)
        line = [x for x in rec.stdout.splitlines() if x.startswith("REFUNDING " + rid)]
        assert line and "money moved otherwise" in line[0] and "refund finish" not in line[0], rec.stdout
        age(rid)
    finally:
        other.close()
    # A status PayPal's refund does not have (yet): money may be moving (review s23-finish2 M-C);
    # and a 404 for the refund id PayPal itself gave: not a refund that never was, but another
    # account or app answering (M-B).
    for answer, said in [((200, json.dumps(pp_refund_json(pid, rid, "3.00", status="ON_HOLD")).encode()),
                          "ON_HOLD"),
                         ((404, b'{"name":"RESOURCE_NOT_FOUND"}'), "gave it id %s before" % pid)]:
        odd = FakePaypal(lambda path, answer=answer: answer)
        try:
            res = finish(rid, "fail", "console", "--despite-no-answer", env=odd.env)
        finally:
            odd.close()
        assert res.returncode == 1 and "money moved" in res.stderr and said in res.stderr, res
        assert refund_state(rid)[0] == "PROCESSING"

    never = processing_refund_paypal_never_made(order["id"], amount="5.00")
    age(never)
    capture = [{"id": capture_of(order["pay_id"]), "status": "PARTIALLY_REFUNDED"}]
    listing = {"id": "ORDER", "status": "COMPLETED", "purchase_units": [{"payments": {"captures": capture, "refunds": [
        pp_refund_json("RF1AAAAAAAAAAAAA1", never, "5.00"), pp_refund_json("RF2AAAAAAAAAAAAA2", never, "5.00")]}}]}
    two = FakePaypal(lambda path: (200, json.dumps(listing).encode()))
    try:
        res = finish(never, "fail", "console", "--despite-no-answer", env=two.env)
        assert res.returncode == 1 and "money moved" in res.stderr and "2 refunds under invoice" in res.stderr, res
        assert two.refund_posts() == []
    finally:
        two.close()
    assert refund_state(never)[0] == "PROCESSING"
    # An order that does not hold our capture (another order answering, or PayPal showing it
    # without its payments) lists no refund of ours, and that is no answer, not "no such refund"
    # (review s23-finish2 M-B): the operator's word needs --despite-no-answer.
    for units in ([{"payments": {"captures": [{"id": "9ZZ00000000000000"}], "refunds": []}}], [{"payments": {}}]):
        other = FakePaypal(lambda path, units=units: (200, json.dumps({"id": "ORDER", "purchase_units": units}).encode()))
        try:
            res = finish(never, "fail", "console", env=other.env)
            assert res.returncode == 1 and "no answer from the provider" in res.stderr, res
            assert "does not list capture" in res.stderr, res
            assert other.refund_posts() == []
        finally:
            other.close()
        assert refund_state(never)[0] == "PROCESSING"


def test_a_refund_never_sent_can_be_cancelled_never_finished_ok():
    order = paid_paypal_order()
    oid = order["id"]
    # The CLI dies between writing the refund and claiming it: NEW, never sent.
    with failing_update("refunds", oid, "NEW.order_id = '%s' AND NEW.st = 'PROCESSING'" % oid):
        died = cli("refund", oid, "--amount", "2.00", "--reason", "cancel me", check=False)
        assert died.returncode != 0, died.stdout
    rid, st = db_row("SELECT id, st FROM refunds WHERE order_id = '%s'" % oid)
    assert st == "NEW"
    res = finish(rid, "ok", "no")
    assert res.returncode == 1 and "never sent" in res.stderr, res
    assert refund_state(rid)[0] == "NEW"
    done = finish(rid, "fail", "entered by mistake")
    assert done.returncode == 0 and "recorded FAIL" in done.stdout, done
    assert refund_state(rid) == ["FAIL", "operator: entered by mistake (cancelled before it was sent)"]
    # Reconcile sends nothing for it, and PayPal never saw it.
    cli("reconcile", "--min-age", "0", check=False)
    assert refund_state(rid)[0] == "FAIL"
    assert sim_refunds(order["pay_id"])["refunded"] == 0
    rerun = cli("refund", oid, "--amount", "2.00", "--reason", "cancel me", check=False)
    assert rerun.returncode == 1 and "made before and is FAIL" in rerun.stderr, rerun


@pytest.mark.parametrize("meanwhile", ["note", "finished"])
def test_a_refund_touched_while_the_command_asks_is_left_as_it_became(meanwhile):
    """The command judged the refund, and while PayPal was being asked something else touched it:
    reconcile noted another answer on it (its state unchanged), or a notification finished it. The
    operator's word, judged on what was there before, is not written over it."""
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"])
    age(rid)
    change = ("UPDATE refunds SET note = 'raced', lm = now() WHERE id = '%s'" if meanwhile == "note" else
              "SELECT outcome FROM orderpay_refund_finish('%s', true, '', 'raced')") % rid

    def route(path):
        if path.startswith("/v2/checkout/orders/"):
            psql(change)
        return 403, b'{"name":"PERMISSION_DENIED"}'

    racing = FakePaypal(route)
    try:
        res = finish(rid, "fail", "late word", "--despite-no-answer", env=racing.env)
    finally:
        racing.close()
    assert res.returncode == 1 and "changed while this ran" in res.stderr, res
    assert refund_state(rid) == (["PROCESSING", "raced"] if meanwhile == "note" else ["OK", "raced"])


def run_raw(*args):
    """orderpay with arguments as bytes (not every byte string is UTF-8)."""
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"])
    return subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay").encode(), *args], env=env,
                          capture_output=True, timeout=60)


def test_usage_and_hostile_input_change_nothing(gone):
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"])
    age(rid)
    usage = [
        ["refund", "finish", rid, "fail"],                      # no --note
        ["refund", "finish", rid, "fail", "--note"],            # --note without a value
        ["refund", "finish", rid, "fail", "--note", ""],        # empty
        ["refund", "finish", rid, "fail", "--note", "   "],     # only spaces
        ["refund", "finish", rid, "fail", "--note", "x" * 81],  # over 80 characters
        ["refund", "finish", rid, "fail", "--note", "a\x01b"],  # a control character
        ["refund", "finish", rid, "fail", "--note", "a\nb"],
        ["refund", "finish", rid, "fail", "--note", "\u3000\u00a0"],  # only spaces of other scripts
        ["refund", "finish", rid, "fail", "--note", "ok\u202ekool"],   # a bidi override: shown reversed
        ["refund", "finish", rid, "fail", "--note", "a\u200bb"],       # zero-width
        ["refund", "finish", rid, "fail", "--note", "a\u0085b"],       # a C1 control (NEL)
        ["refund", "finish", rid, "maybe", "--note", "n"],      # not ok|fail
        ["refund", "finish", rid, "FAIL", "--note", "n"],
        ["refund", "finish", rid, "--note", "n"],               # no word
        ["refund", "finish", "--note", "n"],                    # nothing
        ["refund", "finish", rid, "fail", "extra", "--note", "n"],
        ["refund", "finish", rid, "fail", "--note", "n", "--reason", "r"],  # a flag it does not take
        ["refund", "finish", rid, "fail", "--note", "n", "--amount", "1"],
        ["refund", "finish", rid, "fail", "--note", "n", "--despite-no-answer", "yes"],  # a switch
    ]
    for args in usage:
        res = cli(*args, check=False, env=gone.env)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
    res = run_raw(b"refund", b"finish", rid.encode(), b"fail", b"--note", b"caf\xe9 \xff")
    assert res.returncode == 2 and b"UTF-8" in res.stderr, res
    for bad in ["nosuchrefund", "", "x" * 300, "' OR 1=1 --", "\u9000" * 10, rid.upper()]:
        res = cli("refund", "finish", bad, "fail", "--note", "n", check=False, env=gone.env)
        assert res.returncode == 1 and "no such refund" in res.stderr, (bad, res.stdout, res.stderr)
    res = cli("--json", "refund", "finish", "nosuchrefund", "fail", "--note", "n", check=False)
    assert res.returncode == 1 and json.loads(res.stdout) == {"outcome": "no_refund", "detail": "", "refund": None}
    res = run_raw(b"refund", b"finish", b"\xff\xfe", b"fail", b"--note", b"n")
    assert res.returncode == 1 and b"no such refund" in res.stderr, res
    assert refund_state(rid)[0] == "PROCESSING" and gone.refund_posts() == []
    # The refund command's own --reason: not UTF-8 was PostgreSQL's "invalid byte sequence" (exit
    # 1); now a usage error like any other bad reason, and nothing is written.
    before = db_row("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order["id"])
    res = run_raw(b"refund", order["id"].encode(), b"--amount", b"0.01", b"--reason", b"caf\xe9 \xff")
    assert res.returncode == 2 and b"UTF-8" in res.stderr, res
    assert db_row("SELECT count(*) FROM refunds WHERE order_id = '%s'" % order["id"]) == before
    # 80 characters, any script: taken whole.
    note = "\u9000" * 80
    assert finish(rid, "fail", note, "--despite-no-answer", env=gone.env).returncode == 0
    assert refund_state(rid)[1].startswith("operator: " + note + " (")


def test_wechat_an_ok_of_no_amount_is_not_a_refund_of_ours():
    """A refundquery saying SUCCESS for our refund with refund_fee 0 (a broken or lying WeChat, or
    whoever holds the merchant's key in its place): an amount of 0 read as "none stated", and the
    refund was recorded OK on it; it is a refund of another amount now: disputed, nothing recorded
    (review s23-finish Low)."""
    import test_wx_refund as wx
    from test_zzz_hostile_faults import wx_sign, wx_xml
    order = wx.paid_order()
    r = wx.refund_ok(order["id"], "1.00")
    assert r["st"] == "PROCESSING", r
    age(r["id"])

    def answer(path, body):
        f = {"return_code": "SUCCESS", "return_msg": "OK", "appid": STACK["DEMO_WX_APP_ID"],
             "mch_id": STACK["DEMO_WX_MCH_ID"], "nonce_str": "n0nce", "result_code": "SUCCESS",
             "out_trade_no": order["pay_id"], "refund_count": "1", "out_refund_no_0": r["id"],
             "refund_id_0": "50300000000000000000000000000", "refund_status_0": "SUCCESS", "refund_fee_0": "0"}
        f["sign"] = wx_sign(f)
        return wx_xml(f)

    fake = FakeGateway(answer)
    try:
        res = finish(r["id"], "ok", "the console shows it", env={"ORDERPAY_WXPAY_GATEWAY": fake.url})
    finally:
        fake.close()
    assert res.returncode == 1 and "money moved" in res.stderr and "another amount" in res.stderr, res
    assert refund_state(r["id"])[0] == "PROCESSING"


def test_reconcile_records_a_disputed_answer_and_does_not_ask_for_the_refund_again():
    """WeChat's refundquery lists our refund in a status orderpay does not know: money may be
    moving. reconcile asked for the refund again on it (same out_refund_no), and WeChat's
    "accepted" then overwrote what its query had said with "pending"; it is recorded as the query
    said now, for an operator at the provider, and nothing is sent."""
    import test_wx_refund as wx
    from test_zzz_hostile_faults import wx_sign, wx_xml
    order = wx.paid_order()
    r = wx.refund_ok(order["id"], "1.00")
    assert r["st"] == "PROCESSING", r

    def answer(path, body):
        f = {"return_code": "SUCCESS", "return_msg": "OK", "appid": STACK["DEMO_WX_APP_ID"],
             "mch_id": STACK["DEMO_WX_MCH_ID"], "nonce_str": "n0nce", "result_code": "SUCCESS",
             "out_trade_no": order["pay_id"], "refund_count": "1", "out_refund_no_0": r["id"],
             "refund_id_0": "50300000000000000000000000001", "refund_status_0": "SUSPENDED_BY_BANK",
             "refund_fee_0": "100", "out_refund_no": r["id"], "refund_id": "50300000000000000000000000001",
             "refund_fee": "100"}
        f["sign"] = wx_sign(f)
        return wx_xml(f)

    fake = FakeGateway(answer)
    try:
        rec = cli("reconcile", "--min-age", "0", env={"ORDERPAY_WXPAY_GATEWAY": fake.url}, check=False)
        ours = [p for p, b in fake.calls if r["id"].encode() in b]
    finally:
        fake.close()
    assert ours and all(p.endswith("/refundquery") for p in ours), ours
    line = [x for x in rec.stdout.splitlines() if x.startswith("REFUNDING " + r["id"])]
    assert line and "SUSPENDED_BY_BANK" in line[0] and "money moved otherwise" in line[0], rec.stdout
    st, note = refund_state(r["id"])
    assert st == "PROCESSING" and "SUSPENDED_BY_BANK" in note, note


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
        age(rid)
        res = finish(rid, "fail", "the buyer says nothing came", "--despite-no-answer")
        assert res.returncode == 1 and "still under way" in res.stderr, res
        assert refund_state(rid)[0] == "PROCESSING"
    assert refund_state(stuck["id"])[1].startswith("stuck at the provider")
    st, body, raw, _ = wx.refund(order["id"], "4.01")  # still counted: 21.00 of 25.00
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    wx.set_mode(order["pay_id"], "timeout")  # WeChat refunds, orderpay gives up on the answer
    lost = wx.refund_ok(order["id"], "2.50")
    wx.set_mode(order["pay_id"], "")
    assert lost["st"] == "PROCESSING" and "timeout" in lost["note"], lost
    age(lost["id"])
    res = finish(lost["id"], "fail", "not in the console yet")
    assert res.returncode == 3 and "the provider says otherwise: recorded OK" in res.stderr, res
    assert refund_state(lost["id"])[0] == "OK"
    assert wx.sim_refunds(order["pay_id"])["refunded"] == 2350  # 20.00 + 1.00 + 2.50, each once


def test_wechat_a_refund_wechat_has_no_record_of_takes_the_operators_word():
    """WeChat Pay v2 answers REFUNDNOTEXIST for a refund whose request never reached it (here a
    fake gateway answered the refund with a 500): an answer, so the word is recorded."""
    import test_wx_refund as wx
    order = wx.paid_order()
    down = FakeGateway(lambda path, body: (500, b"busy"))
    try:
        out = cli("refund", order["id"], "--amount", "4.00", "--reason", "never landed", "--key", "nl-" + order["id"],
                  env={"ORDERPAY_WXPAY_GATEWAY": down.url})
    finally:
        down.close()
    rid = db_row("SELECT id FROM refunds WHERE order_id = '%s'" % order["id"])[0]
    assert refund_state(rid)[0] == "PROCESSING", out.stdout
    age(rid)
    done = finish(rid, "fail", "not in the merchant platform")
    assert done.returncode == 0 and "the provider has no such refund: REFUNDNOTEXIST" in done.stdout, done
    assert refund_state(rid)[0] == "FAIL"
    assert wx.sim_refunds(order["pay_id"])["refunded"] == 0
    assert wx.refund_ok(order["id"], "25.00")["st"] == "PROCESSING"  # the whole payment is there again


def test_the_operators_fail_is_not_recorded_over_by_a_later_notification_it_is_a_logged_conflict():
    """The operator's word is final here: WeChat could not be reached, the operator said fail
    despite no answer, and WeChat's refund notification later says SUCCESS. It is acknowledged,
    kept in the inbox as a conflict and logged, never written over the refund (README: give fail
    only for a refund you saw did not happen)."""
    import test_wx_refund as wx
    order = wx.paid_order()
    r = wx.refund_ok(order["id"], "3.00")
    assert r["st"] == "PROCESSING"
    age(r["id"])
    unreachable = {"ORDERPAY_WXPAY_GATEWAY": "http://127.0.0.1:9", "ORDERPAY_HTTP_CONNECT_TIMEOUT_MS": "1000"}
    res = finish(r["id"], "fail", "bank says never sent", env=unreachable)
    assert res.returncode == 1 and "no answer from the provider" in res.stderr, res
    done = finish(r["id"], "fail", "bank says never sent", "--despite-no-answer", env=unreachable)
    assert done.returncode == 0 and "recorded FAIL on your word" in done.stdout, done
    assert [x["status"] for x in wx.notify(r["id"], status="SUCCESS")["replies"]] == [200]
    assert refund_state(r["id"])[0] == "FAIL"
    verdict, reason = inbox(order["pay_id"])[-1]
    assert verdict == "ignored" and reason.startswith("conflict: refund " + r["id"]), (verdict, reason)
    # reconcile names the slip for an operator (CONFLICT, with the report), not the log alone
    # (review s23-finish M3).
    rec = cli("reconcile", "--min-age", "0", check=False)
    line = [x for x in rec.stdout.splitlines() if x.startswith("CONFLICT") and order["pay_id"] in x]
    assert line and "contradicts a refund result orderpay recorded (conflict: refund %s" % r["id"] in line[0], rec.stdout
    assert "check the refund at the provider" in rec.stdout
    listed = json.loads(cli("reconcile", "--min-age", "0", "--json", check=False).stdout)["attention"]
    assert [a["kind"] for a in listed if a["slip"] == order["pay_id"]] == ["CONFLICT"], listed
    assert refund_state(r["id"])[0] == "FAIL"


def test_a_kept_payment_whose_refund_is_in_conflict_is_listed_conflict_with_no_refund_command():
    """A payment kept after its order expired (refund_needed: reconcile lists it REFUND with the
    command that gives it back). Its refund was failed on the operator's word, and WeChat then
    notified it SUCCESS: listed as REFUND, reconcile offered `orderpay refund --slip` for money
    WeChat had paid out already (review s24-b H1). It is CONFLICT now, with no refund command,
    and its detail keeps what else is true of the slip."""
    import test_late_payment as late
    import test_wx_refund as wx
    from helpers import buy_ok, sim_pay
    pid = late.product(1)
    order = buy_ok(products=[{"id": pid, "amount": 1}])
    late.expire(order)
    buy_ok(products=[{"id": pid, "amount": 1}])  # someone else takes the last one
    sim_pay(order["pay_id"], force="1")
    slip = order["pay_id"]
    assert db_row("SELECT refund_needed FROM pay_slips WHERE id = '%s'" % slip) == ["t"]
    rec = cli("reconcile", "--min-age", "0", check=False)
    assert [x for x in rec.stdout.splitlines() if x.startswith("REFUND ") and slip in x], rec.stdout
    out = cli("refund", "--slip", slip, "--reason", "kept payment", "--key", "kept-" + slip, check=False)
    rid = db_row("SELECT id FROM refunds WHERE slip_id = '%s'" % slip)[0]
    assert refund_state(rid)[0] == "PROCESSING", out.stdout + out.stderr
    age(rid)
    unreachable = {"ORDERPAY_WXPAY_GATEWAY": "http://127.0.0.1:9", "ORDERPAY_HTTP_CONNECT_TIMEOUT_MS": "1000"}
    done = finish(rid, "fail", "bank says never sent", "--despite-no-answer", env=unreachable)
    assert done.returncode == 0 and "recorded FAIL on your word" in done.stdout, done
    assert [x["status"] for x in wx.notify(rid, status="SUCCESS")["replies"]] == [200]
    assert refund_state(rid)[0] == "FAIL"
    rec = cli("reconcile", "--min-age", "0", check=False)
    lines = rec.stdout.splitlines()
    mine = [i for i, x in enumerate(lines) if slip in x and not x.startswith(" ")]
    assert len(mine) == 1 and lines[mine[0]].startswith("CONFLICT"), rec.stdout
    assert "contradicts a refund result" in lines[mine[0]], lines[mine[0]]
    follow = lines[mine[0] + 1] if mine[0] + 1 < len(lines) else ""
    assert "orderpay refund --slip" not in follow and "check the refund at the provider" in follow, rec.stdout
    # Nor is the command taken if typed anyway: the money may be the buyer's already.
    sent = len(wx.sim_refunds(slip)["refunds"])
    again = cli("refund", "--slip", slip, "--reason", "kept payment, again", check=False)
    assert again.returncode == 1 and "e.www.refund.conflict" in again.stderr, again
    assert db_row("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == ["1"]
    assert len(wx.sim_refunds(slip)["refunds"]) == sent


def test_two_operators_finishing_one_refund_at_once_record_one_word(gone):
    """Two `refund finish` runs on one refund at the same moment (two operators, or one run twice
    from two shells): the talk lock, the row lock and the exact-state check let one word
    through; the other finds it busy, already so, or changed while it ran. One operator note, one
    FAIL."""
    order = paid_paypal_order()
    rid = processing_refund_paypal_never_made(order["id"])
    age(rid)
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], **gone.env)
    cmd = [os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "refund", "finish", rid, "fail", "--note", "x",
           "--despite-no-answer"]
    runs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outs = [(p.returncode, *out) for p, out in [(p, p.communicate(timeout=120)) for p in runs]]
    recorded = [o for o in outs if o[0] == 0 and "recorded FAIL on your word" in o[1]]
    others = [o for o in outs if o not in recorded]
    assert len(recorded) == 1 and len(others) == 1, outs
    code, out, err = others[0]
    assert (code == 0 and out.strip() == "refund %s: already FAIL" % rid) or \
        (code == 1 and ("changed while this ran" in err or "another process is sending it" in err)), outs
    st, note = refund_state(rid)
    assert st == "FAIL" and note.startswith("operator: x (") and note.count("operator:") == 1, note
    assert gone.refund_posts() == []
