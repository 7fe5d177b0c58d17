#!/usr/bin/env python3
"""The rules' front against the learned policies, from `policy_lab compare` output.

    cargo run --release -p medic-decide --features lab --example policy_lab -- \
        compare 10 24 rules@cpu30,rules@cpu35,...,rules@cpu90,ppo,dqn,manual > decide/EVAL-fronts.json
    scripts/eval-fronts.py decide/EVAL-fronts.json decide/EVAL-fronts.svg   # prints the Markdown table

Per held-out trace x scenario, the rules swept over their utilisation target make a front of
(replica-minutes, fixable SLA-violation minutes) points: the SLA minutes minus those no action fixes —
inside dependency outages, and (files with `sla_minutes_beyond_ceiling`, per row) those whose demand was
more than the deployment's replica ceiling serves within its SLA, before a human paged at once could have
raised it. Each learned policy is compared with the rules where it stands, without interpolating (the front has cliffs: between two targets 5 points apart the SLA minutes can jump a
hundredfold), against the rules targets on the front (those no other target beats on both counts):
  - SLA: against the leanest front target that uses at least as many replica-minutes, how many fewer
    fixable SLA minutes the policy has;
  - replicas: against the cheapest target no worse on fixable SLA minutes, how many fewer replica-minutes
    the policy uses.
On a faulted cell a policy without an MTTR, or a cell without manual's, does not meet the bar. The ± is
the 95 % interval of the fixable SLA minutes over the seeds (of the total SLA minutes in files written
before `fixable_sla_minutes` was measured).
The issue's bar: >= 30 % fewer fixable SLA minutes at the rules' replica-minutes, or >= 25 % fewer
replica-minutes at their SLA minutes, with MTTR <= 0.5 x manual's. With no such rules target the
comparison is not made, and the table says why (the policy is richer, or better on SLA, than every target).
A second verdict puts MTTR over the faults medic's own actions can end (`mttr_fixable_s`: dependency
outages, and traffic spikes that took demand beyond the replica ceiling, which only a paged human ends
early, left out) in the place of MTTR; a cell whose faults were all outages has no fixable
MTTR to meet, and a file without the field gets no second verdict ("–").
"""
import json
import math
import sys
from collections import defaultdict


def mean(result, key):
    value = result.get(key)
    return value["mean"] if isinstance(value, dict) else value


def ratio(value, of):
    """`value / of`, or None when either is missing or `of` is 0 (no faults: no MTTR)."""
    return value / of if value is not None and of else None


def mean_or_0(result, key):
    """`mean`, 0 for a file written before `key` was measured."""
    return mean(result, key) or 0.0


def ci(result, key):
    value = result.get(key)
    return value["ci95"] if isinstance(value, dict) else 0.0


def sla_of_rules_using_at_least(points, replica_minutes):
    """Fixable SLA minutes of the leanest rules point using at least `replica_minutes`; None if none."""
    richer = [p for p in points if p[0] >= replica_minutes]
    return min(richer)[1] if richer else None


def replicas_of_rules_no_worse_than(points, sla):
    """Replica-minutes of the cheapest rules point whose fixable SLA minutes are at most `sla`."""
    better = [p for p in points if p[1] <= sla]
    return min(better)[0] if better else None


def pareto(points):
    """The points no other point beats on both coordinates (lower is better on both)."""
    return sorted(p for p in points if not any(q != p and q[0] <= p[0] and q[1] <= p[1] for q in points))


def label(policy):
    """A policy's name in tables and plots: a directory's last part."""
    return policy.rstrip("/").rsplit("/", 1)[-1]


