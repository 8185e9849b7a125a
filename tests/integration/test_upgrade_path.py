"""How a shop operator upgrades the schema: `orderpay migrate` on old, empty, concurrent, busy and
half-broken databases, and what orderpayd and the CLI do on a database that is not migrated.

Every test works on databases of its own (`orderpay_up_<random>`, created in the stack's
PostgreSQL, dropped by a finalizer) and points the binaries at them with ORDERPAY_DB; the main
database is only read (pg_dump) and written through the stack's normal API and CLI flows.

It proves:
- a database made by the previous release (migrations 001..028, applied by hand with psql and
  recorded in schema_migrations as src/db/migrations.cpp does) has the same schema as this
  build's migrate with this release's 029 reverted (its index of refund answer conflicts
  dropped), and a pg_dump of the live database holds all of it; on that copy (029 reverted),
  holding real orders (WT, OK, partly and fully refunded RF, a superseded FAIL slip, refunds,
  notifications), `orderpay migrate` applies exactly 029, says "schema up to date" the second
  time, and `audit`, `order list`, `expire` and `reconcile` work on the upgraded data; a copy
  from before 028 (028 reverted too: 018's orderpay_create_order made again) is the release
  before; on a copy from before 026 (028, 027 and 026 reverted too), a refund key replays by that release's rule before 027 and by
  027's after it, for refunds made before it (an equal amount, or no amount for a whole refund),
  and `expire` leaves ended tickets alone until 026's index is there; on a copy from before 023
  (025, 024 and 023 reverted too), 023 takes the caller's Cookie, Authorization and
  Proxy-Authorization out of inbox rows that release stored, and nothing else; a copy from before
  019 (expire's column; 028 to 020 reverted too) still expires before it is migrated; a copy
  nine releases back (028 to 018 reverted too) takes them all;
- four `orderpay migrate` at once on an empty database apply each migration exactly once and
  leave the complete schema, and all exit 0 (a first-time race in CREATE TABLE schema_migrations
  made some exit 1);
- the CLI on an empty or partly migrated database exits 1 naming `orderpay migrate`; orderpayd on
  an empty database answers 503, not 500, keeps running and logs `orderpay migrate`; the CLI on a
  database missing the newest migration warns naming `orderpay migrate` (both used to say nothing);
- `orderpay migrate` while an orderpayd serves buys and checks on the database: no 5xx; while a
  session holds a table the migration changes, migrate steps aside every second so the shop's
  writes are not queued behind it, finishes once the table is free, or gives up naming why;
- a migration that fails halfway is rolled back with its record, and the error names it.
"""

import glob
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import STACK, api, cli
from helpers import buy_ok, sim_pay, wait_for, wait_state
from test_fcgi_raw import request as fcgi_request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIGRATIONS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "sql", "[0-9]*.sql")))
# This release's migrations: the previous release's database lacks exactly these.
NEW = ["029_refund_answer_conflicts.sql", "030_refund_correct.sql"]
# Migration 014's index of MISMATCH reports, which 025 makes again on the anchored pattern.
MISMATCH_014 = ("CREATE INDEX notifications_mismatch ON notifications (slip_id) WHERE verdict = 'rejected' "
                "AND reason ~ '^(amount|currency) check failed: |amount/currency .* != slip '")
PREV = MIGRATIONS[:-len(NEW)]
PSQL = os.path.join(STACK["PGBIN"], "psql")
RECORD_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")


# --- databases of our own ------------------------------------------------------------------------

def pg_env(db=None):
    env = dict(os.environ)
    for key in ("PGHOST", "PGPORT", "PGUSER"):
        env[key] = STACK[key]
    env["PGDATABASE"] = db or STACK["PGDATABASE"]
    return env


def pg(db, *args, check=True):
    """psql -X -At against `db` with ON_ERROR_STOP; args are psql arguments (-c SQL, -f FILE)."""
    res = subprocess.run([PSQL, "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", *args], env=pg_env(db),
                         capture_output=True, text=True, timeout=120)
    if check and res.returncode != 0:
        raise AssertionError("psql %s on %s failed: %s" % (args, db, res.stderr))
    return res


def q(db, sql):
    return pg(db, "-c", sql).stdout.strip()


def dburl(db):
    return "host=%s port=%s dbname=%s user=%s" % (STACK["PGHOST"], STACK["PGPORT"], db, STACK["PGUSER"])


