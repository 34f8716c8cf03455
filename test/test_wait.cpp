// wait(), as_completed() and shield(): return_when, timeouts, never raising
// or cancelling the tasks, completion order, and shield's one-way
// cancellation (ported from CPython's test_tasks.py wait/as_completed/shield).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>


using namespace asyncuv;
using namespace std::chrono_literals;

using support::awaited;
using support::outcome;
using support::value_after;

namespace {



Coro<int> fail_after(std::string msg, std::chrono::milliseconds d) {
  co_await sleep(d);
  throw std::runtime_error(msg);
}

template <class T>
bool contains(const std::vector<Task<T>>& v, const Task<T>& t) {
  return std::any_of(v.begin(), v.end(), [&](const Task<T>& x) { return x == t; });
}

double now() { return get_running_loop().time(); }

// std::vector{a, b} inside a co_await expression trips g++ 12 ("array used
// as initializer": the initializer_list's array); build the vector apart.
template <class T, class... U>
std::vector<Task<T>> tasks(Task<T> first, U... rest) {
  std::vector<Task<T>> v;
  v.push_back(std::move(first));
  (v.push_back(std::move(rest)), ...);
  return v;
}

Coro<void> sleep_void(std::chrono::milliseconds d) { co_await sleep(d); }

// An as_completed awaitable as a coroutine (to run it in a task, or catch).
template <class A>
auto result_of(A f) -> Coro<std::remove_cvref_t<decltype(std::declval<A&>().operator co_await().await_resume())>> {
  co_return co_await f;
}
template <class T>
Coro<int> wrap_next(AsCompleted<T>& ac) {
  co_await ac.next();
  co_return 0;
}

// ---------------- wait ----------------

TEST_CASE("wait: ALL_COMPLETED waits for every task; done keeps input order (test_wait)") {
  run([]() -> Coro<void> {
    auto a = create_task(value_after(1, 10ms));
    auto b = create_task(value_after(2, 2ms));
    const double t0 = now();
    auto [done, pending] = co_await wait(tasks(a, b));
    CHECK(now() - t0 >= 0.009);
    REQUIRE(done.size() == 2);
    CHECK(pending.empty());
    CHECK(done[0] == a);
    CHECK(done[1].result() == 2);
    // Waiting again on done tasks returns at once (after one yield).
    auto again = co_await wait(done);
    CHECK(again.done.size() == 2);
  }());
}

TEST_CASE("wait: FIRST_COMPLETED returns as soon as one task is done") {
  run([]() -> Coro<void> {
    auto slow = create_task(value_after(1, 10s));
    auto fast = create_task(value_after(2, 2ms));
    auto r = co_await wait(tasks(slow, fast), FIRST_COMPLETED);
    REQUIRE(r.done.size() == 1);
    CHECK(r.done[0] == fast);
    REQUIRE(r.pending.size() == 1);
    CHECK(r.pending[0] == slow);
    CHECK_FALSE(slow.done());  // never cancelled by wait
    slow.cancel();
  }());
}

TEST_CASE("wait: FIRST_EXCEPTION stops at the first failure, else waits for all; never raises") {
  run([]() -> Coro<void> {
    auto a = create_task(value_after(1, 10s));
    auto b = create_task(fail_after("err", 1ms));
    auto r = co_await wait(tasks(b, a), FIRST_EXCEPTION);
    CHECK(r.done.size() == 1);
    CHECK(contains(r.done, b));
    CHECK(contains(r.pending, a));
    CHECK(b.exception() != nullptr);
    a.cancel();
    // A task that failed before the wait started (test_wait_first_exception).
    auto c = create_task(value_after(3, 10s));
    auto r2 = co_await wait(tasks(b, c), FIRST_EXCEPTION);
    CHECK(r2.done.size() == 1);
    CHECK(contains(r2.pending, c));
    c.cancel();
    // No failure, or only cancellations: everything is waited for.
    auto d = create_task(value_after(4, 2ms));
    auto e = create_task(value_after(5, 3ms));
    auto f = create_task(value_after(6, 1s));
    f.cancel();
    auto r3 = co_await wait(tasks(d, e, f), FIRST_EXCEPTION);
    CHECK(r3.done.size() == 3);
    CHECK(r3.pending.empty());
  }());
}

TEST_CASE("wait: ALL_COMPLETED with a failure waits for all and does not raise (test_wait_with_exception)") {
  run([]() -> Coro<void> {
    auto a = create_task(fail_after("boom", 1ms));
    auto b = create_task(value_after(2, 10ms));
    auto r = co_await wait(tasks(a, b));
    CHECK(r.done.size() == 2);
    CHECK(b.done());
    CHECK_THROWS_WITH(a.result(), "boom");
  }());
}

TEST_CASE("wait: a timeout leaves the unfinished tasks pending, without TimeoutError") {
  run([]() -> Coro<void> {
    auto a = create_task(value_after(1, 2ms));
    auto b = create_task(value_after(2, 10s));
    const double t0 = now();
    auto r = co_await wait(tasks(a, b), 0.02);
    CHECK(now() - t0 >= 0.019);
    CHECK(now() - t0 < 5);
    CHECK(r.done.size() == 1);
    CHECK(contains(r.pending, b));
    auto r2 = co_await wait(tasks(b), FIRST_COMPLETED, 5ms);
    CHECK(r2.pending.size() == 1);
    auto r3 = co_await wait(tasks(b), 0);  // zero: one loop iteration
    CHECK(r3.pending.size() == 1);
    auto r4 = co_await wait(tasks(b), 1ms, ALL_COMPLETED);
    CHECK(r4.pending.size() == 1);
    CHECK_FALSE(b.done());
    b.cancel();
  }());
}

TEST_CASE("wait: errors, duplicates, other ranges") {
  run([]() -> Coro<void> {
    CHECK(co_await outcome([]() -> Coro<int> {
      co_await wait(std::vector<Task<int>>{});
      co_return 0;
    }()) == "error Set of Tasks/Futures is empty.");
    auto t = create_task(value_after(1, 1ms));
    CHECK(co_await outcome([](Task<int> t) -> Coro<int> {
      co_await wait(tasks(t), static_cast<ReturnWhen>(7));
      co_return 0;
    }(t)) == "error Invalid return_when value: 7");
    // A set has no duplicates (test_wait_duplicate_coroutines).
    auto r = co_await wait(tasks(t, t, t));
    CHECK(r.done.size() == 1);
    // Any range of tasks is copied.
    const std::vector<Task<int>> list{create_task(value_after(2, 1ms)), create_task(value_after(3, 2ms))};
    auto r2 = co_await wait(list);
    CHECK(r2.done.size() == 2);
    std::vector<Task<void>> voids{create_task(sleep_void(1ms))};
    CHECK((co_await wait(std::move(voids), FIRST_COMPLETED)).done.size() == 1);
  }());
}

TEST_CASE("cancelling a task in wait() raises CancelledError in it; the tasks run on") {
  run([]() -> Coro<void> {
    auto a = create_task(value_after(1, 20ms));
    auto waiter = create_task([](Task<int> a) -> Coro<int> {
      auto r = co_await wait(tasks(a), 10.0);
      co_return static_cast<int>(r.done.size());
    }(a));
    co_await sleep(2ms);
    waiter.cancel();
    CHECK(co_await outcome(awaited(waiter)) == "CancelledError");
    CHECK_FALSE(a.done());
    CHECK(co_await a == 1);
    // Cancelled before it first waits: still a CancelledError, nothing registered.
    auto early = create_task([](Task<int> a) -> Coro<int> {
      co_await wait(tasks(a));
      co_return 0;
    }(create_task(value_after(2, 10ms))));
    early.cancel();
    CHECK(co_await outcome(awaited(early)) == "CancelledError");
  }());
}

// ---------------- as_completed ----------------

TEST_CASE("as_completed yields results in completion order (test_as_completed)") {
  run([]() -> Coro<void> {
    std::vector<Coro<std::string>> coros;
    coros.push_back(value_after(std::string("a"), 20ms));
    coros.push_back(value_after(std::string("b"), 1ms));
    coros.push_back(value_after(std::string("c"), 40ms));
    Log got;
    auto ac = as_completed(std::move(coros));
    CHECK(ac.size() == 3);
    for (auto f : ac) got.push_back(co_await f);
    CHECK(got == Log{"b", "a", "c"});
  }());
}

TEST_CASE("as_completed: an awaitable raises the task's exception; next() gives the Task itself") {
  run([]() -> Coro<void> {
    auto bad = create_task(fail_after("bad", 1ms));
    auto good = create_task(value_after(2, 10ms));
    std::vector<std::string> got;
    for (auto f : as_completed(tasks(good, bad))) got.push_back(co_await outcome(result_of(f)));
    CHECK(got == Log{"error bad", "value 2"});
    auto ac = as_completed(tasks(good, bad));  // both already done: input order
    Task<int> first = co_await ac.next();
    Task<int> second = co_await ac.next();
    CHECK(first == good);
    CHECK(second == bad);
    CHECK(co_await outcome(wrap_next(ac)) == "error as_completed(): every task has been yielded");
  }());
}

TEST_CASE("as_completed with a timeout: finished tasks first, then TimeoutError for the rest") {
  run([]() -> Coro<void> {
    auto a = create_task(value_after(std::string("a"), 2ms));
    auto b = create_task(value_after(std::string("b"), 10s));
    Log got;
    for (auto f : as_completed(tasks(a, b), 0.2)) got.push_back(co_await outcome(result_of(f)));
    CHECK(got == Log{"value a", "TimeoutError"});
    CHECK_FALSE(b.done());  // as_completed never cancels
    // The timeout passed while nobody waited: what finished comes first.
    // (c ends before the iterator exists, so a loaded machine cannot let
    // the 5 ms timeout fire before c's end reaches it.)
    auto c = create_task(value_after(std::string("c"), 1ms));
    auto d = create_task(value_after(std::string("d"), 10s));
    co_await c;
    auto ac = as_completed(tasks(c, d), 5ms);
    co_await sleep(20ms);
    Log late;
    for (auto f : ac) late.push_back(co_await outcome(result_of(f)));
    CHECK(late == Log{"value c", "TimeoutError"});
    // A timeout that is never reached changes nothing.
    Log unused;
    for (auto f : as_completed(tasks(c), 10s)) unused.push_back(co_await f);
    CHECK(unused == Log{"c"});
    b.cancel();
    d.cancel();
  }());
}

TEST_CASE("as_completed: awaitables are interchangeable (test_as_completed_reverse_wait)") {
  run([]() -> Coro<void> {
    std::vector<Coro<std::string>> coros;
    coros.push_back(value_after(std::string("a"), 5ms));
    coros.push_back(value_after(std::string("b"), 15ms));
    auto ac = as_completed(std::move(coros));
    auto it = ac.begin();
    auto f0 = *it;
    auto f1 = *++it;
    CHECK(++it == ac.end());
    CHECK(co_await f1 == "a");
    CHECK(co_await f0 == "b");
  }());
}

TEST_CASE("as_completed: concurrent awaits from several tasks, and duplicates count once") {
  run([]() -> Coro<void> {
    auto a = create_task(value_after(std::string("a"), 5ms));
    auto b = create_task(value_after(std::string("b"), 5ms));
    auto ac = as_completed(tasks(a, b, a));
    CHECK(ac.size() == 2);
    std::vector<Task<std::string>> waiters;
    for (auto f : ac) waiters.push_back(create_task(result_of(f)));
    auto r = co_await wait(waiters);
    Log got;
    for (auto& t : r.done) got.push_back(t.result());
    std::sort(got.begin(), got.end());
    CHECK(got == Log{"a", "b"});
    CHECK(as_completed(std::vector<Task<int>>{}).size() == 0);
  }());
}

TEST_CASE("as_completed: a cancelled waiter hands its task on to the next waiter") {
  run([]() -> Coro<void> {
    auto a = create_task(value_after(std::string("a"), 5ms));
    auto b = create_task(value_after(std::string("b"), 30ms));
    auto ac = as_completed(tasks(a, b));
    auto it = ac.begin();
    auto first = create_task(result_of(*it));
    auto second = create_task(result_of(*++it));
    co_await sleep(1ms);
    first.cancel();
    CHECK(co_await outcome(awaited(first)) == "CancelledError");
    CHECK(co_await second == "a");
    // The cancelled await still counted: the iteration is used up.
    CHECK(co_await outcome(wrap_next(ac)) == "error as_completed(): every task has been yielded");
  }());
}

// ---------------- shield ----------------

TEST_CASE("shield passes on the result and the exception (test_shield_result/exception)") {
  run([]() -> Coro<void> {
    CHECK(co_await shield(value_after(1, 2ms)) == 1);
    auto t = create_task(fail_after("inner", 1ms));
    CHECK(co_await outcome(shield(t)) == "error inner");
    auto done = create_task(value_after(3, 0ms));
    co_await sleep(1ms);
    CHECK(co_await shield(done) == 3);  // the shortcut
  }());
}

TEST_CASE("cancelling the awaiter of a shield leaves the inner task running (test_shield_effect)") {
  run([]() -> Coro<void> {
    Log log;
    auto inner = create_task([](Log* log) -> Coro<int> {
      co_await sleep(15ms);
      log->push_back("inner done");
      co_return 5;
    }(&log));
    auto outer = create_task([](Task<int> inner, Log* log) -> Coro<void> {
      co_await shield(inner);
      log->push_back("outer after shield");
    }(inner, &log));
    co_await sleep(2ms);
    const double t0 = now();
    outer.cancel();
    CHECK(co_await outcome(awaited(outer)) == "CancelledError");
    CHECK(now() - t0 < 0.012);  // at once, not when inner finishes
    CHECK_FALSE(inner.done());
    CHECK_FALSE(inner.cancelled());
    CHECK(co_await inner == 5);
    CHECK(log == Log{"inner done"});
  }());
}

TEST_CASE("a shielded task cancelled by other means cancels the awaiter (test_shield_cancel_inner)") {
  run([]() -> Coro<void> {
    auto inner = create_task(value_after(1, 10s));
    auto outer = create_task(shield(inner));
    co_await sleep(1ms);
    inner.cancel();
    CHECK(co_await outcome(awaited(outer)) == "CancelledError");
    CHECK(outer.cancelled());
  }());
}

TEST_CASE("shield of a gather keeps the children running (test_shield_gather)") {
  run([]() -> Coro<void> {
    auto parent = create_task(gather(value_after(1, 10ms), value_after(2, 10ms)));
    auto outer = create_task(shield(parent));
    co_await sleep(1ms);
    outer.cancel();
    CHECK(co_await outcome(awaited(outer)) == "CancelledError");
    auto [x, y] = co_await parent;
    CHECK(x + y == 3);
  }());
}

TEST_CASE("gather of shields: cancelling the gather cancels the shields, not the children (test_gather_shield)") {
  run([]() -> Coro<void> {
    auto child1 = create_task(value_after(1, 10ms));
    auto child2 = create_task(value_after(2, 10ms));
    auto parent = create_task(gather(shield(child1), shield(child2)));
    co_await sleep(1ms);
    parent.cancel();
    CHECK(co_await outcome(awaited(parent)) == "CancelledError");
    CHECK_FALSE(child1.cancelled());
    CHECK(co_await child1 + co_await child2 == 3);
  }());
}

}  // namespace
