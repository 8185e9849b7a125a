"""Hostile probes of reconcile's attention list kind VOID (a paid slip whose void went unanswered for
ten minutes, commit 5a82ed0) and of paysim closing an Alipay trade refunded whole (commit d552a9f).

The list must name each slip once, under the kind of highest precedence (REFUND while money is
owed, MISMATCH, UNCLOSED, VOID, UNKNOWN), never a reversed slip, stay one line per slip whatever
a note holds, and hold with many marked slips. Operator refunds that together (or through a lost
answer) refund a whole Alipay trade leave it TRADE_CLOSED at paysim and the order RF, exactly once,
and reconcile neither records a second refund for the closed trade nor keeps listing it."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import STACK, api, cli, psql
from helpers import buy_ok, db_row, sim_pay, sim_refunded, wait_for, wait_state, sim_trade as trade


def product(stock=3, price="1.00"):
    pid = "hvl-%s" % uuid.uuid4().hex[:10]
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "hvl " + pid, "--price", price,
        "--stock", str(stock))
    return pid


def paid_zfb(pid=None):
    """A 1.00 zfb.qrcode order paid through paysim (its notification settled it)."""
    order = buy_ok("zfb.qrcode", products=[{"id": pid or product(), "amount": 1}])
    sim_pay(order["pay_id"])
    assert wait_state(order["id"], "OK", timeout=20)["or_st"] == "OK"
    return order


def late_paid():
    """A 1.00 zfb.qrcode order expired (FA) whose last item went to another buyer, and whose closed
    code the buyer paid anyway: its slip is OK and refund_needed (a kept payment orderpay owes)."""
    pid = product(stock=1)
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])  # someone else takes the last one
    sim_pay(order["pay_id"], force="1")
    assert wait_for(lambda: db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % order["pay_id"])
                    == ["OK", "t"], 20)
    return order


def paid_scan():
    """A 25.00 CNY Alipay order paid at once (scan code 280...)."""
    order = buy_ok("zfb.scan", auth_code="280000000000000002")
    assert order["or_st"] == "OK" and order["fee"] == 25.0, order
    return order


def mark(slip, age="11 minutes"):
    psql("UPDATE pay_slips SET voiding_at = now() - interval '%s' WHERE id = '%s'" % (age, slip))


def reconcile(*flags):
    return cli("reconcile", *flags).stdout


def listed(out, slip):
    """The attention lines (not the per-run queue lines, not hints) naming slip."""
    summary = [i for i, x in enumerate(out.splitlines()) if x.startswith("queried ")]
    assert len(summary) == 1, out
    return [x for x in out.splitlines()[summary[0] + 1:] if slip in x and not x.startswith(" ")]


def kinds(out, slip):
    return [x.split()[0] for x in listed(out, slip)]


def refunds(slip):
    return psql("SELECT coalesce(string_agg(st || ':' || amount || ':' || requested_by, ',' ORDER BY ct, id), '')"
                " FROM refunds WHERE slip_id = '%s'" % slip)


def or_st(order_id):
    return psql("SELECT or_st FROM orders WHERE id = '%s'" % order_id)


def audit_clean():
    cli("expire")
    res = cli("audit", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_marked_slip_also_owed_is_listed_once_as_refund_then_once_as_void_then_gone():
    """A paid slip flagged refund_needed (a late payment) that also carries an old void mark: while
    its money is owed it is listed once, as REFUND with its refund hint; once the operator refunds
    it whole (paysim: TRADE_CLOSED) nothing is at stake and it is not listed at all; reconcile drops
    the mark without calling the closed trade the void's refund, and records no second refund."""
    order = late_paid()
    slip = order["pay_id"]
    mark(slip)
    out = reconcile("--min-age", "3600")
    assert kinds(out, slip) == ["REFUND"], out
    lines = out.splitlines()
    assert lines[lines.index(listed(out, slip)[0]) + 1].startswith("        refund with: orderpay refund --slip "), out
    cli("refund", "--slip", slip, "--reason", "late payment")
    assert trade(slip)["state"] == "TRADE_CLOSED" and sim_refunded(slip) == 100
    out = reconcile("--min-age", "3600")
    assert kinds(out, slip) == [], out
    out = reconcile("--min-age", "0")
    assert listed(out, slip) == [] and "REVERSED " + slip not in out, out
    assert psql("SELECT voiding_at IS NULL, reversed FROM pay_slips WHERE id = '%s'" % slip) == "t|f"
    assert reconcile("--min-age", "3600").count(slip) == 0
    assert refunds(slip) == "OK:100:cli", refunds(slip)
    assert sim_refunded(slip) == 100
    audit_clean()


