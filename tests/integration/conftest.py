"""Fixtures and helpers for the integration tests (stdlib only).

The stack is started by tests/integration/run.sh (deploy/stack.sh up), which exports
STACK_ENV=<state dir>/stack.env. To run the tests by hand against a running stack:

    make up && STACK_ENV=var/stack.env /usr/bin/python3 -m pytest -q tests/integration

Helpers (plain functions, importable with `from conftest import api, sim, psql, cli`):

    api(method, action, ticket=None, params=None, json=None, raw_body=None, headers=None,
        site=None) -> (status, parsed JSON or None, raw body bytes, headers dict)
    sim(path, form=None, method="POST") -> (status, parsed JSON or None, raw bytes, headers)
    psql(sql) -> stdout text (psql -At), for assertions on the database
    cli(*args, check=True) -> subprocess.CompletedProcess of $ORDERPAY_BIN/orderpay
"""

import json as jsonlib
import os
import shlex
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

import openapi_check

PSQL = "/usr/lib/postgresql/15/bin/psql"
TIMEOUT = 70  # above nginx's fastcgi_read_timeout (60 s): nginx answers first


def load_env(path):
    """Parses stack.env: `export KEY='value'` (or KEY=value) lines, `#` comments."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            key, sep, value = line.partition("=")
            if not sep:
                continue
            parts = shlex.split(value)
            env[key.strip()] = parts[0] if parts else ""
    return env


def _stack_env():
    path = os.environ.get("STACK_ENV")
    if not path:
        pytest.exit("STACK_ENV is not set: run tests/integration/run.sh BIN_DIR "
                    "(or make up, then STACK_ENV=var/stack.env)", returncode=2)
    # run.sh gives each pytest-xdist worker (gw0, gw1, ...) a stack of its own, listed in
    # STACK_ENVS: the tests restart PostgreSQL, kill workers and count every slip, so two
    # workers must never share one.
    worker, paths = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("STACK_ENVS")
    if worker and paths:
        paths = paths.split(":")
        index = int(worker.removeprefix("gw"))
        if index >= len(paths):
            pytest.exit("worker %s has no stack: STACK_ENVS lists %d" % (worker, len(paths)),
                        returncode=2)
        path = paths[index]
    return load_env(path)


STACK = _stack_env()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a test sees a 3xx as it is
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http(method, url, body=None, headers=None, timeout=TIMEOUT):
    """One HTTP request; returns (status, parsed JSON or None, raw bytes, headers dict).

    HTTP errors are returned, not raised. Header names are lower-cased. A reply from
    ORDERPAY_URL is validated against api/openapi.yaml (openapi_check), failing the test if it
    does not match.
    """
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, raw, hdrs = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    hdrs = {k.lower(): v for k, v in hdrs.items()}
    # Every reply from orderpay's origin must be what api/openapi.yaml says it is.
    if url.startswith(STACK["ORDERPAY_URL"] + "/"):
        openapi_check.check_reply(method, url[len(STACK["ORDERPAY_URL"]):], status, hdrs, raw)
    parsed = None
    if raw:
        try:
            parsed = jsonlib.loads(raw)
        except ValueError:
            parsed = None
    return status, parsed, raw, hdrs


def api_url(action, ticket=None, params=None, site=None):
    """URL of /api/<site>/pay/<action> with the ticket and params in the query string."""
    query = []
    if ticket is not None:
        query.append(("ticket", ticket))
    if params:
        query.extend(params.items() if isinstance(params, dict) else params)
    url = "%s/api/%s/pay/%s" % (STACK["ORDERPAY_URL"], site or STACK["DEMO_SITE"], action)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    return url


def api(method, action, ticket=None, params=None, json=None, raw_body=None, headers=None,
        site=None):
    """Calls the API through nginx.

    json: an object sent as application/json; raw_body: bytes or str sent as they are (give
    the Content-Type in headers). Returns (status, parsed JSON or None, raw bytes, headers).
    """
    hdrs = dict(headers or {})
    body = None
    if json is not None:
        body = jsonlib.dumps(json).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif raw_body is not None:
        body = raw_body.encode() if isinstance(raw_body, str) else raw_body
    return http(method, api_url(action, ticket, params, site), body, hdrs)


def sim(path, form=None, method="POST"):
    """Calls paysim (through nginx); form is a dict sent url-encoded."""
    url = STACK["PAYSIM_URL"] + "/" + path.lstrip("/")
    body = urllib.parse.urlencode(form).encode() if form is not None else None
    hdrs = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    if method == "GET" and body is not None:
        url += "?" + body.decode()
        body, hdrs = None, {}
    return http(method, url, body, hdrs)


def _pg_env():
    env = dict(os.environ)
    for key in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER"):
        env[key] = STACK[key]
    return env


def psql(sql):
    """Runs SQL with psql -At against the stack's database; returns stdout (stripped)."""
    out = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         env=_pg_env(), check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def cli(*args, check=True, timeout=600, env=None):
    """Runs $ORDERPAY_BIN/orderpay with the stack's ORDERPAY_CONFIG and the ORDERPAY_* overrides
    `env` (a fake gateway's URL). The timeout only catches a hang: a reconcile or expire over every
    slip earlier tests left open runs minutes on the ASan build of a loaded CI box."""
    full = dict(os.environ)
    full["ORDERPAY_CONFIG"] = STACK["ORDERPAY_CONFIG"]
    full.update(env or {})
    res = subprocess.run([os.path.join(STACK["ORDERPAY_BIN"], "orderpay"), *map(str, args)],
                         env=full, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError("orderpay %s failed (%d):\n%s%s"
                             % (" ".join(map(str, args)), res.returncode, res.stdout, res.stderr))
    return res


@pytest.fixture(scope="session")
def stack():
    """The stack's environment (stack.env as a dict): ORDERPAY_URL, DEMO_TICKET, PGPORT, ..."""
    return dict(STACK)


def pytest_configure(config):
    """Workers sharing one stack would break each other's tests: -n needs STACK_ENVS."""
    workers = getattr(config.option, "numprocesses", None)
    if workers and not os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("STACK_ENVS"):
        pytest.exit("pytest -n needs a stack per worker (STACK_ENVS=env1:env2:...): run "
                    "tests/integration/run.sh, or leave -n out to run on one stack", returncode=2)


def pytest_sessionfinish(session):
    """An xdist worker hands what it saw to the controller, which writes the summary."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["openapi_checked"] = openapi_check.CHECKED[0]
        session.config.workeroutput["openapi_seen"] = sorted(openapi_check.SEEN)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist, never called
def pytest_testnodedown(node, error):
    """On the xdist controller: adds up what each worker's replies covered."""
    out = getattr(node, "workeroutput", {})
    openapi_check.CHECKED[0] += out.get("openapi_checked", 0)
    openapi_check.SEEN.update(tuple(pair) for pair in out.get("openapi_seen", ()))


def pytest_terminal_summary(terminalreporter):
    """How many replies were checked against api/openapi.yaml, and which documented responses
    no test produced (written to $STACK_LOG_DIR/openapi-coverage.txt)."""
    lines = openapi_check.summary()
    unseen = [line for line in lines if line.startswith("unseen")]
    terminalreporter.write_line("openapi: %d replies validated against api/openapi.yaml; %d of %d documented "
                                "responses seen" % (openapi_check.CHECKED[0], len(lines) - len(unseen), len(lines)))
    log_dir = STACK.get("STACK_LOG_DIR")
    if log_dir and os.path.isdir(log_dir):
        with open(os.path.join(log_dir, "openapi-coverage.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
