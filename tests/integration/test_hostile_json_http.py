"""Ambiguous requests a front end or an attacker can build, in JSON and in HTTP, that the other
probes (test_bad_input, test_hostile_buyer, test_hostile_transport, test_idempotent_buy,
test_api_errors) do not make: one request that could be read two ways must be read one way by
every part of orderpay (what is priced, stored, sent to the provider and compared for an
Idempotency-Key) or refused with a documented code, never 500.

What it proves, each against README's API section and the database (orders, order_items,
pay_slips, products.stock, refunds):

- the same HTTP field sent as two lines (Content-Type, Idempotency-Key) means what the same
  field sent as one comma-joined line (RFC 9110 5.3) means: refused (the first line alone used to
  win silently, and a retry with the second key bought twice);
- an Idempotency-Key header and an idempotency_key field that disagree are refused, so one
  checkout never buys twice (the field used to be dropped); a retry whose body means the same but
  differs in bytes is 409, not a second order; a key is per site;
- Content-Type spellings that are application/json are accepted, lists and look-alikes are 415,
  and a charset parameter never makes orderpay read anything but UTF-8 (RFC 8259 section 11);
- braces inside strings do not count toward the depth limit; the ticket counts only in the query
  string (not Authorization, a cookie, another header or the body);
- number spellings JSON does not have are invalid JSON, non-integer spellings of an amount are
  invalid.amount, and nothing is written for either;
- a product id spelled with escapes is the same product (merged, priced once, stock taken once);
  an id differing in case or spaces is another product; near-duplicate keys are unknown fields,
  refused by name;
- query parameters named like body fields do not reach pay/buy; pay/pay with `pt` or `force`
  twice reads one value for the reply and the database alike;
- percent-encoded, double-encoded, NUL, trailing-slash and upper-case paths get the documented
  404/400 and reach the same route as their decoded form;
- CORS preflights are 405 with Allow and no Access-Control-* grant, HEAD answers GET's headers;
- admin/refund refuses duplicate keys and takes another spelling of the same amount under one
  idempotency_key as the same refund.
"""

import contextlib
import json
import socket
import urllib.parse
import uuid

import pytest

import openapi_check
from conftest import STACK, api, cli, http, psql
from helpers import buy_ok, read_until_close, sim_pay, sim_trade, wait_state
from test_hostile_buyer import ok, tea

T = STACK["DEMO_TICKET"]
SITE = STACK["DEMO_SITE"]
TEA = STACK["DEMO_PRODUCT"]
URL = STACK["ORDERPAY_URL"]
API_PORT = int(STACK["API_PORT"])
JSON_CT = {"Content-Type": "application/json"}


def q(text):
    return "'" + text.replace("'", "''") + "'"


def counts():
    return psql("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items), "
                "(SELECT count(*) FROM pay_slips), (SELECT count(*) FROM refunds)")


def order_count():
    return int(psql("SELECT count(*) FROM orders"))


def post_buy(body, headers=None, ticket=T, site=None, params=None):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    hdrs = dict(JSON_CT)
    hdrs.update(headers or {})
    return api("POST", "buy", ticket=ticket, raw_body=body, headers=hdrs, site=site, params=params)


def expect(resp, status, code):
    st, body, raw, _ = resp
    assert st == status, raw[:400]
    assert body is not None and body["ok"] is False and body["errCode"] == code, raw[:400]
    return body


def new_product(stock=None, price="2.00"):
    pid = "hjh-" + uuid.uuid4().hex[:10]
    args = ["product", "add", pid, "--site", SITE, "--title", "probe " + pid, "--price", price]
    if stock is not None:
        args += ["--stock", str(stock)]
    cli(*args)
    return pid


def stock(pid):
    return int(psql("SELECT stock FROM products WHERE site_id = %s AND id = %s" % (q(SITE), q(pid))))


