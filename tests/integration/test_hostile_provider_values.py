"""Hostile VALUES in a provider's answers: whatever a (compromised, buggy or impersonated)
provider writes into the fields orderpay stores or acts on, no verdict is lost to a database
error, nothing is settled or refunded on an unverifiable or contradictory answer, no slip or
refund is left where reconcile cannot move it, the buyer gets an error code from README, and
`orderpay audit` stays clean where the books are right.

Covered: WeChat v2 unifiedorder (code_url, prepay_id), orderquery during `orderpay reconcile`
(transaction_id, trade_state, total_fee, fee_type, time_end), refund (refund_id); PayPal's
token, create (order id, approval link), capture/query (capture id, status, amount) and refund
(refund id, status) answers. Values probed: at and past the columns' limits (sql/*.sql), huge
values, empty values, control and odd characters, XML character references that decode to
what XML forbids, JSON that carries NUL or bytes that are not UTF-8.

The create answers need orderpayd itself to talk to a fake provider: the module starts its own
orderpayd (one worker) on the stack's database and configuration, with ORDERPAY_LISTEN,
ORDERPAY_WXPAY_GATEWAY and ORDERPAY_PAYPAL_GATEWAY overridden, and speaks FastCGI to it
directly (so the stack's own orderpayd and nginx are untouched). The CLI paths (reconcile,
refund) take the same overrides per run. Every probe also checks that PostgreSQL logged no
ERROR (invalid byte sequence, value too long, check constraint, index row size) meanwhile."""

import json
import os
import random
import socket
import string
import struct
import urllib.parse

import pytest

from conftest import STACK, cli, psql
from helpers import FakeGateway, LocalServer, buy_ok, db_row, own_orderpayd, sim_pay, wait_state
from test_zzz_hostile_faults import run_cli_env, wx_sign, wx_xml

USD_SITE = STACK.get("DEMO_USD_SITE", "demo-usd")
PG_LOG = os.path.join(STACK["STACK_LOG_DIR"], "postgres.log")
RND = random.SystemRandom()  # fresh ids every run: nothing collides with an earlier run's


def noise(n):
    """n incompressible ASCII letters/digits (a value PostgreSQL cannot shrink below its size)."""
    return "".join(RND.choice(string.ascii_letters + string.digits) for _ in range(n))


# --- PostgreSQL's log: a hostile value must never reach it as an ERROR --------------------------

class PgErrors:
    """ERROR lines PostgreSQL writes to its log after this point."""

    def __init__(self):
        self.offset = os.path.getsize(PG_LOG)

    def new(self):
        with open(PG_LOG, "rb") as f:
            f.seek(self.offset)
            text = f.read().decode("utf-8", "replace")
        return [line for line in text.splitlines() if "ERROR:" in line]


# --- WeChat v2 answers ---------------------------------------------------------------------------

def xml_fields(body):
    """The flat fields of a WeChat v2 request we sent (ours: plain CDATA or text)."""
    import xml.etree.ElementTree as ET
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    return {c.tag: c.text or "" for c in root}


def wx_signed(fields, raw_values=None):
    """A signed WeChat v2 answer. raw_values: {key: raw xml text} put in as they are (entities,
    references), signed over `fields[key]` (the decoded value)."""
    f = {"return_code": "SUCCESS", "return_msg": "OK", "appid": STACK["DEMO_WX_APP_ID"],
         "mch_id": STACK["DEMO_WX_MCH_ID"], "nonce_str": "hpvnonce", "result_code": "SUCCESS"}
    f.update(fields)
    f["sign"] = wx_sign(f)
    if not raw_values:
        return wx_xml(f)
    parts = []
    for k, v in f.items():
        text = raw_values[k] if k in raw_values else "<![CDATA[%s]]>" % v
        parts.append("<%s>%s</%s>" % (k, text, k))
    return ("<xml>" + "".join(parts) + "</xml>").encode()


def wx_query_answer(slip, fen, **extra):
    f = {"out_trade_no": slip, "trade_state": "SUCCESS", "total_fee": str(fen), "fee_type": "CNY",
         "transaction_id": "4200000000" + slip[:18], "time_end": "20261201120000", "openid": "o",
         "trade_type": "NATIVE", "bank_type": "CMC", "cash_fee": str(fen)}
    f.update(extra)
    return wx_signed(f)


def reconcile_via(gw_url, env_key="ORDERPAY_WXPAY_GATEWAY"):
    return run_cli_env({env_key: gw_url, "ORDERPAY_HTTP_TIMEOUT_MS": "2000",
                        "ORDERPAY_HTTP_CONNECT_TIMEOUT_MS": "1000"},
                       "reconcile", "--min-age", "0", "--limit", "100000")


def wx_slip_answering(answers):
    """A WeChat stand-in answering orderquery per out_trade_no from `answers` (slip -> bytes);
    any other trade gets garbage (an unknown answer: nothing changes for it)."""
    def answer(path, body):
        slip = xml_fields(body).get("out_trade_no", "")
        if slip in answers:
            got = answers[slip]
            return got(path) if callable(got) else got
        return b"<html>502</html>"
    return FakeGateway(answer)


