"""The operator CLI's guard rails: --json anywhere, site add never resets an existing site,
site set changes only what it is given, sellers must be of their prefix's provider, and
merchant add asks the provider for its own flags."""

import json
import os
import subprocess
import uuid

from conftest import STACK, cli, psql
from helpers import wait_for


def test_json_before_or_after_the_command():
    before = json.loads(cli("--json", "site", "list").stdout)
    after = json.loads(cli("site", "list", "--json").stdout)
    assert before == after and any(s["id"] == STACK["DEMO_SITE"] for s in before)


def test_sql_usage_errors_are_usage_errors():
    """`orderpay sql` runs before the config is read, on a path of its own: a flag it does not take
    exited 1 without the usage, where every other command exits 2 with it, and `--json` given
    before the command was dropped, so `orderpay --json sql` printed the text list with exit 0
    (README: a script that asked for JSON never gets text)."""
    for args in (("--json", "sql"), ("sql", "--json"), ("sql", "--foo", "x"), ("sql", "--limit", "3")):
        res = cli(*args, check=False)
        assert res.returncode == 2 and "usage: orderpay" in res.stderr and res.stdout == "", (args, res)
    assert "site_get" in cli("sql").stdout.split()
    res = cli("sql", "no_such_statement", check=False)
    assert res.returncode == 1 and "no statement no_such_statement" in res.stderr, res


def test_site_add_refuses_an_existing_site_and_set_changes_only_given_fields():
    site = "cli-" + uuid.uuid4().hex[:6]
    cli("site", "add", site, "--store", "demo-users", "--name", "First", "--expire-minutes", "45")
    res = cli("site", "add", site, "--name", "Second", check=False)
    assert res.returncode == 1 and "exists already" in res.stderr and "site set" in res.stderr, res.stderr
    row = psql("SELECT name, account_store, expire_minutes FROM sites WHERE id = '%s'" % site)
    assert row == "First|demo-users|45"
    cli("site", "set", site, "--name", "Renamed")
    assert psql("SELECT name, account_store, expire_minutes FROM sites WHERE id = '%s'" % site) == \
        "Renamed|demo-users|45"
    assert cli("site", "set", "no-such-" + site, "--name", "x", check=False).returncode == 1
    assert cli("site", "set", site, "--expire-minutes", "0", check=False).returncode == 2
    assert cli("site", "set", site, "--currency", "XXX", check=False).returncode == 2


def test_ticket_lifetime_must_be_positive():
    for ttl in ("0", "-1", "abc", ""):
        assert cli("ticket", "issue", "--account", STACK["DEMO_ACCOUNT"], "--ttl-hours", ttl,
                   check=False).returncode == 2, ttl


def test_seller_must_be_a_merchant_of_that_provider():
    res = cli("seller", "set", "--site", STACK["DEMO_SITE"], "--prefix", "wx", "--merchant",
              STACK["DEMO_ZFB_MERCHANT"], check=False)
    assert res.returncode == 1 and "is a zfb merchant, not wx" in res.stderr, res.stderr
    assert psql("SELECT merchant_id FROM site_sellers WHERE site_id = '%s' AND prefix = 'wx'"
                % STACK["DEMO_SITE"]) == STACK["DEMO_MERCHANT"]


def test_merchant_add_checks_provider_and_its_flags(tmp_path):
    res = cli("merchant", "add", "pp-x", "--provider", "nosuch", check=False)
    assert res.returncode == 2 and "unknown provider nosuch" in res.stderr, res.stderr
    key = tmp_path / "short.key"
    key.write_text("tooshort\n")
    res = cli("merchant", "add", "wx-short", "--provider", "wx", "--app-id", "wxa", "--mch-id", "1",
              "--key-file", key, check=False)
    # The command was right, the key file says no: one line, exit 1 (test_cli_mistakes).
    assert res.returncode == 1 and "32 characters" in res.stderr and "usage" not in res.stderr, res.stderr
    res = cli("merchant", "add", "wx-noapp", "--provider", "wx", "--mch-id", "1", "--key-file", key, check=False)
    assert res.returncode == 2 and "missing --app-id" in res.stderr, res.stderr
    assert psql("SELECT count(*) FROM merchants WHERE id IN ('wx-short', 'wx-noapp')") == "0"


