// The loop's callback API: get_running_loop, time, call_soon (Handle,
// cancellation, ordering, exceptions to the handler), call_soon_threadsafe
// from other threads, and what the loop does with callbacks still queued when
// it closes. (call_later / call_at: test_call_later.cpp.) Scenarios ported
// from CPython's test_asyncio (test_base_events.py, test_events.py).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;

namespace {

using support::wait_until;

// Counts the copies of a callable that are still alive.
struct Tracked {
  std::shared_ptr<std::atomic<int>> alive;
  explicit Tracked(std::shared_ptr<std::atomic<int>> a) : alive(std::move(a)) { ++*alive; }
  Tracked(const Tracked& o) : alive(o.alive) { ++*alive; }
  ~Tracked() { --*alive; }
  void operator()() const {}
};

}  // namespace

// ---- get_running_loop, time ----

TEST_CASE("get_running_loop: the loop inside run(), RuntimeError outside") {
  CHECK_THROWS_WITH_AS(get_running_loop(), "no running event loop", RuntimeError);
  CHECK(EventLoop::current() == nullptr);
  bool same = run([]() -> Coro<bool> { co_return &get_running_loop() == EventLoop::current(); }());
  CHECK(same);
  CHECK_THROWS_AS(get_running_loop(), RuntimeError);
}

TEST_CASE("current_task(): the task inside a step, an empty handle in callbacks even right after a step") {
  // asyncio.current_task() is None in a plain callback. A callback queued
  // behind a task that suspends runs in the same pass, just after that step.
  bool checked_in_callback = false, checked_in_done_callback = false;
  run([](bool* in_callback, bool* in_done_callback) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    const AnyTask me = current_task();
    CHECK(me.valid());
    auto t = create_task([]() -> Coro<void> { co_await sleep(0); }());
    loop.call_soon([in_callback] { *in_callback = !current_task().valid(); });
    t.add_done_callback([in_done_callback](const Task<void>&) { *in_done_callback = !current_task().valid(); });
    co_await t;
    co_await sleep(0);
    CHECK(current_task() == me);
  }(&checked_in_callback, &checked_in_done_callback));
  CHECK(checked_in_callback);
  CHECK(checked_in_done_callback);
}

TEST_CASE("time() is monotonic seconds that follow the steady clock") {
  run([]() -> Coro<void> {
    EventLoop& loop = get_running_loop();
    const double t0 = loop.time();
    const auto c0 = std::chrono::steady_clock::now();
    co_await sleep(0.02);
    const double t1 = loop.time();
    const double real = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    CHECK(t1 >= t0 + 0.02);
    CHECK(std::abs((t1 - t0) - real) < 0.005);
    for (int i = 0; i < 1000; ++i) {
      const double a = loop.time();
      CHECK(loop.time() >= a);
    }
  }());
}

// ---- call_soon ----

TEST_CASE("call_soon: runs f(args...) on the next iteration, never inline (test_events.test_call_soon)") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    Handle h = loop.call_soon([log](std::string a, std::string b) { log->push_back(a + " " + b); }, "hello",
                              std::string("world"));
    CHECK(h.valid());
    CHECK_FALSE(h.cancelled());
    CHECK(log->empty());
    co_await sleep(0);
    CHECK(*log == Log{"hello world"});
    CHECK_FALSE(h.cancelled());
  }(&log));
}

TEST_CASE("call_soon: FIFO, interleaved with tasks in scheduling order") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    loop.call_soon([log] { log->push_back("cb1"); });
    auto t = create_task([](Log* log) -> Coro<void> {
      log->push_back("task");
      co_return;
    }(log));
    loop.call_soon([log] { log->push_back("cb2"); });
    for (int i = 0; i < 5; ++i) loop.call_soon([log, i] { log->push_back(std::to_string(i)); });
    co_await t;
    co_await sleep(0);
  }(&log));
  CHECK(log == Log{"cb1", "task", "cb2", "0", "1", "2", "3", "4"});
}

TEST_CASE("call_soon from a callback runs on the following pass, after what was already queued") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    loop.call_soon([log, &loop] {
      log->push_back("a");
      loop.call_soon([log] { log->push_back("c (scheduled by a)"); });
    });
    loop.call_soon([log] { log->push_back("b"); });
    co_await sleep(0);
    log->push_back("main after one yield");
    co_await sleep(0);
  }(&log));
  CHECK(log == Log{"a", "b", "main after one yield", "c (scheduled by a)"});
}

