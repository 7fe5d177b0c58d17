#!/usr/bin/env python3
"""Builds incident bundles for `medic replay` from real recorded data (Python 3.11+, stdlib only).

    python3 scripts/make-incident-bundles.py ../shared/data incidents
    python3 scripts/make-incident-bundles.py --check incidents     # validate every bundle, write nothing

Writes, under the output directory:
  trainticket-contacts-return/   Nezha TrainTicket, 2023-01-29 08:43:04 `return` fault in ts-contacts-service
  trainticket-basic-exception/   Nezha TrainTicket, 2023-01-29 09:25:39 `exception` fault in ts-basic-service
  trainticket-travel-exception/  Nezha TrainTicket, 2023-01-29 10:04:34 `exception` fault in ts-travel-service
  boutique-currency-quota/       Kubernetes Events only: exolightor fault F8 (ResourceQuota rejects a new revision)
  README.md                      the bundle format and a table of every bundle (also the hand-made
                                 checkout-oom-crashloop/, which this script only reads)

The TrainTicket container log lines are copied byte for byte from the `Log` column of Nezha's log CSVs
(IntelligentDDS/Nezha@d8140101, MIT); which lines are kept is decided by fixed rules (see `build_nezha`), so every
run writes the same bytes. The Events bundle is reconstructed: its message texts, object names and quota numbers
are exolightor's recorded ones, its timing, uids and the retry pod-name suffixes are made up (fixed seed).
"""
import csv
import json
import random
import re
import shutil
import sys
import tomllib
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

NEZHA = "k8s/nezha_trainticket"
NEZHA_REPO = "IntelligentDDS/Nezha@d8140101"
NAMESPACE = "ts"
# Bytes of container log lines a bundle may hold (the README, incident.toml and licence add ~15 KB; limit 400 KB).
LOG_BUDGET = 360_000
MAX_LINES = 2_000
# UUID namespace for the made-up pod uids: uuid5(UID_NS, "<namespace>/<pod>").
UID_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/IntelligentDDS/Nezha#medic-incident-bundles")
APP_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} +(TRACE|DEBUG|INFO|WARN|ERROR)\b")
COMMAND = "python3 scripts/make-incident-bundles.py ../shared/data incidents"

csv.field_size_limit(1 << 30)


# ---------------------------------------------------------------------------------------------- helpers


def utc(text):
    """RFC 3339 in whole seconds ("...Z") -> aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_ns(ns):
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)


def floor_s(ns):
    return rfc3339(from_ns(ns))


def ceil_s(ns):
    return rfc3339(from_ns(ns + 999_999_999))


def hms(ns):
    dt = from_ns(ns)
    return dt.strftime("%H:%M:%S") + f".{(ns % 1_000_000_000) // 1_000_000:03d}"


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string for this text


def toml_ml(s):
    assert '"""' not in s and "\\" not in s
    return '"""' + s.strip() + '"""'


def write_toml(path, meta):
    out = [f"title = {toml_str(meta['title'])}", f"summary = {toml_ml(meta['summary'])}",
           f"source = {toml_str(meta['source'])}", ""]
    for entry in meta["timeline"]:
        out += ["[[timeline]]", f"at = {toml_str(entry['at'])}", f"kind = {toml_str(entry['kind'])}",
                f"what = {toml_str(entry['what'])}", ""]
    e = meta["expected"]
    out += ["[expected]", f"workload = {toml_str(e['workload'])}",
            "faults = [" + ", ".join(toml_str(f) for f in e["faults"]) + "]",
            "actions = [" + ", ".join(toml_str(a) for a in e["actions"]) + "]",
            f"detect_within = \"{e['detect_within_secs']}s\"", ""]
    t = meta["twin"]
    out += ["[twin]", f"fault = {toml_str(t['fault'])}"]
    if t.get("duration"):
        out.append(f"duration = {toml_str(t['duration'])}")
    text = "\n".join(out) + "\n"
    tomllib.loads(text)  # fail here, not in medic, if the file is not TOML
    path.write_text(text)


def pod_uid(namespace, pod):
    return str(uuid.uuid5(UID_NS, f"{namespace}/{pod}"))


def level(log):
    m = APP_LINE.match(log)
    return m.group(1) if m else None


# ---------------------------------------------------------------------------------------------- Nezha

WHY_BAD_ROLLOUT = """\
Nezha's `return` and `exception` faults are code-level faults: one Java method of the service is made to return
a wrong value (`return`) or to throw (`exception`), injected at run time into the running JVM (the pods do not
restart). Seen from the cluster this is a defective build of that one Deployment: its pods stay Running and
Ready, requests that reach the method fail, and the cure is to stop running the defective code, i.e. to go back
to the previous revision. That is what the twin's `bad_rollout` means (cured by `rollback`; `rollout_restart`
keeps the broken code), so `[twin] fault = "bad_rollout"` and the expected actions are `rollback` or `escalate`.
The mapping is approximate in three ways:

* the twin's `bad_rollout` makes the new revision crash-loop and stalls the rolling update; here the pods kept
  running and serving every endpoint the method is not on, so the twin overstates the symptom;
* no rollout happened in the experiment, so a real `kubectl rollout undo` would have had no earlier revision to
  go back to; Nezha's harness withdrew the injection itself (the next fault in its list follows 4.5-9 minutes
  later), so the twin's "lasts until fixed" (no `duration`) overstates how long it lasted;
* a pod restart (`restart_pod`, `rollout_restart`) would probably have removed a run-time injection in the real
  system; it is not counted as right because it would not cure the code defect the fault stands for.

`dependency_outage` would describe the same fault from its callers' side; it is not used because the fault sits
on the service itself."""