def raw_request(method, target, header_lines=b"", body=b"", validate_as=None):
    """One request over a raw socket (so a header can be sent twice); returns (status, headers,
    parsed JSON or None, raw body), the reply validated against api/openapi.yaml (as a reply to
    `validate_as`, the target nginx routes, when the target is spelled with dot segments)."""
    data = (method.encode() + b" " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + header_lines + (b"Content-Length: %d\r\n" % len(body) if body else b"") + b"\r\n" + body)
    with socket.create_connection(("127.0.0.1", API_PORT), timeout=30) as s:
        s.sendall(data)
        out = read_until_close(s)
    head, _, payload = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    openapi_check.check_reply(method, validate_as or target, status, hdrs, payload)
    parsed = None
    if payload:
        with contextlib.suppress(ValueError):
            parsed = json.loads(payload)
    return status, hdrs, parsed, payload


BUY_TARGET = "/api/%s/pay/buy?ticket=%s" % (SITE, T)


# --- 1. one HTTP field sent as two lines ---------------------------------------------------

def test_content_type_as_a_comma_list_on_one_line_is_415():
    before = counts()
    expect(post_buy(tea(), {"Content-Type": "application/json, text/plain"}), 415,
           "e.www.api.unsupported_media_type")
    assert counts() == before


def test_content_type_sent_twice_is_not_taken_as_json():
    before = counts()
    body = json.dumps(tea()).encode()
    st, _, parsed, raw = raw_request("POST", BUY_TARGET,
                                     b"Content-Type: application/json\r\nContent-Type: text/plain\r\n", body)
    assert st != 500, raw
    assert (st, parsed and parsed.get("errCode")) in (
        (415, "e.www.api.unsupported_media_type"), (400, "e.www.api.bad_request")), raw[:300]
    assert counts() == before


def test_idempotency_key_as_a_comma_list_on_one_line_is_invalid_field():
    before = counts()
    expect(post_buy(tea(), {"Idempotency-Key": "hjh-a1, hjh-b2"}), 400, "e.www.order.invalid.field")
    assert counts() == before


def test_idempotency_key_sent_twice_is_refused():
    k1, k2 = "hjh-a-" + uuid.uuid4().hex[:10], "hjh-b-" + uuid.uuid4().hex[:10]
    body = json.dumps(tea()).encode()
    before = counts()
    st, _, parsed, raw = raw_request(
        "POST", BUY_TARGET,
        b"Content-Type: application/json\r\nIdempotency-Key: %s\r\nIdempotency-Key: %s\r\n" % (k1.encode(), k2.encode()),
        body)
    assert st != 500, raw
    assert st == 400 and parsed["errCode"] == "e.www.order.invalid.field", raw[:300]
    # Said as what it is, even for the same valid key twice (review s25-newuser #7).
    assert parsed["msg"] == "Idempotency-Key sent more than once: send it once", raw[:300]
    st, _, parsed, raw = raw_request(
        "POST", BUY_TARGET,
        b"Content-Type: application/json\r\nIdempotency-Key: %s\r\nIdempotency-Key: %s\r\n" % (k1.encode(), k1.encode()),
        body)
    assert st == 400 and parsed["msg"] == "Idempotency-Key sent more than once: send it once", raw[:300]
    assert counts() == before


def test_header_key_and_field_key_that_differ_never_buy_twice():
    k1, k2 = "hjh-h-" + uuid.uuid4().hex[:10], "hjh-f-" + uuid.uuid4().hex[:10]
    body = json.dumps(tea(idempotency_key=k2))
    before = order_count()
    st, parsed, raw, _ = post_buy(body, {"Idempotency-Key": k1})
    assert st == 400 and parsed["errCode"] == "e.www.order.invalid.field", raw
    assert "differ" in parsed["msg"], raw
    assert order_count() == before
    # The same key in both is one key: one order, and the retry without the header finds it.
    body = json.dumps(tea(idempotency_key=k2))
    first = ok(post_buy(body, {"Idempotency-Key": k2}))
    again = ok(post_buy(body))
    assert again["id"] == first["id"], "the same checkout made two orders"
    assert order_count() == before + 1


