#!/usr/bin/env python3
"""make bench: where the CPU went during one measurement, to say which resource is saturated.

  cpu.py snap FILE       write a snapshot (machine jiffies, and jiffies per program)
  cpu.py report A B      one line: machine busy % of all cores, and each program's share
  cpu.py budget A B RPS FLOOR_RPS TARGET PROGRAM
                         the CPU one request took across the machine during a run of RPS, by
                         program; the rps all cores at 100 % would give, with and without
                         PROGRAM's share, as ratios to FLOOR_RPS; and the most CPU per request
                         PROGRAM may take for TARGET x FLOOR_RPS at 100 % busy

Programs are grouped by command name (postgres, nginx, orderpayd, paysim, null_fcgi) and summed
over their processes, with the children each has reaped. The PostgreSQL backends listed in
BENCH_PAYSIM_PG_PIDS (comma-separated; the bench takes them from pg_stat_activity, where paysim
connects as application_name paysim) count as paysim's: the simulator's own database work is not
orderpay's. wrk and pgbench end before the second
snapshot and are reaped by the bench script: their CPU is in "other", with anything else running."""

import json
import os
import sys

GROUPS = ("postgres", "nginx", "orderpayd", "paysim", "null_fcgi")


def snap():
    paysim_pg = set(filter(None, os.environ.get("BENCH_PAYSIM_PG_PIDS", "").split(",")))
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    idle = cpu[3] + cpu[4]  # idle + iowait
    out = {"total": sum(cpu[:8]), "idle": idle, "iowait": cpu[4], "procs": {}}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        group = next((g for g in GROUPS if comm.startswith(g)), None)
        if group == "postgres" and pid in paysim_pg:
            group = "paysim"
        if group:
            # utime + stime, plus the children it reaped (cutime + cstime): a postgres backend
            # that ended with its pgbench connection is counted in the postmaster's.
            out["procs"][pid] = [group, sum(int(x) for x in fields[11:15])]
    return out


def shares(a, b):
    """(total jiffies, busy %, iowait %, {program: jiffies}) between two snapshots."""
    total = b["total"] - a["total"]
    busy = 100.0 * (total - (b["idle"] - a["idle"])) / total if total > 0 else 0
    iowait = 100.0 * (b["iowait"] - a["iowait"]) / total if total > 0 else 0
    use = {}
    for pid, (group, t) in b["procs"].items():
        before = a["procs"].get(pid, [group, 0])[1]
        use[group] = use.get(group, 0) + t - before
    return total, busy, iowait, use


def report(a, b):
    total, busy, iowait, use = shares(a, b)
    if total <= 0:
        return "cpu: n/a"
    ncpu = os.cpu_count() or 1
    # Process jiffies are per core; machine jiffies sum all cores: a share of the whole machine.
    parts = ["%s %.0f%%" % (g, 100.0 * use[g] / total) for g in GROUPS if use.get(g, 0) > 0]
    other = busy - 100.0 * sum(use.values()) / total
    if other >= 1:
        parts.append("other %.0f%%" % other)
    verdict = "CPU saturated" if busy >= 90 else ("disk (iowait) saturated" if iowait >= 20 else "CPU not saturated")
    top = max(use, key=use.get) if any(use.values()) else "-"
    return "  cpu: %.0f%% busy of %d cores (iowait %.0f%%): %s -> %s (largest: %s)" % (
        busy, ncpu, iowait, ", ".join(parts) or "-", verdict, top)


def budget(a, b, rps, floor_rps, target, program):
    """A CPU bound for a path whose run kept the machine nearly busy: what one request cost all
    programs together, extrapolated to every core at 100 % (more than a machine ever gives)."""
    total, busy, _, use = shares(a, b)
    ncpu = os.cpu_count() or 1
    if total <= 0 or rps <= 0 or floor_rps <= 0 or busy <= 0:
        return "cpu budget: n/a"
    ms = {g: 1000.0 * ncpu * use[g] / total / rps for g in GROUPS if use.get(g, 0) > 0}
    all_ms = 1000.0 * ncpu * busy / 100 / rps
    other = all_ms - sum(ms.values())
    own = ms.get(program, 0.0)
    bound = 1000.0 * ncpu / all_ms
    bound_free = 1000.0 * ncpu / (all_ms - own) if all_ms > own else float("inf")
    allowed = 1000.0 * ncpu / (target * floor_rps) - (all_ms - own)
    parts = ", ".join("%s %.2f" % (g, v) for g, v in ms.items())
    sim = ms.get("paysim", 0.0)
    sim_note = ""
    if sim > 0 and program != "paysim" and all_ms > sim:
        # The simulator stands in for a provider whose CPU is not on the shop's machine.
        free = 1000.0 * ncpu / (all_ms - sim)
        sim_note = ("; paysim (its processes and database backends) took %.2f ms of it: "
                    "without the simulator on these cores %.0f rps (%.2f of the floor)") % (
            sim, free, free / floor_rps)
    return ("  cpu per request across the machine: %.2f ms (%s, other %.2f); all %d cores at 100 %% busy "
            "would answer %.0f rps (%.2f of the floor), %.0f rps (%.2f) if %s cost nothing; for %.2g of "
            "the floor %s may take at most %.2f ms per request (it took %.2f)") % (
        all_ms, parts, other, ncpu, bound, bound / floor_rps, bound_free, bound_free / floor_rps,
        program, target, program, max(allowed, 0.0), own) + sim_note


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snap":
        with open(sys.argv[2], "w") as f:
            json.dump(snap(), f)
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        with open(sys.argv[2]) as f:
            a = json.load(f)
        with open(sys.argv[3]) as f:
            b = json.load(f)
        print(report(a, b))
    elif len(sys.argv) == 8 and sys.argv[1] == "budget":
        with open(sys.argv[2]) as f:
            a = json.load(f)
        with open(sys.argv[3]) as f:
            b = json.load(f)
        print(budget(a, b, float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