NEZHA_BUNDLES = [
    {
        "name": "trainticket-contacts-return",
        "files": ["08_43", "08_44"],
        "fault_time": "2023-01-29 08:43:04",
        "fault_pod": "ts-contacts-service-866bd68c97-xcqfx",
        "fault_type": "return",
        "start": None,
        "title": "TrainTicket: ts-contacts-service returns a wrong value (Nezha `return` fault)",
        "faults": ["application_error"],
        "actions": ["rollback", "escalate"],
        "detect_within_secs": 120,
    },
    {
        "name": "trainticket-basic-exception",
        "files": ["09_25", "09_26"],
        "fault_time": "2023-01-29 09:25:39",
        "fault_pod": "ts-basic-service-5dc8d4f9fd-46997",
        "fault_type": "exception",
        # ts-basic-service alone logs ~325 KB in these two minutes; 60 s before the fault fit the size limit.
        "start": "2023-01-29T09:24:39Z",
        "title": "TrainTicket: exception injected into ts-basic-service (Nezha `exception` fault; not visible in the logs)",
        "faults": ["application_error"],
        "actions": ["rollback", "escalate"],
        "detect_within_secs": 120,
    },
    {
        "name": "trainticket-travel-exception",
        "files": ["10_04", "10_05"],
        "fault_time": "2023-01-29 10:04:34",
        "fault_pod": "ts-travel-service-64469b5b48-25zj6",
        "fault_type": "exception",
        "start": None,
        "title": "TrainTicket: exception injected into ts-travel-service (Nezha `exception` fault; logs show an earlier discovery failure instead)",
        "faults": ["application_error"],
        "actions": ["rollback", "escalate"],
        "detect_within_secs": 120,
    },
]


def load_fault_list(data):
    path = data / NEZHA / "rca_data/2023-01-29/2023-01-29-fault_list.json"
    faults = []
    for hour, entries in json.loads(path.read_text()).items():
        faults += entries
    return faults


def load_rows(data, files, start_ns):
    """Rows of the CSVs in time order: exact duplicates (the 1-minute files overlap) and rows before start dropped."""
    rows, seen, dups = [], set(), 0
    for fi, stem in enumerate(files):
        path = data / NEZHA / "rca_data/2023-01-29/log" / f"{stem}_log.csv"
        with path.open(newline="", encoding="utf-8") as fh:
            for ri, r in enumerate(csv.DictReader(fh), start=2):  # row 1 is the header
                key = (r["PodName"], r["Container"], r["TimeUnixNano"], r["Log"])
                if key in seen:
                    dups += 1
                    continue
                seen.add(key)
                ns = int(r["TimeUnixNano"])
                if start_ns is not None and ns < start_ns:
                    continue
                doc = json.loads(r["Log"])
                assert set(doc) == {"log", "stream", "time"}, r["Log"][:200]
                assert doc["time"] == r["Timestamp"], (doc["time"], r["Timestamp"])
                rows.append({"ns": ns, "file": f"{stem}_log.csv", "row": ri, "pod": r["PodName"],
                             "container": r["Container"], "node": r["Node"], "line": r["Log"], "log": doc["log"],
                             "order": (fi, ri)})
    rows.sort(key=lambda r: (r["pod"], r["container"], r["ns"], r["order"]))
    return rows, dups


def drop_orphan_partials(rows):
    """Docker splits lines over 16 KiB into chunks without a trailing newline; Nezha kept the first chunk only.

    A chunk whose successor in the same container starts a new record cannot be reassembled (a reader would glue
    it to the next record), so it is dropped."""
    kept, dropped = [], []
    for i, r in enumerate(rows):
        if not r["log"].endswith("\n"):
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            same = nxt is not None and (nxt["pod"], nxt["container"]) == (r["pod"], r["container"])
            if not same or APP_LINE.match(nxt["log"]):
                dropped.append(r)
                continue
        kept.append(r)
    return kept, dropped


def build_nezha(data, out, spec, fault_list):
    fault = [f for f in fault_list if f["inject_time"] == spec["fault_time"] and f["inject_pod"] == spec["fault_pod"]]
    assert len(fault) == 1 and fault[0]["inject_type"] == spec["fault_type"], (spec["name"], fault)
    fault = fault[0]
    fault_dt = datetime.fromisoformat(spec["fault_time"]).replace(tzinfo=timezone.utc)
    fault_ns = int(fault_dt.timestamp()) * 1_000_000_000
    start_ns = int(utc(spec["start"]).timestamp()) * 1_000_000_000 if spec["start"] else None

    rows, dups = load_rows(data, spec["files"], start_ns)
    total_rows = len(rows)
    rows, orphans = drop_orphan_partials(rows)
    by_pod = defaultdict(list)
    for r in rows:
        by_pod[(r["pod"], r["container"])].append(r)

    error_pods = sorted({r["pod"] for r in rows if level(r["log"]) == "ERROR"})
    full = set(error_pods) | {spec["fault_pod"]}
    assert spec["fault_pod"] in {p for p, _ in by_pod}

    def select(k):
        chosen = {}
        for key, rs in by_pod.items():
            chosen[key] = rs if key[0] in full else [r for i, r in enumerate(rs) if i % k == 0]
        size = sum(len(r["line"].encode()) + 1 for rs in chosen.values() for r in rs)
        lines = sum(len(rs) for rs in chosen.values())
        return chosen, size, lines

    for k in range(2, 200):
        chosen, size, nlines = select(k)
        if size <= LOG_BUDGET and nlines <= MAX_LINES:
            break
    else:
        raise SystemExit(f"{spec['name']}: does not fit {LOG_BUDGET} bytes")

    bundle = out / spec["name"]
    if bundle.exists():
        shutil.rmtree(bundle)
    (bundle / "pods").mkdir(parents=True)
    table = []
    for (pod, container), rs in sorted(chosen.items()):
        if not rs:
            continue
        uid = pod_uid(NAMESPACE, pod)
        path = bundle / "pods" / f"{NAMESPACE}_{pod}_{uid}" / container / "0.log"
        path.parent.mkdir(parents=True)
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for r in rs:
                fh.write(r["line"] + "\n")
        src = Counter(r["file"] for r in by_pod[(pod, container)])
        rule = "faulty pod: all" if pod == spec["fault_pod"] else ("logs ERROR: all" if pod in full else f"every {k}th")
        table.append((pod, container, uid, dict(src), len(by_pod[(pod, container)]), len(rs), rule))
    shutil.copyfile(data / NEZHA / "LICENSE", bundle / "LICENSE.Nezha")

    kept = sorted((r for rs in chosen.values() for r in rs), key=lambda r: (r["ns"], r["order"]))
    facts = nezha_facts(spec, rows, fault_ns)
    # The span is the data's (the window's first and last row), which contains every kept line.
    first_ns, last_ns = facts["data_first"], facts["data_last"]
    assert first_ns <= kept[0]["ns"] and kept[-1]["ns"] <= last_ns
    meta = nezha_meta(spec, fault, fault_ns, first_ns, last_ns, facts)
    write_toml(bundle / "incident.toml", meta)
    write_nezha_readme(bundle, spec, fault, meta, table, k, dups, orphans, total_rows, facts, first_ns, last_ns, fault_ns)
    return {"name": spec["name"], "lines": len(kept), "k": k}


