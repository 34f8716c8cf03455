"""Task names across asyncio.run() calls, for test_runners.cpp.

Each run prints one line: the names of the tasks it saw. asyncio.run()
creates two tasks of its own while closing (shutdown_asyncgens and
shutdown_default_executor), which shifts the next run's numbers.
"""
import asyncio


def name():
    return asyncio.current_task().get_name()


async def three():  # main plus two children
    t1 = asyncio.create_task(asyncio.sleep(0))
    t2 = asyncio.create_task(asyncio.sleep(0))
    await t1
    await t2
    return [name(), t1.get_name(), t2.get_name()]


async def alone():  # main only
    return [name()]


async def fails():  # main raises after a child
    t = asyncio.create_task(asyncio.sleep(0))
    await t
    raise ValueError(name() + " " + t.get_name())


async def leaves_pending():  # a child still pending when main returns
    t = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    return [name(), t.get_name()]


async def nests():  # a nested run() fails before creating any task
    c = alone()
    try:
        asyncio.run(c)
    except RuntimeError:
        pass
    c.close()
    return [name()]


def main():
    print(" ".join(asyncio.run(three())))
    print(" ".join(asyncio.run(three())))
    print(" ".join(asyncio.run(alone())))
    try:
        asyncio.run(fails())
    except ValueError as e:
        print(e)
    print(" ".join(asyncio.run(leaves_pending())))
    print(" ".join(asyncio.run(nests())))
    print(" ".join(asyncio.run(three())))


if __name__ == "__main__":
    main()
