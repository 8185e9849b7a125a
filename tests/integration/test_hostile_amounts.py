"""Money amounts at and past every provider's limit (buy, notification, refund) on every demo provider path."""

import uuid

import pytest

from conftest import STACK, api, cli, psql, sim
from helpers import ensure_site, inbox, recorded, refund_rows, sim_pay, sim_trade
from test_hostile_buyer import counts
from test_hostile_notify import (paypal_webhook, post_paypal, post_zfb_params, slip, stock, v3_build, wx_fields,
                                 wx_xml, zfb_form)
from test_provider_binding import WX_FAIL_PREFIX, post_wx
from test_refund import admin

DEMO, V3, USD, JPY = STACK["DEMO_SITE"], STACK["DEMO_V3_SITE"], STACK["DEMO_USD_SITE"], "ha-jpy"
WX_MAX = 2147483647          # total_fee / amount.total is an Int of fen
ZFB_MAX = 100000000 * 100    # Alipay: 100000000.00 yuan, in fen
PP_MAX = 10 ** 10 - 1        # PayPal: at most 10 integer digits (USD: cents, so 9999999999.99)


@pytest.fixture(scope="module")
def keys():
    """An operator key per site, and a JPY site selling through PayPal (JPY has no minor unit)."""
    ensure_site(JPY, "--store", "demo-users", "--currency", "JPY")
    cli("seller", "set", "--site", JPY, "--prefix", "paypal", "--merchant", STACK["DEMO_PAYPAL_MERCHANT"])
    return {s: cli("apikey", "issue", "--site", s).stdout.strip() for s in (DEMO, V3, USD, JPY)}


def product(price, site=DEMO, stock_n=1000000):
    """A fresh product (fresh ids keep reruns on one stack independent), stock-managed."""
    pid = "ha-" + uuid.uuid4().hex[:10]
    cli("product", "add", pid, "--site", site, "--title", "probe " + pid, "--price", price, "--stock", str(stock_n))
    return pid


def buy(site, pay_tp, lines, **extra):
    body = dict({"products": [{"id": p, "amount": n} for p, n in lines], "pay_tp": pay_tp}, **extra)
    return api("POST", "buy", ticket=STACK["DEMO_TICKET"], site=site, json=body)


def bought(site, pay_tp, lines, fee_minor):
    st, body, raw, _ = buy(site, pay_tp, lines)
    assert st == 200, raw
    order = body["data"]
    assert order["or_st"] == "WT" and order["pay_re"]["st"] == "WAIT", order
    assert amounts(order["id"]) == [fee_minor, fee_minor], order
    return order


def refused_buy(site, pay_tp, lines, code="e.www.order.invalid.amount"):
    """A refused buy: the documented 400, no order, item or slip written, no stock taken."""
    before, stocks = counts(), [stock(p, site) for p, _ in lines]
    st, body, raw, _ = buy(site, pay_tp, lines)
    assert st == 400 and body["errCode"] == code, raw
    assert counts() == before and [stock(p, site) for p, _ in lines] == stocks, raw


def amounts(order_id):
    """[order fee, live slip amount] in minor units, from the database."""
    row = psql("SELECT o.fee, s.amount FROM orders o JOIN pay_slips s ON s.id = o.pay_id WHERE o.id = '%s'" % order_id)
    return [int(x) for x in row.split("|")]


def refund(keys, site, order_id, amount=None, idem=None):
    body = {"order": order_id, "reason": "probe", "idempotency_key": idem or uuid.uuid4().hex}
    if amount is not None:
        body["amount"] = amount
    return admin("POST", "refund", keys[site], body, site=site)


def refund_raw(keys, site, order_id, amount_text):
    """A refund whose amount is written into the JSON as is (bare numbers json.dumps never writes)."""
    raw = '{"order":"%s","reason":"probe","idempotency_key":"%s","amount":%s}' % (order_id, uuid.uuid4().hex,
                                                                                  amount_text)
    return admin("POST", "refund", keys[site], raw=raw.encode(), site=site)


