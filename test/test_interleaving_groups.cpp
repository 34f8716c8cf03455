// Interleaving around a TaskGroup: a program whose tasks print around a
// group's exit, a failing child, a cancelled parent or a dropped group prints
// what its Python original prints; asyncio finishes a group two loop passes
// after the deciding child.
#include <doctest/doctest.h>

#include "interleaving_support.hpp"
#include "test_support.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace asyncuv;
using namespace interleaving_support;

namespace {

// The program of the two "a failing child" cases below; with body_waits the
// group's body then awaits sleep(10), logging its cancellation.
Coro<void> group_with_failing_child(Log* log, bool body_waits) {
  auto t = create_task(ticker(log, 10));
  co_await sleep(0);
  try {
    co_await task_group([log, body_waits](TaskGroup& tg) -> Coro<void> {
      tg.create_task(slow(log));
      tg.create_task(bad(log));
      if (!body_waits) co_return;
      try {
        co_await sleep(10);
      } catch (const CancelledError&) {
        log->push_back("body cancelled");
        throw;
      }
    });
  } catch (const ExceptionGroup&) {
    log->push_back("EG");
  }
  co_await t;
}

}  // namespace

// ---------------- TaskGroup ----------------

TEST_CASE("TaskGroup's exit resumes two passes after the last child, as asyncio") {
  // Python 3.11: t = create_task(ticker(8)); await sleep(0)
  //   async with TaskGroup() as tg: tg.create_task(child())
  //   log.append('G'); await t
  //   -> ['0', '1', 'child', '2', '3', 'G', '4', '5', '6', '7']
  // and the same with `await sleep(0)` at the end of the body (the child ends
  // on the pass the body leaves; its done callback has not run yet):
  //   -> ['0', '1', 'child', '2', '3', 'G', '4', '5', '6', '7']
  // and with two `await sleep(0)` (the callback has run, exit does not wait):
  //   -> ['0', '1', 'child', '2', 'G', '3', '4', '5', '6', '7']
  for (int sleeps : {0, 1, 2}) {
    Log log;
    run([](Log* log, int sleeps) -> Coro<void> {
      auto t = create_task(ticker(log, 8));
      co_await sleep(0);
      co_await task_group([log, sleeps](TaskGroup& tg) -> Coro<void> {
        tg.create_task(child(log));
        for (int i = 0; i < sleeps; ++i) co_await sleep(0);
      });
      log->push_back("G");
      co_await t;
    }(&log, sleeps));
    CAPTURE(sleeps);
    if (sleeps < 2) CHECK(log == Log{"0", "1", "child", "2", "3", "G", "4", "5", "6", "7"});
    else CHECK(log == Log{"0", "1", "child", "2", "G", "3", "4", "5", "6", "7"});
  }
}

TEST_CASE("TaskGroup: a failing child cancels the others on asyncio's passes") {
  // Python 3.11: t = create_task(ticker(10)); await sleep(0)
  //   try:
  //       async with TaskGroup() as tg:
  //           tg.create_task(slow()); tg.create_task(bad())
  //   except* ValueError: log.append('EG')
  //   await t
  //   -> ['0', '1', 'slow', 'bad', '2', '3', 'slow cancelled', '4', '5', 'EG', '6', '7', '8', '9']
  Log log;
  run(group_with_failing_child(&log, false));
  CHECK(log == Log{"0", "1", "slow", "bad", "2", "3", "slow cancelled", "4", "5", "EG", "6", "7", "8", "9"});
}

TEST_CASE("TaskGroup: a failing child cancels the body on asyncio's passes") {
  // Python 3.11: as above, the body then awaiting
  //       try: await sleep(10)
  //       except CancelledError: log.append('body cancelled'); raise
  //   -> ['0', '1', 'slow', 'bad', '2', '3', 'slow cancelled', 'body cancelled', '4', '5', 'EG', '6', '7', '8', '9']
  Log log;
  run(group_with_failing_child(&log, true));
  CHECK(log == Log{"0", "1", "slow", "bad", "2", "3", "slow cancelled", "body cancelled", "4", "5", "EG", "6", "7", "8",
                   "9"});
}

TEST_CASE("TaskGroup: cancelling the parent waits for the children on asyncio's passes") {
  // Python 3.11: t = create_task(ticker(10))
  //   async def parent():
  //       try:
  //           async with TaskGroup() as tg: tg.create_task(slow())
  //       except CancelledError: log.append('C'); raise
  //   p = create_task(parent()); await sleep(0); await sleep(0)
  //   p.cancel(); log.append('cancel'); (await p: CancelledError); await t
  //   -> ['0', '1', 'slow', 'cancel', '2', '3', 'slow cancelled', '4', '5', 'C', '6', '7', '8', '9']
  Log log;
  run(cancel_waiter_two_passes_in(&log, [](Log* log) -> Coro<void> {
    co_await task_group([log](TaskGroup& tg) -> Coro<void> {
      tg.create_task(slow(log));
      co_return;
    });
  }));
  CHECK(log == Log{"0", "1", "slow", "cancel", "2", "3", "slow cancelled", "4", "5", "C", "6", "7", "8", "9"});
}

TEST_CASE("TaskGroup dropped while a child's done callback is queued") {
  // enter() and exit() by hand, and no exit: the callback must find the group gone (ASan).
  Log log;
  run([](Log* log) -> Coro<void> {
    {
      TaskGroup tg;
      tg.enter();
      tg.create_task(child(log));
      co_await sleep(0);  // the child ends: its done callback is queued
    }
    co_await sleep(0);
    co_await sleep(0);
    log->push_back("end");
  }(&log));
  CHECK(log == Log{"child", "end"});
}

