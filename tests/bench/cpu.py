#!/usr/bin/env python3
"""make bench: where the CPU went during one measurement, to say which resource is saturated.

  cpu.py snap FILE       write a snapshot (machine jiffies, and jiffies per program)
  cpu.py report A B      one line: machine busy % of all cores, and each program's share

Programs are grouped by command name (postgres, nginx, orderpayd, paysim, null_fcgi) and summed
over their processes, with the children each has reaped. wrk and pgbench end before the second
snapshot and are reaped by the bench script: their CPU is in "other", with anything else running."""

import json
import os
import sys

GROUPS = ("postgres", "nginx", "orderpayd", "paysim", "null_fcgi")


def snap():
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
        if group:
            # utime + stime, plus the children it reaped (cutime + cstime): a postgres backend
            # that ended with its pgbench connection is counted in the postmaster's.
            out["procs"][pid] = [group, sum(int(x) for x in fields[11:15])]
    return out


def report(a, b):
    total = b["total"] - a["total"]
    if total <= 0:
        return "cpu: n/a"
    busy = 100.0 * (total - (b["idle"] - a["idle"])) / total
    iowait = 100.0 * (b["iowait"] - a["iowait"]) / total
    ncpu = os.cpu_count() or 1
    use = {}
    for pid, (group, t) in b["procs"].items():
        before = a["procs"].get(pid, [group, 0])[1]
        use[group] = use.get(group, 0) + t - before
    # Process jiffies are per core; machine jiffies sum all cores: a share of the whole machine.
    parts = ["%s %.0f%%" % (g, 100.0 * use[g] / total) for g in GROUPS if use.get(g, 0) > 0]
    other = busy - 100.0 * sum(use.values()) / total
    if other >= 1:
        parts.append("other %.0f%%" % other)
    verdict = "CPU saturated" if busy >= 90 else ("disk (iowait) saturated" if iowait >= 20 else "CPU not saturated")
    top = max(use, key=use.get) if any(use.values()) else "-"
    return "  cpu: %.0f%% busy of %d cores (iowait %.0f%%): %s -> %s (largest: %s)" % (
        busy, ncpu, iowait, ", ".join(parts) or "-", verdict, top)


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
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
