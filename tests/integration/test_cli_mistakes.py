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
