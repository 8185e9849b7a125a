"""A refund's idempotency key replays only the same request (migration 027): the same order and
the same amount again, or again no amount ("all that is left"). A key first used for a partial
refund, sent again with no amount, was answered that partial refund (200, replay) and the buyer
was silently owed the rest (review s29-attack #2). Now every other body under a key is 409
e.www.api.idempotency_mismatch with nothing written, through admin/refund and `orderpay refund
--key` alike, and concurrently too; refunds made before 027 (amount_asked NULL) replay an equal
amount, and no amount only when they refunded the whole payment."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import cli, psql
from helpers import refund_rows, sim_refunded
from test_refund import key, paid_order, refund  # noqa: F401 (key is a fixture)

MISMATCH = "e.www.api.idempotency_mismatch"


def asked(refund_id):
    return psql("SELECT coalesce(amount_asked::text, 'null') FROM refunds WHERE id = '%s'" % refund_id)


def mismatch(res):
    st, body, raw, _ = res
    assert st == 409 and body["errCode"] == MISMATCH, raw
    assert body["data"]["refund"] is None, raw
    return body


def replayed(res, refund_id):
    st, body, raw, _ = res
    assert st == 200 and body["data"]["refund"]["id"] == refund_id and body["data"]["refund"]["replay"] is True, raw
    return body


def test_a_key_used_for_a_part_is_not_all_that_is_left(key):
    order = paid_order()
    idem = "rma-" + uuid.uuid4().hex
    st, body, raw, _ = refund(key, order["id"], "3.00", idem=idem)
    assert st == 200 and body["data"]["refund"]["replay"] is False, raw
    first = body["data"]["refund"]["id"]
    assert asked(first) == "true"
    # "Refund the rest" under the RMA's key: refused, the refund it names in msg, nothing written.
    body = mismatch(refund(key, order["id"], idem=idem))
    assert "used for another refund" in body["msg"] and first in body["msg"], body
    assert "(300, asked with that amount)" in body["msg"], body
    assert body["data"]["order"]["refunded"] == 3.0 and body["data"]["order"]["or_st"] == "OK", body
    # The same body again is the same refund; what is left, named, is another amount.
    replayed(refund(key, order["id"], "3.00", idem=idem), first)
    replayed(refund(key, order["id"], "3.0", idem=idem), first)
    mismatch(refund(key, order["id"], "22.00", idem=idem))
    assert refund_rows(order["id"]) == 1 and sim_refunded(order["pay_id"]) == 300
    # The rest under a key of its own.
    st, body, raw, _ = refund(key, order["id"], idem=idem + "-rest")
    assert st == 200 and body["data"]["refund"]["amount"] == 22.0 and body["data"]["order"]["or_st"] == "RF", raw
    mismatch(refund(key, order["id"], idem=idem))
    assert refund_rows(order["id"]) == 2 and sim_refunded(order["pay_id"]) == 2500


def test_a_key_used_for_all_that_was_left_replays_only_without_an_amount(key):
    order = paid_order()
    assert refund(key, order["id"], "5.00")[0] == 200
    idem = "rest-" + uuid.uuid4().hex
    st, body, raw, _ = refund(key, order["id"], idem=idem)
    assert st == 200 and body["data"]["refund"]["amount"] == 20.0 and body["data"]["order"]["or_st"] == "RF", raw
    rest = body["data"]["refund"]["id"]
    assert asked(rest) == "false"
    # Again without an amount: that refund, though nothing is left now.
    body = replayed(refund(key, order["id"], idem=idem), rest)
    assert body["data"]["refund"]["amount"] == 20.0
    # The amount it came to, named, is another body: refused (the caller chose which to retry).
    body = mismatch(refund(key, order["id"], "20.00", idem=idem))
    assert "(2000, asked for all that was left)" in body["msg"], body
    mismatch(refund(key, order["id"], "1.00", idem=idem))
    assert refund_rows(order["id"]) == 2 and sim_refunded(order["pay_id"]) == 2500


def test_refunds_made_before_027_replay_an_equal_amount_or_a_whole_refund(key):
    """amount_asked NULL: the rows of the previous release. Made so here on this test's orders."""
    order = paid_order()
    part_key, whole_key = "old-p-" + uuid.uuid4().hex, "old-w-" + uuid.uuid4().hex
    part = refund(key, order["id"], "4.00", idem=part_key)[1]["data"]["refund"]["id"]
    psql("UPDATE refunds SET amount_asked = NULL WHERE id = '%s'" % part)
    body = mismatch(refund(key, order["id"], idem=part_key))
    assert body["msg"].endswith("(400)"), body
    replayed(refund(key, order["id"], "4.00", idem=part_key), part)
    # A refund of the whole payment: no amount would have refunded it too.
    whole_order = paid_order()
    whole = refund(key, whole_order["id"], "25.00", idem=whole_key)[1]["data"]["refund"]["id"]
    psql("UPDATE refunds SET amount_asked = NULL WHERE id = '%s'" % whole)
    replayed(refund(key, whole_order["id"], idem=whole_key), whole)
    replayed(refund(key, whole_order["id"], "25.00", idem=whole_key), whole)
    mismatch(refund(key, whole_order["id"], "24.00", idem=whole_key))
    assert refund_rows(order["id"]) == 1 and refund_rows(whole_order["id"]) == 1
    assert sim_refunded(order["pay_id"]) == 400 and sim_refunded(whole_order["pay_id"]) == 2500


