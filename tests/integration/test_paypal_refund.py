"""PayPal refunds end to end through nginx, orderpayd and paysim: paysim's refund endpoint
itself (PayPal's shapes, PayPal-Request-Id idempotency, never more than captured), and a paid
PayPal order refunded through the operator API: a partial refund COMPLETED synchronously, the
rest -> fully refunded; 10 concurrent partial refunds, only the ones that fit; PAYMENT.CAPTURE.
REFUNDED webhooks found by their capture, duplicates recorded once, tampered ones refused;
PENDING finished (or failed) by the webhook; an unknown outcome resolved by reconcile; PayPal's
refusal -> FAIL; JPY (no decimals at PayPal)."""

import base64
import json
import secrets

import pytest
from conftest import STACK, api, cli, http, sim
from helpers import db_row, ensure_site, inbox

SITE = STACK.get("DEMO_USD_SITE", "demo-usd")

pytestmark = pytest.mark.skipif("DEMO_PAYPAL_CLIENT_ID" not in STACK, reason="stack.env has no PayPal merchant")


def paid_paypal_order(site=SITE, products=None):
    """A PayPal order bought, approved at paysim and captured by the buyer's return: the order."""
    body = {"products": products or [{"id": STACK["DEMO_PRODUCT"], "amount": 2}], "pay_tp": "paypal"}
    status, reply, raw, _ = api("POST", "buy", ticket=STACK["DEMO_TICKET"], json=body, site=site)
    assert status == 200, raw
    order = reply["data"]
    status, _, raw, headers = http("GET", order["pay_re"]["re_obj"])
    assert status == 302, raw
    status, _, raw, _ = http("GET", headers["location"], headers={"Accept": "application/json"})
    assert status == 200, raw
    status, reply, raw, _ = api("GET", "check", ticket=STACK["DEMO_TICKET"], params={"id": order["id"]}, site=site)
    assert status == 200 and reply["data"]["or_st"] == "OK", raw
    return reply["data"]


def capture_of(slip_id):
    return db_row("SELECT provider_txn_id FROM pay_slips WHERE id = '%s'" % slip_id)[0]


