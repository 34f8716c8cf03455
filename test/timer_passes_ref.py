"""Timer-driven wake-ups against a sleep(0) ticker, for test_timer_passes.cpp.

Each scenario prints one line: its log, in order. The loop is blocked (the
whole thread sleeps) while several timers come due, so that they are overdue
together and the order in which asyncio runs them, and what they wake, is
deterministic: due timers run after what was already ready, and what they
wake runs on the next pass.
"""
import asyncio
import time

BLOCK = 0.1  # longer than every delay below


async def ticker(log, n):
    for i in range(n):
        log.append(str(i))
        await asyncio.sleep(0)


async def sleepers_and_a_callback():
    loop = asyncio.get_running_loop()
    log = []

    async def sleeper(name, delay):
        log.append(name + "-sleeps")
        await asyncio.sleep(delay)
        log.append(name + "-wakes")

    def callback():
        log.append("cb")
        loop.call_soon(log.append, "cb-soon")

    a = asyncio.create_task(sleeper("s1", 0.01))
    b = asyncio.create_task(sleeper("s3", 0.03))
    loop.call_later(0.02, callback)
    t = asyncio.create_task(ticker(log, 6))
    await asyncio.sleep(0)
    time.sleep(BLOCK)
    log.append("unblocked")
    await a
    await b
    await t
    return log


async def timeout_around_a_spinner():
    log = []

    async def guarded():
        try:
            async with asyncio.timeout(0.01):
                i = 0
                while True:
                    log.append("g%d" % i)
                    i += 1
                    await asyncio.sleep(0)
        except TimeoutError:
            log.append("T")

    g = asyncio.create_task(guarded())
    t = asyncio.create_task(ticker(log, 6))
    await asyncio.sleep(0)
    time.sleep(BLOCK)
    log.append("unblocked")
    await g
    await t
    return log


async def every_kind_overdue_together():
    log = []

    async def with_timeout():
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            log.append("timeout")

    async def with_wait_for():
        try:
            await asyncio.wait_for(asyncio.sleep(10), 0.02)
        except TimeoutError:
            log.append("wait_for")

    async def with_wait():
        s = asyncio.create_task(asyncio.sleep(10))
        done, pending = await asyncio.wait([s], timeout=0.03)
        log.append("wait-%d-%d" % (len(done), len(pending)))
        s.cancel()

    async def with_as_completed():
        s = asyncio.create_task(asyncio.sleep(10))
        for f in asyncio.as_completed([s], timeout=0.04):
            try:
                await f
            except TimeoutError:
                log.append("as_completed")
        s.cancel()

    async def sleeper():
        await asyncio.sleep(0.05)
        log.append("slept")

    tasks = [asyncio.create_task(c()) for c in (with_timeout, with_wait_for, with_wait, with_as_completed, sleeper)]
    t = asyncio.create_task(ticker(log, 10))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    time.sleep(BLOCK)
    log.append("unblocked")
    for task in tasks:
        await task
    await t
    return log


async def zero_timeouts():
    loop = asyncio.get_running_loop()
    log = []
    t = asyncio.create_task(ticker(log, 12))
    await asyncio.sleep(0)
    s = asyncio.create_task(asyncio.sleep(10))
    done, pending = await asyncio.wait([s], timeout=0)
    log.append("W%d" % len(pending))
    for f in asyncio.as_completed([s], timeout=0):
        try:
            await f
        except TimeoutError:
            log.append("A")
    try:
        async with asyncio.timeout(0):
            await asyncio.sleep(0)
            log.append("not-reached")
    except TimeoutError:
        log.append("T")
    try:
        async with asyncio.timeout(None) as cm:
            cm.reschedule(loop.time() - 1)
            log.append("rescheduled")
            await asyncio.sleep(10)
    except TimeoutError:
        log.append("R")
    s.cancel()
    await t
    return log


async def callbacks_at_zero_and_past():
    loop = asyncio.get_running_loop()
    log = []
    t = asyncio.create_task(ticker(log, 4))
    await asyncio.sleep(0)
    loop.call_later(0, log.append, "later0")
    loop.call_soon(log.append, "soon")
    loop.call_later(-1, log.append, "later-1")
    loop.call_at(loop.time() - 2, log.append, "at-2")
    await t
    return log


def main():
    for scenario in (
        sleepers_and_a_callback,
        timeout_around_a_spinner,
        every_kind_overdue_together,
        zero_timeouts,
        callbacks_at_zero_and_past,
    ):
        print(" ".join(asyncio.run(scenario())))


if __name__ == "__main__":
    main()