def test_notify_verify_says_what_it_assumed(tmp_path):
    body = tmp_path / "n.xml"
    body.write_text("<xml><out_trade_no>nosuchslip</out_trade_no></xml>")
    res = cli("notify", "verify", "--site", STACK["DEMO_SITE"], "--body", body, check=False)
    assert "assuming --provider wx" in res.stderr, res.stderr
    assert res.returncode == 1


def test_product_add_again_without_stock_keeps_the_count():
    """`product add` is also how a price changes. Without --stock it made a product of 5
    unlimited, and a buy of 50 went through (review s25-newuser #1): an existing product now keeps
    its count; `--stock unlimited` lifts it on purpose; a count that is not one is refused before
    the database sees it."""
    from helpers import buy
    pid = "cli-stock-" + uuid.uuid4().hex[:6]
    base = ["product", "add", pid, "--site", STACK["DEMO_SITE"], "--title", "Counted"]
    cli(*base, "--price", "2.00", "--stock", "5")
    cli(*base, "--price", "2.50")
    row = "SELECT price, stock, stock_initial FROM products WHERE id = '%s'" % pid
    assert psql(row) == "250|5|5"
    st, body, raw, _ = buy(products=[{"id": pid, "amount": 50}])
    assert st == 409 and body["errCode"] == "e.www.order.OutOfStore", raw
    for bad in ("-3", "five", "1.5", "", "99999999999999999999"):
        res = cli(*base, "--price", "2.50", "--stock", bad, check=False)
        assert res.returncode == 2 and "--stock" in res.stderr and "ERROR" not in res.stderr, (bad, res)
    assert psql(row) == "250|5|5"
    cli(*base, "--price", "2.50", "--stock", "unlimited")
    assert psql(row) == "250||"
    cli(*base, "--price", "2.50", "--stock", "0")
    assert psql(row) == "250|0|0"


def test_the_cli_usage_and_the_readme_name_the_same_flags():
    """The CLI's own usage (what every usage error prints, and what the man page sends a reader
    to) had fallen behind the README's block: no PayPal or v3 merchants, no --return-url, no
    --despite-conflict (review s25-newuser #3). Every flag either names is in both."""
    import os
    import re
    res = cli(check=False)
    assert res.returncode == 2, res
    usage = res.stdout + res.stderr
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    block = readme.split("## The operator CLI", 1)[1].split("```", 2)[1]
    flags = lambda text: set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    assert flags(block) - flags(usage) == set(), sorted(flags(block) - flags(usage))
    assert flags(usage) - flags(block) == set(), sorted(flags(usage) - flags(block))
    commands = lambda text: set(re.findall(r"(?:^\s{2}|\| )([a-z]+(?: [a-z]+)?)\b", text, re.M))
    assert commands(block) <= commands(usage) | {"orderpay"}, sorted(commands(block) - commands(usage))


