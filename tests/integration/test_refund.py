"""Refunds of Alipay payments through the operator API (POST /api/{site}/admin/refund, GET
admin/order) and the CLI: partial then full (RF), no over-refund under concurrency (the sum at
paysim equals the sum recorded), idempotency, who may call it, bad input that writes nothing, the
provider's refusal and an unknown outcome resolved by reconcile, and a late payment flagged
refund_needed given back with `orderpay refund --slip`."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, http, psql, sim
from helpers import buy_ok, check, db_row, recorded, refund_rows, sim_pay, sim_refunded


@pytest.fixture(scope="module")
def key():
    """A fresh operator key of the demo site: the key alone on stdout."""
    out = cli("apikey", "issue", "--site", STACK["DEMO_SITE"]).stdout
    assert out.count("\n") == 1 and out.startswith("opk_"), out
    return out.strip()


def admin(method, action, key=None, body=None, params=None, headers=None, site=None, raw=None):
    url = "%s/api/%s/admin/%s" % (STACK["ORDERPAY_URL"], site or STACK["DEMO_SITE"], action)
    if params:
        url += "?" + "&".join("%s=%s" % kv for kv in params.items())
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    return http(method, url, data, hdrs)


def refund(key, order, amount=None, reason="returned", idem=None):
    body = {"order": order, "reason": reason, "idempotency_key": idem or uuid.uuid4().hex}
    if amount is not None:
        body["amount"] = amount
    return admin("POST", "refund", key, body)


def paid_order():
    """A 25.00 CNY Alipay order paid at once (scan code 280...: paid by alipay.trade.pay)."""
    order = buy_ok("zfb.scan", auth_code="280000000000000002")
    assert order["or_st"] == "OK" and order["fee"] == 25.0, order
    return order


def test_partial_refund_then_the_rest_makes_the_order_refunded(key):
    order = paid_order()
    st, body, raw, _ = refund(key, order["id"], "7.50", reason="one cup broken")
    assert st == 200, raw
    r, o = body["data"]["refund"], body["data"]["order"]
    assert r["st"] == "OK" and r["amount"] == 7.5 and r["currency"] == "CNY" and r["replay"] is False, r
    assert r["requested_by"].startswith("api:") and r["ok_at"] and r["slip"] == order["pay_id"], r
    assert o["or_st"] == "OK" and o["refunded"] == 7.5 and [x["id"] for x in o["refunds"]] == [r["id"]], o
    # The buyer sees it too (pay/check), and the operator's view of the order.
    seen = check(order["id"])[1]["data"]
    assert seen["refunded"] == 7.5 and seen["refunds"][0]["st"] == "OK" and seen["or_st"] == "OK", seen
    st, body, raw, _ = admin("GET", "order", key, params={"id": order["id"]})
    assert st == 200 and body["data"]["refunded"] == 7.5, raw
    # The rest (no amount): 17.50, and the order is fully refunded.
    st, body, raw, _ = refund(key, order["id"], reason="customer returned the rest")
    assert st == 200, raw
    r, o = body["data"]["refund"], body["data"]["order"]
    assert r["st"] == "OK" and r["amount"] == 17.5, r
    assert o["or_st"] == "RF" and o["refunded"] == 25.0 and o["rf_at"] and len(o["refunds"]) == 2, o
    assert sim_refunded(order["pay_id"]) == 2500 == recorded(order["id"])
    # Nothing is left.
    st, body, raw, _ = refund(key, order["id"], "0.01")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    assert body["msg"] == "the refund exceeds what is left of the payment", raw
    st, body, raw, _ = refund(key, order["id"])
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    # "All that is left" of nothing: said so, not "exceeds" (review s27 #7).
    assert body["msg"] == "nothing is left to refund of this payment (refunded 25.00 of 25.00 CNY)", raw
    res = cli("refund", order["id"], "--reason", "all of nothing", check=False)
    assert res.returncode == 1 and "e.www.refund.too_much: nothing is left to refund of this payment (in minor " \
        "units: paid 2500, refunded or refunding 2500" in res.stderr, res.stderr
    assert refund_rows(order["id"]) == 2
    # A refunded order takes no payment again, and the operator's listing shows the refunds.
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"], "pt": "zfb.qrcode"})
    assert st == 409 and body["errCode"] == "e.www.order.closed", raw
    shown = cli("order", "show", order["id"]).stdout
    assert "state RF" in shown and shown.count("  refund ") == 2, shown
    assert order["id"] in cli("order", "list", "--state", "RF").stdout


def test_ten_concurrent_refunds_never_exceed_the_payment(key):
    order = paid_order()
    # 10 x 4.00 of 25.00: exactly six fit.
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda i: refund(key, order["id"], 4, reason="part %d" % i), range(10)))
    codes = sorted((st, body["errCode"] if not body["ok"] else body["data"]["refund"]["st"])
                   for st, body, _, _ in results)
    assert codes == [(200, "OK")] * 6 + [(409, "e.www.refund.too_much")] * 4, codes
    assert recorded(order["id"]) == 2400 == recorded(order["id"], ("NEW", "PROCESSING", "OK", "FAIL"))
    assert sim_refunded(order["pay_id"]) == 2400
    assert refund_rows(order["id"]) == 6
    # The last 1.00 still fits; then nothing does.
    assert refund(key, order["id"], "1.00")[0] == 200
    assert refund(key, order["id"], "0.01")[1]["errCode"] == "e.www.refund.too_much"
    assert check(order["id"])[1]["data"]["or_st"] == "RF"


def test_concurrent_refunds_that_complete_the_payment_make_the_order_refunded(key):
    """Five refunds of a fifth each, sent at once: all fit, and whichever finishes last takes the
    order to RF (orderpay_refund_finish sums under the slip lock, so two finishing together
    still see each other's OK; this test does not force that interleaving)."""
    for _ in range(3):
        order = paid_order()
        with ThreadPoolExecutor(5) as pool:
            results = list(pool.map(lambda i: refund(key, order["id"], "5.00", reason="fifth %d" % i), range(5)))
        assert [st for st, _, _, _ in results] == [200] * 5, [r[2] for r in results]
        seen = check(order["id"])[1]["data"]
        assert seen["or_st"] == "RF" and seen["refunded"] == 25.0, seen
        assert sim_refunded(order["pay_id"]) == 2500


def test_the_same_idempotency_key_refunds_once(key):
    order = paid_order()
    idem = "rma-" + uuid.uuid4().hex
    first = refund(key, order["id"], "5.00", idem=idem)
    again = refund(key, order["id"], "5.00", idem=idem)
    assert first[0] == again[0] == 200, (first[2], again[2])
    a, b = first[1]["data"]["refund"], again[1]["data"]["refund"]
    assert a["id"] == b["id"] and a["replay"] is False and b["replay"] is True and b["st"] == "OK"
    assert refund_rows(order["id"]) == 1 and sim_refunded(order["pay_id"]) == 500
    # Concurrently, twenty copies of one request: still one refund.
    idem2 = "rma-" + uuid.uuid4().hex
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: refund(key, order["id"], "2.00", idem=idem2), range(20)))
    assert {st for st, _, _, _ in results} == {200}, [r[2] for r in results if r[0] != 200]
    assert len({body["data"]["refund"]["id"] for _, body, _, _ in results}) == 1
    assert refund_rows(order["id"]) == 2 and sim_refunded(order["pay_id"]) == 700
    # The key with another amount (or order) names another refund: refused, nothing written.
    st, body, raw, _ = refund(key, order["id"], "3.00", idem=idem)
    assert st == 409 and body["errCode"] == "e.www.api.idempotency_mismatch", raw
    other = paid_order()
    st, body, raw, _ = refund(key, other["id"], "5.00", idem=idem)
    assert st == 409 and body["errCode"] == "e.www.api.idempotency_mismatch", raw
    assert refund_rows(order["id"]) == 2 and refund_rows(other["id"]) == 0