def expect(resp, status, code):
    st, body, raw, _ = resp
    assert st == status and body["errCode"] == code, raw
    return body


def settle(order, fee_minor):
    sim_pay(order["pay_id"])
    assert slip(order["pay_id"])[0] == "OK" and slip(order["pay_id"])[3] == "OK"
    assert amounts(order["id"]) == [fee_minor, fee_minor]


def settled_by_notification_only_for_the_exact_amount(order, post_odd, odd_values):
    """Each signed notification of another amount is refused and leaves the slip WAIT, the order WT."""
    for value in odd_values:
        post_odd(value)
        row = slip(order["pay_id"])
        assert row[0] == "WAIT" and row[3] == "WT" and row[1] == "", (value, row)
        assert inbox(order["pay_id"])[-1][0] == "rejected", (value, inbox(order["pay_id"]))


# --------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize("site", [DEMO, V3])
def test_wechat_fee_at_total_fee_max_settles_refunds_exactly_and_one_fen_more_writes_nothing(keys, site):
    # 2147483.64 x 10 + 0.01 x 7 = 21474836.47 (2^31-1 fen): the cart multiplies up to the limit.
    big, cent = product("2147483.64", site, 100), product("0.01", site, 100)
    refused_buy(site, "wx.qrcode", [(big, 10), (cent, 8)])
    refused_buy(site, "wx.jsapi", [(big, 10), (cent, 8)])
    order = bought(site, "wx.qrcode", [(big, 10), (cent, 7)], WX_MAX)
    assert (stock(big, site), stock(cent, site)) == (90, 93)
    # One fen either side, and values that wrap a 32-bit int onto the order's (2^32 + 2^31 - 1).
    odd = ["2147483646", "2147483648", "4294967295", "6442450943", "-2147483649"]
    if site == DEMO:
        def post_odd(v):
            st, reply = post_wx(wx_xml(wx_fields(order["pay_id"], v, cash_fee=v)))
            assert st == 200 and reply.startswith(WX_FAIL_PREFIX), (v, reply)
    else:
        def post_odd(v):
            headers, body = v3_build(order["pay_id"], v)
            st, parsed, raw, _ = api("POST", "re_wx", raw_body=body.encode(), headers=headers, site=site)
            assert st == 400 and parsed["code"] == "FAIL", (v, raw)
    settled_by_notification_only_for_the_exact_amount(order, post_odd, odd)
    settle(order, WX_MAX)
    # Refunds: one fen past the payment is refused, all of it is asked (WeChat answers PROCESSING,
    # which already counts), then not one fen more.
    expect(refund(keys, site, order["id"], "21474836.48"), 409, "e.www.refund.too_much")
    st, body, raw, _ = refund(keys, site, order["id"], 21474836.47)
    assert st == 200 and body["data"]["refund"]["amount"] == 21474836.47, raw
    assert body["data"]["refund"]["st"] in ("PROCESSING", "OK"), raw
    expect(refund(keys, site, order["id"], "0.01"), 409, "e.www.refund.too_much")
    assert refund_rows(order["id"]) == 1 and recorded(order["id"], ("PROCESSING", "OK")) == WX_MAX
    if site == DEMO:
        st, sims, raw, _ = sim("/sim/wx/refunds", {"out_trade_no": order["pay_id"]}, method="GET")
        assert sims["data"]["refunded"] == WX_MAX, raw
    else:
        st, sims, raw, _ = sim("/sim/refunds", {"out_trade_no": order["pay_id"], "provider": "wx"}, method="GET")
        assert sims["data"]["refunded"] + sims["data"]["pending"] == WX_MAX, raw


