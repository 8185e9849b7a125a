"""Hostile and careless configuration of orderpayd and the `orderpay` CLI, as a shop operator
could write it (README "Configuration"): every kind of key at, past and around its limits (0,
negative, 2^31, 2^63, non-numeric, trailing garbage such as "100ms", a trailing comment),
duplicated, unknown and odd-case keys, lines without "=", CR LF line ends, non-UTF-8 bytes, a
very long line, an empty, missing or directory config file, ORDERPAY_<KEY> environment overrides
with the same odd values, an unwritable log_file, malformed notify_base_url and gateway URLs,
and a SIGHUP reload with a bad value.

What a production service must do with each: refuse to start (non-zero exit, not a signal, a
message naming the key, no socket left behind) or run with exactly the documented meaning;
never crash, never silently run on another value, never print a secret.

Every orderpayd here is our own (one worker, a socket in a private temp dir, the stack's
database); the stack's own orderpayd is never touched. The CLI runs with `--config FILE`.
The probes found 14 defects (commit 09fe075), each fixed by core/config_check.cpp (every key
held to its rule before a program starts or a reload is taken) and named in a comment at its
test."""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import STACK
from helpers import FakeGateway
from test_hostile_provider_values import fcgi

BIN = STACK["ORDERPAY_BIN"]


# ---- config files ---------------------------------------------------------------------------

def base_lines():
    """The stack's config without the lines we always set ourselves."""
    with open(STACK["ORDERPAY_CONFIG"], encoding="utf-8") as f:
        return [ln for ln in f.read().splitlines()
                if not re.match(r"\s*(listen|workers|log_file|log_format)\s*=", ln)]


def config_text(sock, set_=None, drop=(), extra=""):
    """The stack's config with listen=sock, workers=1, keys in `set_` replaced (or appended),
    keys in `drop` removed, then `extra` appended verbatim."""
    set_ = dict(set_ or {})
    out = []
    for ln in base_lines():
        m = re.match(r"\s*([^#=\s][^=]*?)\s*=", ln)
        key = m.group(1) if m else None
        if key in drop:
            continue
        if key in set_:
            out.append("%s = %s" % (key, set_.pop(key)))
        else:
            out.append(ln)
    # set_ may name workers too: one line for it, as every program refuses a key set twice.
    out.insert(0, "workers = %s" % set_.pop("workers", "1"))
    out.insert(0, "listen = %s" % sock)
    out += ["%s = %s" % kv for kv in set_.items()]
    return "\n".join(out) + "\n" + extra