# --- 2. idempotency: bytes, meaning, site ----------------------------------------------------

def test_retry_with_the_same_meaning_in_other_bytes_is_409_not_a_second_order():
    key = "hjh-bytes-" + uuid.uuid4().hex[:10]
    first_body = '{"products":[{"id":"%s","amount":2}],"pay_tp":"wx.qrcode"}' % TEA
    first = ok(post_buy(first_body, {"Idempotency-Key": key}))
    before = counts()
    for other in ['{"pay_tp":"wx.qrcode","products":[{"amount":2,"id":"%s"}]}' % TEA,  # key order
                  '{"products": [{"id": "%s", "amount": 2}], "pay_tp": "wx.qrcode"}' % TEA,  # spaces
                  '{"products":[{"id":"%s","amount":2}],"pay_tp":"wx.qrcode","note":null}' % TEA,  # null: not given
                  '{"products":[{"id":"%s","amount":2}],"pay_tp":"wx\\u002eqrcode"}' % TEA]:  # an escape
        expect(post_buy(other, {"Idempotency-Key": key}), 409, "e.www.api.idempotency_mismatch")
    assert counts() == before
    assert ok(post_buy(first_body, {"Idempotency-Key": key}))["id"] == first["id"]
    assert counts() == before


def test_a_key_used_on_one_site_never_answers_that_order_on_another():
    key = "hjh-site-" + uuid.uuid4().hex[:10]
    body = tea()
    a = ok(post_buy(body, {"Idempotency-Key": key}))
    st, parsed, raw, _ = post_buy(body, {"Idempotency-Key": key}, site=STACK["DEMO_V3_SITE"])
    assert st in (200, 409), raw
    if st == 200:
        b = parsed["data"]
        assert b["id"] != a["id"]
        assert psql("SELECT site_id FROM orders WHERE id = %s" % q(b["id"])) == STACK["DEMO_V3_SITE"]
    assert psql("SELECT site_id FROM orders WHERE id = %s" % q(a["id"])) == SITE


# --- 3. media type and charset ---------------------------------------------------------------

@pytest.mark.parametrize("ctype", ["application/json;charset=utf-8", 'application/json ; charset="UTF-8"',
                                   "APPLICATION/JSON", "application/json;", "application/json\t; q=1"])
def test_spellings_of_application_json_are_accepted_once(ctype):
    before = order_count()
    order = ok(post_buy(tea(), {"Content-Type": ctype}))
    assert order["or_st"] == "WT" and order["pro_c"] == 1
    assert order_count() == before + 1


@pytest.mark.parametrize("ctype", ["text/json", "application/vnd.api+json", "application/json, text/plain",
                                   "application/jsonx; charset=utf-8", "text/plain; type=application/json"])
def test_look_alikes_of_application_json_are_415(ctype):
    before = counts()
    expect(post_buy(tea(), {"Content-Type": ctype}), 415, "e.www.api.unsupported_media_type")
    assert counts() == before


@pytest.mark.parametrize("charset, encoded", [
    ("iso-8859-1", lambda s: s.encode("latin-1")),
    ("utf-16", lambda s: s.encode("utf-16")),
    ("utf-16le", lambda s: s.encode("utf-16-le")),
])
def test_a_declared_non_utf8_charset_is_never_transcoded(charset, encoded):
    text = '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","title":"caf\u00e9"}' % TEA
    before = counts()
    expect(post_buy(encoded(text), {"Content-Type": "application/json; charset=" + charset}), 400,
           "e.www.api.invalid.encoding")
    assert counts() == before


def test_utf8_bytes_under_a_latin1_label_are_read_as_utf8():
    # RFC 8259 section 11: the charset parameter has no effect; the bytes are UTF-8.
    text = '{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","title":"caf\u00e9"}' % TEA
    order = ok(post_buy(text.encode("utf-8"), {"Content-Type": "application/json; charset=iso-8859-1"}))
    assert order["title"] == "caf\u00e9"
    assert psql("SELECT title FROM orders WHERE id = %s" % q(order["id"])) == "caf\u00e9"


