"""Buyer tickets from a shop's login server (POST /api/{site}/admin/ticket and admin/ticket_revoke,
with the site's API key) and from the CLI (`orderpay ticket revoke`): a ticket issued works for
pay/buy and pay/check; the account is created once with its fields, which are kept when left out;
the ticket's life is bounded; no key, a bad key or another site's key is refused; a revoked ticket
(by itself or by its account) is refused by pay/* at once; another site's key cannot end this
store's tickets; every bad input is refused by name and writes nothing."""

import datetime
import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, http, psql
from helpers import admin, buy_ok, check, ensure_site

STORE = "demo-users"  # the demo site's account store (deploy/stack.sh)
OTHER_STORE = "tk-store2"
OTHER_SITE = "tk-site2"
NO_STORE_SITE = "tk-nostore"


def new_account():
    return "tk-" + secrets.token_hex(6)


@pytest.fixture(scope="module")
def key():
    out = cli("apikey", "issue", "--site", STACK["DEMO_SITE"]).stdout
    assert out.startswith("opk_"), out
    return out.strip()


@pytest.fixture(scope="module")
def other_key():
    """A key of another site with its own account store."""
    cli("store", "add", OTHER_STORE)
    ensure_site(OTHER_SITE, "--store", OTHER_STORE)
    return cli("apikey", "issue", "--site", OTHER_SITE).stdout.strip()


def issue(key, account, **fields):
    st, body, raw, _ = admin("ticket", key, dict(account=account, **fields))
    assert st == 200, raw
    assert body["data"]["account"] == account, raw
    return body["data"]


def revoke(key, site=None, **body):
    st, reply, raw, _ = admin("ticket_revoke", key, body, site=site)
    assert st == 200, raw
    return reply["data"]["revoked"]


def account_row(account, store=STORE):
    return psql("SELECT name || '|' || coalesce(wx_openid, '<null>') FROM accounts "
                "WHERE store_id = '%s' AND id = '%s'" % (store, account))


