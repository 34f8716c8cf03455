#!/usr/bin/env python3
# subprocesses_diff.py — asyncuv-demo's `subprocesses` against the asyncio
# original (test/fixtures/subprocesses.py) under CPython: the same stdout
# byte for byte (three shell commands, printed in completion order a, b, c),
# and the demo's wall time close to the longest command's, not the sum.
# Usage: python3 subprocesses_diff.py <path-to-asyncuv-demo>
import subprocess
import sys
import time
from pathlib import Path

from checks import check, summary

DEMO = sys.argv[1] if len(sys.argv) == 2 else sys.exit("usage: subprocesses_diff.py <path-to-asyncuv-demo>")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PYTHON = "/usr/bin/python3"  # the oracle: CPython 3.11


def run(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    return p.stdout, p.stderr, p.returncode, time.monotonic() - t0


for scale in (1, 2):
    args = ["--time-scale", str(scale)]
    py_out, py_err, py_rc, _ = run([PYTHON, str(FIXTURES / "subprocesses.py"), *args])
    out, err, rc, elapsed = run([DEMO, "subprocesses", *args])
    check(py_rc == 0 and py_err == b"", f"fixture at scale {scale} exits 0", py_err.decode(errors="replace"))
    check(rc == 0 and err == b"", f"demo at scale {scale}: exit 0, empty stderr", f"rc={rc} stderr={err!r}")
    check(out == py_out, f"scale {scale}: stdout identical to CPython", f"python={py_out!r}\n     demo  ={out!r}")
    lines = [line for line in out.decode().splitlines() if line in ("a", "b", "c")]
    check(lines == ["a", "b", "c"], f"scale {scale}: completion order", repr(lines))
    check(0.3 * scale * 0.95 <= elapsed <= 0.3 * scale + 1.0,
          f"scale {scale}: elapsed {elapsed:.3f} s, the longest command's {0.3 * scale:.1f} s (concurrent)")

out, _, _, _ = run([DEMO, "--list"])
check(b"subprocesses" in out, "--list names subprocesses")

summary("subprocesses_diff")
