// Timer-driven wake-ups against a sleep(0) ticker: timers act after what was
// already ready, and what they wake runs a pass later. The differential cases
// compare with test/timer_passes_ref.py under CPython.
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

// ---------------- timer-driven wake-ups (differential) ----------------
// The C++ twins of test/timer_passes_ref.py's scenarios, compared with what
// /usr/bin/python3 prints. The loop is blocked while several timers come due,
// so that they are overdue together: asyncio runs them after what was already
// ready, and what they wake (a sleeper, a cancelled task, a released waiter)
// on the next pass.

namespace {

void block_loop() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }  // BLOCK

std::string joined(const Log& log) {
  std::string line;
  for (const auto& s : log) line += (line.empty() ? "" : " ") + s;
  return line;
}

// What the reference script prints, one line per scenario (empty: no Python).
const std::vector<std::string>& cpython_timer_lines() {
  static const std::vector<std::string> lines =
      support::have_python() ? support::python_lines(ASYNCUV_TEST_DIR "timer_passes_ref.py") : std::vector<std::string>{};
  return lines;
}

void check_against_cpython(std::size_t scenario, const Log& got) {
  const auto& expected = cpython_timer_lines();
  if (!support::have_python()) {
    MESSAGE("SKIPPED: no /usr/bin/python3");
    return;
  }
  REQUIRE(expected.size() == 5);
  CHECK(joined(got) == expected[scenario]);
}

Coro<void> sleeper(Log* log, std::string name, double delay) {
  log->push_back(name + "-sleeps");
  co_await sleep(delay);
  log->push_back(name + "-wakes");
}

Coro<Log> sleepers_and_a_callback() {
  Log log;
  EventLoop& loop = get_running_loop();
  auto a = create_task(sleeper(&log, "s1", 0.01));
  auto b = create_task(sleeper(&log, "s3", 0.03));
  loop.call_later(0.02, [&log, &loop] {
    log.push_back("cb");
    loop.call_soon([&log] { log.push_back("cb-soon"); });
  });
  auto t = create_task(ticker(&log, 6));
  co_await sleep(0);
  block_loop();
  log.push_back("unblocked");
  co_await a;
  co_await b;
  co_await t;
  co_return log;
}

Coro<void> spin_forever(Log* log) {
  for (int i = 0;; ++i) {
    log->push_back("g" + std::to_string(i));
    co_await sleep(0);
  }
}

Coro<void> guarded(Log* log) {
  try {
    co_await timeout(0.01, spin_forever(log));
  } catch (const TimeoutError&) {
    log->push_back("T");
  }
}

Coro<Log> timeout_around_a_spinner() {
  Log log;
  auto g = create_task(guarded(&log));
  auto t = create_task(ticker(&log, 6));
  co_await sleep(0);
  block_loop();
  log.push_back("unblocked");
  co_await g;
  co_await t;
  co_return log;
}

Coro<void> with_timeout(Log* log) {
  try {
    co_await timeout(0.01, support::nap(10.0));
  } catch (const TimeoutError&) {
    log->push_back("timeout");
  }
}

Coro<void> with_wait_for(Log* log) {
  try {
    co_await wait_for(support::nap(10.0), 0.02);
  } catch (const TimeoutError&) {
    log->push_back("wait_for");
  }
}

Coro<void> with_wait(Log* log) {
  auto s = create_task(support::nap(10.0));
  std::vector<Task<void>> tasks{s};
  auto r = co_await wait(std::move(tasks), 0.03);
  log->push_back("wait-" + std::to_string(r.done.size()) + "-" + std::to_string(r.pending.size()));
  s.cancel();
}

Coro<void> with_as_completed(Log* log) {
  auto s = create_task(support::nap(10.0));
  std::vector<Task<void>> tasks{s};
  for (auto f : as_completed(tasks, 0.04)) {
    try {
      co_await f;
    } catch (const TimeoutError&) {
      log->push_back("as_completed");
    }
  }
  s.cancel();
}

Coro<void> slept_after(Log* log) {
  co_await sleep(0.05);
  log->push_back("slept");
}

Coro<Log> every_kind_overdue_together() {
  Log log;
  std::vector<Task<void>> tasks;
  for (auto make : {with_timeout, with_wait_for, with_wait, with_as_completed, slept_after}) {
    tasks.push_back(create_task(make(&log)));
  }
  auto t = create_task(ticker(&log, 10));
  co_await sleep(0);
  co_await sleep(0);
  block_loop();
  log.push_back("unblocked");
  for (auto& task : tasks) co_await task;
  co_await t;
  co_return log;
}