def hours_left(expires_at):
    t = datetime.datetime.strptime(expires_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 3600


def refused_nologin(ticket):
    st, body, raw, _ = check("nosuchorder1", ticket=ticket)
    return st == 401 and body["errCode"] == "e.www.api.auth.nologin"


def test_issued_ticket_buys_and_checks_and_creates_the_account_with_its_fields(key):
    account = new_account()
    t = issue(key, account, ttl_hours=24, name="Carol", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert len(t["ticket"]) >= 32 and 23.9 < hours_left(t["expires_at"]) <= 24, t
    assert account_row(account) == "Carol|oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    # Only the hash is stored.
    assert psql("SELECT count(*) FROM sessions WHERE account_id = '%s' AND ticket_hash = sha256('%s')"
                % (account, t["ticket"])) == "1"
    order = buy_ok(ticket=t["ticket"])
    assert order["buyer_id"] == account, order
    st, body, raw, _ = check(order["id"], ticket=t["ticket"])
    assert st == 200 and body["data"]["id"] == order["id"], raw


def test_fields_left_out_are_kept_and_given_ones_change(key):
    account = new_account()
    issue(key, account, name="Carol", openid="o1")
    issue(key, account)
    assert account_row(account) == "Carol|o1"
    issue(key, account, name=None, openid=None)  # null counts as left out
    assert account_row(account) == "Carol|o1"
    issue(key, account, name="Carol B")
    assert account_row(account) == "Carol B|o1"
    issue(key, account, openid="")  # "" clears, as `account add --openid ""`
    assert account_row(account) == "Carol B|<null>"
    # An account made with no fields: empty name, no openid (as `account add ID --store S`).
    bare = new_account()
    issue(key, bare)
    assert account_row(bare) == "|<null>"


def test_an_existing_account_made_by_the_cli_gets_a_ticket_and_keeps_its_fields(key):
    account = new_account()
    cli("account", "add", account, "--store", STORE, "--name", "Dave", "--openid", "oDave")
    t = issue(key, account, ttl_hours=1)
    assert account_row(account) == "Dave|oDave"
    assert 0.9 < hours_left(t["expires_at"]) <= 1
    assert check("nosuchorder1", ticket=t["ticket"])[0] == 404  # a known buyer, an unknown order


def test_ttl_bounds(key):
    account = new_account()
    assert 8783.9 < hours_left(issue(key, account, ttl_hours=8784)["expires_at"]) <= 8784
    assert 0.9 < hours_left(issue(key, account, ttl_hours=1)["expires_at"]) <= 1
    for bad in (0, -1, 8785, 1.5, 24.0, "24", True, 10**12):
        st, body, raw, _ = admin("ticket", key, {"account": account, "ttl_hours": bad})
        assert st == 400 and body["errCode"] == "e.www.order.invalid.field", (bad, raw)
        assert "ttl_hours" in body["msg"], raw
    assert psql("SELECT count(*) FROM sessions WHERE account_id = '%s'" % account) == "2"


@pytest.mark.parametrize("action", ["ticket", "ticket_revoke"])
def test_no_key_a_bad_key_a_ticket_or_another_sites_key_is_refused(key, other_key, action):
    account = new_account()
    body = {"account": account}
    st, reply, raw, hdrs = admin(action, None, body)
    assert st == 401 and reply["errCode"] == "e.www.api.auth.nokey" and "www-authenticate" in hdrs, raw
    st, reply, raw, _ = admin(action, "opk_nosuch_" + "x" * 40, body)
    assert st == 401 and reply["errCode"] == "e.www.api.auth.badkey", raw
    # A buyer ticket never opens an operator route, in the query or as a bearer token.
    url = "%s/api/%s/admin/%s?ticket=%s" % (STACK["ORDERPAY_URL"], STACK["DEMO_SITE"], action,
                                            STACK["DEMO_TICKET"])
    st, reply, raw, _ = http("POST", url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert st == 401 and reply["errCode"] == "e.www.api.auth.nokey", raw
    st, reply, raw, _ = admin(action, STACK["DEMO_TICKET"], body)
    assert st == 401 and reply["errCode"] == "e.www.api.auth.badkey", raw
    st, reply, raw, _ = admin(action, other_key, body)
    assert st == 403 and reply["errCode"] == "e.www.api.auth.forbidden", raw
    st, reply, raw, _ = admin(action, key, method="GET")
    assert st == 405, raw
    assert account_row(account) == ""


def test_revoke_by_ticket_ends_it_at_once_and_only_it(key):
    account = new_account()
    a, b = issue(key, account)["ticket"], issue(key, account)["ticket"]
    assert not refused_nologin(a) and not refused_nologin(b)
    assert revoke(key, ticket=a) == 1
    assert refused_nologin(a)
    st, body, raw, _ = api("POST", "buy", ticket=a, json={"products": [{"id": STACK["DEMO_PRODUCT"]}],
                                                          "pay_tp": "wx.qrcode"})
    assert st == 401 and body["errCode"] == "e.www.api.auth.nologin", raw
    assert not refused_nologin(b)
    assert revoke(key, ticket=a) == 0  # already ended: not an error
    # The row stays as the record of its end.
    assert psql("SELECT count(*) FROM sessions WHERE account_id = '%s' AND expires_at <= now()" % account) == "1"


def test_revoke_by_account_ends_every_ticket_of_it(key):
    account, other = new_account(), new_account()
    tickets = [issue(key, account)["ticket"] for _ in range(3)]
    kept = issue(key, other)["ticket"]
    assert revoke(key, ticket=tickets[0]) == 1
    assert revoke(key, account=account) == 2  # the live ones
    assert all(refused_nologin(t) for t in tickets)
    assert not refused_nologin(kept)
    assert revoke(key, account=account) == 0
    # Logging in again after a logout works: a new ticket.
    assert not refused_nologin(issue(key, account)["ticket"])


def test_revoke_of_an_unknown_ticket_or_account_is_zero(key):
    assert revoke(key, ticket="no-such-ticket-" + secrets.token_hex(8)) == 0
    assert revoke(key, ticket="x" * 256) == 0
    assert revoke(key, account=new_account()) == 0


def test_another_sites_key_cannot_end_this_stores_tickets(key, other_key):
    account = new_account()
    t = issue(key, account)["ticket"]
    # The other site's store has an account of the same id, with a ticket of its own.
    st, body, raw, _ = admin("ticket", other_key, {"account": account}, site=OTHER_SITE)
    assert st == 200, raw
    theirs = body["data"]["ticket"]
    assert revoke(other_key, site=OTHER_SITE, ticket=t) == 0
    assert not refused_nologin(t)
    # Their ticket is of their store: this site does not know the buyer, and cannot end it.
    st, body, raw, _ = check("nosuchorder1", ticket=theirs)
    assert st == 400 and body["errCode"] == "e.www.order.nil.buyer_id", raw
    assert revoke(key, ticket=theirs) == 0
    assert psql("SELECT count(*) FROM sessions WHERE store_id = '%s' AND account_id = '%s' "
                "AND expires_at > now()" % (OTHER_STORE, account)) == "1"
    # Ending by account ends only the caller's store's account of that id.
    assert revoke(other_key, site=OTHER_SITE, account=account) == 1
    assert not refused_nologin(t)
    assert revoke(key, account=account) == 1
    assert refused_nologin(t)


def test_a_site_without_an_account_store(key):
    psql("INSERT INTO sites (id, name) VALUES ('%s', 'no store') ON CONFLICT (id) DO NOTHING" % NO_STORE_SITE)
    no_store_key = cli("apikey", "issue", "--site", NO_STORE_SITE).stdout.strip()
    for action, body in (("ticket", {"account": new_account()}), ("ticket_revoke", {"account": "carol"})):
        st, reply, raw, _ = admin(action, no_store_key, body, site=NO_STORE_SITE)
        assert st == 400 and reply["errCode"] == "e.www.order.nil.accounts", raw


ISSUE_BAD = [
    ({}, "account is missing"),
    ({"account": None}, "account is missing"),
    ({"account": 5}, "account"),
    ({"account": ["carol"]}, "account"),
    ({"account": ""}, "account"),
    ({"account": "a" * 65}, "account"),
    ({"account": "car ol"}, "account"),
    ({"account": "carol/../x"}, "account"),
    ({"account": "{a}", "name": 5}, "name"),
    ({"account": "{a}", "name": "x" * 65}, "name"),
    ({"account": "{a}", "name": "a\u0007b"}, "name"),
    ({"account": "{a}", "name": {"first": "c"}}, "name"),
    ({"account": "{a}", "openid": 5}, "openid"),
    ({"account": "{a}", "openid": "o" * 129}, "openid"),
    ({"account": "{a}", "openid": "o<script>"}, "openid"),
    ({"account": "{a}", "ttl_hour": 48}, "unknown field ttl_hour"),
]


@pytest.mark.parametrize("body,field", ISSUE_BAD)
def test_bad_issue_input_is_refused_by_name_and_writes_nothing(key, body, field):
    account = new_account()
    body = {k: (account if v == "{a}" else v) for k, v in body.items()}
    st, reply, raw, _ = admin("ticket", key, body)
    assert st == 400 and reply["errCode"] == "e.www.order.invalid.field", raw
    assert field in reply["msg"], raw
    assert account_row(account) == ""


REVOKE_BAD = [
    ({}, "ticket or account is missing"),
    ({"ticket": None, "account": None}, "ticket or account is missing"),
    ({"ticket": "t", "account": "carol"}, "not both"),
    ({"ticket": 5}, "ticket"),
    ({"ticket": ""}, "ticket"),
    ({"ticket": "t" * 257}, "ticket"),
    ({"ticket": "a b"}, "ticket"),
    ({"account": 5}, "account"),
    ({"account": "a" * 65}, "account"),
    ({"tickets": ["t"]}, "unknown field tickets"),
]


@pytest.mark.parametrize("body,field", REVOKE_BAD)
def test_bad_revoke_input_is_refused_by_name(key, body, field):
    st, reply, raw, _ = admin("ticket_revoke", key, body)
    assert st == 400 and reply["errCode"] == "e.www.order.invalid.field", raw
    assert field in reply["msg"], raw


@pytest.mark.parametrize("action", ["ticket", "ticket_revoke"])
def test_bad_bodies(key, action):
    account = new_account()
    field = "account" if action == "ticket" else "ticket"
    cases = [
        (dict(raw="account=" + account, headers={"Content-Type": "application/x-www-form-urlencoded"}),
         415, "e.www.api.unsupported_media_type"),
        (dict(raw=json.dumps({field: account}), headers={"Content-Type": "text/plain"}),
         415, "e.www.api.unsupported_media_type"),
        (dict(raw="{\"%s\":" % field), 400, "e.www.api.invalid.json"),
        (dict(raw="not json"), 400, "e.www.api.invalid.json"),
        (dict(raw="[\"%s\"]" % account), 400, "e.www.api.invalid.json"),
        (dict(raw="{\"%s\":\"a\",\"%s\":\"b\"}" % (field, field)), 400, "e.www.api.invalid.json"),
        (dict(raw=b"{\"" + field.encode() + b"\":\"\xff\"}"), 400, "e.www.api.invalid.encoding"),
        (dict(raw="{\"%s\":\"a\\u0000b\"}" % field), 400, "e.www.api.invalid.encoding"),
        (dict(raw=""), 400, "e.www.api.invalid.json"),
        # Over orderpayd's 4 KB, and over nginx's 64k.
        (dict(raw=json.dumps({field: account, "name": "x" * 5000})), 413, "e.www.api.too_large"),
        (dict(raw=json.dumps({field: account, "name": "x" * 70000})), 413, "e.www.api.too_large"),
    ]
    for kw, status, code in cases:
        st, reply, raw, _ = admin(action, key, **kw)
        assert st == status and reply["errCode"] == code, (kw.get("raw", "")[:80], raw)
    assert account_row(account) == ""


def test_concurrent_issues_for_a_new_account_create_it_once(key):
    account = new_account()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: admin("ticket", key, {"account": account, "name": "N"}), range(16)))
    assert [r[0] for r in results] == [200] * 16, [r[2] for r in results if r[0] != 200]
    tickets = {r[1]["data"]["ticket"] for r in results}
    assert len(tickets) == 16
    assert psql("SELECT count(*) FROM accounts WHERE id = '%s'" % account) == "1"
    assert psql("SELECT count(*) FROM sessions WHERE account_id = '%s' AND expires_at > now()" % account) == "16"
    assert revoke(key, account=account) == 16


def test_cli_revoke_by_ticket_and_by_account(key):
    account = new_account()
    cli("account", "add", account, "--store", STORE)
    t1 = cli("ticket", "issue", "--account", account).stdout.strip()
    t2 = issue(key, account)["ticket"]
    t3 = issue(key, account)["ticket"]
    res = cli("ticket", "revoke", t1)
    assert res.stdout == "revoked 1 tickets\n" and res.stderr == "", res
    assert refused_nologin(t1) and not refused_nologin(t2)
    assert cli("ticket", "revoke", t1).stdout == "revoked 0 tickets\n"
    res = cli("ticket", "revoke", "--account", account, "--store", STORE)
    assert res.stdout == "revoked 2 tickets\n", res
    assert refused_nologin(t2) and refused_nologin(t3)
    assert cli("ticket", "revoke", "--account", account).stdout == "revoked 0 tickets\n"


def test_cli_revoke_refusals():
    res = cli("ticket", "revoke", "--account", "nobody-x", "--store", STORE, check=False)
    assert res.returncode == 1 and res.stderr == "orderpay: no such account nobody-x in store %s\n" % STORE, res
    for args in ([], ["t1", "--account", "a"], ["t1", "t2"], ["t1", "--store", STORE], ["--store", STORE]):
        res = cli("ticket", "revoke", *args, check=False)
        assert res.returncode == 2 and "ticket revoke" in res.stderr, (args, res)
    res = cli("ticket", "revoke", "--acount", "a", check=False)
    assert res.returncode == 2 and "takes no --acount" in res.stderr, res
    res = cli("ticket", "revoke", "t1", "--json", check=False)
    assert res.returncode == 2 and "no --json output" in res.stderr, res