def slip_state(slip):
    """[slip st, order or_st, the slip's transaction id as hex of its UTF-8 ('' for none)]."""
    return db_row("SELECT s.st, o.or_st, coalesce(encode(convert_to(s.provider_txn_id, 'UTF8'), 'hex'), '') "
                  "FROM pay_slips s JOIN orders o ON o.id = s.order_id WHERE s.id = '%s'" % slip)


def new_wx_slip():
    order = buy_ok(products=[{"id": STACK["DEMO_PRODUCT"], "amount": 1}])
    slip = order["pay_id"]
    return order, slip, int(psql("SELECT amount FROM pay_slips WHERE id = '%s'" % slip))


# ---- orderquery: values that must NOT settle (or fail) the slip

NOT_PAID_ANSWERS = {
    # total_fee spelled so a lenient parser might take it for the slip's amount
    "fee_plus_sign": lambda s, fen: wx_query_answer(s, fen, total_fee="+%d" % fen),
    "fee_leading_space": lambda s, fen: wx_query_answer(s, fen, total_fee=" %d" % fen),
    # "%d.0" is the slip's amount by the one rule for providers' amounts (README "Amounts
    # providers send"); a fraction of a fen is no amount.
    "fee_decimal": lambda s, fen: wx_query_answer(s, fen, total_fee="%d.5" % fen),
    "fee_exponent": lambda s, fen: wx_query_answer(s, fen, total_fee="%de0" % fen),
    "fee_fullwidth_digits": lambda s, fen: wx_query_answer(
        s, fen, total_fee="".join(chr(0xFF10 + int(c)) for c in str(fen))),
    "fee_huge": lambda s, fen: wx_query_answer(s, fen, total_fee="9" * 40),
    "fee_empty": lambda s, fen: wx_query_answer(s, fen, total_fee=""),
    "fee_type_lowercase": lambda s, fen: wx_query_answer(s, fen, fee_type="cny"),
    "fee_type_huge": lambda s, fen: wx_query_answer(s, fen, fee_type="CNY" * 3000),
    # no or an empty transaction id: nothing to record the payment by
    "txn_empty": lambda s, fen: wx_query_answer(s, fen, transaction_id=""),
    # A transaction id with control characters (or past 128 bytes) is not an id orderpay stores.
    "txn_tab_newline": lambda s, fen: wx_query_answer(s, fen, transaction_id="42\t" + noise(6) + "\n" + noise(4)),
    # trade_state: past its vocabulary, huge, or padded
    "state_padded": lambda s, fen: wx_query_answer(s, fen, trade_state=" SUCCESS"),
    "state_lowercase": lambda s, fen: wx_query_answer(s, fen, trade_state="success"),
    "state_huge": lambda s, fen: wx_query_answer(s, fen, trade_state="CLOSED" * 5000),
    "state_empty": lambda s, fen: wx_query_answer(s, fen, trade_state=""),
    # a signed answer whose XML is not XML text: U+FFFE and NUL by character reference
    "txn_ref_fffe": lambda s, fen: wx_signed(
        {"out_trade_no": s, "trade_state": "SUCCESS", "total_fee": str(fen), "fee_type": "CNY",
         "transaction_id": "42\ufffe00"}, {"transaction_id": "42&#xFFFE;00"}),
    "txn_ref_nul": lambda s, fen: wx_signed(
        {"out_trade_no": s, "trade_state": "SUCCESS", "total_fee": str(fen), "fee_type": "CNY",
         "transaction_id": "42\x0000"}, {"transaction_id": "42&#0;00"}),
    "txn_raw_bytes_not_utf8": lambda s, fen: wx_query_answer(s, fen).replace(
        b"<transaction_id><![CDATA[", b"<transaction_id><![CDATA[\xff\xfe"),
    "out_trade_no_padded": lambda s, fen: wx_query_answer(s, fen, out_trade_no=s + " "),
}


@pytest.mark.parametrize("lie", sorted(NOT_PAID_ANSWERS))
def test_wx_query_answer_with_unreadable_value_neither_settles_nor_fails(lie):
    order, slip, fen = new_wx_slip()
    errors = PgErrors()
    gw = wx_slip_answering({slip: NOT_PAID_ANSWERS[lie](slip, fen)})
    try:
        res = reconcile_via(gw.url)
    finally:
        gw.close()
    assert any(xml_fields(b).get("out_trade_no") == slip for _, b in gw.calls), (res.stdout, res.stderr)
    assert slip_state(slip) == ["WAIT", "WT", ""], (lie, res.stdout, res.stderr)
    assert errors.new() == [], (lie, res.stderr)
    # The truth is still reachable: the buyer pays, reconcile against paysim records it.
    sim_pay(slip, times="0")
    cli("reconcile", "--min-age", "0", "--limit", "100000")
    assert slip_state(slip)[:2] == ["OK", "OK"]
    assert cli("audit", check=False).returncode == 0


# ---- orderquery: odd but well-formed values that DO settle, stored exactly

ODD_TXN_IDS = {
    "max_plausible_64": lambda: "4200" + noise(60),
    "cjk": lambda: "\u4e2d\u6587" + noise(10),
    "emoji": lambda: "\U0001F375" + noise(10),
    "quote_backslash": lambda: "42'\"\\%_" + noise(8),
}