def paypal_token():
    secret = open(STACK["DEMO_PAYPAL_SECRET_FILE"]).read().strip()
    basic = base64.b64encode(("%s:%s" % (STACK["DEMO_PAYPAL_CLIENT_ID"], secret)).encode()).decode()
    status, body, raw, _ = http("POST", STACK["PAYSIM_URL"] + "/v1/oauth2/token", b"grant_type=client_credentials",
                                {"Authorization": "Basic " + basic,
                                 "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, raw
    return body["access_token"]


def pp_refund(capture, body, request_id, token, representation=True):
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
               "PayPal-Request-Id": request_id}
    if representation:
        headers["Prefer"] = "return=representation"
    return http("POST", STACK["PAYSIM_URL"] + "/v2/payments/captures/%s/refund" % capture,
                json.dumps(body).encode(), headers)


def sim_refunds(slip_id):
    status, body, raw, _ = sim("/sim/refunds", {"out_trade_no": slip_id, "provider": "paypal"}, method="GET")
    assert status == 200, raw
    return body["data"]


def test_paysim_refund_endpoint_is_idempotent_and_never_over_refunds():
    order = paid_paypal_order()  # 9.00 USD
    capture, token = capture_of(order["pay_id"]), paypal_token()
    run = secrets.token_hex(4)  # request ids are the merchant's for good: unique per run
    amount = {"value": "2.50", "currency_code": "USD"}
    status, first, raw, _ = pp_refund(capture, {"amount": amount, "invoice_id": "inv1"}, run + "-1", token)
    assert status == 201, raw
    assert first["status"] == "COMPLETED" and first["amount"] == amount and first["invoice_id"] == "inv1"
    up = [l["href"] for l in first["links"] if l["rel"] == "up"]
    assert up and up[0].endswith("/v2/payments/captures/" + capture)
    # The same request id: the same refund, nothing refunded again (whatever the body says).
    status, again, raw, _ = pp_refund(capture, {"amount": {"value": "5.00", "currency_code": "USD"}}, run + "-1", token)
    assert status == 200 and again["id"] == first["id"] and again["amount"] == amount, raw
    # 6.51 more would exceed the 9.00 captured.
    status, body, raw, _ = pp_refund(capture, {"amount": {"value": "6.51", "currency_code": "USD"}}, run + "-2", token)
    assert status == 422 and body["details"][0]["issue"] == "REFUND_AMOUNT_EXCEEDED", raw
    # The wrong decimals, the wrong currency, an unknown capture.
    status, body, raw, _ = pp_refund(capture, {"amount": {"value": "1.001", "currency_code": "USD"}}, run + "-3", token)
    assert status == 422 and body["details"][0]["issue"] == "DECIMAL_PRECISION", raw
    status, body, raw, _ = pp_refund(capture, {"amount": {"value": "1.00", "currency_code": "EUR"}}, run + "-4", token)
    assert status == 422, raw
    status, _, raw, _ = pp_refund("NOSUCHCAPTURE0000", {}, run + "-5", token)
    assert status == 404, raw
    # No amount: the rest (6.50); then nothing is left.
    status, rest, raw, _ = pp_refund(capture, {}, run + "-6", token, representation=False)
    assert status == 201 and rest["status"] == "COMPLETED" and "amount" not in rest, raw
    status, body, raw, _ = pp_refund(capture, {}, run + "-7", token)
    assert status == 422 and body["details"][0]["issue"] == "CAPTURE_FULLY_REFUNDED", raw
    status, got, raw, _ = http("GET", STACK["PAYSIM_URL"] + "/v2/payments/refunds/" + rest["id"],
                               headers={"Authorization": "Bearer " + token})
    assert status == 200 and got["amount"]["value"] == "6.50", raw
    seen = sim_refunds(order["pay_id"])
    assert seen["refunded"] == 900 and len(seen["refunds"]) == 2
    # Without a token nothing happens.
    status, _, raw, _ = http("POST", STACK["PAYSIM_URL"] + "/v2/payments/captures/%s/refund" % capture, b"{}",
                             {"Content-Type": "application/json"})
    assert status == 401, raw


def test_refund_webhook_is_found_by_its_capture():
    """A verified PAYMENT.CAPTURE.REFUNDED names only the capture: it lands on that slip. A refund
    made outside orderpay (here straight at paysim) is acknowledged and changes nothing."""
    order = paid_paypal_order()
    capture, token = capture_of(order["pay_id"]), paypal_token()
    outside = "outside" + secrets.token_hex(4)
    status, _, raw, _ = pp_refund(capture, {"amount": {"value": "1.00", "currency_code": "USD"},
                                            "invoice_id": outside}, outside, token)
    assert status == 201, raw
    status, body, raw, _ = sim("/sim/refund", {"out_refund_no": outside, "provider": "paypal"})
    assert status == 200, raw
    assert [r["status"] for r in body["data"]["replies"]] == [200], raw
    rows = inbox(order["pay_id"])
    assert rows and rows[-1][0] == "ignored", rows
    # Tampered: refused (400), whatever it says.
    status, body, raw, _ = sim("/sim/refund", {"out_refund_no": outside, "provider": "paypal", "tamper": "sign"})
    assert status == 200 and [r["status"] for r in body["data"]["replies"]] == [400], raw


# --- Through orderpay: the operator API, webhooks, reconcile ---------------------------------

JPY_SITE = "pp-jpy"


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


@pytest.fixture(scope="module")
def jpy_key():
    ensure_site(JPY_SITE, "--store", "demo-users", "--currency", "JPY")
    cli("product", "add", "pp-jpy-tea", "--site", JPY_SITE, "--title", "Tea (JPY)", "--price", "1500", check=False)
    cli("seller", "set", "--site", JPY_SITE, "--prefix", "paypal", "--merchant", STACK["DEMO_PAYPAL_MERCHANT"])
    return cli("apikey", "issue", "--site", JPY_SITE).stdout.strip()


def refund(key, order_id, reason="damaged", amount=None, site=SITE, idem=None):
    body = {"order": order_id, "reason": reason, "idempotency_key": idem or secrets.token_hex(8)}
    if amount is not None:
        body["amount"] = amount
    return http("POST", "%s/api/%s/admin/refund" % (STACK["ORDERPAY_URL"], site), json.dumps(body).encode(),
                {"Authorization": "Bearer " + key, "Content-Type": "application/json"})


def admin_order(key, order_id, site=SITE):
    status, body, raw, _ = http("GET", "%s/api/%s/admin/order?id=%s" % (STACK["ORDERPAY_URL"], site, order_id),
                                headers={"Authorization": "Bearer " + key})
    assert status == 200, raw
    return body["data"]


def refund_row(refund_id):
    return db_row("SELECT st, amount, coalesce(provider_refund_id, '') FROM refunds WHERE id = '%s'" % refund_id)


def paysim_refund(refund_id):
    """paysim's view of our refund: (status, calls, notify_count)."""
    return db_row("SELECT status, calls, notify_count FROM paysim.pp_refunds WHERE invoice_id = '%s'" % refund_id)


def test_partial_refund_then_the_rest_fully_refunds(key):
    order = paid_paypal_order()  # 9.00 USD
    status, body, raw, _ = refund(key, order["id"], amount="2.50")
    assert status == 200, raw
    r = body["data"]["refund"]
    # PayPal answers COMPLETED at once: OK without a webhook.
    assert r["st"] == "OK" and r["amount"] == 2.5 and r["provider_refund_id"], raw
    assert body["data"]["order"]["refunded"] == 2.5 and body["data"]["order"]["or_st"] == "OK"
    assert paysim_refund(r["id"])[:2] == ["COMPLETED", "1"]
    # No amount: the rest.
    status, body, raw, _ = refund(key, order["id"])
    assert status == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["refund"]["amount"] == 6.5, raw
    seen = admin_order(key, order["id"])
    assert seen["or_st"] == "RF" and seen["refunded"] == 9.0, seen
    assert sorted(x["st"] for x in seen["refunds"]) == ["OK", "OK"]
    assert sim_refunds(order["pay_id"])["refunded"] == 900
    # Nothing is left to refund.
    status, body, raw, _ = refund(key, order["id"], amount="0.01")
    assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw


def test_pending_refund_finished_by_webhook_recorded_once(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="3.00", reason="sim:pending")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    assert body["data"]["refund"]["st"] == "PROCESSING" and refund_row(rid)[0] == "PROCESSING", raw
    # A forged copy first: refused, nothing changes.
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "tamper": "sign"})
    assert status == 200 and [x["status"] for x in sent["data"]["replies"]] == [400], raw
    assert refund_row(rid)[0] == "PROCESSING"
    # PayPal completes it and sends the webhook; 20 copies at once finish it once.
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "status": "COMPLETED",
                                               "times": "20"})
    assert status == 200 and all(x["status"] == 200 for x in sent["data"]["replies"]), raw
    assert refund_row(rid)[0] == "OK"
    verdicts = [v for v, _ in inbox(order["pay_id"])]
    assert verdicts.count("settled") == 2, verdicts  # the payment, and this refund once
    assert verdicts.count("rejected") == 1, verdicts
    assert admin_order(key, order["id"])["refunded"] == 3.0


