// Task<T>: scheduling order, awaiting, the result API, done callbacks, names,
// handles outliving the loop, and the "never retrieved" report.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>


using namespace asyncuv;
using namespace std::chrono_literals;

namespace {

Coro<int> value_after(int v, double seconds) {
  co_await sleep(seconds);
  co_return v;
}

Coro<int> fail_after(std::string msg, double seconds) {
  co_await sleep(seconds);
  throw std::runtime_error(msg);
}

Coro<void> note(Log* log, std::string what) {
  log->push_back(std::move(what));
  co_return;
}

// Runs `body` with stderr redirected to a temporary file; returns what was written.
template <class F>
std::string capture_stderr(F body) {
  std::fflush(stderr);
  char path[] = "/tmp/asyncuv-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  int saved = dup(2);
  dup2(fd, 2);
  body();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  unlink(path);
  return ss.str();
}

TEST_CASE("create_task does not run the task before its creator yields") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(note(log, "task"));
    log->push_back("created");
    CHECK_FALSE(t.done());
    co_await sleep(0);
    log->push_back("after yield");
    CHECK(t.done());
  }(&log));
  CHECK(log == Log{"created", "task", "after yield"});
}

TEST_CASE("tasks start in creation order") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto a = create_task(note(log, "a"));
    auto b = create_task(note(log, "b"));
    auto c = create_task(note(log, "c"));
    co_await c;
    co_await a;
    co_await b;
  }(&log));
  CHECK(log == Log{"a", "b", "c"});
}

TEST_CASE("a task can be awaited twice, by two awaiters, before and after it finishes") {
  auto total = run([]() -> Coro<int> {
    auto t = create_task(value_after(5, 0.005));
    auto waiter = [](Task<int> t) -> Coro<int> { co_return co_await t * 10; };
    auto w1 = create_task(waiter(t));  // both wait while t is pending
    auto w2 = create_task(waiter(t));
    int first = co_await t;
    int second = co_await t;  // already done: immediate
    auto w3 = create_task(waiter(t));  // awaits after it finished
    co_return first + second + co_await w1 + co_await w2 + co_await w3;
  }());
  CHECK(total == 5 + 5 + 50 + 50 + 50);
}

TEST_CASE("an exception in an awaited task reaches every awaiter") {
  auto caught = run([]() -> Coro<int> {
    auto t = create_task(fail_after("bad", 0.002));
    auto waiter = [](Task<int> t) -> Coro<int> {
      try {
        co_await t;
      } catch (const std::runtime_error& e) {
        co_return std::string(e.what()) == "bad" ? 1 : 100;
      }
      co_return 0;
    };
    auto w1 = create_task(waiter(t));
    auto w2 = create_task(waiter(t));
    co_return co_await w1 + co_await w2 + co_await create_task(waiter(t));
  }());
  CHECK(caught == 3);
}

TEST_CASE("done / cancelled / result / exception follow asyncio") {
  run([]() -> Coro<void> {
    auto ok = create_task(value_after(7, 0.001));
    auto bad = create_task(fail_after("oops", 0.001));
    auto slow = create_task(value_after(1, 10.0));
    auto v = create_task([]() -> Coro<void> { co_return; }());

    CHECK_FALSE(ok.done());
    CHECK_FALSE(ok.cancelled());
    CHECK_THROWS_AS(ok.result(), InvalidStateError);
    CHECK_THROWS_AS(ok.exception(), InvalidStateError);

    co_await sleep(0.01);
    CHECK(ok.done());
    CHECK_FALSE(ok.cancelled());
    CHECK(ok.result() == 7);
    CHECK(ok.exception() == nullptr);

    CHECK(v.done());
    v.result();  // void: returns nothing, throws nothing
    CHECK(v.exception() == nullptr);

    CHECK(bad.done());
    CHECK_FALSE(bad.cancelled());
    CHECK_THROWS_WITH_AS(bad.result(), "oops", std::runtime_error);
    auto e = bad.exception();
    REQUIRE(e != nullptr);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(e), "oops", std::runtime_error);

    CHECK(slow.cancel());
    CHECK_FALSE(slow.done());  // the cancellation lands on its next step
    co_await sleep(0);
    CHECK(slow.done());
    CHECK(slow.cancelled());
    CHECK_FALSE(slow.cancel());  // already done
    CHECK_THROWS_AS(slow.result(), CancelledError);
    CHECK_THROWS_AS(slow.exception(), CancelledError);
    CHECK_FALSE(ok.cancel());
  }());
}

