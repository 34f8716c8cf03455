// Interleaving: a program whose tasks print around a gather, wait, wait_for
// or as_completed prints what its Python original prints. asyncio completes
// these through a callback and then the awaiting task's wake-up: two loop
// passes after the deciding child. (TaskGroup: test_interleaving_groups.cpp;
// timers: test_timer_passes.cpp.)
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

TEST_CASE("gather resumes its awaiter two passes after the last child, as asyncio") {
  // Python 3.11 prints ['0', '1', 'child', '2', '3', 'G', '4', '5'] for:
  //   t = create_task(ticker(6)); await sleep(0)
  //   await gather(child()); log.append('G'); await t
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 6));
    co_await sleep(0);
    co_await gather(child(log));
    log->push_back("G");
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "child", "2", "3", "G", "4", "5"});
}

TEST_CASE("gather of finished tasks still takes two passes, as asyncio") {
  // Python 3.11: c = create_task(child()); await sleep(0); t = create_task(ticker(5));
  //   await gather(c); log.append('G'); await t   ->  ['child', '0', '1', 'G', '2', '3', '4']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto c = create_task(child(log));
    co_await sleep(0);
    auto t = create_task(ticker(log, 5));
    co_await gather(c);
    log->push_back("G");
    co_await t;
  }(&log));
  CHECK(log == Log{"child", "0", "1", "G", "2", "3", "4"});
}

TEST_CASE("wait resumes its awaiter two passes after the deciding task, as asyncio") {
  // Python 3.11: t = create_task(ticker(6)); await sleep(0); c = create_task(child())
  //   await wait([c]); log.append('W'); await t   ->  ['0', '1', 'child', '2', '3', 'W', '4', '5']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 6));
    co_await sleep(0);
    std::vector<Task<int>> cs{create_task(child(log))};
    co_await wait(cs);
    log->push_back("W");
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "child", "2", "3", "W", "4", "5"});
}

TEST_CASE("wait on finished tasks still takes two passes, as asyncio") {
  // Python 3.11: ['child', '0', '1', 'W', '2', '3', '4']
  Log log;
  run([](Log* log) -> Coro<void> {
    std::vector<Task<int>> cs{create_task(child(log))};
    co_await sleep(0);
    auto t = create_task(ticker(log, 5));
    co_await wait(cs);
    log->push_back("W");
    co_await t;
  }(&log));
  CHECK(log == Log{"child", "0", "1", "W", "2", "3", "4"});
}

// ---------------- wait_for ----------------

namespace {

// A ticker that spins silently until *go: what it prints does not depend on
// when a timer fires, only on the passes after.
Coro<void> gated_ticker(Log* log, bool* go, int n) {
  while (!*go) co_await sleep(0);
  co_await ticker(log, n);
}

}  // namespace

TEST_CASE("wait_for resumes its awaiter two passes after the task, as asyncio") {
  // Python 3.11: t = create_task(ticker(8)); await sleep(0)
  //   await wait_for(child(), 1); log.append('W'); await t
  //   -> ['0', '1', 'child', '2', '3', 'W', '4', '5', '6', '7']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 8));
    co_await sleep(0);
    co_await wait_for(child(log), 1.0);
    log->push_back("W");
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "child", "2", "3", "W", "4", "5", "6", "7"});
}

TEST_CASE("wait_for raises a task's error two passes after it, as asyncio") {
  // Python 3.11: try: await wait_for(bad(), 1)  except ValueError: log.append('E')
  //   -> ['0', '1', 'bad', '2', '3', 'E', '4', '5', '6', '7']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 8));
    co_await sleep(0);
    try {
      co_await wait_for(bad(log), 1.0);
    } catch (const std::runtime_error&) {
      log->push_back("E");
    }
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "bad", "2", "3", "E", "4", "5", "6", "7"});
}

TEST_CASE("wait_for of a finished task still takes two passes, as asyncio") {
  // Python 3.11: c = create_task(child()); await sleep(0); t = create_task(ticker(8))
  //   await wait_for(c, 1); log.append('W'); await t
  //   -> ['child', '0', '1', 'W', '2', '3', '4', '5', '6', '7']
  // and with wait_for(c, 0) it does not yield at all:
  //   -> ['child', 'W', '0', '1', '2', '3', '4', '5', '6', '7']
  for (double timeout : {1.0, 0.0}) {
    Log log;
    run([](Log* log, double timeout) -> Coro<void> {
      auto c = create_task(child(log));
      co_await sleep(0);
      auto t = create_task(ticker(log, 8));
      co_await wait_for(c, timeout);
      log->push_back("W");
      co_await t;
    }(&log, timeout));
    if (timeout > 0) CHECK(log == Log{"child", "0", "1", "W", "2", "3", "4", "5", "6", "7"});
    else CHECK(log == Log{"child", "W", "0", "1", "2", "3", "4", "5", "6", "7"});
  }
}