TEST_CASE("Handle.cancel(): the callback never runs; cancelled() reports it, also after running") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    Handle x = loop.call_soon([log] { log->push_back("x"); });
    Handle y = loop.call_soon([log] { log->push_back("y"); });
    Handle copy = x;
    x.cancel();
    CHECK(x.cancelled());
    CHECK(copy.cancelled());
    x.cancel();  // idempotent
    co_await sleep(0.001);
    CHECK(*log == Log{"y"});
    CHECK_FALSE(y.cancelled());
    y.cancel();  // asyncio: cancelling a handle that already ran still flags it
    CHECK(y.cancelled());
    // A callback can cancel one queued behind it in the same pass.
    Handle later;
    loop.call_soon([&later] { later.cancel(); });
    later = loop.call_soon([log] { log->push_back("later"); });
    co_await sleep(0.001);
    CHECK(*log == Log{"y"});
  }(&log));
}

TEST_CASE("a cancelled handle releases its callable at once; a run one right after running") {
  auto alive = std::make_shared<std::atomic<int>>(0);
  run([](std::shared_ptr<std::atomic<int>> alive) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    Handle a = loop.call_soon(Tracked(alive));
    TimerHandle b = loop.call_later(3600, Tracked(alive));
    CHECK(*alive == 2);
    a.cancel();
    b.cancel();
    CHECK(*alive == 0);
    Handle c = loop.call_soon(Tracked(alive));
    CHECK(*alive == 1);
    co_await sleep(0);
    CHECK(*alive == 0);  // ran; the Handle keeps only the state
  }(alive));
  CHECK(*alive == 0);
}

TEST_CASE("empty Handle / TimerHandle: InvalidStateError") {
  Handle h;
  TimerHandle t;
  CHECK_FALSE(h.valid());
  CHECK_THROWS_AS(h.cancel(), InvalidStateError);
  CHECK_THROWS_AS(static_cast<void>(h.cancelled()), InvalidStateError);
  CHECK_THROWS_AS(static_cast<void>(t.when()), InvalidStateError);
}

// ---- exceptions ----

TEST_CASE("an exception escaping a callback goes to the exception handler; the loop goes on") {
  std::vector<ExceptionContext> seen;
  Log log;
  run([](std::vector<ExceptionContext>* seen, Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    loop.set_exception_handler([seen](const ExceptionContext& c) { seen->push_back(c); });
    loop.call_soon([] { throw std::invalid_argument("bad value"); });
    loop.call_later(0.001, [] { throw CancelledError(); });  // BaseException: reported too
    loop.call_soon([log] { log->push_back("next callback runs"); });
    co_await sleep(0.01);
    log->push_back("main runs");
  }(&seen, &log));
  CHECK(log == Log{"next callback runs", "main runs"});
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].message.rfind("Exception in callback", 0) == 0);
  CHECK(seen[0].task_name.empty());
  CHECK_THROWS_WITH_AS(std::rethrow_exception(seen[0].exception), "bad value", std::invalid_argument);
  CHECK(seen[1].message.rfind("Exception in callback", 0) == 0);
  CHECK_THROWS_AS(std::rethrow_exception(seen[1].exception), CancelledError);
}

// ---- call_soon_threadsafe ----

TEST_CASE("call_soon_threadsafe on the loop's own thread is call_soon (test_call_soon_threadsafe_same_thread)") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    auto cb = [log](const char* arg) { log->push_back(arg); };
    loop.call_soon_threadsafe(cb, "hello");
    loop.call_soon(cb, "world");
    Handle h = loop.call_soon_threadsafe(cb, "cancelled");
    h.cancel();
    co_await sleep(0.001);
  }(&log));
  CHECK(log == Log{"hello", "world"});
}

TEST_CASE("call_soon_threadsafe from another thread wakes a sleeping loop (test_call_soon_threadsafe)") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    std::thread t;
    const double t0 = loop.time();
    double woke = 0;
    t = std::thread([&loop, log, &woke] {
      std::this_thread::sleep_for(20ms);
      loop.call_soon_threadsafe([log, &loop, &woke](const char* arg) {
        woke = loop.time();
        log->push_back(arg);
      }, "hello");
    });
    loop.call_soon([log] { log->push_back("world"); });
    // The loop sleeps on a long timer; the post must wake it well before.
    const bool got = co_await wait_until([log] { return log->size() == 2; });
    t.join();
    CHECK(got);
    CHECK(woke - t0 >= 0.019);
  }(&log));
  CHECK(log == Log{"world", "hello"});
}

