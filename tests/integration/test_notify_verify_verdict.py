"""`orderpay notify verify` says what the live endpoint would record (review s27-newuser #13).

It said `verdict: would settle` for any signed, matching payment, also for a slip already paid,
which the endpoint records as `duplicate`. The settlement now judges the payment against the slip
as it is, in a transaction rolled back: would settle, would record a duplicate, would keep a
double payment for refund, would reject another transaction on a paid slip; each time the live
endpoint then records just that, and verify itself changes nothing."""

import json
import secrets

from conftest import STACK, api, cli, psql
from helpers import buy_ok, db_row, paid_through_another_slip, sim_pay, wait_for, wait_state, write_headers
from test_hostile_notify import wx_fields, wx_xml


def state(order_id, slip):
    """Everything verify must leave alone: the order, its slips, stock, refunds, the inbox."""
    return psql("SELECT (SELECT or_st || ' ' || lm || ' ' || coalesce(pay_id, '') FROM orders WHERE id = '%s'),"
                " (SELECT string_agg(id || st || refund_needed || coalesce(provider_txn_id, '') || lm, ',' ORDER BY id)"
                "  FROM pay_slips WHERE order_id = '%s'),"
                " (SELECT sum(stock) FROM products), (SELECT count(*) FROM refunds),"
                " (SELECT count(*) FROM notifications WHERE slip_id = '%s')" % (order_id, order_id, slip))


def verify(tmp_path, xml, *flags):
    f = tmp_path / "n.xml"
    f.write_text(xml)
    res = cli("notify", "verify", "--site", STACK["DEMO_SITE"], "--provider", "wx", "--body", str(f), *flags,
              check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    if flags:
        return json.loads(res.stdout)
    [verdict] = [ln for ln in res.stdout.splitlines() if ln.startswith("verdict: ")]
    return verdict


def live(xml):
    st, _, raw, _ = api("POST", "re_wx", raw_body=xml, headers={"Content-Type": "text/xml"})
    assert st == 200 and b"SUCCESS" in raw, raw


def last_verdict(slip):
    return db_row("SELECT verdict, reason FROM notifications WHERE slip_id = '%s' ORDER BY id DESC LIMIT 1" % slip)


def test_verify_predicts_settle_then_duplicate_then_a_second_transaction(tmp_path):
    order = buy_ok("wx.qrcode")  # 25.00 CNY, WAIT
    slip = order["pay_id"]
    xml = wx_xml(wx_fields(slip, 2500))
    before = state(order["id"], slip)
    assert verify(tmp_path, xml) == "verdict: would settle (order %s -> OK)" % order["id"]
    out = verify(tmp_path, xml, "--json")
    assert (out["would_settle"], out["would_record"]) == (True, "settled"), out
    assert state(order["id"], slip) == before  # rolled back: still WT / WAIT, nothing stored

    live(xml)
    assert last_verdict(slip)[0] == "settled" and wait_state(order["id"], "OK")["or_st"] == "OK"
    # The same notification again: the endpoint records a duplicate, and verify now says so.
    before = state(order["id"], slip)
    assert verify(tmp_path, xml) == "verdict: would record a duplicate (slip already OK): changes nothing"
    out = verify(tmp_path, xml, "--json")
    assert (out["would_settle"], out["would_record"], out["settlement"]) == (False, "duplicate", "slip already OK")
    assert state(order["id"], slip) == before
    live(xml)
    assert last_verdict(slip) == ["duplicate", "slip already OK"]

    # A second transaction for the paid slip: refused, as the endpoint refuses it.
    other = wx_xml(wx_fields(slip, 2500, transaction_id="42" + secrets.token_hex(10)))
    said = verify(tmp_path, other)
    assert said.startswith("verdict: would reject it (slip already OK with transaction "), said
    assert verify(tmp_path, other, "--json")["would_record"] == "rejected"
    live_st, _, raw, _ = api("POST", "re_wx", raw_body=other, headers={"Content-Type": "text/xml"})
    assert live_st == 200 and last_verdict(slip)[0] == "rejected", raw
    assert said == "verdict: would reject it (%s)" % last_verdict(slip)[1]


def test_verify_of_a_double_payment_says_it_would_be_kept_for_refund(tmp_path):
    """The order paid through another slip: the first slip's payment is kept and flagged for
    refund (inbox `settled`, `refund_flagged: ...`), not settled into the order."""
    order, first = paid_through_another_slip()
    xml = wx_xml(wx_fields(first, 2500))
    before = state(order["id"], first)
    said = verify(tmp_path, xml)
    assert said == ("verdict: would keep the payment and flag the slip for refund (order %s already OK: double "
                    "payment, refund needed): reconcile lists it REFUND" % order["id"]), said
    out = verify(tmp_path, xml, "--json")
    assert (out["would_settle"], out["would_record"]) == (False, "settled"), out
    assert state(order["id"], first) == before
    # The buyer pays that code at the provider: its notification is kept as predicted.
    sim_pay(first, force="1")
    assert wait_for(lambda: db_row("SELECT st, refund_needed FROM pay_slips WHERE id = '%s'" % first)
                    == ["OK", "t"], 10)
    assert last_verdict(first) == ["settled", out["settlement"]], out
    # Paid now under the provider's transaction: this message's other one would be refused.
    assert verify(tmp_path, xml).startswith("verdict: would reject it (slip already OK with transaction ")
    # Give the kept payment back so later tests see nothing owed.
    cli("refund", "--slip", first, "--reason", "double payment")


def _verify_exact(body, headers, *flags):
    """notify verify of `body` as given, through a file and through stdin: both JSON answers."""
    import os
    import subprocess
    import tempfile
    d = tempfile.mkdtemp(prefix="nvexact-", dir=os.path.dirname(STACK["ORDERPAY_CONFIG"]))
    hf, bf = os.path.join(d, "h"), os.path.join(d, "b")
    write_headers(hf, headers)
    with open(bf, "wb") as f:
        f.write(body)
    base = ["notify", "verify", "--headers", hf, "--json", *flags]
    by_file = cli(*base, "--body", bf, check=False)
    by_pipe = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), *base, "--body", "-"], input=body,
                             env=dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"]), capture_output=True,
                             timeout=60)
    return [(r.returncode, json.loads(r.stdout)) for r in (by_file, by_pipe)]