def op(db, *args, timeout=120):
    """The orderpay CLI with the stack's config, pointed at `db`."""
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_DB=dburl(db))
    return subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def op_popen(db, *args, **extra_env):
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_DB=dburl(db), **extra_env)
    return subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def newdb():
    """newdb() creates an empty database orderpay_up_<random> and returns its name; all are
    dropped (connections forced off) when the test ends."""
    made = []

    def make():
        name = "orderpay_up_" + secrets.token_hex(6)
        q("postgres", "CREATE DATABASE %s" % name)
        made.append(name)
        return name

    yield make
    for name in made:
        pg("postgres", "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name, check=False)


def apply_by_hand(db, names):
    """Applies sql/<name> with psql, each in one transaction with its schema_migrations row, as
    src/db/migrations.cpp does (the previous release's `orderpay migrate`)."""
    q(db, RECORD_TABLE)
    for name in names:
        pg(db, "-1", "-f", os.path.join(REPO, "sql", name),
           "-c", "INSERT INTO schema_migrations (name) VALUES ('%s')" % name)


def recorded(db):
    if q(db, "SELECT to_regclass('public.schema_migrations') IS NULL") == "t":
        return []
    return q(db, "SELECT name FROM schema_migrations ORDER BY name").split()


def schema(db):
    """orderpay's schema (public, without paysim's record table) as pg_dump prints it, comments
    and SET lines left out."""
    res = subprocess.run([os.path.join(STACK["PGBIN"], "pg_dump"), "--schema-only", "--no-owner",
                          "--no-privileges", "-n", "public", "-T", "public.paysim_migrations", db], env=pg_env(db),
                         capture_output=True, text=True, timeout=120, check=True)
    return [line for line in res.stdout.splitlines()
            if line and not line.startswith("--") and not line.startswith("SET ")
            and not line.startswith("SELECT pg_catalog.set_config")
            and not line.startswith("\\restrict") and not line.startswith("\\unrestrict")]


def applied_lines(out):
    return [line[len("applied "):] for line in out.splitlines() if line.startswith("applied ")]


# --- real data made by the stack, copied into an old-schema database ------------------------------

@pytest.fixture(scope="module")
def seeded():
    """Orders in every state, made through nginx/orderpayd/paysim on the main database."""
    tag = secrets.token_hex(4)
    orders = {}
    orders["wait"] = buy_ok()["id"]
    paid = buy_ok()
    sim_pay(paid["pay_id"])
    orders["paid"] = wait_state(paid["id"], "OK")["id"]
    # Alipay scan orders (paid at once; Alipay refunds synchronously): a partial and a full refund.
    part = buy_ok("zfb.scan", auth_code="280000000000000002")
    assert part["or_st"] == "OK", part
    cli("refund", part["id"], "--amount", "1.00", "--reason", "upgrade partial", "--key", "up-p-" + tag)
    orders["part"] = part["id"]
    full = buy_ok("zfb.scan", auth_code="280000000000000002")
    cli("refund", full["id"], "--reason", "upgrade full", "--key", "up-f-" + tag)
    assert wait_state(full["id"], "RF")["or_st"] == "RF"
    orders["rf"] = full["id"]
    # A WeChat refund stays PROCESSING until its notification (or reconcile) says how it ended.
    proc = buy_ok()
    sim_pay(proc["pay_id"])
    wait_state(proc["id"], "OK")
    cli("refund", proc["id"], "--amount", "2.00", "--reason", "upgrade processing", "--key", "up-w-" + tag)
    orders["processing"] = proc["id"]
    # pay/pay with another pay type: the first slip fails (superseded), the new one waits.
    sw = buy_ok()
    st, body, raw, _ = api("GET", "pay", ticket=STACK["DEMO_TICKET"], params={"id": sw["id"], "pt": "zfb.qrcode"})
    assert st == 200, raw
    orders["switched"] = sw["id"]
    orders["expiring"] = buy_ok()["id"]
    return orders


@pytest.fixture
def old_copy(newdb, seeded):
    """A pg_dump of the main database restored into a new database, with migration 029 reverted
    (revert_last): what the previous release left behind."""
    db = newdb()
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "main.dump")
        subprocess.run([os.path.join(STACK["PGBIN"], "pg_dump"), "-Fc", "-f", dump, STACK["PGDATABASE"]],
                       env=pg_env(), check=True, capture_output=True, timeout=300)
        subprocess.run([os.path.join(STACK["PGBIN"], "pg_restore"), "--no-owner", "-d", db, dump],
                       env=pg_env(db), check=True, capture_output=True, timeout=300)
    # What this build's audit says of the data, for comparison after the upgrade.
    AUDIT_BEFORE_REVERT[db] = op(db, "audit")
    revert_last(db)
    return db


@pytest.fixture
def copy_before_026(old_copy):
    """The copy three releases back: 028, 027 and 026 reverted too."""
    revert_028(old_copy)
    revert_027(old_copy)
    revert_026(old_copy)
    return old_copy


@pytest.fixture
def copy_before_023(copy_before_026):
    """The copy four releases back: 025, 024 and 023 reverted too."""
    old_copy = copy_before_026
    revert_025(old_copy)
    revert_024(old_copy)
    revert_023(old_copy)
    return old_copy


@pytest.fixture
def copy_before_019(copy_before_023):
    """The copy eight releases back: 022, 021, 020 and 019 reverted too (a shop that skipped
    releases)."""
    old_copy = copy_before_023
    revert_022(old_copy)
    revert_021(old_copy)
    revert_020(old_copy)
    revert_019(old_copy)
    return old_copy


@pytest.fixture
def older_copy(copy_before_019):
    """The copy nine releases back: 028 to 018 reverted too (a shop that skipped eight)."""
    revert_018(copy_before_019)
    return copy_before_019


AUDIT_BEFORE_REVERT = {}


