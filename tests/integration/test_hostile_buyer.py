"""Probes of the shopper-facing API through nginx, as a hostile or careless client: every pay/buy
field at its documented limit and one past it, odd JSON numbers and text, query-string tricks,
wrong methods and framing, idempotency keys under races, other buyers' orders, scarce stock under
concurrency, and the demo checkout page's retry. Each test asserts what README/DESIGN promise; the
cases test_bad_input.py, test_api_errors.py, test_idempotent_buy.py, test_concurrency.py, test_qr.py
and test_buy_one_statement.py already cover are not repeated."""

import hashlib
import json
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import buy_ok, read_until_close

T = STACK["DEMO_TICKET"]
BOB = STACK["DEMO_TICKET_BOB"]
TEA = STACK["DEMO_PRODUCT"]
SITE = STACK["DEMO_SITE"]
JSON_CT = {"Content-Type": "application/json"}
API_PORT = int(STACK["API_PORT"])


def q(text):
    return "'" + text.replace("'", "''") + "'"


def counts():
    return psql("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items), "
                "(SELECT count(*) FROM pay_slips)")


def buy_body(body, ticket=T, headers=None):
    """POSTs `body` (bytes/str as is, or an object as JSON) to pay/buy."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return api("POST", "buy", ticket=ticket, raw_body=body, headers=dict(JSON_CT, **(headers or {})))


def expect(resp, status, code, field=None):
    st, body, raw, hdrs = resp
    assert st == status, raw[:400]
    assert hdrs.get("content-type", "").startswith("application/json"), hdrs
    assert body["ok"] is False and body["errCode"] == code, raw[:400]
    if field is not None:
        assert field in body["msg"], raw[:400]
    return body


def refused(status, code, body, field=None, **kw):
    before = counts()
    out = expect(buy_body(body, **kw), status, code, field)
    assert counts() == before, "a refused buy wrote something"
    return out


def ok(resp):
    st, body, raw, _ = resp
    assert st == 200 and body["ok"] is True, raw[:400]
    return body["data"]


def tea(amount=1, **extra):
    b = {"products": [{"id": TEA, "amount": amount}], "pay_tp": "wx.qrcode"}
    b.update(extra)
    return b


def add_product(pid, price="1.00", stock=None, site=SITE):
    args = ["product", "add", pid, "--site", site, "--title", "probe " + pid, "--price", price]
    if stock is not None:
        args += ["--stock", str(stock)]
    cli(*args)


def stock(pid):
    return psql("SELECT stock FROM products WHERE site_id = %s AND id = %s" % (q(SITE), q(pid)))


def new_buyer(prefix="probe"):
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    cli("account", "add", name, "--store", "demo-users")
    return name, cli("ticket", "issue", "--account", name).stdout.strip()


# --- 1. every pay/buy field at its limit and one past it ------------------------------------

def test_products_count_at_and_past_the_limit():
    # 100 lines (here all the same product, merged) are accepted; 101 are "too many products".
    order = ok(buy_body({"products": [{"id": TEA, "amount": 1}] * 100, "pay_tp": "wx.qrcode"}))
    assert order["products"] == [dict(order["products"][0], amount=100)] and order["pro_c"] == 100
    refused(400, "e.www.order.invalid.field", {"products": [{"id": TEA, "amount": 1}] * 101, "pay_tp": "wx.qrcode"},
            "too many")


def test_product_id_length_at_and_past_the_limit():
    # 64 bytes is a possible id (unknown here: 404 naming it); 65 bytes cannot be one.
    body = expect(buy_body({"products": [{"id": "p" * 64}], "pay_tp": "wx.qrcode"}), 404, "e.io.obj.noexists")
    assert "p" * 64 in body["msg"]
    refused(400, "e.www.order.invalid.field", {"products": [{"id": "p" * 65}], "pay_tp": "wx.qrcode"}, "products[].id")
    # Bytes, not characters: 22 three-byte characters are 66 bytes.
    refused(400, "e.www.order.invalid.field", {"products": [{"id": "\u4e2d" * 22}], "pay_tp": "wx.qrcode"})
    refused(400, "e.www.order.invalid.field", {"products": [{"id": ""}], "pay_tp": "wx.qrcode"})


def test_amount_at_and_past_10000_per_line_and_after_merging():
    assert ok(buy_body(tea(10000)))["pro_c"] == 10000
    refused(400, "e.www.order.invalid.amount", tea(10001))
    # Duplicates are merged first, so the cap holds for the product, not for each line.
    refused(400, "e.www.order.invalid.amount",
            {"products": [{"id": TEA, "amount": 5000}, {"id": TEA, "amount": 5000}, {"id": TEA, "amount": 1}],
             "pay_tp": "wx.qrcode"})
    order = ok(buy_body({"products": [{"id": TEA, "amount": 5000}, {"id": TEA, "amount": 0},
                                      {"id": TEA, "amount": 5000}], "pay_tp": "wx.qrcode"}))
    assert [(p["id"], p["amount"]) for p in order["products"]] == [(TEA, 10000)]


@pytest.mark.parametrize("amount, status, code", [
    ("1.0", 400, "e.www.order.invalid.amount"),
    ("1e2", 400, "e.www.order.invalid.amount"),
    ("2.5", 400, "e.www.order.invalid.amount"),
    ("-1", 400, "e.www.order.invalid.amount"),
    ("-9223372036854775808", 400, "e.www.order.invalid.amount"),
    ("9223372036854775807", 400, "e.www.order.invalid.amount"),
    ("18446744073709551616", 400, "e.www.order.invalid.amount"),
    ("123456789012345678901234567890", 400, "e.www.order.invalid.amount"),
    ("true", 400, "e.www.order.invalid.field"),
    ("[1]", 400, "e.www.order.invalid.field"),
    ("-0", 400, "e.www.order.nil.products"),
    ("0", 400, "e.www.order.nil.products"),
])
def test_odd_json_amounts(amount, status, code):
    refused(status, code, '{"products":[{"id":"%s","amount":%s}],"pay_tp":"wx.qrcode"}' % (TEA, amount))


def test_null_amount_counts_as_not_given():
    # README: "null counts as not given"; amount defaults to 1.
    order = ok(buy_body('{"products":[{"id":"%s","amount":null}],"pay_tp":"wx.qrcode"}' % TEA))
    assert order["products"][0]["amount"] == 1


def test_price_times_amount_overflow_is_invalid_amount_and_writes_nothing():
    # 10^14 (the CLI's largest whole price) x 922 is 9.22e18 minor units: one line fits in int64,
    # two overflow the total; one line of 10,000 overflows the line itself.
    a, b = "ovf-a-" + uuid.uuid4().hex[:6], "ovf-b-" + uuid.uuid4().hex[:6]
    add_product(a, price="100000000000000.00")
    add_product(b, price="100000000000000.00")
    for products in ([{"id": a, "amount": 922}, {"id": b, "amount": 922}], [{"id": a, "amount": 10000}]):
        for pay_tp in ("wx.qrcode", "zfb.qrcode"):
            refused(400, "e.www.order.invalid.amount", {"products": products, "pay_tp": pay_tp})


@pytest.mark.parametrize("field, limit", [("title", 128), ("note", 1024)] +
                         [(f, 256) for f in ("name", "phone", "email", "country", "province", "city", "district",
                                             "address", "postcode", "company")])
def test_text_fields_at_and_past_their_byte_limits(field, limit):
    order = ok(buy_body(tea(**{field: "x" * limit})))
    if field in ("title", "note"):
        assert order[field] == "x" * limit
    refused(400, "e.www.order.invalid.field", tea(**{field: "x" * (limit + 1)}))
    # Limits are bytes: a 3-byte character that crosses the limit is refused, also when escaped.
    refused(400, "e.www.order.invalid.field", tea(**{field: "x" * (limit - 2) + "\u4e2d"}))
    refused(400, "e.www.order.invalid.field",
            '{"products":[{"id":"%s","amount":1}],"pay_tp":"wx.qrcode","%s":"%s\\u4e2d"}' % (TEA, field, "x" * (limit - 2)))


@pytest.mark.parametrize("key, good", [
    ("k" * 32, True), ("A-z_0.9:", True), ("k" * 65, False), ("a/b", False), ("a+b", False), ("a b", False),
    ("a;b", False), ("a%20b", False), ("a\tb", False), ("a,b", False), ("\"quoted\"", False),
])
def test_idempotency_key_length_and_characters(key, good):
    if good:
        key += uuid.uuid4().hex  # 64 characters at most, fresh on a reused stack
        before = int(psql("SELECT count(*) FROM orders"))
        first = ok(buy_body(tea(3), headers={"Idempotency-Key": key}))
        again = ok(buy_body(tea(3), headers={"Idempotency-Key": key}))
        assert first["id"] == again["id"]
        assert int(psql("SELECT count(*) FROM orders")) == before + 1
    else:
        refused(400, "e.www.order.invalid.field", tea(), headers={"Idempotency-Key": key})
        refused(400, "e.www.order.invalid.field", tea(idempotency_key=key))


def test_money_and_identity_fields_from_the_client_are_refused_never_read():
    """Prices are never read from the client (README), nor anything the server decides: a field
    naming one is refused as unknown (it used to be ignored), and nothing is written."""
    from conftest import sim
    for field, value in (("total", 0.01), ("fee", 0.01), ("price", 0.01), ("discount", 25), ("freight", -5),
                         ("currency", "JPY"), ("buyer_id", "bob"), ("seller", "x"), ("or_st", "OK"),
                         ("id", "a" * 26), ("pay_id", "b" * 26)):
        refused(400, "e.www.order.invalid.field", tea(2, **{field: value}), field="unknown field " + field)
    for field, value in (("price", 0.01), ("subtotal", 0.01), ("title", "x")):
        body = {"products": [{"id": TEA, "amount": 2, field: value}], "pay_tp": "wx.qrcode"}
        refused(400, "e.www.order.invalid.field", body, field="unknown field products[0]." + field)
    order = ok(buy_body(tea(2, name="Zhang")))
    unit = order["products"][0]["price"]
    assert order["products"][0]["subtotal"] == order["total"] == order["fee"] == 2 * unit and unit > 0.01
    assert (order["discount"], order["freight"], order["currency"]) == (0, 0, "CNY")
    assert (order["buyer_id"], order["seller"], order["or_st"]) == (STACK["DEMO_ACCOUNT"], STACK["DEMO_MERCHANT"], "WT")
    assert order["name"] == "Zhang"
    trade = sim("/sim/trade", {"out_trade_no": order["pay_id"]}, method="GET")[1]["data"]
    assert int(trade["total_fee"]) == round(order["fee"] * 100), trade


# --- 2. JSON framing and text --------------------------------------------------------------

@pytest.mark.parametrize("body", [
    '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode"}{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode"}' % (TEA, TEA),
    '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode"} []' % TEA,
    '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode"},' % TEA,
    '\ufeff{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode"}' % TEA,
    '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode",}' % TEA,
    "{'products':[{'id':'%s'}],'pay_tp':'wx.qrcode'}" % TEA,
    '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","x":NaN}' % TEA,
    '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","x":1e400}' % TEA,
    '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode"} // comment' % TEA,
])
def test_not_exactly_one_json_object_is_invalid_json(body):
    refused(400, "e.www.api.invalid.json", body)


def test_whitespace_around_the_object_is_fine():
    ok(buy_body(' \r\n\t{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode"}\n\n ' % TEA))


def test_nesting_depth_16_is_parsed_and_17_refused():
    def nested(d):  # the body object is level 1; an unknown field holds d-1 nested arrays
        return '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","x":%s%s}' % (TEA, "[" * (d - 1), "]" * (d - 1))
    # No field of pay/buy nests deeper than 3: depth 16 is read, and then refused for its field.
    refused(400, "e.www.order.invalid.field", nested(16), field="unknown field x")
    refused(400, "e.www.api.invalid.json", nested(17))


def test_duplicate_keys_in_an_unknown_nested_object_are_invalid_json():
    refused(400, "e.www.api.invalid.json", '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","x":{"a":1,"a":2}}' % TEA)


@pytest.mark.parametrize("text", [
    "\\ud800", "\\ud800x", "\\udbff\\ud800", "\\udfff\\udc00", "\\ud83d", "x\\ud83d\\u0041",
])
def test_lone_or_misordered_surrogate_escapes_are_invalid_encoding(text):
    refused(400, "e.www.api.invalid.encoding", '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","note":"%s"}'
            % (TEA, text))


@pytest.mark.parametrize("raw", [b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe4\xb8", b"\x80", b"\xf8\x88\x80\x80\x80"])
def test_invalid_utf8_sequences_in_strings_are_invalid_encoding(raw):
    body = b'{"products":[{"id":"' + TEA.encode() + b'"}],"pay_tp":"wx.qrcode","note":"a' + raw + b'b"}'
    refused(400, "e.www.api.invalid.encoding", body)


def test_a_valid_surrogate_pair_is_stored_as_its_character():
    order = ok(buy_body('{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","note":"\\ud83d\\ude00"}' % TEA))
    assert order["note"] == "\U0001F600"


@pytest.mark.parametrize("pay_tp", ["wx.qrcode", "wx.jsapi", "zfb.qrcode"])
@pytest.mark.parametrize("char", ["\ufffe", "\uffff", "\x01", "\x1f", "\x7f", "\u2028"])
def test_odd_but_valid_characters_in_the_title_never_500(pay_tp, char):
    """Any UTF-8 text without NUL is a valid title (README); the title is the WeChat `body` /
    Alipay `subject`, so the provider request must cope with it. U+FFFE and U+FFFF are UTF-8 but
    not XML characters: the WeChat v2 request must not fail with 500 after the order (and its
    stock) has been committed."""
    title = "tea " + char + " x"
    before = int(psql("SELECT count(*) FROM orders"))
    st, body, raw, _ = buy_body(tea(title=title, pay_tp=pay_tp))
    assert st != 500, raw
    assert st == 200, raw
    assert body["data"]["title"] == title and body["data"]["or_st"] == "WT"
    assert int(psql("SELECT count(*) FROM orders")) == before + 1


def test_body_at_64kib_is_accepted_and_one_byte_more_is_413():
    # Padded with whitespace: an unknown "pad" field is refused, and no known field is 64 KiB long.
    base = '{"products":[{"id":"%s","amount":1}],"pay_tp":"wx.qrcode"}' % TEA
    exact = base[:-1] + " " * (65536 - len(base)) + "}"
    assert len(exact) == 65536
    ok(buy_body(exact))
    before = counts()
    st, body, raw, _ = buy_body(exact[:-1] + " }")
    assert st == 413 and body["errCode"] == "e.www.api.too_large", raw[:300]
    assert counts() == before


# --- 3. framing through nginx --------------------------------------------------------------

def raw_exchange(data, shut=False, timeout=10):
    """Raw bytes to nginx; the whole reply (the connection is closed by us after `timeout`)."""
    with socket.create_connection(("127.0.0.1", API_PORT), timeout=timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        return read_until_close(s)


def buy_head(extra=b""):
    return (b"POST /api/" + SITE.encode() + b"/pay/buy?ticket=" + T.encode() + b" HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\n" + extra)


BODY = ('{"products":[{"id":"%s","amount":1}],"pay_tp":"wx.qrcode"}' % TEA).encode()


def test_chunked_body_through_nginx_is_read_whole():
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(BODY[i:i + 7]), BODY[i:i + 7]) for i in range(0, len(BODY), 7))
    reply = raw_exchange(buy_head(b"Transfer-Encoding: chunked\r\n\r\n") + chunks + b"0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    assert b'"or_st":"WT"' in reply


def test_chunked_body_over_the_limit_is_413():
    big = b'{"pad":"' + b"x" * 70000 + b'"}'
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 8192]), big[i:i + 8192]) for i in range(0, len(big), 8192))
    before = counts()
    reply = raw_exchange(buy_head(b"Transfer-Encoding: chunked\r\n\r\n") + chunks + b"0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert b"e.www.api.too_large" in reply
    assert counts() == before


def test_content_length_shorter_than_the_body_is_a_truncated_document():
    before = counts()
    reply = raw_exchange(buy_head(b"Content-Length: %d\r\n\r\n" % (len(BODY) - 5)) + BODY)
    assert reply.startswith(b"HTTP/1.1 400") and b"e.www.api.invalid.json" in reply, reply[:300]
    assert counts() == before


def test_content_length_longer_than_the_body_writes_nothing():
    before = counts()
    reply = raw_exchange(buy_head(b"Content-Length: %d\r\n\r\n" % (len(BODY) + 20)) + BODY, shut=True)
    assert not reply.startswith(b"HTTP/1.1 200"), reply[:300]
    assert counts() == before


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(BODY),
])
def test_ambiguous_framing_is_refused(framing):
    before = counts()
    reply = raw_exchange(buy_head(framing + b"\r\n") + b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and b"e.www.api.bad_request" in reply, reply[:300]
    assert counts() == before


@pytest.mark.parametrize("ctype", [None, "", "application/json-patch+json", "json", "application/json x",
                                   "multipart/form-data; boundary=x"])
def test_content_type_other_than_json_is_415(ctype):
    extra = b"" if ctype is None else b"Content-Type: " + ctype.encode() + b"\r\n"
    head = (b"POST /api/" + SITE.encode() + b"/pay/buy?ticket=" + T.encode() + b" HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(BODY))
    before = counts()
    reply = raw_exchange(head + BODY)
    assert reply.startswith(b"HTTP/1.1 415") and b"e.www.api.unsupported_media_type" in reply, reply[:300]
    assert counts() == before


@pytest.mark.parametrize("action, method, allow", [
    ("buy", "PUT", "POST"), ("buy", "DELETE", "POST"), ("buy", "OPTIONS", "POST"), ("buy", "PATCH", "POST"),
    ("buy", "HEAD", "POST"),
    ("check", "POST", "GET, HEAD"), ("check", "PUT", "GET, HEAD"), ("check", "OPTIONS", "GET, HEAD"),
    ("check_order", "DELETE", "GET, HEAD"), ("qr", "OPTIONS", "GET, HEAD"),
    ("pay", "POST", "GET"), ("pay", "DELETE", "GET"), ("pay", "HEAD", "GET"),
])
def test_wrong_methods_are_405_with_allow(action, method, allow):
    before = counts()
    body = BODY if method in ("PUT", "POST", "PATCH") else None
    st, parsed, raw, hdrs = http(method, "%s/api/%s/pay/%s?ticket=%s&id=abc" % (STACK["ORDERPAY_URL"], SITE, action, T),
                                 body, JSON_CT if body else None)
    assert st == 405, raw
    assert hdrs.get("allow") == allow, hdrs
    if method != "HEAD":
        assert parsed["errCode"] == "e.www.api.method", raw
    assert counts() == before


# --- 4. query string hostility ---------------------------------------------------------------

@pytest.fixture(scope="module")
def alices():
    return buy_ok("wx.qrcode")


def url(action, query, site=SITE):
    return "%s/api/%s/pay/%s?%s" % (STACK["ORDERPAY_URL"], site, action, query)


@pytest.mark.parametrize("action", ["check", "qr", "pay"])
def test_repeated_ticket_never_lets_bob_see_alices_order(alices, action):
    oid = alices["id"]
    # A ticket given twice is refused whichever comes first (review s30 Info 4: it was read
    # first-wins), so Bob's never counts for Alice's order, nor hers for his request.
    for query in ("ticket=%s&ticket=%s&id=%s" % (BOB, T, oid), "id=%s&ticket=%s&ticket=%s" % (oid, BOB, T),
                  "ticket=%s&ticket=%s&id=%s" % (T, BOB, oid)):
        expect(http("GET", url(action, query)), 400, "e.www.api.invalid.query",
               'argument "ticket" is given more than once')


@pytest.mark.parametrize("action", ["check", "qr", "pay"])
def test_repeated_id_is_refused_whichever_comes_first(alices, action):
    oid = alices["id"]
    for query in ("ticket=%s&id=nosuchorder&id=%s" % (T, oid), "ticket=%s&id=&id=%s" % (T, oid),
                  "ticket=%s&id=%s&id=%s" % (BOB, oid, oid), "ticket=%s&id=%s&id=%s" % (T, oid, oid)):
        expect(http("GET", url(action, query)), 400, "e.www.api.invalid.query", 'argument "id" is given more than once')


@pytest.mark.parametrize("tail", ["%", "%4", "%zz", "%%", "%G0", "%4g"])
@pytest.mark.parametrize("where", ["ticket", "id", "other"])
def test_broken_percent_escapes_are_invalid_query(alices, tail, where):
    query = {"ticket": "ticket=%s%s&id=%s" % (T, tail, alices["id"]),
             "id": "ticket=%s&id=%s%s" % (T, alices["id"], tail),
             "other": "ticket=%s&id=%s&x=%s" % (T, alices["id"], tail)}[where]
    for action in ("check", "qr", "pay"):
        expect(http("GET", url(action, query)), 400, "e.www.api.invalid.query")


# Named by what was done to the ticket: an id made of the ticket itself would differ between
# pytest-xdist's workers (each has a stack and tickets of its own), which must collect the same tests.
@pytest.mark.parametrize("ticket", ["+" + T, T + "%20", T + "%0A", "%09" + T, T.lower() if T.lower() != T else T + "x",
                                    T[:-1], T + T],
                         ids=["plus_first", "space_after", "newline_after", "tab_first", "other_case",
                              "one_short", "twice"])
def test_a_ticket_that_is_almost_right_is_401(alices, ticket):
    for action in ("check", "qr", "pay"):
        expect(http("GET", url(action, "ticket=%s&id=%s" % (ticket, alices["id"]))), 401, "e.www.api.auth.nologin")


def test_expired_ticket_is_401_on_every_buyer_endpoint(alices):
    ticket = cli("ticket", "issue", "--account", STACK["DEMO_ACCOUNT"], "--ttl-hours", "1").stdout.strip()
    assert http("GET", url("check", "ticket=%s&id=%s" % (ticket, alices["id"])))[0] == 200
    psql("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE ticket_hash = decode('%s', 'hex')"
         % hashlib.sha256(ticket.encode()).hexdigest())
    for action in ("check", "check_order", "qr", "pay"):
        expect(http("GET", url(action, "ticket=%s&id=%s" % (ticket, alices["id"]))), 401, "e.www.api.auth.nologin")
    expect(buy_body(tea(), ticket=ticket), 401, "e.www.api.auth.nologin")


def test_ticket_valid_on_another_site_of_the_store_does_not_reach_this_sites_order(alices):
    # demo-v3 shares demo's account store: Alice is Alice there, but her demo order is not a
    # demo-v3 order, and must be answered as unknown on every buyer endpoint.
    site = STACK["DEMO_V3_SITE"]
    for action in ("check", "qr", "pay"):
        expect(http("GET", url(action, "ticket=%s&id=%s" % (T, alices["id"]), site=site)), 404, "e.io.obj.noexists")


def test_long_query_inside_8k_is_served(alices):
    st, body, raw, _ = http("GET", url("check", "ticket=%s&id=%s&pad=%s" % (T, alices["id"], "a" * 7000)))
    assert st == 200 and body["data"]["id"] == alices["id"], raw[:300]


@pytest.mark.parametrize("odd", ["a" * 32, "a" * 33, "0", "%2e%2e", "..", "a%2fb", "a%5cb", "a%27b", "a%22b",
                                 "a%3bselect", "%e2%80%8ba", "a%c2%a0", "a*", "a%25"])
def test_odd_order_ids_are_unknown_on_check_qr_pay(odd):
    for action in ("check", "qr", "pay"):
        expect(http("GET", url(action, "ticket=%s&id=%s" % (T, odd))), 404, "e.io.obj.noexists")


def test_other_buyers_paid_order_does_not_leak_through_qr_or_pay():
    from helpers import sim_pay, wait_state
    order = buy_ok("wx.qrcode")
    sim_pay(order["pay_id"])
    wait_state(order["id"], "OK")
    # For Alice it is 409 paid; for Bob exactly what an unknown id is.
    for action in ("qr", "pay"):
        expect(http("GET", url(action, "ticket=%s&id=%s" % (T, order["id"]))), 409, "e.www.order.paid")
        mine = expect(http("GET", url(action, "ticket=%s&id=%s" % (BOB, order["id"]))), 404, "e.io.obj.noexists")
        unknown = expect(http("GET", url(action, "ticket=%s&id=%s" % (BOB, "a" * 26))), 404, "e.io.obj.noexists")
        assert mine == unknown


# --- 5. idempotency ----------------------------------------------------------------------

def test_same_key_eight_in_parallel_one_order_every_reply_that_order():
    key = "par-" + uuid.uuid4().hex
    before = int(psql("SELECT count(*) FROM orders"))
    barrier = threading.Barrier(8)

    def one(_):
        barrier.wait()
        return buy_body(tea(2), headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(8)))
    assert [r[0] for r in results] == [200] * 8, [r[2][:200] for r in results]
    ids = {r[1]["data"]["id"] for r in results}
    assert len(ids) == 1
    assert int(psql("SELECT count(*) FROM orders")) == before + 1
    assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % ids.pop()) == "1"


def test_same_key_different_bodies_in_parallel_one_order_the_rest_409():
    key = "mix-" + uuid.uuid4().hex
    before = int(psql("SELECT count(*) FROM orders"))
    barrier = threading.Barrier(6)

    def one(i):
        barrier.wait()
        return buy_body(tea(i + 1), headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(6)))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] + [409] * 5, [r[2][:200] for r in results]
    assert all(r[1]["errCode"] == "e.www.api.idempotency_mismatch" for r in results if r[0] == 409)
    assert int(psql("SELECT count(*) FROM orders")) == before + 1


def test_key_of_another_buyer_is_independent_even_with_another_body():
    key = "shared-" + uuid.uuid4().hex
    a = ok(buy_body(tea(1), headers={"Idempotency-Key": key}))
    b = ok(buy_body(tea(4), ticket=BOB, headers={"Idempotency-Key": key}))
    assert a["id"] != b["id"] and b["buyer_id"] == STACK["DEMO_ACCOUNT_BOB"]
    # And Bob's reuse never hands Bob Alice's order, nor Alice Bob's.
    assert ok(buy_body(tea(4), ticket=BOB, headers={"Idempotency-Key": key}))["id"] == b["id"]
    assert ok(buy_body(tea(1), headers={"Idempotency-Key": key}))["id"] == a["id"]
    expect(buy_body(tea(4), headers={"Idempotency-Key": key}), 409, "e.www.api.idempotency_mismatch")


def test_header_key_and_body_key_name_the_same_slot():
    key = "hb-" + uuid.uuid4().hex
    first = ok(buy_body(tea(1, idempotency_key=key)))
    # The same key by header, with the same bytes, is the same request.
    again = ok(buy_body(tea(1, idempotency_key=key), headers={"Idempotency-Key": key}))
    assert again["id"] == first["id"]


def test_a_refused_first_try_leaves_the_key_free():
    pid = "idem-oos-" + uuid.uuid4().hex[:6]
    add_product(pid, stock=1)
    key = "oos-" + uuid.uuid4().hex
    expect(buy_body({"products": [{"id": pid, "amount": 2}], "pay_tp": "wx.qrcode"},
                    headers={"Idempotency-Key": key}), 409, "e.www.order.OutOfStore")
    order = ok(buy_body({"products": [{"id": pid, "amount": 1}], "pay_tp": "wx.qrcode"},
                        headers={"Idempotency-Key": key}))
    assert order["pro_c"] == 1 and stock(pid) == "0"


def test_key_older_than_24_hours_names_a_new_order():
    key = "old-" + uuid.uuid4().hex
    first = ok(buy_body(tea(1), headers={"Idempotency-Key": key}))
    psql("UPDATE orders SET ct = now() - interval '24 hours 1 minute' WHERE id = '%s'" % first["id"])
    second = ok(buy_body(tea(2), headers={"Idempotency-Key": key}))  # another body: no 409 any more
    assert second["id"] != first["id"]
    assert ok(buy_body(tea(2), headers={"Idempotency-Key": key}))["id"] == second["id"]


def test_retry_while_the_first_buy_is_still_at_the_provider_gets_the_same_order():
    # wx.scan 131...: the provider answers USERPAYING and orderpay polls, so the first request is
    # in flight for a while; a retry meanwhile must find that order, not make a second one.
    key = "inflight-" + uuid.uuid4().hex
    body = tea(1, pay_tp="wx.scan", auth_code="131000000000000001")
    before = int(psql("SELECT count(*) FROM orders"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(buy_body, body, T, {"Idempotency-Key": key})
        time.sleep(0.3)
        second = buy_body(body, headers={"Idempotency-Key": key})
        first = first.result()
    assert first[0] == 200 and second[0] == 200, (first[2][:200], second[2][:200])
    assert first[1]["data"]["id"] == second[1]["data"]["id"]
    assert int(psql("SELECT count(*) FROM orders")) == before + 1


# --- 6. stock under concurrency through the API ---------------------------------------------

def test_stock_of_one_several_buyers_in_parallel_exactly_one_wins():
    pid = "last-one-" + uuid.uuid4().hex[:6]
    add_product(pid, stock=1)
    tickets = [T, BOB] + [new_buyer()[1] for _ in range(4)]
    barrier = threading.Barrier(len(tickets))

    def one(ticket):
        barrier.wait()
        return buy_body({"products": [{"id": pid, "amount": 1}], "pay_tp": "wx.qrcode"}, ticket=ticket)

    with ThreadPoolExecutor(max_workers=len(tickets)) as pool:
        results = list(pool.map(one, tickets))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] + [409] * (len(tickets) - 1), [r[2][:200] for r in results]
    for r in results:
        if r[0] == 409:
            assert r[1]["errCode"] == "e.www.order.OutOfStore" and r[1]["data"] == {"product": pid}
    assert stock(pid) == "0"
    assert psql("SELECT count(*) FROM order_items WHERE product_id = '%s'" % pid) == "1"


def test_duplicate_lines_of_a_counted_product_are_taken_together():
    pid = "dup-cnt-" + uuid.uuid4().hex[:6]
    add_product(pid, stock=5)
    # 3 + 3 is 6 > 5: refused as a whole, nothing taken.
    refused(409, "e.www.order.OutOfStore",
            {"products": [{"id": pid, "amount": 3}, {"id": pid, "amount": 3}], "pay_tp": "wx.qrcode"})
    assert stock(pid) == "5"
    order = ok(buy_body({"products": [{"id": pid, "amount": 2}, {"id": TEA}, {"id": pid, "amount": 3}],
                         "pay_tp": "wx.qrcode"}))
    assert [(p["id"], p["amount"]) for p in order["products"]] == [(pid, 5), (TEA, 1)]
    assert stock(pid) == "0"


def test_two_scarce_products_bought_in_opposite_orders_exactly_one_wins():
    a, b = "pair-a-" + uuid.uuid4().hex[:6], "pair-b-" + uuid.uuid4().hex[:6]
    add_product(a, stock=1)
    add_product(b, stock=1)
    tickets = [T, BOB, new_buyer()[1], new_buyer()[1]]
    barrier = threading.Barrier(4)

    def one(i):
        pair = [{"id": a, "amount": 1}, {"id": b, "amount": 1}]
        barrier.wait()
        return buy_body({"products": pair if i % 2 else pair[::-1], "pay_tp": "wx.qrcode"}, ticket=tickets[i])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(4)))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 409, 409, 409], [r[2][:200] for r in results]
    assert stock(a) == "0" and stock(b) == "0"
    assert psql("SELECT count(DISTINCT order_id) FROM order_items WHERE product_id IN ('%s', '%s')" % (a, b)) == "1"


# --- 7. the demo checkout page ---------------------------------------------------------------

def test_demo_checkout_retry_after_a_lost_reply_does_not_buy_twice():
    """README: the demo calls pay/buy "with an Idempotency-Key per checkout", and checkout.js says
    "a retried buy finds the order the first one may have created". So when the first buy's reply
    is lost (the request reached the server, the browser saw a network error) and the buyer
    presses Buy again for the same cart, there must still be one order."""
    import cdp
    if not cdp.find_chromium():
        pytest.skip("chromium is not installed")
    try:
        b = cdp.Browser()
    except RuntimeError as e:
        pytest.skip("chromium cannot start here: %s" % e)
    try:
        b.navigate(STACK["ORDERPAY_URL"] + "/demo/")
        b.wait_for("document.querySelectorAll('#products input').length >= 2")
        # The first pay/buy reaches the server, but its reply is lost on the way back.
        b.evaluate("""(() => {
            const real = window.fetch; window.__keys = []; let lost = false;
            window.fetch = async (u, init) => {
                if (String(u).includes('/pay/buy')) {
                    window.__keys.push((init.headers || {})['Idempotency-Key']);
                    if (!lost) { lost = true; await real(u, init); throw new TypeError('Failed to fetch'); }
                }
                return real(u, init);
            };
            return true; })()""")
        b.type_into("#qty-demo-tea", "3")
        b.type_into("#qty-demo-cup", "0")
        before = int(psql("SELECT count(*) FROM orders WHERE buyer_id = '%s'" % STACK["DEMO_ACCOUNT"]))
        b.click("#buy")
        b.wait_for("!document.getElementById('error').hidden && !document.getElementById('buy').disabled")
        b.click("#buy")
        b.wait_for("!document.getElementById('pay').hidden", timeout=20)
        keys = b.evaluate("window.__keys")
        after = int(psql("SELECT count(*) FROM orders WHERE buyer_id = '%s'" % STACK["DEMO_ACCOUNT"]))
        assert after - before == 1, "the retried checkout made %d orders (keys sent: %s)" % (after - before, keys)
    finally:
        b.close()


# --- 8. pay/pay: concurrent re-asks -----------------------------------------------------------

def test_concurrent_forced_reissues_leave_one_live_slip_and_no_payable_stale_qr():
    """pay/pay with force=true (or another pt) closes the old slip at the provider, then issues a
    new one. Six at once, alternating providers: afterwards the order names exactly one live slip
    (WAIT, not superseded). A superseded slip still open at its provider (a close that reached
    the provider before the concurrent create did) must never have been shown to the buyer, and
    must stay queued for reconcile's close (st FAIL, closed_at unset)."""
    from conftest import sim
    for _round in range(3):
        order = buy_ok("wx.qrcode")
        barrier = threading.Barrier(6)

        def one(i):
            barrier.wait()
            return http("GET", url("pay", "ticket=%s&id=%s&force=true&pt=%s"
                                   % (T, order["id"], "wx.qrcode" if i % 2 else "zfb.qrcode")))

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(one, range(6)))
        assert all(r[0] in (200, 502) for r in results), [r[2][:200] for r in results]
        shown = {json.dumps((r[1].get("data") or {}).get("pay_re", {}).get("re_obj")) for r in results}
        rows = [line.split("|") for line in psql(
            "SELECT s.id, s.st, s.superseded, (s.id = o.pay_id), (s.closed_at IS NULL) FROM pay_slips s "
            "JOIN orders o ON o.id = s.order_id WHERE s.order_id = '%s' ORDER BY s.ct" % order["id"]).splitlines()]
        live = [r for r in rows if r[2] == "f"]
        assert len(live) == 1 and live[0][1] == "WAIT" and live[0][3] == "t", rows
        for slip_id, st, superseded, _, unconfirmed in rows:
            if superseded != "t":
                continue
            trade = (sim("/sim/trade", {"out_trade_no": slip_id}, method="GET")[1] or {}).get("data") or {}
            if trade.get("state") in (None, "CLOSED", "TRADE_CLOSED"):
                continue
            assert trade["state"] in ("NOTPAY", "NOT_SCANNED", "WAIT_BUYER_PAY"), (slip_id, trade, rows)
            assert st == "FAIL" and unconfirmed == "t", (slip_id, rows)
            qr = trade.get("code_url") or trade.get("qr_code")
            assert not qr or json.dumps(qr) not in shown, "a reply showed the QR of open, superseded slip %s" % slip_id