def test_a_marked_slip_reported_paid_again_is_listed_once_as_mismatch():
    """A paid, marked slip whose provider reported it paid again under another transaction id (a
    rejected notification): MISMATCH outranks VOID, and the slip is named once, with that report."""
    order = paid_zfb()
    slip = order["pay_id"]
    mark(slip)
    reason = "slip already OK with transaction T1, notified T2-%s" % uuid.uuid4().hex[:6]
    psql("INSERT INTO notifications (provider, site_id, slip_id, body, verdict, reason, decided_at)"
         " VALUES ('zfb', '%s', '%s', '\\x'::bytea, 'rejected', '%s', now())" % (STACK["DEMO_SITE"], slip, reason))
    psql("INSERT INTO notifications (provider, site_id, slip_id, body, verdict, reason, decided_at)"
         " VALUES ('zfb', '%s', '%s', '\\x'::bytea, 'rejected', '%s', now())" % (STACK["DEMO_SITE"], slip, reason))
    out = reconcile("--min-age", "3600")
    lines = listed(out, slip)
    assert [x.split()[0] for x in lines] == ["MISMATCH"], out
    assert reason in lines[0], lines
    audit_clean()


def test_a_marked_slip_partially_refunded_by_the_operator_keeps_its_payment():
    """The operator refunded 0.40 of a paid, marked 1.00 slip: paysim keeps it TRADE_SUCCESS. Unasked,
    it is listed once as VOID (not REFUND: nothing is owed); reconcile's answer (paid, this trade)
    drops the mark: no REVERSED, no provider refund, the order stays OK."""
    order = paid_zfb()
    slip = order["pay_id"]
    cli("refund", order["id"], "--amount", "0.40", "--reason", "part")
    assert trade(slip)["state"] == "TRADE_SUCCESS" and sim_refunded(slip) == 40
    mark(slip)
    assert kinds(reconcile("--min-age", "3600"), slip) == ["VOID"]
    out = reconcile("--min-age", "0")
    assert "REVERSED " + slip not in out and listed(out, slip) == [], out
    assert psql("SELECT voiding_at IS NULL, reversed FROM pay_slips WHERE id = '%s'" % slip) == "t|f"
    assert refunds(slip) == "OK:40:cli" and or_st(order["id"]) == "OK"
    # The rest still refunds normally, and closes the trade.
    cli("refund", order["id"], "--reason", "rest")
    assert trade(slip)["state"] == "TRADE_CLOSED" and or_st(order["id"]) == "RF"
    assert refunds(slip) == "OK:40:cli,OK:60:cli", refunds(slip)
    audit_clean()


def test_a_marked_slip_refunded_whole_by_the_operator_leaves_the_list_with_one_refund():
    """Marked (old), then refunded whole by the operator: paysim closes the trade. While unasked it may
    be listed as VOID (once); reconcile's check takes the closed trade, records nothing more, and the
    slip never shows again in the list or the queue however often reconcile runs."""
    order = paid_zfb()
    slip = order["pay_id"]
    mark(slip, "20 minutes")
    cli("refund", order["id"], "--reason", "whole")
    assert trade(slip)["state"] == "TRADE_CLOSED"
    assert kinds(reconcile("--min-age", "3600"), slip) in ([], ["VOID"])
    for _ in range(3):
        out = reconcile("--min-age", "0")
        assert listed(out, slip) == [] and "VOIDING  " + slip not in out, out
    assert refunds(slip) == "OK:100:cli", refunds(slip)
    assert or_st(order["id"]) == "RF" and sim_refunded(slip) == 100
    assert reconcile("--min-age", "3600").count(slip) == 0
    audit_clean()


def test_the_ten_minute_boundary_and_reversed_slips():
    """A mark a few seconds short of ten minutes is not listed (a void may still be in flight); one
    a few seconds past is, once. A reversed slip with however old a mark is never listed or queued."""
    order = paid_zfb()
    slip = order["pay_id"]
    mark(slip, "9 minutes 50 seconds")
    assert kinds(reconcile("--min-age", "3600"), slip) == []
    mark(slip, "10 minutes 1 second")
    out = reconcile("--min-age", "3600")
    lines = listed(out, slip)
    assert [x.split()[0] for x in lines] == ["VOID"], out
    assert lines[0].startswith("VOID    %s order %s site %s OK 100 CNY paid; a void was sent at "
                               % (slip, order["id"], STACK["DEMO_SITE"])), lines
    assert lines[0].endswith(" UTC and the provider has not said whether it refunded the payment"), lines
    hint = out.splitlines()[out.splitlines().index(lines[0]) + 1]
    assert hint == ("        ask the provider whether its void refunded the payment; reconcile asks on every run"), hint
    # The time shown is the mark's, in UTC.
    shown = psql("SELECT to_char(voiding_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM pay_slips"
                 " WHERE id = '%s'" % slip)
    assert ("sent at %s UTC" % shown) in lines[0], (shown, lines)
    other = paid_zfb()
    psql("UPDATE pay_slips SET reversed = true, voiding_at = now() - interval '3 days' WHERE id = '%s'"
         % other["pay_id"])
    out = reconcile("--min-age", "0")
    assert other["pay_id"] not in out, out
    assert reconcile("--min-age", "3600").count(other["pay_id"]) == 0
    psql("UPDATE pay_slips SET reversed = false, voiding_at = NULL WHERE id = '%s'" % other["pay_id"])
    assert psql("SELECT voiding_at IS NULL FROM pay_slips WHERE id = '%s'" % slip) == "t"