def test_who_may_refund(key):
    order = paid_order()
    body = {"order": order["id"], "reason": "x", "idempotency_key": uuid.uuid4().hex}
    ticket = STACK["DEMO_TICKET"]
    revoked = cli("apikey", "issue", "--site", STACK["DEMO_SITE"], "--json").stdout
    revoked = json.loads(revoked)["key"]
    assert cli("apikey", "revoke", revoked).returncode == 0
    other_site = cli("apikey", "issue", "--site", STACK["DEMO_USD_SITE"]).stdout.strip()
    cases = [
        ({}, 401, "e.www.api.auth.nokey"),
        ({"Authorization": "Bearer " + ticket}, 401, "e.www.api.auth.badkey"),  # a buyer ticket
        ({"Authorization": "Basic " + key}, 401, "e.www.api.auth.nokey"),
        ({"Authorization": "Bearer " + key[:-2] + ("AA" if not key.endswith("AA") else "BB")}, 401,
         "e.www.api.auth.badkey"),
        ({"Authorization": "Bearer " + revoked}, 401, "e.www.api.auth.badkey"),
        ({"Authorization": "Bearer " + other_site}, 403, "e.www.api.auth.forbidden"),
    ]
    for headers, want_st, want_code in cases:
        st, resp, raw, hdrs = admin("POST", "refund", body=body, headers=headers)
        assert st == want_st and resp["errCode"] == want_code, (headers, raw)
        if want_st == 401:
            assert any(k.lower() == "www-authenticate" for k in hdrs), hdrs
        st, resp, raw, _ = admin("GET", "order", params={"id": order["id"]}, headers=headers)
        assert st == want_st and resp["errCode"] == want_code, (headers, raw)
    # A ticket in the query string, the buyer API's way, counts for nothing here.
    st, resp, raw, _ = admin("POST", "refund", body=body, params={"ticket": ticket})
    assert st == 401 and resp["errCode"] == "e.www.api.auth.nokey", raw
    assert refund_rows(order["id"]) == 0 and sim_refunded(order["pay_id"]) == 0
    # The other site's key works on its own site, where this order does not exist.
    st, resp, raw, _ = admin("GET", "order", other_site, params={"id": order["id"]}, site=STACK["DEMO_USD_SITE"])
    assert st == 404 and resp["errCode"] == "e.io.obj.noexists", raw
    # The buyer API does not take the key either.
    st, _, raw, _ = http("GET", "%s/api/%s/pay/check?id=%s" % (STACK["ORDERPAY_URL"], STACK["DEMO_SITE"], order["id"]),
                         None, {"Authorization": "Bearer " + key})
    assert st == 401, raw
    listed = json.loads(cli("apikey", "list", "--site", STACK["DEMO_SITE"], "--json").stdout)
    assert any(k["revoked"] for k in listed) and not any("key" in k for k in listed), listed
    # Stored as its SHA-256 only.
    assert psql("SELECT count(*) FROM api_keys WHERE key_hash = sha256(convert_to('%s', 'UTF8'))" % key) == "1"
    assert psql("SELECT count(*) FROM api_keys WHERE position(convert_to('%s', 'UTF8') IN key_hash) > 0"
                % key[-20:]) == "0"