def test_tampered_amount_refused(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="1.00", reason="sim:pending")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    # Correctly signed, but for ten times the amount: refused, the refund stays PROCESSING.
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "status": "COMPLETED",
                                               "tamper": "amount_resigned"})
    assert status == 200 and [x["status"] for x in sent["data"]["replies"]] == [400], raw
    assert refund_row(rid)[0] == "PROCESSING"


def test_unknown_outcome_resolved_by_reconcile(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="4.00", reason="sim:unknown")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    # paysim refunded it but answered 500: unknown, stays PROCESSING.
    assert refund_row(rid)[0] == "PROCESSING", raw
    assert paysim_refund(rid)[:2] == ["COMPLETED", "1"]
    out = cli("reconcile", "--min-age", "0").stdout
    assert "REFUNDING " + rid not in out, out
    assert refund_row(rid)[0] == "OK"
    # Found in PayPal's order by its invoice id, so not asked for again: money went back once.
    assert paysim_refund(rid)[:2] == ["COMPLETED", "1"]
    assert sim_refunds(order["pay_id"])["refunded"] == 400
    assert admin_order(key, order["id"])["refunded"] == 4.0


@pytest.mark.parametrize("amount", [None, "4.00"])
def test_a_refund_paypal_made_and_forgot_the_request_id_of_is_found_not_made_again(key, amount):
    """PayPal refunds (the whole 9.00, or 4.00 of it), the answer is lost, and by the time
    reconcile asks again PayPal no longer recognises the PayPal-Request-Id. A blind repeat was a
    new request: for the whole amount refused as REFUND_AMOUNT_EXCEEDED (once recorded FAIL, which
    freed the 9.00 for a second refund), and for a part of it a second refund, recorded as the first
    while 8.00 went back (review s21 F2(a)). Reconcile now finds the refund in PayPal's order by its
    invoice_id (our refund id) and sends nothing."""
    order = paid_paypal_order()  # 9.00 USD
    status, body, raw, _ = refund(key, order["id"], reason="sim:forget", amount=amount)
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    assert refund_row(rid)[0] == "PROCESSING", raw
    paid_back = 900 if amount is None else 400
    assert sim_refunds(order["pay_id"])["refunded"] == paid_back
    out = cli("reconcile", "--min-age", "0").stdout
    assert "REFUNDING " + rid not in out, out
    st, note = db_row("SELECT st, note FROM refunds WHERE id = '%s'" % rid)
    assert st == "OK" and "found in PayPal's order" in note, (st, note)
    # Nothing was sent again: one refund at PayPal, counted once here.
    seen = sim_refunds(order["pay_id"])
    assert seen["refunded"] == paid_back and len(seen["refunds"]) == 1, seen
    assert paysim_refund(rid)[:2] == ["COMPLETED", "1"]
    assert admin_order(key, order["id"])["refunded"] == paid_back / 100
    if amount is None:
        status, body, raw, _ = refund(key, order["id"], amount="0.01")
        assert status == 409 and body["errCode"] == "e.www.refund.too_much", raw