def test_fifty_marked_slips_are_each_listed_once_and_all_leave_once_answered():
    """Fifty paid slips with old marks, unasked: each is one VOID line followed by its hint, in the
    order the slips were made; reconcile with --min-age 0 asks about every one (paysim: paid, this
    trade), drops every mark, and none is listed afterwards."""
    pid = product(stock=60)
    orders = [buy_ok("wx.qrcode", products=[{"id": pid, "amount": 1}]) for _ in range(50)]
    for o in orders:
        sim_pay(o["pay_id"])
    ids = [o["id"] for o in orders]
    assert wait_for(lambda: psql("SELECT count(*) FROM orders WHERE or_st = 'OK' AND id IN (%s)"
                                 % ",".join("'%s'" % i for i in ids)) == "50", 60, step=0.5)
    slips = [o["pay_id"] for o in orders]
    psql("UPDATE pay_slips SET voiding_at = now() - interval '30 minutes' WHERE id IN (%s)"
         % ",".join("'%s'" % s for s in slips))
    out = reconcile("--min-age", "3600")
    lines = out.splitlines()
    positions = []
    for s in slips:
        mine = listed(out, s)
        assert [x.split()[0] for x in mine] == ["VOID"], (s, mine)
        i = lines.index(mine[0])
        assert lines[i + 1].startswith("        ask the provider"), lines[i:i + 2]
        positions.append(i)
    assert positions == sorted(positions)
    out = reconcile("--min-age", "0")
    assert "checked " in out
    for s in slips:
        assert listed(out, s) == [], s
    assert psql("SELECT count(*) FROM pay_slips WHERE voiding_at IS NOT NULL AND id IN (%s)"
                % ",".join("'%s'" % s for s in slips)) == "0"
    audit_clean()


def test_a_hostile_note_stays_on_one_escaped_line():
    """A marked, owed slip's detail is its note: newlines, a carriage return, an escape sequence and a
    forged list line in it are escaped, so the slip is still one attention line and no fake line
    appears."""
    order = late_paid()
    slip = order["pay_id"]
    psql("UPDATE pay_slips SET note = E'late\\nVOID    FORGED order x\\r\\x1b[31mred\\t'"
         " WHERE id = '%s'" % slip)
    mark(slip)
    out = reconcile("--min-age", "3600")
    lines = listed(out, slip)
    assert [x.split()[0] for x in lines] == ["REFUND"], out
    assert "\x1b" not in out and "\r" not in out, repr(out)
    assert not any(x.startswith("VOID    FORGED") for x in out.splitlines()), out
    assert "FORGED" in lines[0], lines
    psql("UPDATE pay_slips SET voiding_at = NULL WHERE id = '%s'" % slip)
    cli("refund", "--slip", slip, "--reason", "late payment")  # given back: off the list
    assert listed(reconcile("--min-age", "3600"), slip) == []


def test_two_racing_partial_refunds_that_sum_to_the_total_close_the_trade_once():
    """Two CLI refunds of 10.00 and 15.00 of a 25.00 Alipay payment, sent at once: both succeed once,
    paysim's trade ends TRADE_CLOSED with 25.00 refunded, the order RF; a third refund is refused
    (too_much, exit 1) and records nothing."""
    for _ in range(3):
        order = paid_scan()
        slip = order["pay_id"]

        def run(amount):
            return cli("refund", order["id"], "--amount", amount, "--reason", "race %s" % amount, "--json",
                       check=False)

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(run, ["10.00", "15.00"]))
        assert [r.returncode for r in results] == [0, 0], [r.stdout + r.stderr for r in results]
        assert sorted(json.loads(r.stdout)["st"] for r in results) == ["OK", "OK"]
        t = trade(slip)
        assert t["state"] == "TRADE_CLOSED" and sim_refunded(slip) == 2500, t
        assert or_st(order["id"]) == "RF"
        assert refunds(slip).count("OK:") == 2 and "OK:1000:cli" in refunds(slip) and "OK:1500:cli" in refunds(slip)
        third = cli("refund", order["id"], "--amount", "0.01", "--reason", "third", check=False)
        assert third.returncode == 1 and "e.www.refund.too_much" in third.stderr, third.stdout + third.stderr
        assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == "2"
        assert sim_refunded(slip) == 2500
    audit_clean()


