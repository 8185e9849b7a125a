"""A payment whose provider contradicts a recorded refund is not refunded again until an operator
has looked. The provider's signed report that a refund recorded FAIL was paid out after all
(kept in the inbox `ignored`, `conflict: refund ...`, listed CONFLICT by reconcile) leaves that
amount counted free while the buyer may have it already: before, the operator API and the CLI
opened a second refund of it at once, and WeChat paid it, so the buyer got the money twice
(session 24's note: "a new refund on a slip in CONFLICT is not refused").

Now: 409 `e.www.refund.conflict` from the API, exit 1 from the CLI (which names the way on,
`--despite-conflict`), nothing written and nothing sent, for as long as reconcile lists the slip
(a week after the report). A replay of a key used before the report still answers its refund."""

import json
import uuid

from conftest import STACK, cli, http, psql
from helpers import db_row
from test_refund_finish import age, finish, refund_state
import test_wx_refund as wx

UNREACHABLE = {"ORDERPAY_WXPAY_GATEWAY": "http://127.0.0.1:9", "ORDERPAY_HTTP_CONNECT_TIMEOUT_MS": "1000"}


def refunds_of(slip):
    return db_row("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip)[0]


def in_conflict():
    """A paid WeChat order (25.00 CNY) whose refund of 3.00 an operator failed (WeChat could not
    be reached) and WeChat then notified SUCCESS: the report is a conflict, the refund stays FAIL,
    and the 3.00 counts free. Returns the order, the refund id and the refund's key."""
    order = wx.paid_order()
    k = "conflict-" + uuid.uuid4().hex
    st, body, raw, _ = wx.refund(order["id"], "3.00", key=k)
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    rid = body["data"]["refund"]["id"]
    age(rid)
    done = finish(rid, "fail", "bank says never sent", "--despite-no-answer", env=UNREACHABLE)
    assert done.returncode == 0 and "recorded FAIL on your word" in done.stdout, done
    assert [x["status"] for x in wx.notify(rid, status="SUCCESS")["replies"]] == [200]
    assert refund_state(rid)[0] == "FAIL"
    return order, rid, k


def test_a_payment_in_conflict_is_not_refunded_again_without_an_operator():
    order, rid, k = in_conflict()
    slip = order["pay_id"]
    sent = len(wx.sim_refunds(slip)["refunds"])
    # The API: refused with the report's words, the order as it stands, nothing written or sent;
    # an API caller cannot ask for it to be overridden (the CLI's --despite-conflict is no field of
    # admin/refund's body: refused as unknown, like any other).
    for extra in ({}, {"despite_conflict": True}):
        body = {"order": order["id"], "amount": "3.00", "reason": "again", "idempotency_key": uuid.uuid4().hex}
        body.update(extra)
        st, ans, raw, _ = http("POST", STACK["ORDERPAY_URL"] + "/api/%s/admin/refund" % STACK["DEMO_SITE"],
                                  json.dumps(body).encode(),
                                  {"Content-Type": "application/json", "Authorization": "Bearer " + wx.api_key()})
        if extra:
            assert st == 400 and ans["errCode"] == "e.www.order.invalid.field", raw
            assert ans["msg"] == "unknown field despite_conflict", raw
            continue
        assert st == 409 and ans["errCode"] == "e.www.refund.conflict", raw
        assert "conflict: refund %s" % rid in ans["msg"], ans["msg"]
        assert ans["data"]["refund"] is None and ans["data"]["order"]["id"] == order["id"], raw
    # All that is left, too: any amount of the slip waits.
    st, ans, raw, _ = wx.refund(order["id"])
    assert st == 409 and ans["errCode"] == "e.www.refund.conflict", raw
    # The refund's own key, used before the report, answers that refund as it stands (FAIL).
    st, ans, raw, _ = wx.refund(order["id"], "3.00", key=k)
    assert st == 409 and ans["errCode"] == "e.www.refund.failed", raw
    assert ans["data"]["refund"]["id"] == rid and ans["data"]["refund"]["replay"] is True, raw
    assert refunds_of(slip) == "1" and len(wx.sim_refunds(slip)["refunds"]) == sent

    # The CLI: refused, naming the way on, with or without a key.
    for args in ([], ["--key", "cli-" + uuid.uuid4().hex]):
        res = cli("refund", order["id"], "--amount", "3.00", "--reason", "again", *args, check=False)
        assert res.returncode == 1 and "e.www.refund.conflict" in res.stderr, res
        assert "conflict: refund " + rid in res.stderr and "--despite-conflict" in res.stderr, res.stderr
    assert refunds_of(slip) == "1" and len(wx.sim_refunds(slip)["refunds"]) == sent
    # An operator who checked WeChat says so: the refund is opened and sent, and the log says why.
    res = cli("refund", order["id"], "--amount", "1.00", "--reason", "checked: only 3.00 went",
              "--despite-conflict", check=False)
    assert res.returncode == 0 and " PROCESSING 1.00 CNY " in res.stdout, res
    assert "despite its provider contradicting a recorded refund" in res.stderr, res.stderr
    assert refunds_of(slip) == "2" and len(wx.sim_refunds(slip)["refunds"]) == sent + 1
    # Who overrode it stays on the refund.
    assert db_row("SELECT requested_by FROM refunds WHERE slip_id = '%s' ORDER BY ct DESC LIMIT 1" % slip) == \
        ["cli --despite-conflict"]
    # The flag is the refund command's, and only a flag.
    bad = cli("refund", "list", "--despite-conflict", check=False)
    assert bad.returncode == 2, bad


def test_the_conflict_holds_refunds_back_only_while_reconcile_lists_it():
    order, rid, _ = in_conflict()
    slip = order["pay_id"]
    listed = json.loads(cli("reconcile", "--min-age", "0", "--json", check=False).stdout)["attention"]
    assert [a["kind"] for a in listed if a["slip"] == slip] == ["CONFLICT"], listed
    # A slip with no note of its own adds nothing after the report: its line ended in "; ".
    detail = [a["detail"] for a in listed if a["slip"] == slip][0]
    assert detail.endswith("the refund stays as recorded"), detail
    text = cli("reconcile", "--min-age", "0", check=False).stdout
    line = [x for x in text.splitlines() if x.startswith("CONFLICT") and slip in x]
    assert line and line[0].endswith("the refund stays as recorded"), text
    # Another payment of the shop is not held back by this one's report.
    other = wx.paid_order()
    st, ans, raw, _ = wx.refund(other["id"], "1.00")
    assert st == 200 and ans["data"]["refund"]["st"] == "PROCESSING", raw
    st, ans, raw, _ = wx.refund(order["id"], "1.00")
    assert st == 409 and ans["errCode"] == "e.www.refund.conflict", raw
    # A week on, the report is no longer listed, and the slip's refunds are the operator's again.
    psql("UPDATE notifications SET ct = ct - interval '8 days' WHERE slip_id = '%s' "
         "AND reason ~ '^conflict: refund '" % slip)
    listed = json.loads(cli("reconcile", "--min-age", "0", "--json", check=False).stdout)["attention"]
    assert [a["kind"] for a in listed if a["slip"] == slip] == [], listed
    st, ans, raw, _ = wx.refund(order["id"], "1.00")
    assert st == 200 and ans["data"]["refund"]["st"] == "PROCESSING", raw


def opened_unsent(order, amount_minor, key, reason="asked before the report"):
    """A refund opened but never sent (its worker died between the open and the claim): NEW, made
    by the same database function the API's refund runs."""
    rid = "h" + uuid.uuid4().hex[:20]
    out = db_row("SELECT outcome FROM orderpay_refund_open('%s', '%s', NULL, %d::bigint, '%s', 'test', '%s', "
                 "'%s')" % (STACK["DEMO_SITE"], order["id"], amount_minor, reason, key, rid))
    assert out == ["created"], out
    age(rid)
    return rid


def test_a_refund_asked_for_before_the_report_and_not_yet_sent_is_held():
    """A NEW refund (asked for while the amount looked free; its worker died before sending it)
    of a payment whose provider then contradicts a recorded refund: reconcile would have sent it,
    and an API replay of its key too. Both hold it now, and say how it goes on: cancelled by the
    operator, or sent when the operator gives the command with --despite-conflict."""
    order, rid, _ = in_conflict()
    slip = order["pay_id"]
    k2, k3 = "held-" + uuid.uuid4().hex, "held-" + uuid.uuid4().hex
    r2, r3 = opened_unsent(order, 200, k2), opened_unsent(order, 100, k3)
    sent = len(wx.sim_refunds(slip)["refunds"])
    rec = cli("reconcile", "--min-age", "0", "--json", check=False)
    events = {e["id"]: e for e in json.loads(rec.stdout)["events"] if e["kind"] == "REFUNDING"}
    for r in (r2, r3):
        assert r in events and "held, not sent" in events[r]["detail"], rec.stdout
        assert "conflict: refund " + rid in events[r]["detail"], events[r]
        assert db_row("SELECT st, note ~ '^held, not sent' FROM refunds WHERE id = '%s'" % r) == ["NEW", "t"]
    text = cli("reconcile", "--min-age", "0", check=False).stdout
    assert "orderpay refund finish %s fail --note" % r2 in text, text
    assert len(wx.sim_refunds(slip)["refunds"]) == sent
    # A week on the slip is no longer listed, but the refunds asked for before the report still
    # wait for the operator: sent then, they would pay the contested money after all.
    psql("UPDATE notifications SET ct = ct - interval '8 days' WHERE slip_id = '%s' "
         "AND reason ~ '^conflict: refund '" % slip)
    psql("UPDATE refunds SET ct = ct - interval '9 days' WHERE id IN ('%s', '%s')" % (r2, r3))
    rec = cli("reconcile", "--min-age", "0", "--json", check=False)
    events = {e["id"]: e for e in json.loads(rec.stdout)["events"] if e["kind"] == "REFUNDING"}
    assert r2 in events and "held, not sent" in events[r2]["detail"], rec.stdout
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % r2) == ["NEW"]
    assert len(wx.sim_refunds(slip)["refunds"]) == sent
    # The API's replay of its key answers it, held: 409 with the refund, nothing sent.
    st, ans, raw, _ = wx.refund(order["id"], "2.00", key=k2)
    assert st == 409 and ans["errCode"] == "e.www.refund.conflict", raw
    assert ans["data"]["refund"]["id"] == r2 and ans["data"]["refund"]["st"] == "NEW", raw
    assert len(wx.sim_refunds(slip)["refunds"]) == sent
    # The operator cancels one, and sends the other on purpose (its own key: the same refund id).
    done = finish(r3, "fail", "checked: not owed")
    assert done.returncode == 0 and refund_state(r3)[0] == "FAIL", done
    res = cli("refund", order["id"], "--amount", "2.00", "--reason", "checked: owed", "--key", k2,
              "--despite-conflict", check=False)
    assert res.returncode == 0 and " PROCESSING 2.00 CNY " in res.stdout and "(replay)" in res.stdout, res
    assert [x["out_refund_no"] for x in wx.sim_refunds(slip)["refunds"]][sent:] == [r2]
    # The operator's word is on the row, as on a refund opened with it (review s25-diff #7).
    assert db_row("SELECT requested_by FROM refunds WHERE id = '%s'" % r2)[0].endswith(
        ", sent: cli --despite-conflict"), db_row("SELECT requested_by FROM refunds WHERE id = '%s'" % r2)