def test_ticket_of_another_account_store_gets_nil_buyer_id_and_no_order(alices):
    res = cli("store", "add", "probe-other-store", check=False)
    assert res.returncode == 0 or "exist" in (res.stdout + res.stderr), res.stderr
    name = "probe-eve-" + uuid.uuid4().hex[:6]
    cli("account", "add", name, "--store", "probe-other-store")
    ticket = cli("ticket", "issue", "--account", name).stdout.strip()
    for action in ("check", "qr", "pay"):
        body = expect(http("GET", url(action, "ticket=%s&id=%s" % (ticket, alices["id"]))), 400,
                      "e.www.order.nil.buyer_id")
        assert "data" not in body or not body["data"], body


def test_a_buy_that_fails_with_500_must_not_keep_the_last_unit():
    """The U+FFFF title case on a product with stock 1: whatever the answer, a buyer who got no
    order (no id in the reply) must not leave the last unit held by an order nobody can see."""
    pid = "last-ffff-" + uuid.uuid4().hex[:6]
    add_product(pid, stock=1)
    st, body, raw, _ = buy_body({"products": [{"id": pid}], "pay_tp": "wx.qrcode", "title": "tea \uffff"})
    if st == 200:
        assert body["data"]["products"][0]["id"] == pid
        return
    assert not (body.get("data") or {}).get("id")
    assert stock(pid) == "1", "reply %d %s, yet the stock is taken by order(s) %s" % (
        st, raw[:120], psql("SELECT string_agg(order_id || ':' || o.or_st, ',') FROM order_items i JOIN orders o "
                            "ON o.id = i.order_id WHERE i.product_id = '%s'" % pid))


def test_switching_such_an_order_to_wechat_with_pay_pay_never_500():
    # Alipay takes the U+FFFF title; switching the order to WeChat with pay/pay closes the Alipay
    # trade first, then must not answer 500 with the order left on a NEW slip nobody can pay.
    order = ok(buy_body(tea(title="tea \uffff", pay_tp="zfb.qrcode")))
    st, body, raw, _ = http("GET", url("pay", "ticket=%s&id=%s&pt=wx.qrcode" % (T, order["id"])))
    assert st != 500, raw
    assert st == 200 and body["data"]["pay_re"]["st"] == "WAIT", raw[:300]
