// The loop's timer callbacks: call_later and call_at (TimerHandle, deadline
// then FIFO order, never early, cancellation, bad delays, run()'s exit) and
// the thread check on scheduling calls. Scenarios ported from CPython's
// test_asyncio (test_base_events.py, test_events.py).
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

using support::wait_until;

// ---- call_later / call_at ----

TEST_CASE("call_later: by deadline, then FIFO; never early (test_events.test_call_later)") {
  Log log;
  std::vector<double> late;  // time() - when() at each run
  run([](Log* log, std::vector<double>* late) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    std::vector<TimerHandle> hs;
    auto note = [&loop, log, late, &hs](std::string what, std::size_t i) {
      late->push_back(loop.time() - hs[i].when());
      log->push_back(std::move(what));
    };
    const double t0 = loop.time();
    hs.push_back(loop.call_later(0.03, note, "30ms", 0));
    hs.push_back(loop.call_later(0.01, note, "10ms", 1));
    hs.push_back(loop.call_later(20ms, note, "20ms", 2));
    hs.push_back(loop.call_later(0.001, note, "1ms", 3));
    CHECK(hs[0].when() >= t0 + 0.03);
    CHECK(hs[0].when() < t0 + 0.03 + 0.01);
    CHECK(hs[2].when() < hs[0].when());
    co_await sleep(0.05);
  }(&log, &late));
  CHECK(log == Log{"1ms", "10ms", "20ms", "30ms"});
  for (double d : late) CHECK(d >= 0.0);
}

TEST_CASE("call_later with negative delays: due at once, earliest deadline first (test_base_events)") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    auto cb = [log](const char* arg) { log->push_back(arg); };
    loop.call_later(-1, cb, "a");
    loop.call_later(-2, cb, "b");
    co_await sleep(0.005);
  }(&log));
  CHECK(log == Log{"b", "a"});
}

TEST_CASE("due timers join the ready queue behind call_soon callbacks, as in asyncio") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    auto cb = [log](const char* arg) { log->push_back(arg); };
    loop.call_later(0, cb, "b");
    loop.call_soon(cb, "a");
    loop.call_later(-1, cb, "c");
    loop.call_soon(cb, "y");
    co_await sleep(0.01);
  }(&log));
  CHECK(log == Log{"a", "y", "c", "b"});  // what CPython 3.11 prints
}

TEST_CASE("call_at: runs once time() >= when; when() is exactly what was asked (test_time_and_call_at)") {
  run([]() -> Coro<void> {
    EventLoop& loop = get_running_loop();
    const double delay = 0.02;
    const double when = loop.time() + delay;
    double ran_at = -1;
    TimerHandle h = loop.call_at(when, [&loop, &ran_at] { ran_at = loop.time(); });
    CHECK(h.when() == when);
    const double t0 = loop.time();
    CHECK(co_await wait_until([&] { return ran_at >= 0; }));
    CHECK(ran_at >= when);
    CHECK(ran_at - t0 >= delay - 0.001);
    // Equal deadlines run in call order.
    std::vector<int> order;
    const double w = loop.time() + 0.002;
    for (int i = 0; i < 20; ++i) loop.call_at(w, [&order, i] { order.push_back(i); });
    loop.call_at(w - 1, [&order] { order.push_back(-1); });  // in the past: first
    co_await sleep(0.01);
    REQUIRE(order.size() == 21);
    CHECK(order[0] == -1);
    for (int i = 0; i < 20; ++i) CHECK(order[static_cast<std::size_t>(i) + 1] == i);
  }());
}

TEST_CASE("never early: sub-millisecond and odd delays still wait their full time") {
  run([]() -> Coro<void> {
    EventLoop& loop = get_running_loop();
    int done = 0;
    std::vector<TimerHandle> hs;
    for (double d : {1e-9, 1e-6, 0.0004, 0.0011, 0.0017, 0.003}) {
      const double asked = loop.time();
      hs.push_back(loop.call_later(d, [&loop, &done, asked, d] {
        CHECK(loop.time() >= asked + d);
        ++done;
      }));
    }
    CHECK(co_await wait_until([&] { return done == 6; }));
    for (auto& h : hs) CHECK(h.when() <= loop.time());
  }());
}

TEST_CASE("TimerHandle.cancel(): never runs, also when cancelled by a callback due at the same time") {
  Log log;
  run([](Log* log) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    TimerHandle h = loop.call_later(0.005, [log] { log->push_back("cancelled one ran"); });
    h.cancel();
    CHECK(h.cancelled());
    const double w = loop.time() + 0.005;
    TimerHandle second;
    loop.call_at(w, [&second, log] {
      log->push_back("first");
      second.cancel();
    });
    second = loop.call_at(w, [log] { log->push_back("second ran"); });
    co_await sleep(0.02);
  }(&log));
  CHECK(log == Log{"first"});
}

TEST_CASE("a pending call_later neither delays run()'s exit nor runs after it") {
  bool ran = false;
  const auto t0 = std::chrono::steady_clock::now();
  run([](bool* ran) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    loop.call_later(3600, [ran] { *ran = true; });
    loop.call_later(0.5, [ran] { *ran = true; });
    // A task still pending at the end is cancelled while those timers wait.
    create_task([]() -> Coro<void> { co_await sleep(3600); }());
    co_await sleep(0);
  }(&ran));
  CHECK_FALSE(ran);
  CHECK(std::chrono::steady_clock::now() - t0 < 0.4s);
}

TEST_CASE("bad delays: NaN is rejected, infinity never fires") {
  run([]() -> Coro<void> {
    EventLoop& loop = get_running_loop();
    CHECK_THROWS_AS(loop.call_later(std::nan(""), [] {}), std::invalid_argument);
    CHECK_THROWS_AS(loop.call_at(std::nan(""), [] {}), std::invalid_argument);
    bool ran = false;
    TimerHandle h = loop.call_later(INFINITY, [&ran] { ran = true; });
    CHECK(std::isinf(h.when()) == false);  // clamped to the end of the clock
    TimerHandle h2 = loop.call_at(1e300, [&ran] { ran = true; });
    co_await sleep(0.002);
    CHECK_FALSE(ran);
    h.cancel();
    h2.cancel();
    loop.call_at(0, [&ran] { ran = true; });  // long past
    co_await sleep(0.002);
    CHECK(ran);
  }());
}

TEST_CASE("call_soon / call_later / call_at from another thread: RuntimeError (test_check_thread)") {
  std::string errors[3];
  run([](std::string* errors) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    std::thread t([&loop, errors] {
      try {
        loop.call_soon([] {});
      } catch (const RuntimeError& e) {
        errors[0] = e.what();
      }
      try {
        loop.call_later(60, [] {});
      } catch (const RuntimeError& e) {
        errors[1] = e.what();
      }
      try {
        loop.call_at(loop.time() + 60, [] {});
      } catch (const RuntimeError& e) {
        errors[2] = e.what();
      }
    });
    t.join();
    co_return;
  }(errors));
  for (auto& e : errors) CHECK(e == "Non-thread-safe operation invoked on an event loop other than the current one");
}

