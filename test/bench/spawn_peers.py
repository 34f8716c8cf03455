# spawn_peers.py — asyncio and uvloop: create_subprocess_exec("true") +
# wait(), N times in sequence (spawn_rate.sh's workload); one key=value line.
#   python3 spawn_peers.py N asyncio|uvloop
import asyncio
import resource
import sys
import time


async def spawn_and_wait(n):
    failures = 0
    for _ in range(n):
        p = await asyncio.create_subprocess_exec("true")
        failures += await p.wait() != 0
    return failures


def main():
    n, peer = int(sys.argv[1]), sys.argv[2]
    if peer == "uvloop":
        import uvloop
        uvloop.install()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    failures = asyncio.run(spawn_and_wait(n))
    wall_ms = (time.monotonic() - t0) * 1000
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_us = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1e6 / n
    if failures:
        sys.exit(f"{failures} children failed")
    print(f"peer={peer} workload=spawn_process n={n} us_per_op={wall_ms * 1000 / n:.1f} "
          f"wall_ms={wall_ms:.1f} per_s={n / (wall_ms / 1000):.0f} cpu_us={cpu_us:.1f}")


main()
