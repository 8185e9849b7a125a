#!/usr/bin/env python3
"""tests/bench/profile.sh's two halves: the requests it sends and the table it prints.

  profile.py drive URL KIND N --ticket T --order ID --buy FILE --re-wx FILE
      N requests of KIND (healthz, buy, check, re_wx) through nginx on one keep-alive
      connection; exits 1 at the first answer that is not the success that kind expects
  profile.py report DIR N NAME...
      reads DIR's callgrind dumps of the one worker (callgrind.out.PID.1, .2, ...), names them
      NAME... in order, and prints for each batch of N: Ir per request (the marker's cost
      taken off), its self cost by library, and its top functions, inclusive and self
"""

import glob
import http.client
import os
import re
import subprocess
import sys
import urllib.parse
from collections import defaultdict

MALLOC = re.compile(r"^(malloc|free|cfree|calloc|realloc|_int_malloc|_int_free|_int_realloc|malloc_consolidate|"
                    r"unlink_chunk|tcache_\w+|__libc_malloc|__libc_free|__libc_calloc|__libc_realloc)\b")


STRING = "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >"
# The frames every request runs under (the process's start, the pool, the worker loop).
WRAPPERS = re.compile(r"^(__libc_start_main|\(below main\)|main |orderpay::fcgi::RunPool|orderpay::fcgi::RunWorker|"
                      r"0x[0-9a-f]+ \[ld-linux)")


def drive(argv):
    url, kind, n = argv[0], argv[1], int(argv[2])
    opts = dict(zip(argv[3::2], argv[4::2]))
    u = urllib.parse.urlsplit(url)
    ticket, order = opts["--ticket"], opts["--order"]
    api = "/api/demo/pay/"
    if kind == "healthz":
        req = ("GET", "/healthz", None, {})
    elif kind == "buy":
        with open(opts["--buy"], "rb") as f:
            req = ("POST", f"{api}buy?ticket={ticket}", f.read(), {"Content-Type": "application/json"})
    elif kind == "check":
        req = ("GET", f"{api}check?ticket={ticket}&id={order}", None, {})
    elif kind == "re_wx":
        with open(opts["--re-wx"], "rb") as f:
            req = ("POST", f"{api}re_wx", f.read(), {"Content-Type": "text/xml"})
    else:
        sys.exit(f"unknown kind {kind}")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    for i in range(n):
        conn.request(req[0], req[1], body=req[2], headers=req[3])
        resp = conn.getresponse()
        body = resp.read()
        ok = resp.status == 200 and (b"<return_code><![CDATA[SUCCESS]]>" in body if kind == "re_wx"
                                     else body.startswith(b'{"ok":true'))
        if not ok:
            sys.exit(f"{kind} #{i + 1}: {resp.status} {body[:300]!r}")
    conn.close()


def dumps(directory):
    """The worker's dumps, in order: the one pid that wrote numbered parts."""
    parts = defaultdict(list)
    for path in glob.glob(os.path.join(directory, "callgrind.out.*.*")):
        pid, _, k = os.path.basename(path)[len("callgrind.out."):].partition(".")
        if k.isdigit():
            parts[pid].append((int(k), path))
    if len(parts) != 1:
        sys.exit(f"expected the dumps of one worker in {directory}, found {sorted(parts)}")
    return [p for _, p in sorted(next(iter(parts.values())))]


def parse(path):
    """Totals per event, and self cost (all events) per object and per (object, function)."""
    events, totals = [], []
    names = {"ob": {}, "fn": {}}
    by_ob, by_fn = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    ob = fn = ""
    skip_next = False
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip_next:  # the inclusive cost of the call line before it
                    skip_next = False
                    continue
                vals = [int(x) for x in line.split()[1:]]
                for i, v in enumerate(vals[:2]):
                    by_ob[ob][i] += v
                    by_fn[(ob, fn)][i] += v
                continue
            key, _, val = line.partition("=")
            if key in ("ob", "fn", "cob", "cfn"):
                m = re.match(r"\((\d+)\)(?: (.*))?$", val)
                table = names[key[-2:]]
                name = (table.setdefault(m.group(1), m.group(2)) if m.group(2) else table.get(m.group(1), "?")) \
                    if m else val
                if key == "ob":
                    ob = name
                elif key == "fn":
                    fn = name
            elif key == "calls":
                skip_next = True
            elif line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:") or line.startswith("totals:"):
                totals = [int(x) for x in line.split()[1:]]
    return events, totals, by_ob, by_fn


