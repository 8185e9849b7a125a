"""Statements that find rows of a growing table by a key use an index even in a generic plan
made on an empty, never-analyzed table, as a new shop's workers make it: a worker keeps the
generic plan of a prepared statement until the table is next analyzed, and a sequential scan
chosen while order_items was empty read the whole table once per pay/buy as it grew (make bench
prints the sequential scans of a run). Each table is a temporary empty copy, so nothing real
changes."""

import re
import subprocess

import pytest

from conftest import PSQL, _pg_env, cli, psql

# statement, then each table it reads by a key with the column an index must find its rows by:
# order_items by its primary key (order_id, pos), orders by id (not by the (site_id, buyer_id, ct)
# index, which on an empty table costs the same and would read a whole site's orders), refunds by
# migration 012's (provider, provider_refund_id).
CASES = [
    # The operators' order reads carry chargeback_at: its paying slip's inbox rows by slip_id; the
    # buyers' (check_view, slip_wait_view) read no inbox row (test_buyer_views_read_no_inbox_row).
    ("check_view", [("orders", "id"), ("order_items", "order_id")]),
    ("order_view", [("orders", "id"), ("order_items", "order_id"), ("notifications", "slip_id")]),
    ("slip_wait_view", [("orders", "id"), ("order_items", "order_id")]),
    ("refund_by_provider_id", [("refunds", "provider_refund_id")]),
    # Every refund asked for: the order by id, its slip, the slip's refunds by its id, and the
    # refund a conflict names by its id (a conflict settled by refund finish: REFUND_CONFLICT_OPEN).
    ("refund_conflict", [("orders", "id"), ("pay_slips", "id"), ("refunds", "slip_id"), ("refunds", "id")]),
    # Every refund asked for, before it is written: the chargeback of its slip, by the slip's id.
    ("refund_chargeback", [("orders", "id"), ("pay_slips", "id"), ("notifications", "slip_id")]),
    # A provider's answer contradicting a finished refund (rare): the refund, its slip, and the
    # slip's conflict on record by the slip's id.
    ("refund_contradicted", [("refunds", "id"), ("pay_slips", "id"), ("notifications", "slip_id")]),
    # A refund about to be sent, and a reversal webhook: the slip's chargeback, by the slip's id.
    ("notify_chargeback", [("notifications", "slip_id")]),
    # Logout (admin/ticket_revoke by account): migration 022's (store_id, account_id).
    ("sessions_end_of_account", [("sessions", "account_id")]),
]


def generic_plan_on_empty(name, tables, settings=""):
    sql = cli("sql", name).stdout.strip().rstrip(";")
    n = max((int(m) for m in re.findall(r"\$(\d+)", sql)), default=0)
    copies = "".join("CREATE TEMP TABLE %s (LIKE public.%s INCLUDING ALL); " % (t, t) for t in tables)
    # Parameter types are left to PostgreSQL to infer, as libpq's PQprepare with no types does.
    args = "(%s)" % ", ".join(["NULL"] * n) if n else ""
    return psql(copies + settings + "SET plan_cache_mode = force_generic_plan; "
                "PREPARE p AS %s; EXPLAIN EXECUTE p%s;" % (sql, args))


def scan_node(lines, table):
    """The plan nodes (each with the lines under it) that read `table`: its own scans or the bitmap
    heap scans whose index scan is on the next lines, one after another."""
    out = []
    for i, line in enumerate(lines):
        if re.search(r"Scan (using \S+ )?on %s( |$)" % table, line):
            out += lines[i:i + 4]
    return out


@pytest.mark.parametrize("name,reads", CASES)
def test_rows_are_found_by_index_in_a_generic_plan(name, reads):
    plan = generic_plan_on_empty(name, list(dict.fromkeys(t for t, _ in reads)))
    lines = plan.splitlines()
    for table, column in reads:
        assert "Seq Scan on %s " % table not in plan, plan
        node = scan_node(lines, table)
        assert node, (table, plan)
        # The copies' indexes get generated names, so the index is told by its condition.
        assert any(re.search(r"Index Cond: .*\b%s = " % column, l) for l in node), (table, plan)


@pytest.mark.parametrize("name", ["check_view", "slip_wait_view"])
def test_buyer_views_read_no_inbox_row(name):
    """pay/check's one statement (issue #8's benchmarked path) and pay/buy's order reply carry no
    chargeback_at: a subplan reading the inbox cost pay/check about a tenth of its database time,
    even for orders no chargeback can concern. The operators' views carry it."""
    assert "notifications" not in cli("sql", name).stdout
    assert "notifications" in cli("sql", "order_view").stdout and "notifications" in cli("sql", "orders_page").stdout