def test_alipay_fee_at_its_max_settles_refunds_exactly_and_above_goes_nowhere(keys):
    # 10000.00 x 10000 (the per-line cap) is exactly Alipay's 100000000.00.
    big, cent = product("10000.00", DEMO, 20000), product("0.01", DEMO, 100)
    refused_buy(DEMO, "zfb.qrcode", [(big, 10000), (cent, 1)])
    refused_buy(DEMO, "wx.qrcode", [(big, 10000)])  # within Alipay's range, far past WeChat's
    order = bought(DEMO, "zfb.qrcode", [(big, 10000)], ZFB_MAX)
    assert stock(big) == 10000
    settled_by_notification_only_for_the_exact_amount(
        order, lambda v: post_zfb_params(zfb_form(order["pay_id"], v)),
        ["100000000.01", "99999999.99", "1e8", "1E8", "10000000000", "100000000.001"])
    settle(order, ZFB_MAX)
    expect(refund(keys, DEMO, order["id"], "100000000.01"), 409, "e.www.refund.too_much")
    st, body, raw, _ = refund(keys, DEMO, order["id"], 100000000)  # a whole JSON number of yuan
    assert st == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["order"]["or_st"] == "RF", raw
    expect(refund(keys, DEMO, order["id"], "0.01"), 409, "e.www.refund.too_much")
    assert refund_rows(order["id"]) == 1 and recorded(order["id"]) == ZFB_MAX
    assert sim_trade(order["pay_id"])["refund_fee"] == ZFB_MAX


@pytest.mark.parametrize("site, big_price, unit_price, fee_minor, big_value", [
    (USD, "99999999.99", "0.01", PP_MAX * 100 + 99, "9999999999.99"),
    (JPY, "99999999", "1", PP_MAX, "9999999999"),
])
def test_paypal_value_at_ten_integer_digits_settles_and_refunds_and_one_unit_more_is_refused(
        keys, site, big_price, unit_price, fee_minor, big_value):
    big, unit = product(big_price, site, 1000), product(unit_price, site, 1000)
    refused_buy(site, "paypal", [(big, 100), (unit, 100)])  # 10000000000(.00): eleven digits
    order = bought(site, "paypal", [(big, 100), (unit, 99)], fee_minor)
    one_less = "9999999999.98" if site == USD else "9999999998"
    one_more = "10000000000.00" if site == USD else "10000000000"

    def post_odd(v):
        value, currency = v
        headers, body = paypal_webhook(order["pay_id"], value, currency)
        assert post_paypal(headers, body, site=site) == 400, v
    # Another amount by one unit, and the right digits in another currency, never settle.
    other = "CNY" if site == USD else "USD"
    settled_by_notification_only_for_the_exact_amount(
        order, post_odd, [(one_less, order["currency"]), (one_more, order["currency"]), (big_value, other)])
    settle(order, fee_minor)
    expect(refund(keys, site, order["id"], one_more), 409, "e.www.refund.too_much")
    st, body, raw, _ = refund(keys, site, order["id"], big_value)
    assert st == 200 and body["data"]["refund"]["st"] == "OK" and body["data"]["order"]["or_st"] == "RF", raw
    assert refund_rows(order["id"]) == 1 and recorded(order["id"]) == fee_minor
    st, sims, raw, _ = sim("/sim/refunds", {"out_trade_no": order["pay_id"], "provider": "paypal"}, method="GET")
    assert sims["data"]["refunded"] == fee_minor and sims["data"]["refunds"][0]["value"] == big_value, raw


# --------------------------------------------------------------------------------------------- minimum


PATHS = [(DEMO, "wx.qrcode", "0.01"), (V3, "wx.qrcode", "0.01"), (DEMO, "zfb.qrcode", "0.01"),
         (USD, "paypal", "0.01"), (JPY, "paypal", "1")]
BAD_EVERYWHERE = ["0.001", 0.001, "1.001", "0.010", "5e-1", "1e0", "1E0", "+1", "1.", ".5", "0x1", "Infinity",
                  "NaN", " 1", "1 ", "\uff11", "-0", "-0.00", "0e0", "0", 0, 0.30000000000000004, -1, "-1", "1,0",
                  "1_0", "10" * 20]
BAD_RAW = ["-0", "-1", "0.0", "0e0", "-1e-2"]  # bare JSON numbers (more exponents below)
BAD_JPY = ["0.5", 0.5, "1.0", 1.0, "1.00", "0.01"]