def test_completed_answer_in_another_currency_is_not_believed_until_a_query_agrees(key):
    """PayPal answers COMPLETED with the amount in EUR for our USD refund. The amount was read
    only when in our currency, else left 0, which means "not said": the refund was recorded OK on
    an answer about other money. Now it is held PROCESSING with the discrepancy in its note, and
    reconcile's query, stating 4.00 USD, makes it OK."""
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="4.00", reason="sim:lie-currency")
    assert status == 200, raw
    rid = body["data"]["refund"]["id"]
    st, note = db_row("SELECT st, note FROM refunds WHERE id = '%s'" % rid)
    assert st == "PROCESSING" and "not one of USD" in note, (st, note)
    assert admin_order(key, order["id"])["refunded"] == 0
    assert paysim_refund(rid)[:2] == ["COMPLETED", "1"]
    out = cli("reconcile", "--min-age", "0").stdout
    assert "REFUNDING " + rid not in out, out
    assert refund_row(rid)[0] == "OK"
    assert paysim_refund(rid)[:2] == ["COMPLETED", "1"]  # read by its id, not asked for again
    assert admin_order(key, order["id"])["refunded"] == 4.0


def test_paypal_refusal_fails_the_refund_and_frees_the_amount(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], reason="sim:fail")
    assert status != 200 and body["errCode"] == "e.www.refund.failed", raw
    assert "REFUND_FAILED_INSUFFICIENT_FUNDS" in body["msg"], raw
    rid = body["data"]["refund"]["id"]
    assert refund_row(rid)[0] == "FAIL"
    assert sim_refunds(order["pay_id"])["refunded"] == 0
    # The whole payment can still be refunded.
    status, body, raw, _ = refund(key, order["id"])
    assert status == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["order"]["or_st"] == "RF", raw


def test_jpy_refund_without_decimals(jpy_key):
    order = paid_paypal_order(site=JPY_SITE, products=[{"id": "pp-jpy-tea", "amount": 1}])
    assert order["currency"] == "JPY" and order["fee"] == 1500
    status, body, raw, _ = refund(jpy_key, order["id"], amount="500", site=JPY_SITE)
    assert status == 200 and body["data"]["refund"]["st"] == "OK", raw
    # PayPal was asked for "500" (JPY takes no decimals there).
    assert db_row("SELECT value, minor FROM paysim.pp_refunds WHERE invoice_id = '%s'"
                  % body["data"]["refund"]["id"]) == ["500", "500"]
    # A fraction of a yen is refused before PayPal is asked.
    status, body, raw, _ = refund(jpy_key, order["id"], amount="1.5", site=JPY_SITE)
    assert status == 400, raw
    status, body, raw, _ = refund(jpy_key, order["id"], site=JPY_SITE)
    assert status == 200 and body["data"]["order"]["or_st"] == "RF", raw
    assert sim_refunds(order["pay_id"])["refunded"] == 1500