def nezha_facts(spec, rows, fault_ns):
    """Counts quoted in the README and summary, computed from the selected window (before sampling)."""
    pod = spec["fault_pod"]
    errors = [r for r in rows if level(r["log"]) == "ERROR"]
    fe = [r for r in errors if r["pod"] == pod]
    nested = Counter()
    for r in errors:
        m = re.search(r"nested exception is ([^\]]+)\]", r["log"])
        key = m.group(1) if m else re.sub(r"^.*?SpanID: \w+ ", "", r["log"]).strip()
        key = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", key)
        nested[(r["pod"].rsplit("-", 2)[0], "before" if r["ns"] < fault_ns else "after", key)] += 1
    pod_rows = [r for r in rows if r["pod"] == pod]
    return {
        "fault_pod_lines_before": sum(r["ns"] < fault_ns for r in pod_rows),
        "fault_pod_lines_after": sum(r["ns"] >= fault_ns for r in pod_rows),
        "fault_pod_errors_before": [r for r in fe if r["ns"] < fault_ns],
        "fault_pod_errors_after": [r for r in fe if r["ns"] >= fault_ns],
        "errors": nested,
        "nodes": sorted({r["node"] for r in rows}),
        "data_first": min(r["ns"] for r in rows),
        "data_last": max(r["ns"] for r in rows),
    }


def nezha_meta(spec, fault, fault_ns, first_ns, last_ns, facts):
    pod, svc = spec["fault_pod"], spec["fault_pod"].rsplit("-", 2)[0]
    after = (last_ns - fault_ns) // 1_000_000_000
    before = (fault_ns - first_ns) // 1_000_000_000
    src = (f"Nezha (FSE'23), {NEZHA_REPO}, rca_data/2023-01-29/log/"
           + " + ".join(f"{f}_log.csv" for f in spec["files"])
           + " (ground truth: rca_data/2023-01-29/2023-01-29-fault_list.json), MIT")
    timeline = [{"at": floor_s(first_ns), "kind": "note",
                 "what": f"log window starts ({len(facts['nodes'])} nodes, namespace ts, Nezha's load generator running)"}]
    if spec["name"] == "trainticket-contacts-return":
        fe = facts["fault_pod_errors_after"]
        summary = (
            f"TrainTicket (Spring Boot microservices in namespace ts) under Nezha's load generator. At "
            f"{spec['fault_time'][11:]} UTC Nezha injected a `return` fault into {svc} (pod {pod}): a method's "
            f"return value is replaced. From the first contact look-up after it the pod logs `ERROR "
            f"c.s.ContactsServiceImpl#37 ... [findContactsById][contactsRepository.findById][No contacts according "
            f"to contactsId]`: {len(fe)} times in the {after} s of data after the fault, never before. No other pod "
            f"logs an error that names contacts; the other errors in the window (ts-food-service, "
            f"ts-execute-service, ts-preserve-service) are background errors seen throughout the dataset. "
            f"{before} s of logs before the fault, {after} s after.")
        timeline += [
            {"at": rfc3339(from_ns(fault_ns)), "kind": "fault",
             "what": f"`return` fault injected into {svc} (Nezha ground truth: inject_pod={pod}, inject_type=return)"},
            {"at": floor_s(fe[0]["ns"]), "kind": "note",
             "what": f"first `No contacts according to contactsId` ERROR from {svc} ({hms(fe[0]['ns'])}); {len(fe)} by the end of the data"},
        ]
    elif spec["name"] == "trainticket-basic-exception":
        summary = (
            f"TrainTicket (Spring Boot microservices in namespace ts) under Nezha's load generator. At "
            f"{spec['fault_time'][11:]} UTC Nezha injected an `exception` fault into {svc} (pod {pod}). The logs do "
            f"not show it: in the {after} s of data after the injection (Nezha's log files end at "
            f"{hms(facts['data_last'])}) {svc} logs the same INFO lines at the same rate as before and no ERROR, and "
            f"its callers log nothing new; the only error naming it, ts-preserve-service's `No instances available "
            f"for ts-basic-service`, occurs before the injection as well. A hard case: a log-only pipeline is not "
            f"expected to catch this fault from this window, and should raise no alarm on other workloads. "
            f"{before} s of logs before the fault, {after} s after.")
        timeline += [
            {"at": rfc3339(from_ns(fault_ns)), "kind": "fault",
             "what": f"`exception` fault injected into {svc} (Nezha ground truth: inject_pod={pod}, inject_type=exception)"},
        ]
    else:
        eb = facts["fault_pod_errors_before"]
        summary = (
            f"TrainTicket (Spring Boot microservices in namespace ts) under Nezha's load generator. At "
            f"{spec['fault_time'][11:]} UTC Nezha injected an `exception` fault into {svc} (pod {pod}). The logs do "
            f"not show the injected exception: {svc} logs no ERROR in the {after} s of data after it. They show "
            f"something else first: from {hms(eb[0]['ns'])} to {hms(eb[-1]['ns'])}, before the injection, {svc} "
            f"and ts-travel2-service fail requests with `IllegalStateException: No instances available for "
            f"ts-basic-service` and then `... for ts-seat-service` (the client-side load balancer found no "
            f"registered instance although those pods were running and logging) - a service-discovery / "
            f"dependency failure that is not in Nezha's ground truth and had stopped before the injection. "
            f"{before} s of logs before the fault, {after} s after.")
        timeline += [
            {"at": floor_s(eb[0]["ns"]), "kind": "note",
             "what": "travel/travel2 start failing requests: `No instances available for ts-basic-service` (not in Nezha's ground truth)"},
            {"at": floor_s(eb[-1]["ns"]), "kind": "note",
             "what": f"last `No instances available` ERROR from {svc} (ts-seat-service); none after this"},
            {"at": rfc3339(from_ns(fault_ns)), "kind": "fault",
             "what": f"`exception` fault injected into {svc} (Nezha ground truth: inject_pod={pod}, inject_type=exception)"},
        ]
    timeline.append({"at": ceil_s(last_ns), "kind": "note", "what": "log data ends (Nezha's CSVs stop here)"})
    return {
        "title": spec["title"], "summary": summary, "source": src, "timeline": timeline,
        "expected": {"workload": f"{NAMESPACE}/{svc}", "faults": spec["faults"], "actions": spec["actions"],
                     "detect_within_secs": spec["detect_within_secs"]},
        "twin": {"fault": "bad_rollout"},
    }


