"""A worker that dies between storing a notification and settling it leaves a "received" row;
`orderpay inbox replay` must decide it exactly as the live path would. The generic case (a WeChat
v2 notice, which names its slip in the clear) is in test_provider_binding.py; here the two kinds
whose slip is found only after storing: a WeChat v3 notice (the slip is inside the sealed
resource) and a PayPal webhook (verified against a fetched certificate, settled by capture id)."""

import pytest

from conftest import STACK, cli, psql
from helpers import db_row, sim_pay
from test_paypal import SITE as PAYPAL_SITE
from test_paypal import buy_paypal_ok, order_of, sim_paypal
from test_wx3 import V3, buy3_ok, state3


def last_row_id():
    return int(psql("SELECT coalesce(max(id), 0) FROM notifications"))


def fault_on_settle(slip):
    """Settling `slip` fails inside the database, as a worker dying there would leave it."""
    # The function is the slip's own, so clearing it leaves nothing behind in the shop's schema.
    psql("CREATE OR REPLACE FUNCTION test_boom_%s() RETURNS trigger LANGUAGE plpgsql AS "
         "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$; "
         "CREATE TRIGGER test_boom_%s BEFORE UPDATE ON pay_slips FOR EACH ROW "
         "WHEN (NEW.id = '%s' AND NEW.st = 'OK') EXECUTE FUNCTION test_boom_%s()" % (slip, slip, slip, slip))


def clear_fault(slip):
    psql("DROP TRIGGER IF EXISTS test_boom_%s ON pay_slips; DROP FUNCTION IF EXISTS test_boom_%s()"
         % (slip, slip))


def left_as_received(provider, site, after):
    """The rows stored for this delivery, put back to what a worker killed before deciding leaves."""
    rows = psql("SELECT id FROM notifications WHERE provider = '%s' AND site_id = '%s' AND id > %d ORDER BY id"
                % (provider, site, after)).split()
    assert rows, "nothing was stored"
    psql("UPDATE notifications SET verdict = 'received', reason = '', slip_id = NULL WHERE id IN (%s)"
         % ",".join(rows))
    return rows


def replay_settles(rows, provider):
    out = cli("inbox", "replay", "--older-than", "0s").stdout
    verdicts = {line.split("\t")[0]: line.split("\t")[2] for line in out.splitlines() if line.count("\t") >= 2}
    assert verdicts.get(rows[0]) == "settled", out
    # A second replay finds nothing left and changes nothing.
    again = cli("inbox", "replay", "--older-than", "0s").stdout
    assert not any(line.split("\t")[0] in rows for line in again.splitlines()), again


@pytest.mark.skipif("DEMO_V3_SITE" not in STACK, reason="stack.env has no DEMO_V3_SITE")
def test_wechat_v3_sealed_notice_left_received_is_settled_by_replay():
    order = buy3_ok()
    slip = order["pay_id"]
    before = last_row_id()
    fault_on_settle(slip)
    try:
        data = sim_pay(slip)
        assert [r["status"] for r in data["replies"]] == [500], data
    finally:
        clear_fault(slip)
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["WAIT"]
    rows = left_as_received("wx", V3, before)
    replay_settles(rows, "wx")
    assert state3(order["id"])["or_st"] == "OK"
    assert db_row("SELECT verdict, slip_id FROM notifications WHERE id = %s" % rows[0]) == ["settled", slip]


def test_paypal_webhook_left_received_is_settled_by_replay():
    order = buy_paypal_ok()
    slip = order["pay_id"]
    before = last_row_id()
    fault_on_settle(slip)
    try:
        result = sim_paypal(slip)
        assert [r["status"] for r in result["replies"]] == [500], result
    finally:
        clear_fault(slip)
    assert db_row("SELECT st FROM pay_slips WHERE id = '%s'" % slip) == ["WAIT"]
    rows = left_as_received("paypal", PAYPAL_SITE, before)
    replay_settles(rows, "paypal")
    assert order_of(order["id"])["or_st"] == "OK"
    assert db_row("SELECT verdict, slip_id FROM notifications WHERE id = %s" % rows[0]) == ["settled", slip]