def test_a_lost_answer_for_the_refund_that_completes_the_total_resolves_ok():
    """10.00 refunded, then the remaining 15.00 with its answer lost ([sim:lost]: paysim refunds and
    answers 504): the trade is TRADE_CLOSED and the refund PROCESSING. reconcile resolves it OK (the
    query finds it; a repeat under the same out_request_no is answered from its record, not refused
    as a closed trade); the order ends RF, once, and pay/check and pay/pay say so."""
    order = paid_scan()
    slip = order["pay_id"]
    cli("refund", order["id"], "--amount", "10.00", "--reason", "first")
    res = cli("refund", order["id"], "--reason", "[sim:lost] rest", "--json", check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    r = json.loads(res.stdout)
    assert r["st"] == "PROCESSING", r
    assert trade(slip)["state"] == "TRADE_CLOSED" and sim_refunded(slip) == 2500
    assert or_st(order["id"]) == "OK"
    refused = cli("refund", order["id"], "--amount", "0.01", "--reason", "more", check=False)
    assert refused.returncode == 1 and "e.www.refund.too_much" in refused.stderr, refused.stderr
    out = reconcile("--min-age", "0")
    assert "REFUNDING " + r["id"] not in out, out
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % r["id"]) == ["OK"]
    assert or_st(order["id"]) == "RF" and sim_refunded(slip) == 2500
    assert refunds(slip) == "OK:1000:cli,OK:1500:cli", refunds(slip)
    st, body, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]})
    assert st == 200 and body["data"]["or_st"] == "RF" and body["data"]["refunded"] == 25.0, raw
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "zfb.qrcode"})
    assert body["ok"] is False and body["errCode"] == "e.www.order.closed", raw
    reconcile("--min-age", "0")
    assert refunds(slip) == "OK:1000:cli,OK:1500:cli"
    audit_clean()


def test_a_repeat_of_the_completing_refund_on_the_closed_trade_resolves_ok():
    """The refund that completed the total is asked again under its own out_request_no after the
    trade closed (its row put back to NEW, as a worker that died before recording it would leave it,
    the lost-answer knob removed from its reason): paysim answers the repeat from its record
    (fund_change N, the query finds it), so it ends OK, not FAIL, and no money moves."""
    order = paid_scan()
    slip = order["pay_id"]
    res = cli("refund", order["id"], "--reason", "[sim:lost] all", "--json", check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    rid = json.loads(res.stdout)["id"]
    assert trade(slip)["state"] == "TRADE_CLOSED"
    psql("UPDATE refunds SET st = 'NEW', reason = 'all' WHERE id = '%s'" % rid)
    out = reconcile("--min-age", "0")
    assert "REFUNDING " + rid not in out, out
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % rid) == ["OK"], refunds(slip)
    assert or_st(order["id"]) == "RF" and sim_refunded(slip) == 2500
    assert psql("SELECT count(*) FROM paysim.zfb_refunds WHERE out_trade_no = '%s'" % slip) == "1"
    audit_clean()


def test_reconcile_json_is_machine_readable_or_refused():
    """README: `--json, before or after the command, for machine-readable output`. reconcile --json
    prints one JSON object: the run's counts, its events and the attention list (the VOID slip
    with its kind and detail), and nothing else. A command without JSON output refuses the flag
    (exit 2) instead of printing text a script would misread."""
    order = paid_zfb()
    mark(order["pay_id"])
    try:
        res = cli("reconcile", "--json", "--min-age", "3600", check=False)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        mine = [x for x in out["attention"] if x["slip"] == order["pay_id"]]
        assert len(mine) == 1 and mine[0]["kind"] == "VOID" and mine[0]["order"] == order["id"], mine
        assert mine[0]["st"] == "OK" and isinstance(mine[0]["amount_minor"], int), mine
        assert "has not said whether it refunded" in mine[0]["detail"], mine
        assert out["errors"] == 0 and isinstance(out["events"], list), out
        # The same run with the mark asked about: the event is in the JSON, not printed as text.
        res = cli("--json", "reconcile", "--min-age", "0", check=False)
        out = json.loads(res.stdout)
        assert not [x for x in out["attention"] if x["slip"] == order["pay_id"]], out
        assert out["checked_voided"] >= 1, out
    finally:
        psql("UPDATE pay_slips SET voiding_at = NULL WHERE id = '%s'" % order["pay_id"])
    res = cli("inbox", "replay", "--json", check=False)
    assert res.returncode == 2 and "has no --json output" in res.stderr and res.stdout == "", res