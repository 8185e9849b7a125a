"""The tickets' retention (migration 026): every login (admin/ticket, `orderpay ticket issue`) adds
a row to sessions and a revoke only moves its expiry to the moment it ended, so nothing ever
deleted a row and the table grew with every login (review s28-newuser #11). `orderpay expire` now
deletes tickets that ended (expired, or revoked) over ticket.keep_ended_days ago, and `orderpay
ticket prune` does it on demand; a live ticket is never deleted, whatever the age.

Rows are written with psql for an account of each test's own (deleted, with its tickets, at the
end), with ages of their own. The prune is global: other tests' tickets ended long enough ago go
too, so counts that must be exact use ages (over 300 days) no other test's rows have."""

import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import STACK, api, cli, psql
from helpers import Locker

STORE = psql("SELECT account_store FROM sites WHERE id = '%s'" % STACK["DEMO_SITE"])


def put(account, ended_days=None, live_hours=None, issued_days=2):
    """A ticket of `account` that ended `ended_days` days ago (fractions allowed), or is valid for
    `live_hours` more; its hash as hex."""
    h = secrets.token_hex(32)
    expires = ("now() - interval '%s days'" % ended_days if ended_days is not None
               else "now() + interval '%s hours'" % live_hours)
    psql("INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at, ct) VALUES "
         "(decode('%s', 'hex'), '%s', '%s', %s, now() - interval '%s days')"
         % (h, STORE, account, expires, issued_days))
    return h


def alive(hashes):
    if not hashes:
        return set()
    return set(psql("SELECT encode(ticket_hash, 'hex') FROM sessions WHERE ticket_hash IN (%s)"
                    % ",".join("decode('%s', 'hex')" % h for h in hashes)).split())


def left(rows):
    """The names of `rows` whose ticket is still there."""
    there = alive(list(rows.values()))
    return {name for name, h in rows.items() if h in there}


def pruned(res):
    m = re.fullmatch(r"pruned (\d+) ended tickets\n", res.stdout)
    assert res.returncode == 0 and m, res
    return int(m.group(1))


@pytest.fixture
def account():
    name = "prune-" + secrets.token_hex(4)
    cli("account", "add", name, "--store", STORE)
    yield name
    psql("DELETE FROM accounts WHERE store_id = '%s' AND id = '%s'" % (STORE, name))  # and its tickets


@pytest.fixture
def rows(account):
    return {
        "live": put(account, live_hours=24),
        # Issued long ago and valid for an hour more: a ticket's age is not its end.
        "live_old_login": put(account, live_hours=1, issued_days=300),
        "ended_8d": put(account, ended_days=8, issued_days=9),
        "ended_2d": put(account, ended_days=2, issued_days=3),
        # Revoked: its expiry is the moment it was revoked.
        "revoked_10d": put(account, ended_days=10, issued_days=20),
        "revoked_now": put(account, ended_days=0),
    }


def test_prune_deletes_tickets_ended_long_enough_ago_and_never_a_live_one(rows):
    # The config's age (ticket.keep_ended_days, 7 by default).
    pruned(cli("ticket", "prune"))
    assert left(rows) == {"live", "live_old_login", "ended_2d", "revoked_now"}
    pruned(cli("ticket", "prune", "--ended-older-than", "36h"))
    assert left(rows) == {"live", "live_old_login", "revoked_now"}
    # 0: every ended ticket, and still no live one.
    pruned(cli("ticket", "prune", "--ended-older-than", "0"))
    assert left(rows) == {"live", "live_old_login"}


def test_a_revoked_ticket_goes_after_its_revoke_and_answers_as_an_unknown_one_after(account):
    """End to end: a ticket issued and revoked through the CLI is refused by pay/check; pruned,
    it is answered exactly as a ticket never issued is. A live ticket of the same account still
    works after a prune of every ended one."""
    revoked = cli("ticket", "issue", "--account", account, "--store", STORE).stdout.strip()
    live = cli("ticket", "issue", "--account", account, "--store", STORE).stdout.strip()
    assert cli("ticket", "revoke", revoked).stdout == "revoked 1 tickets\n"
    order = {"id": "nosuchorder"}
    st, body, raw, _ = api("GET", "check", ticket=revoked, params=order)
    assert st == 401 and body["errCode"] == "e.www.api.auth.nologin", raw
    unknown = api("GET", "check", ticket=secrets.token_urlsafe(24), params=order)
    # Revoked just now: kept for the config's week.
    cli("expire")
    assert psql("SELECT count(*) FROM sessions WHERE store_id = '%s' AND account_id = '%s'"
                % (STORE, account)) == "2"
    psql("UPDATE sessions SET expires_at = expires_at - interval '8 days' WHERE store_id = '%s' "
         "AND account_id = '%s' AND expires_at <= now()" % (STORE, account))
    cli("expire")
    assert psql("SELECT count(*) FROM sessions WHERE store_id = '%s' AND account_id = '%s'"
                % (STORE, account)) == "1"
    gone = api("GET", "check", ticket=revoked, params=order)
    assert gone[:2] == unknown[:2] and gone[0] == 401, (gone, unknown)
    st, body, raw, _ = api("GET", "check", ticket=live, params=order)
    assert st != 401, raw


