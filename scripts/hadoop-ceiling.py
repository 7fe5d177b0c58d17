#!/usr/bin/env python3
"""How well can any classifier that reads a Hadoop container's set of templates do? (issue 19)

Loghub's Hadoop labels are per application (the fault injected into the run), and every container of a
faulty application carries its label, though most ran on healthy machines and log exactly what healthy
runs log. This computes an oracle bound, leave-one-application-out: a container is *separable* when it
logs a template (digits masked) that no container of a healthy application other than its own logs; an
oracle names every separable container's class correctly and gives all the others one class (the best
one for macro-F1). An estimate, not a proof: counts or combinations of templates could do a little
better, but no classifier of template sets is likely to beat it by much on these labels.

    scripts/hadoop-ceiling.py [../shared/data/classify/hadoop_faults.jsonl]
"""
import collections
import json
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/classify/hadoop_faults.jsonl"
rows = [json.loads(line) for line in open(path) if line.strip()]
app = lambda r: r["id"].split("/")[1]
shape = lambda line: re.sub(r"\d+", "#", line)

normal_by_app = collections.defaultdict(set)
for r in rows:
    if r["label"] == "normal":
        normal_by_app[app(r)].update(shape(l) for l in r["lines"])


def separable(r):
    healthy = set().union(*(t for a, t in normal_by_app.items() if a != app(r)))
    return any(shape(l) not in healthy for l in r["lines"])


labels = sorted({r["label"] for r in rows})
sep = [separable(r) for r in rows]


def macro_f1(predicted):
    f1s = []
    for c in labels:
        tp = sum(p == c and r["label"] == c for p, r in zip(predicted, rows))
        fp = sum(p == c and r["label"] != c for p, r in zip(predicted, rows))
        fn = sum(p != c and r["label"] == c for p, r in zip(predicted, rows))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


support = collections.Counter(r["label"] for r in rows)
separable_by_label = collections.Counter(r["label"] for r, s in zip(rows, sep) if s)
best = max(
    (macro_f1([r["label"] if s else rest for r, s in zip(rows, sep)]), rest) for rest in labels
)
print(json.dumps({
    "containers": len(rows),
    "applications": len({app(r) for r in rows}),
    "support": dict(support),
    "separable": dict(separable_by_label),
    "oracle_macro_f1": round(best[0], 3),
    "oracle_rest_class": best[1],
}, indent=1))
