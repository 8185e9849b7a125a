"""What a forged PayPal webhook may make a worker do. A webhook costs its sender nothing, signed or
not; before, each one loaded the whole CA bundle (25-40 ms of CPU with the system store, so four
workers served about 50 forged webhooks a second and every other request waited), and each new
certificate URL on PayPal's host was downloaded again, one HTTPS call per forged request (review
s25-attack #2). Now the trusted roots are loaded once per worker, a certificate's verdict is kept
per URL (passed: rechecked every 10 minutes; failed: five minutes; not downloadable: 30 seconds),
and a worker downloads at most four new certificate URLs a minute. Downloads are counted in nginx's
access log, where paysim serves the certificates.

A certificate that cannot be downloaded now (its host down or answering 5xx, or the minute's
downloads spent) proves nothing either way: the webhook is kept as `error` and answered 500, so
PayPal resends it and `orderpay inbox replay --verdict error` judges it again. Before, it was
stored `rejected`, which nothing looks at again."""

import base64
import http.server
import os
import re
import ssl
import threading

from conftest import STACK, cli, psql
from helpers import inbox, own_orderpayd
from test_hostile_notify import _conf
from test_hostile_provider_values import fcgi
from test_hostile_v3_paypal_notify import USD, captured_pp, pp_body, pp_headers, pp_resource, pp_untouched, \
    settled_exactly


LOG = os.path.join(STACK["STACK_LOG_DIR"], "nginx-access.log")


def cert_gets(name_re):
    with open(LOG, errors="replace") as f:
        return sum(1 for line in f if re.search(r'"GET /v1/notifications/certs/%s[ ?]' % name_re, line))


def forged(headers):
    return dict(headers, **{"PAYPAL-TRANSMISSION-SIG": base64.b64encode(os.urandom(256)).decode()})


def test_forged_webhooks_neither_download_again_nor_settle():
    """Through an orderpayd of its own (one worker, so the counts are exact and the stack's
    workers keep their minute's downloads for the other tests)."""
    order = captured_pp()
    body = pp_body(pp_resource(order["pay_id"]))
    good = pp_headers(body)
    path = "/api/%s/pay/re_paypal" % USD
    # Not yet shared by the stack's workers: this worker downloads it once.
    psql("DELETE FROM provider_cache WHERE key LIKE 'paypal.cert:%'")
    with own_orderpayd("hpc") as own:

        def post(headers):
            st, _, raw = fcgi(own["sock"], "POST", path, body=body, headers=headers)
            assert st in (200, 400, 500), raw
            return st

        before = cert_gets("CERT-paysim")
        for _ in range(40):
            assert post(forged(good)) == 400
        # The worker fetched PayPal's certificate once, and kept it.
        assert cert_gets("CERT-paysim") - before == 1
        pp_untouched(order["pay_id"])
        # A certificate URL that fails (here: nothing there) is not asked for again within minutes.
        missing = good["PAYPAL-CERT-URL"].replace("CERT-paysim", "CERT-gone-" + os.urandom(4).hex())
        for _ in range(20):
            assert post(dict(forged(good), **{"PAYPAL-CERT-URL": missing})) == 400
        assert cert_gets(re.escape(missing.rsplit("/", 1)[1])) == 1
        # A new URL per request: four downloads a minute, not one per request. The downloaded
        # ones are refused (nothing there: 404); the others could not be checked, and are
        # answered as a temporary error (resent, replayed), counted and logged.
        refused_before = key_fetches_refused(own["sock"])
        base = good["PAYPAL-CERT-URL"].replace("CERT-paysim", "CERT-flood-" + os.urandom(4).hex())
        answers = [post(dict(forged(good), **{"PAYPAL-CERT-URL": "%s-%d" % (base, i)})) for i in range(60)]
        flood = cert_gets(re.escape(base.rsplit("/", 1)[1]) + "-[0-9]+")
        assert 1 <= flood <= 2 * 4, flood  # the run may straddle the turn of a minute
        assert answers.count(400) == flood and answers.count(500) == 60 - flood, answers
        assert key_fetches_refused(own["sock"]) - refused_before == 60 - flood
        pp_untouched(order["pay_id"])
        # The flood's failed URLs did not push PayPal's certificate out: the genuine webhook is
        # verified with it, with no download, and settles.
        assert post(good) == 200
        assert cert_gets("CERT-paysim") - before == 1
    settled_exactly(order["pay_id"], 900)
    # A worker started later (a reload, a respawn) takes the verified copy the first one shared,
    # without a download, however many forged URLs have spent its minute's downloads.
    with own_orderpayd("hpc2") as own:
        for i in range(8):
            st, _, raw = fcgi(own["sock"], "POST", path, body=body,
                              headers=dict(forged(good), **{"PAYPAL-CERT-URL": "%s-late-%d" % (base, i)}))
            assert st in (400, 500), raw
        st, _, raw = fcgi(own["sock"], "POST", path, body=body, headers=good)
        assert st == 200, raw
    assert cert_gets("CERT-paysim") - before == 1


