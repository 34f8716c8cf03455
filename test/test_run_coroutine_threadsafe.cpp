// run_coroutine_threadsafe / ConcurrentFuture: result, exception, cancel,
// timeout, a loop on another thread, loops closing under it. Scenarios
// ported from CPython's test_asyncio (test_tasks.py's
// RunCoroutineThreadsafeTests).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;

using support::wait_until;

// ---- run_coroutine_threadsafe (test_tasks.py RunCoroutineThreadsafeTests) ----

namespace {

struct AddFlags {
  std::atomic<bool> cancelled{false};
};

// "Wait 0.05 second and return a + b."
Coro<int> add(int a, int b, bool fail = false, bool cancel = false, AddFlags* flags = nullptr) {
  try {
    co_await sleep(0.05);
    if (fail) throw RuntimeError("Fail!");
    if (cancel) {
      current_task().cancel();
      co_await sleep(0);
    }
    co_return a + b;
  } catch (const CancelledError&) {
    if (flags) flags->cancelled = true;
    throw;
  }
}

// Runs add() in the loop from another thread and waits for it, as the
// CPython tests' target() does.
int target(EventLoop* loop, bool fail = false, bool cancel = false, double timeout = -1, AddFlags* flags = nullptr) {
  auto future = run_coroutine_threadsafe(add(1, 2, fail, cancel, flags), *loop);
  struct Finally {
    ConcurrentFuture<int>& f;
    ~Finally() {
      if (!f.done()) f.cancel();
    }
  } finally{future};
  return timeout < 0 ? future.result() : future.result(timeout);
}

}  // namespace

TEST_CASE("run_coroutine_threadsafe: the result, from a pool thread (test_run_coroutine_threadsafe)") {
  int r = run([]() -> Coro<int> {
    EventLoop* loop = &get_running_loop();
    co_return co_await to_thread([loop] { return target(loop); });
  }());
  CHECK(r == 3);
}

TEST_CASE("run_coroutine_threadsafe: the exception (test_run_coroutine_threadsafe_with_exception)") {
  CHECK_THROWS_WITH_AS(run([]() -> Coro<int> {
                         EventLoop* loop = &get_running_loop();
                         co_return co_await to_thread([loop] { return target(loop, true); });
                       }()),
                       "Fail!", RuntimeError);
}

TEST_CASE("run_coroutine_threadsafe: a timeout, then cancel() cancels the task (test_..._with_timeout)") {
  AddFlags flags;
  run([](AddFlags* flags) -> Coro<void> {
    EventLoop* loop = &get_running_loop();
    CHECK_THROWS_AS(co_await to_thread([=] { return target(loop, false, false, 0, flags); }), TimeoutError);
    // The cancel reaches the task (before it started, or in its sleep): no
    // task is left pending but main, and add() never completes.
    CHECK(co_await wait_until([] { return all_tasks().size() == 1; }));
    co_await sleep(0.06);
    CHECK(all_tasks().size() == 1);
  }(&flags));
}

TEST_CASE("run_coroutine_threadsafe: a task that cancels itself (test_..._task_cancelled)") {
  CHECK_THROWS_AS(run([]() -> Coro<int> {
                    EventLoop* loop = &get_running_loop();
                    co_return co_await to_thread([loop] { return target(loop, false, true); });
                  }()),
                  CancelledError);
}

TEST_CASE("ConcurrentFuture: done, exception, result(timeout), callbacks, from a plain thread") {
  struct Seen {
    std::atomic<bool> done_before{true}, done_after{false};
    int result = 0;
    std::string timeout_what, error_what;
    bool exception_null = false;
    std::vector<std::string> callbacks;  // guarded by m
    std::mutex m;
  } seen;
  run([](Seen* seen) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    std::thread t([&loop, seen] {
      auto f = run_coroutine_threadsafe(add(20, 22), loop);
      seen->done_before = f.done();
      f.add_done_callback([seen](const ConcurrentFuture<int>& g) {
        std::lock_guard lock(seen->m);
        seen->callbacks.push_back("pending-added " + std::to_string(g.result()));
      });
      try {
        f.result(1ms);
      } catch (const TimeoutError& e) {
        seen->timeout_what = e.what();
      }
      seen->result = f.result(10s);
      seen->done_after = f.done();
      seen->exception_null = f.exception() == nullptr;
      f.add_done_callback([seen](const ConcurrentFuture<int>&) {
        std::lock_guard lock(seen->m);
        seen->callbacks.push_back("done-added");
      });
      auto g = run_coroutine_threadsafe(add(0, 0, true), loop);
      try {
        std::rethrow_exception(g.exception(std::chrono::seconds(10)));
      } catch (const RuntimeError& e) {
        seen->error_what = e.what();
      }
    });
    co_await to_thread([&t] { t.join(); });
  }(&seen));
  CHECK_FALSE(seen.done_before);
  CHECK(seen.done_after);
  CHECK(seen.result == 42);
  CHECK(seen.timeout_what == "TimeoutError");
  CHECK(seen.exception_null);
  CHECK(seen.error_what == "Fail!");
  CHECK(seen.callbacks == std::vector<std::string>{"pending-added 42", "done-added"});
}

