"""Ordinary CLI mistakes are said in one line, exit 1, nothing changed: no PostgreSQL
foreign-key or CHECK text and no 50-line usage after it (review s28-newuser #7)."""

import uuid

from conftest import STACK, cli, psql

ID_RULE = "must be 1 to 64 characters of A-Z a-z 0-9 _ . -"


def refused(*args):
    res = cli(*args, check=False)
    assert res.returncode == 1 and res.stdout == "", res
    assert res.stderr.startswith("orderpay: ") and res.stderr.count("\n") == 1, res.stderr
    assert "ERROR" not in res.stderr and "usage" not in res.stderr, res.stderr
    return res.stderr


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
        ]
        for argv, says in refusals:
            res = cli(*argv, check=False)
            assert res.returncode == 1 and res.stdout == "", (argv, res)
            assert res.stderr.startswith("orderpay: ") and res.stderr.count("\n") == 1, (argv, res.stderr)
            assert "usage" not in res.stderr and "ERROR" not in res.stderr, (argv, res.stderr)
            if says:
                assert res.stderr == "orderpay: %s\n" % says, (argv, res.stderr)
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