def write_nezha_readme(bundle, spec, fault, meta, table, k, dups, orphans, total_rows, facts, first_ns, last_ns, fault_ns):
    svc = spec["fault_pod"].rsplit("-", 2)[0]
    lines = sum(t[5] for t in table)
    size = sum(p.stat().st_size for p in (bundle / "pods").rglob("0.log"))
    err_rows = []
    for (who, when, what), n in sorted(facts["errors"].items(), key=lambda x: (x[0][0], x[0][1] != "before", x[0][2])):
        err_rows.append(f"| {who} | {when} | {n} | `{what}` |")
    pod_rows = []
    for pod, container, uid, src, n_all, n_kept, rule in table:
        srcs = ", ".join(f"{f}: {c}" for f, c in sorted(src.items()))
        pod_rows.append(f"| {pod} | {container} | {srcs} | {n_kept} | {rule} |")
    tl = "\n".join(f"| {e['at']} | {e['kind']} | {e['what']} |" for e in meta["timeline"])
    window = (f"{spec['start']} (cut: the faulty pod alone logs ~325 KB in the two minutes; 60 s before the fault "
              f"fit the size limit)" if spec["start"] else "the start of the first file")
    inject_ts = datetime.fromtimestamp(int(fault["inject_timestamp"]), tz=timezone.utc)
    text = f"""# {meta['title']}

{meta['summary']}

| | |
|---|---|
| system | TrainTicket (FudanSELab) on Kubernetes, namespace `ts`, {len(facts['nodes'])} nodes ({', '.join(facts['nodes'])}) |
| fault (ground truth) | `{fault['inject_type']}` into pod `{fault['inject_pod']}` at {spec['fault_time']} UTC |
| expected | workload `{meta['expected']['workload']}`, faults {', '.join(meta['expected']['faults'])}; actions {', '.join(meta['expected']['actions'])}; within {meta['expected']['detect_within_secs']} s |
| twin | `{meta['twin']['fault']}` |
| span | {floor_s(first_ns)} - {ceil_s(last_ns)} ({(fault_ns - first_ns) // 10**9} s before the fault, {(last_ns - fault_ns) // 10**9} s after) |
| size | {lines} docker json-file lines in {len(table)} container logs, {size:,} bytes |

## Timeline

| at (UTC) | kind | what |
|---|---|---|
{tl}

## What the logs show

Every ERROR line in the window (before sampling; all of them are in the bundle, since pods that log an ERROR
are kept whole), grouped by service, before/after the injection and message:

| service | vs. fault | lines | message (nested exception, or text after the span id) |
|---|---|---:|---|
{chr(10).join(err_rows)}

The faulty pod logs {facts['fault_pod_lines_before']} lines before the injection and {facts['fault_pod_lines_after']} after
({len(facts['fault_pod_errors_before'])} / {len(facts['fault_pod_errors_after'])} of them ERROR).
{NOTES[spec['name']]}

Timestamps: the docker `time` field (UTC) is the event time. The application's own prefix (`16:43:17.120`) is
the JVM's local time, UTC+8, without a date. Nezha's fault list gives `inject_time` "{spec['fault_time']}" and
`inject_timestamp` {fault['inject_timestamp']} (= {rfc3339(inject_ts)}); the two disagree. `inject_time` read as
UTC is used: the log file names (`HH_MM_log.csv` holds the minute before HH:MM UTC) and, for the contacts fault,
the first symptoms 13 s later agree with it; `inject_timestamp` is `inject_time` read as UTC+8 (for 08:43:04 it is
a further 60 s off).

## Where every line came from

Dataset: Nezha (Yu et al., "Nezha: Interpretable Fine-Grained Root Causes Analysis for Microservices on
Multi-Modal Observability Data", ESEC/FSE 2023), repository {NEZHA_REPO}, MIT licence (`LICENSE.Nezha`, a copy of
the repository's LICENSE; keep it with the lines). Files, as copied into `shared/data/{NEZHA}/`:
{chr(10).join(f'* `rca_data/2023-01-29/log/{f}_log.csv`' for f in spec['files'])}
* `rca_data/2023-01-29/2023-01-29-fault_list.json` (ground truth; the entry is
  `{json.dumps(fault)}`)

Each CSV row is `Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log`; `Log` is the docker
json-file line the node wrote. Each line of a `0.log` here is one row's `Log` value, byte for byte, followed by
`\\n`; lines are in `TimeUnixNano` order per file. Rows used: {total_rows} rows from {window} to the end of the last
file; {dups} exact duplicate rows (the one-minute files overlap by a second) counted once;
{len(orphans)} rows dropped because they are the first 16 KiB chunk of a docker-split line whose continuation
Nezha did not keep (a reader would glue it to the next record){' - ' + ', '.join(sorted(Counter(r['pod'].rsplit('-', 2)[0] for r in orphans).keys())) if orphans else ''}.
Of the rest, the faulty pod and every pod that logs an ERROR in the window are kept whole; every other pod keeps
every {k}th line of its own time-ordered lines (the 1st, {k + 1}th, ...; the smallest step that keeps the bundle
under {LOG_BUDGET:,} bytes of logs and {MAX_LINES:,} lines):

| pod | container | source rows (file: rows) | lines kept | rule |
|---|---|---|---:|---|
{chr(10).join(pod_rows)}

## What was changed or made up

* Nothing inside a line. Lines were selected (above), never edited.
* Pod uids are not in the data: each directory's uid is `uuid5(UID_NS, "ts/<pod>")` with
  `UID_NS = uuid5(NAMESPACE_URL, "https://github.com/IntelligentDDS/Nezha#medic-incident-bundles")`.
* Namespace `ts` is Nezha's namespace for TrainTicket (the CSVs carry no namespace column). Container names are
  the CSV's `Container` column (`server`; `ts-security-service` for that pod).
* No Kubernetes Events were recorded in the dataset, so the bundle has no `events.jsonl`.
* Node IPs (`Node` column) are not carried into the bundle; the pods' node is not part of the layout.

## Twin mapping

{WHY_BAD_ROLLOUT}

## How it was built

    {COMMAND}

(from the repository root, with the shared data at `../shared/data`). The script is deterministic: a second run
writes the same bytes.
"""
    (bundle / "README.md").write_text(text)