def clean_env(extra=None, keep_pg=False):
    """os.environ without ORDERPAY_* (so only our file and `extra` count) and, unless keep_pg,
    without libpq's PG* (so a default `db` cannot reach the stack's database by accident)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORDERPAY_") and (keep_pg or not k.startswith("PG"))}
    env.update(extra or {})
    return env


@pytest.fixture
def tmpd():
    d = tempfile.mkdtemp(prefix="hc", dir="/tmp")  # short: a socket path must fit sun_path
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


# ---- requests over FastCGI: test_hostile_provider_values.fcgi, (status, parsed JSON, raw body)


def answers(sock):
    """Any FastCGI reply at all (a worker is up, whatever its database does)."""
    try:
        fcgi(sock, "GET", "/healthz", timeout=5)
    except OSError:
        return False
    return True


def healthz(sock):
    try:
        status, body, _ = fcgi(sock, "GET", "/healthz", timeout=5)
    except OSError:
        return False
    return status == 200 and bool(body) and body.get("ok") is True


# ---- our own orderpayd ----------------------------------------------------------------------

class Daemon:
    def __init__(self, proc, sock, log_path):
        self.proc, self.sock, self.log_path = proc, sock, log_path
        self.started = False

    @property
    def rc(self):
        return self.proc.poll()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


@contextlib.contextmanager
def daemon(tmpd, text=None, set_=None, drop=(), extra="", env=None, startup=15):
    """orderpayd --config <tmpd>/c.conf (text, or the stack's config changed by set_/drop/extra)
    with only the ORDERPAY_* of `env`. Yields a Daemon once it exited or answers FastCGI requests."""
    sock = os.path.join(tmpd, "d.sock")
    cfg = write(os.path.join(tmpd, "c.conf"), text if text is not None else config_text(sock, set_, drop, extra))
    log_path = os.path.join(tmpd, "d.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([os.path.join(BIN, "orderpayd"), "--config", cfg], env=clean_env(env),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    d = Daemon(proc, sock, log_path)
    try:
        deadline = time.time() + startup
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(sock) and answers(sock):
                d.started = True
                break
            time.sleep(0.05)
        assert d.started or proc.poll() is not None, "orderpayd neither started nor exited:\n" + d.log()
        yield d
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def assert_refused(d, key):
    """Refused to start: a plain non-zero exit (no signal), a message naming the key, no socket."""
    assert not d.started, "orderpayd started (and answers requests) on a bad %s:\n%s" % (key, d.log())
    assert d.rc is not None and d.rc > 0, "exit %r (negative: killed by a signal):\n%s" % (d.rc, d.log())
    assert key in d.log(), "the message does not name %s:\n%s" % (key, d.log())
    assert not os.path.exists(d.sock), "a half-started orderpayd left its socket behind"


def cli(cfg_path, *args, env=None, keep_pg=True, timeout=60):
    return subprocess.run([os.path.join(BIN, "orderpay"), "--config", cfg_path, *args],
                          env=clean_env(env, keep_pg), capture_output=True, text=True, timeout=timeout)


# ---- the file itself ------------------------------------------------------------------------

def test_missing_config_file_is_refused_by_both_programs(tmpd):
    missing = os.path.join(tmpd, "nope.conf")
    r = cli(missing, "store", "list")
    assert r.returncode == 1 and "cannot read config file " + missing in r.stderr, r
    d = subprocess.run([os.path.join(BIN, "orderpayd"), "--config", missing], env=clean_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert d.returncode == 1 and "cannot read config file " + missing in d.stderr, d


# Was a defect until config_check (2026-12-03): a directory given as config file is read as an empty file and
# the program runs on every default (here the libpq env's database): src/core/config.cpp:37-41 (std::ifstream
# opens a directory, only !in is checked, the read error never is)
def test_directory_as_config_file_is_refused(tmpd):
    # With the operator's PG* environment a default "db = dbname=orderpay" reaches a real database.
    pg = {k: STACK[k] for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE")}
    r = cli(tmpd, "store", "list", env=pg, keep_pg=False)
    assert r.returncode != 0 and tmpd in r.stderr, (r.returncode, r.stdout, r.stderr)


def test_line_without_equals_is_refused_naming_file_and_line_but_not_its_text(tmpd):
    sock = os.path.join(tmpd, "d.sock")
    text = config_text(sock, extra="# fine\n\nS3cretWithoutEquals\n")
    lineno = text.splitlines().index("S3cretWithoutEquals") + 1
    cfg = write(os.path.join(tmpd, "x.conf"), text)
    r = cli(cfg, "store", "list")
    assert r.returncode == 1, r
    assert "%s:%d: expected key = value" % (cfg, lineno) in r.stderr, r.stderr
    assert "S3cret" not in r.stderr
    with daemon(tmpd, text=text) as d:
        assert_refused(d, "expected key = value")
        assert "S3cret" not in d.log()


def test_crlf_line_ends_comments_non_utf8_and_a_huge_line_still_mean_the_same(tmpd):
    sock = os.path.join(tmpd, "d.sock")
    text = config_text(sock, extra="# caf\xe9 comment\n   # indented comment\n\n")
    data = text.replace("\n", "\r\n").encode("latin-1") + b"# \xff\xfe\xc3( not utf-8\r\n"
    data += b"x.unknown_long = " + b"A" * (1 << 20) + b"\r\n"
    with daemon(tmpd, text=data) as d:
        assert d.started and healthz(d.sock), d.log()
        # workers = 1\r must still be 1: exactly one worker process under the master.
        kids = subprocess.run(["pgrep", "-P", str(d.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(kids) == 1, kids
    r = cli(os.path.join(tmpd, "c.conf"), "store", "list")
    assert r.returncode == 0, r


def test_empty_config_file_runs_on_documented_defaults_and_fails_cleanly(tmpd):
    cfg = write(os.path.join(tmpd, "empty.conf"), b"")
    r = cli(cfg, "store", "list", keep_pg=False, env={"PGHOST": os.path.join(tmpd, "nopg")})
    # db defaults to "dbname=orderpay": no server at that socket, a clean message, no signal.
    assert r.returncode == 1 and "cannot connect to the database" in r.stderr, r


@pytest.mark.parametrize("value", ["0", "-1", "257", "2147483649", "9223372036854775808", "99999999999",
                                   "8x", "4 # four", "abc", "0x10", "1.5"])
def test_workers_out_of_range_or_not_a_number_is_refused(tmpd, value):
    with daemon(tmpd, set_={"workers": value}) as d:
        assert_refused(d, "workers")


@pytest.mark.parametrize("value", ["0", "257", "4 ", "-4"])
def test_workers_from_environment_out_of_range_is_refused(tmpd, value):
    with daemon(tmpd, env={"ORDERPAY_WORKERS": value}) as d:
        assert_refused(d, "workers")


def test_a_refused_value_names_its_environment_variable_or_its_file_and_line(tmpd):
    """ORDERPAY_WORKERS=300 over a file saying `workers = 8` was refused as "workers must be ...
    not '300'", which the file contradicts (review s28-newuser): each program now says where the
    value came from."""
    sock = os.path.join(tmpd, "d.sock")
    text = config_text(sock, set_={"workers": "8"}, extra="log_format = yaml\n")
    cfg = write(os.path.join(tmpd, "c.conf"), text)
    rule = "workers must be a whole number from 1 to 256, not '300'"
    r = cli(cfg, "store", "list", env={"ORDERPAY_WORKERS": "300"})
    assert (r.returncode, r.stdout) == (1, "") and \
        r.stderr == "orderpay: ORDERPAY_WORKERS (environment): %s\n" % rule, r
    with daemon(tmpd, text=text, env={"ORDERPAY_WORKERS": "300"}) as d:
        assert_refused(d, "ORDERPAY_WORKERS (environment): " + rule)
    lineno = text.splitlines().index("log_format = yaml") + 1
    r = cli(cfg, "store", "list")
    assert r.returncode == 1 and \
        r.stderr == "orderpay: %s:%d: log_format must be text or json, not 'yaml'\n" % (cfg, lineno), r
    r = cli(cfg, "store", "list", env={"ORDERPAY_LOG_FORMAT": "xml"})
    assert r.returncode == 1 and "ORDERPAY_LOG_FORMAT (environment): log_format must be text or json, not 'xml'" \
        in r.stderr, r
    # A URL's value is never echoed, from either place.
    r = cli(cfg, "store", "list", env={"ORDERPAY_LOG_FORMAT": "text", "ORDERPAY_PAYPAL_GATEWAY": "ftp://u:pw@x"})
    assert r.returncode == 1 and r.stderr.startswith("orderpay: ORDERPAY_PAYPAL_GATEWAY (environment): "
                                                     "paypal.gateway must be") and "pw@" not in r.stderr, r


def test_a_key_set_twice_is_named_by_both_programs_and_the_last_line_wins(tmpd):
    # workers = 1 (line 2, from config_text) and later workers = 4: the last line won silently,
    # whichever the operator meant. It still wins (a file that served must still start after an
    # upgrade), and both programs now say so, naming the lines.
    text = config_text(os.path.join(tmpd, "d.sock"), extra="workers = 4\n")
    last = len(text.splitlines())
    says = "c.conf:%d: workers is set twice, on lines 2 and %d: line %d's value is used" % (last, last, last)
    with daemon(tmpd, text=text) as d:
        assert d.started, d.log()
        assert says in d.log(), d.log()
        deadline = time.time() + 10
        while len(workers_of(d)) != 4 and time.time() < deadline:
            time.sleep(0.1)
        assert len(workers_of(d)) == 4, (workers_of(d), d.log())
    r = cli(os.path.join(tmpd, "c.conf"), "store", "list")
    assert r.returncode == 0 and "orderpay: warning: " in r.stderr and says in r.stderr, r


def test_the_example_config_and_the_stack_config_set_each_key_once():
    """Both programs refuse a key set twice: the configs we ship and write must not have one."""
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(here, "..", "..", "deploy", "orderpay.conf.example"), STACK["ORDERPAY_CONFIG"]):
        with open(path, encoding="utf-8") as f:
            keys = [ln.split("=", 1)[0].strip() for ln in f
                    if "=" in ln and not ln.strip().startswith("#")]
        assert len(keys) > 5 and len(keys) == len(set(keys)), (path, sorted(k for k in keys if keys.count(k) > 1))
        # ...and the parser takes it: the CLI gets as far as the database (none there).
        r = cli(path, "store", "list", keep_pg=False, env={"ORDERPAY_DB": "host=/nonexistent dbname=x"})
        assert r.returncode == 1 and "cannot connect to the database" in r.stderr, (path, r.stderr)


# Was a defect until config_check (2026-12-03): an unknown or odd-case key ('Workers = 0', 'http.timout_ms')
# is silently ignored, no refusal and no warning: src/core/config.cpp:53 stores any key, nothing checks names
def test_unknown_or_odd_case_key_is_refused_or_warned_about(tmpd):
    with daemon(tmpd, extra="Workers = 0\nhttp.timout_ms = 1\n") as d:
        assert not d.started or ("Workers" in d.log() and "http.timout_ms" in d.log()), d.log()


def test_an_environment_override_naming_no_key_is_warned_about_like_a_file_key(tmpd):
    """ORDERPAY_WROKERS=3 passed silently while `Wrokers = 3` in the file was named (review
    s27-newuser #12): both programs now name it, without its value; the variables the programs
    and deploy/stack.sh use for other things (ORDERPAY_CONFIG, _VAR, _BIN, _URL, ...) and real
    overrides are not named."""
    cfg = write(os.path.join(tmpd, "c.conf"), config_text(os.path.join(tmpd, "d.sock")))
    quiet = {"ORDERPAY_CONFIG": cfg, "ORDERPAY_VAR": tmpd, "ORDERPAY_BIN": BIN, "ORDERPAY_URL": "http://x",
             "ORDERPAY_API": "http://x/api", "ORDERPAY_PGBIN": "/usr/lib/postgresql/15/bin",
             "ORDERPAY_SHARED": tmpd, "ORDERPAY_WORKERS": "1", "ORDERPAY_WXPAY_GATEWAY": "http://127.0.0.1:9",
             "ORDERPAY_DB_LOCK_TIMEOUT_MS": "2000"}
    r = cli(cfg, "store", "list", env=quiet)
    assert r.returncode == 0 and "warning" not in r.stderr, r
    r = cli(cfg, "store", "list", env=dict(quiet, ORDERPAY_WROKERS="S3cret", ORDERPAY_DB_LOCK_TIMOUT_MS="1"))
    assert r.returncode == 0, r
    assert ("orderpay: warning: unknown ORDERPAY_* environment variables, ignored (ORDERPAY_ and the key in "
            "upper case, '.' as '_', see README): 'ORDERPAY_WROKERS', 'ORDERPAY_DB_LOCK_TIMOUT_MS'\n") in r.stderr, \
        r.stderr
    assert "S3cret" not in r.stderr
    with daemon(tmpd, env={"ORDERPAY_WROKERS": "3"}) as d:
        assert d.started and "unknown ORDERPAY_* environment variables" in d.log() and "ORDERPAY_WROKERS" in d.log(), \
            d.log()


@pytest.mark.parametrize("value", ["xml", "JSON", "json ", "text,json"])
def test_log_format_other_than_text_or_json_is_refused(tmpd, value):
    with daemon(tmpd, env={"ORDERPAY_LOG_FORMAT": value}) as d:
        assert_refused(d, "log_format")


@pytest.mark.parametrize("where", ["no_dir", "a_dir", "under_a_file"])
def test_unwritable_log_file_is_refused(tmpd, where):
    path = {"no_dir": os.path.join(tmpd, "none", "x.log"), "a_dir": tmpd,
            "under_a_file": "/dev/null/x.log"}[where]
    with daemon(tmpd, set_={"log_file": path}) as d:
        assert not d.started
        assert d.rc == 1
    # The message went to stderr (the log file could not be opened): it names the key and path.
    assert "cannot open log_file " + path in d.log(), d.log()


# Values no integer key can mean; README gives each key a number (ms, bytes, a count).
GARBAGE = [
    ("http.timeout_ms", "100ms"),
    ("http.connect_timeout_ms", "3s"),
    ("http.timeout_ms", "5000 # five seconds"),
    ("max_body_bytes", "64k"),
    ("backlog", "lots"),
    ("drain_timeout_ms", "10 s"),
    ("query_min_interval_ms", "5000ms"),
    ("buy.resend_after_ms", "1min"),
    ("wxpay.scan_poll_ms", "3s"),
    ("alipay.cancel_tries", "three"),
]


# Was a defect until config_check (2026-12-03): a non-numeric value ('100ms', '64k', a trailing comment) was
# silently replaced by the default and orderpayd started (GetInt: strtoll, any rest meant the default).
@pytest.mark.parametrize("key,value", GARBAGE)
def test_integer_key_with_garbage_is_refused(tmpd, key, value):
    with daemon(tmpd, set_={key: value}) as d:
        assert_refused(d, key)


# Was a defect until config_check (2026-12-03): the same via ORDERPAY_<KEY>: a trailing space or unit was
# the default without a word.
@pytest.mark.parametrize("var,key,value", [("ORDERPAY_HTTP_TIMEOUT_MS", "http.timeout_ms", "3000 "),
                                           ("ORDERPAY_MAX_BODY_BYTES", "max_body_bytes", "1KB")])
def test_integer_key_with_garbage_from_environment_is_refused(tmpd, var, key, value):
    with daemon(tmpd, env={var: value}) as d:
        assert_refused(d, key)


# Values past what the key's type holds: truncated by static_cast<int> or clamped by strtoll.
OVERFLOW = [
    ("drain_timeout_ms", "2147483648", "src/bin/orderpayd.cpp:79 static_cast<int>: 2^31 ms becomes negative"),
    ("drain_timeout_ms", "-1", "src/bin/orderpayd.cpp:79 no range check: a negative drain"),
    ("wxpay.scan_poll_tries", "4294967306", "src/providers/wxpay/provider.cpp:93 static_cast<int>: 2^32+10 is 10"),
    ("alipay.scan_poll_ms", "-300", "src/providers/alipay/provider.cpp:15 no range check: a negative poll"),
    ("http.connect_timeout_ms", "9223372036854775808", "src/providers/registry.cpp:53 strtoll clamps 2^63 to "
                                                        "LLONG_MAX without a word"),
]


# Was a defect until config_check (2026-12-03): an integer key out of its type's range is silently truncated,
# clamped or taken negative; orderpayd starts (see each case's cause)
@pytest.mark.parametrize("key,value,cause", OVERFLOW)
def test_integer_key_out_of_range_is_refused(tmpd, key, value, cause):
    with daemon(tmpd, set_={key: value}) as d:
        assert_refused(d, key)


@pytest.mark.parametrize("key", ["db.lock_timeout_ms", "db.statement_timeout_ms"])
@pytest.mark.parametrize("value", ["-1", "3600001", "9223372036854775808", "100ms", " +5"])
def test_db_timeouts_out_of_range_are_refused_by_daemon_and_cli(tmpd, key, value):
    with daemon(tmpd, set_={key: value}) as d:
        assert_refused(d, key)
    r = cli(os.path.join(tmpd, "c.conf"), "store", "list")
    assert r.returncode == 1 and key in r.stderr, r


# ---- timeouts of outgoing provider calls ----------------------------------------------------

def hanging_wx_buy(tmpd, timeout_value, hang=3.0):
    """Seconds a wx.qrcode buy takes through our orderpayd whose wx gateway hangs `hang` s,
    with http.timeout_ms = timeout_value (None: orderpayd refused to start)."""
    gw = FakeGateway(lambda path, body: b"<xml></xml>", hang=hang)
    try:
        with daemon(tmpd, set_={"wxpay.gateway": gw.url, "http.timeout_ms": timeout_value,
                                "http.connect_timeout_ms": "1000"}) as d:
            if not d.started:
                assert d.rc > 0 and "http.timeout_ms" in d.log(), d.log()
                return None
            body = json.dumps({"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
            t0 = time.time()
            status, parsed, raw = fcgi(d.sock, "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"],
                                       {"ticket": STACK["DEMO_TICKET"]}, body.encode(), timeout=30)
            took = time.time() - t0
            assert status < 600 and raw, raw
            return took
    finally:
        gw.close()


def test_http_timeout_of_1ms_bounds_a_hanging_gateway(tmpd):
    took = hanging_wx_buy(tmpd, "1")
    assert took is not None and took < 2.0, took


# Was a defect until config_check (2026-12-03): http.timeout_ms 0 or negative means no timeout at all (curl's
# 0; a negative one is rejected by curl_easy_setopt, whose result is ignored, leaving 0):
# src/providers/registry.cpp:53 no range check, src/providers/http_client.cpp:146
@pytest.mark.parametrize("value", ["0", "-1"])
def test_http_timeout_zero_or_negative_is_refused_or_still_bounds_the_call(tmpd, value):
    took = hanging_wx_buy(tmpd, value)
    assert took is None or took < 2.0, "a provider call waited %.1f s for a hanging gateway" % took


# ---- max_body_bytes, backlog --------------------------------------------------------------

def test_max_body_bytes_zero_and_one_mean_what_they_say(tmpd):
    with daemon(tmpd, set_={"max_body_bytes": "1"}) as d:
        assert d.started, d.log()
        status, body, raw = fcgi(d.sock, "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"],
                                 {"ticket": STACK["DEMO_TICKET"]}, b"{}")
        assert status == 413, raw
        assert healthz(d.sock)


# Was a defect until config_check (2026-12-03): max_body_bytes = -1 becomes SIZE_MAX (no limit at all) without
# a word: src/bin/orderpayd.cpp:78 and src/app/context.cpp:19 static_cast<std::size_t>(GetInt)
def test_negative_max_body_bytes_is_refused_or_still_limits(tmpd):
    with daemon(tmpd, set_={"max_body_bytes": "-1"}) as d:
        if d.started:
            status, _, raw = fcgi(d.sock, "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"],
                                  {"ticket": STACK["DEMO_TICKET"]}, b" " * 200000)
            assert status == 413, raw
        else:
            assert_refused(d, "max_body_bytes")


def listen_backlog(sock):
    out = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if sock in f:
            return int(f[3])
    raise AssertionError("socket %s not listed by ss:\n%s" % (sock, out))


def somaxconn():
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())


def test_backlog_is_the_listen_backlog(tmpd):
    with daemon(tmpd, set_={"backlog": "17"}) as d:
        assert d.started
        assert listen_backlog(d.sock) == 17


# Was a defect until config_check (2026-12-03): backlog 2^32+100 is truncated to 100 (static_cast<int>) and
# orderpayd starts: src/bin/orderpayd.cpp:77
def test_huge_backlog_is_refused_or_capped_not_truncated(tmpd):
    with daemon(tmpd, set_={"backlog": str(2**32 + 100)}) as d:
        if d.started:
            assert listen_backlog(d.sock) == somaxconn()
        else:
            assert_refused(d, "backlog")


# Was a defect until config_check (2026-12-03): a negative backlog is passed to listen() (the kernel picks
# somaxconn), no refusal: src/bin/orderpayd.cpp:77, src/fcgi/pool.cpp:62
def test_negative_backlog_is_refused(tmpd):
    with daemon(tmpd, set_={"backlog": "-1"}) as d:
        assert_refused(d, "backlog")


# ---- query_min_interval_ms ------------------------------------------------------------------

# Was a defect until config_check (2026-12-03): a huge query_min_interval_ms reaches PostgreSQL as now() -
# make_interval(secs => $2/1000), out of range: pay/check of a waiting order fails; src/app/context.cpp:16 (no
# range), src/store/statements.cpp:212-214
def test_huge_query_min_interval_is_refused_or_check_still_answers(tmpd):
    with daemon(tmpd, set_={"query_min_interval_ms": "99999999999999999"}) as d:
        if not d.started:
            assert_refused(d, "query_min_interval_ms")
            return
        body = json.dumps({"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
        status, b, raw = fcgi(d.sock, "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"],
                              {"ticket": STACK["DEMO_TICKET"]}, body.encode())
        assert status == 200, raw
        oid = b["data"]["id"]
        status, b, raw = fcgi(d.sock, "GET", "/api/%s/pay/check" % STACK["DEMO_SITE"],
                              {"ticket": STACK["DEMO_TICKET"], "id": oid})
        assert status == 200, (raw, d.log()[-600:])


def test_query_min_interval_zero_check_answers(tmpd):
    with daemon(tmpd, set_={"query_min_interval_ms": "0"}) as d:
        assert d.started
        body = json.dumps({"products": [{"id": STACK["DEMO_PRODUCT"], "amount": 1}], "pay_tp": "wx.qrcode"})
        status, b, raw = fcgi(d.sock, "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"],
                              {"ticket": STACK["DEMO_TICKET"]}, body.encode())
        assert status == 200, raw
        for _ in range(2):
            status, _, raw = fcgi(d.sock, "GET", "/api/%s/pay/check" % STACK["DEMO_SITE"],
                                  {"ticket": STACK["DEMO_TICKET"], "id": b["data"]["id"]})
            assert status == 200, raw


# ---- URLs -----------------------------------------------------------------------------------

# Was a defect until config_check (2026-12-03): notify_base_url is never checked; missing, it silently becomes
# http://127.0.0.1 (README: no default), and 'not a url', ftp:// or a CR LF go to the providers as the notify
# URL: src/app/context.cpp:14
@pytest.mark.parametrize("value", [None, "not a url", "ftp://shop.example", "https://shop.example\r\nX-Evil: 1",
                                   "https://shop example"])
def test_bad_notify_base_url_is_refused(tmpd, value):
    if value is None:
        cm = daemon(tmpd, drop=("notify_base_url",))
    else:
        cm = daemon(tmpd, env={"ORDERPAY_NOTIFY_BASE_URL": value})
    with cm as d:
        assert_refused(d, "notify_base_url")


# Was a defect until config_check (2026-12-03): a malformed gateway URL is accepted at start; every payment
# call then fails at run time: src/providers/wxpay/provider.cpp:89, alipay/provider.cpp:13,
# paypal/provider.cpp:49 (no check)
@pytest.mark.parametrize("key,value", [("ORDERPAY_WXPAY_GATEWAY", "not a url"),
                                       ("ORDERPAY_ALIPAY_GATEWAY", "gopher://127.0.0.1:1/"),
                                       ("ORDERPAY_PAYPAL_GATEWAY", "https://")])
def test_malformed_gateway_url_is_refused(tmpd, key, value):
    with daemon(tmpd, env={key: value}) as d:
        assert_refused(d, key[len("ORDERPAY_"):].lower().replace("_", ".", 1))


# ---- secrets ----------------------------------------------------------------------------------

def test_db_password_never_printed(tmpd):
    sock = os.path.join(tmpd, "d.sock")
    db = "host=%s dbname=orderpay user=orderpay password=S3cretPw0rd" % os.path.join(tmpd, "nopg")
    cfg = write(os.path.join(tmpd, "p.conf"), config_text(sock, set_={"db": db}))
    r = cli(cfg, "store", "list", keep_pg=False)
    assert r.returncode == 1 and "S3cretPw0rd" not in r.stdout + r.stderr, r
    with daemon(tmpd, set_={"db": db}, startup=8) as d:
        if d.started:
            status, _, raw = fcgi(d.sock, "GET", "/api/%s/pay/check" % STACK["DEMO_SITE"],
                                  {"ticket": STACK["DEMO_TICKET"], "id": "x"})
            assert status == 503 and b"S3cret" not in raw, raw
        assert "S3cretPw0rd" not in d.log(), d.log()


# ---- SIGHUP reload ----------------------------------------------------------------------------

def big_post(sock):
    status, _, _ = fcgi(sock, "POST", "/api/%s/pay/buy" % STACK["DEMO_SITE"],
                        {"ticket": STACK["DEMO_TICKET"]}, b" " * 3000)
    return status


def reload_and_wait(d, marker):
    before = d.log().count(marker)
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while d.log().count(marker) == before:
        assert time.time() < deadline, d.log()
        time.sleep(0.05)
    time.sleep(0.5)  # workers roll over


def workers_of(d):
    return sorted(subprocess.run(["pgrep", "-P", str(d.proc.pid)], capture_output=True, text=True).stdout.split())


def test_reload_with_bad_workers_keeps_old_config_and_serves(tmpd):
    with daemon(tmpd) as d:
        assert d.started
        assert big_post(d.sock) != 413
        before = workers_of(d)
        cfg = os.path.join(tmpd, "c.conf")
        write(cfg, config_text(d.sock, set_={"workers": "0", "max_body_bytes": "100"}))
        reload_and_wait(d, "reload refused")
        assert d.proc.poll() is None and healthz(d.sock)
        assert big_post(d.sock) != 413, "a refused reload applied max_body_bytes"
        # "keeping the old config and workers" holds for the workers too: none was replaced
        # (review s25-newuser #8: the log said so, then the pool rolled them all over).
        assert workers_of(d) == before and "replacing workers" not in d.log(), d.log()


def test_reload_with_config_file_gone_keeps_serving(tmpd):
    with daemon(tmpd) as d:
        assert d.started
        before = workers_of(d)
        os.unlink(os.path.join(tmpd, "c.conf"))
        reload_and_wait(d, "reload failed")
        assert d.proc.poll() is None and healthz(d.sock)
        assert workers_of(d) == before and "replacing workers" not in d.log(), d.log()


# Was a defect until config_check (2026-12-03): a reload with a bad log_format keeps only the old log_format
# and applies every other new value (settings, max_body_bytes): src/bin/orderpayd.cpp:146-151 (settings
# swapped before the log_format check, o.max_body set after it)
def test_reload_with_bad_log_format_keeps_the_whole_old_config(tmpd):
    with daemon(tmpd) as d:
        assert d.started
        assert big_post(d.sock) != 413
        write(os.path.join(tmpd, "c.conf"), config_text(d.sock, set_={"max_body_bytes": "100"},
                                                        extra="log_format = xml\n"))
        reload_and_wait(d, "log_format")
        assert d.proc.poll() is None and healthz(d.sock)
        assert big_post(d.sock) != 413, "a reload refused for log_format still applied max_body_bytes = 100"


def test_reload_with_good_workers_rolls_over_to_that_many(tmpd):
    with daemon(tmpd) as d:
        assert d.started
        write(os.path.join(tmpd, "c.conf"), config_text(d.sock, set_={"workers": "2"}))
        reload_and_wait(d, "config reloaded")
        deadline = time.time() + 10
        while True:
            kids = subprocess.run(["pgrep", "-P", str(d.proc.pid)], capture_output=True, text=True).stdout.split()
            if len(kids) == 2 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert len(kids) == 2, kids
        assert healthz(d.sock)


def test_writable_log_file_receives_the_log_not_stderr(tmpd):
    path = os.path.join(tmpd, "op.log")
    with daemon(tmpd, set_={"log_file": path}) as d:
        assert d.started and healthz(d.sock)
    with open(path, encoding="utf-8") as f:
        assert "orderpayd master started: 1 workers" in f.read()
    assert "master started" not in d.log()