@pytest.mark.parametrize("kind", sorted(ODD_TXN_IDS))
def test_wx_query_paid_with_odd_transaction_id_settles_once_and_exactly(kind):
    order, slip, fen = new_wx_slip()
    txn = ODD_TXN_IDS[kind]()
    errors = PgErrors()
    gw = wx_slip_answering({slip: wx_query_answer(slip, fen, transaction_id=txn)})
    try:
        res = reconcile_via(gw.url)
    finally:
        gw.close()
    assert slip_state(slip) == ["OK", "OK", txn.encode().hex()], (kind, res.stdout, res.stderr)
    assert errors.new() == [], res.stderr
    # Asked again (a second run, a duplicate): still once.
    gw = wx_slip_answering({slip: wx_query_answer(slip, fen, transaction_id=txn)})
    try:
        reconcile_via(gw.url)
    finally:
        gw.close()
    assert int(psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s' AND st = 'OK'" % order["id"])) == 1


def test_wx_query_huge_transaction_id_does_not_stop_reconcile_for_other_slips():
    _, poison, fen = new_wx_slip()
    order, good, fen2 = new_wx_slip()
    txn = "4200000001" + good[:18]
    errors = PgErrors()
    gw = wx_slip_answering({poison: wx_query_answer(poison, fen, transaction_id="42" + noise(5000)),
                            good: wx_query_answer(good, fen2, transaction_id=txn)})
    try:
        res = reconcile_via(gw.url)
    finally:
        gw.close()
    asked = [xml_fields(b).get("out_trade_no") for _, b in gw.calls]
    assert poison in asked, (res.stdout, res.stderr)
    # The poisoned answer is not recorded as a payment it cannot be, nor as a failure.
    assert slip_state(poison)[0] == "WAIT", res.stderr
    # The slip after it is reached and its (valid) payment recorded by the same run.
    assert slip_state(good) == ["OK", "OK", txn.encode().hex()], (res.returncode, res.stdout[-500:], res.stderr[-800:])
    assert not [e for e in errors.new() if "index row size" in e]


# ---- refund answers (CLI `orderpay refund`, WeChat v2)

def paid_wx_order():
    order, slip, fen = new_wx_slip()
    sim_pay(slip)
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    return order, slip, fen


def wx_refund_answer(slip, refund_no, fen, **extra):
    f = {"out_trade_no": slip, "out_refund_no": refund_no, "refund_id": "50300000" + slip[:20],
         "refund_fee": str(fen), "total_fee": str(fen), "cash_fee": str(fen), "transaction_id": "t"}
    f.update(extra)
    return wx_signed(f)


def refund_with(gw, order_id, key, env_key="ORDERPAY_WXPAY_GATEWAY", *extra):
    return run_cli_env({env_key: gw.url, "ORDERPAY_HTTP_TIMEOUT_MS": "2000"},
                       "refund", order_id, "--reason", "value probe", "--key", key, *extra)


REFUND_ID_CASES = [
    ("5030" + "9" * 124, "at_128"),
    ("5030" + "9" * 125, "past_128"),
    ("5030" + noise(4000), "huge"),
    ("", "empty"),
    ("\u9000\u6b3e" * 50, "cjk_300_bytes"),
]


# Named by kind: an id made of the random value would differ between pytest-xdist's workers,
# which must collect the same tests.
@pytest.mark.parametrize("refund_id,kind", REFUND_ID_CASES, ids=[kind for _, kind in REFUND_ID_CASES])
def test_wx_refund_answer_refund_id_value_is_recorded_without_db_error(refund_id, kind):
    order, slip, fen = paid_wx_order()

    def answer(path, body):
        f = xml_fields(body)
        return wx_refund_answer(slip, f.get("out_refund_no", ""), fen, refund_id=refund_id)

    errors = PgErrors()
    gw = FakeGateway(answer)
    try:
        res = refund_with(gw, order["id"], "hpv-" + slip)
    finally:
        gw.close()
    assert any("refund" in p for p, _ in gw.calls), (res.stdout, res.stderr)
    assert errors.new() == [], (kind, res.stderr)
    rows = psql("SELECT st || '|' || coalesce(provider_refund_id, '') FROM refunds WHERE slip_id = '%s'"
                % slip).splitlines()
    assert len(rows) == 1, rows
    st, rid = rows[0].split("|", 1)
    # Accepted by the provider: the refund is OK (or, where the id is unusable, still open for
    # reconcile), never lost and never FAIL.
    assert st in ("OK", "PROCESSING", "NEW"), (kind, rows, res.stdout, res.stderr)
    if st == "OK":
        assert len(rid.encode()) <= 128
        assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"]
    assert cli("audit", check=False).returncode == 0


# --- PayPal answers --------------------------------------------------------------------------------

def paypal_fake(handler):
    """A PayPal stand-in: a token for anyone, every other call answered by handler(path, body)
    -> (status, bytes)."""
    token = json.dumps({"access_token": "hpv-" + noise(8), "token_type": "Bearer",
                        "expires_in": 32400}).encode()
    return FakeGateway(lambda p, b: (200, token) if p.startswith("/v1/oauth2/token") else handler(p, b),
                       content_type="application/json")


# --- our own orderpayd, pointed at the fakes ---------------------------------------------------------

class Route:
    """What the fakes answer now: set per test."""
    wx = None
    paypal = None


def _wx_route(path, body):
    return Route.wx(path, body) if Route.wx else b"<html>no route</html>"


def _pp_route(path, body):
    if path.startswith("/v1/oauth2/token") and not (Route.paypal and getattr(Route.paypal, "token", False)):
        return (200, json.dumps({"access_token": "hpv-token", "token_type": "Bearer",
                                 "expires_in": 32400}).encode())
    return Route.paypal(path, body) if Route.paypal else (503, b"{}")


def fcgi(sock_path, method, path, query=None, body=b"", content_type="application/json", timeout=60, headers=None):
    """One FastCGI request to orderpayd (as nginx would send it, `headers` as HTTP_* params);
    (status, parsed JSON, raw)."""
    qs = urllib.parse.urlencode(query or {})
    params = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path + ("?" + qs if qs else ""),
              "QUERY_STRING": qs, "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
              "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_ID": noise(16)}
    for k, v in (headers or {}).items():
        if k.lower() != "content-type":
            params["HTTP_" + k.upper().replace("-", "_")] = v

    def rec(t, content):
        return struct.pack(">BBHHBx", 1, t, 1, len(content), 0) + content

    def nv(k, v):
        k, v = k.encode(), v.encode()
        out = b""
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
        return out + k + v

    pblob = b"".join(nv(k, v) for k, v in params.items())
    msg = rec(1, struct.pack(">HB5x", 1, 0))
    for i in range(0, len(pblob), 65535):
        msg += rec(4, pblob[i:i + 65535])
    msg += rec(4, b"")
    for i in range(0, len(body), 65535):
        msg += rec(5, body[i:i + 65535])
    msg += rec(5, b"")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(msg)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    out, i = b"", 0
    while i + 8 <= len(data):
        _, t, _, n, pad = struct.unpack(">BBHHBx", data[i:i + 8])
        if t == 6:
            out += data[i + 8:i + 8 + n]
        i += 8 + n + pad
    head, _, raw = out.partition(b"\r\n\r\n")
    status = 200
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("status:"):
            status = int(line.split()[1])
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return status, parsed, raw