NOTES = {
    "trainticket-contacts-return": """\
Before the injection the pod serves `findContactsById` normally (`ContactsServiceImpl#34` success lines);
after it almost every look-up ends in the `#37` ERROR. The callers (ts-preserve-service and others) do not log the
failure in this window: the bundle's signal is the faulty service's own ERROR lines. ts-preserve-service's one
ERROR (`No instances available for ts-food-service`) is a recurring service-discovery error in this deployment,
unrelated to contacts. Nezha's separate fault-free window 08:48:16-08:51:04 (construct_data/2023-01-29/log/08_50_log.csv)
has no contacts errors, so the fault was over by then; it is not in the bundle, to keep the bundle one
contiguous stretch of time.""",
    "trainticket-basic-exception": """\
The request mix of ts-basic-service (`BasicController#38`/`#45` and the `BasicServiceImpl` lines under them) is
the same before and after the injection, and every request that starts also logs its last line. Nezha localises
such faults from the *pattern* of log statements (and traces and metrics); with only 28 s of logs after the
injection and no error line, a log-level pipeline has nothing to go on. The per-pod metrics Nezha ships
(`rca_data/2023-01-29/metric/ts-basic-service-5dc8d4f9fd-46997_metric.csv`) show no clear change either (server
p90 latency 0.25 s at 09:25:09, 0.09 s at 09:26:09). Use this bundle to check that the pipeline stays quiet rather
than blaming a background error, not to score detection.""",
    "trainticket-travel-exception": """\
The `No instances available for ...` errors come from Spring Cloud's client-side load balancer (Ribbon): the
service registry returned no instance for ts-basic-service, later ts-seat-service, although both pods were
running and logging throughout. ts-travel2-service fails the same way, ts-inside-payment-service and
ts-preserve-other-service for other services; it recurs at a lower rate in every Nezha window. It stops at
10:04:07, 27 s before the injection. After the injection ts-travel-service's requests complete normally
(`TravelServiceImpl#548`/`#558` pairs) in the 33 s of data that remain. A pipeline that flags
ts-travel-service at 10:03 with `dependency_failure` has found a real problem, but not the injected one, and
before it happened; whether that counts is for the scorer to decide (it is *not* listed in `faults`).""",
}


# ---------------------------------------------------------------------------------------------- exolightor F8

EXO = "k8s/exolightor_k8s-fault-dataset"
EXO_REPO = "exolightor/k8s-fault-dataset@30db60e0"
SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.String alphabet


