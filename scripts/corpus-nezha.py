#!/usr/bin/env python3
"""Builds `normal` evidence samples from the Nezha TrainTicket pod logs (MIT, IntelligentDDS/Nezha).

Each sample is one pod's lines in one one-minute log file, as the diagnose stage sees a workload window:
messages masked the way medic's template miner masks them (numbers, hex ids, UUIDs, IPs -> <*>). Only
INFO/DEBUG lines without an exception are kept, so the sample is ordinary traffic of a healthy Spring Boot
service. These samples teach the classifier what a busy normal window looks like, and provide the background
into which training mixes short fault evidence (see diagnose/DATA.md).

usage: scripts/corpus-nezha.py [NEZHA_DIR] > OUT.jsonl
"""
import csv
import glob
import json
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/k8s/nezha_trainticket"
MASKS = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<*>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<*>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b", re.I), "<*>"),
    (re.compile(r"\d+(?:[.:]\d+)*"), "<*>"),
]
LEVEL = re.compile(r"\b(INFO|DEBUG|WARN|WARNING|ERROR|FATAL)\b")
MIN_LINES = 5

samples = {}
for path in sorted(glob.glob(os.path.join(root, "rca_data", "*", "log", "*.csv"))):
    day = path.split(os.sep)[-3]
    minute = os.path.basename(path).removesuffix("_log.csv")
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                line = json.loads(row["Log"])["log"].strip()
            except (ValueError, KeyError):
                continue
            level = LEVEL.search(line)
            if not level or level.group(1) not in ("INFO", "DEBUG") or "xception" in line:
                continue
            for pattern, replacement in MASKS:
                line = pattern.sub(replacement, line)
            pod = row["PodName"].rsplit("-", 2)[0]
            samples.setdefault((day, minute, pod), []).append(line)

for (day, minute, pod), lines in sorted(samples.items()):
    if len(lines) >= MIN_LINES:
        # One service's windows form one group (`source`): minutes of the same service are near-duplicates,
        # and cross-validation must not train on one and test on the next.
        print(json.dumps({"id": f"nezha/{day}-{minute}/{pod}", "lines": lines, "label": "normal",
                          "source": f"nezha/{pod}"}))