def key_fetches_refused(sock):
    st, _, raw = fcgi(sock, "GET", "/metrics")
    assert st == 200, raw
    raw = raw.decode() if isinstance(raw, bytes) else raw
    m = re.search(r'^orderpay_key_fetches_refused_total\{provider="paypal"\} (\d+)$', raw, re.M)
    assert m, raw[:2000]
    return int(m.group(1))


class CertHost:
    """A certificate host of the test's own, allowed through ORDERPAY_PAYPAL_CERT_HOSTS, with
    paysim's TLS certificate: bound but not listening (connections refused: the host is down)
    until listen(), then answering `status` (the certificate itself once 200)."""

    def __init__(self):
        keys = os.path.dirname(_conf("paypal.ca_file"))
        with open(os.path.join(keys, "certs", "CERT-paysim"), "rb") as f:
            self.pem = f.read()
        self.status, self.gets, self.listening = 503, [], False
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host.gets.append(self.path)
                out = host.pem if host.status == 200 else b"unavailable"
                self.send_response(host.status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.srv.server_bind()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(keys, "tls.pem"), os.path.join(keys, "tls_key.pem"))
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.env = {"ORDERPAY_PAYPAL_CERT_HOSTS": "%s,127.0.0.1:%d" % (_conf("paypal.cert_hosts"), self.port)}
        self.url = "https://127.0.0.1:%d/v1/notifications/certs/" % self.port

    def listen(self):
        self.srv.server_activate()
        self.listening = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        if self.listening:
            self.srv.shutdown()
        self.srv.server_close()


def test_a_certificate_not_downloadable_now_is_an_error_replayed_later():
    order = captured_pp()
    body = pp_body(pp_resource(order["pay_id"]))
    path = "/api/%s/pay/re_paypal" % USD
    host = CertHost()
    try:
        with own_orderpayd("hpc3", **host.env) as own:

            def post(headers):
                st, _, raw = fcgi(own["sock"], "POST", path, body=body, headers=headers)
                return st, raw

            # The certificate host is down: neither the genuine webhook nor a forged copy can be
            # checked. Both are answered 500 (PayPal resends) and kept as errors.
            down = dict(pp_headers(body), **{"PAYPAL-CERT-URL": host.url + "CERT-down"})
            st, raw = post(down)
            assert st == 500 and b"error" in raw, raw
            st, raw = post(forged(down))
            assert st == 500, raw
            # PayPal's resend, the host up but answering 503: the same, and that URL is not asked
            # for again by each webhook naming it (30 seconds), nor refused for five minutes.
            host.listen()
            busy = dict(pp_headers(body), **{"PAYPAL-CERT-URL": host.url + "CERT-busy"})
            for _ in range(3):
                st, raw = post(busy)
                assert st == 500, raw
            assert host.gets == ["/v1/notifications/certs/CERT-busy"], host.gets
            # A forged webhook naming a certificate that is there is refused, as before.
            host.status = 200
            st, raw = post(forged(dict(busy, **{"PAYPAL-CERT-URL": host.url + "CERT-up"})))
            assert st == 400, raw
        pp_untouched(order["pay_id"])
        rows = psql("SELECT id, verdict FROM notifications WHERE slip_id = '%s' ORDER BY id"
                    % order["pay_id"]).splitlines()
        assert [r.split("|")[1] for r in rows] == ["error"] * 5 + ["rejected"], inbox(order["pay_id"])
        ids = [r.split("|")[0] for r in rows]
        # The certificate is reachable again: the operator's replay settles the genuine one once
        # and refuses the forged copy for good.
        res = cli("inbox", "replay", "--older-than", "0s", "--verdict", "error", check=False, env=host.env)
        decided = dict(line.split("\t")[0:3:2] for line in res.stdout.splitlines() if "\t" in line)
        assert decided.get(ids[0]) == "settled", res.stdout + res.stderr
        assert decided.get(ids[1]) == "rejected", res.stdout + res.stderr
        assert all(decided.get(i) not in (None, "error", "rejected") for i in ids[2:5]), res.stdout
        settled_exactly(order["pay_id"], 900)
        after = psql("SELECT verdict FROM notifications WHERE slip_id = '%s' ORDER BY id" % order["pay_id"])
        assert after.splitlines()[:2] == ["settled", "rejected"], after
        assert "error" not in after.splitlines(), after
    finally:
        host.close()