TEST_CASE("wait_for(aw, 0) cancels and waits as asyncio does") {
  // Python 3.11: t = create_task(ticker(10)); await sleep(0)
  //   try: await wait_for(slow(), 0)  except TimeoutError: log.append('T')
  //   -> ['0', '1', '2', '3', 'T', '4', '5', '6', '7', '8', '9']  (slow never starts)
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 10));
    co_await sleep(0);
    try {
      co_await wait_for(slow(log), 0.0);
    } catch (const TimeoutError&) {
      log->push_back("T");
    }
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "2", "3", "T", "4", "5", "6", "7", "8", "9"});
}

TEST_CASE("wait_for's expiry cancels and waits for the task on asyncio's passes") {
  // Python 3.11, with gated_ticker (spins until `go`, which slow sets as it
  // is cancelled): t = create_task(gated_ticker(6)); await sleep(0)
  //   try: await wait_for(slow(), 0.001)  except TimeoutError: log.append('T')
  //   -> ['slow', 'slow cancelled', '0', '1', 'T', '2', '3', '4', '5']
  Log log;
  run([](Log* log) -> Coro<void> {
    bool go = false;
    auto t = create_task(gated_ticker(log, &go, 6));
    co_await sleep(0);
    try {
      co_await wait_for(slow(log, &go), 0.001);
    } catch (const TimeoutError&) {
      log->push_back("T");
    }
    co_await t;
  }(&log));
  CHECK(log == Log{"slow", "slow cancelled", "0", "1", "T", "2", "3", "4", "5"});
}

TEST_CASE("wait_for with no timeout awaits directly, as asyncio") {
  // Python 3.11: t = create_task(ticker(6)); await sleep(0)
  //   await wait_for(child(), None); log.append('W')
  //   c = create_task(child()); await wait_for(c, None); log.append('W'); await t
  //   -> ['0', 'child', 'W', '1', 'child', '2', 'W', '3', '4', '5']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 6));
    co_await sleep(0);
    co_await wait_for(child(log), std::nullopt);
    log->push_back("W");
    auto c = create_task(child(log));
    co_await wait_for(c, std::nullopt);
    log->push_back("W");
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "child", "W", "1", "child", "2", "W", "3", "4", "5"});
}

TEST_CASE("cancelling wait_for's awaiter cancels and waits for the task, as asyncio") {
  // Python 3.11: t = create_task(ticker(10))
  //   async def waiter():
  //       try: await wait_for(slow(), 10)
  //       except CancelledError: log.append('C'); raise
  //   w = create_task(waiter()); await sleep(0); await sleep(0)
  //   w.cancel(); log.append('cancel'); (await w: CancelledError); await t
  //   -> ['0', '1', 'slow', 'cancel', '2', '3', 'slow cancelled', '4', '5', 'C', '6', '7', '8', '9']
  Log log;
  run(cancel_waiter_two_passes_in(&log, [](Log* log) -> Coro<void> { co_await wait_for(slow(log), 10.0); }));
  CHECK(log == Log{"0", "1", "slow", "cancel", "2", "3", "slow cancelled", "4", "5", "C", "6", "7", "8", "9"});
}

// ---------------- as_completed ----------------

TEST_CASE("as_completed hands over a task two passes after it ends, as asyncio") {
  // Python 3.11: t = create_task(ticker(8)); await sleep(0)
  //   for f in as_completed([child(), child()]): log.append('r%s' % await f)
  //   log.append('A'); await t
  //   -> ['0', '1', 'child', 'child', '2', '3', 'r1', 'r1', 'A', '4', '5', '6', '7']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 8));
    co_await sleep(0);
    std::vector<Coro<int>> cs;
    cs.push_back(child(log));
    cs.push_back(child(log));
    for (auto f : as_completed(std::move(cs))) log->push_back("r" + std::to_string(co_await f));
    log->push_back("A");
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "child", "child", "2", "3", "r1", "r1", "A", "4", "5", "6", "7"});
}

