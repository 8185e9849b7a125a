"""The inbox's retention (migration 021): every request to pay/re_* is stored raw before it is
judged, forgeries too, and nothing ever dropped a row, so one client's flood filled the disk for
good (review s25-attack #3, s25-diff #3). `orderpay expire` now drops rows never verified (rejected
as unreadable or unsigned: "unverified: ..."; kept `error` because the signature could not be
checked then: "not checked now: ...") after notify.keep_rejected_days and, when set, every decided
row after notify.keep_days; `orderpay inbox prune` does it on demand. A signed notification refused
on its content, other undecided rows and the reports reconcile lists are not "unverified".

Rows are written with psql into the stack's database with ages of their own; each test reads back
only the rows it wrote (the prune is global, so rows of other tests aged past a week may go too:
none is read after its own test)."""

import re
import uuid

import pytest

from conftest import STACK, api, cli, psql

SITE = STACK["DEMO_SITE"]

# The reasons reconcile lists a slip for (src/store/sql_text.hpp): kept at any age.
KEPT = [
    ("rejected", "amount check failed: total_fee 1 != slip 100"),
    ("rejected", "amount/currency 1 CNY != slip 100 CNY"),
    ("rejected", "slip already OK with transaction 4200 (this one 4201)"),
    ("ignored", "no refund of ours named R1 (refunded 1.00 outside orderpay)"),
    ("ignored", "conflict: refund R2 recorded FAIL, the provider says OK"),
]


def put(verdict, reason, days, tag):
    """A notification decided `days` days ago (ct and decided_at), its body naming `tag`."""
    return psql("INSERT INTO notifications (provider, site_id, body, verdict, reason, ct, decided_at) "
                "VALUES ('wx', '%s', convert_to('%s', 'UTF8'), '%s', '%s', now() - interval '%s days', "
                "CASE WHEN '%s' <> 'received' THEN now() - interval '%s days' END) RETURNING id"
                % (SITE, tag, verdict, reason.replace("'", "''"), days, verdict, days)).splitlines()[0]


def alive(ids):
    if not ids:
        return set()
    return set(psql("SELECT id FROM notifications WHERE id IN (%s)" % ",".join(ids)).split())


@pytest.fixture
def rows():
    tag = "prune-" + uuid.uuid4().hex[:8]
    r = {
        "rejected_old": put("rejected", "unverified: signature invalid", 8, tag),
        "rejected_new": put("rejected", "unverified: signature invalid", 1, tag),
        # Signed by the provider, refused on its content: money may have arrived, so it is kept
        # as long as settled rows are.
        "refused_signed_old": put("rejected", "app_id check failed: notified wxother, merchant wx1", 40, tag),
        "settled_old": put("settled", "", 40, tag),
        "duplicate_old": put("duplicate", "already OK", 40, tag),
        "ignored_old": put("ignored", "not a payment event", 40, tag),
        "settled_8d": put("settled", "", 8, tag),
        "received_old": put("received", "", 40, tag),
        "error_old": put("error", "database unavailable", 40, tag),
        # Kept `error` because its signature could not be checked then (PayPal's certificate not
        # downloadable): never verified, so it goes with the rejected ones.
        "unchecked_old": put("error", "not checked now: certificate download failed: timeout", 8, tag),
        "unchecked_new": put("error", "not checked now: certificate download failed: timeout", 1, tag),
        # A webhook whose capture call was paced (a CRC32 twin makes any number): nothing was done
        # on its word, so it goes with the unverified ones too.
        "paced_old": put("ignored", "paced: approved; its completion was asked for less than 2 s ago", 8, tag),
        "paced_new": put("ignored", "paced: approved; its completion was asked for less than 2 s ago", 1, tag),
        # A PayPal webhook about a slip already paid, on which nothing was asked (a CRC32 twin makes
        # any number; PayPal's resend proves nothing its settled row does not): goes with them too.
        "unconfirmed_old": put("duplicate", "unconfirmed: slip already paid", 8, tag),
        "unconfirmed_new": put("duplicate", "unconfirmed: slip already paid", 1, tag),
    }
    for i, (verdict, reason) in enumerate(KEPT):
        r["kept_%d" % i] = put(verdict, reason, 400, tag)
    yield r
    psql("DELETE FROM notifications WHERE id IN (%s)" % ",".join(r.values()))


def gone(rows, before, after):
    """The names of `rows` alive before and gone after."""
    return {name for name, i in rows.items() if i in before and i not in after}


