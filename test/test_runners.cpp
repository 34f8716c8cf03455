// run(): return value and exception, nesting, and asyncio.run()'s shutdown
// sequence (one more iteration, cancel and await the rest, close the loop).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>


using namespace asyncuv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct MainFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST_CASE("run returns main's value") {
  CHECK(run([]() -> Coro<int> {
          co_await sleep(1ms);
          co_return 7;
        }()) == 7);
  CHECK(run([]() -> Coro<std::string> { co_return "no suspension"; }()) == "no suspension");
  bool ran = false;
  run([](bool* ran) -> Coro<void> {
    *ran = true;
    co_return;
  }(&ran));
  CHECK(ran);
}

TEST_CASE("run rethrows main's exception, with its type") {
  CHECK_THROWS_WITH_AS(run([]() -> Coro<int> {
                         co_await sleep(0);
                         throw MainFailed("main failed");
                       }()),
                       "main failed", MainFailed);
  CHECK_THROWS_AS(run([]() -> Coro<void> { throw MainFailed("at once"); }()), MainFailed);
  CHECK(EventLoop::current() == nullptr);
}

TEST_CASE("run of a main that ends cancelled raises CancelledError") {
  bool cancelled = false;
  try {
    run([]() -> Coro<void> {
      co_await sleep(0);
      throw CancelledError();
    }());
  } catch (const CancelledError&) {
    cancelled = true;
  }
  CHECK(cancelled);
}

TEST_CASE("run twice in a row; no loop is left behind") {
  for (int i = 0; i < 3; ++i) {
    CHECK(EventLoop::current() == nullptr);
    CHECK(run([](int i) -> Coro<int> {
            CHECK(EventLoop::current() != nullptr);
            co_await sleep(1ms);
            co_return i;
          }(i)) == i);
    CHECK(EventLoop::current() == nullptr);
    CHECK_THROWS_AS(get_running_loop(), RuntimeError);
  }
}

TEST_CASE("run inside a running loop is a RuntimeError") {
  bool inner_ran = false;
  auto msg = run([](bool* inner_ran) -> Coro<std::string> {
    std::string msg = "no error";
    try {
      run([](bool* inner_ran) -> Coro<void> {
        *inner_ran = true;
        co_return;
      }(inner_ran));
    } catch (const RuntimeError& e) {
      msg = e.what();
    }
    co_await sleep(0);  // the outer loop still works
    co_return msg;
  }(&inner_ran));
  CHECK(msg == "asyncuv.run() cannot be called from a running event loop");
  CHECK_FALSE(inner_ran);
}

TEST_CASE("the loop stops one iteration after main finishes, then cancels what is left") {
  // Python 3.11 logs: main returns, step1, v first step, t cancelled, u caught, u final sleep done
  Log log;
  auto r = run([](Log* log) -> Coro<int> {
    create_task([](Log* log) -> Coro<void> {  // u: catches the cancel, sleeps once more, returns
      try {
        co_await sleep(10s);
        co_return;
      } catch (const CancelledError&) {
        log->push_back("u caught");
      }
      co_await sleep(10ms);
      log->push_back("u final sleep done");
    }(log));
    co_await sleep(0);
    create_task([](Log* log) -> Coro<void> {  // t: gets one step, then the cancel
      log->push_back("step1");
      try {
        co_await sleep(0);
        log->push_back("step2");
      } catch (const CancelledError&) {
        log->push_back("t cancelled");
        throw;
      }
    }(log));
    create_task([](Log* log) -> Coro<void> {  // v: one step is all it needs
      log->push_back("v first step");
      co_return;
    }(log));
    log->push_back("main returns");
    co_return 7;
  }(&log));
  CHECK(r == 7);
  CHECK(log == Log{"main returns", "step1", "v first step", "t cancelled", "u caught", "u final sleep done"});
}

TEST_CASE("shutdown cancels pending tasks even when main fails, and their cleanup runs") {
  Log log;
  auto t0 = Clock::now();
  CHECK_THROWS_AS(run([](Log* log) -> Coro<void> {
                    for (int i = 0; i < 3; ++i) {
                      create_task([](Log* log, int i) -> Coro<void> {
                        try {
                          co_await sleep(3600s);
                        } catch (const CancelledError&) {
                          log->push_back("cleanup " + std::to_string(i));
                          throw;
                        }
                      }(log, i));
                    }
                    co_await sleep(1ms);
                    throw MainFailed("boom");
                  }(&log)),
                  MainFailed);
  CHECK(Clock::now() - t0 < 60s);
  REQUIRE(log.size() == 3);
  std::sort(log.begin(), log.end());
  CHECK(log == Log{"cleanup 0", "cleanup 1", "cleanup 2"});
}