TEST_CASE("add_done_callback: through the loop, in registration order, never inline") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(value_after(3, 0.001));
    t.add_done_callback([log](const Task<int>& d) { log->push_back("cb1 " + std::to_string(d.result())); });
    t.add_done_callback([log](const Task<int>& d) { log->push_back(std::string("cb2 ") + (d.done() ? "done" : "pending")); });
    co_await t;
    log->push_back("awaited");  // the awaiter was woken by the same finish
    co_await sleep(0);
    log->push_back("later");
    t.add_done_callback([log](const Task<int>&) { log->push_back("cb3"); });
    log->push_back("added cb3");  // not inline
    co_await sleep(0);
    log->push_back("next iteration");
  }(&log));
  // The callbacks were registered before the awaiter: they are scheduled first.
  CHECK(log == Log{"cb1 3", "cb2 done", "awaited", "later", "added cb3", "cb3", "next iteration"});
}

TEST_CASE("done callbacks also run for failed and cancelled tasks") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto bad = create_task(fail_after("x", 0.001));
    auto slow = create_task(value_after(1, 10.0));
    bad.add_done_callback([log](const Task<int>& t) {
      log->push_back(t.exception() ? "bad failed" : "bad ok");
    });
    slow.add_done_callback([log](const Task<int>& t) { log->push_back(t.cancelled() ? "slow cancelled" : "slow?"); });
    co_await sleep(0.01);
    slow.cancel();
    co_await sleep(0.001);
  }(&log));
  CHECK(log == Log{"bad failed", "slow cancelled"});
}

TEST_CASE("an exception escaping a done callback goes to the loop's exception handler") {
  std::vector<ExceptionContext> seen;
  Log log;
  run([](std::vector<ExceptionContext>* seen, Log* log) -> Coro<void> {
    get_running_loop().set_exception_handler([seen](const ExceptionContext& c) { seen->push_back(c); });
    auto t = create_task(value_after(1, 0));
    t.add_done_callback([](const Task<int>&) { throw std::runtime_error("callback failed"); });
    t.add_done_callback([log](const Task<int>&) { log->push_back("second still runs"); });
    co_await t;
    co_await sleep(0.001);
  }(&seen, &log));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].message.find("callback") != std::string::npos);
  CHECK_THROWS_WITH_AS(std::rethrow_exception(seen[0].exception), "callback failed", std::runtime_error);
  CHECK(log == Log{"second still runs"});
}

int name_number(const std::string& name) {
  REQUIRE(name.rfind("Task-", 0) == 0);
  return std::stoi(name.substr(5));
}

TEST_CASE("task names: Task-N from a process-wide counter, set_name, create_task(coro, name)") {
  Task<int> outside;
  auto names = run([](Task<int>* outside) -> Coro<std::vector<std::string>> {
    auto a = create_task(value_after(1, 0));
    auto b = create_task(value_after(2, 0));
    auto c = create_task(value_after(3, 0), "worker");
    *outside = a;
    std::vector<std::string> out{a.get_name(), b.get_name(), c.get_name()};
    b.set_name("renamed");
    out.push_back(b.get_name());
    co_await gather(a, b, c);
    out.push_back(b.get_name());  // still there once done
    co_return out;
  }(&outside));
  const int na = name_number(names[0]);
  CHECK(name_number(names[1]) == na + 1);
  CHECK(names[2] == "worker");
  CHECK(names[3] == "renamed");
  CHECK(names[4] == "renamed");
  CHECK(outside.get_name() == names[0]);  // usable after run

  // The counter is process-wide: the next run's main task is one of them,
  // and its first create_task is one higher than main's.
  auto nums = run([]() -> Coro<std::vector<int>> {
    auto t = create_task(value_after(0, 0));
    co_await t;
    co_return std::vector<int>{name_number(t.get_name())};
  }());
  CHECK(nums[0] > na + 2);
  Task<int> main_seen;
  auto first = run([](Task<int>* main_seen) -> Coro<int> {
    auto t = create_task(value_after(0, 0));
    *main_seen = t;
    co_return name_number(t.get_name());
  }(&main_seen));
  CHECK(first == nums[0] + 4);  // after t: run()'s two shutdown numbers, this run's main, then t
}

