"""A query argument given twice is refused, never read first-wins (review s30, Info item 4):
`pay/check?id=A&id=B`, `?ticket=bad&ticket=good`, every GET of pay/* and admin/*, and a browser
return's arguments (Alipay's signed ones, PayPal's token) answer 400 e.www.api.invalid.query
naming the argument. Names are compared decoded ("i%64" is "id") and case-sensitively ("ID" is
another name, which nothing reads); an argument without a name is refused, empty segments are
none; more than 256 arguments are refused. A signed Alipay form with a repeated key is refused
("fail"), its stored reason naming the key."""

import urllib.parse

import pytest

from conftest import STACK, cli, http, psql
from helpers import buy_ok
from test_hostile_notify import slip, verdicts, zfb_form
from test_provider_binding import post_zfb

SITE = STACK["DEMO_SITE"]
TICKET = STACK["DEMO_TICKET"]
BOB = STACK["DEMO_TICKET_BOB"]


def url(area, action, query, site=SITE):
    return "%s/api/%s/%s/%s?%s" % (STACK["ORDERPAY_URL"], site, area, action, query)


def q(*pairs):
    return urllib.parse.urlencode(pairs)


def refused(reply, name):
    st, body, raw, _ = reply
    assert st == 400 and body["errCode"] == "e.www.api.invalid.query", raw
    assert body["msg"] == 'argument "%s" is given more than once' % name, raw


@pytest.fixture(scope="module")
def order():
    return buy_ok("wx.qrcode")


@pytest.fixture(scope="module")
def admin_key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


def admin_get(action, query, key):
    return http("GET", url("admin", action, query), headers={"Authorization": "Bearer " + key})


# ---------------------------------------------------------------------------------------------
# pay/*


def test_check_with_two_ids_is_refused_whichever_comes_first(order):
    assert http("GET", url("pay", "check", q(("ticket", TICKET), ("id", order["id"]))))[0] == 200
    for ids in ((order["id"], "nosuchorder"), ("nosuchorder", order["id"]), (order["id"], order["id"])):
        refused(http("GET", url("pay", "check", q(("ticket", TICKET), ("id", ids[0]), ("id", ids[1])))), "id")
    refused(http("GET", url("pay", "check_order", q(("id", order["id"]), ("ticket", TICKET), ("id", "x")))), "id")


def test_two_tickets_are_refused_whichever_is_good(order):
    for tickets in (("bad", TICKET), (TICKET, "bad"), (TICKET, BOB), (TICKET, TICKET)):
        refused(http("GET", url("pay", "check", q(("ticket", tickets[0]), ("id", order["id"]), ("ticket", tickets[1])))),
                "ticket")


def test_a_percent_encoded_name_is_the_same_name(order):
    query = "ticket=%s&i%%64=%s&id=nosuchorder" % (TICKET, order["id"])
    refused(http("GET", url("pay", "check", query)), "id")
    query = "%%74icket=bad&ticket=%s&id=%s" % (TICKET, order["id"])
    refused(http("GET", url("pay", "check", query)), "ticket")
    query = "ticket=%s&id=%s&i+d=x&id%%5F=y" % (TICKET, order["id"])  # other names: read as none
    assert http("GET", url("pay", "check", query))[0] == 200


def test_a_name_in_another_case_is_another_name_nothing_reads(order):
    st, body, raw, _ = http("GET", url("pay", "check", q(("ticket", TICKET), ("id", order["id"]), ("ID", "x"),
                                                         ("Ticket", "bad"))))
    assert st == 200 and body["data"]["id"] == order["id"], raw


def test_an_argument_without_a_name_is_refused_and_empty_segments_are_none(order):
    for query in ("=x&ticket=%s&id=%s", "ticket=%s&id=%s&=", "ticket=%s&=&id=%s"):
        st, body, raw, _ = http("GET", url("pay", "check", query % (TICKET, order["id"])))
        assert st == 400 and body["errCode"] == "e.www.api.invalid.query", (query, raw)
        assert body["msg"] == "an argument has no name", raw
    for query in ("&&ticket=%s&&id=%s&", "ticket=%s&id=%s&&&"):
        st, _, raw, _ = http("GET", url("pay", "check", query % (TICKET, order["id"])))
        assert st == 200, (query, raw)


def test_at_most_256_arguments(order):
    pad = "&".join("p%d=1" % i for i in range(254))
    assert http("GET", url("pay", "check", "ticket=%s&id=%s&%s" % (TICKET, order["id"], pad)))[0] == 200
    st, body, raw, _ = http("GET", url("pay", "check", "ticket=%s&id=%s&%s&p254=1" % (TICKET, order["id"], pad)))
    assert st == 400 and body["errCode"] == "e.www.api.invalid.query", raw
    assert body["msg"] == "more than 256 arguments", raw
    # The query string as a whole: nginx's 8k request line.
    st, body, raw, _ = http("GET", url("pay", "check", "ticket=%s&id=%s&p=%s" % (TICKET, order["id"], "x" * 9000)))
    assert st == 414 and body["errCode"] == "e.www.api.uri_too_long", raw


