// gather(): argument order, void children, empty input, mixed Coro/Task, the
// range forms, return_exceptions with Outcome<T>, and asyncio's error rules.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>


using namespace asyncuv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

Coro<int> value_after(int v, std::chrono::milliseconds d, Log* log = nullptr) {
  if (log) log->push_back("start " + std::to_string(v));
  co_await sleep(d);
  if (log) log->push_back("end " + std::to_string(v));
  co_return v;
}

Coro<std::string> text_after(std::string s, std::chrono::milliseconds d) {
  co_await sleep(d);
  co_return s;
}

Coro<void> nothing_after(std::chrono::milliseconds d, Log* log) {
  co_await sleep(d);
  log->push_back("void done");
}

Coro<int> fail_after(std::string msg, std::chrono::milliseconds d) {
  co_await sleep(d);
  throw std::runtime_error(msg);
}

TEST_CASE("results come back in argument order whatever the completion order") {
  Log log;
  auto r = run([](Log* log) -> Coro<std::tuple<int, std::string, int>> {
    auto [a, b, c] = co_await gather(value_after(1, 15ms, log), text_after("two", 1ms), value_after(3, 5ms, log));
    co_return std::tuple{a, b, c};
  }(&log));
  CHECK(r == std::tuple{1, std::string("two"), 3});
  // Children start in argument order (asyncio wraps them left to right).
  CHECK(log == Log{"start 1", "start 3", "end 3", "end 1"});
}

TEST_CASE("gather runs its children concurrently") {
  run([]() -> Coro<void> {
    auto t0 = Clock::now();
    co_await gather(value_after(1, 20ms), value_after(2, 20ms), value_after(3, 20ms));
    auto elapsed = Clock::now() - t0;
    CHECK(elapsed >= 20ms);
    CHECK(elapsed < 60ms * 20);  // generous; sequential would be 60 ms (this only catches gross errors)
  }());
}

TEST_CASE("void children give std::monostate") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto r = co_await gather(nothing_after(1ms, log), value_after(7, 0ms));
    static_assert(std::is_same_v<decltype(r), std::tuple<std::monostate, int>>);
    CHECK(std::get<1>(r) == 7);
    std::vector<Coro<void>> vs;
    for (int i = 0; i < 3; ++i) vs.push_back(nothing_after(1ms, log));
    auto v = co_await gather(std::move(vs));
    static_assert(std::is_same_v<decltype(v), std::vector<std::monostate>>);
    CHECK(v.size() == 3);
  }(&log));
  CHECK(log.size() == 4);
}

TEST_CASE("an empty gather returns at once") {
  run([]() -> Coro<void> {
    auto t = create_task([]() -> Coro<int> { co_return 1; }());
    auto e = co_await gather();
    static_assert(std::is_same_v<decltype(e), std::tuple<>>);
    auto v = co_await gather(std::vector<Coro<int>>{});
    CHECK(v.empty());
    auto w = co_await gather(std::vector<Task<int>>{});
    CHECK(w.empty());
    auto o = co_await gather(return_exceptions, std::vector<Coro<int>>{});
    CHECK(o.empty());
    CHECK_FALSE(t.done());  // none of these yielded to the loop
    co_await t;
  }());
}

TEST_CASE("Coros and Tasks mix in one gather") {
  auto r = run([]() -> Coro<int> {
    auto t = create_task(value_after(10, 2ms));
    const auto u = create_task(text_after("u", 1ms));
    auto [a, b, c, d] = co_await gather(value_after(1, 3ms), t, u, text_after("d", 0ms));
    co_return a + b + (c == "u" ? 100 : 0) + (d == "d" ? 1000 : 0);
  }());
  CHECK(r == 1111);
}

