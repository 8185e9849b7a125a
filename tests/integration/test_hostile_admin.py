"""Hostile and careless callers of the operator API (admin/*) beyond test_refund*.py,
test_admin_ticket.py, test_admin_orders.py and test_operator_orders.py: a refund body with a
misspelt field, keys in odd places and shapes, revoked keys on every route, another site's key,
order and cursor, admin/orders' bounds, ticket accounts at their limits and across stores, a
ticket revoked while its buyer is mid-buy, and refunds racing a second refund of the last unit,
admin/ship and a chargeback-free done. Every reply goes through conftest's http(), which checks it
against api/openapi.yaml."""

import json
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import buy_ok, check, ensure_site, recorded, refund_rows, sim_pay, sim_refunded, wait_state

SITE = STACK["DEMO_SITE"]
OTHER_SITE = "ha-site2"
OTHER_STORE = "ha-store2"


def admin(action, key=None, body=None, method="POST", site=None, params="", headers=None, raw=None):
    url = "%s/api/%s/admin/%s%s" % (STACK["ORDERPAY_URL"], site or SITE, action, params)
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    return http(method, url, data, hdrs)


def refund(key, order, amount=None, reason="probe", idem=None, site=None, **extra):
    body = {"order": order, "reason": reason, "idempotency_key": idem or uuid.uuid4().hex}
    if amount is not None:
        body["amount"] = amount
    body.update(extra)
    return admin("refund", key, body, site=site)


@pytest.fixture(scope="module")
def key():
    return cli("apikey", "issue", "--site", SITE).stdout.strip()


@pytest.fixture(scope="module")
def other_key():
    """A key of another site, with an account store of its own."""
    cli("store", "add", OTHER_STORE, check=False)
    ensure_site(OTHER_SITE, "--store", OTHER_STORE)
    return cli("apikey", "issue", "--site", OTHER_SITE).stdout.strip()


def paid_zfb(amount=2):
    """An Alipay order (12.50 a tea) paid at once by scan code 280..."""
    order = buy_ok("zfb.scan", auth_code="280000000000000002",
                   products=[{"id": STACK["DEMO_PRODUCT"], "amount": amount}])
    assert order["or_st"] == "OK", order
    return order


# ---------------------------------------------------------------- admin/refund: a careless body


@pytest.mark.parametrize("field", ["amout", "Amount", "amount_cny", "refund_amount", "amount "])
def test_a_misspelt_amount_is_refused_not_read_as_all_that_is_left(key, field):
    """A back office that misspells "amount" must not refund the whole payment: without the
    field, admin/refund refunds all that is left, so an unknown field is refused by name and
    nothing is written or sent."""
    order = paid_zfb()
    st, body, raw, _ = refund(key, order["id"], **{field: "1.00"})
    assert st == 400 and body["errCode"] == "e.www.order.invalid.field", raw
    assert body["msg"] == "unknown field " + field, raw
    assert refund_rows(order["id"]) == 0 and sim_refunded(order["pay_id"]) == 0
    # Other unknown fields are refused too (a currency orderpay would not read, a note it has
    # nowhere to keep), and the good body still refunds just the part.
    for extra in ({"currency": "USD"}, {"note": "x"}, {"slip": order["pay_id"]}):
        st, body, raw, _ = refund(key, order["id"], "1.00", **extra)
        assert st == 400 and body["msg"] == "unknown field " + next(iter(extra)), raw
    assert refund_rows(order["id"]) == 0
    st, body, raw, _ = refund(key, order["id"], "1.00")
    assert st == 200 and body["data"]["refund"]["amount"] == 1.0, raw
    assert recorded(order["id"]) == 100 == sim_refunded(order["pay_id"])