def test_a_broken_escape_says_what_is_wrong(order):
    st, body, raw, _ = http("GET", url("pay", "check", "ticket=%s&id=%%zz" % TICKET))
    assert st == 400 and body["errCode"] == "e.www.api.invalid.query", raw
    assert body["msg"] == "a '%' is not followed by two hex digits", raw


def test_every_pay_get_refuses_a_repeat(order):
    refused(http("GET", url("pay", "qr", q(("ticket", TICKET), ("id", order["id"]), ("id", order["id"])))), "id")
    refused(http("GET", url("pay", "pay", q(("ticket", TICKET), ("id", order["id"]), ("pt", "wx.qrcode"),
                                            ("pt", "zfb.qrcode")))), "pt")
    refused(http("GET", url("pay", "pay", q(("ticket", TICKET), ("id", order["id"]), ("force", "false"),
                                            ("force", "true")))), "force")
    refused(http("GET", url("pay", "products", q(("limit", "1"), ("limit", "1000")))), "limit")
    refused(http("GET", url("pay", "products", q(("after", ""), ("after", "x")))), "after")
    # Nothing moved: the order still has its slip.
    assert slip(order["pay_id"])[0] == "WAIT"


# ---------------------------------------------------------------------------------------------
# admin/*


def test_every_admin_get_refuses_a_repeat(order, admin_key):
    assert admin_get("order", q(("id", order["id"])), admin_key)[0] == 200
    refused(admin_get("order", q(("id", order["id"]), ("id", "nosuchorder")), admin_key), "id")
    refused(admin_get("orders", q(("state", "WT"), ("state", "OK")), admin_key), "state")
    refused(admin_get("orders", q(("state", "WT"), ("limit", "1"), ("limit", "2")), admin_key), "limit")
    refused(admin_get("order", "id=%s&i%%64=x" % order["id"], admin_key), "id")


# ---------------------------------------------------------------------------------------------
# browser returns and notifications


def returns_stored():
    return int(psql("SELECT count(*) FROM notifications WHERE method = 'GET'"))


def test_an_alipay_return_with_a_repeated_signed_argument_is_refused_unstored():
    order = buy_ok("zfb.qrcode")
    signed = urllib.parse.urlencode(zfb_form(order["pay_id"], "25.00"))
    base = "%s/api/%s/pay/re_zfb?" % (STACK["ORDERPAY_URL"], SITE)
    st, body, raw, _ = http("GET", base + signed, headers={"Accept": "application/json"})
    assert st == 200 and body["data"]["verified"] is True, raw
    before = returns_stored()
    for extra, name in (("&total_amount=0.01", "total_amount"), ("&out_trade_no=X", "out_trade_no"),
                        ("&sign=AAAA", "sign"), ("&charset=latin1", "charset")):
        refused(http("GET", base + signed + extra, headers={"Accept": "application/json"}), name)
        refused(http("GET", base + extra[1:] + "&" + signed, headers={"Accept": "application/json"}), name)
    assert returns_stored() == before


@pytest.mark.skipif("DEMO_USD_SITE" not in STACK, reason="no PayPal site")
def test_a_paypal_return_with_two_tokens_is_refused():
    site = STACK["DEMO_USD_SITE"]
    for query in ("token=A&token=B", "token=A&PayerID=X&PayerID=Y", "token=A&%74oken=B"):
        name = "PayerID" if "PayerID=Y" in query else "token"
        refused(http("GET", "%s/api/%s/pay/re_paypal?%s" % (STACK["ORDERPAY_URL"], site, query),
                     headers={"Accept": "application/json"}), name)


def test_a_signed_alipay_notification_with_a_repeated_key_is_refused_naming_it():
    order = buy_ok("zfb.qrcode")
    p = zfb_form(order["pay_id"], "25.00")
    for extra, name in (("&total_amount=0.01", "total_amount"), ("&total%5Famount=25.00", "total_amount"),
                        ("&trade_status=TRADE_SUCCESS", "trade_status")):
        st, reply = post_zfb(urllib.parse.urlencode(p) + extra)
        assert (st, reply) == (200, "fail"), (extra, reply)
        verdict, reason = verdicts(order["pay_id"])[-1]
        assert verdict == "rejected" and 'parameter "%s" is given more than once' % name in reason, reason
    assert slip(order["pay_id"])[0] == "WAIT"
    # The same form once: settled.
    st, reply = post_zfb(urllib.parse.urlencode(p))
    assert (st, reply) == (200, "success")