@pytest.fixture(scope="module")
def own():
    """Our own orderpayd on the stack's database, its providers' gateways our fakes."""
    wx = FakeGateway(_wx_route)
    pp = FakeGateway(_pp_route, content_type="application/json")
    try:
        with own_orderpayd("hpv", ORDERPAY_WXPAY_GATEWAY=wx.url, ORDERPAY_PAYPAL_GATEWAY=pp.url,
                           ORDERPAY_HTTP_TIMEOUT_MS="3000", ORDERPAY_HTTP_CONNECT_TIMEOUT_MS="1000") as own:
            yield own
    finally:
        wx.close()
        pp.close()
        Route.wx = Route.paypal = None


def own_buy(own, pay_tp="wx.qrcode", site=None, **extra):
    body = {"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": pay_tp}
    body.update(extra)
    return fcgi(own["sock"], "POST", "/api/%s/pay/buy" % (site or STACK["DEMO_SITE"]),
                {"ticket": STACK["DEMO_TICKET"]}, json.dumps(body).encode())


def own_get(own, action, order_id, site=None):
    return fcgi(own["sock"], "GET", "/api/%s/pay/%s" % (site or STACK["DEMO_SITE"], action),
                {"ticket": STACK["DEMO_TICKET"], "id": order_id}, b"", "")


# ---- WeChat v2 unifiedorder: code_url

def unifiedorder_answer(**extra):
    def answer(path, body):
        f = xml_fields(body)
        fields = {"trade_type": "NATIVE", "prepay_id": "wx" + noise(30),
                  "code_url": "weixin://wxpay/bizpayurl?pr=" + noise(7)}
        fields.update(extra)
        fields = {k: v for k, v in fields.items() if v is not None}
        assert f.get("out_trade_no")
        return wx_signed(fields)
    return answer


def test_own_orderpayd_answers_a_normal_buy(own):
    Route.wx = unifiedorder_answer(code_url="weixin://wxpay/bizpayurl?pr=abc1234")
    status, body, raw = own_buy(own)
    assert status == 200, raw
    assert body["data"]["pay_re"] == {"st": "WAIT", "re_tp": "QRCODE",
                                      "re_obj": "weixin://wxpay/bizpayurl?pr=abc1234"}, raw


@pytest.mark.parametrize("code_url,kind", [
    ("", "empty"),
    (None, "missing"),
])
def test_wx_create_without_code_url_is_a_provider_error_and_the_order_can_be_paid_again(own, code_url, kind):
    Route.wx = unifiedorder_answer(code_url=code_url)
    errors = PgErrors()
    status, body, raw = own_buy(own)
    assert status == 502 and body["errCode"] == "e.www.pay.provider", raw
    order = body["data"]
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % order["pay_id"]) == ["FAIL"]
    assert errors.new() == []
    # pay/pay with a provider that answers well now: payable.
    Route.wx = unifiedorder_answer(code_url="weixin://wxpay/bizpayurl?pr=ok" + kind)
    status, body, raw = own_get(own, "pay", order["id"])
    assert status == 200 and body["data"]["pay_re"]["re_obj"] == "weixin://wxpay/bizpayurl?pr=ok" + kind, raw