def build_events(data, out):
    faults = json.loads((data / EXO / "data/faults.json").read_text())
    f8 = next(f for f in faults if f["id"] == 8)
    assert f8["event"] == "FailedCreate" and f8["kind"] == "ReplicaSet"
    prompt = (data / EXO / "faults/f8/prompt.txt").read_text()
    m = re.search(r"Error: pods (currencyservice-dcbvz5ffzw-fjn74) is forbidden: (exceeded quota: ms-demo, requested: cpu=1600m, used: cpu=1270m, limited: cpu=2400m)", prompt)
    assert m, "exolightor f8 prompt changed"
    real_pod, reason_text = m.group(1), m.group(2)
    ns, deploy, rs = "ms-demo", "currencyservice", "currencyservice-dcbvz5ffzw"
    assert f"the ReplicaSet with the name {rs} in the namespace {ns}" in prompt

    rng = random.Random(8)
    t0 = datetime(2025, 6, 2, 10, 0, 0, tzinfo=timezone.utc)
    dep_uid = str(uuid.uuid5(UID_NS, f"{ns}/deployment/{deploy}"))
    rs_uid = str(uuid.uuid5(UID_NS, f"{ns}/replicaset/{rs}"))
    events, rv = [], [7_340_000]

    def event(t, obj_kind, obj_name, obj_uid, reason, message, type_, component, count=1, first=None, name_t=None):
        rv[0] += 3
        name_t = name_t or t
        events.append({
            "apiVersion": "v1", "kind": "Event", "count": count, "eventTime": None,
            "firstTimestamp": rfc3339(first or t), "lastTimestamp": rfc3339(t),
            "involvedObject": {"apiVersion": "apps/v1", "kind": obj_kind, "name": obj_name, "namespace": ns,
                               "resourceVersion": str(rv[0] - 1), "uid": obj_uid},
            "message": message, "reason": reason,
            "metadata": {"creationTimestamp": rfc3339(first or t),
                         "name": f"{obj_name}.{int(name_t.timestamp() * 1e9):x}", "namespace": ns,
                         "resourceVersion": str(rv[0]),
                         "uid": str(uuid.uuid5(UID_NS, f"event/{obj_name}/{reason}/{(name_t - t0).total_seconds()}"))},
            "reportingComponent": "", "reportingInstance": "", "source": {"component": component}, "type": type_,
        })

    def forbidden(pod):
        return f'Error creating: pods "{pod}" is forbidden: {reason_text}'

    event(t0, "Deployment", deploy, dep_uid, "ScalingReplicaSet", f"Scaled up replica set {rs} to 1", "Normal",
          "deployment-controller")
    # The ReplicaSet controller retries a failed create with per-item exponential back-off (5 ms doubling, the
    # controller work queue's default); the event recorder keeps 10 similar events within 10 minutes apart, then
    # folds the rest into one "(combined from similar events)" event whose count grows.
    delay, at, attempts = 0.005, 0.0, []
    while at < 700:
        attempts.append(at)
        at += delay
        delay *= 2
    pods = [real_pod] + [f"{rs}-" + "".join(rng.choice(SAFE) for _ in range(5)) for _ in attempts[1:]]
    agg_first = None
    for i, (secs, pod) in enumerate(zip(attempts, pods)):
        t = t0 + timedelta(seconds=secs)
        if i < 10:
            event(t, "ReplicaSet", rs, rs_uid, "FailedCreate", forbidden(pod), "Warning", "replicaset-controller",
                  name_t=t)
        else:
            agg_first = agg_first or t
            event(t, "ReplicaSet", rs, rs_uid, "FailedCreate",
                  "(combined from similar events): " + forbidden(pods[10]), "Warning", "replicaset-controller",
                  count=i - 9, first=agg_first, name_t=agg_first)

    bundle = out / "boutique-currency-quota"
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    (bundle / "events.jsonl").write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
    shutil.copyfile(data / EXO / "LICENSE", bundle / "LICENSE.exolightor")
    last = t0 + timedelta(seconds=attempts[-1])
    meta = {
        "title": "Online Boutique: a new currencyservice revision exceeds the namespace ResourceQuota (Events only, reconstructed)",
        "summary": (
            "Kubernetes Events only, reconstructed around real message texts. exolightor's fault F8: the "
            "currencyservice Deployment of Online Boutique (namespace ms-demo) is patched to request cpu 1.6 per "
            "pod, above what the namespace's ResourceQuota (cpu 2400m) has left. The Deployment controller scales "
            f"up the new ReplicaSet {rs}, and the ReplicaSet controller cannot create its pod: every attempt "
            f"is refused by the quota admission plugin (`FailedCreate ... is forbidden: exceeded quota: ms-demo, "
            f"requested: cpu=1600m, used: cpu=1270m, limited: cpu=2400m`), retried with exponential back-off for "
            f"{int(attempts[-1] // 60)} minutes. The old pod keeps serving; the rollout is stuck. The message "
            "text, names and quota numbers are exolightor's recorded ones; timing, uids and the pod-name suffixes "
            "of the retries are made up."),
        "source": f"exolightor k8s-fault-dataset, {EXO_REPO}, data/faults.json (id 8) + faults/f8/prompt.txt + faults/f8/inject, MIT",
        "timeline": [
            {"at": rfc3339(t0), "kind": "fault",
             "what": "currencyservice patched to requests/limits cpu 1.6 (faults/f8/inject); new ReplicaSet's pods exceed the ResourceQuota"},
            {"at": rfc3339(t0 + timedelta(seconds=attempts[10])), "kind": "note",
             "what": "10 FailedCreate events in 2.6 s; the event recorder folds further ones into one combined event"},
            {"at": ceil_s(int(last.timestamp()) * 10**9 + last.microsecond * 1000 + 1), "kind": "note",
             "what": "last retry in the bundle; the rollout is still stuck (nothing was fixed)"},
        ],
        "expected": {"workload": f"{ns}/{deploy}", "faults": ["admission_denied"], "actions": ["rollback", "escalate"],
                     "detect_within_secs": 60},
        "twin": {"fault": "bad_rollout"},
    }
    write_toml(bundle / "incident.toml", meta)
    ev_rows = "\n".join(
        f"| {e['lastTimestamp']} | {e['reason']} | {e['involvedObject']['kind']}/{e['involvedObject']['name']} | {e['count']} | "
        f"`{e['message'][:96]}{'...' if len(e['message']) > 96 else ''}` |" for e in events)
    text = f"""# {meta['title']}

{meta['summary']}

| | |
|---|---|
| system | Online Boutique (GoogleCloudPlatform/microservices-demo) on minikube, namespace `ms-demo` |
| fault | exolightor F8 (`{f8['category']}`, event `{f8['event']}` on a `{f8['kind']}`) |
| expected | workload `{meta['expected']['workload']}`, faults {', '.join(meta['expected']['faults'])}; actions {', '.join(meta['expected']['actions'])}; within {meta['expected']['detect_within_secs']} s |
| twin | `bad_rollout` |
| span | {meta['timeline'][0]['at']} - {meta['timeline'][-1]['at']} (made-up date) |
| size | {len(events)} core/v1 Event objects in `events.jsonl`, no container logs |

## What the dataset holds, and what is real here

exolightor/k8s-fault-dataset ({EXO_REPO}, MIT, `LICENSE.exolightor`) has, for each of 15 faults, the manifests
that inject, restore and tear it down, the event reason and error text (`data/faults.json`), and prompts built
from its own recorded runs (`faults/fN/prompt.txt`: the affected object's name and namespace, the YAML and the
error text k8sgpt reported). It holds **no recorded Event objects and no container logs**. So:

* real (copied): the event reason `FailedCreate` on a ReplicaSet, the ReplicaSet name `{rs}`, the first pod name
  `{real_pod}`, the namespace and the refusal text `{reason_text}` (from `faults/f8/prompt.txt`; the same
  text with placeholders is `data/faults.json` id 8); the patch (cpu 1.6) and the quota (cpu 2400m) from
  `faults/f8/inject/kustomization.yaml` and `faults/resources/resource-quota.yaml`;
* reconstructed from Kubernetes' behaviour: the Event envelope (the shape of the recorded core/v1 Events in
  `shared/data/formats/k8s/kspan_core-v1-events.jsonl`), the ReplicaSet controller's message `Error creating: <err>`
  around the admission error (the prompt, via k8sgpt, prints the error without `Error creating:` and without
  the quotes the API server puts around the pod name; both are restored), the `ScalingReplicaSet` event
  (message as kspan recorded it), the retry times (the controller work queue's default per-item back-off, 5 ms
  doubling) and the recorder's folding of more than 10 similar events in 10 minutes into `(combined from similar
  events): ...` with a growing count;
* made up: the date and time ({rfc3339(t0)}), every uid (`uuid5` of the object's name), resource versions, and
  the 5-character suffixes of the retried pod names (seeded random, from the alphabet Kubernetes uses).

It is run as exolightor's README runs it, `./injection.sh -n ms-demo -f f8 inject` (with `-r` for the quota), but
**without** `-d`, which would also delete the old ReplicaSet: so the old pod keeps serving and the damage is a
stuck rollout, and a rollback has a revision to go back to.

## Events

| lastTimestamp | reason | object | count | message |
|---|---|---|---:|---|
{ev_rows}

## Twin mapping

A new revision that cannot start while the old one keeps running is the twin's `bad_rollout` (the rolling update
stalls; a `rollback` cures it; a `rollout_restart` only asks for the same refused pods again). The real fix in
exolightor (`faults/f8/restore`) re-applies the Deployment with a smaller cpu request (600m), which has the same
effect as the rollback here. Approximate: the twin's `bad_rollout` has the new pods start and crash-loop and replaces up to
25 % of the old ones, whereas here the new pod is never created and no old pod is touched. `escalate` is also right:
raising the quota or fixing the request is a human's change.

## How it was built

    {COMMAND}

The script reads the texts from the dataset and asserts they are still there; the rest is fixed by a seed.
"""
    (bundle / "README.md").write_text(text)
    return {"name": bundle.name, "lines": len(events)}