@pytest.mark.parametrize("amount", [0, "0", "0.00", -1, "-1.00", "7.555", 7.555, "abc", "", "1e3", 1e30, True,
                                    [1], {"v": 1}, " 7.50", "7,50"])
def test_invalid_amounts_write_nothing(key, amount):
    order = paid_order()
    st, body, raw, _ = refund(key, order["id"], amount)
    assert st == 400 and body["errCode"] == "e.www.refund.invalid.amount", raw
    assert refund_rows(order["id"]) == 0


@pytest.mark.parametrize("reason", [None, "", "x" * 81, "tab\there", 5, "   ", "\u3000", "\u200b",
                                    "paid \u202ednufer", "a\u2066b\u2069", "a\u0085b", "a\u2028b", "\ufeffx"])
def test_invalid_reasons_write_nothing(key, reason):
    order = paid_order()
    body = {"order": order["id"], "amount": "1.00", "idempotency_key": uuid.uuid4().hex}
    if reason is not None:
        body["reason"] = reason
    st, resp, raw, _ = admin("POST", "refund", key, body)
    assert st == 400 and resp["errCode"] == "e.www.refund.invalid.reason", raw
    assert refund_rows(order["id"]) == 0
    # The message says which rule the reason broke (review s25-newuser #7).
    said = {"": "empty", "x" * 81: "over 80", "   ": "blank", "\u3000": "blank", "\u200b": "invisible",
            "tab\there": "control", "paid \u202ednufer": "bidi", "a\u2028b": "line separator"}
    if isinstance(reason, str) and reason in said:
        assert said[reason] in resp["msg"], (reason, resp["msg"])