@pytest.mark.parametrize("site, pay_tp, unit", PATHS)
def test_one_minor_unit_is_charged_and_refunds_past_the_exponent_write_nothing(keys, site, pay_tp, unit):
    pid = product(unit, site, 10)
    order = bought(site, pay_tp, [(pid, 1)], 1)
    settle(order, 1)
    bad = BAD_EVERYWHERE + (BAD_JPY if site == JPY else [])
    for amount in bad:
        expect(refund(keys, site, order["id"], amount), 400, "e.www.refund.invalid.amount")
    for text in BAD_RAW:
        expect(refund_raw(keys, site, order["id"], text), 400, "e.www.refund.invalid.amount")
    # One unit more than was paid, then a huge one: too much, not malformed.
    expect(refund(keys, site, order["id"], "2" if site == JPY else "0.02"), 409, "e.www.refund.too_much")
    expect(refund(keys, site, order["id"], "9999999999" if site == JPY else "9999999999.99"), 409,
           "e.www.refund.too_much")
    assert refund_rows(order["id"]) == 0
    st, body, raw, _ = refund(keys, site, order["id"], unit)
    assert st == 200 and body["data"]["refund"]["amount"] == float(unit), raw
    expect(refund(keys, site, order["id"], unit), 409, "e.www.refund.too_much")
    assert refund_rows(order["id"]) == 1


# A bare JSON number is read by the characters it is written in (http::NumberAsWritten): before,
# it went through a double and its shortest form, so these six were refunded as 1.00, 10.00, 0.50,
# 0.01, 5.00 and 7.50 while the same strings were refused.
@pytest.mark.parametrize("text", ["1e0", "1E1", "5e-1", "1e-2", "0.5e1", "7.5000000000000001"])
def test_refund_json_number_in_exponent_form_or_past_the_exponent_is_refused_and_writes_nothing(keys, text):
    order = bought(DEMO, "zfb.qrcode", [(product("25.00", DEMO, 10), 1)], 2500)
    settle(order, 2500)
    expect(refund_raw(keys, DEMO, order["id"], text), 400, "e.www.refund.invalid.amount")
    assert refund_rows(order["id"]) == 0 and sim_trade(order["pay_id"]).get("refund_fee", 0) == 0


def test_free_lines_ride_along_with_priced_ones_and_a_free_cart_is_refused_everywhere(keys):
    free, cent = product("0", DEMO, 5), product("0.01", DEMO, 5)
    for pay_tp in ("wx.qrcode", "zfb.qrcode"):
        refused_buy(DEMO, pay_tp, [(free, 3)])
    order = bought(DEMO, "zfb.qrcode", [(free, 2), (cent, 1)], 1)
    # The free units are taken from the shelf like any other, and the buyer pays 0.01 for all.
    assert (stock(free), stock(cent)) == (3, 4)
    assert [(p["id"], p["subtotal"]) for p in order["products"]] == [(free, 0.0), (cent, 0.01)] or \
        [(p["id"], p["subtotal"]) for p in order["products"]] == [(cent, 0.01), (free, 0.0)]
    settle(order, 1)
    st, body, raw, _ = refund(keys, DEMO, order["id"])  # all that is left: the one fen
    assert st == 200 and body["data"]["refund"]["amount"] == 0.01 and body["data"]["order"]["or_st"] == "RF", raw
    ufree, ucent = product("0.00", USD, 5), product("0.01", USD, 5)
    refused_buy(USD, "paypal", [(ufree, 1)])
    bought(USD, "paypal", [(ufree, 1), (ucent, 1)], 1)
    assert (stock(ufree, USD), stock(ucent, USD)) == (4, 4)


# --------------------------------------------------------------------------------------------- switching, mismatches