# ---------------------------------------------------------------------------------------------- index

INDEX_HEAD = """# Incident bundles

An *incident bundle* is a directory that `medic replay <dir>` feeds through the pipeline, each line at its
original event time. It holds what a cluster's log shippers would have seen (container logs in their on-node
formats, Kubernetes Events) plus the ground truth to score the pipeline's conclusions against.

```
incidents/<name>/
  incident.toml     # the ground truth (below)
  README.md         # what happened; where every line came from (dataset, repo@commit, file, rows), licence,
                    # the exact command that built it, what was changed or made up (e.g. uids)
  LICENSE.<dataset> # a copy of the source licence when it requires one (MIT: keep the notice with the lines)
  pods/<namespace>_<pod>_<uid>/<container>/0.log
                    # container log lines in their source format, as under /var/log/pods: docker json-file
                    # ({"log":...,"stream":...,"time":...}) or CRI (`<RFC3339Nano> <stream> <P|F> <msg>`),
                    # one per line, in time order
  events.jsonl      # optional: core/v1 Event objects, one JSON object per line, in time order
```

The pod directory name is what the kubelet uses, so `medic` derives namespace, pod, container and the owning
workload (`<deployment>-<replicaset hash>-<suffix>` -> Deployment `<deployment>`) from the path, exactly as from a
shipper's Kafka key `/var/log/pods/...`.

`incident.toml`:

```toml
title = "TrainTicket: ts-travel-service throws exceptions"
summary = \"\"\"One paragraph a person reads first: the system, what was injected, what the logs show.\"\"\"
source = "Nezha (FSE'23), IntelligentDDS/Nezha@d8140101, rca_data/2023-01-29/log/10_04_log.csv + 10_05_log.csv, MIT"

[[timeline]]                # ground truth, in time order; the first entry is at or before the first line,
at = "2023-01-29T10:04:34Z" # the last at or after the last line (RFC 3339, UTC)
kind = "fault"              # fault | recovery | note
what = "exception injected into ts-travel-service (Nezha ground truth, inject_type=exception)"

[expected]                  # what a good pipeline should conclude
workload = "ts/ts-travel-service"   # <namespace>/<workload> the fault is on (workload = Deployment name)
faults = ["application_error"]      # diagnosis classes that count as detecting it, from: normal oom crash_loop
                                    # image_pull scheduling admission_denied config_error probe_failure volume_error
                                    # node_failure disk_pressure network dependency_failure cpu_saturation
                                    # application_error
actions = ["rollback", "escalate"]  # remediations that count as right, from: scale scale_to restart_pod
                                    # rollout_restart rollback cordon_node drain_node escalate
detect_within = "120s"              # from the (first) fault entry

[twin]                      # how a counterfactual re-enacts it on the digital twin
fault = "bad_rollout"       # memory_leak | bad_rollout | node_failure | disk_pressure | dependency_outage | traffic_spike
duration = "30m"            # optional: how long the cause lasts if nobody fixes it (default: the twin's per kind)
```

Each bundle's README justifies its `[twin] fault`.

Bundles built from datasets are written by `scripts/make-incident-bundles.py` (`{command}`, from the repository
root; deterministic); `checkout-oom-crashloop` by `scripts/make-demo-incident.py`. This table is written by the
former.

## Bundles

| bundle | source | licence | lines (size) | time span (UTC) | fault at / twin | expected: workload: faults; actions |
|---|---|---|---:|---|---|---|
"""

INDEX_NOTES = """
Lines: container log lines + Event objects. "real" means the lines are copied byte for byte from a recorded
dataset; see each README for exactly what was selected, changed or made up.

Caveats (details in the READMEs):

* `trainticket-contacts-return` is the one real-log bundle whose fault is plainly visible in the logs.
* `trainticket-basic-exception`: the injected fault leaves no trace in the 28 s of logs after it; use it to check
  that the pipeline stays quiet, not to score detection.
* `trainticket-travel-exception`: the logs show a real, different problem (service discovery: `No instances
  available for ts-basic-service` / `ts-seat-service`) that ends 27 s *before* the injection, and nothing after it.
* Nezha's log files hold one minute each and only two per fault were copied, so the TrainTicket bundles cover
  1-1.5 minutes before the fault and 0.5-1 minute after, not several minutes.
* `boutique-currency-quota` has no container logs, and only its message texts and names are real.
* `checkout-oom-crashloop` is synthetic.
"""


def index(out):
    rows = []
    for bundle in sorted(p for p in out.iterdir() if (p / "incident.toml").is_file()):
        meta = tomllib.loads((bundle / "incident.toml").read_text())
        logs = list((bundle / "pods").rglob("*.log")) if (bundle / "pods").is_dir() else []
        nlog = sum(len(p.read_bytes().splitlines()) for p in logs)
        nev = len((bundle / "events.jsonl").read_text().splitlines()) if (bundle / "events.jsonl").is_file() else 0
        size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
        tl = meta["timeline"]
        fault = next(e for e in tl if e["kind"] == "fault")
        lic = "MIT" if any(bundle.glob("LICENSE.*")) else "project's own"
        e = meta["expected"]
        if meta["source"].startswith("synthetic"):
            src = meta["source"].split(" (")[0]
        else:
            src = meta["source"].split(",")[0] + (" (real)" if nlog else " (reconstructed Events)")
        lines = (f"{nlog} log" if nlog else "") + (" + " if nlog and nev else "") + (f"{nev} events" if nev else "")
        rows.append(
            f"| [{bundle.name}]({bundle.name}/README.md) | {src} | {lic} | {lines} ({size // 1024} KB) | "
            f"{tl[0]['at']} - {tl[-1]['at'][11:]} | {fault['at'][11:]} {meta['twin']['fault']} | "
            f"`{e['workload']}`: {'/'.join(e['faults'])}; {'/'.join(e['actions'])} |")
    (out / "README.md").write_text(INDEX_HEAD.replace("{command}", COMMAND) + "\n".join(rows) + "\n" + INDEX_NOTES)


# ---------------------------------------------------------------------------------------------- check