TEST_CASE("range form over std::vector<Coro<T>> and std::vector<Task<T>>") {
  auto r = run([]() -> Coro<std::vector<int>> {
    std::vector<Coro<int>> coros;
    for (int i = 0; i < 5; ++i) coros.push_back(value_after(i, std::chrono::milliseconds(5 - i)));
    std::vector<int> out = co_await gather(std::move(coros));
    std::vector<Task<int>> tasks;
    for (int i = 5; i < 10; ++i) tasks.push_back(create_task(value_after(i, std::chrono::milliseconds(10 - i))));
    std::vector<int> more = co_await gather(tasks);
    CHECK(tasks.size() == 5);  // the range is copied, not consumed
    CHECK(tasks[0].result() == 5);
    out.insert(out.end(), more.begin(), more.end());
    co_return out;
  }());
  CHECK(r == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("the same task twice in one gather") {
  auto r = run([]() -> Coro<int> {
    auto t = create_task(value_after(4, 1ms));
    auto [a, b] = co_await gather(t, t);
    co_return a + b;
  }());
  CHECK(r == 8);
}

TEST_CASE("a moved-in vector of tasks, one of them twice: gather lets go of each as it collects, the caller's handles stay good") {
  auto r = run([]() -> Coro<int> {
    auto t = create_task(value_after(4, 1ms));
    auto u = create_task(value_after(5, 0ms));
    std::vector<Task<int>> tasks{t, t, u};
    std::vector<int> v = co_await gather(std::move(tasks));
    CHECK(v == std::vector<int>{4, 4, 5});
    co_return t.result() + u.result() + co_await t;
  }());
  CHECK(r == 13);
}

// Counts its copies (moves are free): what gather hands over without copying.
struct Counted {
  explicit Counted(int v) : v(v) {}
  Counted(const Counted& o) : v(o.v) { ++copies; }
  Counted(Counted&& o) noexcept = default;
  Counted& operator=(const Counted&) = delete;
  int v;
  static inline int copies = 0;
};

Coro<Counted> counted_after(int v, std::chrono::milliseconds d) {
  co_await sleep(d);
  co_return Counted(v);
}

TEST_CASE("a copyable result is moved out of a task whose last handle is gather's, copied from one held elsewhere") {
  run([]() -> Coro<void> {
    Counted::copies = 0;
    auto [a, b] = co_await gather(counted_after(1, 1ms), create_task(counted_after(2, 0ms)));
    std::vector<Coro<Counted>> coros;
    coros.push_back(counted_after(3, 0ms));
    std::vector<Counted> c = co_await gather(std::move(coros));
    std::vector<Task<Counted>> tasks;
    tasks.push_back(create_task(counted_after(4, 0ms)));
    std::vector<Counted> d = co_await gather(std::move(tasks));
    auto [e] = co_await gather(return_exceptions, create_task(counted_after(5, 0ms)));
    Task<Counted> early = create_task(counted_after(6, 0ms));
    for (int i = 0; i < 5; ++i) co_await sleep(0ms);  // long done: the loop may have let go of it
    auto [f] = co_await gather(std::move(early));
    CHECK(a.v + b.v + c.at(0).v + d.at(0).v + e.value().v + f.v == 21);
    CHECK(Counted::copies == 0);

    // Someone else may still read these results: they stay in the task.
    Task<Counted> kept = create_task(counted_after(7, 0ms));
    auto [g] = co_await gather(kept);
    std::vector<Task<Counted>> handles{kept};
    std::vector<Counted> h = co_await gather(handles);
    std::vector<Counted> i = co_await gather(std::move(handles));
    auto [j] = co_await gather(return_exceptions, kept);
    CHECK(g.v + h.at(0).v + i.at(0).v + j.value().v == 28);
    CHECK(kept.result().v == 7);
    CHECK(Counted::copies == 4);
  }());
}

TEST_CASE("gather is a lazy Coro; create_task(gather(...)) starts the children now") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto g = gather(value_after(1, 0ms, log));
    co_await sleep(1ms);
    CHECK(log->empty());  // nothing ran: the gather was not awaited
    auto t = create_task(gather(value_after(2, 1ms, log), value_after(3, 1ms, log)));
    co_await sleep(0);  // t's first step schedules the children
    co_await sleep(0);
    CHECK(*log == Log{"start 2", "start 3"});
    auto [x, y] = co_await t;
    CHECK(x + y == 5);
    auto [z] = co_await g;
    CHECK(z == 1);
  }(&log));
}