TEST_CASE("a Task handle stays usable after run returned") {
  Task<int> ok, bad, pending;
  Task<void> never;
  run([](Task<int>* ok, Task<int>* bad, Task<int>* pending, Task<void>* never) -> Coro<void> {
    *ok = create_task(value_after(4, 0));
    *bad = create_task(fail_after("late", 0));
    *pending = create_task(value_after(5, 10.0));
    *never = create_task([]() -> Coro<void> { co_return; }());
    co_await sleep(0.005);
    never->cancel();  // already done: no effect
  }(&ok, &bad, &pending, &never));
  CHECK(ok.done());
  CHECK(ok.result() == 4);
  CHECK(bad.done());
  CHECK_THROWS_WITH(bad.result(), "late");
  CHECK(pending.done());  // run() cancelled it
  CHECK(pending.cancelled());
  CHECK_THROWS_AS(pending.result(), CancelledError);
  CHECK(never.done());
  CHECK_FALSE(never.cancelled());
  CHECK_FALSE(ok.cancel());
  Task<int> copy = ok;
  CHECK(copy.result() == 4);
}

TEST_CASE("a default-constructed Task is an empty handle") {
  Task<int> t;
  CHECK_FALSE(t.valid());
  CHECK_THROWS_AS(t.done(), InvalidStateError);
  Task<void> v;
  CHECK_FALSE(v.valid());
  Task<int> u = t;
  CHECK_FALSE(u.valid());
}

TEST_CASE("create_task outside a running loop is a RuntimeError") {
  Coro<int> c = value_after(1, 0);
  CHECK_THROWS_WITH_AS(create_task(std::move(c)), "no running event loop", RuntimeError);
  CHECK(c.valid());  // not consumed
  CHECK_THROWS_WITH_AS(get_running_loop(), "no running event loop", RuntimeError);
  CHECK(run(std::move(c)) == 1);
}

TEST_CASE("a fire-and-forget task is kept alive by the loop") {
  Log log;
  run([](Log* log) -> Coro<void> {
    {
      auto t = create_task([](Log* log) -> Coro<void> {
        co_await sleep(0.002);
        log->push_back("finished");
      }(log));
    }  // handle dropped
    co_await sleep(0.01);
    log->push_back("main done");
  }(&log));
  CHECK(log == Log{"finished", "main done"});
}

TEST_CASE("a task cannot await itself") {
  auto r = run([]() -> Coro<int> {
    auto holder = std::make_shared<Task<int>>();
    *holder = create_task([](std::shared_ptr<Task<int>> self) -> Coro<int> {
      co_await sleep(0);
      try {
        co_await *self;
      } catch (const RuntimeError&) {
        co_return 1;
      }
      co_return 0;
    }(holder));
    int v = co_await *holder;
    *holder = Task<int>();  // break the cycle
    co_return v;
  }());
  CHECK(r == 1);
}

TEST_CASE("\"Task exception was never retrieved\" goes to the installed handler") {
  std::vector<ExceptionContext> seen;
  run([](std::vector<ExceptionContext>* seen) -> Coro<void> {
    get_running_loop().set_exception_handler([seen](const ExceptionContext& c) { seen->push_back(c); });
    {
      auto t = create_task(fail_after("lost", 0), "doomed");
    }
    auto retrieved = create_task(fail_after("seen", 0));
    co_await sleep(0.005);
    CHECK(seen->size() == 1);
    CHECK(retrieved.exception() != nullptr);
  }(&seen));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].message == "Task exception was never retrieved");
  CHECK(seen[0].task_name == "doomed");
  CHECK_THROWS_WITH_AS(std::rethrow_exception(seen[0].exception), "lost", std::runtime_error);
}