Coro<void> not_reached(Log* log) {
  co_await sleep(0);
  log->push_back("not-reached");
}

Coro<Log> zero_timeouts() {
  Log log;
  auto t = create_task(ticker(&log, 12));
  co_await sleep(0);
  auto s = create_task(support::nap(10.0));
  {
    std::vector<Task<void>> tasks{s};
    auto r = co_await wait(std::move(tasks), 0.0);
    log.push_back("W" + std::to_string(r.pending.size()));
  }
  {
    std::vector<Task<void>> tasks{s};
    for (auto f : as_completed(tasks, 0.0)) {
      try {
        co_await f;
      } catch (const TimeoutError&) {
        log.push_back("A");
      }
    }
  }
  try {
    co_await timeout(0.0, not_reached(&log));
  } catch (const TimeoutError&) {
    log.push_back("T");
  }
  try {
    co_await timeout(std::nullopt, [log = &log](Timeout& cm) -> Coro<void> {
      cm.reschedule(get_running_loop().time() - 1);
      log->push_back("rescheduled");
      co_await sleep(10);
    });
  } catch (const TimeoutError&) {
    log.push_back("R");
  }
  s.cancel();
  co_await t;
  co_return log;
}

Coro<Log> callbacks_at_zero_and_past() {
  Log log;
  EventLoop& loop = get_running_loop();
  auto t = create_task(ticker(&log, 4));
  co_await sleep(0);
  loop.call_later(0.0, [&log] { log.push_back("later0"); });
  loop.call_soon([&log] { log.push_back("soon"); });
  loop.call_later(-1.0, [&log] { log.push_back("later-1"); });
  loop.call_at(loop.time() - 2, [&log] { log.push_back("at-2"); });
  co_await t;
  co_return log;
}

}  // namespace

TEST_CASE("overdue sleeps and a call_later run as asyncio's, their sleepers a pass later (differential)") {
  // CPython 3.11: s1-sleeps s3-sleeps 0 unblocked 1 cb 2 s1-wakes cb-soon s3-wakes 3 4 5
  check_against_cpython(0, run(sleepers_and_a_callback()));
}

TEST_CASE("a timeout cancels a sleep(0) spinner on asyncio's pass (differential)") {
  // CPython 3.11: g0 0 unblocked g1 1 T 2 3 4 5
  check_against_cpython(1, run(timeout_around_a_spinner()));
}

TEST_CASE("timeout, wait_for, wait, as_completed and sleep overdue together, as asyncio (differential)") {
  // CPython 3.11: 0 1 unblocked 2 3 timeout wait-0-1 as_completed slept 4 5 6 wait_for 7 8 9
  check_against_cpython(2, run(every_kind_overdue_together()));
}

TEST_CASE("zero and past timeouts expire on asyncio's passes (differential)") {
  // CPython 3.11: 0 1 2 W1 3 4 A 5 T rescheduled 6 7 R 8 9 10 11
  check_against_cpython(3, run(zero_timeouts()));
}

TEST_CASE("call_later(0), call_later(-1) and call_at(past) run after call_soon, in deadline order (differential)") {
  // CPython 3.11: 0 1 soon at-2 later-1 later0 2 3
  check_against_cpython(4, run(callbacks_at_zero_and_past()));
}

TEST_CASE("a sleeper cancelled after its timer came due, before the timer's turn, ends cancelled") {
  // The timer comes due while the loop is blocked; main runs before the due
  // timers' turn in the next pass and cancels the sleeper, already woken by
  // then. Python 3.11 gives the same: ['cancelled', 'C'].
  Log log;
  run([](Log* log) -> Coro<void> {
    auto s = create_task([](Log* log) -> Coro<void> {
      try {
        co_await sleep(0.01);
        log->push_back("woke");
      } catch (const CancelledError&) {
        log->push_back("cancelled");
        throw;
      }
    }(log));
    co_await sleep(0);  // s starts sleeping
    block_loop();
    co_await sleep(0);  // queued before the due timers' turn
    CHECK(s.cancel());
    try {
      co_await s;
    } catch (const CancelledError&) {
      log->push_back("C");
    }
  }(&log));
  CHECK(log == Log{"cancelled", "C"});
}
