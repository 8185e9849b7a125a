"""TLS to paysim as in production: orderpay verifies paysim's certificate against the stack's CA
(tls.ca_file), and paysim's /secapi/* (WeChat's reverse and refund) wants the merchant's API
client certificate, issued by that CA to its mch_id. (Reverse with the certificate is covered by
test_wx_pay.py's scan tests.)"""

import hashlib
import os
import ssl
import subprocess
import urllib.error
import urllib.request

from conftest import STACK, cli
from helpers import buy_ok, check, db_row, sim_pay

TLS_DIR = os.path.join(STACK["ORDERPAY_VAR"], "keys", "tls")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    key, cert = os.path.join(d, name + "_key.pem"), os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE")
    return cert, key


def make_client(d, name, cn, ca_cert, ca_key):
    key, csr, cert = (os.path.join(d, name + s) for s in ("_key.pem", ".csr", ".pem"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w", encoding="utf-8") as f:
        f.write("extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", "0x1234", "-days", "2",
            "-extfile", ext, "-out", cert)
    return cert, key


def demo_key():
    with open(STACK["DEMO_WX_KEY_FILE"], encoding="utf-8") as f:
        return f.read().strip()


def signed_xml(fields):
    """A WeChat v2 request signed (MD5) with the demo merchant's key."""
    fields = dict(fields, appid=STACK["DEMO_WX_APP_ID"], mch_id=STACK["DEMO_WX_MCH_ID"], nonce_str="n" * 32)
    text = "&".join("%s=%s" % (k, fields[k]) for k in sorted(fields) if fields[k]) + "&key=" + demo_key()
    fields["sign"] = hashlib.md5(text.encode()).hexdigest().upper()
    return ("<xml>" + "".join("<%s><![CDATA[%s]]></%s>" % (k, v, k) for k, v in fields.items()) + "</xml>").encode()


def secapi(path, body, cert=None, ca=None):
    """POSTs to paysim's https gateway; returns (status, body text), or (None, error) when TLS fails."""
    ctx = ssl.create_default_context(cafile=ca or STACK["STACK_CA_FILE"])
    if cert:
        ctx.load_cert_chain(*cert)
    req = urllib.request.Request(STACK["PAYSIM_HTTPS_URL"] + path, data=body, method="POST",
                                 headers={"Content-Type": "text/xml"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ssl.SSLError) as e:
        return None, str(e)


REFUND = {"out_trade_no": "nosuchtrade", "out_refund_no": "tlsprobe", "total_fee": "1", "refund_fee": "1"}


def test_orderpay_config_points_wx_at_https_with_the_stack_ca():
    with open(STACK["ORDERPAY_CONFIG"], encoding="utf-8") as f:
        conf = f.read()
    assert "wxpay.gateway = " + STACK["PAYSIM_HTTPS_URL"] in conf
    assert "tls.ca_file = " + STACK["STACK_CA_FILE"] in conf


def test_a_wrong_ca_file_is_a_provider_error_and_nothing_is_paid(tmp_path):
    order = buy_ok("wx.qrcode")
    result = sim_pay(order["pay_id"], times="0")  # paid at paysim, the notification lost
    assert result["sent"] == 0
    wrong_ca, _ = make_ca(str(tmp_path), "not-the-stack-ca")
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_TLS_CA_FILE=wrong_ca)
    res = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "reconcile", "--min-age", "0"], env=env,
                         capture_output=True, text=True, timeout=120)
    out = res.stdout + res.stderr
    assert "PAID    %s" % order["pay_id"] not in out, out
    assert "certificate" in out.lower() or "ssl" in out.lower(), out
    # Read from the database: pay/check would ask paysim itself (trusting the right CA) once the
    # slip's last query is older than query_min_interval_ms, and rightly settle.
    assert db_row("SELECT or_st FROM orders WHERE id = '%s'" % order["id"]) == ["WT"]
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % order["pay_id"]) == ["WAIT"]
    # The same query trusting the stack's CA finds the payment.
    cli("reconcile", "--min-age", "0")
    assert check(order["id"])[1]["data"]["or_st"] == "OK"