def test_brackets_inside_strings_do_not_count_toward_the_depth_limit():
    # The depth pre-scan skips string contents, escaped quotes and backslashes included.
    note = '\\"' + "[{" * 40 + '\\\\' + "]}" * 3
    order = ok(post_buy('{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","note":"%s","address":"%s"}'
                        % (TEA, note, "[" * 200)))
    assert order["note"] == json.loads('"%s"' % note) and order["address"] == "[" * 200
    # ...but real nesting behind such a string still counts.
    before = counts()
    expect(post_buy('{"products":[{"id":"%s"}],"pay_tp":"wx.qrcode","note":"\\"]]]]]]]]","x":%s%s}'
                    % (TEA, "[" * 16, "]" * 16)), 400, "e.www.api.invalid.json")
    assert counts() == before


@pytest.mark.parametrize("where", ["authorization", "x-ticket", "cookie", "body"])
def test_the_ticket_counts_only_in_the_query_string(where):
    headers = {"authorization": {"Authorization": "Bearer " + T}, "x-ticket": {"X-Ticket": T, "Ticket": T},
               "cookie": {"Cookie": "ticket=" + T}, "body": {}}[where]
    body = tea(ticket=T) if where == "body" else tea()
    before = counts()
    st, parsed, raw, _ = api("POST", "buy", raw_body=json.dumps(body), headers=dict(JSON_CT, **headers))
    assert st == 401 and parsed["errCode"] == "e.www.api.auth.nologin", raw[:300]
    assert counts() == before
    order = buy_ok("wx.qrcode")
    st, parsed, raw, _ = api("GET", "check", params={"id": order["id"]}, headers=headers)
    assert st == 401 and parsed["errCode"] == "e.www.api.auth.nologin", raw[:300]


# --- 4. number spellings for amount ------------------------------------------------------------

@pytest.mark.parametrize("amount, code", [
    ("+1", "e.www.api.invalid.json"), ("0x1", "e.www.api.invalid.json"), ("01", "e.www.api.invalid.json"),
    ("00", "e.www.api.invalid.json"), (".5", "e.www.api.invalid.json"), ("1.", "e.www.api.invalid.json"),
    ("Infinity", "e.www.api.invalid.json"), ("-", "e.www.api.invalid.json"), ("1_0", "e.www.api.invalid.json"),
    ("1e-400", "e.www.order.invalid.amount"), ("-0.0", "e.www.order.invalid.amount"),
    ("0e0", "e.www.order.invalid.amount"), ("1E0", "e.www.order.invalid.amount"),
    ("1.00000000000000000001", "e.www.order.invalid.amount"),
])
def test_number_spellings_of_amount(amount, code):
    before = counts()
    expect(post_buy('{"products":[{"id":"%s","amount":%s}],"pay_tp":"wx.qrcode"}' % (TEA, amount)), 400, code)
    assert counts() == before


# --- 5. product ids and keys that look alike -------------------------------------------------

def escaped(pid):
    """pid with every letter written as a \\u escape: the same string once decoded."""
    return "".join("\\u%04x" % ord(c) if c.isalpha() else c for c in pid)


def test_an_escape_spelled_product_id_is_the_same_product_merged_and_stocked_once():
    pid = new_product(stock=3, price="2.00")
    before = counts()
    expect(post_buy('{"products":[{"id":"%s","amount":2},{"id":"%s","amount":2}],"pay_tp":"wx.qrcode"}'
                    % (pid, escaped(pid))), 409, "e.www.order.OutOfStore")
    assert counts() == before and stock(pid) == 3
    order = ok(post_buy('{"products":[{"id":"%s","amount":1},{"id":"%s","amount":2}],"pay_tp":"wx.qrcode"}'
                        % (escaped(pid), pid)))
    assert [(p["id"], p["amount"]) for p in order["products"]] == [(pid, 3)]
    assert order["total"] == 6.0 and order["fee"] == 6.0 and order["pro_c"] == 3
    assert stock(pid) == 0
    assert psql("SELECT count(*), sum(amount) FROM order_items WHERE order_id = %s" % q(order["id"])) == "1|3"
    assert psql("SELECT amount FROM pay_slips WHERE id = %s" % q(order["pay_id"])) == "600"
    assert sim_trade(order["pay_id"])["total_fee"] == 600  # what the provider was asked for