# The timers' queues (migration 013): `orderpay expire` (every minute), `orderpay reconcile` and
# `orderpay inbox replay` (every five minutes) run for the life of the shop and want the few
# orders still open, slips still waiting and notifications still undecided, not every row the
# shop ever had. Each must read its table through the partial index made for its queue, in the
# statement's own order, so that LIMIT ends the scan (a Sort node would mean every matching row
# was read first). The copy's index name is generated from its columns.
# The generic plan shows that an index can serve the statement; the CLI plans its own (unprepared
# ones, order_expire_*) afresh with the tables' statistics.
QUEUES = [
    ("order_expire_due", "orders", ["orders_expi_idx"]),
    ("slips_waiting_due", "pay_slips", ["pay_slips_queried_at_ct_idx"]),
    ("notify_received", "notifications", ["notifications_verdict_ct_idx"]),
    ("slips_voided_paid", "pay_slips", ["pay_slips_queried_at_voiding_at_idx"]),
]


@pytest.mark.parametrize("name,table,indexes", QUEUES)
def test_timer_queues_are_read_in_order_by_their_index_in_a_generic_plan(name, table, indexes):
    plan = generic_plan_on_empty(name, [table])
    assert "Seq Scan" not in plan, plan
    for index in indexes:
        assert re.search(r"Index (Only )?Scan using %s on %s " % (index, table), plan), plan
    assert "Sort" not in plan, plan


def test_back_office_pages_read_the_page_by_its_index_and_each_order_by_its_keys():
    """admin/orders: a page of a site's orders in one state, by migration 024's (site_id, or_st,
    ct, id) after the cursor and in that order (no sort of the site's orders), then each order,
    its lines, its slip and its chargeback (chargeback_at) through their keys; the only sort is of
    the page's rows."""
    plan = generic_plan_on_empty("orders_page", ["orders", "order_items", "pay_slips", "refunds", "notifications"])
    lines = plan[plan.index("\nSort ") + 1:].splitlines()
    assert "Seq Scan" not in plan, plan
    page = plan[plan.index("CTE page"):plan.index("\n", plan.index("Index Cond", plan.index("CTE page")))]
    assert "Sort" not in page, plan
    assert re.search(r"Index Only Scan using orders_site_id_or_st_ct_id_idx on orders ", page), plan
    assert re.search(r"Index Scan using orders_pkey on orders ", plan), plan
    assert re.search(r"Index Cond: \(id = p\.id\)", plan), plan
    assert re.search(r"Index Scan using order_items_pkey on order_items i ", plan), plan
    # chargeback_at: each order's paying slip's inbox rows, by the slip's index.
    assert re.search(r"Index Cond: \(slip_id = o\.pay_id\)", plan), plan
    assert lines[0].startswith("Sort ") and "Sort Key: o.ct, o.id, i.pos" in lines[1], plan


def test_expires_retry_queue_reads_only_open_orders_past_expiry():
    """Orders `orderpay expire` left open, longest-tried first (migration 019): read through the open
    orders past expiry (orders_open_expi), then sorted. 019 builds no index for them, as that would
    read every order while its ALTER holds the table from the shop."""
    plan = generic_plan_on_empty("order_expire_retry", ["orders"])
    assert "Seq Scan" not in plan, plan
    assert "Index Scan using orders_expi_idx on orders " in plan, plan
    assert re.search(r"Index Cond: \(expi < now\(\)\)", plan), plan


def test_every_statements_result_columns_have_distinct_names():
    """db::Result::Col tries the column after the last one it found before PQfnumber's search;
    that gives PQfnumber's answer (the first column of the name) only while no name repeats.
    psql's \\gdesc describes each prepared statement's result without running it."""
    names = cli("sql").stdout.split()
    assert len(names) > 50, names
    script = []
    for name in names:
        sql = cli("sql", name).stdout.strip().rstrip(";")
        n = max([int(m) for m in re.findall(r"\$(\d+)", sql)] or [0])
        args = "(%s)" % ", ".join(["NULL"] * n) if n else ""
        script.append("\\echo == %s\nPREPARE p AS %s;\nEXECUTE p%s \\gdesc\nDEALLOCATE p;"
                      % (name, sql, args))
    out = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1"], input="\n".join(script),
                         env=_pg_env(), check=True, capture_output=True, text=True,
                         timeout=60).stdout
    described = 0
    for block in out.split("== ")[1:]:
        name, *rows = block.strip().splitlines()
        cols = [r.split("|")[0] for r in rows if "|" in r]
        described += bool(cols)
        assert len(cols) == len(set(cols)), (name, cols)
    assert described > 30, out