TEST_CASE("as_completed raises a task's error two passes after it, as asyncio") {
  // Python 3.11: for f in as_completed([bad()]):
  //       try: await f  except ValueError: log.append('E')
  //   -> ['0', '1', 'bad', '2', '3', 'E', '4', '5', '6', '7']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 8));
    co_await sleep(0);
    std::vector<Coro<int>> cs;
    cs.push_back(bad(log));
    for (auto f : as_completed(std::move(cs))) {
      try {
        co_await f;
      } catch (const std::runtime_error&) {
        log->push_back("E");
      }
    }
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "bad", "2", "3", "E", "4", "5", "6", "7"});
}

TEST_CASE("as_completed of a finished task still takes two passes, as asyncio") {
  // Python 3.11: c = create_task(child()); await sleep(0); t = create_task(ticker(8))
  //   for f in as_completed([c]): log.append('r%s' % await f)
  //   log.append('A'); await t
  //   -> ['child', '0', '1', 'r1', 'A', '2', '3', '4', '5', '6', '7']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto c = create_task(child(log));
    co_await sleep(0);
    auto t = create_task(ticker(log, 8));
    std::vector<Task<int>> cs{c};
    for (auto f : as_completed(cs)) log->push_back("r" + std::to_string(co_await f));
    log->push_back("A");
    co_await t;
  }(&log));
  CHECK(log == Log{"child", "0", "1", "r1", "A", "2", "3", "4", "5", "6", "7"});
}

TEST_CASE("as_completed has the task in hand two passes after it ends, however late the await") {
  // Python 3.11: t = create_task(ticker(8)); await sleep(0)
  //   f = next(iter(as_completed([child()])))
  //   await sleep(0); await sleep(0); await sleep(0)
  //   log.append('get'); log.append('r%s' % await f); await t
  //   -> ['0', '1', 'child', '2', '3', 'get', 'r1', '4', '5', '6', '7']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 8));
    co_await sleep(0);
    std::vector<Coro<int>> cs;
    cs.push_back(child(log));
    auto ac = as_completed(std::move(cs));
    auto f = *ac.begin();
    co_await sleep(0);
    co_await sleep(0);
    co_await sleep(0);
    log->push_back("get");
    log->push_back("r" + std::to_string(co_await f));
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "child", "2", "3", "get", "r1", "4", "5", "6", "7"});
}

TEST_CASE("as_completed dropped while its done callbacks are queued") {
  // The callbacks outlive the AsCompleted; they must find it gone (ASan).
  Log log;
  run([](Log* log) -> Coro<void> {
    auto c = create_task(child(log));
    co_await sleep(0);
    std::vector<Coro<int>> cs;
    cs.push_back(child(log));
    {
      std::vector<Task<int>> done{c};
      auto a = as_completed(done);  // queues c's callback at once
      auto b = as_completed(std::move(cs));
      co_await sleep(0);  // b's child ends: its callback is queued
    }
    co_await sleep(0);
    co_await sleep(0);
    log->push_back("end");
  }(&log));
  CHECK(log == Log{"child", "child", "end"});
}

TEST_CASE("a done callback still queued when the loop closes is dropped and lets go of its task") {
  // run() stops the loop one pass after main ends: the pass in which the
  // child ends, with as_completed's callback for it queued behind the stop.
  // Its owner goes earlier in that pass. Closing the loop must free the
  // callback and its reference on the child, whose frame (holding `alive`)
  // must then be gone.
  Log log;
  bool callback_ran = false;
  auto alive = std::make_shared<int>(0);
  std::optional<AsCompleted<int>> completions;
  run([](Log* log, std::shared_ptr<int> alive, std::optional<AsCompleted<int>>* completions,
         bool* callback_ran) -> Coro<void> {
    Task<int> c = create_task([](Log* log, std::shared_ptr<int>) -> Coro<int> { co_return co_await child(log); }(
        log, std::move(alive)));
    completions->emplace(as_completed(std::vector<Task<int>>{c}));
    get_running_loop().call_soon([completions, callback_ran] {  // after c's step, in the same pass
      completions->reset();
      get_running_loop().call_soon([callback_ran] { *callback_ran = true; });  // behind the stop: dropped
    });
    co_return;
  }(&log, alive, &completions, &callback_ran));
  CHECK(log == Log{"child"});
  CHECK_FALSE(callback_ran);
  CHECK(alive.use_count() == 1);
}

