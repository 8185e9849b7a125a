"""A provider's signed notification and orderpay's own order query (pay/check's poll, the PayPal
webhook's confirming query) settling one slip at the same moment, round after round: the slip
settles once, the order's money is counted once, stock and totals are left as they were by the
loser, at most one inbox row says `settled`. And a payment refunded at the provider before orderpay
recorded it, whose refund's notification races the query that finds it refunded (and its own
resend): each outside refund is reported once, whichever path writes it (the reporting paths
serialise on the slip's row). test_outside_reported_once.py has them one after the other."""
import http.server as http_server
import re
import urllib.error
import urllib.request
import threading

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import FakeGateway, LocalServer, sim_pay, wait_for
from test_hostile_notify import post_paypal, wx_fields, wx_xml
from test_outside_refunds import CASES, notify
from test_outside_reported_once import console_paypal_refund
from test_query_refunded import audit_names, check, console_refund, lost_payment, outside_rows, slip_row

ROUNDS = 5  # slips per provider and test: each round one race


def race(*calls):
    """Runs every call at once (released together by a barrier); their results, in order. An
    exception in any of them fails the test after all have ended."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], errors
    return results


def shelf(site):
    """The demo product's stock and the site's paid orders' fees, as orderpay's books hold them."""
    return psql("SELECT coalesce(p.stock::text, 'none') || '|' || (SELECT count(*) || '|' || coalesce(sum(fee), 0) "
                "FROM orders o WHERE o.site_id = p.site_id AND o.or_st IN ('OK', 'SP', 'DN', 'RF')) "
                "FROM products p WHERE p.site_id = '%s' AND p.id = '%s'" % (site, STACK["DEMO_PRODUCT"]))


def verdicts(slip):
    return psql("SELECT string_agg(verdict, ',' ORDER BY id) FROM notifications WHERE slip_id = '%s' "
                "AND method <> 'QUERY'" % slip).split(",")


def settled_once(site, order, before):
    """The slip and its order paid once: the books moved by this order's fee alone, nothing else."""
    slip = order["pay_id"]
    assert slip_row(slip)[0] == "OK" and slip_row(slip)[1] in ("OK", "DN"), slip_row(slip)
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st = 'OK' AND provider_txn_id IS NOT NULL "
                "AND paid_at IS NOT NULL" % order["id"]) == "1"
    stock, paid_n, paid_sum = shelf(site).split("|")
    stock0, n0, sum0 = before.split("|")
    # Stock was taken at buy and is not touched by a settlement in time, by the winner or the loser.
    assert stock == stock0, (stock, stock0)
    fee = psql("SELECT fee FROM orders WHERE id = '%s'" % order["id"])
    assert (int(paid_n), int(paid_sum)) == (int(n0) + 1, int(sum0) + int(fee)), (paid_n, paid_sum, n0, sum0, fee)
    assert audit_names(order) == []


@pytest.mark.parametrize("prov", ["wx", "wx3", "zfb", "paypal"])
def test_a_notification_and_a_query_settle_one_slip_once(prov):
    """Two copies of the payment's notification (PayPal: its capture webhook, settled on the
    confirming query) and two pay/check polls at once: one of them settles, the others change
    nothing; at most one inbox row says settled, every other one is a duplicate."""
    for _ in range(ROUNDS):
        site, order = lost_payment(prov)
        slip = order["pay_id"]
        # Other tests of this file on the same stack pay orders of the site too; none runs meanwhile.
        before = shelf(site)
        race(lambda: sim_pay(slip, times="2"), lambda: check(site, order), lambda: check(site, order))
        settled_once(site, order, before)
        got = verdicts(slip)
        assert len(got) == 2 and got.count("settled") <= 1 and set(got) <= {"settled", "duplicate"}, got
        # No refund anywhere: nothing outside was reported by either path.
        assert outside_rows(slip) == []


def refund_and_its_telling(prov, order):
    """A console refund of 1.00 and a callable that sends `n` copies of its notification at once:
    (refund id, telling(n) -> orderpay's HTTP statuses). PayPal's webhook is signed here (paysim's
    own names no slip for a refund orderpay did not ask for)."""
    if prov != "paypal":
        rid = console_refund(prov, order, 100)
        return rid, lambda n: [st for st, _ in notify(prov, order, rid, times=str(n))]
    slip = order["pay_id"]
    capture = psql("SELECT capture_id FROM paysim.pp_orders WHERE custom_id = '%s'" % slip)
    rid, _, headers, body = console_paypal_refund(slip, capture)
    return rid, lambda n: race(*[lambda: post_paypal(headers, body)] * n)