def probe_create_value(own, route_setter, pay_tp, site=None):
    route_setter()
    errors = PgErrors()
    status, body, raw = own_buy(own, pay_tp, site=site)
    return status, body, raw, errors.new()


@pytest.mark.parametrize("kind", ["control_chars", "cjk", "javascript_scheme", "at_qr_limit"])
def test_wx_create_code_url_odd_but_encodable_is_stored_as_given(own, kind):
    """A code_url orderpay can draw is stored and answered exactly as WeChat gave it (the QR code
    carries it to the buyer's WeChat app, which is the judge of it); no database error."""
    url = {"control_chars": "weixin://wxpay/bizpayurl?pr=a\tb\nc",
           "cjk": "weixin://wxpay/bizpayurl?pr=\u4e2d\u6587",
           "javascript_scheme": "javascript:alert(1)",
           "at_qr_limit": "weixin://wxpay/bizpayurl?pr=" + noise(1000)}[kind]
    Route.wx = unifiedorder_answer(code_url=url)
    errors = PgErrors()
    status, body, raw = own_buy(own)
    assert status == 200, raw[:300]
    assert body["data"]["pay_re"] == {"st": "WAIT", "re_tp": "QRCODE", "re_obj": url}
    st, _, svg = own_get(own, "qr", body["data"]["id"])
    assert st == 200 and svg.startswith(b"<?xml"), svg[:200]
    assert errors.new() == []


def test_wx_create_code_url_that_is_not_xml_text_is_unknown(own):
    """U+FFFE by character reference: the answer is not XML, so not verifiable: 504
    e.www.pay.timeout with the order, slip WAIT for a query to resolve."""
    def answer(path, body):
        return wx_signed({"trade_type": "NATIVE", "prepay_id": "wx1", "code_url": "weixin://x\ufffe"},
                         {"code_url": "weixin://x&#xFFFE;"})
    Route.wx = answer
    errors = PgErrors()
    status, body, raw = own_buy(own)
    assert status == 504 and body["errCode"] == "e.www.pay.timeout", raw[:300]
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % body["data"]["pay_id"]) == ["WAIT"]
    assert errors.new() == []


@pytest.mark.parametrize("size", [3000, 30000])
def test_wx_create_code_url_past_qr_capacity_is_not_answered_as_payable(own, size):
    Route.wx = unifiedorder_answer(code_url="weixin://wxpay/bizpayurl?pr=" + noise(size))
    errors = PgErrors()
    status, body, raw = own_buy(own)
    assert errors.new() == []
    order = body["data"]
    qr_status, _, qr_raw = own_get(own, "qr", order["id"])
    # Either not answered as payable, or drawable.
    assert not (status == 200 and order["pay_re"]["re_tp"] == "QRCODE" and qr_status != 200), (status, qr_raw)


# ---- PayPal: the order query during reconcile (capture id, status, amount)

def paypal_wait_slip():
    """A PayPal order waiting for its buyer (created at paysim): (order, slip, PayPal order id)."""
    from test_provider_text import paypal_buy
    status, body, raw, _ = paypal_buy("value probe")
    assert status == 200, raw
    order = body["data"]
    ref = db_row("SELECT provider_ref FROM pay_slips WHERE id = '%s'" % order["pay_id"])[0]
    assert ref
    return order, order["pay_id"], ref


def paypal_order_json(ref, capture_id="CAP" + "1" * 14, capture_status="COMPLETED", value="12.50",
                      currency="USD", status="COMPLETED"):
    cap = {"id": capture_id, "status": capture_status, "amount": {"currency_code": currency, "value": value}}
    return json.dumps({"id": ref, "status": status,
                       "purchase_units": [{"reference_id": "x", "payments": {"captures": [cap]}}]},
                      ensure_ascii=False).encode()


def paypal_reconcile(answers):
    """reconcile with a PayPal stand-in answering GET /v2/checkout/orders/<ref> from answers
    (ref -> bytes, status 200); any other order is answered 503 (unknown: nothing changes)."""
    def handler(path, body):
        for ref, raw in answers.items():
            if path.startswith("/v2/checkout/orders/" + ref):
                return (200, raw)
        return (503, b'{"name":"INTERNAL_SERVER_ERROR"}')
    gw = paypal_fake(handler)
    try:
        res = reconcile_via(gw.url, "ORDERPAY_PAYPAL_GATEWAY")
    finally:
        gw.close()
    return res, gw.calls


def paypal_price(order):
    return "%.2f" % order["fee"]


