// Threads: to_thread (libuv's pool: results, exceptions, cancellation, work
// outstanding at shutdown) and run_coroutine_threadsafe / ConcurrentFuture
// (result, exception, cancel, timeout, loops closing under it). Scenarios
// ported from CPython's test_asyncio (test_threads.py, test_tasks.py's
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

namespace {

// A one-shot gate other threads can wait on (with a bound, so that a broken
// test fails instead of hanging).
class Gate {
public:
  void open() {
    std::lock_guard lock(m_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, limit, [this] { return open_; });
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

using support::wait_until;

int pool_size() {
  const char* v = std::getenv("UV_THREADPOOL_SIZE");
  const int n = v ? std::atoi(v) : 4;
  return n > 0 ? n : 4;
}

}  // namespace

// ---- to_thread (test_threads.py) ----

TEST_CASE("to_thread: the function's result (test_to_thread)") {
  int r = run([]() -> Coro<int> {
    std::vector<int> args{40, 2};  // (g++ 12 rejects a braced list inside a co_await expression)
    co_return co_await to_thread([](std::vector<int> v) { return std::accumulate(v.begin(), v.end(), 0); },
                                 std::move(args));
  }());
  CHECK(r == 42);
}

TEST_CASE("to_thread: the function's exception, type and message (test_to_thread_exception)") {
  run([]() -> Coro<void> {
    std::string what;
    try {
      co_await to_thread([]() -> int { throw RuntimeError("test"); });
    } catch (const RuntimeError& e) {
      what = e.what();
    }
    CHECK(what == "test");
    try {
      co_await to_thread([] { throw std::out_of_range("index"); });
    } catch (const std::out_of_range& e) {
      what = e.what();
    }
    CHECK(what == "index");
  }());
}

TEST_CASE("to_thread: called once, on another thread, with its arguments (test_to_thread_once/args)") {
  std::atomic<int> calls{0};
  run([](std::atomic<int>* calls) -> Coro<void> {
    const auto me = std::this_thread::get_id();
    auto [id, text] = co_await to_thread(
        [calls](std::string s, std::unique_ptr<int> p) {
          ++*calls;
          return std::make_pair(std::this_thread::get_id(), s + std::to_string(*p));
        },
        std::string("test"), std::make_unique<int>(7));
    CHECK(id != me);
    CHECK(text == "test7");
    co_await to_thread([calls] { ++*calls; });  // void
  }(&calls));
  CHECK(calls == 2);
}

TEST_CASE("to_thread: gathered calls all run, concurrently (test_to_thread_concurrent)") {
  std::atomic<int> calls{0};
  run([](std::atomic<int>* calls) -> Coro<void> {
    std::vector<Coro<int>> futs;
    for (int i = 0; i < 10; ++i) futs.push_back(to_thread([calls, i] {
      ++*calls;
      return i;
    }));
    auto v = co_await gather(std::move(futs));
    CHECK(v == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    // Two calls that can only finish if they run at the same time.
    auto meet = std::make_shared<std::promise<void>>();
    auto met = meet->get_future().share();
    // (Named first: g++ 12 destroys a closure that captures a non-trivial
    // object twice when the closure is a temporary inside a co_await
    // expression.)
    auto waits = [met] { return met.wait_for(10s) == std::future_status::ready; };
    auto arrives = [meet] {
      meet->set_value();
      return true;
    };
    auto [a, b] = co_await gather(to_thread(waits), to_thread(arrives));
    CHECK(a);
    CHECK(b);
  }(&calls));
  CHECK(calls == 10);
}

TEST_CASE("to_thread: cancelling the awaiter ends the await at once; the running call finishes on its own") {
  Gate started, release;
  std::atomic<bool> finished{false};
  run([](Gate* started, Gate* release, std::atomic<bool>* finished) -> Coro<void> {
    auto t = create_task(to_thread([=] {
      started->open();
      release->wait();
      *finished = true;
      return 1;
    }));
    CHECK(co_await to_thread([started] { return started->wait(); }));
    t.cancel();
    CHECK_THROWS_AS(co_await t, CancelledError);
    CHECK(t.cancelled());
    CHECK_FALSE(*finished);  // still running in its thread
    release->open();
    CHECK(co_await wait_until([finished] { return finished->load(); }));
    co_await sleep(0.005);  // its completion frees the orphaned request
  }(&started, &release, &finished));
  CHECK(finished);
}

TEST_CASE("to_thread: a call still queued when its awaiter is cancelled never runs") {
  const int n = pool_size();
  std::atomic<int> started{0};
  std::atomic<bool> queued_ran{false};
  Gate release;
  run([](int n, std::atomic<int>* started, std::atomic<bool>* queued_ran, Gate* release) -> Coro<void> {
    std::vector<Task<void>> blockers;
    for (int i = 0; i < n; ++i) blockers.push_back(create_task(to_thread([=] {
      ++*started;
      release->wait();
    })));
    CHECK(co_await wait_until([=] { return started->load() == n; }));  // every pool thread is busy
    auto queued = create_task(to_thread([queued_ran] { *queued_ran = true; }));
    co_await sleep(0.002);
    queued.cancel();
    CHECK_THROWS_AS(co_await queued, CancelledError);
    release->open();
    for (auto& b : blockers) co_await b;
    co_await sleep(0.005);
  }(n, &started, &queued_ran, &release));
  CHECK_FALSE(queued_ran);
}

TEST_CASE("to_thread: a task cancelled before it starts never calls the function") {
  std::atomic<bool> ran{false};
  run([](std::atomic<bool>* ran) -> Coro<void> {
    auto t = create_task(to_thread([ran] { *ran = true; }));
    t.cancel();
    CHECK_THROWS_AS(co_await t, CancelledError);
    co_await sleep(0.005);
  }(&ran));
  CHECK_FALSE(ran);
}

TEST_CASE("to_thread: a result that arrives after cancel() was called still ends in CancelledError") {
  run([]() -> Coro<void> {
    Gate done;
    auto t = create_task(to_thread([&done] {
      done.open();
      return 5;
    }));
    CHECK(co_await to_thread([&done] { return done.wait(); }));
    co_await sleep(0.005);  // the completion has woken t, or is about to
    t.cancel();
    bool cancelled = false;
    try {
      co_await t;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    CHECK((cancelled || t.result() == 5));  // either way, never a crash or a leak
  }());
}

TEST_CASE("run() shutdown waits for work still outstanding, then closes cleanly") {
  Gate started;
  std::atomic<bool> finished{false};
  const auto t0 = std::chrono::steady_clock::now();
  run([](Gate* started, std::atomic<bool>* finished) -> Coro<void> {
    // Fire and forget: main returns while the call is still running.
    create_task(to_thread([=] {
      started->open();
      std::this_thread::sleep_for(50ms);
      *finished = true;
      return std::string("discarded");
    }));
    co_await to_thread([started] { return started->wait(); });
  }(&started, &finished));
  CHECK(finished);  // run() did not return before the pool thread was done
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
}

TEST_CASE("to_thread: nested inside wait_for-style cancellation, destroyed frames detach their work") {
  std::atomic<int> finished{0};
  Gate release;
  run([](std::atomic<int>* finished, Gate* release) -> Coro<void> {
    // Awaited inside a child coroutine of a task that gets cancelled.
    auto child = [](std::atomic<int>* finished, Gate* release) -> Coro<int> {
      co_return co_await to_thread([=] {
        release->wait();
        ++*finished;
        return 1;
      });
    };
    std::vector<Task<int>> ts;
    for (int i = 0; i < 3; ++i) ts.push_back(create_task(child(finished, release)));
    co_await sleep(0.005);
    for (auto& t : ts) t.cancel();
    for (auto& t : ts) CHECK_THROWS_AS(co_await t, CancelledError);
    release->open();
  }(&finished, &release));
  CHECK(finished == 3);
}

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