TEST_CASE("ConcurrentFuture.cancel(): at once; the task gets CancelledError; False once done") {
  AddFlags flags;
  struct Out {
    bool first = false, second = false, cancelled = false, done = false, on_done = false;
    bool result_cancelled = false, exception_cancelled = false;
  } out;
  run([](AddFlags* flags, Out* out) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    co_await to_thread([&loop, flags, out] {
      auto f = run_coroutine_threadsafe(add(1, 1, false, false, flags), loop);
      std::this_thread::sleep_for(10ms);
      out->first = f.cancel();
      out->second = f.cancel();  // already cancelled: True, as in Python
      out->cancelled = f.cancelled();
      out->done = f.done();
      try {
        f.result();
      } catch (const CancelledError&) {
        out->result_cancelled = true;
      }
      try {
        static_cast<void>(f.exception());
      } catch (const CancelledError&) {
        out->exception_cancelled = true;
      }
      auto g = run_coroutine_threadsafe(add(1, 1), loop);
      g.result();
      out->on_done = g.cancel();
    });
    CHECK(co_await wait_until([flags] { return flags->cancelled.load(); }));
  }(&flags, &out));
  CHECK(out.first);
  CHECK(out.second);
  CHECK(out.cancelled);
  CHECK(out.done);
  CHECK(out.result_cancelled);
  CHECK(out.exception_cancelled);
  CHECK_FALSE(out.on_done);
  CHECK(flags.cancelled);
}

TEST_CASE("run_coroutine_threadsafe into a loop running on another thread (the usual setup)") {
  std::atomic<EventLoop*> loop_ptr{nullptr};
  std::atomic<bool> stop{false};
  std::thread loop_thread([&] {
    run([](std::atomic<EventLoop*>* loop_ptr, std::atomic<bool>* stop) -> Coro<void> {
      *loop_ptr = &get_running_loop();
      while (!*stop) co_await sleep(0.001);  // keeps the loop alive
    }(&loop_ptr, &stop));
  });
  while (!loop_ptr) std::this_thread::sleep_for(1ms);
  EventLoop& loop = *loop_ptr;
  // Several submitting threads at once, each waiting for its results.
  std::vector<std::thread> clients;
  std::atomic<int> sum{0};
  for (int k = 0; k < 4; ++k) {
    clients.emplace_back([&loop, &sum, k] {
      for (int i = 0; i < 25; ++i) {
        auto f = run_coroutine_threadsafe(
            [](int v) -> Coro<int> {
              co_await sleep(0);
              co_return v;
            }(k * 100 + i),
            loop);
        sum += f.result();
      }
      auto v = run_coroutine_threadsafe([]() -> Coro<void> { co_return; }(), loop);
      v.result();
    });
  }
  for (auto& c : clients) c.join();
  stop = true;
  loop_thread.join();
  int expected = 0;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 25; ++i) expected += k * 100 + i;
  CHECK(sum == expected);
}

TEST_CASE("a loop closing with a submitted coroutine still pending cancels its future") {
  ConcurrentFuture<int> never_started, interrupted;
  AddFlags flags;
  {
    EventLoop loop;  // never runs: the submission is dropped at close
    std::thread([&] { never_started = run_coroutine_threadsafe(add(1, 2), loop); }).join();
    CHECK_FALSE(never_started.done());
  }
  CHECK(never_started.cancelled());
  CHECK_THROWS_AS(never_started.result(), CancelledError);
  // Started, then run() ends: the task is cancelled with the others.
  run([](ConcurrentFuture<int>* interrupted, AddFlags* flags) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    *interrupted = run_coroutine_threadsafe(add(1, 2, false, false, flags), loop);
    co_await sleep(0.005);
  }(&interrupted, &flags));
  CHECK(flags.cancelled);
  CHECK(interrupted.cancelled());
}

TEST_CASE("ConcurrentFuture misuse: empty future, blocking result() on the loop's own thread") {
  ConcurrentFuture<int> empty;
  CHECK_FALSE(empty.valid());
  CHECK_THROWS_AS(static_cast<void>(empty.done()), InvalidStateError);
  run([]() -> Coro<void> {
    auto f = run_coroutine_threadsafe(add(1, 2), get_running_loop());
    CHECK_THROWS_AS(f.result(), RuntimeError);       // would deadlock
    CHECK_THROWS_AS(f.result(0.0), TimeoutError);    // polls
    CHECK_THROWS_AS(f.result(-1.0), TimeoutError);   // Python: negative = don't wait
    CHECK_THROWS_AS(f.result(std::nan("")), std::invalid_argument);
    CHECK(co_await wait_until([&f] { return f.done(); }));
    CHECK(f.result() == 3);
    CHECK(f.result(0ms) == 3);
  }());
}

TEST_CASE("run_coroutine_threadsafe on a closed loop throws; the coroutine is destroyed unrun") {
  std::string error;
  auto alive = std::make_shared<int>(0);
  {
    EventLoop loop;
    struct Probe {
      EventLoop* loop;
      std::string* error;
      std::shared_ptr<int> alive;
      bool armed = true;
      Probe(EventLoop* l, std::string* e, std::shared_ptr<int> a) : loop(l), error(e), alive(std::move(a)) {}
      Probe(Probe&& o) noexcept : loop(o.loop), error(o.error), alive(o.alive) { o.armed = false; }
      void operator()() const {}
      ~Probe() {
        if (!armed) return;
        std::thread([this] {
          try {
            auto f = run_coroutine_threadsafe([](std::shared_ptr<int>) -> Coro<int> { co_return 1; }(alive), *loop);
          } catch (const RuntimeError& e) {
            *error = e.what();
          }
        }).join();
      }
    };
    loop.call_soon(Probe(&loop, &error, alive));
  }
  CHECK(error == "Event loop is closed");
  CHECK(alive.use_count() == 1);
}
