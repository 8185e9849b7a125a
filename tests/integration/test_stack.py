"""The stack itself: nginx reaches orderpayd, and unknown API paths answer in the API's shape."""

from conftest import STACK, api, http


def test_healthz_through_nginx():
    status, _, raw, _ = http("GET", STACK["ORDERPAY_URL"] + "/healthz")
    assert status == 200, raw


def test_unknown_action_is_json_404():
    status, body, raw, headers = api("GET", "nope", ticket=STACK["DEMO_TICKET"])
    assert status == 404, raw
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert body is not None and body.get("ok") is False, raw
    assert body.get("errCode"), raw


def test_access_log_never_records_the_ticket(stack):
    secret = "NoTicketInLogs" + stack["API_PORT"]
    api("GET", "check", ticket=secret, params={"id": "x"})
    log = open(stack["STACK_LOG_DIR"] + "/nginx-access.log", encoding="utf-8").read()
    assert "/api/demo/pay/check" in log
    assert secret not in log


def test_each_program_names_itself_to_postgresql():
    """pg_stat_activity (and the server log's %a) tells an operator which program holds a
    session; make bench counts paysim's backends apart from orderpay's by the same name."""
    from conftest import psql
    names = set(psql("SELECT DISTINCT application_name FROM pg_stat_activity "
                     "WHERE datname = current_database()").split())
    assert {"orderpayd", "paysim", "psql"} <= names, names