def test_store_and_account_add_again_change_only_what_is_given():
    """`store add` and `account add` run again without a field wiped it: the name, and an
    account's openid, which its JSAPI payments need. A store or site that does not exist is said
    so, not as PostgreSQL's foreign-key text (review s25-newuser #5, #6)."""
    tag = uuid.uuid4().hex[:6]
    st, acct = "cli-store-" + tag, "cli-acct-" + tag
    cli("store", "add", st, "--name", "First")
    cli("store", "add", st)
    assert psql("SELECT name FROM account_stores WHERE id = '%s'" % st) == "First"
    cli("account", "add", acct, "--store", st, "--name", "Carol", "--openid", "oCarol")
    cli("account", "add", acct, "--store", st)
    row = "SELECT name, coalesce(wx_openid, '-') FROM accounts WHERE store_id = '%s' AND id = '%s'" % (st, acct)
    assert psql(row) == "Carol|oCarol"
    cli("account", "add", acct, "--store", st, "--name", "Caroline")
    assert psql(row) == "Caroline|oCarol"
    cli("account", "add", acct, "--store", st, "--openid", "")
    assert psql(row) == "Caroline|-"
    # Refused, not usage errors: the command is right and the data says no (exit 1, as `site set`
    # of no site), one line naming what is missing and no usage text; they exited 2.
    for args, what in ((["account", "add", acct, "--store", "nosuch-" + tag], "no such store nosuch-" + tag),
                       (["seller", "set", "--site", "nosuch-" + tag, "--prefix", "wx", "--merchant", "wx-demo"],
                        "no such site nosuch-" + tag),
                       (["seller", "set", "--site", STACK["DEMO_SITE"], "--prefix", "wx", "--merchant",
                         "nosuch-" + tag], "no such merchant nosuch-" + tag),
                       (["product", "add", "p-" + tag, "--site", "nosuch-" + tag, "--title", "T", "--price", "1"],
                        "no such site nosuch-" + tag)):
        res = cli(*args, check=False)
        assert (res.returncode, res.stdout, res.stderr) == (1, "", "orderpay: %s\n" % what), res
    assert psql("SELECT count(*) FROM accounts WHERE store_id = 'nosuch-%s'" % tag) == "0"
    assert psql("SELECT count(*) FROM site_sellers WHERE site_id = 'nosuch-%s' OR merchant_id = 'nosuch-%s'"
                % (tag, tag)) == "0"


def test_every_list_json_gives_numbers_booleans_and_null_as_json():
    """`site list --json` said "expire_minutes":"30" and `product list --json`
    {"price_minor":"999","stock":"3","active":"t"}: libpq's text, typed by nothing. Every listing
    now gives a number as a JSON number, a boolean as true/false and NULL as null, so a script
    need not know which columns to convert. Each listing has rows of every kind here: a product
    counted and one not, a site without return URL, an order paid and refunded, a notification,
    an API key."""
    from helpers import buy_ok, sim_pay, wait_state
    tag = uuid.uuid4().hex[:6]
    site = STACK["DEMO_SITE"]
    cli("product", "add", "cli-json-" + tag, "--site", site, "--title", "Counted", "--price", "9.99", "--stock", "3")
    cli("product", "add", "cli-free-" + tag, "--site", site, "--title", "Free", "--price", "1", "--stock", "unlimited")
    cli("site", "add", "cli-json-" + tag, "--store", "demo-users")
    paid = buy_ok("zfb.scan", auth_code="280000000000000002")
    cli("refund", paid["id"], "--amount", "1", "--reason", "json listing", "--key", "json-" + tag)
    notified = buy_ok()
    sim_pay(notified["pay_id"])
    wait_state(notified["id"], "OK")
    cli("apikey", "issue", "--site", site)

    text, num, whole, boolean, none = str, (int, float), int, bool, type(None)
    shapes = {
        ("store", "list"): {"id": text, "name": text},
        ("site", "list"): {"id": text, "name": text, "account_store": (text, none), "currency": text,
                           "expire_minutes": whole, "return_url": (text, none)},
        ("account", "list"): {"store": text, "id": text, "name": text, "openid": (text, none)},
        ("product", "list"): {"site": text, "id": text, "title": text, "price_minor": whole, "price": num,
                              "currency": text, "stock": (whole, none), "active": boolean},
        ("merchant", "list"): {"id": text, "provider": text, "app_id": text, "mch_id": text, "sign_type": text},
        ("seller", "list"): {"site": text, "prefix": text, "merchant": text},
        ("order", "list"): {"id": text, "site": text, "buyer_id": text, "or_st": text, "fee_minor": whole,
                            "fee": num, "currency": text, "chargeback_at": (whole, none),
                            "held_minor": whole, "held": num},
        ("refund", "list"): {"id": text, "order": text, "slip": text, "site": text, "provider": text,
                             "amount": num, "currency": text, "st": text, "reason": text,
                             "requested_by": text, "note": text, "ct": whole},
        ("apikey", "list"): {"id": text, "site": text, "ct": whole, "revoked": boolean},
        ("inbox", "list"): {"id": whole, "provider": text, "site": text, "slip": (text, none), "method": text,
                            "verdict": text, "reason": text, "ct": whole, "request_id": (text, none)},
    }
    for cmd, shape in shapes.items():
        rows = json.loads(cli(*cmd, "--json").stdout)
        assert rows, cmd
        for row in rows:
            assert set(row) == set(shape), (cmd, row)
            for key, kinds in shape.items():
                kinds = kinds if isinstance(kinds, tuple) else (kinds,)
                # bool is an int to isinstance: a number column must not be true/false, nor the reverse
                assert type(row[key]) in kinds, (cmd, key, row)
    products = {p["id"]: p for p in json.loads(cli("product", "list", "--site", site, "--json").stdout)}
    assert products["cli-json-" + tag]["price_minor"] == 999 and products["cli-json-" + tag]["stock"] == 3
    assert products["cli-json-" + tag]["price"] == 9.99
    assert products["cli-json-" + tag]["active"] is True and products["cli-free-" + tag]["stock"] is None
    sites = {s["id"]: s for s in json.loads(cli("site", "list", "--json").stdout)}
    assert sites["cli-json-" + tag]["expire_minutes"] == 30 and sites["cli-json-" + tag]["return_url"] is None