TEST_CASE("shutdown waits for tasks awaiting tasks and gathers") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto leaf = create_task([](Log* log) -> Coro<int> {
      try {
        co_await sleep(3600s);
      } catch (const CancelledError&) {
        log->push_back("leaf");
        throw;
      }
      co_return 0;
    }(log));
    create_task([](Log* log, Task<int> leaf) -> Coro<void> {
      try {
        co_await gather(leaf, [](Log* log) -> Coro<void> {
          try {
            co_await sleep(3600s);
          } catch (const CancelledError&) {
            log->push_back("child");
            throw;
          }
        }(log));
      } catch (const CancelledError&) {
        log->push_back("gatherer");
        throw;
      }
    }(log, leaf));
    co_await sleep(1ms);
  }(&log));
  REQUIRE(log.size() == 3);
  CHECK(log.back() == "gatherer");
}

TEST_CASE("a task that catches the shutdown cancel may await several times more") {
  // asyncio cancels once and waits for the task, however long it takes.
  int steps = 0;
  auto t0 = Clock::now();
  run([](int* steps) -> Coro<void> {
    create_task([](int* steps) -> Coro<void> {
      try {
        co_await sleep(3600s);
      } catch (const CancelledError&) {
      }
      for (int i = 0; i < 3; ++i) {
        co_await sleep(2ms);
        ++*steps;
      }
    }(steps));
    co_await sleep(0);
  }(&steps));
  CHECK(steps == 3);
  CHECK(Clock::now() - t0 >= 6ms);
}

TEST_CASE("an await cycle (A awaits B awaits A) is broken by cancellation, not a stack overflow") {
  // Cancelling A hands the cancel to B, which hands it back to A: asyncio
  // hits RecursionError; here the second visit cancels A directly.
  Log log;
  auto a = std::make_shared<Task<void>>();
  auto b = std::make_shared<Task<void>>();
  auto body = [](Log* log, std::string name, std::shared_ptr<Task<void>> other) -> Coro<void> {
    co_await sleep(0);
    try {
      co_await *other;
    } catch (const CancelledError&) {
      log->push_back(name + " cancelled");
      throw;
    }
  };
  run([](Log* log, auto body, std::shared_ptr<Task<void>> a, std::shared_ptr<Task<void>> b) -> Coro<void> {
    *a = create_task(body(log, "a", b));
    *b = create_task(body(log, "b", a));
    co_await sleep(0.005);
    CHECK(a->cancel());
    co_await gather(return_exceptions, *a, *b);
  }(&log, body, a, b));
  CHECK(a->cancelled());
  CHECK(b->cancelled());
  std::sort(log.begin(), log.end());
  CHECK(log == Log{"a cancelled", "b cancelled"});
  *a = Task<void>();  // break the reference cycle
  *b = Task<void>();
}

TEST_CASE("run's main task is a Task-N like any other") {
  auto names = run([]() -> Coro<std::vector<std::string>> {
    auto a = create_task([]() -> Coro<void> { co_return; }());
    auto b = create_task([]() -> Coro<void> { co_return; }());
    co_await gather(a, b);
    co_return std::vector<std::string>{a.get_name(), b.get_name()};
  }());
  const int a = std::stoi(names[0].substr(5));
  CHECK(names[1] == "Task-" + std::to_string(a + 1));
  // run()'s shutdown used two numbers (asyncio's shutdown_asyncgens and
  // shutdown_default_executor tasks); the next main takes the one after.
  auto next = run([]() -> Coro<std::string> {
    auto t = create_task([]() -> Coro<void> { co_return; }());
    co_await t;
    co_return t.get_name();
  }());
  CHECK(next == "Task-" + std::to_string(a + 5));
}

}  // namespace

namespace {
// Waits forever, swallowing every cancellation: shutdown must give up on it.
Coro<void> stubborn(Event* never) {
  for (;;) {
    try {
      co_await never->wait();
    } catch (const CancelledError&) {
    }
  }
}
Coro<void> chain_to_stubborn(Event* never, int n) {
  if (n == 0) co_await stubborn(never);
  else co_await chain_to_stubborn(never, n - 1);
}
}  // namespace

namespace {
struct DropSeen {
  int swallowed = 0;      // cancels the task caught and ignored
  bool frame_gone = false;  // its locals' destructors ran
  std::vector<ExceptionContext> reports;
};
struct SetOnDestroy {
  bool* flag;
  ~SetOnDestroy() { *flag = true; }
};
// Swallows `limit` cancellations while waiting on an Event nobody sets.
Coro<void> swallow_cancels(Event* never, DropSeen* seen, int limit) {
  SetOnDestroy mark{&seen->frame_gone};
  while (seen->swallowed < limit) {
    try {
      co_await never->wait();
    } catch (const CancelledError&) {
      ++seen->swallowed;
    }
  }
}
Coro<void> start_swallower(Event* never, DropSeen* seen, int limit) {
  get_running_loop().set_exception_handler([seen](const ExceptionContext& c) { seen->reports.push_back(c); });
  create_task(swallow_cancels(never, seen, limit), "swallower");
  co_await sleep(0);
}
}  // namespace