def refund_open_011():
    """orderpay_refund_open as migration 011 made it (027 replaces it), to be made again."""
    with open(os.path.join(REPO, "sql", "011_refunds.sql")) as f:
        text = f.read()
    start = text.index("CREATE FUNCTION orderpay_refund_open")
    end = text.index("$fn$;", start) + len("$fn$;")
    return text[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def create_order_018():
    """orderpay_create_order as migration 018 made it (028 replaces it), to be made again: its
    text exactly, as pg_dump prints a function's body as it was written."""
    with open(os.path.join(REPO, "sql", M018)) as f:
        text = f.read()
    start = text.index("CREATE OR REPLACE FUNCTION orderpay_create_order(")
    end = text.index("$fn$;", start) + len("$fn$;")
    return text[start:end]


def revert_last(db):
    """Undoes this release's migrations 029 (its index of refund answer conflicts dropped) and 030
    (orderpay_refund_correct dropped) and their records: the previous release's database."""
    assert MIGRATIONS[-len(NEW):] == NEW, "this test reverts %s; update it for %s" % (NEW, MIGRATIONS[-len(NEW):])
    pg(db, "-1", "-c", "DROP INDEX notifications_answer_conflict",
       "-c", "DROP FUNCTION orderpay_refund_correct(text, text)",
       "-c", "DELETE FROM schema_migrations WHERE name IN ('%s')" % "', '".join(NEW))


def revert(db, name, *statements):
    """Undoes migration `name` by `statements` and deletes its record, in one transaction, on a
    database every later migration is already reverted from."""
    assert recorded(db)[-1] == name, recorded(db)
    args = [a for sql in statements for a in ("-c", sql)]
    pg(db, "-1", *args, "-c", "DELETE FROM schema_migrations WHERE name = '%s'" % name)


M028 = "028_create_order_rechecks_sale.sql"
M027 = "027_refund_key_amount.sql"
M026 = "026_sessions_by_end.sql"
M025 = "025_mismatch_anchored.sql"
M024 = "024_orders_by_state.sql"
M023 = "023_scrub_stored_credentials.sql"
M022 = "022_sessions_by_account.sql"
M021 = "021_notification_retention.sql"
M020 = "020_refund_conflicts.sql"


def revert_028(db):
    """018's orderpay_create_order made again."""
    revert(db, M028, create_order_018())


def revert_027(db):
    """011's orderpay_refund_open made again, the refunds' amount_asked column dropped."""
    revert(db, M027, refund_open_011(), "ALTER TABLE refunds DROP COLUMN amount_asked")


def revert_026(db):
    revert(db, M026, "DROP INDEX sessions_expiry")


def revert_025(db):
    """014's index made again as it was."""
    revert(db, M025, "DROP INDEX notifications_mismatch", MISMATCH_014)


def revert_024(db):
    revert(db, M024, "DROP INDEX orders_site_state")


def revert_023(db):
    """023 changes data only (it scrubs credentials out of old inbox rows, which cannot be put
    back): the schema is the one before it once its record is gone."""
    revert(db, M023)


def revert_022(db):
    revert(db, M022, "DROP INDEX sessions_account")


def revert_021(db):
    revert(db, M021, "DROP INDEX notifications_decided")


def revert_020(db):
    revert(db, M020, "DROP INDEX notifications_refund_conflict")


M019 = "019_expire_rotation.sql"


def applied_from(first):
    """What `orderpay migrate` prints on a database that lacks `first` and every one after it."""
    return ["applied " + m for m in MIGRATIONS[MIGRATIONS.index(first):]] + ["migrated"]


def revert_019(db):
    revert(db, M019, "ALTER TABLE orders DROP COLUMN expire_tried_at")


M018 = "018_stock_taken_per_line.sql"


def revert_018(db):
    """Undoes migration 018 (its column and trigger, its two functions and its record), on a
    database 028 to 019 are already reverted from."""
    assert recorded(db)[-1] == M018, recorded(db)
    functions = []
    for name in ("009_create_order_function.sql", "010_settle_function.sql"):
        with open(os.path.join(REPO, "sql", name)) as f:
            functions.append(f.read().replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    # A line that took no stock (bought while its product was uncounted) is something only this
    # build writes. The previous release counted every line of a holding order as held, and its
    # `product add --stock` put those lines into stock_initial: so does the revert.
    fold = ("UPDATE products p SET stock_initial = p.stock_initial + h.held FROM (SELECT o.site_id, i.product_id, "
            "sum(i.amount) AS held FROM order_items i JOIN orders o ON o.id = i.order_id "
            "WHERE o.stock_held AND NOT i.stock_taken GROUP BY 1, 2) h "
            "WHERE p.site_id = h.site_id AND p.id = h.product_id AND p.stock IS NOT NULL")
    pg(db, "-1", "-c", fold, "-c", functions[0], "-c", functions[1],
       "-c", "DROP TRIGGER order_items_stock_taken ON order_items",
       "-c", "DROP FUNCTION orderpay_item_stock_taken()",
       "-c", "ALTER TABLE order_items DROP COLUMN stock_taken",
       "-c", "DELETE FROM schema_migrations WHERE name = '%s'" % M018)


def test_the_reverted_copy_is_exactly_the_previous_release_schema(newdb, old_copy):
    by_hand = newdb()
    apply_by_hand(by_hand, PREV)
    assert recorded(by_hand) == recorded(old_copy) == PREV
    # The main database may hold other tests' artifacts (a trigger function), so the previous
    # release is also made from nothing: this build's migrate on an empty database, 029 reverted.
    fresh = newdb()
    res = op(fresh, "migrate")
    assert res.returncode == 0, res.stdout + res.stderr
    revert_last(fresh)
    assert schema(by_hand) == schema(fresh)
    # And the copy of the main database has every table, index and constraint of it.
    mine = set(schema(old_copy))
    assert [line for line in schema(fresh) if line not in mine] == []


def test_upgrade_with_real_data_applies_only_the_missing_migration(old_copy, seeded):
    ids = "','".join(seeded.values())
    before = q(old_copy, "SELECT o.id, o.or_st, s.st FROM orders o JOIN pay_slips s ON s.order_id = o.id "
                         "WHERE o.id IN ('%s') ORDER BY 1, 3" % ids)
    states = set(q(old_copy, "SELECT or_st FROM orders WHERE id IN ('%s')" % ids).split())
    assert {"OK", "PROCESSING"} <= set(q(old_copy, "SELECT st FROM refunds WHERE order_id IN ('%s')"
                                         % ids).split())
    assert {"WT", "OK", "RF"} <= states
    assert {"WAIT", "OK", "FAIL"} <= set(q(old_copy, "SELECT st FROM pay_slips WHERE order_id IN ('%s')"
                                           % ids).split())
    assert int(q(old_copy, "SELECT count(*) FROM refunds WHERE order_id IN ('%s') AND st = 'OK'" % ids)) == 2
    assert int(q(old_copy, "SELECT count(*) FROM notifications n JOIN pay_slips s ON s.id = n.slip_id "
                           "WHERE s.order_id IN ('%s')" % ids)) >= 2
    audit_before = AUDIT_BEFORE_REVERT[old_copy]
    # 029 adds an index no statement reads: the CLI runs and says to migrate.
    unmigrated = op(old_copy, "audit")
    assert "lacks %d migration(s), from %s: run orderpay migrate" % (len(NEW), NEW[0]) in unmigrated.stderr, \
        unmigrated.stderr
    assert (unmigrated.returncode, re.sub(r"by \d+ s", "by N s", unmigrated.stdout)) == (
        audit_before.returncode, re.sub(r"by \d+ s", "by N s", audit_before.stdout))

    indexed = "SELECT count(*) = 1 FROM pg_indexes WHERE indexname = 'notifications_answer_conflict'"
    assert q(old_copy, indexed) == "f"
    res = op(old_copy, "migrate")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines() == applied_from(NEW[0])
    assert recorded(old_copy) == MIGRATIONS
    assert q(old_copy, indexed) == "t"

    again = op(old_copy, "migrate")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines() == ["schema up to date"]
    assert recorded(old_copy) == MIGRATIONS

    # The data is untouched by the upgrade, and the operator's commands work on it.
    after = q(old_copy, "SELECT o.id, o.or_st, s.st FROM orders o JOIN pay_slips s ON s.order_id = o.id "
                        "WHERE o.id IN ('%s') ORDER BY 1, 3" % ids)
    assert after == before
    audit = op(old_copy, "audit")
    # A violation's age ("WT past expiry by 674 s") moves on between the two runs.
    assert (audit.returncode, re.sub(r"by \d+ s", "by N s", audit.stdout)) == (
        audit_before.returncode, re.sub(r"by \d+ s", "by N s", audit_before.stdout)), audit.stderr
    for oid in seeded.values():
        assert oid not in audit.stdout, audit.stdout
    listed = op(old_copy, "order", "list", "--site", STACK["DEMO_SITE"], "--limit", "1000")
    assert listed.returncode == 0 and seeded["rf"] in listed.stdout, listed.stderr
    # expire: the copy's expiring order past its time is failed there (not in the main database).
    q(old_copy, "UPDATE orders SET expi = now() - interval '1 hour' WHERE id = '%s'" % seeded["expiring"])
    exp = op(old_copy, "expire")
    assert exp.returncode == 0, exp.stdout + exp.stderr
    assert q(old_copy, "SELECT or_st FROM orders WHERE id = '%s'" % seeded["expiring"]) == "FA"
    rec = op(old_copy, "reconcile", "--min-age", "0", "--json")
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert '"errors":0' in rec.stdout.replace(" ", ""), rec.stdout


def test_refund_keys_replay_by_the_rule_before_027_then_by_027s(copy_before_026, seeded):
    """The refund keys of the partial (1.00) and the full refund, made before 027 (its column
    dropped). On that database this build's refund runs, and a key replays by the rule before 027:
    no amount replays the partial refund too. A replay of an OK refund asks no provider."""
    old_copy = copy_before_026
    part_key, full_key = (q(old_copy, "SELECT idempotency_key FROM refunds WHERE order_id = '%s'" % seeded[k])
                          for k in ("part", "rf"))
    replay_part = ("refund", seeded["part"], "--reason", "upgrade partial", "--key", part_key)
    res = op(old_copy, *replay_part)
    assert res.returncode == 0 and "(replay)" in res.stdout, res.stdout + res.stderr

    res = op(old_copy, "migrate")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines() == applied_from(M026)
    assert recorded(old_copy) == MIGRATIONS
    # 027 knows no old refund's request: an equal amount replays it, and no amount only a refund
    # of the whole payment; "all that is left" is no longer answered with the partial refund.
    assert q(old_copy, "SELECT count(*) FROM refunds WHERE amount_asked IS NOT NULL") == "0"
    res = op(old_copy, *replay_part)
    assert res.returncode == 1 and "e.www.api.idempotency_mismatch" in res.stderr, res.stdout + res.stderr
    res = op(old_copy, *replay_part, "--amount", "1.00")
    assert res.returncode == 0 and "(replay)" in res.stdout, res.stdout + res.stderr
    whole = int(q(old_copy, "SELECT amount FROM refunds WHERE idempotency_key = '%s'" % full_key))
    for more in ([], ["--amount", "%d.%02d" % divmod(whole, 100)]):
        res = op(old_copy, "refund", seeded["rf"], "--reason", "upgrade full", "--key", full_key, *more)
        assert res.returncode == 0 and "(replay)" in res.stdout, (more, res.stdout + res.stderr)
    assert q(old_copy, "SELECT count(*) FROM refunds WHERE order_id IN ('%s', '%s')"
             % (seeded["part"], seeded["rf"])) == "2"


# Inbox rows as the previous release stored them (every header, form-encoded by http::EncodeForm:
# '&' and '=' inside a name or value are escaped), and what 023 leaves of each.
OLD_HEADER_FORMS = [
    # A buyer's PayPal return: the shop's session cookie between other headers.
    ("HTTP_ACCEPT=text%2Fhtml&HTTP_COOKIE=shop_session%3Dabc123%3B%20cart%3D9&HTTP_HOST=shop.example",
     "HTTP_ACCEPT=text%2Fhtml&HTTP_HOST=shop.example"),
    # A GET has no CONTENT_TYPE, so a credential can be the first pair, or the last: no '&' is left
    # dangling at either end.
    ("HTTP_AUTHORIZATION=Bearer%20k1&HTTP_HOST=h&HTTP_PROXY_AUTHORIZATION=Basic%20eDp5",
     "HTTP_HOST=h"),
    ("HTTP_AUTHORIZATION=Basic%20eDp5&HTTP_COOKIE=&HTTP_PROXY_AUTHORIZATION=x", ""),
    # Names that only begin or end like them, and values that mention them, are other headers.
    ("CONTENT_TYPE=application%2Fjson&HTTP_COOKIE2=a&HTTP_COOKIE_X=b&HTTP_PAYPAL_AUTHORIZATION=c"
     "&HTTP_REFERER=https%3A%2F%2Fa%2F%3FHTTP_COOKIE%3Dz%26HTTP_AUTHORIZATION%3Dq&HTTP_X_HTTP_COOKIE=d",
     None),
    ("", None),
]


def test_migrate_takes_stored_credentials_out_of_old_inbox_rows(copy_before_023):
    """Before 023's release every header of a request was stored with it, so a buyer's return kept
    the shop's session cookie in the inbox; 023 removes the Cookie, Authorization and
    Proxy-Authorization pairs from such rows, exactly those, and leaves every other row as it was."""
    old_copy = copy_before_023
    site = STACK["DEMO_SITE"]
    rows = {}
    for before, after in OLD_HEADER_FORMS:
        row = q(old_copy, "INSERT INTO notifications (provider, site_id, method, header_form, body, verdict, "
                          "reason, decided_at) VALUES ('paypal', '%s', 'GET', '%s', '', 'ignored', "
                          "'return: not completed', now()) RETURNING id" % (site, before)).split()[0]
        rows[row] = before if after is None else after
    ids = ",".join(rows)
    others = "SELECT md5(string_agg(id || ':' || header_form, ',' ORDER BY id)) FROM notifications " \
             "WHERE id NOT IN (%s)" % ids
    others_before = q(old_copy, others)
    res = op(old_copy, "migrate")
    assert res.returncode == 0 and res.stdout.splitlines() == applied_from(M023), \
        res.stdout + res.stderr
    got = dict(line.split("|", 1) for line in q(old_copy, "SELECT id, header_form FROM notifications "
                                                         "WHERE id IN (%s)" % ids).splitlines())
    assert got == rows
    assert q(old_copy, others) == others_before
    # The inbox still reads them (newest first: these five are the newest).
    listed = op(old_copy, "inbox", "list", "--verdict", "ignored", "--limit", "5", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert sorted(str(n["id"]) for n in json.loads(listed.stdout)) == sorted(rows), listed.stdout


def test_expire_before_migrate_still_expires_in_expiry_order(copy_before_019, seeded):
    """`dpkg -i` on every host comes before `orderpay migrate`, and the timers run the new CLI in
    between: its expire must still fail what is due on a database from before 019 (it reads
    019's column only where it exists)."""
    old_copy = copy_before_019
    q(old_copy, "UPDATE orders SET expi = now() - interval '1 hour' WHERE id = '%s'" % seeded["expiring"])
    res = op(old_copy, "expire", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "lacks %d migration(s), from %s: run orderpay migrate" % (len(NEW) + 10, M019) in res.stderr, res.stderr
    assert q(old_copy, "SELECT or_st FROM orders WHERE id = '%s'" % seeded["expiring"]) == "FA"
    assert recorded(old_copy) == MIGRATIONS[:-(len(NEW) + 10)]
    res = op(old_copy, "migrate")
    assert res.returncode == 0 and res.stdout.splitlines() == applied_from(M019), \
        res.stdout + res.stderr
    assert q(old_copy, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' "
                       "AND column_name = 'expire_tried_at'") == "1"


def test_the_copy_nine_releases_back_is_exactly_that_schema(newdb, older_copy):
    by_hand = newdb()
    apply_by_hand(by_hand, MIGRATIONS[:-(len(NEW) + 11)])
    assert recorded(by_hand) == recorded(older_copy) == MIGRATIONS[:-(len(NEW) + 11)]
    fresh = newdb()
    res = op(fresh, "migrate")
    assert res.returncode == 0, res.stdout + res.stderr
    revert_last(fresh)
    revert_028(fresh)
    revert_027(fresh)
    revert_026(fresh)
    revert_025(fresh)
    revert_024(fresh)
    revert_023(fresh)
    revert_022(fresh)
    revert_021(fresh)
    revert_020(fresh)
    revert_019(fresh)
    revert_018(fresh)
    assert schema(by_hand) == schema(fresh)
    mine = set(schema(older_copy))
    assert [line for line in schema(fresh) if line not in mine] == []


def test_expire_leaves_the_inbox_alone_until_migrate_builds_its_index(newdb):
    """Without migration 021's index the inbox's retention would read the whole inbox, and the
    expire timer runs every minute between `dpkg -i` and `orderpay migrate`: it waits for the
    index."""
    db = newdb()
    assert op(db, "migrate").returncode == 0
    revert_last(db)
    revert_028(db)
    revert_027(db)
    revert_026(db)
    revert_025(db)
    revert_024(db)
    revert_023(db)
    revert_022(db)
    revert_021(db)
    row = q(db, "INSERT INTO notifications (provider, site_id, body, verdict, reason, ct) VALUES "
                "('wx', 'site1', '\\x00', 'rejected', 'unverified: signature invalid', now() - interval '30 days') "
                "RETURNING id").split()[0]
    res = op(db, "expire")
    assert res.returncode == 0 and "lacks %d migration(s)" % (len(NEW) + 8) in res.stderr, res.stdout + res.stderr
    assert q(db, "SELECT count(*) FROM notifications WHERE id = %s" % row) == "1"
    assert op(db, "migrate").returncode == 0
    assert op(db, "expire").returncode == 0
    assert q(db, "SELECT count(*) FROM notifications WHERE id = %s" % row) == "0"


def test_expire_leaves_ended_tickets_alone_until_migrate_builds_their_index(newdb):
    """Without migration 026's index the tickets' retention would read every ticket ever issued,
    and the expire timer runs every minute between `dpkg -i` and `orderpay migrate`: it waits for
    the index. `ticket prune`, which an operator runs on purpose, does not wait."""
    db = newdb()
    assert op(db, "migrate").returncode == 0
    revert_last(db)
    revert_028(db)
    revert_027(db)
    revert_026(db)
    q(db, "INSERT INTO account_stores (id) VALUES ('st1')")
    q(db, "INSERT INTO accounts (id, store_id) VALUES ('acc1', 'st1')")
    ended = ("INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at, ct) VALUES "
             "(sha256(convert_to('%s', 'UTF8')), 'st1', 'acc1', now() - interval '30 days', "
             "now() - interval '31 days')")
    live = "SELECT count(*) FROM sessions WHERE ticket_hash = sha256(convert_to('%s', 'UTF8'))"
    q(db, ended % "a")
    res = op(db, "expire")
    assert res.returncode == 0 and "lacks %d migration(s)" % (len(NEW) + 3) in res.stderr, res.stdout + res.stderr
    assert q(db, live % "a") == "1"
    q(db, ended % "b")
    res = op(db, "ticket", "prune", "--ended-older-than", "29d")
    assert res.returncode == 0 and res.stdout == "pruned 2 ended tickets\n", res.stdout + res.stderr
    q(db, ended % "c")
    assert op(db, "migrate").returncode == 0
    assert op(db, "expire").returncode == 0
    assert q(db, live % "c") == "0"


# --- concurrent runners on an empty database ------------------------------------------------------

def run_concurrently(db, n=4):
    procs = [op_popen(db, "migrate") for _ in range(n)]
    return [(p.wait(timeout=120), *p.communicate()) for p in procs]


def test_four_concurrent_migrates_apply_each_migration_once(newdb):
    reference = newdb()
    assert op(reference, "migrate").returncode == 0
    db = newdb()
    results = run_concurrently(db)
    applied = [name for _, out, _ in results for name in applied_lines(out)]
    assert sorted(applied) == MIGRATIONS, results
    assert recorded(db) == MIGRATIONS
    assert schema(db) == schema(reference)
    # A last runner finds nothing to do.
    res = op(db, "migrate")
    assert (res.returncode, res.stdout.strip()) == (0, "schema up to date"), res.stderr


def test_concurrent_first_migrates_all_exit_0(newdb):
    # The race is lost in about half of the rounds; twelve rounds make a pass by luck ~1e-4.
    for _ in range(12):
        db = newdb()
        results = run_concurrently(db)
        for rc, out, err in results:
            assert rc == 0, "exit %d: %s%s" % (rc, out, err)
        assert recorded(db) == MIGRATIONS
        pg("postgres", "-c", "DROP DATABASE %s WITH (FORCE)" % db)


# --- binaries on a database that is not (fully) migrated -------------------------------------------

CLI_COMMANDS = [("order", "list"), ("audit",), ("reconcile",), ("expire",), ("site", "list"), ("inbox", "list")]


@pytest.mark.parametrize("applied", [0, 11], ids=["empty", "up_to_011"])
def test_cli_on_an_unmigrated_database_says_run_orderpay_migrate(newdb, applied):
    db = newdb()
    if applied:
        apply_by_hand(db, MIGRATIONS[:applied])
    for cmd in CLI_COMMANDS:
        res = op(db, *cmd)
        assert res.returncode == 1, (cmd, res.returncode, res.stdout, res.stderr)
        assert "run orderpay migrate" in res.stderr, (cmd, res.stderr)
        assert res.stdout == "", (cmd, res.stdout)
    assert recorded(db) == MIGRATIONS[:applied]  # nothing was migrated behind the operator's back
    if not applied:
        assert q(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


def start_daemon(db, tmp):
    """A 1-worker orderpayd on `db`, on a socket of its own; returns (process, socket, log path)."""
    sock, log = os.path.join(tmp, "od.sock"), os.path.join(tmp, "orderpayd.log")
    env = dict(os.environ, ORDERPAY_CONFIG=STACK["ORDERPAY_CONFIG"], ORDERPAY_DB=dburl(db),
               ORDERPAY_LISTEN=sock, ORDERPAY_WORKERS="2", ORDERPAY_LOG_FILE=log)
    proc = subprocess.Popen([os.path.join(STACK["ORDERPAY_BIN"], "orderpayd")], env=env, cwd=tmp,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10)
    return proc, sock, log


def stop_daemon(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def empty_daemon(newdb):
    db = newdb()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        proc, sock, log = start_daemon(db, tmp)
        try:
            yield db, proc, sock, log
        finally:
            stop_daemon(proc)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_orderpayd_on_an_empty_database_answers_503_and_keeps_running(empty_daemon):
    _, proc, sock, log = empty_daemon
    assert proc.poll() is None, read(log)
    st, _, body = fcgi_request("GET", "/healthz", path=sock)
    assert st == 503, body
    query = {"QUERY_STRING": "ticket=%s&id=abc" % STACK["DEMO_TICKET"]}
    for _ in range(3):
        st, _, body = fcgi_request("GET", "/api/demo/pay/check", extra=query, path=sock)
        assert st == 503 and body["errCode"] == "e.sys.db.unavailable", body
    time.sleep(1.0)
    assert proc.poll() is None, read(log)  # no crash loop: the master and its pool stay up


def test_orderpayd_on_an_empty_database_tells_the_operator_to_migrate(empty_daemon):
    _, proc, sock, log = empty_daemon
    fcgi_request("GET", "/healthz", path=sock)
    told = wait_for(lambda: "orderpay migrate" in read(log) or proc.poll() not in (None, 0), 5)
    assert told, "orderpayd never said to run orderpay migrate:\n" + read(log)[-2000:]
    assert "orderpay migrate" in read(log)


def test_a_database_missing_the_newest_migration_is_named(newdb):
    db = newdb()
    apply_by_hand(db, MIGRATIONS[:-1])
    res = op(db, "order", "list")
    assert res.returncode != 0 or "orderpay migrate" in res.stderr, (res.returncode, res.stdout, res.stderr)


# --- migrate while orderpayd serves traffic on the database ----------------------------------------

def test_migrate_while_serving_buys_and_checks(old_copy):
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        proc, sock, log = start_daemon(old_copy, tmp)
        try:
            assert wait_for(lambda: fcgi_request("GET", "/healthz", path=sock)[0] == 200, 10), read(log)
            statuses, ends, errors, stop = [], [], [], threading.Event()
            body = ('{"products":[{"id":"%s","amount":1}],"pay_tp":"wx.qrcode"}'
                    % STACK["DEMO_PRODUCT"]).encode()
            query = "ticket=" + STACK["DEMO_TICKET"]

            def traffic():
                while not stop.is_set():
                    try:
                        t0 = time.time()
                        st, _, b = fcgi_request("POST", "/api/demo/pay/buy", body,
                                                extra={"QUERY_STRING": query}, path=sock)
                        statuses.append((st, time.time() - t0))
                        ends.append(time.time())
                        if st == 200:
                            oid = b["data"]["id"]
                            st, _, b = fcgi_request("GET", "/api/demo/pay/check",
                                                    extra={"QUERY_STRING": query + "&id=" + oid}, path=sock)
                            statuses.append((st, time.time() - t0))
                    except Exception as e:  # noqa: BLE001 - every failure is reported
                        errors.append(repr(e))

            threads = [threading.Thread(target=traffic) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            t0 = time.time()
            res = op(old_copy, "migrate")
            took = time.time() - t0
            time.sleep(1.0)
            stop.set()
            for t in threads:
                t.join(30)
            assert res.returncode == 0 and res.stdout.splitlines() == applied_from(NEW[0]), \
                res.stdout + res.stderr
            assert took < 10, took
            assert not errors, errors[:5]
            assert statuses and all(st == 200 for st, _ in statuses), \
                sorted({st for st, _ in statuses})
            assert max(d for _, d in statuses) < 10
            # Buys went through before the migration started and after it ended.
            assert any(e < t0 for e in ends) and any(e > t0 + took for e in ends), (t0, took, ends)
            assert proc.poll() is None
            assert recorded(old_copy) == MIGRATIONS
        finally:
            stop_daemon(proc)


@pytest.fixture
def held_orders(newdb):
    """A database from before 019 with a session idle in a transaction that read `orders` (psql
    left open after a SELECT, a long report): it holds the table in ACCESS SHARE mode, which
    writers never wait for but 019's ALTER TABLE does. Yields (db, release) where release() ends
    that transaction."""
    db = newdb()
    apply_by_hand(db, MIGRATIONS[:MIGRATIONS.index(M019)])
    holder = subprocess.Popen([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1"], env=pg_env(db), stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    holder.stdin.write("BEGIN; SELECT count(*) FROM orders;\n")
    holder.stdin.flush()
    assert wait_for(lambda: q(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND state = 'idle in transaction'") == "1", 10)

    def release():
        if holder.poll() is None:
            holder.stdin.write("COMMIT;\n")
            holder.stdin.close()
            assert holder.wait(30) == 0, holder.stderr.read()

    try:
        yield db, release
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def migrate_waits_for_orders(db):
    """Whether a session on `db` (a migrate's ALTER) waits for `orders` in ACCESS EXCLUSIVE mode."""
    return q(db, "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock' "
                 "AND relation = 'orders'::regclass AND database = "
                 "(SELECT oid FROM pg_database WHERE datname = current_database())") != "0"


def write_orders(db):
    """A writer of `orders` as orderpayd is: it waits at most 2.5 s for its lock (orderpayd's
    db.lock_timeout_ms is 2 s). True when it got it."""
    res = pg(db, "-c", "SET lock_timeout = '2500ms'", "-c", "UPDATE orders SET lm = lm WHERE false", check=False)
    return res.returncode == 0


def test_migrate_waiting_for_a_held_table_lets_writers_through_then_finishes(held_orders):
    """An ALTER that waits for a held table makes every later writer of that table wait behind it:
    with migrate waiting as long as it took, each buy of the shop timed out (503) until the
    session holding the table let go. Each attempt now waits 1 s (db.migrate_lock_timeout_ms),
    rolls back and lets the queue through."""
    db, release = held_orders
    migrate = op_popen(db, "migrate")
    try:
        assert wait_for(lambda: migrate_waits_for_orders(db), 10)
        deadline = time.time() + 4
        writes = []
        while time.time() < deadline:
            writes.append(write_orders(db))
        assert writes and all(writes), writes
        assert migrate.poll() is None  # still trying: the table is still held
        release()
        out, err = migrate.communicate(timeout=30)
    finally:
        if migrate.poll() is None:
            migrate.kill()
            migrate.wait()
    assert migrate.returncode == 0 and out.splitlines() == applied_from(M019), \
        out + err
    assert "migration %s waits: another session holds a table it changes" % M019 in err, err
    assert recorded(db) == MIGRATIONS


def test_migrate_gives_up_on_a_table_held_too_long_and_applies_nothing(held_orders):
    db, release = held_orders
    t0 = time.time()
    migrate = op_popen(db, "migrate", ORDERPAY_DB_MIGRATE_GIVE_UP_S="3")
    out, err = migrate.communicate(timeout=60)
    assert migrate.returncode == 1, out + err
    assert time.time() - t0 < 15
    assert re.search(r"migration %s failed \(nothing of it applied\): waited [34] s: another session holds a "
                     r"table it changes" % re.escape(M019), err), err
    assert "pg_stat_activity" in err and "applied" not in out, out + err
    assert recorded(db) == MIGRATIONS[:MIGRATIONS.index(M019)]
    assert q(db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' "
                 "AND column_name = 'expire_tried_at'") == "0"
    release()
    res = op(db, "migrate")
    assert res.returncode == 0 and res.stdout.splitlines() == applied_from(M019), \
        res.stdout + res.stderr


def test_a_second_migrate_behind_one_waiting_for_a_held_table_says_so_and_gives_up(held_orders):
    """One migrate waits as long as it takes for the held table (timeout 0), holding the runners'
    lock; a second one must not hang silently behind it: it waits under its own lock timeout,
    says another migrate is running, and gives up after its budget."""
    db, release = held_orders
    first = op_popen(db, "migrate", ORDERPAY_DB_MIGRATE_LOCK_TIMEOUT_MS="0")
    second = None
    try:
        assert wait_for(lambda: migrate_waits_for_orders(db), 10)
        second = op_popen(db, "migrate", ORDERPAY_DB_MIGRATE_GIVE_UP_S="2")
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1, out + err
        assert "waits: another orderpay migrate is running; trying again" in err, err
        assert re.search(r"failed \(nothing of it applied\): waited [23] s: another orderpay migrate is running; "
                         r"run orderpay migrate again once it ends", err), err
        assert first.poll() is None
        release()
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0 and out.splitlines() == applied_from(M019), \
            out + err
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert recorded(db) == MIGRATIONS


def waiting_on_order_items(db, mode):
    """Whether some session on `db` waits for `mode` on order_items."""
    return q(db, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                 "WHERE c.relname = 'order_items' AND NOT l.granted AND l.mode = '%s'" % mode) != "0"


@pytest.mark.parametrize("counted", [True, False], ids=["counted", "uncounted"])
def test_a_buy_already_inside_the_old_function_when_migrate_commits_is_served(older_copy, counted):
    """A buy whose orderpay_create_order call began before migrate committed runs the previous
    release's body (PL/pgSQL compiles a function once per call), which writes order_items without
    stock_taken. Held up on the migration's table lock, its insert then meets the new column: it
    must still succeed and record what that line took (CI caught this as a rare 500 in the
    traffic test above; here the interleaving is forced with a lock held by a third session). On a
    copy nine releases back: the upgrade that brought 018, as a shop that skipped 018 takes it."""
    old_copy = older_copy
    site = STACK["DEMO_SITE"]
    product = STACK["DEMO_STOCK_PRODUCT"] if counted else STACK["DEMO_PRODUCT"]
    if counted:  # ten more on the shelf and in the count, so the buy is never out of stock
        assert q(old_copy, "UPDATE products SET stock = stock + 10, stock_initial = stock_initial + 10 "
                           "WHERE site_id = '%s' AND id = '%s' AND stock IS NOT NULL RETURNING id"
                 % (site, product)) == product
    else:
        assert q(old_copy, "SELECT stock IS NULL FROM products WHERE site_id = '%s' AND id = '%s'"
                 % (site, product)) == "t"
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        proc, sock, log = start_daemon(old_copy, tmp)
        holder = migrate = None
        try:
            assert wait_for(lambda: fcgi_request("GET", "/healthz", path=sock)[0] == 200, 10), read(log)
            # 1. A session holds order_items in SHARE mode: the migration's ALTER queues behind it.
            holder = subprocess.Popen([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1"], env=pg_env(old_copy),
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
            holder.stdin.write("BEGIN; LOCK TABLE order_items IN SHARE MODE; SELECT 1;\n")
            holder.stdin.flush()
            assert wait_for(lambda: q(old_copy, "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                                                "ON c.oid = l.relation WHERE c.relname = 'order_items' "
                                                "AND l.granted AND l.mode = 'ShareLock'") != "0", 10)
            # Waiting as long as it takes (018's release did), so the buy queues behind it.
            migrate = op_popen(old_copy, "migrate", ORDERPAY_DB_MIGRATE_LOCK_TIMEOUT_MS="0")
            assert wait_for(lambda: waiting_on_order_items(old_copy, "AccessExclusiveLock"), 10)
            # 2. A buy enters the old function and queues for order_items behind the migration.
            got = {}
            body = ('{"products":[{"id":"%s","amount":1}],"pay_tp":"wx.qrcode"}' % product).encode()

            def buy():
                got["reply"] = fcgi_request("POST", "/api/demo/pay/buy", body,
                                            extra={"QUERY_STRING": "ticket=" + STACK["DEMO_TICKET"]}, path=sock)
            buyer = threading.Thread(target=buy)
            buyer.start()
            assert wait_for(lambda: waiting_on_order_items(old_copy, "RowExclusiveLock"), 10), read(log)
            # 3. The holder lets go: the migration commits first, then the buy's insert runs.
            holder.stdin.write("COMMIT;\n")
            holder.stdin.close()
            assert holder.wait(30) == 0, holder.stderr.read()
            out, err = migrate.communicate(timeout=60)
            assert migrate.returncode == 0 and out.splitlines() == \
                applied_from(M018), out + err
            buyer.join(30)
            st, _, reply = got["reply"]
            assert st == 200, (reply, read(log)[-2000:])
            oid = reply["data"]["id"]
            assert q(old_copy, "SELECT stock_taken FROM order_items WHERE order_id = '%s'" % oid) == \
                ("t" if counted else "f")
            # The ledger the new build checks holds on the migrated copy.
            res = op(old_copy, "audit")
            assert res.returncode == 0, res.stdout + res.stderr
        finally:
            for p in (holder, migrate):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()
            stop_daemon(proc)


# --- a migration that fails halfway ----------------------------------------------------------------

def half_broken(newdb):
    """Up to 015, plus by hand the index 016 creates in its second statement."""
    db = newdb()
    apply_by_hand(db, MIGRATIONS[:MIGRATIONS.index("016_voiding_slips.sql")])
    q(db, "CREATE INDEX pay_slips_voided_paid ON pay_slips (ct)")
    return db


def test_a_migration_failing_halfway_is_rolled_back_with_its_record(newdb):
    db = half_broken(newdb)
    res = op(db, "migrate")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "already exists" in res.stderr
    assert "applied 016" not in res.stdout and "migrated" not in res.stdout
    # 016's first statement (ADD COLUMN voiding_at) was rolled back with it; 017 and 018 were not tried.
    assert recorded(db) == MIGRATIONS[:MIGRATIONS.index("016_voiding_slips.sql")]
    assert q(db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'pay_slips' "
                 "AND column_name = 'voiding_at'") == "0"
    assert q(db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'notifications_outside_refund'") == "0"
    # Once the operator removes the stray object, migrate finishes the job.
    q(db, "DROP INDEX pay_slips_voided_paid")
    res = op(db, "migrate")
    assert res.returncode == 0, res.stdout + res.stderr
    assert applied_lines(res.stdout) == MIGRATIONS[MIGRATIONS.index("016_voiding_slips.sql"):]
    assert recorded(db) == MIGRATIONS


def test_a_failing_migration_is_named_in_the_error(newdb):
    db = half_broken(newdb)
    res = op(db, "migrate")
    assert res.returncode == 1
    assert "016_voiding_slips" in res.stderr, res.stderr