def test_notify_verify_fails_an_id_the_message_leaves_out_and_says_so(tmp_path):
    """A signed PayPal webhook naming no slip, verified without --site (no merchant of ours to
    compare with), printed "PASS app_id: notified , merchant " and "FAIL slip: no slip " (review
    new-user): an id the message leaves out now fails and is named, and no line ends in a space.
    A WeChat message signed without appid or out_trade_no says the same with the site's merchant."""
    from test_hostile_notify import paypal_webhook, wx_fields, wx_xml
    headers, body = paypal_webhook("", "1.00")
    hfile, bfile = tmp_path / "h", tmp_path / "b"
    hfile.write_text("".join("%s: %s\n" % kv for kv in headers.items()))
    bfile.write_text(body)
    res = cli("notify", "verify", "--provider", "paypal", "--headers", hfile, "--body", bfile, "--webhook-id",
              STACK["DEMO_PAYPAL_WEBHOOK_ID"], check=False)
    out = res.stdout
    assert res.returncode == 0 and "PASS signature" in out, out + res.stderr
    assert "FAIL app_id: none notified, no merchant on record to compare with" in out, out
    assert "FAIL mch_id: none notified, no merchant on record to compare with" in out, out
    assert "FAIL out_trade_no: none signed" in out, out
    assert "FAIL slip: the notification names no slip" in out, out
    assert "verdict: slip check failed: the notification names no slip\n" in out, out
    assert not [ln for ln in out.splitlines() if ln.endswith(" ")], out

    bfile.write_text(wx_xml(wx_fields("x", 100, appid=None, out_trade_no=None)))
    res = cli("notify", "verify", "--site", STACK["DEMO_SITE"], "--provider", "wx", "--body", bfile, check=False)
    out = res.stdout
    assert res.returncode == 0 and "PASS signature" in out, out + res.stderr
    assert "FAIL app_id: none notified, merchant %s\n" % STACK["DEMO_WX_APP_ID"] in out, out
    assert "PASS mch_id: notified %s, merchant %s\n" % ((STACK["DEMO_WX_MCH_ID"],) * 2) in out, out
    assert "FAIL out_trade_no: none signed\n" in out and "FAIL slip: the notification names no slip\n" in out, out
    assert not [ln for ln in out.splitlines() if ln.endswith(" ")], out