// Divergence from asyncio, on purpose: asyncio.run() re-cancels nothing and
// waits for such a task forever (the program hangs). run() cancels it again
// in each of 16 shutdown rounds (a round ends when nothing can wake it any
// more) and then drops it: reported as asyncio reports a pending task that
// is garbage-collected, its frame destroyed (its destructors run).
TEST_CASE("shutdown: a task swallowing every cancel on an Event is cancelled 16 times, then dropped") {
  Event never;
  DropSeen seen;
  run(start_swallower(&never, &seen, 1'000'000));
  CHECK(seen.swallowed == 16);
  CHECK(seen.frame_gone);
  REQUIRE(seen.reports.size() == 1);
  CHECK(seen.reports[0].message == "Task was destroyed but it is pending!");
  CHECK(seen.reports[0].task_name == "swallower");
}

TEST_CASE("shutdown: a task that swallows a few cancels and then ends is waited for, not dropped") {
  Event never;
  DropSeen seen;
  run(start_swallower(&never, &seen, 5));
  CHECK(seen.swallowed == 5);
  CHECK(seen.frame_gone);
  CHECK(seen.reports.empty());
}

TEST_CASE("a task abandoned at shutdown deep in an await chain is destroyed without recursion") {
  // Destroying a suspended 300,000-deep chain frame by frame from each
  // Awaiter's destructor would overflow the stack; the frame reaper bounds it.
  Event never;
  std::vector<ExceptionContext> seen;
  run([](Event* never, std::vector<ExceptionContext>* seen) -> Coro<void> {
    get_running_loop().set_exception_handler([seen](const ExceptionContext& c) { seen->push_back(c); });
    create_task(chain_to_stubborn(never, 300'000), "deep");
    co_await sleep(0.001);
  }(&never, &seen));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].message == "Task was destroyed but it is pending!");
  CHECK(seen[0].task_name == "deep");
}

namespace {

// ------------------------------------------- task names across run() calls
// The C++ twin of test/task_names_ref.py: the same runs, one line per run.

std::string running_name() { return current_task().get_name(); }

Coro<void> yield_once() { co_await sleep(0); }

Coro<std::vector<std::string>> three_tasks() {
  auto t1 = create_task(yield_once());
  auto t2 = create_task(yield_once());
  co_await t1;
  co_await t2;
  co_return std::vector<std::string>{running_name(), t1.get_name(), t2.get_name()};
}

Coro<std::vector<std::string>> main_alone() { co_return std::vector<std::string>{running_name()}; }

Coro<void> main_fails() {
  auto t = create_task(yield_once());
  co_await t;
  throw MainFailed(running_name() + " " + t.get_name());
}

Coro<std::vector<std::string>> leaves_pending() {
  auto t = create_task([]() -> Coro<void> { co_await sleep(10); }());
  co_await sleep(0);
  co_return std::vector<std::string>{running_name(), t.get_name()};
}

Coro<std::vector<std::string>> nests() {
  CHECK_THROWS_AS(run(main_alone()), RuntimeError);  // fails before creating a task
  co_return std::vector<std::string>{running_name()};
}

std::string joined(const std::vector<std::string>& names) {
  std::string line;
  for (const auto& n : names) line += (line.empty() ? "" : " ") + n;
  return line;
}

std::vector<std::string> task_name_runs() {
  std::vector<std::string> lines;
  lines.push_back(joined(run(three_tasks())));
  lines.push_back(joined(run(three_tasks())));
  lines.push_back(joined(run(main_alone())));
  try {
    run(main_fails());
  } catch (const MainFailed& e) {
    lines.push_back(e.what());
  }
  lines.push_back(joined(run(leaves_pending())));
  lines.push_back(joined(run(nests())));
  lines.push_back(joined(run(three_tasks())));
  return lines;
}

// Rewrites every "Task-N" as "Task-(N - offset)", so that numbers taken by
// earlier tests in this process do not matter, only the progression does.
std::string renumbered(const std::string& line, long offset) {
  std::istringstream words(line);
  std::string out;
  for (std::string w; words >> w;) {
    if (w.rfind("Task-", 0) == 0) w = "Task-" + std::to_string(std::stol(w.substr(5)) - offset);
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

TEST_CASE("task names across run() calls progress as CPython's (differential)") {
  if (!support::have_python()) {
    MESSAGE("SKIPPED: no /usr/bin/python3");
    return;
  }
  const auto expected = support::python_lines(ASYNCUV_TEST_DIR "task_names_ref.py");
  REQUIRE(expected.size() == 7);
  REQUIRE(expected[0] == "Task-1 Task-2 Task-3");
  // A fresh thread takes a fresh block of numbers, so no block boundary
  // (see tasks.cpp) falls inside these runs, whatever ran before.
  std::vector<std::string> got;
  std::thread([&got] { got = task_name_runs(); }).join();
  REQUIRE(got.size() == expected.size());
  const long offset = std::stol(got[0].substr(5)) - 1;
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(renumbered(got[i], offset) == expected[i]);
}

}  // namespace