def named_reports(rows, rid):
    return [r for r in rows if "named %s," % rid in r or "named %s:" % rid in r]


# A refund webhook from PayPal is confirmed with PayPal's record of the refund, asked by the
# capture it is of: while the slip is not yet recorded paid there is none here, and the webhook is
# refused, to be sent again (as PayPal does), never reported on its word.
NOT_YET = "rejected|unverified: notified refund %s, not borne out: no PayPal refund and capture id to confirm it with"


@pytest.mark.parametrize("prov", ["wx", "wx3", "paypal"])
def test_an_outside_refund_told_and_found_at_once_is_reported_once(prov):
    """A lost payment refunded in the console: two copies of its refund's notification and
    pay/check's query, which settles the slip and finds the refund, all at the same moment, then a
    late resend. Each telling either writes the report or finds the one written first; never two.
    WeChat v3's query names no refund, so when it came first its nameless record stands beside the
    notification's named one (as in test_query_refunded), and never more than one of each."""
    for _ in range(ROUNDS):
        site, order = lost_payment(prov)
        slip = order["pay_id"]
        before = shelf(site)
        rid, telling = refund_and_its_telling(prov, order)
        at_once = race(lambda: telling(2), lambda: check(site, order))[0]
        assert at_once == [CASES[prov][3][0]] * 2 or prov == "paypal" and set(at_once) <= {200, 400}, at_once
        settled_once(site, order, before)
        assert telling(1) == [CASES[prov][3][0]]  # the provider's resend, the slip now paid
        rows = outside_rows(slip)
        assert len(named_reports(rows, rid)) == 1, rows
        if prov == "wx3":
            nameless = [r for r in rows if r.startswith("QUERY|no refund of ours named (unknown):")]
            assert len(rows) == 1 + len(nameless) and len(nameless) <= 1, rows
        else:
            assert len(rows) == 1, rows
        # Every telling is the report, a duplicate of it, or (PayPal) refused before the slip was paid.
        told = psql("SELECT verdict || '|' || reason FROM notifications WHERE slip_id = '%s' AND method = 'POST' "
                    "ORDER BY id" % slip).splitlines()
        assert len(told) == 3, told
        for t in told:
            assert (t.startswith("ignored|no refund of ours named ") or
                    re.match(r"duplicate\|(unconfirmed: )?refund \S+ orderpay did not make, already reported "
                             r"\(inbox row ", t) or
                    prov == "paypal" and t.startswith(NOT_YET % named_id(t))), told


def named_id(row):
    """The PayPal refund id a refused telling names."""
    return row.split("notified refund ", 1)[-1].split(",", 1)[0]


def test_a_query_that_loses_to_the_payment_notification_still_reports_the_refund():
    """`orderpay reconcile` claims the slip and asks WeChat (the answer held on its way: REFUND);
    meanwhile the payment's notification settles the slip. The query's settlement is then a
    duplicate of the same payment, and the refund it found is reported in that duplicate's
    transaction all the same (only a query that settled wrote it: the refund was reported nowhere
    until its own notification, if that ever came)."""
    site, order = lost_payment("wx")
    slip = order["pay_id"]
    rid = console_refund("wx", order, 300)
    txn = psql("SELECT transaction_id FROM paysim.trades WHERE out_trade_no = '%s'" % slip)
    let_go = threading.Event()

    def forward(path, body):  # to paysim, the slip's order query only once the test lets it go
        if path == "/pay/orderquery" and slip.encode() in body:
            let_go.wait(60)
        st, _, raw, _ = http("POST", STACK["PAYSIM_URL"] + path, body, {"Content-Type": "text/xml"})
        return st, raw

    gw = FakeGateway(forward)
    asker = threading.Thread(target=lambda: cli("reconcile", "--min-age", "0", check=False,
                                                env={"ORDERPAY_WXPAY_GATEWAY": gw.url}))
    try:
        asker.start()
        assert wait_for(lambda: any(p == "/pay/orderquery" and slip.encode() in b for p, b in gw.calls), 60)
        xml = wx_xml(wx_fields(slip, round(order["fee"] * 100), transaction_id=txn))
        st, _, raw, _ = api("POST", "re_wx", raw_body=xml.encode(), headers={"Content-Type": "text/xml"}, site=site)
        assert st == 200 and b"SUCCESS" in raw, raw
        assert slip_row(slip) == ["OK", "OK"]
        assert outside_rows(slip) == []  # the notification says nothing of refunds
    finally:
        let_go.set()
        asker.join()
        gw.close()
    assert verdicts(slip) == ["settled"]
    rows = outside_rows(slip)
    assert len(rows) == 1 and re.match(r"QUERY\|no refund of ours named %s,[0-9A-Z]+: " % rid, rows[0]), rows
    assert ": 3.00 of 25.00 CNY refunded at the provider" in rows[0], rows