@pytest.mark.parametrize("variant", [str.upper, lambda p: " " + p, lambda p: p + " ", lambda p: p + "\t",
                                     lambda p: p.replace("-", "\u2010")])
def test_an_id_differing_in_case_or_spaces_is_another_product(variant):
    pid = new_product(stock=5)
    other = variant(pid)
    before = counts()
    st, body, raw, _ = post_buy({"products": [{"id": pid, "amount": 1}, {"id": other, "amount": 1}],
                                 "pay_tp": "wx.qrcode"})
    assert st == 404 and body["errCode"] == "e.io.obj.noexists", raw
    assert other in body["msg"]
    assert counts() == before and stock(pid) == 5


def test_near_duplicate_keys_are_unknown_fields_and_change_nothing():
    # Refused by name (they used to be ignored): a near-duplicate is the client's mistake, and the
    # buy it meant is not guessed at.
    pid = new_product(stock=4, price="3.00")
    before = counts()
    body = ('{"products":[{"id":"%s","amount":1}],"Products":[{"id":"%s","amount":3}],"products ":[],'
            '"pay_tp":"wx.qrcode","Pay_tp":"zfb.qrcode","PAY_TP":"paypal","pay_tp ":"zfb.qrcode",'
            '"fee":0.01,"total":0.01,"currency":"USD"}' % (pid, pid))
    assert expect(post_buy(body), 400, "e.www.order.invalid.field")["msg"] == "unknown field Products"
    for near in ("Amount", "amount ", "quantity", "price"):
        body = '{"products":[{"id":"%s","amount":1,"%s":3}],"pay_tp":"wx.qrcode"}' % (pid, near)
        assert expect(post_buy(body), 400, "e.www.order.invalid.field")["msg"] == \
            "unknown field products[0]." + near
    assert counts() == before and stock(pid) == 4
    order = ok(post_buy('{"products":[{"id":"%s","amount":1}],"pay_tp":"wx.qrcode"}' % pid))
    assert [(p["id"], p["amount"]) for p in order["products"]] == [(pid, 1)]
    assert order["pay_tp"] == "wx.qrcode" and order["fee"] == 3.0 and order["currency"] == "CNY"
    assert stock(pid) == 3


# --- 6. the query string -----------------------------------------------------------------------

def test_query_parameters_named_like_body_fields_do_not_reach_pay_buy():
    pid = new_product(stock=2)
    key = "hjh-q-" + uuid.uuid4().hex[:10]
    before = order_count()
    params = [("pay_tp", "zfb.qrcode"), ("products", TEA), ("amount", "2"), ("idempotency_key", key),
              ("tp", "Q"), ("title", "from the query")]
    order = ok(post_buy({"products": [{"id": pid}], "pay_tp": "wx.qrcode"}, params=params))
    assert order["pay_tp"] == "wx.qrcode" and order["tp"] == "A" and order["title"] != "from the query"
    assert [(p["id"], p["amount"]) for p in order["products"]] == [(pid, 1)]
    assert stock(pid) == 1
    # The query's idempotency_key is no key: the same request again is another order.
    again = ok(post_buy({"products": [{"id": pid}], "pay_tp": "wx.qrcode"}, params=params))
    assert again["id"] != order["id"] and stock(pid) == 0
    assert order_count() == before + 2


def slips(order_id):
    return psql("SELECT pay_tp || ':' || st FROM pay_slips WHERE order_id = %s ORDER BY ct, id" % q(order_id))