def test_other_bad_requests_write_nothing(key):
    order = paid_order()
    base = {"order": order["id"], "amount": "1.00", "reason": "r", "idempotency_key": "k-" + uuid.uuid4().hex}
    # 80 characters of Chinese are fine (characters, not bytes), and the key is optional nowhere.
    cases = [
        (dict(base, amount="99999.00"), 409, "e.www.refund.too_much"),
        (dict(base, amount="25.01"), 409, "e.www.refund.too_much"),
        ({k: v for k, v in base.items() if k != "idempotency_key"}, 400, "e.www.order.invalid.field"),
        (dict(base, idempotency_key="has space"), 400, "e.www.order.invalid.field"),
        (dict(base, idempotency_key="k" * 129), 400, "e.www.order.invalid.field"),
        ({k: v for k, v in base.items() if k != "order"}, 400, "e.www.order.nil.id"),
        (dict(base, order=5), 400, "e.www.order.invalid.field"),
        (dict(base, order="nosuchorder"), 404, "e.io.obj.noexists"),
        (dict(base, order="NOT-AN-ID"), 404, "e.io.obj.noexists"),
    ]
    for body, want_st, want_code in cases:
        st, resp, raw, _ = admin("POST", "refund", key, body)
        assert st == want_st and resp["errCode"] == want_code, (body, raw)
    raws = [
        (b"not json", {}, 400, "e.www.api.invalid.json"),
        (b"[1,2]", {}, 400, "e.www.api.invalid.json"),
        (json.dumps(base).encode(), {"Content-Type": "text/plain"}, 415, "e.www.api.unsupported_media_type"),
        (json.dumps(dict(base, reason="x" * 5000)).encode(), {}, 413, "e.www.api.too_large"),
        (b'{"order":"%s","amount":"1.00","reason":"bad \xff","idempotency_key":"k1"}' % order["id"].encode(), {},
         400, "e.www.api.invalid.encoding"),
    ]
    for data, headers, want_st, want_code in raws:
        st, resp, raw, _ = admin("POST", "refund", key, headers=headers, raw=data)
        assert st == want_st and resp["errCode"] == want_code, (data[:60], raw)
    assert refund_rows(order["id"]) == 0
    # A key used for another amount: the message names the body's field and the refund it names.
    assert admin("POST", "refund", key, dict(base, amount="1.00", idempotency_key="m-" + base["idempotency_key"]))[0] == 200
    st, resp, raw, _ = admin("POST", "refund", key, dict(base, amount="2.00", idempotency_key="m-" + base["idempotency_key"]))
    assert st == 409 and resp["errCode"] == "e.www.api.idempotency_mismatch", raw
    assert resp["msg"].startswith("this idempotency_key was used for another refund: "), raw
    assert "(100, asked with that amount)" in resp["msg"], raw
    st, resp, raw, _ = admin("GET", "refund", key)
    assert st == 405, raw
    st, resp, raw, _ = admin("GET", "order", key)
    assert st == 400 and resp["errCode"] == "e.www.order.nil.id", raw
    # 80 characters (240 bytes of UTF-8) are a valid reason.
    st, resp, raw, _ = admin("POST", "refund", key, dict(base, reason="退" * 80))
    assert st == 200 and resp["data"]["refund"]["reason"] == "退" * 80, raw


def test_an_unpaid_order_is_not_refunded(key):
    order = buy_ok("zfb.qrcode")
    st, body, raw, _ = refund(key, order["id"], "1.00")
    assert st == 409 and body["errCode"] == "e.www.refund.not_paid", raw
    assert body["data"]["order"]["or_st"] == "WT"
    assert refund_rows(order["id"]) == 0


def test_a_refusal_fails_the_refund_and_frees_its_amount(key):
    order = paid_order()
    st, body, raw, _ = refund(key, order["id"], reason="[sim:fail] no balance")
    assert st == 409 and body["errCode"] == "e.www.refund.failed", raw
    assert "ACQ.SELLER_BALANCE_NOT_ENOUGH" in body["msg"]
    r = body["data"]["refund"]
    assert r["st"] == "FAIL" and r["amount"] == 25.0 and body["data"]["order"]["refunded"] == 0, r
    assert sim_refunded(order["pay_id"]) == 0
    # The whole amount is free again.
    st, body, raw, _ = refund(key, order["id"], reason="second try")
    assert st == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["order"]["or_st"] == "RF", raw
    assert sim_refunded(order["pay_id"]) == 2500 == recorded(order["id"])