def test_wx3_query_naming_no_refund_hides_no_second_refund_for_long():
    """WeChat v3's order query says REFUND and nothing more (no refund's name, no refunded amount:
    its Transaction carries amount{total, payer_total, currency, payer_currency} only). With the
    first console refund already reported by its notification, the query writes nothing (a
    nameless record could never be told from that report, nor from a later notification's: it
    would report the same money twice); the second console refund is reported by its own
    notification, which WeChat sends until it is acknowledged. The slip is listed OUTSIDE all along."""
    site, order = lost_payment("wx3")
    slip = order["pay_id"]
    first = console_refund("wx3", order, 100)
    assert notify("wx3", order, first) == [CASES["wx3"][3]]
    second = console_refund("wx3", order, 200)
    check(site, order)
    rows = outside_rows(slip)
    assert len(rows) == 1 and named_reports(rows, first) == rows, rows
    assert notify("wx3", order, second) == [CASES["wx3"][3]]
    rows = outside_rows(slip)
    assert len(rows) == 2 and len(named_reports(rows, second)) == 1, rows


class HeldProxy(LocalServer):
    """Forwards every request, method, headers and body, to paysim and its answer back (WeChat v3's
    signed GET needs its Authorization header), holding the request whose path contains `hold`
    until `let_go` is set. `seen` is set when that request arrives."""

    def __init__(self, hold):
        outer = self
        self.let_go, self.seen = threading.Event(), threading.Event()

        class H(http_server.BaseHTTPRequestHandler):
            def relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                if hold in self.path:
                    outer.seen.set()
                    outer.let_go.wait(60)
                keep = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                req = urllib.request.Request(STACK["PAYSIM_URL"] + self.path, data=body, method=self.command,
                                             headers=keep)
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, raw, hdrs = r.status, r.read(), r.headers
                except urllib.error.HTTPError as e:
                    status, raw, hdrs = e.code, e.read(), e.headers
                self.send_response(status)
                for k, v in hdrs.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = relay

            def log_message(self, *a):
                pass

        super().__init__(H)


def test_wx3_query_that_loses_the_settlement_does_not_report_orderpays_own_refund():
    """Review s31/105 B1. `orderpay reconcile` asks WeChat v3 about a paid slip (its answer held on
    the way); meanwhile the payment's notification settles the slip (the settlement function, as
    its path runs it) and the operator refunds the order through orderpay, so the answer is
    REFUND. v3 names no refund: the query's duplicate settlement wrote a nameless OUTSIDE report of
    orderpay's own refund (a settlement now could never meet a refund of ours; a duplicate can)."""
    site, order = lost_payment("wx3")
    slip = order["pay_id"]
    proxy = HeldProxy("/v3/pay/transactions/out-trade-no/" + slip)
    asker = threading.Thread(target=lambda: cli("reconcile", "--min-age", "0", check=False,
                                                env={"ORDERPAY_WXPAY_GATEWAY": proxy.url}))
    try:
        asker.start()
        assert proxy.seen.wait(60), "reconcile never asked about the slip"
        txn = psql("SELECT transaction_id FROM paysim.trades WHERE out_trade_no = '%s'" % slip)
        psql("SELECT (orderpay_settle(s.provider, s.id, '%s', s.amount, s.currency, NULL::bigint)).outcome "
             "FROM pay_slips s WHERE s.id = '%s'" % (txn, slip))
        assert slip_row(slip) == ["OK", "OK"]
        res = cli("refund", order["id"], "--reason", "operator refund", check=False)
        assert res.returncode == 0, res.stdout + res.stderr
        assert psql("SELECT count(*) FROM refunds WHERE slip_id = '%s'" % slip) == "1"
    finally:
        proxy.let_go.set()
        asker.join()
        proxy.close()
    assert outside_rows(slip) == []