PAYPAL_NOT_PAID = {
    "capture_status_lowercase": lambda ref, v: paypal_order_json(ref, capture_status="completed", value=v),
    "capture_status_padded": lambda ref, v: paypal_order_json(ref, capture_status="COMPLETED ", value=v),
    "capture_id_empty": lambda ref, v: paypal_order_json(ref, capture_id="", value=v),
    "value_exponent": lambda ref, v: paypal_order_json(ref, value=v.replace(".", "") + "e-2"),
    "value_plus": lambda ref, v: paypal_order_json(ref, value="+" + v),
    "value_three_decimals": lambda ref, v: paypal_order_json(ref, value=v + "1"),
    "value_huge": lambda ref, v: paypal_order_json(ref, value="9" * 40 + ".00"),
    "value_empty": lambda ref, v: paypal_order_json(ref, value=""),
    "currency_lowercase": lambda ref, v: paypal_order_json(ref, value=v, currency="usd"),
    "currency_huge": lambda ref, v: paypal_order_json(ref, value=v, currency="USD" * 3000),
    "lone_surrogate_escape": lambda ref, v: paypal_order_json(ref, value=v).replace(b"CAP1", b"CAP\\ud8001"),
}


@pytest.mark.parametrize("lie", sorted(PAYPAL_NOT_PAID))
def test_paypal_query_answer_with_unreadable_value_neither_settles_nor_fails(lie):
    order, slip, ref = paypal_wait_slip()
    errors = PgErrors()
    res, calls = paypal_reconcile({ref: PAYPAL_NOT_PAID[lie](ref, paypal_price(order))})
    assert any(ref in p for p, _ in calls), (res.stdout, res.stderr)
    assert slip_state(slip) == ["WAIT", "WT", ""], (lie, res.stdout, res.stderr)
    assert errors.new() == [], (lie, res.stderr)
    assert cli("audit", check=False).returncode == 0


@pytest.mark.parametrize("kind", ["64_chars", "cjk", "path_chars"])
def test_paypal_query_completed_with_odd_capture_id_settles_exactly(kind):
    # Unique per run: a capture id recorded on an earlier run's slip is (rightly) txn_id_reused.
    capture_id = {"64_chars": "CAP" + noise(61), "cjk": "\u4e2d\u6587CAP" + noise(8),
                  "path_chars": "CAP%2F..%2F" + noise(8)}[kind]
    order, slip, ref = paypal_wait_slip()
    errors = PgErrors()
    res, _ = paypal_reconcile({ref: paypal_order_json(ref, capture_id=capture_id, value=paypal_price(order))})
    assert slip_state(slip) == ["OK", "OK", capture_id.encode().hex()], (res.stdout, res.stderr)
    assert errors.new() == [], res.stderr


def test_paypal_query_huge_capture_id_does_not_stop_reconcile_for_other_slips():
    order1, poison, ref1 = paypal_wait_slip()
    order2, good, ref2 = paypal_wait_slip()
    errors = PgErrors()
    res, calls = paypal_reconcile({
        ref1: paypal_order_json(ref1, capture_id="CAP" + noise(5000), value=paypal_price(order1)),
        ref2: paypal_order_json(ref2, capture_id="CAPGOOD" + ref2[:10], value=paypal_price(order2))})
    assert any(ref1 in p for p, _ in calls), (res.stdout, res.stderr)
    assert slip_state(poison)[0] == "WAIT", res.stderr
    assert slip_state(good)[:2] == ["OK", "OK"], (res.returncode, res.stderr[-800:])
    assert not [e for e in errors.new() if "index row size" in e]


def test_paypal_query_capture_id_with_nul_is_not_recorded_cut():
    order, slip, ref = paypal_wait_slip()
    head = "CAP" + noise(12)  # unique per run: what the cut id would be
    answer = paypal_order_json(ref, capture_id="CAPNULMARK", value=paypal_price(order)).replace(
        b"CAPNULMARK", head.encode() + b"\\u0000MARK")
    res, calls = paypal_reconcile({ref: answer})
    assert any(ref in p for p, _ in calls), (res.stdout, res.stderr)
    st = slip_state(slip)
    assert st[2] != head.encode().hex(), "settled with the cut id %r" % head
    assert st == ["WAIT", "WT", ""], (st, bytes.fromhex(st[2]), res.stderr[-500:])


def test_paypal_query_capture_id_not_utf8_is_refused_without_db_error_or_stopping_reconcile():
    order1, poison, ref1 = paypal_wait_slip()
    order2, good, ref2 = paypal_wait_slip()
    errors = PgErrors()
    bad = paypal_order_json(ref1, capture_id="CAPBADMARK", value=paypal_price(order1)).replace(
        b"CAPBADMARK", b"CAP\xff\xfeMARK")
    res, calls = paypal_reconcile({ref1: bad,
                                   ref2: paypal_order_json(ref2, capture_id="CAPOK" + ref2[:10],
                                                           value=paypal_price(order2))})
    assert any(ref1 in p for p, _ in calls), (res.stdout, res.stderr)
    assert slip_state(poison) == ["WAIT", "WT", ""]
    assert slip_state(good)[:2] == ["OK", "OK"], (res.returncode, res.stderr[-600:])
    assert not [e for e in errors.new() if "invalid byte sequence" in e]


# ---- PayPal: the refund answer