def test_prune_drops_old_forgeries_and_keeps_what_reconcile_or_replay_needs(rows):
    before = alive(list(rows.values()))
    res = cli("inbox", "prune")
    assert re.match(r"pruned \d+ unverified notifications, 0 decided \(kept: no age given\)$",
                    res.stdout.strip()), res.stdout
    after = alive(list(rows.values()))
    assert gone(rows, before, after) == {"rejected_old", "unchecked_old", "paced_old", "unconfirmed_old"}

    # The others too, once an age is given for them; never a kept report nor an undecided row.
    res = cli("inbox", "prune", "--older-than", "10d")
    assert re.match(r"pruned \d+ unverified notifications, [1-9]\d* decided$", res.stdout.strip()), res.stdout
    after2 = alive(list(rows.values()))
    assert gone(rows, after, after2) == {"settled_old", "duplicate_old", "ignored_old", "refused_signed_old"}

    # In a flood, every forgery at once: still none of the kept reports.
    cli("inbox", "prune", "--rejected-older-than", "0s")
    after3 = alive(list(rows.values()))
    assert gone(rows, after2, after3) == {"rejected_new", "unchecked_new", "paced_new", "unconfirmed_new"}
    assert {n for n, i in rows.items() if i in after3} == (
        {"settled_8d", "received_old", "error_old"} | {"kept_%d" % i for i in range(len(KEPT))})


def test_prune_takes_at_most_limit_rows_of_each_kind(rows):
    tag = "prune-limit-" + uuid.uuid4().hex[:6]
    extra = [put("rejected", "unverified: signature invalid", 30, tag) for _ in range(5)]
    try:
        cli("inbox", "prune", "--rejected-older-than", "20d", "--limit", "2")
        assert len(alive(extra)) <= 3  # other tests' old forgeries may take some of the two
        cli("inbox", "prune", "--rejected-older-than", "20d")
        assert alive(extra) == set()
    finally:
        psql("DELETE FROM notifications WHERE id IN (%s)" % ",".join(extra))


@pytest.mark.parametrize("args,says", [
    (["--older-than", "3d"], "--older-than: at least 7d"),
    (["--older-than", "6d23h"], "a duration like"),
    (["--rejected-older-than", "-1d"], "--rejected-older-than: a duration like"),
    (["--rejected-older-than", "5x"], "--rejected-older-than: a duration like"),
    # The config's ages are days: a bare 7 taken as seconds dropped nearly every unverified row.
    (["--rejected-older-than", "7"], "--rejected-older-than: a duration like 60s, 5m, 2h or 7d (at most ten years): give its unit"),
    (["--older-than", "30"], "give its unit"),
    (["--rejected-older-than", "99999999999999999999d"], "--rejected-older-than: a duration like"),
    (["--older-than", "3700d"], "at most ten years"),
    (["--limit", "0"], "--limit 1..100000"),
    (["--verdict", "rejected"], "takes no --verdict"),
])
def test_prune_refuses_what_it_cannot_mean_before_dropping_anything(rows, args, says):
    before = alive(list(rows.values()))
    res = cli("inbox", "prune", *args, check=False)
    assert res.returncode == 2 and says in res.stderr, res
    assert alive(list(rows.values())) == before


def test_json_is_refused_as_for_every_command_without_json_output():
    res = cli("inbox", "prune", "--json", check=False)
    assert res.returncode == 2 and "has no --json output" in res.stderr, res


def test_expire_drops_a_forgery_that_came_through_nginx_once_it_is_old_enough():
    """End to end: a forged WeChat notification is stored and rejected through the real endpoint,
    and the expire timer's run drops it once notify.keep_rejected_days have passed (and not
    before)."""
    forged = ("<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>"
              "<out_trade_no>nosuchslip%s</out_trade_no><total_fee>1</total_fee>"
              "<sign>00000000000000000000000000000000</sign></xml>" % uuid.uuid4().hex[:8]).encode()
    api("POST", "re_wx", raw_body=forged, headers={"Content-Type": "text/xml"})
    row = psql("SELECT id FROM notifications WHERE body = '\\x%s'::bytea" % forged.hex())
    assert psql("SELECT verdict || '|' || reason FROM notifications WHERE id = %s" % row) == \
        "rejected|unverified: signature invalid"

    cli("expire")
    assert alive([row]) == {row}
    psql("UPDATE notifications SET ct = now() - interval '6 days' WHERE id = %s" % row)
    cli("expire")
    assert alive([row]) == {row}
    # A shop that keeps forgeries for five days: gone at six.
    cli("expire", env={"ORDERPAY_NOTIFY_KEEP_REJECTED_DAYS": "5"})
    assert alive([row]) == set()


def test_a_signed_notification_refused_on_its_content_is_kept_with_the_settled_ones():
    """A notification WeChat signed that names another app_id is refused, but it is the provider's
    word that money moved: it is not "unverified", so notify.keep_rejected_days leaves it (review
    s26-diff #3); notify.keep_days, the age of settled rows, is its age."""
    from helpers import buy_ok, sim_pay
    order = buy_ok("wx.qrcode")
    sim_pay(order["pay_id"], tamper="appid")
    row, verdict, reason = psql("SELECT id, verdict, reason FROM notifications WHERE slip_id = '%s' "
                                "ORDER BY id DESC LIMIT 1" % order["pay_id"]).split("|", 2)
    assert verdict == "rejected" and reason.startswith("app_id check failed"), reason
    psql("UPDATE notifications SET ct = now() - interval '30 days' WHERE id = %s" % row)
    cli("expire", env={"ORDERPAY_NOTIFY_KEEP_REJECTED_DAYS": "1"})
    assert alive([row]) == {row}
    cli("expire", env={"ORDERPAY_NOTIFY_KEEP_DAYS": "20"})
    assert alive([row]) == set()


