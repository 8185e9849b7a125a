"""The real Alipay sandbox notification and return URL (PROTOCOLS.md V-ALI-1, V-ALI-2) through
`orderpay notify verify`, with a merchant configured with that sandbox app id and public key.
The vectors are read from ../shared/vectors at run time; the tests skip when they are absent."""

import ast
import os
import urllib.parse

import pytest

from conftest import cli, psql
from helpers import ensure_site

VECTORS = os.path.join(os.environ.get("ORDERPAY_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                                       "shared")), "vectors")


def vector_assignment(filename, name):
    """The literal assigned to `name` in a vector script, without running the script."""
    path = os.path.join(VECTORS, filename)
    if not os.path.exists(path):
        pytest.skip("vector %s not found (set ORDERPAY_SHARED to the shared/ folder)" % path)
    for node in ast.parse(open(path, encoding="utf-8").read()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError("%s has no %s" % (filename, name))


@pytest.fixture(scope="module")
def sandbox_site():
    pub = os.path.join(VECTORS, "alipay_sandbox_public_key.pem")
    priv = os.path.join(VECTORS, "alipay_sandbox_app_private_key.pem")
    if not (os.path.exists(pub) and os.path.exists(priv)):
        pytest.skip("Alipay sandbox keys not found in %s" % VECTORS)
    ensure_site("alisandbox", "--store", "demo-users")
    cli("merchant", "add", "zfb-sandbox", "--provider", "zfb", "--app-id", "9021000122682882",
        "--seller-id", "2088721003899159", "--app-private-key-file", priv, "--alipay-public-key-file", pub)
    cli("seller", "set", "--site", "alisandbox", "--prefix", "zfb", "--merchant", "zfb-sandbox")
    # The slip the sandbox notification pays (out_trade_no 1703147160, 0.01 CNY), so every
    # business check can pass too.
    psql("INSERT INTO orders (id, site_id, buyer_store, buyer_id, pro_c, total, price, fee, currency, pay_tp, expi) "
         "VALUES ('sandboxorder1', 'alisandbox', 'demo-users', 'alice', 1, 1, 1, 1, 'CNY', 'zfb.qrcode', "
         "now() + interval '1 day') ON CONFLICT DO NOTHING")
    # A whole order, as pay/buy would have written it, so `orderpay audit` holds after this test.
    # (of no product in the catalog, so it took no stock from a count)
    psql("INSERT INTO order_items (order_id, pos, product_id, title, amount, price, subtotal, stock_taken) "
         "VALUES ('sandboxorder1', 0, 'sandbox-item', 'Sandbox item', 1, 1, 1, false) ON CONFLICT DO NOTHING")
    psql("INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, currency, st) "
         "VALUES ('1703147160', 'sandboxorder1', 'alisandbox', 'zfb.qrcode', 'zfb', 'zfb-sandbox', 1, 'CNY', 'WAIT') "
         "ON CONFLICT DO NOTHING")
    return "alisandbox"


def verify(site, body, tmp_path):
    f = tmp_path / "body.txt"
    f.write_bytes(body.encode() if isinstance(body, str) else body)
    return cli("notify", "verify", "--site", site, "--provider", "zfb", "--body", str(f), check=False)


def test_sandbox_notification_verifies_and_would_settle(sandbox_site, tmp_path):
    post = vector_assignment("alipay_notify_yansongda.py", "post")
    res = verify(sandbox_site, urllib.parse.urlencode(post), tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("PASS signature"), res.stdout
    assert "verdict: would settle" in res.stdout, res.stdout
    assert psql("SELECT st FROM pay_slips WHERE id = '1703147160'") == "WAIT"  # verify changed nothing


def test_any_changed_byte_of_a_signed_value_fails(sandbox_site, tmp_path):
    post = vector_assignment("alipay_notify_yansongda.py", "post")
    for key in post:
        if key in ("sign", "sign_type"):
            continue
        changed = dict(post)
        value = changed[key]
        changed[key] = value[:-1] + ("0" if value[-1] != "0" else "1")
        res = verify(sandbox_site, urllib.parse.urlencode(changed), tmp_path)
        # notify_type says what the message is: another is no notification, refused before its
        # signature is read (review s28-attack #2).
        # So does charset: "utf-0" names no encoding orderpay reads (review s30 Info 2).
        first = {"notify_type": "FAIL parse: not an Alipay notification",
                 "charset": 'FAIL parse: charset "utf-0" is not one orderpay reads'}.get(key, "FAIL signature")
        assert res.returncode == 1 and res.stdout.startswith(first), (key, res.stdout)


def test_plus_decoded_as_plus_fails(sandbox_site, tmp_path):
    post = vector_assignment("alipay_notify_yansongda.py", "post")
    body = urllib.parse.urlencode(post).replace("yansongda%2B", "yansongda+")  # '+' would become a space
    assert verify(sandbox_site, body, tmp_path).returncode == 1


def test_sandbox_return_url_verifies(sandbox_site, tmp_path):
    url = vector_assignment("alipay_return_yansongda.py", "url")
    res = verify(sandbox_site, url, tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("PASS signature"), res.stdout
    tampered = url.replace("total_amount=0.01", "total_amount=0.02")
    assert verify(sandbox_site, tampered, tmp_path).returncode == 1


def test_certificate_mode_merchant_verifies_the_same_notification(tmp_path):
    files = {name: os.path.join(VECTORS, name) for name in (
        "alipay_sandbox_app_private_key.pem", "alipay_sandbox_app_public_cert.crt", "alipay_sandbox_public_cert.crt",
        "alipay_sandbox_root_cert.crt")}
    if not all(os.path.exists(f) for f in files.values()):
        pytest.skip("Alipay sandbox certificates not found in %s" % VECTORS)
    ensure_site("alisandboxcert", "--store", "demo-users")
    cli("merchant", "add", "zfb-sandbox-cert", "--provider", "zfb", "--app-id", "9021000122682882",
        "--seller-id", "2088721003899159", "--app-private-key-file", files["alipay_sandbox_app_private_key.pem"],
        "--app-cert-file", files["alipay_sandbox_app_public_cert.crt"],
        "--alipay-cert-file", files["alipay_sandbox_public_cert.crt"],
        "--alipay-root-cert-file", files["alipay_sandbox_root_cert.crt"])
    cli("seller", "set", "--site", "alisandboxcert", "--prefix", "zfb", "--merchant", "zfb-sandbox-cert")
    post = vector_assignment("alipay_notify_yansongda.py", "post")
    res = verify("alisandboxcert", urllib.parse.urlencode(post), tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("PASS signature"), res.stdout + res.stderr
    # A certificate set that cannot work is refused when the merchant is added, not at payment time.
    bad = cli("merchant", "add", "zfb-bad", "--provider", "zfb", "--app-id", "x", "--seller-id", "y",
              "--app-private-key-file", files["alipay_sandbox_app_public_cert.crt"],
              "--alipay-public-key-file", files["alipay_sandbox_public_cert.crt"], check=False)
    assert bad.returncode == 1 and "key" in bad.stderr.lower() and "usage" not in bad.stderr, bad.stderr