def test_pt_twice_on_pay_pay_is_refused_and_changes_nothing():
    # Review s30 Info 4: it was read as one value everywhere (first-wins); now refused, naming pt.
    order = buy_ok("wx.qrcode")
    before = slips(order["id"])
    st, body, raw, _ = api("GET", "pay", ticket=T, params=[("id", order["id"]), ("pt", "zfb.qrcode"),
                                                            ("pt", "wx.qrcode")])
    assert st == 400 and body["errCode"] == "e.www.api.invalid.query", raw
    assert body["msg"] == 'argument "pt" is given more than once', raw
    assert slips(order["id"]) == before


def test_force_twice_on_pay_pay_is_refused_and_changes_nothing():
    order = buy_ok("wx.qrcode")
    base = "%s/api/%s/pay/pay?ticket=%s&id=%s" % (URL, SITE, T, order["id"])
    before = slips(order["id"])
    for tail in ("&force=false&force=true", "&force=true&force=false", "&force=true&%66orce=true"):
        st, body, raw, _ = http("GET", base + tail)
        assert st == 400 and body["errCode"] == "e.www.api.invalid.query", raw
        assert body["msg"] == 'argument "force" is given more than once', raw
    assert slips(order["id"]) == before


@pytest.mark.parametrize("value", ["TRUE", "True", "yes", "on", "2", " true", "true ", "-1", "tru"])
def test_force_that_is_not_true_or_false_is_refused_and_issues_nothing(value):
    # Once read as false: the caller believed it had asked for a new code and kept the old one.
    order = buy_ok("wx.qrcode")
    before = slips(order["id"])
    st, body, raw, _ = http("GET", "%s/api/%s/pay/pay?ticket=%s&id=%s&force=%s"
                            % (URL, SITE, T, order["id"], urllib.parse.quote(value)))
    assert st == 400, raw
    assert body["errCode"] == "e.www.order.invalid.field" and "force" in body["msg"], raw
    assert slips(order["id"]) == before


@pytest.mark.parametrize("value,new_slip", [("", False), ("0", False), ("false", False),
                                            ("1", True), ("true", True)])
def test_force_spellings_that_are_read(value, new_slip):
    order = buy_ok("wx.qrcode")
    before = slips(order["id"])
    st, body, raw, _ = http("GET", "%s/api/%s/pay/pay?ticket=%s&id=%s&force=%s"
                            % (URL, SITE, T, order["id"], value))
    assert st == 200, raw
    after = slips(order["id"])
    assert len(after.splitlines()) == len(before.splitlines()) + (1 if new_slip else 0)
    assert body["data"]["pay_id"] == psql("SELECT pay_id FROM orders WHERE id = %s" % q(order["id"]))

# --- 7. path spellings ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mine():
    return buy_ok("wx.qrcode")


@pytest.mark.parametrize("path", ["/api/d%65mo/pay/ch%65ck", "/api/demo%2Fpay%2Fcheck", "/api/demo//pay/check",
                                  "/api/demo/pay/./check", "/api/x/../demo/pay/check"])
def test_encoded_or_dotted_paths_reach_the_route_they_decode_to(mine, path):
    # nginx decodes and normalises the path ($uri) before orderpayd routes on it, and its
    # locations match the same normalised path, so these are pay/check for every part.
    query = "?ticket=%s&id=%s" % (T, mine["id"])
    st, _, body, raw = raw_request("GET", path + query, validate_as="/api/%s/pay/check%s" % (SITE, query))
    assert st == 200 and body["data"]["id"] == mine["id"], raw[:300]


