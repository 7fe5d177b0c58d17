#!/usr/bin/env python3
"""Leave-one-trace-family-out cross-validation of training recipes, from `policy_lab compare ... FAMILY`
output (each row names its `fold`: the family left out of its policies' training, and evaluated on).

    scripts/eval-cv.py decide/EVAL-cv.json     # prints the Markdown table and each recipe's rate

Every fold's rows hold the rules swept over their target and manual on the left-out family, and the runs
trained without it (`runs/RECIPE-without-FAMILY-SEED`), each judged against its trace's rules front by
eval-seeds.py (eval-fronts.py's verdict). Per family x scenario x recipe: the means over the family's traces
and the seeds, and how many trace x seed pairs meet the issue's bar. A recipe's rate is the share of pairs
that meet it, per fold, averaged over the folds (each family counts once, however many traces it has).
"""
import importlib.util
import json
import os
import sys
from collections import defaultdict

FOLDS = ["nasa", "alibaba", "functions"]


def eval_seeds():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval-seeds.py")
    spec = importlib.util.spec_from_file_location("eval_seeds", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    seeds = eval_seeds()
    rows = json.load(open(sys.argv[1]))
    base = [r for r in rows if seeds.recipe_and_seed(r["policy"])[0] is None]
    runs = [r for r in rows if seeds.recipe_and_seed(r["policy"])[0] is not None]
    groups = defaultdict(list)
    for run in seeds.judged_runs(base, runs):
        r = run[0]
        label = os.path.basename(r["policy"].rstrip("/"))
        if f"-without-{r['fold']}-" not in label:
            sys.exit(f"{label} is compared on fold {r['fold']}, not the family it was trained without")
        recipe = seeds.recipe_and_seed(r["policy"])[0].split("-without-")[0]
        groups[(r["fold"], r["scenario"], recipe)].append(run)
    print("| left-out family | scenario | remedies | traces x seeds | fixable SLA min | replica-min | MTTR / manual "
          "| fixable-fault MTTR / manual | pairs meeting the bar (on fixable MTTR) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    rates = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for key in sorted(groups, key=lambda k: (FOLDS.index(k[0]), k[1], k[2])):
        fold, scenario, recipe = key
        pairs = groups[key]
        traces = len({r["trace"] for r, *_ in pairs})
        columns, met = seeds.summary(pairs, scenario != "none")
        print(f"| {fold} | {scenario} | {recipe} | {traces} x {len(pairs) / traces:g} | {columns} |")
        rates[recipe][fold][0] += met
        rates[recipe][fold][1] += len(pairs)
    print()
    for recipe, folds in rates.items():
        per_fold = {fold: met / n for fold, (met, n) in folds.items()}
        shown = ", ".join(f"{fold} {rate:.2f}" for fold, rate in per_fold.items())
        print(f"- {recipe}: {sum(per_fold.values()) / len(per_fold):.2f} ({shown})")


if __name__ == "__main__":
    main()