def test_one_key_two_bodies_at_once_one_refund_and_the_other_body_refused(key):
    order = paid_order()
    for rnd in range(4):
        idem = "race-%d-" % rnd + uuid.uuid4().hex
        # Half ask 2.00, half all that is left: whichever commits first is the key's request.
        bodies = [("2.00" if i % 2 else None) for i in range(12)]
        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(lambda a: refund(key, order["id"], a, idem=idem), bodies))
        ids = {body["data"]["refund"]["id"] for st, body, _, _ in results if st == 200}
        assert len(ids) == 1, [r[2] for r in results]
        won = psql("SELECT amount_asked FROM refunds WHERE idempotency_key = '%s'" % idem)
        assert won in ("t", "f"), won
        for amount, (st, body, raw, _) in zip(bodies, results):
            same = (amount is not None) == (won == "t")
            assert (st, body.get("errCode")) == ((200, None) if same else (409, MISMATCH)), (amount, won, raw)
        assert psql("SELECT count(*) FROM refunds WHERE idempotency_key = '%s'" % idem) == "1"
        if won == "f":
            break
    taken = int(psql("SELECT sum(amount) FROM refunds WHERE order_id = '%s' AND st = 'OK'" % order["id"]))
    assert sim_refunded(order["pay_id"]) == taken <= 2500


def test_cli_key_replays_only_the_same_amount_or_again_none(key):
    order = paid_order()
    k = "cli-" + uuid.uuid4().hex
    base = ("refund", order["id"], "--reason", "cli key")
    res = cli(*base, "--amount", "3.00", "--key", k)
    assert res.returncode == 0 and " OK 3.00 CNY " in res.stdout and "(replay)" not in res.stdout, res.stdout
    rid = res.stdout.split()[1]
    res = cli(*base, "--key", k, check=False)
    assert res.returncode == 1 and res.stdout == "", res.stdout + res.stderr
    assert MISMATCH in res.stderr and "this --key was used for another refund" in res.stderr, res.stderr
    assert rid in res.stderr, res.stderr
    res = cli(*base, "--amount", "3.00", "--key", k)
    assert res.returncode == 0 and res.stdout.split()[1] == rid and "(replay)" in res.stdout, res.stdout
    assert refund_rows(order["id"]) == 1 and sim_refunded(order["pay_id"]) == 300
    # A key first used without --amount: again without it replays, the 22.00 it came to does not.
    k2 = k + "-rest"
    res = cli(*base, "--key", k2)
    assert res.returncode == 0 and " OK 22.00 CNY " in res.stdout, res.stdout
    rest = res.stdout.split()[1]
    res = cli(*base, "--key", k2)
    assert res.returncode == 0 and res.stdout.split()[1] == rest and "(replay)" in res.stdout, res.stdout
    res = cli(*base, "--key", k2, "--amount", "22.00", check=False)
    assert res.returncode == 1 and MISMATCH in res.stderr and rest in res.stderr, res.stdout + res.stderr
    assert refund_rows(order["id"]) == 2 and sim_refunded(order["pay_id"]) == 2500


def test_cli_words_of_a_refund_made_before_027_are_refused_in_the_operators_words(key):
    """`orderpay refund ORDER --reason R` without --key: its words are its key. Run again on a
    refund of those words made before migration 027 (amount_asked NULL) for "all that was left"
    after a partial one, it is no replay; the refusal speaks of the words and --key, not of
    pay/buy's Idempotency-Key header (review s29b F3)."""
    order = paid_order()
    st, _, raw, _ = refund(key, order["id"], amount=3.0)
    assert st == 200, raw
    reason = "rest " + uuid.uuid4().hex[:6]
    first = cli("refund", order["id"], "--reason", reason, check=False)
    assert first.returncode == 0, first.stderr
    psql("UPDATE refunds SET amount_asked = NULL WHERE slip_id = '%s'" % order["pay_id"])
    again = cli("refund", order["id"], "--reason", reason, check=False)
    assert again.returncode == 1, again
    assert "same words" in again.stderr and "give --key" in again.stderr, again.stderr
    assert "Idempotency-Key" not in again.stderr, again.stderr
