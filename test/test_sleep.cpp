// sleep(): never early, sub-millisecond delays still wait for a timer, <= 0
// yields once without a timer, deadline order with FIFO ties, sleep(d, value),
// cancellation stops the timer, and 100,000 concurrent sleepers. (The timer
// heap and the delay conversions themselves: test_detail_timers.cpp.)
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>


using namespace asyncuv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Whether the loop's single uv_timer_t is armed right now.
bool timer_armed() {
  bool armed = false;
  uv_walk(
      get_running_loop().uv_loop(),
      [](uv_handle_t* h, void* arg) {
        if (h->type == UV_TIMER && uv_is_active(h)) *static_cast<bool*>(arg) = true;
      },
      &armed);
  return armed;
}

TEST_CASE("sleep is never early, measured with steady_clock") {
  run([]() -> Coro<void> {
    const std::vector<std::chrono::nanoseconds> delays{1ms, 2ms, 1500us, 999us, 3ms, 10ms, 1ns, 1001us};
    for (int round = 0; round < 3; ++round) {
      for (auto d : delays) {
        auto t0 = Clock::now();
        co_await sleep(d);
        auto elapsed = Clock::now() - t0;
        CHECK(elapsed >= d);
        CHECK(elapsed < d + 2s);  // generous: only catches "never woke"
      }
    }
    // The double overload too.
    auto t0 = Clock::now();
    co_await sleep(0.0025);
    CHECK(Clock::now() - t0 >= 2500us);
    t0 = Clock::now();
    co_await sleep(std::chrono::duration<double, std::milli>(1.25));
    CHECK(Clock::now() - t0 >= 1250us);
  }());
}

TEST_CASE("a sub-millisecond sleep waits for a timer, it is not a bare yield") {
  run([]() -> Coro<void> {
    // libuv counts whole milliseconds: each of these waits into the next
    // millisecond at least, so 20 in a row take 19 ms or more (a yield
    // would take microseconds).
    auto t0 = Clock::now();
    for (int i = 0; i < 20; ++i) co_await sleep(1ns);
    CHECK(Clock::now() - t0 >= 19ms);
  }());
}

TEST_CASE("sleep(0) and negative delays yield once without touching a timer") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto probe = [](Log* log, std::string name) -> Coro<void> {
      log->push_back(name + (timer_armed() ? " armed" : " idle"));
      co_return;
    };
    create_task(probe(log, "p0"));
    co_await sleep(0);
    log->push_back("after 0");
    create_task(probe(log, "p1"));
    co_await sleep(-1);
    log->push_back("after -1");
    create_task(probe(log, "p2"));
    co_await sleep(-5ms);
    log->push_back("after -5ms");
    create_task(probe(log, "p3"));
    co_await sleep(0ns);
    log->push_back("after 0ns");
    auto t0 = Clock::now();
    for (int i = 0; i < 1000; ++i) co_await sleep(0);
    CHECK(Clock::now() - t0 < 900ms);  // with a timer each would take >= 1 ms
  }(&log));
  CHECK(log == Log{"p0 idle", "after 0", "p1 idle", "after -1", "p2 idle", "after -5ms", "p3 idle", "after 0ns"});
}

TEST_CASE("sleep(0) round-robins fairly among tasks") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto worker = [](Log* log, std::string name) -> Coro<void> {
      for (int i = 0; i < 3; ++i) {
        log->push_back(name + std::to_string(i));
        co_await sleep(0);
      }
    };
    auto a = create_task(worker(log, "a"));
    auto b = create_task(worker(log, "b"));
    auto c = create_task(worker(log, "c"));
    co_await gather(a, b, c);
  }(&log));
  CHECK(log == Log{"a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"});
}

Coro<void> sleeper(Log* log, std::string name, std::chrono::milliseconds d) {
  co_await sleep(d);
  log->push_back(std::move(name));
}

TEST_CASE("timers fire in deadline order, FIFO among equal delays") {
  Log log;
  run([](Log* log) -> Coro<void> {
    std::vector<Task<void>> ts;
    ts.push_back(create_task(sleeper(log, "30", 30ms)));
    ts.push_back(create_task(sleeper(log, "10", 10ms)));
    ts.push_back(create_task(sleeper(log, "20", 20ms)));
    ts.push_back(create_task(sleeper(log, "10b", 10ms)));
    ts.push_back(create_task(sleeper(log, "10c", 10ms)));
    ts.push_back(create_task(sleeper(log, "1", 1ms)));
    co_await gather(ts);
  }(&log));
  CHECK(log == Log{"1", "10", "10b", "10c", "20", "30"});
}

TEST_CASE("sleep(d, value) returns the value") {
  auto r = run([]() -> Coro<std::string> {
    int a = co_await sleep(1ms, 5);
    double b = co_await sleep(0.001, 2.5);
    std::string c = co_await sleep(0, std::string("zero"));
    std::unique_ptr<int> d = co_await sleep(-1.0, std::make_unique<int>(9));
    auto t0 = Clock::now();
    int e = co_await sleep(2ms, 1);
    CHECK(Clock::now() - t0 >= 2ms);
    co_return std::to_string(a) + " " + std::to_string(b).substr(0, 3) + " " + c + " " + std::to_string(*d) + " " +
        std::to_string(e);
  }());
  CHECK(r == "5 2.5 zero 9 1");
}

TEST_CASE("cancelling a sleeping task stops its timer at once") {
  run([]() -> Coro<void> {
    auto t0 = Clock::now();
    auto t = create_task([]() -> Coro<void> { co_await sleep(3600.0); }());
    co_await sleep(0);
    CHECK(timer_armed());
    t.cancel();
    co_await sleep(0);
    CHECK(t.cancelled());
    CHECK_FALSE(timer_armed());
    CHECK(Clock::now() - t0 < 60s);
  }());
}

TEST_CASE("a huge sleep can be cancelled, and the loop stays responsive meanwhile") {
  run([]() -> Coro<void> {
    auto t = create_task([]() -> Coro<void> { co_await sleep(std::chrono::hours::max()); }());
    auto u = create_task([]() -> Coro<void> { co_await sleep(1e300); }());
    auto t0 = Clock::now();
    co_await sleep(5ms);
    CHECK(Clock::now() - t0 >= 5ms);
    CHECK_FALSE(t.done());
    CHECK_FALSE(u.done());
    t.cancel();
    u.cancel();
    co_await sleep(0);
    CHECK(t.cancelled());
    CHECK(u.cancelled());
  }());
}

Coro<int> value_after_ms(int v, int ms) {
  co_await sleep(std::chrono::milliseconds(ms));
  co_return v;
}

TEST_CASE("100,000 concurrent sleeping tasks") {
  auto r = run([]() -> Coro<long> {
    constexpr int n = 100'000;
    std::vector<Task<int>> ts;
    ts.reserve(n);
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) ts.push_back(create_task(value_after_ms(i, 5 + i % 10)));
    auto values = co_await gather(ts);
    CHECK(Clock::now() - t0 >= 14ms);
    long sum = 0;
    for (int v : values) sum += v;
    co_return sum;
  }());
  CHECK(r == 100'000L * 99'999L / 2);
}

}  // namespace
