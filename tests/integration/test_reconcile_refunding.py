"""Reconcile's attention list for a kept payment whose refund is in flight (review s27-attack #4).

A double-paid slip (its order paid through another one) is listed REFUND with the command that
gives it back. While that refund is PROCESSING (WeChat v2 answers so until its notice), the list
kept offering the same command, which is refused (`e.www.refund.too_much ... refunded or
refunding`). Refunds in flight now count as given: the slip is listed REFUNDING, naming the
refund, with nothing to run; a part neither refunded nor refunding is still REFUND, and its
hint says how much the command refunds."""

import json
import uuid

from conftest import STACK, api, cli, psql, sim
from helpers import buy_ok, db_row, paid_through_another_slip, sim_pay, wait_for, wait_state

MCH = STACK["DEMO_WX_MCH_ID"]


def double_paid():
    """A 25.00 CNY wx.qrcode order switched to zfb.qrcode and paid there; then the buyer pays the
    first (closed) WeChat code too: that slip is OK and refund_needed."""
    order, first = paid_through_another_slip()
    sim_pay(first, force="1")
    assert wait_for(lambda: db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % first)
                    == ["OK", "t"], 20)
    return order, first


def reconcile():
    # --min-age 3600: this run asks no provider about the refunds; what is listed is the database's.
    return cli("reconcile", "--min-age", "3600").stdout


def attention(slip):
    """The attention lines naming slip, each with the hint lines under it."""
    lines = reconcile().splitlines()
    out = []
    for i, line in enumerate(lines):
        if slip in line and not line.startswith(" ") and not line.startswith("queried "):
            hints = []
            for h in lines[i + 1:]:
                if not h.startswith("        "):
                    break
                hints.append(h.strip())
            out.append((line.split()[0], line, hints))
    return out


def attention_json(slip):
    listed = json.loads(cli("reconcile", "--min-age", "3600", "--json").stdout)["attention"]
    return [a for a in listed if a["slip"] == slip]


def wx_refund_notify(refund_id):
    st, _, raw, _ = sim("/sim/wx/refund_notify", {"out_refund_no": refund_id, "mch_id": MCH})
    assert st == 200, raw


def refund_slip(slip, reason, *more):
    out = cli("--json", "refund", "--slip", slip, "--reason", reason, *more).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_a_double_payment_whose_whole_refund_is_processing_is_refunding_not_refund():
    order, slip = double_paid()
    [(kind, _, hints)] = attention(slip)
    assert kind == "REFUND" and hints[0].startswith("refund with: orderpay refund --slip " + slip), hints

    r = refund_slip(slip, "double payment")
    assert r["st"] == "PROCESSING" and r["amount"] == 25.0, r
    # The command the list used to offer now is refused: everything is refunding.
    again = cli("refund", "--slip", slip, "--reason", "double payment", "--key", uuid.uuid4().hex, check=False)
    assert again.returncode == 1 and "e.www.refund.too_much" in again.stderr, again

    [(kind, line, hints)] = attention(slip)
    assert kind == "REFUNDING", line
    assert "refunding 2500 (refund %s PROCESSING)" % r["id"] in line, line
    assert not any("refund with" in h for h in hints) and "nothing to run" in hints[0], hints
    [item] = attention_json(slip)
    assert (item["kind"], item["refunded_minor"], item["refunding_minor"]) == ("REFUNDING", 0, 2500), item
    assert r["id"] in item["detail"], item

    wx_refund_notify(r["id"])  # WeChat gave the money back
    assert db_row("SELECT st FROM refunds WHERE id = '%s'" % r["id"]) == ["OK"]
    assert attention(slip) == [] and attention_json(slip) == []
    assert cli("audit", check=False).returncode == 0


def test_the_part_not_yet_refunding_is_refund_with_what_the_command_refunds():
    """A refund of part of the slip in flight (written here as a provider's PROCESSING answer would
    leave it): the rest is REFUND, and the hinted command refunds exactly that rest; a failed
    refund frees its part, listed REFUND again for that amount."""
    order, slip = double_paid()
    part = "rf" + uuid.uuid4().hex[:16]
    psql("INSERT INTO refunds (id, order_id, slip_id, site_id, provider, merchant_id, amount, currency, reason, st,"
         " requested_by) SELECT '%s', order_id, id, site_id, provider, merchant_id, 1000, currency, 'part', "
         "'PROCESSING', 'cli' FROM pay_slips WHERE id = '%s'" % (part, slip))
    [(kind, line, hints)] = attention(slip)
    assert kind == "REFUND" and "refunding 1000 (refund %s PROCESSING), 1500 left" % part in line, line
    assert hints[0].startswith("refund with: orderpay refund --slip " + slip), hints
    assert hints[0].endswith("(it refunds the 1500 CNY left)"), hints
    [item] = attention_json(slip)
    assert (item["kind"], item["refunded_minor"], item["refunding_minor"]) == ("REFUND", 0, 1000), item

    rest = refund_slip(slip, "double payment")
    assert rest["st"] == "PROCESSING" and rest["amount"] == 15.0, rest
    [(kind, line, _)] = attention(slip)
    assert kind == "REFUNDING" and "refunding 2500" in line and part in line and rest["id"] in line, line

    # The provider refused the first part: its 1000 is owed again.
    psql("UPDATE refunds SET st = 'FAIL', note = 'test: refused' WHERE id = '%s'" % part)
    [(kind, line, hints)] = attention(slip)
    assert kind == "REFUND" and "refunding 1500 (refund %s PROCESSING), 1000 left" % rest["id"] in line, line
    assert hints[0].endswith("(it refunds the 1000 CNY left)"), hints
    last = refund_slip(slip, "double payment, the rest", "--key", uuid.uuid4().hex)
    assert last["st"] == "PROCESSING" and last["amount"] == 10.0, last

    for r in (rest, last):
        wx_refund_notify(r["id"])
    assert attention(slip) == []
    assert psql("SELECT sum(amount) FROM refunds WHERE slip_id = '%s' AND st = 'OK'" % slip) == "2500"
    assert cli("audit", check=False).returncode == 0