def test_audit_list_json_is_json():
    """`audit --list --json` printed the text list: --json never gives text (README). It gives
    each invariant's name, as a violation's "invariant" names it, and its meaning."""
    listed = json.loads(cli("audit", "--list", "--json").stdout)
    text = cli("audit", "--list").stdout.splitlines()
    assert [(x["invariant"], x["meaning"]) for x in listed] == [tuple(ln.split("\t", 1)) for ln in text], listed
    assert "stock_conserved" in {x["invariant"] for x in listed}


def test_ticket_for_no_such_account_is_not_a_usage_error():
    """`ticket issue --account nobody --store demo-users` exited 2 with the whole usage text, as if
    the command were wrong: it is the data that says no, as `site set nosuch` (exit 1)."""
    for args, says in ((["--store", "demo-users"], "no such account nobody-x in store demo-users\n"),
                       ([], "no such account nobody-x\n")):
        res = cli("ticket", "issue", "--account", "nobody-x", *args, check=False)
        assert res.returncode == 1 and res.stderr == "orderpay: " + says and res.stdout == "", res


def test_a_database_it_cannot_reach_is_named_with_libpq_reason_and_migrate_only_for_an_old_schema():
    """With no role or database yet (the install steps once left them out) or the server down, the
    CLI said "cannot connect to the database (or schema not migrated: run orderpay migrate)", and
    migrate failed the same way; libpq's reason was only in an escaped log line (review
    s27-newuser #5). It now ends with libpq's reason on one plain line, and suggests migrate only
    when it connected and the schema is older than the build."""
    host, port = STACK["PGHOST"], STACK["PGPORT"]
    cases = [
        ("host=%s port=%s dbname=nosuch_db user=orderpay" % (host, port), 'database "nosuch_db" does not exist'),
        ("host=%s port=%s dbname=orderpay user=nosuch_role" % (host, port), 'role "nosuch_role" does not exist'),
        ("host=%s port=1 dbname=orderpay user=orderpay" % host,
         "No such file or directory; Is the server running locally and accepting connections on that socket?"),
    ]
    for db, reason in cases:
        for cmd in (["store", "list"], ["migrate"]):
            res = cli(*cmd, check=False, env={"ORDERPAY_DB": db})
            assert res.returncode == 1 and res.stdout == "", (cmd, res)
            # That line alone: the worker's log line ("warn: database unavailable: ...\x0a", escaped)
            # was printed above it.
            [last] = one_line(res.stderr)
            assert last.startswith("orderpay: cannot connect to the database: ") and reason in last, (cmd, last)
            assert "migrate" not in last and "\\x0" not in last, (cmd, last)
    # It connects, but to a database with none of orderpay's tables: that one migrate mends.
    res = cli("store", "list", check=False, env={"ORDERPAY_DB": "host=%s port=%s dbname=postgres user=orderpay"
                                                 % (host, port)})
    [last] = one_line(res.stderr)
    assert res.returncode == 1 and last.startswith("orderpay: the database's schema is older than this build (prepare "), res
    assert "does not exist" in last and last.endswith("): run orderpay migrate"), last


def one_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1 and stderr.endswith("\n"), stderr
    return lines


def paysim(*args, env=None, stdin=""):
    full = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], **(env or {}))
    return subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "paysim"), *args], env=full, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_paysim_names_a_database_it_cannot_reach_as_orderpay_does():
    """paysim's CLI still said "database unavailable (or not migrated: run paysim migrate)" (with
    the escaped log line above it) whatever libpq's reason was: it now says what orderpay's does,
    on one line."""
    host, port = STACK["PGHOST"], STACK["PGPORT"]
    add = ["merchant", "add", "--provider", "paypal", "--client-id", "nosuch", "--secret-file", "-",
           "--webhook-id", "WH-NOSUCH"]
    for db, reason in (("host=%s port=%s dbname=nosuch_db user=orderpay" % (host, port),
                        'database "nosuch_db" does not exist'),
                       ("host=%s port=1 dbname=orderpay user=orderpay" % host, "No such file or directory")):
        for cmd in (["migrate"], add):
            res = paysim(*cmd, env={"ORDERPAY_DB": db}, stdin="secret\n")
            assert res.returncode == 1 and res.stdout == "", (cmd, res)
            [line] = one_line(res.stderr)
            assert line.startswith("paysim: cannot connect to the database: ") and reason in line, (cmd, line)
            assert "migrate" not in line, (cmd, line)
    # Connected, with none of paysim's tables: that one its migrate mends.
    res = paysim(*add, env={"ORDERPAY_DB": "host=%s port=%s dbname=postgres user=orderpay" % (host, port)},
                 stdin="secret\n")
    [line] = one_line(res.stderr)
    assert res.returncode == 1 and line.startswith("paysim: the database's schema is older than this build ("), res
    assert line.endswith("): run paysim migrate"), line