def test_switching_an_order_past_wechats_max_to_wechat_keeps_the_live_alipay_slip():
    # 21474836.48 is fine for Alipay and one fen past WeChat: a pay/pay to WeChat must be refused
    # without closing the Alipay slip the buyer may be scanning.
    pid = product("21474836.48", DEMO, 3)
    order = bought(DEMO, "zfb.qrcode", [(pid, 1)], WX_MAX + 1)
    for pt, extra in (("wx.qrcode", {}), ("wx.jsapi", {}), ("wx.scan", {"auth_code": "130000000000000011"})):
        st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"],
                               params=dict({"id": order["id"], "pt": pt, "force": "true"}, **extra))
        assert st == 400 and body["errCode"] == "e.www.order.invalid.amount", (pt, raw)
        assert psql("SELECT count(*) FROM pay_slips WHERE order_id = '%s'" % order["id"]) == "1", pt
        assert slip(order["pay_id"])[:4] == ["WAIT", "", "f", "WT"] and stock(pid) == 2, pt
    settle(order, WX_MAX + 1)


@pytest.mark.parametrize("value, currency, settles", [
    # 1500.00 and 1500.0 JPY are 1500 yen by the one rule for providers' amounts (README "Amounts
    # providers send": zeros past the currency's decimals are the same value); 1500.5 is no amount.
    ("15.00", "USD", False), ("1500", "USD", False), ("1500", "CNY", False), ("1500.00", "JPY", True),
    ("1500.0", "JPY", True), ("1500.5", "JPY", False), ("1499", "JPY", False), ("1501", "JPY", False),
    ("1500", "JPY", True),
])
def test_jpy_payment_notified_with_the_same_minor_units_in_another_currency_never_settles(keys, value, currency,
                                                                                         settles):
    # 1500 JPY and 15.00 USD are both 1500 minor units: only the currency tells them apart.
    order = bought(JPY, "paypal", [(product("1500", JPY, 10), 1)], 1500)
    sim_pay(order["pay_id"], times="0")  # paid at PayPal: only the message's own words are on trial
    headers, body = paypal_webhook(order["pay_id"], value, currency)
    st = post_paypal(headers, body, site=JPY)
    row = slip(order["pay_id"])
    if settles:
        assert st == 200 and row[0] == "OK" and row[3] == "OK", row
    else:
        assert st == 400 and row[0] == "WAIT" and row[3] == "WT", (st, row)
        assert inbox(order["pay_id"])[-1][0] == "rejected"


def test_one_refund_key_with_the_same_amount_spelt_differently_is_a_replay(keys):
    pid = product("25.00", DEMO, 10)
    order = bought(DEMO, "zfb.qrcode", [(pid, 1)], 2500)
    settle(order, 2500)
    idem = "ha-" + uuid.uuid4().hex
    first = refund(keys, DEMO, order["id"], "7.5", idem)
    assert first[0] == 200 and first[1]["data"]["refund"]["replay"] is False, first[2]
    for same in ("7.50", 7.5, 7.50):
        st, body, raw, _ = refund(keys, DEMO, order["id"], same, idem)
        assert st == 200 and body["data"]["refund"]["replay"] is True, (same, raw)
        assert body["data"]["refund"]["id"] == first[1]["data"]["refund"]["id"]
    expect(refund(keys, DEMO, order["id"], "7.51", idem), 409, "e.www.api.idempotency_mismatch")
    assert refund_rows(order["id"]) == 1 and recorded(order["id"]) == 750
    assert sim_trade(order["pay_id"])["refund_fee"] == 750


def test_cli_prices_past_the_currency_exponent_or_signed_are_usage_errors_and_write_nothing(keys):
    for site, prices in ((DEMO, ["0.001", "-0.01", "-0", "+1", "1e3", " 1", "12.", ".5", "1,00", "0x10"]),
                         (JPY, ["0.5", "1.0", "1500.00"])):
        for price in prices:
            pid = "ha-" + uuid.uuid4().hex[:10]
            res = cli("product", "add", pid, "--site", site, "--title", "t", "--price", price, check=False)
            assert res.returncode == 2 and "bad price" in res.stderr, (site, price, res.stderr)
            assert psql("SELECT count(*) FROM products WHERE id = '%s'" % pid) == "0"
