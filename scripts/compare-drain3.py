#!/usr/bin/env python3
"""Runs Drain3 (PyPI `drain3`, default configuration) on the Loghub-2k systems that `medic bench parse`
scores, writing one `<System>.csv` (LineId,EventTemplate) per system and `timings.json` into OUT_DIR.
`medic bench parse --compare OUT_DIR` then scores both parsers with the same metrics in one report.

Usage: scripts/compare-drain3.py [LOGHUB_DIR] OUT_DIR       (LOGHUB_DIR defaults to ../shared/data)
Timing covers header extraction and mining, as medic's does."""
import csv
import json
import re
import sys
import time
from pathlib import Path

from drain3 import TemplateMiner


def header_regex(fmt: str) -> re.Pattern:
    """The Loghub header convention: <Field> groups, literal text between, spaces match whitespace."""
    pattern = ""
    for part in re.split(r"(<[^<>]+>)", fmt):
        if part.startswith("<") and part.endswith(">"):
            pattern += f"(?P<{part[1:-1]}>.*?)"
        else:
            pattern += re.sub(" +", r"\\s+", part)
    return re.compile("^" + pattern + "$")


def main() -> None:
    args = sys.argv[1:]
    loghub = Path(args[0]) if len(args) > 1 else Path("../shared/data")
    out = Path(args[-1])
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    for row in (loghub / "loghub_formats.tsv").read_text().splitlines():
        if not row.strip():
            continue
        system, fmt = row.split("\t", 1)
        raw = loghub / "loghub" / system / f"{system}_2k.log"
        if not raw.exists():
            continue
        lines = [l.rstrip("\r") for l in raw.read_text(errors="replace").splitlines()]
        regex = header_regex(fmt.strip())
        miner = TemplateMiner()
        started = time.perf_counter()
        ids = []
        for line in lines:
            match = regex.match(line)
            content = match.group("Content") if match else line
            ids.append(miner.add_log_message(content)["cluster_id"])
        seconds = time.perf_counter() - started
        templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
        with open(out / f"{system}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["LineId", "EventTemplate"])
            for i, cluster in enumerate(ids, 1):
                writer.writerow([i, templates[cluster]])
        timings[system] = {"lines": len(lines), "seconds": seconds, "lines_per_sec": len(lines) / seconds}
        print(f"drain3 {system}: {len(lines) / seconds:.0f} lines/s", file=sys.stderr)
    (out / "timings.json").write_text(json.dumps(timings, indent=2))


if __name__ == "__main__":
    main()