def _headers_file(tmp_path, headers):
    return write_headers(tmp_path / "headers", headers)


def _body_file(tmp_path, body):
    f = tmp_path / "body"
    f.write_bytes(body)
    return f


def test_a_genuine_body_ending_in_a_newline_verifies_as_sent(tmp_path):
    """WeChat v3 and PayPal sign the body's exact bytes: notify verify dropped its trailing
    newlines, so a genuine notification whose body ends in one (the live endpoint settles it)
    failed its signature, through `--body FILE` and through `inbox show --body-only | ... --body -`
    alike. The bytes are now read exactly; the same body without its newline fails, as it would
    at the endpoint."""
    import os
    import subprocess
    import pytest
    if "DEMO_V3_SITE" not in STACK or "DEMO_USD_SITE" not in STACK:
        pytest.skip("stack.env has no v3 or PayPal site")
    from test_hostile_notify import captured_pp
    from test_hostile_v3_paypal_notify import envelope, plain3, post3, pp_body, pp_headers, pp_resource, seal, sign3
    from test_wx3 import buy3_ok, state3
    order = buy3_ok()
    for ending in (b"\n", b"\r\n"):
        body = envelope(seal(plain3(order["pay_id"]))) + ending
        headers = sign3(body)
        for rc, out in _verify_exact(body, headers, "--provider", "wx"):
            assert rc == 0 and out["signature_ok"] and out["would_settle"], (ending, out)
        # Exact both ways: the newline is signed, so the body without it is another message.
        rc, out = _verify_exact(body[:-len(ending)], headers, "--provider", "wx")[0]
        assert rc == 1 and not out["signature_ok"], out
    # Signed without one, given with one (an editor's): refused as the endpoint would, and stderr
    # says the body without it verifies. A forgery ending in a newline gets no such word.
    bare = envelope(seal(plain3(order["pay_id"])))
    for signed, hint in ((bare, True), (bare.replace(b'"summary":"x"', b'"summary":"y"'), False)):
        res = cli("notify", "verify", "--provider", "wx", "--headers", _headers_file(tmp_path, sign3(signed)),
                  "--body", _body_file(tmp_path, bare + b"\n"), check=False)
        assert res.returncode == 1 and "FAIL signature" in res.stdout, res
        assert ("without it the signature is valid" in res.stderr) == hint, res.stderr
    st, _, raw, _ = post3(headers, body)  # the endpoint settles it: it is genuine
    assert st == 204 and state3(order["id"])["or_st"] == "OK", raw
    row = psql("SELECT id FROM notifications WHERE slip_id = '%s' AND verdict = 'settled'" % order["pay_id"])
    op = os.path.join(STACK["ORDERPAY_BIN"], "orderpay")
    pipe = subprocess.run("'{0}' inbox show {1} --body-only | '{0}' notify verify --provider wx "
                          "--headers <('{0}' inbox show {1} --headers-only) --body -".format(op, row),
                          shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"]))
    assert pipe.returncode == 0 and "PASS signature" in pipe.stdout, pipe
    assert "verdict: would record a duplicate (slip already OK" in pipe.stdout, pipe.stdout

    paid = captured_pp()
    body = pp_body(pp_resource(paid["pay_id"], value="%.2f" % paid["fee"])) + b"\n"
    for rc, out in _verify_exact(body, pp_headers(body), "--provider", "paypal", "--webhook-id",
                                 STACK["DEMO_PAYPAL_WEBHOOK_ID"]):
        assert rc == 0 and out["signature_ok"] and out["settles_only_on_provider_query"], out
    rc, out = _verify_exact(body[:-1], pp_headers(body), "--provider", "paypal", "--webhook-id",
                            STACK["DEMO_PAYPAL_WEBHOOK_ID"])[0]
    assert rc == 1 and not out["signature_ok"], out
