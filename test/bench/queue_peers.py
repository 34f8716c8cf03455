#!/usr/bin/python3
"""The queue workload of asyncuv-bench, for CPython asyncio and uvloop.

Usage: queue_peers.py --loop asyncio|uvloop [queue] N

Prints one line, in the peers' format:
  peer=asyncio workload=queue n=N ns_per_op=X wall_ms=Y
Exits 1 if the result check fails, 2 on bad arguments, 3 if uvloop is missing.

  queue    a contended producer/consumer: one task puts 0..N-1 into an
           asyncio.Queue(maxsize=100) with `await q.put(i)`, another gets N
           items with `await q.get()` and sums them (it counts, no sentinel);
           both created with create_task and gathered; checks
           sum == N*(N-1)/2. ns_per_op = wall / N.

Written exactly as asyncuv-bench's bench_queue (test/bench/asyncuv_bench.cpp);
the clock is read inside the main coroutine, as in ../shared/peers.
"""
import argparse
import asyncio
import sys
import time

QUEUE_SIZE = 100


async def producer(q, n):
    for i in range(n):
        await q.put(i)


async def consumer(q, n):
    total = 0
    for _ in range(n):
        total += await q.get()
    return total


async def bench_queue(n):
    q = asyncio.Queue(maxsize=QUEUE_SIZE)
    t0 = time.perf_counter_ns()
    p = asyncio.create_task(producer(q, n))
    c = asyncio.create_task(consumer(q, n))
    _, total = await asyncio.gather(p, c)
    t1 = time.perf_counter_ns()
    return total == n * (n - 1) // 2 and q.empty(), t1 - t0


def run(coro, loop_name):
    if loop_name == "asyncio":
        return asyncio.run(coro)
    import uvloop  # Debian: python3-uvloop

    if sys.version_info >= (3, 12):
        return asyncio.run(coro, loop_factory=uvloop.new_event_loop)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(coro)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    ap.add_argument("args", nargs="+", metavar="[queue] N")
    a = ap.parse_args(argv)
    args = a.args
    if len(args) == 2 and args[0] == "queue":
        args = args[1:]
    if len(args) != 1 or not args[0].isdigit():
        ap.error("expected [queue] N with N a non-negative integer")
    n = int(args[0])
    if a.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("queue_peers.py: uvloop not found; install it with: apt-get install -y python3-uvloop",
                  file=sys.stderr)
            return 3
    ok, wall_ns = run(bench_queue(n), a.loop)
    if not ok:
        print(f"{a.loop}: queue check failed (n={n})", file=sys.stderr)
        return 1
    print(f"peer={a.loop} workload=queue n={n} ns_per_op={wall_ns / n if n else 0.0:.1f} "
          f"wall_ms={wall_ns / 1e6:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
