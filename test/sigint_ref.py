# The Python original of test_signals.cpp's Ctrl-C child: asyncio.run() and
# a SIGINT from the test. argv[1] is the mode:
#   reraise  main cleans up and re-raises CancelledError -> KeyboardInterrupt
#   swallow  main cleans up and returns 7 -> run() returns 7
#   second   main's cleanup waits; a second SIGINT ends the process
import asyncio
import sys

mode = sys.argv[1]


def say(text):
    print(text, flush=True)


async def main():
    say("ready")
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        say("cleanup")
        if mode == "swallow":
            return 7
        if mode == "second":
            await asyncio.sleep(30)
        raise
    return 0


if mode == "second":
    asyncio.run(main())  # the second Ctrl-C is not caught: death by SIGINT
else:
    try:
        say("returned %d" % asyncio.run(main()))
    except KeyboardInterrupt:
        say("KeyboardInterrupt")