TEST_CASE("return_exceptions: every child's value or exception, as Outcome<T>") {
  run([]() -> Coro<void> {
    auto slow = create_task(value_after(9, 10s));
    auto canceller = create_task([](Task<int> s) -> Coro<void> {
      co_await sleep(2ms);
      s.cancel();
    }(slow));
    Log log;
    auto [a, b, c, d] = co_await gather(return_exceptions, value_after(1, 3ms), fail_after("bad", 1ms),
                                        nothing_after(2ms, &log), slow);
    static_assert(std::is_same_v<decltype(a), Outcome<int>>);
    static_assert(std::is_same_v<decltype(c), Outcome<void>>);
    CHECK(a.has_value());
    CHECK(a.value() == 1);
    CHECK(a.error() == nullptr);
    CHECK(static_cast<bool>(a));

    CHECK_FALSE(b.has_value());
    CHECK_FALSE(static_cast<bool>(b));
    REQUIRE(b.error() != nullptr);
    CHECK_THROWS_WITH_AS(b.value(), "bad", std::runtime_error);

    CHECK(c.has_value());
    c.value();
    CHECK(c.error() == nullptr);

    CHECK_FALSE(d.has_value());  // a cancelled child gives a CancelledError
    bool cancelled = false;
    try {
      d.value();
    } catch (const CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    co_await canceller;

    // Range form, void range form.
    std::vector<Coro<int>> cs;
    cs.push_back(fail_after("first", 1ms));
    cs.push_back(value_after(2, 0ms));
    auto outs = co_await gather(return_exceptions, std::move(cs));
    REQUIRE(outs.size() == 2);
    CHECK_THROWS_WITH(outs[0].value(), "first");
    CHECK(outs[1].value() == 2);

    std::vector<Task<void>> vts;
    vts.push_back(create_task(nothing_after(0ms, &log)));
    vts.push_back(create_task([]() -> Coro<void> {
      co_await sleep(0);
      throw std::logic_error("void failed");
    }()));
    auto vouts = co_await gather(return_exceptions, vts);
    static_assert(std::is_same_v<decltype(vouts), std::vector<Outcome<void>>>);
    CHECK(vouts[0].has_value());
    CHECK_THROWS_WITH_AS(vouts[1].value(), "void failed", std::logic_error);
  }());
}

TEST_CASE("Outcome<T> on its own") {
  Outcome<int> v(3);
  CHECK(v.has_value());
  CHECK(v.value() == 3);
  Outcome<int> e(std::make_exception_ptr(std::out_of_range("oor")));
  CHECK_FALSE(e.has_value());
  CHECK_THROWS_AS(e.value(), std::out_of_range);
  Outcome<void> ok;
  CHECK(ok.has_value());
  CHECK_NOTHROW(ok.value());
  Outcome<void> bad(std::make_exception_ptr(std::runtime_error("x")));
  CHECK_FALSE(bad.has_value());
  CHECK_THROWS_AS(bad.value(), std::runtime_error);
}

TEST_CASE("the first exception propagates at once while the siblings keep running") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto sibling = create_task(value_after(5, 20ms, log));
    auto t0 = Clock::now();
    try {
      co_await gather(fail_after("first", 1ms), sibling, value_after(6, 30ms, log));
      log->push_back("not reached");
    } catch (const std::runtime_error& e) {
      log->push_back(std::string("caught ") + e.what());
    }
    CHECK(Clock::now() - t0 < 20ms * 50);
    CHECK_FALSE(sibling.done());  // still running, not cancelled
    CHECK(co_await sibling == 5);
    co_await sleep(15ms);  // the unnamed sibling finishes too
  }(&log));
  CHECK(log == Log{"start 5", "start 6", "caught first", "end 5", "end 6"});
}

TEST_CASE("a gather that already failed does not report its siblings' later exceptions") {
  // asyncio's gather retrieves every child's exception: none is "never retrieved".
  std::vector<ExceptionContext> seen;
  run([](std::vector<ExceptionContext>* seen) -> Coro<void> {
    get_running_loop().set_exception_handler([seen](const ExceptionContext& c) { seen->push_back(c); });
    try {
      co_await gather(fail_after("a", 1ms), fail_after("b", 5ms));
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) == "a");
    }
    co_await sleep(10ms);
  }(&seen));
  CHECK(seen.empty());
}

TEST_CASE("a child that already failed before the gather ran") {
  run([]() -> Coro<void> {
    auto bad = create_task(fail_after("early", 0ms));
    co_await sleep(2ms);
    REQUIRE(bad.done());
    bool caught = false;
    try {
      co_await gather(value_after(1, 1ms), bad);
    } catch (const std::runtime_error&) {
      caught = true;
    }
    CHECK(caught);
  }());
}

TEST_CASE("a child cancelled from outside makes gather raise CancelledError") {
  auto r = run([]() -> Coro<int> {
    auto slow = create_task(value_after(1, 10s));
    auto other = create_task(value_after(2, 5ms));
    auto g = create_task(gather(slow, other));
    co_await sleep(1ms);
    slow.cancel();
    try {
      co_await g;
    } catch (const CancelledError&) {
      // The gather's own task ends with the CancelledError it raised.
      co_return g.cancelled() && !other.cancelled() ? 1 : 2;
    }
    co_return 0;
  }());
  CHECK(r == 1);
}

}  // namespace
