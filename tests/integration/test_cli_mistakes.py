"""Ordinary CLI mistakes are said in one line, exit 1, nothing changed: no PostgreSQL
foreign-key or CHECK text and no 50-line usage after it (review s28-newuser #7)."""

import os
import subprocess
import uuid

from conftest import STACK, cli, psql

ID_RULE = "must be 1 to 64 characters of A-Z a-z 0-9 _ . -"


def refused(*args):
    res = cli(*args, check=False)
    assert res.returncode == 1 and res.stdout == "", res
    assert res.stderr.startswith("orderpay: ") and res.stderr.count("\n") == 1, res.stderr
    assert "ERROR" not in res.stderr and "usage" not in res.stderr, res.stderr
    return res.stderr


def assert_refused(argv, says=None):
    """refused(), and its one line is `says` when given."""
    err = refused(*argv)
    if says:
        assert err == "orderpay: %s\n" % says, (argv, err)


def test_a_store_that_is_not_there_is_named():
    tag = uuid.uuid4().hex[:6]
    site = "mist-" + tag
    assert refused("site", "add", site, "--store", "nosuch-" + tag) == \
        "orderpay: no such store nosuch-%s\n" % tag
    assert psql("SELECT count(*) FROM sites WHERE id = '%s'" % site) == "0"
    cli("site", "add", site, "--store", "demo-users")
    try:
        assert refused("site", "set", site, "--store", "nosuch-" + tag, "--name", "x") == \
            "orderpay: no such store nosuch-%s\n" % tag
        assert "store" in refused("site", "set", site, "--store", "")
        assert psql("SELECT account_store || name FROM sites WHERE id = '%s'" % site) == "demo-users"
    finally:
        psql("DELETE FROM sites WHERE id = '%s'" % site)


def test_a_bad_id_is_refused_with_the_rule():
    bad = "bad id!"
    assert refused("store", "add", bad) == "orderpay: store id %s\n" % ID_RULE
    assert refused("account", "add", bad, "--store", "demo-users") == \
        "orderpay: account id must be 1 to 64 characters of A-Z a-z 0-9 _ . @ -\n"
    assert refused("product", "add", bad, "--site", STACK["DEMO_SITE"], "--title", "X", "--price", "1") == \
        "orderpay: product id %s\n" % ID_RULE
    assert refused("site", "add", bad, "--store", "demo-users") == "orderpay: site id %s\n" % ID_RULE
    too_long = "a" * 65
    assert refused("store", "add", too_long) == "orderpay: store id %s\n" % ID_RULE
    assert psql("SELECT (SELECT count(*) FROM account_stores WHERE id IN ('%s', '%s')) + "
                "(SELECT count(*) FROM accounts WHERE id = '%s') + (SELECT count(*) FROM products WHERE id = '%s')"
                % (bad, too_long, bad, bad)) == "0"