@pytest.mark.parametrize("knob", ["[sim:20000]", "[sim:lost]"])
def test_an_unknown_outcome_stays_processing_until_reconcile(key, knob):
    order = paid_order()
    st, body, raw, _ = refund(key, order["id"], "10.00", reason=knob + " lost answer")
    assert st == 200, raw
    r = body["data"]["refund"]
    assert r["st"] == "PROCESSING" and body["data"]["order"]["refunded"] == 0, r
    # The money moved at paysim; orderpay does not know yet, and still counts it as taken.
    assert sim_refunded(order["pay_id"]) == 1000
    st, body, raw, _ = refund(key, order["id"], "15.01")
    assert st == 409 and body["errCode"] == "e.www.refund.too_much", raw
    cli("reconcile", "--min-age", "0")
    row = db_row("SELECT st, note FROM refunds WHERE id = '%s'" % r["id"])
    assert row[0] == "OK", row
    assert check(order["id"])[1]["data"]["refunded"] == 10.0
    assert sim_refunded(order["pay_id"]) == 1000 == recorded(order["id"])


def test_reconcile_asks_again_for_a_refund_the_provider_never_got(key):
    """A worker that died between claiming a refund and asking: the query finds nothing, and the
    refund is asked for again under the same id (refunded once)."""
    order = paid_order()
    rid = "lost" + uuid.uuid4().hex[:20]
    out = psql("SELECT outcome FROM orderpay_refund_open('%s', '%s', NULL, 300, 'worker died', 'test', NULL, '%s')"
               % (STACK["DEMO_SITE"], order["id"], rid))
    assert out == "created"
    psql("UPDATE refunds SET st = 'PROCESSING' WHERE id = '%s'" % rid)
    cli("reconcile", "--min-age", "0")
    assert psql("SELECT st FROM refunds WHERE id = '%s'" % rid) == "OK"
    cli("reconcile", "--min-age", "0")
    assert sim_refunded(order["pay_id"]) == 300


def test_cli_refund_and_list(key):
    order = paid_order()
    res = cli("refund", order["id"], "--amount", "2.50", "--reason", "cli partial", "--key", "cli-" + order["id"],
              "--json")
    r = json.loads(res.stdout)
    assert r["st"] == "OK" and r["amount"] == 2.5 and r["requested_by"] == "cli", r
    again = json.loads(cli("refund", order["id"], "--amount", "2.50", "--reason", "cli partial", "--key",
                           "cli-" + order["id"], "--json").stdout)
    assert again["id"] == r["id"] and again["replay"] is True
    res = cli("refund", order["id"], "--amount", "30", "--reason", "too much", check=False)
    assert res.returncode == 1 and "e.www.refund.too_much" in res.stderr, res.stderr
    res = cli("refund", order["id"], "--amount", "1.005", "--reason", "r", check=False)
    assert res.returncode == 2, res.stderr
    listed = json.loads(cli("refund", "list", "--site", STACK["DEMO_SITE"], "--json").stdout)
    assert any(x["id"] == r["id"] and x["amount"] == 2.5 and x["st"] == "OK" for x in listed), listed
    assert r["id"] in cli("refund", "list").stdout


def test_refund_slip_refuses_the_slip_a_paid_order_is_paid_through(key):
    """`refund --slip` is for a payment its order does not count (a late or double payment). It
    took any paid slip: a mistyped slip id refunded an order's real payment in full without a
    question (review s25-newuser #15). It now names the order to refund instead; nothing is
    written or sent."""
    order = paid_order()
    res = cli("refund", "--slip", order["pay_id"], "--reason", "typo", check=False)
    assert res.returncode == 1, res
    assert "slip %s pays order %s (OK): refund the order" % (order["pay_id"], order["id"]) in res.stderr, res
    assert refund_rows(order["id"]) == 0 and sim_refunded(order["pay_id"]) == 0
    res = cli("refund", order["id"], "--reason", "the order, then")
    assert " OK " in res.stdout or " PROCESSING " in res.stdout, res