def test_reconcile_attention_list_is_gathered_by_index():
    """`orderpay reconcile` lists slips an operator must look at every five minutes. It once read
    every pay slip and, for each unpaid one, its notifications; now each reason a slip can be
    listed for has an index whose condition its branch repeats (migration 014 for the rejected
    notifications). On empty copies a sequential scan costs the same as any index, so sequential
    scans are priced out here: what is left shows that an index can serve every branch (a branch
    no index covers would still scan), which real statistics then prefer for the few rows each
    holds. The CLI plans afresh on every run, with the tables' statistics."""
    plan = generic_plan_on_empty("slips_needing_attention", ["pay_slips", "notifications"],
                                 "SET enable_seqscan = off; ")
    for table in ("pay_slips", "notifications"):
        assert not re.search(r"Seq Scan on %s\b" % table, plan), plan
    for index in ("pay_slips_site_id_idx",  # refund_needed (pay_slips_refund)
                  "pay_slips_queried_at_ct_idx",  # open (pay_slips_waiting)
                  "pay_slips_ct_idx",  # failed, not confirmed closed (pay_slips_unconfirmed)
                  "notifications_slip_id_idx1",  # mismatch (notifications_mismatch)
                  "pay_slips_queried_at_voiding_at_idx",  # voided, still paid (pay_slips_voided_paid)
                  "notifications_ct_idx",  # paid again, refunded outside, refund conflicts
                  "notifications_ct_idx1",  # (migrations 014, 017, 020): all on (ct), named in
                  "notifications_ct_idx2"):  # creation order in the copy
        assert re.search(r"(Index (Only )?Scan using|Bitmap Index Scan on) %s\b" % index, plan), (index, plan)


@pytest.mark.parametrize("name,cond", [
    ("notify_prune", r"Index Cond: .*\(verdict = \$1\) AND \(ct < "),
    ("notify_prune_unverified", r"Index Cond: .*\(verdict = \$3\) AND \(ct < "),
    ("notify_prune_unchecked", r"Index Cond: .*\(verdict = 'error'::text\) AND \(ct < "),
])
def test_the_inbox_retention_reads_its_rows_in_index_order(name, cond):
    """`orderpay expire` runs the inbox's retention every minute (migration 021): each statement
    finds the rows due by an index of its verdict in ct order, so that LIMIT ends the scan (a Sort
    would mean every row due was read first; review s26-diff #2 measured a whole-inbox read)."""
    plan = generic_plan_on_empty(name, ["notifications"])
    assert "Seq Scan" not in plan and "Sort" not in plan, plan
    assert re.search(cond, plan), plan


def test_the_tickets_retention_reads_only_what_is_due_in_index_order():
    """`orderpay expire` deletes tickets that ended long ago every minute (migration 026): the due
    ones are found through the index on expires_at in its order, so that LIMIT ends the scan (a
    Sort would mean every ended ticket was read first), and deleted by their primary key: never a
    read of every ticket ever issued."""
    plan = generic_plan_on_empty("sessions_prune", ["sessions"])
    assert "Seq Scan" not in plan and "Sort" not in plan, plan
    assert re.search(r"Index Scan using sessions_expires_at_idx on sessions s ", plan), plan
    assert re.search(r"Index Cond: \(expires_at < \(now\(\) - ", plan), plan
    assert re.search(r"Index Cond: \(ticket_hash = ANY ", plan), plan


def test_the_held_money_page_is_found_from_the_held_slips_not_the_sites_orders():
    """admin/orders?refund_needed=1: the orders holding a late or double payment not given back,
    in any state. Found from the site's held slips by migration 001's partial index (a handful per
    shop), their OK refunds by slip, each order by its key: never a walk of the site's orders, which
    for a shop of 100k orders read them all to find a few (the held page's only sort is of those few)."""
    plan = generic_plan_on_empty("orders_held_page", ["orders", "order_items", "pay_slips", "refunds", "notifications"])
    assert "Seq Scan" not in plan, plan
    page = plan[plan.index("CTE page"):plan.index("\n  ->  ", plan.index("CTE page"))]
    assert re.search(r"Index Scan using pay_slips_site_id_idx on pay_slips s\w* ", page), plan
    assert re.search(r"Index Cond: \(site_id = \$1\)", page), plan
    assert re.search(r"Index Cond: \(slip_id = s\w*\.id\)", page), plan
    # Each held slip's order by its primary key alone: orders_site_state with only site_id bound
    # would read the site's every order once per held slip.
    assert re.search(r"Index Scan using orders_pkey on orders \w+ .*\n\s+Index Cond: \(id = s\w*\.order_id\)", page), plan
    assert "orders_site_id_or_st_ct_id_idx" not in plan and "orders_site_id_buyer_id" not in plan, plan
