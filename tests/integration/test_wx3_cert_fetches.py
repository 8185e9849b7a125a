"""WeChat Pay v3 in certificate mode: what a notification's Wechatpay-Serial may cost. Anyone can
POST to pay/re_wx with a serial nobody holds; before the signature can be checked orderpayd must
find the key, and it tries every v3 merchant. A forged notice must cost at most one
/v3/certificates call, and a burst of them at most one per merchant for all workers together;
real notices, also a former seller's, still settle."""
import base64
import concurrent.futures
import json
import os
import secrets
import tempfile
import time

import pytest

from conftest import STACK, api, cli, psql
from helpers import ensure_site, sim_pay
from test_wx3 import buy3_ok, key_and_cert, sim_cli, wait3

pytestmark = pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")

N = 4
RUN = secrets.token_hex(3)
SITE = "v3fetch-" + RUN


def fetches():
    with open(os.path.join(STACK["STACK_LOG_DIR"], "nginx-access.log")) as f:
        return sum(1 for line in f if "/v3/certificates" in line)


def fetches_after(before, settle=0.5):
    time.sleep(settle)  # the access log line is written when the call ends
    return fetches() - before


def cert_mode_merchants():
    return int(psql("SELECT count(*) FROM merchants WHERE provider = 'wx' AND options->>'api' = 'v3' "
                    "AND (options->>'platform_certificates')::boolean"))


def forged():
    """A v3-looking notice under a serial nobody was issued, signed with nothing."""
    body = json.dumps({"id": "EV-" + secrets.token_hex(4), "event_type": "TRANSACTION.SUCCESS",
                       "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": "AAAA", "nonce": "n",
                                    "associated_data": "transaction"}})
    headers = {"Wechatpay-Timestamp": str(int(time.time())), "Wechatpay-Nonce": secrets.token_hex(8),
               "Wechatpay-Serial": "DEADBEEF" + secrets.token_hex(6).upper(),
               "Wechatpay-Signature": base64.b64encode(b"forged").decode(), "Content-Type": "application/json"}
    status, _, raw, _ = api("POST", "re_wx", raw_body=body.encode(), headers=headers, site=SITE)
    return status, raw


@pytest.fixture(scope="module")
def merchants():
    d = tempfile.mkdtemp(prefix="wx3fetch-", dir=os.path.dirname(STACK["ORDERPAY_CONFIG"]))
    ids = []
    for i in range(N):
        mch = "19%08d" % (int(RUN, 16) % 10**6 * 10 + i)
        mkey, mcert, mserial = key_and_cert(d, "m%d" % i, mch)
        pkey, pcert, _ = key_and_cert(d, "p%d" % i, "Tenpay.com Root CA")
        keyfile = os.path.join(d, "apiv3_%d.key" % i)
        with open(keyfile, "w") as f:
            f.write(secrets.token_hex(16))
        app, mid = "wxd0fetch%s%d" % (RUN, i), "wx3-fetch-%s-%d" % (RUN, i)
        cli("merchant", "add", mid, "--provider", "wx", "--api", "v3", "--app-id", app, "--mch-id", mch,
            "--private-key-file", mkey, "--cert-serial", mserial, "--cert-file", mcert, "--apiv3-key-file", keyfile,
            "--platform-certificates")
        sim_cli("merchant", "add", "--provider", "wx", "--api", "v3", "--app-id", app, "--mch-id", mch,
                "--merchant-public-key-file", mcert, "--cert-serial", mserial, "--apiv3-key-file", keyfile,
                "--platform-private-key-file", pkey, "--platform-cert-file", pcert)
        ids.append(mid)
    ensure_site(SITE, "--store", "demo-users", "--currency", "CNY")
    cli("product", "add", STACK["DEMO_PRODUCT"], "--site", SITE, "--title", "Green tea", "--price", "12.50",
        check=False)
    cli("seller", "set", "--site", SITE, "--prefix", "wx", "--merchant", ids[0])
    return ids


def test_a_forged_notice_costs_one_certificate_fetch_and_a_burst_one_per_merchant(merchants):
    time.sleep(5.5)  # past any pace an earlier test left
    everyone = cert_mode_merchants()
    assert everyone >= N
    before = fetches()
    status, raw = forged()
    assert status == 400, raw
    # Every cert-mode merchant of every site was a candidate; one call was allowed.
    assert fetches_after(before) <= 1
    # Twenty at once, over all workers: each merchant's certificates fetched at most once in the
    # pace interval, whichever worker took which notice.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: forged(), range(20)))
    assert all(st == 400 for st, _ in replies), replies
    assert fetches_after(before) <= everyone
    last = psql("SELECT verdict || '|' || reason FROM notifications WHERE site_id = '%s' ORDER BY id DESC LIMIT 1"
                % SITE)
    assert last.startswith("rejected|") and "unknown Wechatpay-Serial DEADBEEF" in last, last


def test_real_notices_settle_after_the_burst_also_a_former_sellers(merchants):
    # The seller's own slip: its answer to pay/buy brought the certificates in; the notice finds
    # them without a call of its own, on whichever worker it lands.
    time.sleep(5.5)
    order = buy3_ok(site=SITE)
    before = fetches()
    data = sim_pay(order["pay_id"])
    assert data["replies"][0]["status"] == 204, data
    assert wait3(order["id"], "OK", site=SITE)["or_st"] == "OK"
    assert fetches_after(before) <= 1
    # A slip of a former seller: the site's seller is tried first, the slip's merchant opens it.
    cli("seller", "set", "--site", SITE, "--prefix", "wx", "--merchant", merchants[2])
    old = buy3_ok(site=SITE)
    cli("seller", "set", "--site", SITE, "--prefix", "wx", "--merchant", merchants[0])
    for _ in range(3):  # and forged ones in between change nothing
        assert forged()[0] == 400
    time.sleep(5.5)
    before = fetches()
    data = sim_pay(old["pay_id"])
    assert data["replies"][0]["status"] == 204, data
    assert wait3(old["id"], "OK", site=SITE)["or_st"] == "OK"
    assert fetches_after(before) <= 1
    row = psql("SELECT merchant_id FROM pay_slips WHERE id = '%s'" % old["pay_id"])
    assert row == merchants[2]
