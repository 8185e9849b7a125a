"""The statements that read an order's lines use the primary key's index even in a generic plan
made on an empty, never-analyzed order_items, as a new shop's workers make it: a worker keeps the
generic plan of a prepared statement until the table is next analyzed, and a sequential scan
chosen while the table was empty read the whole table once per pay/buy as it grew (make bench
prints the sequential scans of a run). The table is a temporary copy, so nothing real changes."""

import re

import pytest

from conftest import cli, psql

STATEMENTS = ["check_view", "order_view", "slip_wait_view"]


def generic_plan_on_empty_items(name):
    sql = cli("sql", name).stdout.strip().rstrip(";")
    n = max(int(m) for m in re.findall(r"\$(\d+)", sql))
    return psql("CREATE TEMP TABLE order_items (LIKE public.order_items INCLUDING ALL); "
                "SET plan_cache_mode = force_generic_plan; "
                "PREPARE p(%s) AS %s; EXPLAIN EXECUTE p(%s);"
                % (", ".join(["text"] * n), sql, ", ".join(["NULL"] * n)))


@pytest.mark.parametrize("name", STATEMENTS)
def test_order_lines_are_read_by_index_in_a_generic_plan(name):
    plan = generic_plan_on_empty_items(name)
    assert "on order_items" in plan, plan  # the plan reads the (temporary) table
    assert "Seq Scan on order_items" not in plan, plan
    assert "order_items_pkey" in plan, plan
