#!/usr/bin/env python3
"""Training recipes over several seeds against the rules' front, from `policy_lab compare` output.

    scripts/eval-seeds.py decide/EVAL-fronts.json RUNS.json [RUNS.json ...]   # prints the Markdown table

The rules' targets and manual come from the first file (the front of `scripts/eval-fronts.py`); every
other policy from the rest. A policy's recipe is its directory's name without the seed it ends in
(`runs/table-base-8` is seed 8 of `table-base`). Per recipe and held-out trace x scenario: the means over
its seeds of the fixable SLA minutes, the replica-minutes and the MTTR over manual's (over every fault, and
over the faults medic's actions can end), and how many seeds meet the issue's bar, as eval-fronts.py
judges each policy.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict


def mean(result, key):
    value = result.get(key)
    return value["mean"] if isinstance(value, dict) else value


def recipe_and_seed(policy):
    """A trained run's recipe and seed from its directory (`runs/table-base-8`); (None, None) for anything
    else (`rules@cpu60`, `manual`, `ppo`)."""
    name = os.path.basename(policy.rstrip("/"))
    match = re.fullmatch(r"(.+)-(\d+)", name)
    return (match.group(1), int(match.group(2))) if match and "@" not in name else (None, None)


def verdicts(rows):
    """(policy label, trace, scenario) -> (meets the bar, meets it on fixable MTTR), by eval-fronts.py."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rows, f)
    fronts = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval-fronts.py")
    try:
        table = subprocess.run([sys.executable, fronts, f.name], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 14 and cells[-1] in ("yes", "no", "–"):
            out[(cells[5], cells[0], cells[1])] = (cells[11] == "yes", cells[13] == "yes")
    return out


def judged_runs(base, runs):
    """Each run of `runs` (rows of `recipe_and_seed` policies) with manual's result on its cell and its
    verdict against the rules' front of `base` (the rules' rows and manual's): (row, manual, verdict)."""
    judged = verdicts(base + runs)
    manual = {(r["trace"], r["scenario"]): r["result"] for r in base if r["policy"] == "manual"}
    out = []
    for r in runs:
        cell = (r["trace"], r["scenario"])
        label = os.path.basename(r["policy"].rstrip("/"))
        if (label, *cell) not in judged:
            sys.exit(f"eval-fronts.py gave no verdict for {label} on {cell}")
        out.append((r, manual[cell], judged[(label, *cell)]))
    return out


def summary(judged, faulted):
    """The table's measured columns over `judged` runs ((row, manual, verdict) of one group): the means of
    the fixable SLA minutes and the replica-minutes, MTTR over manual's over every fault and over the
    fixable ones ("–" without faults), and how many meet the bar (on fixable MTTR)."""
    n = len(judged)
    avg = lambda f: sum(f(r["result"], m) for r, m, _ in judged) / n
    ratio = lambda key: f"{avg(lambda r, m: (mean(r, key) or 0) / mean(m, key)):.2f}" if faulted else "–"
    met = sum(v[0] for *_, v in judged)
    met_fixable = sum(v[1] for *_, v in judged)
    return (f"{avg(lambda r, m: mean(r, 'fixable_sla_minutes')):.1f} "
            f"| {avg(lambda r, m: mean(r, 'replica_minutes')):,.0f} | {ratio('mttr_s')} | {ratio('mttr_fixable_s')} "
            f"| {met} of {n} ({met_fixable})").replace(",", " "), met


def main():
    base = [r for r in json.load(open(sys.argv[1])) if r["policy"].startswith("rules@") or r["policy"] == "manual"]
    runs = [r for path in sys.argv[2:] for r in json.load(open(path)) if recipe_and_seed(r["policy"])[0]]
    by = defaultdict(list)
    for run in judged_runs(base, runs):
        r = run[0]
        by[((r["trace"], r["scenario"]), recipe_and_seed(r["policy"])[0])].append(run)
    print("| trace | scenario | recipe | seeds | fixable SLA min | replica-min | MTTR / manual | "
          "fixable-fault MTTR / manual | seeds meeting the bar (on fixable MTTR) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for (cell, recipe), seeds in by.items():
        columns, _ = summary(seeds, cell[1] != "none")
        print(f"| {cell[0]} | {cell[1]} | {recipe} | {len(seeds)} | {columns} |")


if __name__ == "__main__":
    main()
