#!/usr/bin/env python3
# trace_check.py — checks a task timeline the way a reader would see it: the
# Chrome trace JSON parsed with json, the SVG parsed with xml.etree, and each
# checked against the other (one row per task, every bar where its slice is).
#
# Usage:
#   trace_check.py --files TRACE.json TIMELINE.svg   the two files of one recording
#   trace_check.py DEMO                               asyncuv-demo's --trace/--timeline:
#                                                     gather's picture, `all`, CLI errors
# Prints '[trace_check] N passed, M failed'; exit status 1 on any failure.
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from checks import check, summary

SVG = "{http://www.w3.org/2000/svg}"


def load_json(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    events = doc["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    slices = {}
    for e in events:
        for key in ("name", "ph", "pid", "tid"):
            if key not in e:
                raise ValueError(f"event without {key}: {e}")
        if e["ph"] == "X":
            slices.setdefault(e["tid"], []).append(e)
    return doc, names, slices


def check_json(path):
    doc, names, slices = load_json(path)
    check(names.get(0) == "event loop", "thread 0 is the event loop", str(names.get(0)))
    for tid, xs in slices.items():
        check(tid in names, f"thread {tid} has a thread_name")
        xs = sorted(xs, key=lambda e: e["ts"])
        for a, b in zip(xs, xs[1:]):
            if not check(a["ts"] + a["dur"] <= b["ts"] + 1e-3, f"{names.get(tid)}: slices do not overlap", f"{a} {b}"):
                break
        for e in xs:
            ok = (e["cat"] == "running" and e["name"] == "running") or (
                e["cat"] == "waiting" and e["name"] == "wait: " + e["args"]["on"])
            if not check(ok, f"{names.get(tid)}: slice named after its kind", str(e)):
                break
    return doc, names, slices


def check_svg_against_json(svg_path, names, slices):
    root = ET.parse(svg_path).getroot()
    check(root.tag == SVG + "svg", "the SVG's root is <svg>", root.tag)
    check(root.find(SVG + "text[@class='title']") is not None, "the SVG has a title")
    x0 = float(root.get("data-x0"))
    px = float(root.get("data-px-per-s"))
    rows = root.findall(SVG + "g[@class='task']")
    task_tids = [tid for tid in names if tid != 0]
    check(len(rows) == len(task_tids), "one row per task", f"{len(rows)} rows, {len(task_tids)} tasks")
    check(len(root.findall(SVG + "g[@class='axis']/" + SVG + "text[@class='tick']")) >= 2, "the axis has ticks")
    for row in rows:
        tid = int(row.get("data-id"))
        label = row.find(SVG + "text[@class='label']")
        check(row.get("data-task") == names.get(tid), f"row {tid} is named as in the JSON",
              f"{row.get('data-task')} vs {names.get(tid)}")
        check(label is not None and label.text == names.get(tid)[:22] + ("..." if len(names.get(tid)) > 22 else ""),
              f"row {tid}'s label")
        bars = row.findall(SVG + "rect[@data-begin]")
        xs = sorted(slices.get(tid, []), key=lambda e: e["ts"])
        if not check(len(bars) == len(xs), f"{names.get(tid)}: one bar per slice", f"{len(bars)} vs {len(xs)}"):
            continue
        for bar, e in zip(bars, xs):
            begin, end = float(bar.get("data-begin")), float(bar.get("data-end"))
            ok = (bar.get("class") == e["cat"]
                  and abs(begin - e["ts"] / 1e6) < 2e-9 and abs(end - (e["ts"] + e["dur"]) / 1e6) < 2e-9
                  and abs(float(bar.get("x")) - (x0 + begin * px)) < 0.01
                  and abs(float(bar.get("width")) - max((end - begin) * px, 1.0)) < 0.01
                  and (e["cat"] == "running" or bar.get("data-on") == e["args"]["on"]))
            if not check(ok, f"{names.get(tid)}: bar matches its slice", f"{bar.attrib} vs {e}"):
                break
    return root


def check_files(json_path, svg_path):
    _, names, slices = check_json(json_path)
    check_svg_against_json(svg_path, names, slices)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, timeout=120, text=True)
    return p.stdout, p.stderr, p.returncode


def check_demo(demo):
    with tempfile.TemporaryDirectory() as tmp:
        js, svg = os.path.join(tmp, "gather.json"), os.path.join(tmp, "gather.svg")
        out, err, rc = run([demo, "gather", "--time-scale", "0.1", "--trace", js, "--timeline", svg])
        check(rc == 0 and out == "Task 1 completed\nTask 2 completed\n", "gather runs as usual when traced", err)
        _, names, slices = check_json(js)
        check_svg_against_json(svg, names, slices)
        # The seed's point, at a tenth of the time: gather(0.1 s, 0.2 s) waits 0.2 s, not 0.3.
        check(sorted(names.values()) == ["Task-1", "Task-2", "Task-3", "event loop"], "gather: main and two tasks",
              str(names))
        waits = {names[t]: [e for e in xs if e["cat"] == "waiting"] for t, xs in slices.items()}
        if check(all(len(waits.get(n, [])) == 1 for n in ("Task-1", "Task-2", "Task-3")), "one wait per task"):
            main, short, long_ = waits["Task-1"][0], waits["Task-2"][0], waits["Task-3"][0]
            check(main["args"]["on"] == "gather" and short["args"]["on"] == "sleep" == long_["args"]["on"],
                  "main waits on the gather, the tasks on their sleeps")
            check(short["dur"] >= 0.1e6 and long_["dur"] >= 0.2e6, "the sleeps last at least 0.1 s and 0.2 s")
            overlap = min(short["ts"] + short["dur"], long_["ts"] + long_["dur"]) - max(short["ts"], long_["ts"])
            check(overlap >= 0.1e6 - 1, "the two sleeps overlap (concurrency)", f"{overlap} us")
            check(0.2e6 <= main["dur"] < 0.3e6, "gather takes the longer sleep, not the sum", f"{main['dur']} us")

        # `all` records the five runs in one trace, rows unique.
        out, err, rc = run([demo, "all", "--time-scale", "0", "--seed", "1", "--trace", js, "--timeline", svg])
        check(rc == 0, "all --trace runs", err)
        _, names, slices = check_json(js)
        check(len(set(names.values())) == len(names) and len(names) >= 8, "all: one row per task", str(names))
        check_svg_against_json(svg, names, slices)

        # A file that cannot be written: one line on stderr, exit 1, nothing run.
        for opt in ("--trace", "--timeline"):
            bad = os.path.join(tmp, "no-such-dir", "x")
            out, err, rc = run([demo, "gather", "--time-scale", "0", opt, bad])
            check(rc == 1 and out == "" and err.count("\n") == 1 and bad in err, f"{opt} to an unwritable path", err)
            out, err, rc = run([demo, "gather", opt])
            check(rc == 2 and out == "" and err.startswith("asyncuv-demo: error:"), f"{opt} without FILE: usage", err)


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "--files":
        check_files(args[1], args[2])
    elif len(args) == 1:
        check_demo(args[0])
    else:
        sys.exit("usage: trace_check.py --files TRACE.json TIMELINE.svg | trace_check.py DEMO")
    summary("trace_check")


if __name__ == "__main__":
    main()
