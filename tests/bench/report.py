#!/usr/bin/env python3
"""Assembles herald_bench's JSON lines into one results file with a
description of the machine, and prints the results table.

    report.py --lines FILE --out RESULT.json --mode full|quick [...]
    report.py --markdown RESULT.json     the table as Markdown (for docs)
"""
import argparse
import json
import os
import platform
import subprocess
import sys


def machine(load_before):
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load_after = " ".join(f.read().split()[:3])
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "os": platform.platform(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "load_average_before": load_before,
        "load_average_after": load_after,
    }


def git(*args):
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "us":
        return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} us"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value}"


def table_rows(results):
    rows = []
    for w in results["workloads"]:
        if "error" in w:
            rows.append([w["workload"], "ERROR: " + str(w["error"])[:100], "", "", "", ""])
        for r in w.get("rows", []):
            met = r.get("met")
            ref = ""
            if r.get("reference"):
                ref = f"{r['reference']}: {fmt(r['reference_value'], r['unit'])}"
            rows.append([
                r["workload"], r["measure"], fmt(r["value"], r["unit"]), ref,
                r.get("target", ""),
                "" if met is None else ("met" if met else "NOT met"),
            ])
    return rows


HEADER = ["workload", "measure", "value", "same-run reference", "target", ""]


def print_table(results):
    rows = table_rows(results)
    widths = [max(len(str(x)) for x in col) for col in zip(HEADER, *rows)]
    m = results["machine"]
    print(f"\nherald benchmarks ({results['mode']}), {m['cores']} cores, "
          f"{m['cpu_model']}, kernel {m['kernel']}, load {m['load_average_before']}"
          f" -> {m['load_average_after']}")
    line = "  ".join(h.ljust(w) for h, w in zip(HEADER, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))


def markdown(results):
    rows = table_rows(results)
    out = ["| " + " | ".join(HEADER[:-1] + ["met?"]) + " |",
           "|" + "---|" * len(HEADER)]
    for r in rows:
        out.append("| " + " | ".join(str(x) for x in r) + " |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lines")
    p.add_argument("--out")
    p.add_argument("--mode", default="full")
    p.add_argument("--heraldd", default="")
    p.add_argument("--started", default="")
    p.add_argument("--load-before", default="")
    p.add_argument("--commit", default="",
                   help="the commit heraldd was built from (default: HEAD of this tree)")
    p.add_argument("--markdown")
    a = p.parse_args()
    if a.markdown:
        with open(a.markdown) as f:
            print(markdown(json.load(f)))
        return 0
    workloads = []
    with open(a.lines) as f:
        for line in f:
            line = line.strip()
            if line:
                workloads.append(json.loads(line))
    results = {
        "mode": a.mode,
        "started": a.started,
        "machine": machine(a.load_before),
        "herald": {
            "commit": a.commit or git("rev-parse", "HEAD"),
            "dirty": False if a.commit else
                     bool(git("status", "--porcelain", "--untracked-files=no")),
            "heraldd": a.heraldd,
        },
        "workloads": workloads,
    }
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print_table(results)
    return 1 if any("error" in w for w in workloads) else 0


if __name__ == "__main__":
    sys.exit(main())