FAULT_CLASSES = {"normal", "oom", "crash_loop", "image_pull", "scheduling", "admission_denied", "config_error",
                 "probe_failure", "volume_error", "node_failure", "disk_pressure", "network", "dependency_failure",
                 "cpu_saturation", "application_error"}
ACTIONS = {"scale", "scale_to", "restart_pod", "rollout_restart", "rollback", "cordon_node", "drain_node", "escalate"}
TWIN_FAULTS = {"memory_leak", "bad_rollout", "node_failure", "disk_pressure", "dependency_outage", "traffic_spike"}
TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
CRI = re.compile(r"^(\S+) (stdout|stderr) (P|F) (.*)$", re.S)
MAX_BUNDLE_BYTES = 400 * 1024


def ts_ns(text):
    m = TS.match(text)
    if not m:
        raise ValueError(f"bad RFC 3339 time {text!r}")
    dt = datetime.fromisoformat(m.group(1) + (m.group(3).replace("Z", "+00:00")))
    return int(dt.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0"))


def workload_of(pod):
    """A port of ingest/src/workload.rs from_pod_name (Deployment case)."""
    parts = pod.rsplit("-", 2)
    ok = lambda t, lo, hi: lo <= len(t) <= hi and all(c in SAFE for c in t)
    if len(parts) == 3 and ok(parts[2], 5, 5) and ok(parts[1], 6, 10):
        return parts[0]
    return None


def check(out):
    """Validates every bundle under `out`; returns a list of problems (empty: all good)."""
    problems = []
    for bundle in sorted(p for p in out.iterdir() if p.is_dir()):
        def bad(msg):
            problems.append(f"{bundle.name}: {msg}")
        try:
            meta = tomllib.loads((bundle / "incident.toml").read_text())
        except Exception as e:  # noqa: BLE001 - report and go on
            bad(f"incident.toml: {e}")
            continue
        for key in ("title", "summary", "source", "timeline", "expected", "twin"):
            if key not in meta:
                bad(f"incident.toml lacks {key}")
        tl = meta.get("timeline", [])
        ats = [ts_ns(e["at"]) for e in tl]
        if ats != sorted(ats):
            bad("timeline not in time order")
        if not any(e["kind"] == "fault" for e in tl) or any(e["kind"] not in ("fault", "recovery", "note") for e in tl):
            bad("timeline kinds")
        lo, hi = ats[0], ats[-1]
        e = meta["expected"]
        if set(e["faults"]) - FAULT_CLASSES or set(e["actions"]) - ACTIONS or not re.fullmatch(r"[0-9]+(ms|s|m|h|d)", str(e.get("detect_within", "5m"))):
            bad(f"expected: unknown class or action {e}")
        if meta["twin"]["fault"] not in TWIN_FAULTS:
            bad(f"twin fault {meta['twin']['fault']}")
        if not (bundle / "README.md").is_file():
            bad("no README.md")
        workloads, nlines = set(), 0
        for log in sorted((bundle / "pods").rglob("*.log")) if (bundle / "pods").is_dir() else []:
            rel = log.relative_to(bundle / "pods")
            parts = rel.parts
            fields = parts[0].split("_")
            if len(parts) != 3 or parts[2] != "0.log" or len(fields) != 3:
                bad(f"{rel}: not pods/<ns>_<pod>_<uid>/<container>/0.log")
                continue
            uuid.UUID(fields[2])
            workloads.add(f"{fields[0]}/{workload_of(fields[1])}")
            prev = 0
            raw = log.read_bytes()
            if not raw.endswith(b"\n"):
                bad(f"{rel}: no final newline")
            for n, line in enumerate(raw.decode("utf-8").split("\n")[:-1], start=1):
                nlines += 1
                try:
                    if line.startswith("{"):
                        doc = json.loads(line)
                        assert isinstance(doc, dict) and isinstance(doc["log"], str), "docker line shape"
                        assert doc.get("stream") in ("stdout", "stderr"), "docker stream"
                        t = ts_ns(doc["time"])
                    else:
                        m = CRI.match(line)
                        assert m, "neither docker json nor CRI"
                        t = ts_ns(m.group(1))
                except Exception as ex:  # noqa: BLE001
                    bad(f"{rel}:{n}: {ex}")
                    continue
                if t < prev:
                    bad(f"{rel}:{n}: time goes backwards")
                if not lo <= t <= hi:
                    bad(f"{rel}:{n}: time outside the timeline's span")
                prev = t
        nev = 0
        if (bundle / "events.jsonl").is_file():
            prev = 0
            for n, line in enumerate((bundle / "events.jsonl").read_text().split("\n")[:-1], start=1):
                nev += 1
                ev = json.loads(line)
                if ev.get("kind") != "Event" or "involvedObject" not in ev:
                    bad(f"events.jsonl:{n}: not a core/v1 Event")
                    continue
                t = ts_ns(ev.get("lastTimestamp") or ev.get("eventTime"))
                obj = ev["involvedObject"]
                w = workload_of(obj["name"]) if obj["kind"] == "Pod" else (
                    obj["name"].rsplit("-", 1)[0] if obj["kind"] == "ReplicaSet" else obj["name"])
                workloads.add(f"{obj.get('namespace', ev['metadata']['namespace'])}/{w}")
                if t < prev:
                    bad(f"events.jsonl:{n}: time goes backwards")
                if not lo <= t <= hi:
                    bad(f"events.jsonl:{n}: time outside the timeline's span")
                prev = t
        if nlines + nev == 0:
            bad("no log lines and no events")
        if e["workload"] not in workloads:
            bad(f"expected workload {e['workload']} is not among the bundle's {sorted(workloads)}")
        size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
        if size > MAX_BUNDLE_BYTES:
            bad(f"{size} bytes > {MAX_BUNDLE_BYTES}")
    return problems


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        problems = check(Path(sys.argv[2]))
        print("\n".join(problems) or "all bundles valid")
        raise SystemExit(1 if problems else 0)
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    faults = load_fault_list(data)
    for spec in NEZHA_BUNDLES:
        r = build_nezha(data, out, spec, faults)
        print(f"{r['name']}: {r['lines']} lines (others every {r['k']}th)")
    r = build_events(data, out)
    print(f"{r['name']}: {r['lines']} events")
    index(out)
    print(f"index -> {out / 'README.md'}")
    problems = check(out)
    if problems:
        raise SystemExit("\n".join(problems))
    print("all bundles valid")


if __name__ == "__main__":
    main()