COLOURS = ["#1f5fbf", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#17a589"]


def main():
    rows = json.load(open(sys.argv[1]))
    svg_path = sys.argv[2] if len(sys.argv) > 2 else None
    cells = defaultdict(dict)
    for row in rows:
        cells[(row["trace"], row["scenario"])][row["policy"]] = row["result"]
    print("| trace | scenario | dependency-outage SLA min (not fixable) | beyond-ceiling SLA min (not fixable) | spikes beyond the ceiling per day | policy | fixable SLA min ± 95 % | replica-min | fewer fixable SLA min than the leanest rules using as many replicas | fewer replica-min than the cheapest rules as good on SLA | MTTR / manual | meets the bar | fixable-fault MTTR / manual | meets it on fixable MTTR |")
    print("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---|")
    panels = []
    for (trace, scenario), policies in cells.items():
        rules = {p: r for p, r in policies.items() if p.startswith("rules@cpu")}
        fixable = lambda r: (mean(r, "fixable_sla_minutes") if "fixable_sla_minutes" in r else
                             mean(r, "sla_violation_minutes") - mean(r, "sla_minutes_in_dependency_outages")
                             - mean_or_0(r, "sla_minutes_beyond_ceiling"))
        points = {p: (mean(r, "replica_minutes"), fixable(r)) for p, r in rules.items()}
        front = pareto(list(points.values()))
        dep = max(mean(r, "sla_minutes_in_dependency_outages") for r in rules.values())
        manual = policies.get("manual", {})
        manual_mttr, manual_fixable_mttr = mean(manual, "mttr_s"), mean(manual, "mttr_fixable_s")
        learned = {}
        for policy in sorted(p for p in policies if not p.startswith("rules@cpu") and p not in ("manual", "hpa")):
            r = policies[policy]
            rm, sla = mean(r, "replica_minutes"), fixable(r)
            ceiling, spikes = mean_or_0(r, "sla_minutes_beyond_ceiling"), mean_or_0(r, "spikes_beyond_ceiling")
            learned[policy] = (rm, sla)
            at_rm = sla_of_rules_using_at_least(front, rm)
            at_sla = replicas_of_rules_no_worse_than(front, sla)
            fewer_sla = None if at_rm is None else (1 - sla / at_rm if at_rm > 0 else (0.0 if sla <= 0 else -1.0))
            fewer_rm = None if at_sla is None or at_sla <= 0 else 1 - rm / at_sla
            faulted = scenario != "none"
            mttr = ratio(mean(r, "mttr_s"), manual_mttr)
            # Outages last as long as their cause for every policy, and spikes beyond the replica ceiling
            # until it ends or a paged human raises the ceiling: MTTR over the faults medic's actions end.
            fixable_mttr = ratio(mean(r, "mttr_fixable_s"), manual_fixable_mttr)
            beats = (fewer_sla is not None and fewer_sla >= 0.30) or (fewer_rm is not None and fewer_rm >= 0.25)
            met = beats and (mttr is not None and mttr <= 0.5 if faulted else True)
            if manual_fixable_mttr is None:
                met_fixable = None
            elif faulted and manual_fixable_mttr > 0:
                met_fixable = beats and fixable_mttr is not None and fixable_mttr <= 0.5
            else:
                met_fixable = beats
            pct = lambda v, none: none if v is None else f"{v * 100:+.0f} %"
            print(
                f"| {trace} | {scenario} | {dep:.1f} | {ceiling:.1f} | {spikes:.1f} | {label(policy)} | {sla:.1f} ± {ci(r, 'fixable_sla_minutes' if 'fixable_sla_minutes' in r else 'sla_violation_minutes'):.1f} | "
                f"{rm:.0f} | {pct(fewer_sla, 'more replicas than every target')} | "
                f"{pct(fewer_rm, 'fewer SLA min than every target')} | "
                f"{'–' if mttr is None else f'{mttr:.2f}'} | {'yes' if met else 'no'} | "
                f"{'–' if fixable_mttr is None else f'{fixable_mttr:.2f}'} | {'–' if met_fixable is None else 'yes' if met_fixable else 'no'} |"
            )
        panels.append((trace, scenario, points, front, learned))
    if svg_path:
        write_svg(svg_path, panels)


def write_svg(path, panels):
    width, height, cols = 330, 250, 3
    rows = (len(panels) + cols - 1) // cols
    names = sorted({name for *_, learned in panels for name in learned})
    legend = ", ".join(f'<tspan fill="{COLOURS[j % len(COLOURS)]}">{label(n)}</tspan>' for j, n in enumerate(names))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * cols}" height="{height * rows + 48}" '
           f'font-family="sans-serif" font-size="10">',
           f'<text x="10" y="18" font-size="13">Fixable SLA-violation minutes (log scale) vs replica-minutes: rules '
           f'swept over their utilisation target (grey, front in black); 10 seeds x 24 h</text>',
           f'<text x="10" y="36" font-size="12">{legend}</text>']
    for i, (trace, scenario, points, front, learned) in enumerate(panels):
        ox, oy = (i % cols) * width, 48 + (i // cols) * height
        xs = [p[0] for p in points.values()] + [p[0] for p in learned.values()]
        ys = [p[1] for p in points.values()] + [p[1] for p in learned.values()]
        x0, x1 = min(xs), max(xs)
        # Fixable SLA minutes on a log scale (log10(1 + y)): from a minute to a whole day of them.
        y1 = max(ys) or 1.0
        top = math.log10(1 + y1)
        sx = lambda x: ox + 45 + (x - x0) / ((x1 - x0) or 1) * (width - 90)
        sy = lambda y: oy + height - 35 - math.log10(1 + max(y, 0)) / top * (height - 60)
        out.append(f'<text x="{ox + 45}" y="{oy + 14}">{trace} · {scenario}</text>')
        out.append(f'<line x1="{ox + 45}" y1="{sy(0)}" x2="{ox + width - 15}" y2="{sy(0)}" stroke="#888"/>')
        out.append(f'<line x1="{ox + 45}" y1="{sy(0)}" x2="{ox + 45}" y2="{oy + 20}" stroke="#888"/>')
        out.append(f'<text x="{ox + 45}" y="{sy(0) + 14}">{x0:.0f}</text>')
        out.append(f'<text x="{ox + width - 105}" y="{sy(0) + 14}">{x1:.0f} replica-min</text>')
        for tick in (1, 10, 100, 1000):
            if tick <= y1:
                out.append(f'<text x="{ox + 2}" y="{sy(tick) + 4:.1f}">{tick}</text>')
                out.append(f'<line x1="{ox + 42}" y1="{sy(tick):.1f}" x2="{ox + 45}" y2="{sy(tick):.1f}" stroke="#888"/>')
        for name, (x, y) in points.items():
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="#aaa"><title>{name}</title></circle>')
        out.append('<polyline fill="none" stroke="#000" points="' +
                   " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in front) + '"/>')
        for j, (name, (x, y)) in enumerate(sorted(learned.items())):
            colour = COLOURS[j % len(COLOURS)]
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{colour}"><title>{label(name)}</title></circle>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