def test_paysim_takes_the_same_db_default_as_orderpay(tmp_path):
    """A config without `db`: paysim serve stopped ("config key db is empty") while its migrate
    connected with libpq's defaults; both now take orderpay's default, dbname=orderpay (the
    stack's database, reached here through libpq's PGHOST and PGPORT)."""
    sock = tmp_path / "sim.sock"
    conf = tmp_path / "paysim.conf"
    conf.write_text("paysim.listen = %s\npaysim.workers = 1\n" % sock)
    env = {k: v for k, v in os.environ.items() if k not in ("ORDERPAY_DB", "PGDATABASE")}
    env.update(ORDERPAY_CONFIG=str(conf), PGHOST=STACK["PGHOST"], PGPORT=STACK["PGPORT"], PGUSER="orderpay")
    bin_ = os.path.join(STACK["ORDERPAY_BIN"], "paysim")
    res = subprocess.run([bin_, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("paysim schema up to date"), res
    proc = subprocess.Popen([bin_, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert wait_for(lambda: sock.exists() or proc.poll() is not None, 30)
        assert proc.poll() is None, proc.stderr.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_paysim_help_names_every_key_it_reads():
    """`paysim --help` listed five config keys; paysim also reads paysim.paypal_cert_base,
    paysim.paypal_sign_key_file and paysim.paypal_web_base (README's Configuration table: the
    keys marked "paysim only"), which the dev stack sets for its PayPal webhooks."""
    import re
    res = paysim("--help")
    assert res.returncode == 0, res
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "README.md"), encoding="utf-8") as f:
        table = f.read().split("| key | default |", 1)[1].split("\n\n", 1)[0]
    keys = {"db"} | set(re.findall(r"`(paysim\.[a-z_]+)`", table))
    assert len(keys) == 8, keys
    helped = set(re.findall(r"(?<![\w.])(db|paysim\.[a-z_]+)(?!\w|\.\w)", res.stdout.split("keys:", 1)[1]))
    assert keys - helped == set(), sorted(keys - helped)


def test_product_enable_refuses_a_currency_the_site_does_not_sell():
    """`site set --currency` is refused while active products are in another currency, and its
    advice is to withdraw them first; `product enable` then sold CNY on a "USD" site again
    (review s28-newuser #6). It is refused the same way: exit 1, nothing changed."""
    site, pid = "cli-cur-" + uuid.uuid4().hex[:6], "p1"
    cli("site", "add", site, "--store", "demo-users")
    try:
        cli("product", "add", pid, "--site", site, "--title", "P1", "--price", "10")
        cli("product", "disable", pid, "--site", site)
        cli("site", "set", site, "--currency", "USD")
        res = cli("product", "enable", pid, "--site", site, check=False)
        assert res.returncode == 1 and res.stdout == "" and res.stderr.count("\n") == 1, res
        assert "priced in CNY" in res.stderr and "sells in USD" in res.stderr, res.stderr
        assert "nothing changed" in res.stderr and "--currency USD" in res.stderr, res.stderr
        assert psql("SELECT active FROM products WHERE site_id = '%s'" % site) == "f"
        # Re-added in the site's currency (it stays withdrawn), it may be sold again.
        cli("product", "add", pid, "--site", site, "--title", "P1", "--price", "1.50")
        assert cli("product", "enable", pid, "--site", site).stdout == "product p1 on sale\n"
        assert psql("SELECT active || currency FROM products WHERE site_id = '%s'" % site) == "trueUSD"
    finally:
        psql("DELETE FROM products WHERE site_id = '%s'" % site)
        psql("DELETE FROM sites WHERE id = '%s'" % site)


def test_ticket_revoke_of_an_account_with_none_is_0_and_of_no_account_an_error():
    """The API answers a retried logout {"revoked":0}; the CLI says a mistyped account (exit 1)
    rather than "revoked 0", and the README and man page say so (review s28-newuser #11)."""
    import os
    acct = "cli-rv-" + uuid.uuid4().hex[:6]
    cli("account", "add", acct, "--store", "demo-users")
    try:
        res = cli("ticket", "revoke", "--account", acct)
        assert res.stdout == "revoked 0 tickets\n" and res.stderr == "", res
        res = cli("ticket", "revoke", "--account", "nosuch-" + acct, check=False)
        assert res.returncode == 1 and res.stdout == "" and \
            res.stderr == "orderpay: no such account nosuch-%s\n" % acct, res
    finally:
        psql("DELETE FROM accounts WHERE store_id = 'demo-users' AND id = '%s'" % acct)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    for doc in ("README.md", os.path.join("docs", "man", "orderpay.1")):
        with open(os.path.join(here, doc), encoding="utf-8") as f:
            text = " ".join(f.read().split())
        assert "no such account" in text and "not exist" in text, doc


def test_text_listings_show_amounts_as_price_and_amount_take_them():
    """`product list` showed price_minor 350 for a 3.50 CNY cup and `order show` "1250 CNY (minor
    units)", while --price and --amount take 3.50 and 12.50: copied, a price went live 100 times
    too high (review s28-newuser #1). JPY has no decimals; --json keeps its minor units."""
    from helpers import buy_ok
    tag = uuid.uuid4().hex[:6]
    site, yen = STACK["DEMO_SITE"], "amt-" + tag
    cli("site", "add", yen, "--store", "demo-users", "--currency", "JPY")
    try:
        cli("product", "add", "cup-" + tag, "--site", site, "--title", "Cup", "--price", "3.5")
        cli("product", "add", "pot-" + tag, "--site", yen, "--title", "Pot", "--price", "1250", "--stock", "4")
        listed = cli("product", "list", "--site", site).stdout.splitlines()
        assert listed[0] == "site\tid\ttitle\tprice\tcurrency\tstock\tactive", listed[0]
        assert "%s\tcup-%s\tCup\t3.50\tCNY\tunlimited\tt" % (site, tag) in listed, listed
        assert cli("product", "list", "--site", yen).stdout.splitlines()[1:] == [
            "%s\tpot-%s\tPot\t1250\tJPY\t4\tt" % (yen, tag)]
        rows = {p["id"]: p for p in json.loads(cli("product", "list", "--site", site, "--json").stdout)}
        assert (rows["cup-" + tag]["price_minor"], rows["cup-" + tag]["price"]) == (350, 3.5), rows["cup-" + tag]
        assert json.loads(cli("product", "list", "--site", yen, "--json").stdout)[0]["price"] == 1250
        # An order: 2 of the cup (7.00), refunded 1.25 of it.
        order = buy_ok("zfb.scan", auth_code="280000000000000002", products=[{"id": "cup-" + tag, "amount": 2}])
        assert order["or_st"] == "OK", order
        cli("refund", order["id"], "--amount", "1.25", "--reason", "chipped", "--key", "amt-" + tag)
        shown = cli("order", "show", order["id"]).stdout
        assert " state OK fee 7.00 CNY via zfb.scan\n" in shown and "minor units" not in shown, shown
        assert " OK 1.25 CNY reason: chipped\n" in shown, shown
        line = [l for l in cli("order", "list", "--site", site, "--limit", "1000").stdout.splitlines()
                if l.startswith(order["id"])]
        assert line and line[0].split("\t")[4] == "7.00 CNY", line
        listed = [o for o in json.loads(cli("order", "list", "--site", site, "--limit", "1000", "--json").stdout)
                  if o["id"] == order["id"]]
        assert (listed[0]["fee_minor"], listed[0]["fee"]) == (700, 7.0), listed
    finally:
        cli("product", "disable", "cup-" + tag, "--site", site)
        psql("DELETE FROM products WHERE site_id = '%s'" % yen)
        psql("DELETE FROM sites WHERE id = '%s'" % yen)


def test_expire_says_what_it_pruned():
    """Every run of `expire` also drops tickets that ended over ticket.keep_ended_days ago and
    notifications past notify.keep_rejected_days (never verified) and notify.keep_days (decided),
    but its report (and --json) said only what it expired: how much it deleted was in the log
    alone. Both now say it. The first run drops what other tests left old enough, so the second
    counts exactly the rows written here (ages no other test's rows have)."""
    import secrets
    env = {"ORDERPAY_NOTIFY_KEEP_DAYS": "300"}
    cli("expire", "--limit", "100000", env=env)
    store = psql("SELECT account_store FROM sites WHERE id = '%s'" % STACK["DEMO_SITE"])
    acct = "expire-rep-" + secrets.token_hex(4)
    cli("account", "add", acct, "--store", store)
    notes = []
    try:
        for ended in ("400 days", "401 days", "402 days", "-1 day"):  # three ended, one live
            psql("INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at, ct) VALUES "
                 "(decode('%s', 'hex'), '%s', '%s', now() - interval '%s', now() - interval '500 days')"
                 % (secrets.token_hex(32), store, acct, ended))
        for verdict, reason in (("rejected", "unverified: signature invalid"),
                                ("rejected", "unverified: malformed XML"), ("settled", "")):
            notes += psql("INSERT INTO notifications (provider, site_id, body, verdict, reason, ct, decided_at) "
                          "VALUES ('wx', '%s', convert_to('x', 'UTF8'), '%s', '%s', now() - interval '400 days', "
                          "now() - interval '400 days') RETURNING id" % (STACK["DEMO_SITE"], verdict, reason)
                          ).splitlines()[:1]
        out = json.loads(cli("expire", "--json", "--limit", "100000", env=env).stdout)
        assert out["pruned"] == {"tickets": 3, "unverified_notifications": 2, "decided_notifications": 1}, out
        assert psql("SELECT count(*) FROM sessions WHERE account_id = '%s'" % acct) == "1"
        assert psql("SELECT count(*) FROM notifications WHERE id IN (%s)" % ",".join(notes)) == "0"
        text = cli("expire", "--limit", "100000", env=env).stdout.splitlines()
        assert text[-1] == "pruned 0 ended tickets, 0 unverified notifications, 0 decided notifications", text
        assert text[0].startswith("expired "), text
        # Retention off (0 days): nothing is pruned, and the report says 0.
        off = {"ORDERPAY_NOTIFY_KEEP_DAYS": "0", "ORDERPAY_TICKET_KEEP_ENDED_DAYS": "0",
               "ORDERPAY_NOTIFY_KEEP_REJECTED_DAYS": "0"}
        psql("INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at, ct) VALUES "
             "(decode('%s', 'hex'), '%s', '%s', now() - interval '400 days', now() - interval '500 days')"
             % (secrets.token_hex(32), store, acct))
        out = json.loads(cli("expire", "--json", "--limit", "100000", env=off).stdout)
        assert out["pruned"] == {"tickets": 0, "unverified_notifications": 0, "decided_notifications": 0}, out
        assert psql("SELECT count(*) FROM sessions WHERE account_id = '%s'" % acct) == "2"
    finally:
        psql("DELETE FROM accounts WHERE store_id = '%s' AND id = '%s'" % (store, acct))
        if notes:
            psql("DELETE FROM notifications WHERE id IN (%s)" % ",".join(notes))