def paypal_refund_answer(refund_id, status, invoice=None, value=None):
    def handler(path, body):
        req = json.loads(body) if body else {}
        doc = {"id": refund_id, "status": status, "invoice_id": invoice if invoice is not None
               else req.get("invoice_id", ""),
               "amount": {"currency_code": "USD", "value": value or req.get("amount", {}).get("value", "")}}
        return (201, json.dumps(doc, ensure_ascii=False).encode())
    return handler


@pytest.mark.parametrize("kind", ["id_65", "id_with_slash", "id_empty", "status_lowercase", "status_huge",
                                  "other_invoice", "id_nul"])
def test_paypal_refund_answer_unusable_leaves_refund_open_and_reconcile_finishes_it(kind):
    from test_provider_text import paid_paypal_order
    order = paid_paypal_order()
    slip = order["pay_id"]
    handler = {
        "id_65": paypal_refund_answer("R" * 65, "COMPLETED"),
        "id_with_slash": paypal_refund_answer("R1/../R2", "COMPLETED"),
        "id_empty": paypal_refund_answer("", "COMPLETED"),
        "status_lowercase": paypal_refund_answer("RFAKE000000000001", "completed"),
        "status_huge": paypal_refund_answer("RFAKE000000000002", "COMPLETED" * 2000),
        "other_invoice": paypal_refund_answer("RFAKE000000000003", "COMPLETED", invoice="someone-else"),
        "id_nul": lambda p, b: (201, b'{"id":"R\\u0000X","status":"COMPLETED"}'),
    }[kind]
    errors = PgErrors()
    gw = paypal_fake(handler)
    try:
        res = refund_with(gw, order["id"], "hpv-" + slip, "ORDERPAY_PAYPAL_GATEWAY")
    finally:
        gw.close()
    assert any("/refund" in p for p, _ in gw.calls), (res.stdout, res.stderr)
    assert errors.new() == [], (kind, res.stderr)
    sts = psql("SELECT st FROM refunds WHERE slip_id = '%s'" % slip).split()
    # Neither recorded as done (nothing verifiable says so) nor failed (money may have moved).
    assert sts in (["NEW"], ["PROCESSING"]), (kind, sts, res.stdout, res.stderr)
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["OK"]
    # The real PayPal (paysim) is asked again under the same request id: refunded once, OK.
    cli("reconcile", "--min-age", "0", "--limit", "100000")
    rows = psql("SELECT st FROM refunds WHERE slip_id = '%s'" % slip).split()
    assert rows == ["OK"], (kind, rows)
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["RF"]
    assert cli("audit", check=False).returncode == 0


# ---- PayPal create, through our own orderpayd

def paypal_create(order_id=None, link=None, status=201, raw=None):
    def handler(path, body):
        if raw is not None:
            return (status, raw)
        oid = order_id if order_id is not None else "5O" + noise(15).upper()
        href = link if link is not None else "https://www.paypal.test/checkoutnow?token=" + oid
        return (status, json.dumps({"id": oid, "status": "PAYER_ACTION_REQUIRED",
                                    "links": [{"rel": "payer-action", "href": href, "method": "GET"}]},
                                   ensure_ascii=False).encode())
    return handler


@pytest.mark.parametrize("kind", ["id_65", "id_space", "id_empty", "id_nul", "link_ftp", "link_empty",
                                  "body_not_utf8", "id_ctrl_in_link"])
def test_paypal_create_answer_without_usable_id_or_link_is_unknown_and_waits(own, kind):
    """Without an order id orderpay can store (1-64 printable ASCII, the provider_ref CHECK) or an
    http(s) approval link, nothing can be shown to the buyer: 504 e.www.pay.timeout with the
    order (README), the slip WAIT (never FAIL: PayPal may hold an order), no database error."""
    Route.paypal = {
        "id_65": paypal_create(order_id="O" * 65),
        "id_space": paypal_create(order_id="5O 1"),
        "id_empty": paypal_create(order_id=""),
        "id_nul": paypal_create(raw=b'{"id":"5O\\u00001","links":[{"rel":"payer-action","href":"https://x/y"}]}'),
        "link_ftp": paypal_create(link="ftp://www.paypal.test/x"),
        "link_empty": paypal_create(link=""),
        "body_not_utf8": paypal_create(raw=b'{"id":"5O\xff1","links":[{"rel":"payer-action","href":"https://x/y"}]}'),
        "id_ctrl_in_link": paypal_create(order_id="5O\u00071"),
    }[kind]
    errors = PgErrors()
    status, body, raw = own_buy(own, "paypal", site=USD_SITE)
    assert status == 504 and body["errCode"] == "e.www.pay.timeout", (kind, raw)
    slip = body["data"]["pay_id"]
    assert db_row("SELECT st, re_tp, coalesce(provider_ref, '') FROM pay_slips WHERE id = '%s'" % slip) == \
        ["WAIT", "NONE", ""], kind
    assert errors.new() == [], kind