def test_a_buyer_return_is_paced_per_slip_and_tells_nothing_of_the_buyer():
    """PayPal's buyer return is unsigned: anyone holding the PayPal order id (it rides in the
    approval link and the return URL) may send it. Before, each one was a capture call at PayPal
    held in a worker, 20 returns 20 calls (review s25-attack #1), and each answered the whole
    order with the buyer's name, phone, email and address (#4)."""
    import time
    import urllib.parse
    from conftest import http
    from test_paypal import SITE, approve, buy_paypal_ok, order_of, paypal_order
    contact = {"name": "Alice Buyer", "phone": "+86 138 0000 0000", "email": "alice@example.com",
               "address": "1 Secret Rd"}
    order = buy_paypal_ok(**contact)
    link = order["pay_re"]["re_obj"]
    token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["token"][0]
    ret = "%s/api/%s/pay/re_paypal?token=%s" % (STACK["ORDERPAY_URL"], SITE, token)
    for _ in range(20):
        st, body, raw, _ = http("GET", ret, headers={"Accept": "application/json"})
        assert st == 200 and body["data"]["order"]["id"] == order["id"], raw
        assert not {"buyer_id", "note", *contact} & set(body["data"]["order"]), raw
    # Not approved yet: PayPal was asked to capture once, or twice if the returns straddled the pace.
    status, captures, calls = paypal_order(order["pay_id"])
    assert status == "PAYER_ACTION_REQUIRED" and captures == "0" and 1 <= int(calls) <= 2, (status, calls)
    # The buyer approves and comes back once the pace has passed: captured and settled at once.
    back = approve(link)
    time.sleep(2.1)
    st, body, raw, _ = http("GET", back, headers={"Accept": "application/json"})
    assert st == 200 and body["data"]["order"]["or_st"] == "OK", raw
    # The buyer's own view, with its ticket, still has its fields.
    mine = order_of(order["id"])
    assert mine["or_st"] == "OK" and mine["name"] == "Alice Buyer" and mine["buyer_id"], mine


def test_the_return_pace_leaves_no_rows_behind():
    """Each paced slip leaves a claim row in provider_cache; `orderpay expire` (every minute)
    drops rows expired over an hour ago, and nothing live."""
    from conftest import cli, psql
    from helpers import db_row
    live, dead = "test-live-" + os.urandom(4).hex(), "complete:test-" + os.urandom(4).hex()
    psql("INSERT INTO provider_cache (key, value, expires_at) VALUES ('%s', 'v', now() + interval '1 hour'), "
         "('%s', 'claimed', now() - interval '2 hours')" % (live, dead))
    cli("expire")
    assert db_row("SELECT count(*) FROM provider_cache WHERE key IN ('%s', '%s')" % (live, dead)) == ["1"]
    assert db_row("SELECT key FROM provider_cache WHERE key IN ('%s', '%s')" % (live, dead)) == [live]
    psql("DELETE FROM provider_cache WHERE key = '%s'" % live)