def library(ob, fn):
    base = os.path.basename(ob)
    if MALLOC.match(fn):
        return "malloc/free"
    for prefix, name in (("orderpayd", "orderpay (ours)"), ("libpq", "libpq"), ("libcurl", "libcurl"),
                         ("libssl", "OpenSSL"), ("libcrypto", "OpenSSL"), ("libstdc++", "libstdc++"),
                         ("libc.so", "libc"), ("libfcgi", "libfcgi"), ("ld-linux", "ld.so"),
                         ("libnghttp2", "libcurl"), ("libz", "zlib"), ("libqrencode", "libqrencode")):
        if base.startswith(prefix):
            return name
    return base or "?"


def inclusive(path, n, top):
    """callgrind_annotate --inclusive=yes, Ir per request, its first `top` functions."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--show=Ir", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        # "FILE:FUNCTION [OBJECT]" -> "FUNCTION [object's file name]"
        name = re.sub(r"^[^ (]*?:(?=[^ /])", "", m.group(2))
        name = re.sub(r"\[(/[^]]*/)?([^]/]*)\]$", r"[\2]", name).replace(STRING, "std::string")
        if not WRAPPERS.search(name):
            rows.append((int(m.group(1).replace(",", "")), name))
    return [(ir / n, name) for ir, name in rows[:top]]


def report(argv):
    directory, n, labels = argv[0], int(argv[1]), argv[2:]
    paths = dumps(directory)
    if len(paths) < len(labels):
        sys.exit(f"{len(paths)} dumps in {directory}, expected {len(labels)}")
    parsed = {label: (path, parse(path)) for label, path in zip(labels, paths)}
    events = parsed["marker"][1][0]
    marker = dict(zip(events, parsed["marker"][1][1]))
    print(f"marker (one GET /healthz, taken off each batch): {marker.get('Ir', 0):,} Ir")
    summary = []
    for label in labels:
        if label in ("startup", "warmup", "marker"):
            continue
        path, (ev, totals, by_ob, by_fn) = parsed[label]
        t = dict(zip(ev, totals))
        ir = (t.get("Ir", 0) - marker.get("Ir", 0)) / n
        sys_calls = (t.get("sysCount", 0) - marker.get("sysCount", 0)) / n
        summary.append((label, ir, sys_calls))
        print(f"\n== {label}: {ir:,.0f} Ir per request ({n} requests), {sys_calls:.1f} system calls per request")
        libs = defaultdict(int)
        for (ob, fn), cost in by_fn.items():
            libs[library(ob, fn)] += cost[0]
        print("  self cost by library (Ir per request):")
        for name, cost in sorted(libs.items(), key=lambda kv: -kv[1]):
            if cost / n >= 100:
                print(f"    {cost / n:>12,.0f}  {100 * cost / max(1, t.get('Ir', 1)):5.1f}%  {name}")
        print("  top functions, self (Ir per request):")
        for (ob, fn), cost in sorted(by_fn.items(), key=lambda kv: -kv[1][0])[:15]:
            print(f"    {cost[0] / n:>12,.0f}  {fn.replace(STRING, 'std::string')[:150]}  [{os.path.basename(ob)}]")
        print("  top functions, inclusive (Ir per request):")
        for cost, name in inclusive(path, n, 30):
            print(f"    {cost:>12,.0f}  {name[:150]}")
    print("\nsummary (Ir per request, orderpayd's one worker, marker taken off):")
    for label, ir, sc in summary:
        print(f"  {label:<8} {ir:>12,.0f} Ir   {sc:5.1f} system calls")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("drive", "report"):
        sys.exit(__doc__)
    (drive if sys.argv[1] == "drive" else report)(sys.argv[2:])