def test_what_the_data_refuses_is_one_line_and_a_mistake_in_the_command_is_a_usage_error():
    """Every command given an id nothing has, or an account in two stores, says so in one line,
    exit 1: they said it, exit 2, with the 50-line usage after it (review s28-newuser). A mistake
    in the command itself (unknown flag, missing argument) still exits 2 with the usage."""
    tag = uuid.uuid4().hex[:6]
    site, acct, nope = STACK["DEMO_SITE"], "twice-" + tag, "nosuch-" + tag
    stores = ("mist-a-" + tag, "mist-b-" + tag)
    for st in stores:
        cli("store", "add", st)
        cli("account", "add", acct, "--store", st)
    row = "SELECT count(*) FROM %s"
    before = [psql(row % t) for t in ("orders", "refunds", "sessions", "site_sellers", "products", "api_keys")]
    try:
        refusals = [
            (("order", "show", nope), "no such order " + nope),
            (("order", "ship", nope), "no such order " + nope),
            (("order", "done", nope), "no such order " + nope),
            (("refund", nope, "--reason", "r"), "no such order " + nope),
            (("refund", "--slip", nope, "--reason", "r"), "no such slip " + nope),
            (("inbox", "show", "999999999999999"), "no such notification 999999999999999"),
            (("order", "list", "--site", nope), "no such site " + nope),
            (("refund", "list", "--site", nope), "no such site " + nope),
            (("product", "list", "--site", nope), "no such site " + nope),
            (("apikey", "list", "--site", nope), "no such site " + nope),
            (("apikey", "issue", "--site", nope), None),
            (("apikey", "revoke", nope), None),
            (("site", "set", nope, "--name", "x"), "no such site " + nope),
            (("product", "set", nope, "--site", site, "--stock", "1"), "no such product %s in site %s" % (nope, site)),
            (("product", "disable", nope, "--site", site), "no such product %s in site %s" % (nope, site)),
            (("ticket", "issue", "--account", nope), "no such account " + nope),
            (("ticket", "revoke", "--account", nope), "no such account " + nope),
            (("ticket", "issue", "--account", acct),
             "account %s is in several stores (%s, %s): give --store" % (acct, stores[0], stores[1])),
            (("ticket", "revoke", "--account", acct),
             "account %s is in several stores (%s, %s): give --store" % (acct, stores[0], stores[1])),
            (("seller", "set", "--site", site, "--prefix", "wx", "--merchant", STACK["DEMO_ZFB_MERCHANT"]),
             "merchant %s is a zfb merchant, not wx" % STACK["DEMO_ZFB_MERCHANT"]),
            (("refund", "finish", nope, "ok", "--note", "seen"), None),
            (("notify", "verify", "--site", nope, "--provider", "wx", "--body", "/dev/null"), "no such site " + nope),
        ]
        for argv, says in refusals:
            assert_refused(argv, says)
        # With --store the same account is found: the refusal was the ambiguity alone.
        assert cli("ticket", "revoke", "--account", acct, "--store", stores[0]).stdout == "revoked 0 tickets\n"
        mistakes = [
            ("order", "show"), ("order", "frobnicate"), ("inbox", "show"), ("inbox", "show", "12x"),
            ("order", "list", "--state", "XX"), ("product", "list", "--sight", site), ("refund", nope),
            ("ticket", "issue"), ("frobnicate",), ("order", "show", nope, "--verbose"),
            ("product", "set", nope, "--site", site, "--stock", "lots"), ("seller", "set", "--site", site),
        ]
        for argv in mistakes:
            res = cli(*argv, check=False)
            assert res.returncode == 2 and "usage: orderpay" in res.stderr and res.stdout == "", (argv, res)
        assert [psql(row % t) for t in ("orders", "refunds", "sessions", "site_sellers", "products",
                                        "api_keys")] == before
        assert psql("SELECT merchant_id FROM site_sellers WHERE site_id = '%s' AND prefix = 'wx'" % site) == \
            STACK["DEMO_MERCHANT"]
    finally:
        psql("DELETE FROM accounts WHERE id = '%s'" % acct)
        psql("DELETE FROM account_stores WHERE id IN ('%s', '%s')" % stores)