def test_prune_takes_at_most_limit_rows_oldest_first(account):
    old = {days: put(account, ended_days=days, issued_days=days + 1) for days in (401, 402, 403, 404, 405)}
    assert pruned(cli("ticket", "prune", "--ended-older-than", "400d", "--limit", "2")) == 2
    assert alive(list(old.values())) == {old[401], old[402], old[403]}
    assert pruned(cli("ticket", "prune", "--ended-older-than", "400d")) == 3
    assert alive(list(old.values())) == set()


@pytest.mark.parametrize("args,says", [
    # The config's age is days: a bare 7 taken as seconds would delete nearly every ended ticket.
    (["--ended-older-than", "7"], "--ended-older-than: a duration like 60s, 5m, 2h or 7d (at most ten years): "
                                  "give its unit"),
    (["--ended-older-than", "-1d"], "--ended-older-than: a duration like"),
    (["--ended-older-than", "5x"], "--ended-older-than: a duration like"),
    (["--ended-older-than", ""], "--ended-older-than: a duration like"),
    (["--ended-older-than", "3700d"], "at most ten years"),
    (["--ended-older-than"], "--ended-older-than needs a value"),
    (["--limit", "0"], "--limit 1..100000"),
    (["--limit", "100001"], "--limit 1..100000"),
    (["--limit", "5abc"], "--limit 1..100000"),
    (["--older-than", "7d"], "`ticket prune` takes no --older-than"),
    (["--json"], "`ticket prune` has no --json output"),
    (["extra"], "ticket prune [--ended-older-than 7d] [--limit N]"),
])
def test_prune_refuses_what_it_cannot_mean_before_deleting_anything(rows, args, says):
    before = left(rows)
    res = cli("ticket", "prune", *args, check=False)
    assert res.returncode == 2 and says in res.stderr, res
    assert left(rows) == before == set(rows)


@pytest.mark.parametrize("value", ["7d", "-1", "3661", "1.5"])
def test_a_retention_the_config_cannot_mean_stops_the_cli_before_it_prunes(rows, value):
    res = cli("expire", check=False, env={"ORDERPAY_TICKET_KEEP_ENDED_DAYS": value})
    assert res.returncode != 0 and "ticket.keep_ended_days" in res.stderr and "0 to 3660" in res.stderr, res
    assert left(rows) == set(rows)


def test_expire_prunes_with_the_configs_age_and_zero_keeps_every_ticket(rows):
    cli("expire", env={"ORDERPAY_TICKET_KEEP_ENDED_DAYS": "0"})
    assert left(rows) == set(rows)
    res = cli("ticket", "prune", env={"ORDERPAY_TICKET_KEEP_ENDED_DAYS": "0"})
    assert res.stdout == "pruned 0 ended tickets (kept: ticket.keep_ended_days is 0 and no --ended-older-than)\n"
    assert left(rows) == set(rows)
    cli("expire")
    assert left(rows) == {"live", "live_old_login", "ended_2d", "revoked_now"}
    cli("expire", env={"ORDERPAY_TICKET_KEEP_ENDED_DAYS": "1"})
    assert left(rows) == {"live", "live_old_login", "revoked_now"}


def test_concurrent_prunes_share_the_rows_and_all_succeed(account):
    """The timers may run on every host at once (README, several hosts): four prunes of the same
    3000 tickets neither wait on nor deadlock with each other (SKIP LOCKED), all exit 0, and
    between them every due ticket goes exactly once, and nothing else."""
    tag = secrets.token_hex(6)
    psql("INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at, ct) "
         "SELECT sha256(convert_to('%s' || i, 'UTF8')), '%s', '%s', now() - interval '400 days' - i * interval '1 s', "
         "now() - interval '401 days' FROM generate_series(1, 3000) i" % (tag, STORE, account))
    keep = put(account, ended_days=300, issued_days=301)
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: cli("ticket", "prune", "--ended-older-than", "350d", check=False),
                             range(4)))
    assert sum(pruned(r) for r in runs) == 3000, runs
    assert psql("SELECT count(*) FROM sessions WHERE store_id = '%s' AND account_id = '%s'"
                % (STORE, account)) == "1"
    assert alive([keep]) == {keep}


def test_tickets_another_session_holds_are_skipped_not_waited_for_and_go_on_the_next_run(account):
    """Due tickets locked by another session (a revoke's transaction, an operator's psql left open):
    the prune neither waits for them (the CLI's lock timeout would fail the run) nor stops at
    them; it deletes the rest and takes the locked ones on a later run."""
    hashes = [put(account, ended_days=330 + i, issued_days=340) for i in range(6)]
    locker = Locker("SELECT 1 FROM sessions WHERE ticket_hash IN (%s) FOR UPDATE"
                    % ",".join("decode('%s', 'hex')" % h for h in hashes[:3]))
    try:
        t0 = time.time()
        assert pruned(cli("ticket", "prune", "--ended-older-than", "320d")) == 3
        assert time.time() - t0 < 10
        assert alive(hashes) == set(hashes[:3])
    finally:
        locker.release()
    assert pruned(cli("ticket", "prune", "--ended-older-than", "320d")) == 3
    assert alive(hashes) == set()