def test_expire_keeps_decided_rows_unless_the_config_says_how_long(rows):
    before = alive(list(rows.values()))
    cli("expire")
    assert gone(rows, before, alive(list(rows.values()))) == {"rejected_old", "unchecked_old", "paced_old",
                                                              "unconfirmed_old"}
    # 0 keeps forgeries too.
    cli("expire", env={"ORDERPAY_NOTIFY_KEEP_REJECTED_DAYS": "0"})
    assert "rejected_new" in {n for n, i in rows.items() if i in alive(list(rows.values()))}
    cli("expire", env={"ORDERPAY_NOTIFY_KEEP_DAYS": "30"})
    left = {n for n, i in rows.items() if i in alive(list(rows.values()))}
    assert not left & {"settled_old", "duplicate_old", "ignored_old", "refused_signed_old"}, left
    assert {"settled_8d", "received_old", "error_old", "rejected_new", "unchecked_new", "paced_new",
            "unconfirmed_new"} <= left, left
    assert "refused_signed_old" in {n for n, i in rows.items() if i in before}
    assert {"kept_%d" % i for i in range(len(KEPT))} <= left, left


@pytest.mark.parametrize("key,value,says", [
    ("NOTIFY_KEEP_DAYS", "3", "notify.keep_days must be 0 (keep every decided notification) or at least 7"),
    ("NOTIFY_KEEP_DAYS", "-1", "notify.keep_days"),
    ("NOTIFY_KEEP_REJECTED_DAYS", "7d", "notify.keep_rejected_days"),
    ("NOTIFY_KEEP_REJECTED_DAYS", "4000", "notify.keep_rejected_days"),
])
def test_a_retention_the_config_cannot_mean_stops_the_cli_before_it_prunes(rows, key, value, says):
    before = alive(list(rows.values()))
    res = cli("expire", check=False, env={"ORDERPAY_" + key: value})
    assert res.returncode != 0 and says in res.stderr, res
    assert alive(list(rows.values())) == before


def test_concurrent_prunes_share_the_rows_and_all_succeed():
    """The timers may run on every host at once (README, several hosts): three prunes of the same
    3000 rows neither wait on nor deadlock with each other (SKIP LOCKED), all exit 0, and between
    them every row goes exactly once."""
    from concurrent.futures import ThreadPoolExecutor
    tag = "prune-many-" + uuid.uuid4().hex[:6]
    ids = psql("INSERT INTO notifications (provider, site_id, body, verdict, reason, ct, decided_at) "
               "SELECT 'zfb', '%s', convert_to('%s ' || i, 'UTF8'), 'rejected', 'unverified: sign check failed', "
               "now() - interval '30 days', now() - interval '30 days' FROM generate_series(1, 3000) i "
               "RETURNING id" % (SITE, tag)).splitlines()
    ids = [i for i in ids if i.isdigit()]  # psql adds "INSERT 0 3000"
    assert len(ids) == 3000
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda _: cli("inbox", "prune", "--rejected-older-than", "20d", check=False),
                             range(3)))
    assert all(r.returncode == 0 for r in runs), runs
    pruned = [int(re.match(r"pruned (\d+) unverified", r.stdout).group(1)) for r in runs]
    assert sum(pruned) >= 3000, pruned
    assert psql("SELECT count(*) FROM notifications WHERE id IN (%s)" % ",".join(ids)) == "0"


def test_rows_another_session_holds_are_skipped_not_waited_for_and_go_on_the_next_run():
    """Several due rows locked by another session (a replay deciding them, an operator's psql left
    open in a transaction): the prune neither waits for them (the CLI's lock timeout would fail
    the run) nor stops at them; it drops the rest and takes the locked ones on a later run."""
    import time
    from helpers import Locker
    tag = "prune-locked-" + uuid.uuid4().hex[:6]
    ids = [put("rejected", "unverified: signature invalid", 30, tag) for _ in range(6)]
    locker = Locker("SELECT id FROM notifications WHERE id IN (%s) FOR UPDATE" % ",".join(ids[:3]))
    try:
        t0 = time.time()
        res = cli("inbox", "prune", "--rejected-older-than", "20d", check=False)
        assert res.returncode == 0 and time.time() - t0 < 10, res
        assert alive(ids) == set(ids[:3])
    finally:
        locker.release()
    cli("inbox", "prune", "--rejected-older-than", "20d")
    assert alive(ids) == set()