def test_a_host_name_the_certificate_does_not_name_is_refused():
    # The stack CA's certificate for paysim names IP 127.0.0.1 only: reached as "localhost", the
    # chain verifies but the host name does not, and the call fails.
    order = buy_ok("wx.qrcode")
    sim_pay(order["pay_id"], times="0")
    port = STACK["PAYSIM_HTTPS_URL"].rsplit(":", 1)[1]
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"],
               ORDERPAY_WXPAY_GATEWAY="https://localhost:%s" % port)
    res = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "reconcile", "--min-age", "0"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert "query unanswered" in res.stderr and ("name" in res.stderr or "SSL" in res.stderr), res.stderr
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % order["pay_id"]) == ["WAIT"]
    cli("reconcile", "--min-age", "0")
    assert check(order["id"])[1]["data"]["or_st"] == "OK"


def test_secapi_without_a_client_certificate_is_refused():
    st, body = secapi("/secapi/pay/refund", signed_xml(REFUND))
    assert st == 403 and "<return_code><![CDATA[FAIL]]>" in body, body
    st, body = secapi("/secapi/pay/reverse", signed_xml({"out_trade_no": "nosuchtrade"}))
    assert st == 403, body


def test_secapi_with_a_certificate_from_another_ca_is_refused(tmp_path):
    ca, ca_key = make_ca(str(tmp_path), "stranger-ca")
    cert = make_client(str(tmp_path), "stranger", STACK["DEMO_WX_MCH_ID"], ca, ca_key)
    st, body = secapi("/secapi/pay/refund", signed_xml(REFUND), cert=cert)
    assert st == 400 or st is None, (st, body)  # nginx: "The SSL certificate error"
    assert "ORDERNOTEXIST" not in body


def test_secapi_with_another_merchants_certificate_is_refused(tmp_path):
    # Issued by the stack's own CA (so nginx verifies it), but to another mch_id.
    cert = make_client(str(tmp_path), "other", "1900009999", os.path.join(TLS_DIR, "ca.pem"),
                       os.path.join(TLS_DIR, "ca_key.pem"))
    st, body = secapi("/secapi/pay/refund", signed_xml(REFUND), cert=cert)
    assert st == 200 and "<return_code><![CDATA[FAIL]]>" in body and "1900000109" in body, body
    # The merchant's own certificate gets through to the refund itself (no such trade here).
    st, body = secapi("/secapi/pay/refund", signed_xml(REFUND),
                      cert=(STACK["DEMO_WX_CLIENT_CERT"], STACK["DEMO_WX_CLIENT_KEY"]))
    assert st == 200 and "ORDERNOTEXIST" in body, body


def test_secapi_over_plain_http_has_no_certificate_and_is_refused():
    import urllib.request as ur
    req = ur.Request(STACK["PAYSIM_URL"] + "/secapi/pay/refund", data=signed_xml(REFUND), method="POST",
                     headers={"Content-Type": "text/xml", "X-Ssl-Client-S-Dn": "CN=1900000109",
                              "Ssl-Client-Verify": "SUCCESS"})
    with ur.urlopen(req, timeout=30) as resp:
        body = resp.read().decode()
    assert "<return_code><![CDATA[FAIL]]>" in body and "ORDERNOTEXIST" not in body, body


def test_paysim_https_is_not_trusted_without_the_stack_ca():
    st, err = secapi("/pay/orderquery", signed_xml({"out_trade_no": "x"}), ca=os.path.join(
        STACK["ORDERPAY_VAR"], "keys", "paypal", "paysim_ca.pem"))
    assert st is None and "certificate" in err.lower(), err


def test_merchant_add_checks_the_client_certificate(tmp_path):
    key_file = STACK["DEMO_WX_KEY_FILE"]
    base = ["merchant", "add", "wx-tls-probe", "--provider", "wx", "--app-id", "wxd0000000000demo",
            "--mch-id", "1900000109", "--key-file", key_file]
    # Another merchant's certificate (CN), a key that is not the certificate's, half the pair.
    other = make_client(str(tmp_path), "other", "1900009999", os.path.join(TLS_DIR, "ca.pem"),
                        os.path.join(TLS_DIR, "ca_key.pem"))
    res = cli(*base, "--client-cert-file", other[0], "--client-key-file", other[1], check=False)
    assert res.returncode != 0 and "1900009999" in res.stderr, res.stderr
    res = cli(*base, "--client-cert-file", STACK["DEMO_WX_CLIENT_CERT"], "--client-key-file", other[1],
              check=False)
    assert res.returncode != 0 and "does not belong" in res.stderr, res.stderr
    res = cli(*base, "--client-cert-file", STACK["DEMO_WX_CLIENT_CERT"], check=False)
    assert res.returncode != 0 and "go together" in res.stderr, res.stderr
    assert db_row("SELECT count(*) FROM merchants WHERE id = 'wx-tls-probe'") == ["0"]