def test_ten_concurrent_partial_refunds_only_the_ones_that_fit(key):
    from concurrent.futures import ThreadPoolExecutor
    order = paid_paypal_order()  # 9.00 USD: four of 2.00 fit, six do not
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: refund(key, order["id"], amount="2.00"), range(10)))
    ok = [b for s, b, _, _ in results if s == 200]
    too_much = [b for s, b, _, _ in results if s == 409 and b["errCode"] == "e.www.refund.too_much"]
    assert len(ok) == 4 and len(too_much) == 6, [(s, r[:120]) for s, _, r, _ in results]
    assert all(b["data"]["refund"]["st"] == "OK" for b in ok)
    # What PayPal gave back is what orderpay recorded.
    assert sim_refunds(order["pay_id"])["refunded"] == 800
    assert admin_order(key, order["id"])["refunded"] == 8.0


def test_pending_refund_that_fails_at_paypal_frees_the_amount(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], reason="sim:pending")  # all 9.00
    assert status == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    rid = body["data"]["refund"]["id"]
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "status": "FAILED"})
    assert status == 200 and [x["status"] for x in sent["data"]["replies"]] == [200], raw
    assert refund_row(rid)[0] == "FAIL"
    status, body, raw, _ = refund(key, order["id"])
    assert status == 200 and body["data"]["order"]["or_st"] == "RF", raw


def test_pending_refund_whose_webhook_is_lost_is_resolved_by_reconcile(key):
    order = paid_paypal_order()
    status, body, raw, _ = refund(key, order["id"], amount="1.50", reason="sim:pending")
    assert status == 200 and body["data"]["refund"]["st"] == "PROCESSING", raw
    rid = body["data"]["refund"]["id"]
    out = cli("reconcile", "--min-age", "0").stdout
    assert "REFUNDING " + rid in out and refund_row(rid)[0] == "PROCESSING", out  # still PENDING at PayPal
    # PayPal completes it; its webhook is lost (times=0).
    status, sent, raw, _ = sim("/sim/refund", {"out_refund_no": rid, "provider": "paypal", "status": "COMPLETED",
                                               "times": "0"})
    assert status == 200 and sent["data"]["sent"] == 0, raw
    out = cli("reconcile", "--min-age", "0").stdout
    assert "REFUNDING " + rid not in out, out
    assert refund_row(rid)[0] == "OK"
    assert sim_refunds(order["pay_id"])["refunded"] == 150


def test_cli_refund_run_again_after_a_crash_replays_it_not_a_second_one():
    """Review s21 F4: the CLI's refund commits its row, then dies before sending it (here: the
    claim fails in the database). The operator runs the same command again. Without --key that
    opened a second refund of the same partial amount, and reconcile then sent the orphaned first
    one too: 6.00 back for a 3.00 refund. The command's own words are now its key: the re-run
    replays the first refund and sends it, once."""
    from helpers import failing_update
    order = paid_paypal_order()  # 9.00 USD
    oid = order["id"]
    with failing_update("refunds", oid, "NEW.order_id = '%s' AND NEW.st = 'PROCESSING'" % oid):
        died = cli("refund", oid, "--amount", "3.00", "--reason", "damaged box", check=False)
        assert died.returncode != 0, died.stdout
    assert db_row("SELECT count(*), min(st) FROM refunds WHERE order_id = '%s'" % oid) == ["1", "NEW"]
    again = cli("refund", oid, "--amount", "3.00", "--reason", "damaged box")
    assert "(replay)" in again.stdout and " OK " in again.stdout, again.stdout
    cli("reconcile", "--min-age", "0", check=False)
    assert db_row("SELECT count(*), min(st) FROM refunds WHERE order_id = '%s'" % oid) == ["1", "OK"]
    assert sim_refunds(order["pay_id"])["refunded"] == 300
    # Once it is finished, the same words are not taken for it silently (the buyer would get
    # nothing while the command said OK): exit 1, and why.
    done = cli("refund", oid, "--amount", "3.00", "--reason", "damaged box", check=False)
    assert done.returncode == 1 and "made before and is OK" in done.stderr + done.stdout, done
    assert sim_refunds(order["pay_id"])["refunded"] == 300
    # Another reason (or a --key) is another refund, on purpose.
    other = cli("refund", oid, "--amount", "3.00", "--reason", "second box")
    assert "(replay)" not in other.stdout and " OK " in other.stdout, other.stdout
    assert sim_refunds(order["pay_id"])["refunded"] == 600
