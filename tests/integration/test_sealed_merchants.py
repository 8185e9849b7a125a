"""Which merchants may open a sealed notification (app/notify.cpp, store MerchantsOf). A WeChat v3
notice names its slip only inside a part sealed with one v3 merchant's APIv3 key, so orderpay
tries the provider's merchants, at most 100, the site's seller first. Those 100 must be merchants
that could open it: a shop with many v2 merchants (ids sorting first) once pushed its v3 merchant
out of the list, and a v3 notice whose slip's merchant was no longer a site's seller was refused."""

import pytest

from conftest import STACK, psql
from helpers import inbox
from test_wx3 import V3, buy3_ok, post_v3, v3_notification, wait3

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")

CROWD = 101  # one more than the cap


@pytest.fixture
def v2_crowd_and_v2_seller():
    """101 v2 wx merchants whose ids sort before every real one, and demo-v3 selling through its
    v2 neighbour's merchant (so the v3 merchant is no site's seller any more)."""
    seller = psql("SELECT merchant_id FROM site_sellers WHERE site_id = '%s' AND prefix = 'wx'" % V3)
    psql("INSERT INTO merchants (id, provider, app_id, mch_id, sign_type, api_key) "
         "SELECT '0crowd' || lpad(n::text, 3, '0'), 'wx', 'wx0crowd', '19' || lpad(n::text, 8, '0'), 'MD5', "
         "repeat('k', 32) FROM generate_series(1, %d) n" % CROWD)
    psql("UPDATE site_sellers SET merchant_id = '%s' WHERE site_id = '%s' AND prefix = 'wx'"
         % (STACK["DEMO_MERCHANT"], V3))
    try:
        yield
    finally:
        psql("UPDATE site_sellers SET merchant_id = '%s' WHERE site_id = '%s' AND prefix = 'wx'" % (seller, V3))
        psql("DELETE FROM merchants WHERE id LIKE '0crowd%'")


@pytest.fixture
def v3_order():
    return buy3_ok()


def test_v3_notice_of_a_former_sellers_slip_settles_despite_many_v2_merchants(v3_order, request):
    # The order is made while wx3-demo sells for demo-v3; then the crowd arrives and the seller moves.
    order = v3_order
    assert order["seller"] == STACK["DEMO_WX3_MERCHANT"]
    request.getfixturevalue("v2_crowd_and_v2_seller")
    headers, body = v3_notification(order["pay_id"], 1250)
    st, _, raw, _ = post_v3(headers, body)
    assert st in (200, 204), raw
    assert wait3(order["id"], "OK")["or_st"] == "OK"
    assert inbox(order["pay_id"])[0][0] == "settled", inbox(order["pay_id"])