TEST_CASE("call_soon_threadsafe from several threads at once: every call runs once, per-thread FIFO") {
  constexpr int threads = 4, per_thread = 2000;
  std::vector<std::vector<int>> seen(threads);  // touched on the loop's thread only
  run([](std::vector<std::vector<int>>* seen) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    int total = 0;
    std::vector<std::thread> ts;
    for (int k = 0; k < threads; ++k) {
      ts.emplace_back([&loop, seen, &total, k] {
        for (int i = 0; i < per_thread; ++i) {
          loop.call_soon_threadsafe([seen, &total, k, i] {
            (*seen)[static_cast<std::size_t>(k)].push_back(i);
            ++total;
          });
          if (i % 256 == 0) std::this_thread::yield();
        }
      });
    }
    const bool all = co_await wait_until([&total] { return total == threads * per_thread; });
    for (auto& t : ts) t.join();
    CHECK(all);
  }(&seen));
  for (auto& s : seen) {
    REQUIRE(s.size() == static_cast<std::size_t>(per_thread));
    bool in_order = true;
    for (int i = 0; i < per_thread; ++i) in_order = in_order && s[static_cast<std::size_t>(i)] == i;
    CHECK(in_order);
  }
}

TEST_CASE("a call_soon_threadsafe handle cancelled by its thread before the loop gets to it never runs") {
  bool ran = false, other_ran = false;
  run([](bool* ran, bool* other_ran) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    std::promise<void> posted;
    std::thread t([&] {
      Handle h = loop.call_soon_threadsafe([ran] { *ran = true; });
      loop.call_soon_threadsafe([other_ran] { *other_ran = true; });
      h.cancel();
      h.cancel();
      posted.set_value();
    });
    posted.get_future().wait();  // the loop is blocked: nothing ran yet
    t.join();
    co_await wait_until([other_ran] { return *other_ran; });
    co_await sleep(0.001);
  }(&ran, &other_ran));
  CHECK(other_ran);
  CHECK_FALSE(ran);
}

TEST_CASE("the wake-up handle never keeps the loop alive, and closes with it") {
  // Nothing else to wait for: run() returns at once although other threads
  // could still post; valgrind/LSan would flag the async handle if it leaked.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    run([]() -> Coro<void> {
      get_running_loop().call_soon_threadsafe([] {});
      co_return;
    }());
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("loop close: queued callbacks are dropped unrun and freed; later calls raise 'Event loop is closed'") {
  auto alive = std::make_shared<std::atomic<int>>(0);
  std::string from_thread, on_loop;
  bool closed_seen = false;
  Handle posted;
  {
    EventLoop loop;  // never runs: whatever was queued is dropped by close()
    std::thread([&] { posted = loop.call_soon_threadsafe(Tracked(alive)); }).join();
    loop.call_soon(Tracked(alive));
    loop.call_later(0.001, Tracked(alive));
    loop.call_later(3600, Tracked(alive));
    // Destroyed during close, after the loop stopped taking callbacks:
    // tries both doors then.
    struct Probe {
      EventLoop* loop;
      std::string* from_thread;
      std::string* on_loop;
      bool* closed_seen;
      bool armed = true;
      Probe(EventLoop* l, std::string* a, std::string* b, bool* c) : loop(l), from_thread(a), on_loop(b), closed_seen(c) {}
      Probe(Probe&& o) noexcept : loop(o.loop), from_thread(o.from_thread), on_loop(o.on_loop), closed_seen(o.closed_seen) {
        o.armed = false;
      }
      void operator()() const {}
      ~Probe() {
        if (!armed) return;
        *closed_seen = loop->is_closed();
        std::thread([this] {
          try {
            loop->call_soon_threadsafe([] {});
          } catch (const RuntimeError& e) {
            *from_thread = e.what();
          }
        }).join();
        try {
          loop->call_soon([] {});
        } catch (const RuntimeError& e) {
          *on_loop = e.what();
        }
      }
    };
    loop.call_soon(Probe(&loop, &from_thread, &on_loop, &closed_seen));
    CHECK(*alive == 4);
    CHECK_FALSE(loop.is_closed());
  }
  CHECK(*alive == 0);
  CHECK(closed_seen);
  CHECK(from_thread == "Event loop is closed");
  CHECK(on_loop == "Event loop is closed");
  CHECK(posted.valid());
  CHECK_FALSE(posted.cancelled());
  posted.cancel();  // the loop is gone: only flags it
  CHECK(posted.cancelled());
}

TEST_CASE("handles outlive the loop") {
  Handle h;
  TimerHandle t;
  run([](Handle* h, TimerHandle* t) -> Coro<void> {
    *h = get_running_loop().call_soon([] {});
    *t = get_running_loop().call_later(10, [] {});
    co_return;
  }(&h, &t));
  CHECK_FALSE(h.cancelled());
  CHECK(t.when() > 0);
  t.cancel();
  CHECK(t.cancelled());
}
