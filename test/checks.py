# checks.py — the counting the Python test scripts share (demo_diff.py,
# tcp_echo_diff.py, subprocesses_diff.py, trace_check.py): check() notes one
# result and prints a FAIL line with its details; summary() prints
# "[name] N passed, M failed", the line test/run.sh counts, and exits 1 on
# any failure.
import sys

_counts = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    if ok:
        _counts["passed"] += 1
    else:
        _counts["failed"] += 1
        print(f"FAIL {what}" + (f"\n     {detail}" if detail else ""))
    return ok


def summary(name):
    print(f"[{name}] {_counts['passed']} passed, {_counts['failed']} failed")
    sys.exit(1 if _counts["failed"] else 0)