def _pem_keys(tmp_path):
    """An RSA private key, an EC private key and the EC public key, as PEM files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    out = {}
    rsa_key, ec_key = rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(
        ec.SECP256R1())
    for name, key in (("rsa", rsa_key), ("ec", ec_key)):
        out[name] = tmp_path / (name + ".pem")
        out[name].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    out["ec_pub"] = tmp_path / "ec_pub.pem"
    out["ec_pub"].write_bytes(ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo))
    return {k: str(v) for k, v in out.items()}


def test_a_file_that_cannot_be_read_or_used_is_refused_in_one_line(tmp_path):
    """`cannot read FILE` (notify verify's --body, --headers, --cert-file; merchant add's key
    files) and a merchant whose key is missing, empty, not PEM or of the wrong kind exited 2 with
    the 50-line usage after it, as if the command had been mistyped. The command was right and the
    file says no: one line naming the problem, exit 1, no merchant written."""
    tag = uuid.uuid4().hex[:6]
    mid = "mist-m-" + tag
    keys = _pem_keys(tmp_path)
    missing, folder = str(tmp_path / "nosuch"), str(tmp_path)
    files = {"empty": "", "short": "tooshort\n", "notpem": "this is no key\n", "good32": "k" * 32 + "\n",
             "body": "<xml><out_trade_no>x</out_trade_no></xml>"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        files[name] = str(tmp_path / name)
    wx = ("merchant", "add", mid, "--provider", "wx", "--app-id", "wxa", "--mch-id", "1")
    v3 = ("merchant", "add", mid, "--provider", "wx", "--api", "v3", "--app-id", "wxa", "--mch-id", "1",
          "--cert-serial", "AB12", "--platform-certificates")
    zfb = ("merchant", "add", mid, "--provider", "zfb", "--app-id", "2021", "--seller-id", "2088")
    pp = ("merchant", "add", mid, "--provider", "paypal", "--client-id", "C", "--webhook-id", "W")
    verify = ("notify", "verify", "--provider", "wx")
    no_file = "cannot read %s: No such file or directory" % missing
    cases = [
        ((*verify, "--body", missing), no_file),
        ((*verify, "--body", folder), "cannot read %s: Is a directory" % folder),
        ((*verify, "--body", files["body"], "--headers", missing), no_file),
        (("notify", "verify", "--provider", "paypal", "--body", files["body"], "--cert-file", missing), no_file),
        ((*wx, "--key-file", missing), "--key-file: " + no_file),
        ((*wx, "--key-file", folder), "--key-file: cannot read %s: Is a directory" % folder),
        ((*wx, "--key-file", files["empty"]), "--key-file: %s is empty" % files["empty"]),
        ((*wx, "--key-file", files["short"]), "the WeChat v2 key must be 32 characters"),
        ((*wx, "--key-file", files["good32"], "--client-cert-file", missing, "--client-key-file", missing), None),
        ((*wx, "--key-file", files["good32"], "--client-cert-file", files["notpem"], "--client-key-file",
          files["notpem"]), None),
        ((*zfb, "--app-private-key-file", missing, "--alipay-public-key-file", missing), None),
        ((*zfb, "--app-private-key-file", files["notpem"], "--alipay-public-key-file", files["notpem"]), None),
        ((*zfb, "--app-private-key-file", keys["ec"], "--alipay-public-key-file", keys["ec_pub"]), None),
        ((*v3, "--private-key-file", missing, "--apiv3-key-file", files["good32"]), None),
        ((*v3, "--private-key-file", files["notpem"], "--apiv3-key-file", files["good32"]), None),
        ((*v3, "--private-key-file", keys["ec"], "--apiv3-key-file", files["good32"]), None),
        ((*v3, "--private-key-file", keys["rsa"], "--apiv3-key-file", files["short"]),
         "the APIv3 key must be 32 bytes"),
        ((*v3, "--private-key-file", keys["rsa"], "--apiv3-key-file", missing), "--apiv3-key-file: " + no_file),
        ((*pp, "--secret-file", missing), "--secret-file: " + no_file),
        ((*pp, "--secret-file", files["empty"]), "--secret-file: %s is empty" % files["empty"]),
    ]
    for argv, says in cases:
        assert_refused(argv, says)
    assert psql("SELECT count(*) FROM merchants WHERE id = '%s'" % mid) == "0"
    # A mistake in the command itself is still a usage error: a flag missing, or two that go together.
    for argv in ((*wx,), (*wx, "--key-file", files["good32"], "--client-cert-file", files["notpem"]),
                 (*zfb, "--app-private-key-file", keys["rsa"]), (*pp,), (*verify,)):
        res = cli(*argv, check=False)
        assert res.returncode == 2 and "usage: orderpay" in res.stderr and res.stdout == "", (argv, res)


def test_a_currency_only_the_database_names_is_a_refusal():
    """A site or product whose currency orderpay does not price (a row psql wrote: the schema
    takes any three capitals) made `product add` without --currency and `product set --price` a
    usage error, "unsupported currency", as if the command had named it."""
    site = "mist-cur-" + uuid.uuid4().hex[:6]
    cli("site", "add", site, "--store", "demo-users")
    try:
        cli("product", "add", "p1", "--site", site, "--title", "P1", "--price", "1")
        psql("UPDATE products SET currency = 'XYZ' WHERE site_id = '%s'" % site)
        assert refused("product", "set", "p1", "--site", site, "--price", "2") == \
            "orderpay: product p1 is priced in XYZ, which orderpay does not price: re-add it with --currency\n"
        psql("UPDATE sites SET currency = 'XYZ' WHERE id = '%s'" % site)
        assert refused("product", "add", "p2", "--site", site, "--title", "P2", "--price", "1") == \
            "orderpay: site %s sells in XYZ, which orderpay does not price: give --currency\n" % site
        assert psql("SELECT string_agg(id || price, ',') FROM products WHERE site_id = '%s'" % site) == "p1100"
        # Named on the command line, it is the command's mistake: a usage error.
        res = cli("product", "add", "p2", "--site", site, "--title", "P2", "--price", "1", "--currency", "XYZ",
                  check=False)
        assert res.returncode == 2 and "unsupported currency XYZ" in res.stderr, res
    finally:
        psql("DELETE FROM products WHERE site_id = '%s'" % site)
        psql("DELETE FROM sites WHERE id = '%s'" % site)


def test_an_argument_that_is_not_utf8_is_a_usage_error_before_the_database_sees_it():
    """Bytes that are not UTF-8 (a terminal in Latin-1, a pasted binary) reached PostgreSQL as a
    site, account, title or product id, and came back as its `invalid byte sequence for encoding
    "UTF8"` error on three lines, exit 1 (review s32-110). They are a value of the wrong form: a
    usage error naming the flag, nothing asked or changed; an id given as an argument names
    nothing (`no such product`). A file name may still be any bytes."""
    bad = "\udcff\udcfe"  # the bytes FF FE, passed as they are (surrogateescape)
    order = STACK["DEMO_PRODUCT"]
    row = "SELECT count(*) FROM %s"
    tables = ("orders", "refunds", "sessions", "products", "api_keys", "sites")
    before = [psql(row % t) for t in tables] + [psql("SELECT title FROM products WHERE id = '%s'" % order)]
    for argv, says in ((("order", "list", "--site", bad), "--site"),
                       (("refund", "list", "--site", bad), "--site"),
                       (("product", "list", "--site", bad), "--site"),
                       (("apikey", "list", "--site", bad), "--site"),
                       (("apikey", "issue", "--site", bad), "--site"),
                       (("ticket", "issue", "--account", bad), "--account"),
                       (("product", "set", order, "--site", STACK["DEMO_SITE"], "--title", bad), "--title")):
        res = cli(*argv, check=False)
        first = res.stderr.split("\n")[0]
        assert res.returncode == 2 and first == "orderpay: %s: not UTF-8 text" % says, (argv, res.returncode, first)
        assert "ERROR" not in res.stderr and res.stdout == "", (argv, res)
    # An id given as an argument that is not text names nothing: the data says no, one line.
    for argv, says in ((("product", "set", bad, "--site", STACK["DEMO_SITE"], "--stock", "+1"), "no such product"),
                       (("product", "disable", bad, "--site", STACK["DEMO_SITE"]), "no such product"),
                       (("order", "show", bad), "no such order")):
        res = cli(*argv, check=False)
        assert res.returncode == 1 and res.stderr.startswith("orderpay: " + says + " \\xff\\xfe"), (argv, res)
        assert res.stderr.count("\n") == 1 and res.stdout == "", (argv, res)
    assert [psql(row % t) for t in tables] + [psql("SELECT title FROM products WHERE id = '%s'" % order)] == before
    # A file name is any bytes: the file is looked for (and not found), not refused as text.
    res = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), "notify", "verify", "--provider", "wx",
                          "--body", b"/nonexistent-\xff\xfe"], capture_output=True,
                         env=dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"]), timeout=60)
    assert res.returncode == 1 and b"cannot read" in res.stderr, res