def test_late_payment_refunded_with_refund_slip(key):
    pid = "rf-late-%d" % int(time.time() * 1000)
    cli("product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "late " + pid, "--price", "3.00",
        "--stock", "1")
    order = buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % order["id"])
    cli("expire", "--limit", "100000")
    buy_ok("zfb.qrcode", products=[{"id": pid, "amount": 1}])  # someone else takes the last one
    sim_pay(order["pay_id"], force="1")  # the buyer paid the closed trade anyway
    row = db_row("SELECT o.or_st, s.st, s.refund_needed FROM orders o JOIN pay_slips s ON s.id = o.pay_id "
                 "WHERE o.id = '%s'" % order["id"])
    assert row == ["FA", "OK", "t"], row
    out = cli("reconcile").stdout
    assert "orderpay refund --slip %s" % order["pay_id"] in out, out
    # The operator API refuses: the order is not paid (its payment is kept, not the order's).
    st, body, raw, _ = refund(key, order["id"])
    assert st == 409 and body["errCode"] == "e.www.refund.not_paid", raw
    res = cli("refund", "--slip", order["pay_id"], "--reason", "sold out after expiry", "--json")
    r = json.loads(res.stdout)
    assert r["st"] == "OK" and r["amount"] == 3.0 and r["slip"] == order["pay_id"], r
    assert sim_refunded(order["pay_id"]) == 300
    assert order["pay_id"] not in cli("reconcile").stdout
    # Given back once: a second --slip refund has nothing left.
    res = cli("refund", "--slip", order["pay_id"], "--reason", "again", check=False)
    assert res.returncode == 1 and "e.www.refund.too_much" in res.stderr, res.stderr
    assert check(order["id"])[1]["data"]["refunded"] == 3.0


def test_refund_calls_and_routes_are_counted(key):
    from test_metrics import delta, req, scrape
    order = paid_order()
    before = scrape()
    assert refund(key, order["id"], "1.00")[0] == 200
    assert refund(key, order["id"], "1.00", reason="[sim:fail] refused")[0] == 409
    assert admin("GET", "order", key, params={"id": order["id"]})[0] == 200
    assert admin("GET", "order", params={"id": order["id"]})[0] == 401
    other_site = cli("apikey", "issue", "--site", STACK["DEMO_USD_SITE"]).stdout.strip()
    assert admin("GET", "order", other_site, params={"id": order["id"]})[0] == 403
    after = scrape()
    calls = 'orderpay_provider_calls_total{provider="zfb",operation="refund",outcome="%s"}'
    assert delta(before, after, calls % "ok") == 1 and delta(before, after, calls % "failed") == 1
    assert delta(before, after, req("admin/refund", 200)) == 1 and delta(before, after, req("admin/refund", 409)) == 1
    assert delta(before, after, req("admin/order", 200)) == 1 and delta(before, after, req("admin/order", 401)) == 1
    assert delta(before, after, req("admin/order", 403)) == 1