@pytest.mark.parametrize("path, status, code", [
    ("/api/de%252Fmo/pay/check", 404, "e.www.site.noexists"),
    ("/api/de%2500mo/pay/check", 404, "e.www.site.noexists"),
    ("/api/DEMO/pay/check", 404, "e.www.site.noexists"),
    ("/api/demo/pay/check/", 404, "e.www.api.noexists"),
    ("/api/demo/pay/CHECK", 404, "e.www.api.noexists"),
    ("/api/demo/PAY/check", 404, "e.www.api.noexists"),
    ("/api/demo/pay/check;id=x", 404, "e.www.api.noexists"),
    ("/api/demo/pay/check%2F", 404, "e.www.api.noexists"),
    ("/api/demo/pay/Buy", 404, "e.www.api.noexists"),
    ("/api/de%00mo/pay/check", 400, "e.www.api.bad_request"),
    ("/api/demo/pay/check%00", 400, "e.www.api.bad_request"),
])
def test_odd_path_spellings_get_their_documented_error(mine, path, status, code):
    before = counts()
    st, _, parsed, raw = raw_request("GET", "%s?ticket=%s&id=%s" % (path, T, mine["id"]))
    assert st == status and parsed["errCode"] == code, raw[:300]
    assert mine["id"].encode() not in raw
    assert counts() == before


def test_upper_case_buy_path_writes_nothing():
    before = counts()
    for path in ("/api/demo/pay/BUY", "/api/demo/PAY/buy", "/api/demo/pay/buy/"):
        st, _, parsed, raw = raw_request("POST", "%s?ticket=%s" % (path, T), b"Content-Type: application/json\r\n",
                                         json.dumps(tea()).encode())
        assert st == 404 and parsed["errCode"] == "e.www.api.noexists", raw[:300]
    assert counts() == before


# --- 8. CORS preflight and HEAD -----------------------------------------------------------------

PREFLIGHT = (b"Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n"
             b"Access-Control-Request-Headers: content-type, idempotency-key\r\n")


@pytest.mark.parametrize("route, allow", [
    ("pay/buy", "POST"), ("pay/check", "GET, HEAD"), ("pay/check_order", "GET, HEAD"),
    ("pay/pay", "GET"), ("pay/qr", "GET, HEAD"), ("admin/refund", "POST"), ("admin/order", "GET, HEAD"),
])
def test_cors_preflight_grants_nothing(mine, route, allow):
    before = counts()
    st, hdrs, parsed, raw = raw_request("OPTIONS", "/api/%s/%s?ticket=%s&id=%s" % (SITE, route, T, mine["id"]),
                                        PREFLIGHT)
    assert st == 405 and parsed["errCode"] == "e.www.api.method", raw[:300]
    assert hdrs.get("allow") == allow
    assert not [h for h in hdrs if h.startswith("access-control-")], hdrs
    assert counts() == before


def test_cross_origin_get_gets_no_cors_grant(mine):
    st, hdrs, parsed, raw = raw_request("GET", "/api/%s/pay/check?ticket=%s&id=%s" % (SITE, T, mine["id"]),
                                        b"Origin: https://evil.example\r\n")
    assert st == 200 and parsed["data"]["id"] == mine["id"]
    assert not [h for h in hdrs if h.startswith("access-control-")], hdrs


def test_head_answers_gets_status_and_headers_without_a_body(mine):
    for action in ("check", "check_order", "qr"):
        target = "/api/%s/pay/%s?ticket=%s&id=%s" % (SITE, action, T, mine["id"])
        g_st, g_hdrs, _, g_raw = raw_request("GET", target)
        h_st, h_hdrs, _, h_raw = raw_request("HEAD", target)
        assert h_raw == b"" and h_st == g_st, (action, g_raw[:200])
        assert h_hdrs.get("content-type") == g_hdrs.get("content-type")
        if action == "qr":
            assert h_hdrs.get("etag") == g_hdrs.get("etag") and h_hdrs.get("etag")