TEST_CASE("\"Task exception was never retrieved\" goes to stderr by default") {
  auto err = capture_stderr([] {
    run([]() -> Coro<void> {
      create_task(fail_after("nobody looked", 0), "forgotten");
      co_await sleep(0.002);
    }());
  });
  CHECK(err.find("Task exception was never retrieved") != std::string::npos);
  CHECK(err.find("forgotten") != std::string::npos);
  CHECK(err.find("nobody looked") != std::string::npos);

  // A handle that outlives run reports when it is dropped, outside any loop.
  Task<int> kept;
  auto quiet = capture_stderr([&] {
    run([](Task<int>* kept) -> Coro<void> {
      *kept = create_task(fail_after("kept", 0), "kept-task");
      co_await sleep(0.002);
    }(&kept));
  });
  CHECK(quiet.empty());
  auto late = capture_stderr([&] { kept = Task<int>(); });
  CHECK(late.find("Task exception was never retrieved") != std::string::npos);
  CHECK(late.find("kept-task") != std::string::npos);

  // Retrieved exceptions are not reported.
  auto none = capture_stderr([] {
    run([]() -> Coro<void> {
      auto t = create_task(fail_after("handled", 0));
      try {
        co_await t;
      } catch (const std::runtime_error&) {
      }
    }());
  });
  CHECK(none.empty());
}

TEST_CASE("a throwing exception handler falls back to stderr") {
  auto err = capture_stderr([] {
    run([]() -> Coro<void> {
      get_running_loop().set_exception_handler([](const ExceptionContext&) { throw std::runtime_error("handler broke"); });
      create_task(fail_after("dropped", 0), "fallback");
      co_await sleep(0.002);
    }());
  });
  CHECK(err.find("Task exception was never retrieved") != std::string::npos);
  CHECK(err.find("fallback") != std::string::npos);
}

TEST_CASE("loop.time() is monotonic seconds") {
  run([]() -> Coro<void> {
    double t0 = get_running_loop().time();
    co_await sleep(0.002);
    double t1 = get_running_loop().time();
    CHECK(t1 - t0 >= 0.002);
    CHECK(t1 - t0 < 60);
  }());
}

TEST_CASE("awaiting an already finished task does not deliver a pending cancel") {
  // asyncio: `await done_task` does not suspend, so a self-cancel lands at
  // the next real suspension point — which `await gather(done_task)` is: its
  // result arrives through a callback, as CPython 3.11 shows for this program.
  Log log;
  auto holder = std::make_shared<Task<void>>();
  run([](Log* log, std::shared_ptr<Task<void>> holder) -> Coro<void> {
    *holder = create_task([](Log* log, std::shared_ptr<Task<void>> self) -> Coro<void> {
      auto quick = create_task(value_after(1, 0));
      co_await sleep(0.002);
      self->cancel();
      co_await quick;  // done: no suspension, no cancel
      log->push_back("after done await");
      co_await gather(quick);  // suspends: the cancel lands here
      log->push_back("after done gather");
      try {
        co_await sleep(0);
      } catch (const CancelledError&) {
        log->push_back("cancelled at sleep");
        throw;
      }
    }(log, holder));
    try {
      co_await *holder;
    } catch (const CancelledError&) {
      log->push_back("main saw cancel");
    }
  }(&log, holder));
  *holder = Task<void>();
  CHECK(log == Log{"after done await", "main saw cancel"});
}

}  // namespace

TEST_CASE("current_task() and all_tasks(): type-erased handles, as asyncio's") {
  run([]() -> Coro<void> {
    AnyTask me = current_task();
    REQUIRE(me.valid());
    CHECK_FALSE(me.done());
    auto child = create_task([]() -> Coro<int> {
      co_await sleep(0.01);
      co_return 1;
    }(), "child");
    std::vector<AnyTask> all = all_tasks();
    REQUIRE(all.size() == 2);
    CHECK(all[0] == me);
    CHECK(all[1] == AnyTask(child));
    CHECK(all[1].get_name() == "child");
    AnyTask seen_in_child;
    auto probe = create_task([](AnyTask& seen) -> Coro<void> {
      seen = current_task();
      co_return;
    }(seen_in_child));
    co_await probe;
    CHECK(seen_in_child == AnyTask(probe));
    CHECK(seen_in_child.done());
    CHECK(all_tasks().size() == 2);  // probe is done
    CHECK(all[1].cancel());
    co_await sleep(0);
    CHECK(child.cancelled());
    bool in_callback_empty = false;
    get_running_loop().call_soon([&] { in_callback_empty = !current_task().valid(); });
    co_await sleep(0);
    CHECK(in_callback_empty);
  }());
  CHECK_THROWS_WITH_AS(current_task(), "no running event loop", RuntimeError);
}
