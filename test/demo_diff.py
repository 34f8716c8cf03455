#!/usr/bin/env python3
# demo_diff.py — asyncuv-demo against CPython: for every seed program (and
# `all`), run test/fixtures/<program>.py and the demo with the same --time-scale
# and --seed, compare stdout byte for byte and the demo's wall time against the
# scaled sum of the program's sleeps; then check the CLI's error handling.
# Usage: python3 demo_diff.py <path-to-asyncuv-demo>
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from checks import check, summary

DEMO = sys.argv[1] if len(sys.argv) == 2 else sys.exit("usage: demo_diff.py <path-to-asyncuv-demo>")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROGRAMS = ["say_hello", "main", "gather", "create_task", "random_sleep"]
FIXED_UNITS = {"say_hello": 1, "main": 1, "gather": 2, "create_task": 2}  # seconds slept at scale 1
SEEDS = [0, 1, 42, 2**32 + 5, 2**64 - 1, -7, -(2**64 - 1)]


def run(cmd, timeout=120):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    return p.stdout, p.stderr, p.returncode, time.monotonic() - t0


def units(program, seed):
    """Seconds the program sleeps at scale 1 (random_sleep: CPython's randint for seed)."""
    if program == "all":
        return sum(units(p, seed) for p in PROGRAMS)
    if program != "random_sleep":
        return FIXED_UNITS[program]
    random.seed(seed)
    return random.randint(1, 5)


def python_output(program, args):
    out = b""
    for p in PROGRAMS if program == "all" else [program]:
        o, e, rc, _ = run([sys.executable, str(FIXTURES / f"{p}.py"), *args])
        check(rc == 0, f"fixture {p} {args} exits 0", e.decode(errors="replace"))
        out += o
    return out


def compare(program, scale, seed, slack=0.5):
    """Same stdout as CPython; demo time in [expected*0.95, expected + slack]."""
    args = ["--time-scale", str(scale), "--seed", str(seed)]
    expected_out = python_output(program, args)
    out, err, rc, elapsed = run([DEMO, program, *args])
    name = f"{program} --time-scale {scale} --seed {seed}"
    check(rc == 0 and err == b"", f"{name}: exit 0, empty stderr", f"rc={rc} stderr={err!r}")
    check(out == expected_out, f"{name}: stdout identical to CPython",
          f"python={expected_out!r}\n     demo  ={out!r}")
    expected = units(program, seed) * scale
    check(expected * 0.95 <= elapsed <= expected + slack,
          f"{name}: elapsed {elapsed:.3f} s, expected {expected:.3f} s (+{slack} s)")


def pty_output(args):
    """The demo's stdout through a terminal (output post-processing off), or None."""
    try:
        import pty
        import termios
        master, slave = pty.openpty()
    except (ImportError, OSError):
        return None
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n"
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    p = subprocess.Popen([DEMO, *args], stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the demo closed the terminal
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    p.wait(timeout=60)
    return data


# 1. stdout identical to CPython, timing sane (scale 0.05: fast, loose timing).
for program in PROGRAMS[:4]:
    compare(program, 0.05, 0)
for seed in SEEDS:
    compare("random_sleep", 0.05, seed)
for seed in (42, -7, 2**64 - 1):
    compare("all", 0.05, seed)

# 2. Concurrency shows in the time: at scale 0.5 gather/create_task take 1.0 s
#    (2 units), never 1.5 s (3 units, i.e. run one after the other).
for program in ("gather", "create_task"):
    compare(program, 0.5, 0, slack=0.25)

# 3. Time scale 0 still prints the same; --timing reports on stderr only.
compare("all", 0, 1, slack=0.5)
out, err, rc, _ = run([DEMO, "all", "--time-scale", "0", "--seed", "3", "--timing"])
check(rc == 0 and out == python_output("all", ["--time-scale", "0", "--seed", "3"]), "--timing leaves stdout alone")
check(re.search(rb"took \d+\.\d+ s", err) is not None, "--timing reports elapsed time on stderr", repr(err))

# 4. A terminal gets the same bytes as a pipe.
tty = pty_output(["all", "--time-scale", "0", "--seed", "5"])
if tty is not None:
    piped = run([DEMO, "all", "--time-scale", "0", "--seed", "5"])[0]
    check(tty == piped, "stdout identical on a tty and a pipe", f"tty={tty!r}\n     pipe={piped!r}")

# 5. --help, --list, --version: exit 0, stdout only.
for args, pattern in ((["--help"], rb"(?s)Usage.*--time-scale.*--seed.*random_sleep.*all"),
                      (["-h"], rb"(?s)Usage.*say_hello"),
                      (["--list"], rb"(?s)say_hello.*main.*gather.*create_task.*random_sleep.*all"),
                      (["--version"], rb"^asyncuv-demo \d+\.\d+\.\d+\S*\n$")):
    out, err, rc, _ = run([DEMO, *args])
    check(rc == 0 and err == b"" and re.search(pattern, out) is not None,
          f"{' '.join(args)}: exit 0 and the expected stdout", f"rc={rc} out={out[:200]!r} err={err!r}")

# 6. Bad input: exit 2, nothing on stdout, one error line then the usage on stderr.
BAD = [
    [], ["nope"], ["all", "extra"], ["gather", "main"], ["--bogus", "all"], ["-x", "all"],
    ["all", "--time-scale"], ["all", "--seed"],
    *(["all", "--time-scale", v] for v in ("abc", "-1", "-0.5", "nan", "NaN", "inf", "-inf", "1e999", "", "1,5", "0x10")),
    *(["all", "--seed", v] for v in ("abc", "1.5", "", "-", "+", "1e3", "18446744073709551616",
                                     "-18446744073709551616", "99999999999999999999999")),
    ["--list=yes"],
]
for args in BAD:
    out, err, rc, _ = run([DEMO, *args], timeout=10)
    lines = err.decode(errors="replace").splitlines()
    check(rc == 2 and out == b"" and len(lines) >= 2 and lines[0].startswith("asyncuv-demo: error: ")
          and sum("error" in ln for ln in lines) == 1 and any(ln.startswith("usage:") for ln in lines),
          f"bad input {args!r}: exit 2, one error line + usage", f"rc={rc} out={out!r} err={err!r}")

summary("demo_diff")