def paid_order_of_own_wx_merchant(mid, site, *cert):
    """A 3.00 CNY WeChat Pay v2 order of a new site whose seller is the new merchant `mid` (the
    demo merchant's ids and key; its client certificate only if `cert` gives it), paid."""
    from helpers import ensure_site, wait_for
    cli("merchant", "add", mid, "--provider", "wx", "--app-id", STACK["DEMO_WX_APP_ID"], "--mch-id",
        STACK["DEMO_WX_MCH_ID"], "--key-file", STACK["DEMO_WX_KEY_FILE"], *cert)
    ensure_site(site, "--store", "demo-users", "--currency", "CNY")
    cli("seller", "set", "--site", site, "--prefix", "wx", "--merchant", mid)
    cli("product", "add", "tea", "--site", site, "--title", "Tea", "--price", "3.00")
    st, body, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=site,
                           json={"products": [{"id": "tea", "amount": 1}], "pay_tp": "wx.qrcode"})
    assert st == 200, raw
    order = body["data"]
    sim_pay(order["pay_id"])
    assert wait_for(lambda: db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"], timeout=5)
    return order


def test_a_merchant_that_cannot_refund_is_refused_before_anything_is_written():
    """Every provider refunds, but a WeChat Pay v2 merchant added without its API client
    certificate cannot (WeChat refuses /secapi/* without it). Before, the refund was written and
    recorded FAIL as "the provider refused the refund" though WeChat was never asked (review
    s25-newuser #4); now it is e.www.refund.unsupported, naming what is missing, and nothing is
    written."""
    tag = uuid.uuid4().hex[:6]
    mid, site = "wx-nocert-" + tag, "nocert-" + tag
    order = paid_order_of_own_wx_merchant(mid, site)
    site_key = cli("apikey", "issue", "--site", site).stdout.strip()
    st, body, raw, _ = admin("POST", "refund", site_key, {"order": order["id"], "reason": "r", "idempotency_key": tag},
                             site=site)
    assert st == 409 and body["errCode"] == "e.www.refund.unsupported", raw
    assert "has no client certificate" in body["msg"] and body["data"]["order"]["id"] == order["id"], raw
    assert refund_rows(order["id"]) == 0
    res = cli("refund", order["id"], "--reason", "r", check=False)
    assert res.returncode == 1 and "e.www.refund.unsupported: merchant %s has no client certificate" % mid \
        in res.stderr, res.stderr
    assert refund_rows(order["id"]) == 0


def test_a_retry_gets_its_refund_after_the_merchant_lost_what_new_refunds_need():
    """A client retries admin/refund with its idempotency_key after a timeout; meanwhile the
    merchant's client certificate was taken away. The retry got 409 e.www.refund.unsupported, which
    reads as "nothing was refunded", though the first request had refunded (review s25-diff #8).
    The replay answers its refund; a new refund is still refused; the CLI's own words likewise."""
    tag = uuid.uuid4().hex[:6]
    mid, site = "wx-lost-" + tag, "lostcert-" + tag
    order = paid_order_of_own_wx_merchant(mid, site, "--client-cert-file", STACK["DEMO_WX_CLIENT_CERT"],
                                          "--client-key-file", STACK["DEMO_WX_CLIENT_KEY"])
    site_key = cli("apikey", "issue", "--site", site).stdout.strip()
    ask = {"order": order["id"], "amount": "1.00", "reason": "r", "idempotency_key": "k-" + tag}
    st, first, raw, _ = admin("POST", "refund", site_key, ask, site=site)
    assert st == 200 and first["data"]["refund"]["st"] in ("PROCESSING", "OK"), raw
    cli("refund", order["id"], "--amount", "0.50", "--reason", "cli words")
    assert refund_rows(order["id"]) == 2
    psql("UPDATE merchants SET options = options - 'client_cert_file' - 'client_key_file' WHERE id = '%s'" % mid)

    st, again, raw, _ = admin("POST", "refund", site_key, ask, site=site)
    assert st == 200 and again["data"]["refund"]["id"] == first["data"]["refund"]["id"], raw
    assert again["data"]["refund"]["replay"] is True, raw
    res = cli("refund", order["id"], "--amount", "0.50", "--reason", "cli words", check=False)
    assert "e.www.refund.unsupported" not in res.stderr, res
    assert "made before" in res.stderr or "(replay)" in res.stdout, res
    # Anything new is refused as before, and writes nothing.
    st, body, raw, _ = admin("POST", "refund", site_key, dict(ask, idempotency_key="k2-" + tag), site=site)
    assert st == 409 and body["errCode"] == "e.www.refund.unsupported", raw
    res = cli("refund", order["id"], "--amount", "0.50", "--reason", "other words", check=False)
    assert res.returncode == 1 and "e.www.refund.unsupported" in res.stderr, res
    assert refund_rows(order["id"]) == 2


def refund_notify(slip, refund_id, **form):
    form.update({"out_trade_no": slip, "out_request_no": refund_id})
    st, body, raw, _ = sim("/sim/refund_notify", form)
    assert st == 200, raw
    return body["data"]


def test_a_refund_notification_finishes_the_refund_once(key):
    """Alipay notifies the trade again after a refund (out_biz_no = our refund id): a refund
    whose answer was lost is finished by it, once under twenty concurrent copies; a tampered one
    is refused and changes nothing."""
    order = buy_ok("zfb.qrcode")
    sim_pay(order["pay_id"])  # paid through the QR code: the trade has our notify_url
    assert check(order["id"])[1]["data"]["or_st"] == "OK"
    st, body, raw, _ = refund(key, order["id"], "5.00", reason="[sim:lost] answer lost")
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    rid = body["data"]["refund"]["id"]
    forged = refund_notify(order["pay_id"], rid, tamper="sign")
    assert [r["body"] for r in forged["replies"]] == ["fail"], forged
    assert psql("SELECT st FROM refunds WHERE id = '%s'" % rid) == "PROCESSING"
    result = refund_notify(order["pay_id"], rid, times="20")
    assert [r["body"] for r in result["replies"]] == ["success"] * 20, result
    assert psql("SELECT st FROM refunds WHERE id = '%s'" % rid) == "OK"
    rows = psql("SELECT verdict, reason FROM notifications WHERE slip_id = '%s' AND reason LIKE '%%%s%%' ORDER BY id"
                % (order["pay_id"], rid)).splitlines()
    verdicts = [line.split("|")[0] for line in rows]
    assert verdicts.count("settled") == 1 and verdicts.count("duplicate") == 19, rows
    seen = check(order["id"])[1]["data"]
    assert seen["refunded"] == 5.0 and seen["or_st"] == "OK", seen
    # The rest, then its notification: the trade is closed, the order refunded, once.
    st, body, raw, _ = refund(key, order["id"], reason="[sim:20000] the rest")
    assert st == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    rest = body["data"]["refund"]["id"]
    assert [r["body"] for r in refund_notify(order["pay_id"], rest, times="3")["replies"]] == ["success"] * 3
    seen = check(order["id"])[1]["data"]
    assert seen["or_st"] == "RF" and seen["refunded"] == 25.0, seen
    assert sim_refunded(order["pay_id"]) == 2500 == recorded(order["id"])
    # The provider repeating the first one changes nothing.
    assert [r["body"] for r in refund_notify(order["pay_id"], rid)["replies"]] == ["success"]
    assert recorded(order["id"]) == 2500


def test_asking_twice_under_one_refund_id_refunds_once(key):
    """The provider asked again for a refund it already made (our row back to NEW, as if the
    answer had never been recorded): Alipay answers fund_change N, the refund query confirms it,
    and no money moves twice."""
    order = paid_order()
    idem = "twice-" + uuid.uuid4().hex
    st, body, raw, _ = refund(key, order["id"], "6.00", idem=idem)
    assert st == 200 and body["data"]["refund"]["st"] == "OK", raw
    rid = body["data"]["refund"]["id"]
    psql("UPDATE refunds SET st = 'NEW', ok_at = NULL, note = '' WHERE id = '%s'" % rid)
    st, body, raw, _ = refund(key, order["id"], "6.00", idem=idem)
    assert st == 200, raw
    r = body["data"]["refund"]
    assert r["id"] == rid and r["replay"] is True and r["st"] == "OK", r
    assert "REFUND_SUCCESS" in r["note"], r
    assert sim_refunded(order["pay_id"]) == 600 == recorded(order["id"])


def test_the_readme_error_table_says_what_admin_refund_and_pay_pay_answer(key):
    """The README's error table is a client's reference, and it left out two answers these tests
    see: admin/refund's idempotency_key (required, in a format the reply names) under
    e.www.order.invalid.field, and pay/pay on an order refunded in full (RF) under
    e.www.order.closed (review new-user). The section on admin/refund states the key's format."""
    import os
    import re
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md"),
              encoding="utf-8") as f:
        readme = f.read()
    rows = dict(re.findall(r"^\| [\d, ]+ \| `([\w.]+)` \| (.*) \|$", readme, re.M))
    section = readme.split("### Refunds: the operator API", 1)[1].split("\n### ", 1)[0]
    order = paid_order()
    st, resp, raw, _ = admin("POST", "refund", key, {"order": order["id"], "reason": "r", "idempotency_key": "a b"})
    assert st == 400 and resp["errCode"] == "e.www.order.invalid.field", raw
    form = resp["msg"].split(": ", 1)[1]  # "1 to 128 printable ASCII characters"
    row = rows["e.www.order.invalid.field"]
    assert "`admin/refund`" in row and "`idempotency_key`" in row and form in row, row
    assert form in section and "no space" in section, section
    st, resp, raw, _ = refund(key, order["id"])
    assert st == 200 and resp["data"]["order"]["or_st"] == "RF", raw
    st, resp, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]})
    assert st == 409 and resp["errCode"] == "e.www.order.closed", raw
    assert "refunded in full (`RF`" in rows["e.www.order.closed"], rows["e.www.order.closed"]