@pytest.mark.parametrize("kind", ["id_at_64", "link_huge", "link_unicode"])
def test_paypal_create_answer_at_the_limits_is_payable(own, kind):
    oid = "O" + noise(63).upper() if kind == "id_at_64" else "5O" + noise(15).upper()
    link = {"id_at_64": None, "link_huge": "https://www.paypal.test/checkoutnow?token=" + noise(20000),
            "link_unicode": "https://www.paypal.test/\u4e2d?token=" + oid}[kind]
    Route.paypal = paypal_create(order_id=oid, link=link)
    errors = PgErrors()
    status, body, raw = own_buy(own, "paypal", site=USD_SITE)
    assert status == 200, raw[:300]
    assert body["data"]["pay_re"]["st"] == "WAIT" and body["data"]["pay_re"]["re_tp"] == "LINK"
    if link:
        assert body["data"]["pay_re"]["re_obj"] == link
    assert db_row("SELECT provider_ref FROM pay_slips WHERE id = '%s'" % body["data"]["pay_id"]) == [oid]
    assert errors.new() == []


def test_paypal_create_answer_reusing_another_slips_order_id_is_a_provider_error(own):
    _, other_slip, other_ref = paypal_wait_slip()
    Route.paypal = paypal_create(order_id=other_ref)
    errors = PgErrors()
    status, body, raw = own_buy(own, "paypal", site=USD_SITE)
    pg = errors.new()
    # The other slip keeps its order id; this buy is answered with a README provider code and its order.
    assert db_row("SELECT provider_ref FROM pay_slips WHERE id = '%s'" % other_slip) == [other_ref]
    assert status in (502, 504), raw
    assert body["errCode"] in ("e.www.pay.provider", "e.www.pay.timeout"), raw
    slip = body["data"]["pay_id"]
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip)[0] in ("WAIT", "FAIL"), raw
    # The unique index pay_slips_provider_ref is what catches the contradiction (its one ERROR line
    # in the server log); nothing else failed.
    assert not [e for e in pg if "pay_slips_provider_ref" not in e], pg


# ---- PayPal: the token endpoint's answer

class HeaderRecorder(LocalServer):
    """A PayPal stand-in recording each request's path and headers: `token_body` for the token
    endpoint, 503 (unknown) for everything else."""

    def __init__(self, token_body):
        import http.server
        outer = self
        self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.seen.append((self.path, [(k.lower(), v) for k, v in self.headers.items()]))
                if self.path.startswith("/v1/oauth2/token"):
                    status, body = 200, token_body
                else:
                    status, body = 503, b'{"name":"INTERNAL_SERVER_ERROR"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, *a):
                pass

        super().__init__(H)


def forget_paypal_tokens():
    """Drops PayPal tokens shared through provider_cache (keyed by gateway URL: a fake on a port
    an earlier fake had would otherwise be sent that one's token, never asking for its own)."""
    psql("DELETE FROM provider_cache WHERE key LIKE 'paypal.token.%'")


def reconcile_with_token(token_body):
    forget_paypal_tokens()
    rec = HeaderRecorder(token_body)
    try:
        res = reconcile_via(rec.url, "ORDERPAY_PAYPAL_GATEWAY")
    finally:
        rec.close()
        forget_paypal_tokens()  # a hostile token must not outlive its test
    return res, rec.seen


@pytest.mark.parametrize("kind", ["empty", "huge_4097", "no_expiry", "nul"])
def test_paypal_token_answer_unusable_is_refused_and_nothing_changes(kind):
    token = {"empty": {"access_token": "", "expires_in": 32400},
             "huge_4097": {"access_token": "A" * 4097, "expires_in": 32400},
             "no_expiry": {"access_token": "tok" + noise(8)},
             "nul": None}[kind]
    body = json.dumps(token).encode() if token else b'{"access_token":"tok\\u0000x","expires_in":32400}'
    order, slip, ref = paypal_wait_slip()
    errors = PgErrors()
    res, seen = reconcile_with_token(body)
    assert any(p.startswith("/v1/oauth2/token") for p, _ in seen), (res.stdout, res.stderr)
    api_calls = [h for p, h in seen if not p.startswith("/v1/oauth2/token")]
    if kind != "nul":
        assert api_calls == [], (kind, api_calls[:2])  # no usable token: no API call at all
    assert slip_state(slip) == ["WAIT", "WT", ""]
    assert errors.new() == [], (kind, res.stderr[-500:])
    assert res.returncode == 0, (kind, res.stderr[-500:])


def test_paypal_token_with_crlf_is_not_sent_as_headers():
    paypal_wait_slip()
    res, seen = reconcile_with_token(json.dumps({"access_token": "abc\r\nX-Injected: 1",
                                                 "expires_in": 32400}).encode())
    assert any(p.startswith("/v1/oauth2/token") for p, _ in seen), res.stderr[-300:]
    injected = [p for p, h in seen if any(k == "x-injected" for k, _ in h)]
    assert injected == [], (injected[:3], res.stderr[-300:])


def test_paypal_token_not_utf8_is_refused_without_db_error():
    order, slip, ref = paypal_wait_slip()
    errors = PgErrors()
    res, seen = reconcile_with_token(b'{"access_token":"tok\xff\xfe1","expires_in":32400}')
    assert any(p.startswith("/v1/oauth2/token") for p, _ in seen), (res.stdout, res.stderr)
    assert slip_state(slip) == ["WAIT", "WT", ""]
    assert [e for e in errors.new() if "invalid byte sequence" in e] == [], res.stderr[-400:]
    assert res.returncode == 0, res.stderr[-400:]
