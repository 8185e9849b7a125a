"""WeChat Pay v3 in certificate mode: what a notification's Wechatpay-Serial may cost. Anyone can
POST to pay/re_wx with a serial nobody holds; the slip is named only inside the resource sealed
with one merchant's APIv3 key, so orderpayd tries every v3 merchant. Only the merchant whose key
opens the resource may look for the signing key: a forged notice costs no /v3/certificates call,
a captured real one re-sent under a made-up serial at most one per merchant every 5 s for all
workers together, and real notices settle on their first delivery, also a former seller's whose
platform certificate was rotated."""
import base64
import concurrent.futures
import json
import os
import secrets
import tempfile
import time

import pytest
from cryptography.hazmat.primitives import serialization

from conftest import STACK, api, cli, psql
from helpers import ensure_site, sim_pay
from test_wx3 import buy3_ok, key_and_cert, post_v3, read, sim_cli, v3_notification, wait3

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


def last_reason():
    return psql("SELECT verdict || '|' || reason FROM notifications WHERE site_id = '%s' ORDER BY id DESC LIMIT 1"
                % SITE)


def forged():
    """A v3-looking notice under a serial nobody was issued, sealed and signed with nothing."""
    body = json.dumps({"id": "EV-" + secrets.token_hex(4), "event_type": "TRANSACTION.SUCCESS",
                       "resource": {"algorithm": "AEAD_AES_256_GCM",
                                    "ciphertext": base64.b64encode(secrets.token_bytes(64)).decode(),
                                    "nonce": secrets.token_hex(6), "associated_data": "transaction"}})
    headers = {"Wechatpay-Timestamp": str(int(time.time())), "Wechatpay-Nonce": secrets.token_hex(8),
               "Wechatpay-Serial": "DEADBEEF" + secrets.token_hex(6).upper(),
               "Wechatpay-Signature": base64.b64encode(b"forged").decode(), "Content-Type": "application/json"}
    status, _, raw, _ = api("POST", "re_wx", raw_body=body.encode(), headers=headers, site=SITE)
    return status, raw


class Merchant:
    def __init__(self, d, i):
        self.d, self.i = d, i
        self.mch = "19%08d" % (int(RUN, 16) % 10**6 * 10 + i)
        self.mkey, self.mcert, self.mserial = key_and_cert(d, "m%d" % i, self.mch)
        self.keyfile = os.path.join(d, "apiv3_%d.key" % i)
        with open(self.keyfile, "w") as f:
            f.write(secrets.token_hex(16))
        self.app, self.id = "wxd0fetch%s%d" % (RUN, i), "wx3-fetch-%s-%d" % (RUN, i)
        cli("merchant", "add", self.id, "--provider", "wx", "--api", "v3", "--app-id", self.app, "--mch-id",
            self.mch, "--private-key-file", self.mkey, "--cert-serial", self.mserial, "--cert-file", self.mcert,
            "--apiv3-key-file", self.keyfile, "--platform-certificates")
        self.rotate("p%d" % i)

    def rotate(self, name):
        """paysim gets a new platform certificate for this merchant, as WeChat rotates them."""
        self.pkey, pcert, self.pserial = key_and_cert(self.d, name, "Tenpay.com Root CA")
        sim_cli("merchant", "add", "--provider", "wx", "--api", "v3", "--app-id", self.app, "--mch-id", self.mch,
                "--merchant-public-key-file", self.mcert, "--cert-serial", self.mserial, "--apiv3-key-file",
                self.keyfile, "--platform-private-key-file", self.pkey, "--platform-cert-file", pcert)


@pytest.fixture(scope="module")
def merchants():
    d = tempfile.mkdtemp(prefix="wx3fetch-", dir=os.path.dirname(STACK["ORDERPAY_CONFIG"]))
    ms = [Merchant(d, i) for i in range(N)]
    ensure_site(SITE, "--store", "demo-users", "--currency", "CNY")
    cli("product", "add", STACK["DEMO_PRODUCT"], "--site", SITE, "--title", "Green tea", "--price", "12.50",
        check=False)
    cli("seller", "set", "--site", SITE, "--prefix", "wx", "--merchant", ms[0].id)
    return ms


def test_a_forged_notice_costs_no_certificate_fetch_alone_or_in_a_burst(merchants):
    time.sleep(5.5)  # past any pace an earlier test left
    before = fetches()
    status, raw = forged()
    assert status == 400, raw
    # Every cert-mode merchant of every site was a candidate; none could open it.
    assert fetches_after(before) == 0
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: forged(), range(20)))
    assert all(st == 400 for st, _ in replies), replies
    assert fetches_after(before) == 0
    assert last_reason().startswith("rejected|") and "does not decrypt" in last_reason(), last_reason()


def test_a_real_resource_under_a_made_up_serial_costs_one_fetch_for_all_workers(merchants):
    """A captured notice of merchant 1 re-sent with another serial: its APIv3 key opens it, so its
    certificates are looked at, once for all workers in the pace interval."""
    time.sleep(5.5)
    m = merchants[1]
    order = buy3_ok(site=SITE)  # a slip of the seller (merchant 0): the resource names it
    signer = serialization.load_pem_private_key(read(m.pkey, "rb"), None)

    def replay(_):
        h, b = v3_notification(order["pay_id"], 1250, appid=m.app, mchid=m.mch, key=read(m.keyfile),
                               serial="C0FFEE" + secrets.token_hex(5).upper(), signer=signer)
        return post_v3(h, b, site=SITE)[0]

    before = fetches()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(replay, range(16)))
    assert all(st == 400 for st in statuses), statuses
    assert fetches_after(before) <= 1
    assert "unknown Wechatpay-Serial C0FFEE" in last_reason(), last_reason()
    assert wait3(order["id"], "WT", site=SITE, timeout=0)["or_st"] == "WT"


def test_real_notices_settle_on_first_delivery_also_a_former_sellers_after_rotation(merchants):
    # The seller's own slip: its answer to pay/buy brought the certificates in; the notice finds
    # them without a call of its own, on whichever worker it lands.
    time.sleep(5.5)
    order = buy3_ok(site=SITE)
    before = fetches()
    data = sim_pay(order["pay_id"])
    assert data["replies"][0]["status"] == 204, data
    assert wait3(order["id"], "OK", site=SITE)["or_st"] == "OK"
    assert fetches_after(before) == 0
    # A slip of merchant 2 while it was the seller; then merchant 0 sells again, WeChat rotates
    # merchant 2's platform certificate, and its notice arrives signed with the new one. The
    # seller is tried first; the one certificate fetch must go to merchant 2, whose key opens it.
    cli("seller", "set", "--site", SITE, "--prefix", "wx", "--merchant", merchants[2].id)
    old = buy3_ok(site=SITE)
    cli("seller", "set", "--site", SITE, "--prefix", "wx", "--merchant", merchants[0].id)
    merchants[2].rotate("p2-rotated")
    for _ in range(3):  # forged ones in between change nothing
        assert forged()[0] == 400
    time.sleep(5.5)
    before = fetches()
    data = sim_pay(old["pay_id"])
    assert data["replies"][0]["status"] == 204, data
    assert wait3(old["id"], "OK", site=SITE)["or_st"] == "OK"
    assert fetches_after(before) == 1
    assert psql("SELECT merchant_id FROM pay_slips WHERE id = '%s'" % old["pay_id"]) == merchants[2].id