def test_head_never_runs_a_get_that_changes_something():
    """HTTP calls HEAD safe, so link checkers and previewers send it freely: a HEAD of pay/pay
    switching to another pay type closed the live code and issued a new slip (review s30-attack
    L1). It is 405 with Allow: GET, nothing changed; the returns' GETs (a PayPal capture) too."""
    order = buy_ok("wx.qrcode")
    slips = "SELECT string_agg(pay_tp || ':' || st, ',' ORDER BY ct, id) FROM pay_slips WHERE order_id = '%s'" % order["id"]
    before = psql(slips)
    st, hdrs, _, raw = raw_request("HEAD", "/api/%s/pay/pay?ticket=%s&id=%s&pt=zfb.qrcode" % (SITE, T, order["id"]))
    assert st == 405 and raw == b"" and hdrs.get("allow") == "GET", (st, hdrs)
    for ret in ("re_paypal?token=5O190127TN364715T&PayerID=X", "re_zfb?out_trade_no=%s" % order["pay_id"]):
        st, hdrs, _, _ = raw_request("HEAD", "/api/%s/pay/%s" % (SITE, ret))
        assert st == 405 and hdrs.get("allow") == "GET, POST", (ret, st, hdrs)
    assert psql(slips) == before
    # The GET itself still switches.
    st, _, parsed, raw = raw_request("GET", "/api/%s/pay/pay?ticket=%s&id=%s&pt=zfb.qrcode" % (SITE, T, order["id"]))
    assert st == 200 and parsed["data"]["pay_tp"] == "zfb.qrcode", raw[:300]
    assert psql(slips) != before


# --- 9. admin/refund -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paid_and_key():
    order = buy_ok("wx.qrcode")
    sim_pay(order["pay_id"])
    assert wait_state(order["id"], "OK")["or_st"] == "OK"
    key = cli("apikey", "issue", "--site", SITE).stdout.strip()
    return order, key


def refund(key, body):
    return http("POST", "%s/api/%s/admin/refund" % (URL, SITE), body.encode(),
                {"Authorization": "Bearer " + key, "Content-Type": "application/json"})


@pytest.mark.parametrize("template", [
    '{"order":"%(o)s","amount":"1.00","amount":"25.00","reason":"r","idempotency_key":"%(k)s"}',
    '{"order":"%(o)s","order":"%(o)s","reason":"r","idempotency_key":"%(k)s"}',
    '{"order":"%(o)s","amount":"1.00","reason":"r","idempotency_key":"%(k)s","idempotency_key":"%(k)s-2"}',
    '{"order":"%(o)s","amount":"1.00","reason":"r","re\\u0061son":"s","idempotency_key":"%(k)s"}',
])
def test_admin_refund_with_a_key_twice_is_invalid_json_and_refunds_nothing(paid_and_key, template):
    order, key = paid_and_key
    before = counts()
    st, body, raw, _ = refund(key, template % {"o": order["id"], "k": "hjh-r-" + uuid.uuid4().hex[:10]})
    assert st == 400 and body["errCode"] == "e.www.api.invalid.json", raw[:300]
    assert counts() == before


def test_admin_refund_amount_in_other_spellings_under_one_key_is_one_refund(paid_and_key):
    order, key = paid_and_key
    ik = "hjh-r-" + uuid.uuid4().hex[:10]
    rows_before = int(psql("SELECT count(*) FROM refunds WHERE order_id = %s" % q(order["id"])))
    st, body, raw, _ = refund(key, '{"order":"%s","amount":"1.00","reason":"r","idempotency_key":"%s"}'
                              % (order["id"], ik))
    assert st == 200, raw[:300]
    rid = body["data"]["refund"]["id"]
    for amount in ('1', '1.0', '"1"', '"1.0"', '1.00'):
        st, body, raw, _ = refund(key, '{"idempotency_key":"%s","reason":"r","amount":%s,"order":"%s"}'
                                  % (ik, amount, order["id"]))
        assert st == 200 and body["data"]["refund"]["id"] == rid and body["data"]["refund"]["replay"] is True, \
            (amount, raw[:300])
    for amount in ('"1.01"', '2', '"0.99"'):
        st, body, raw, _ = refund(key, '{"order":"%s","amount":%s,"reason":"r","idempotency_key":"%s"}'
                                  % (order["id"], amount, ik))
        assert st == 409 and body["errCode"] == "e.www.api.idempotency_mismatch", (amount, raw[:300])
    assert int(psql("SELECT count(*) FROM refunds WHERE order_id = %s" % q(order["id"]))) == rows_before + 1
    assert psql("SELECT amount FROM refunds WHERE id = %s" % q(rid)) == "100"
