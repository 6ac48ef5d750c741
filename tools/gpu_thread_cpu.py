#!/usr/bin/env python3
"""CPU seconds of a running process's threads, grouped by thread name (trailing numbers dropped).

    python3 tools/gpu_thread_cpu.py snapshot PID > before.json
    ... load ...
    python3 tools/gpu_thread_cpu.py snapshot PID > after.json
    python3 tools/gpu_thread_cpu.py diff before.json after.json

Shows where a server's host time goes: its engine threads (`lychee-engine-N`), the preparation pool
(`lychee-prepare-N`), the event loops (`NIO-ELT-...`), Dispatch's workers and the rest. Linux only (/proc).
"""

import json
import os
import re
import sys


def snapshot(pid):
    ticks = os.sysconf("SC_CLK_TCK")
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue  # the thread ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        threads[tid] = {"name": name, "seconds": (int(fields[11]) + int(fields[12])) / ticks}
    return threads


def group(name):
    return re.sub(r"[-#_ ]?\d+$", "", name) or name


def diff(before, after):
    totals = {}
    for tid, thread in after.items():
        spent = thread["seconds"] - before.get(tid, {"seconds": 0.0})["seconds"]
        key = group(thread["name"])
        count, seconds = totals.get(key, (0, 0.0))
        totals[key] = (count + 1, seconds + spent)
    print(f"{'threads':<28} {'count':>5} {'cpu s':>8}")
    for key, (count, seconds) in sorted(totals.items(), key=lambda item: -item[1][1]):
        if seconds >= 0.01:
            print(f"{key:<28} {count:5d} {seconds:8.2f}")
    print(f"{'total':<28} {'':5} {sum(seconds for _, seconds in totals.values()):8.2f}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        json.dump(snapshot(int(sys.argv[2])), sys.stdout)
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        diff(json.load(open(sys.argv[2])), json.load(open(sys.argv[3])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
