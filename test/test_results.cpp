// What a finished coroutine or task hands back: a CancelledError it threw
// itself (message and type kept), references (Coro<T&>, Task<T&>), and
// move-only values (who may move them out of a task, and what the others get).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

using namespace asyncuv;

namespace {

struct MyCancel : CancelledError {
  using CancelledError::CancelledError;
};

Coro<int> cancel_itself(std::string msg) {
  co_await sleep(0);
  throw CancelledError(std::move(msg));
}

Coro<int> cancel_itself_derived(std::string msg) {
  co_await sleep(0);
  throw MyCancel(std::move(msg));
}

// What a CancelledError-raising call threw: "<type>:<what>".
template <class F>
std::string cancel_seen(F&& f) {
  try {
    f();
  } catch (const MyCancel& e) {
    return std::string("MyCancel:") + e.what();
  } catch (const CancelledError& e) {
    return std::string("CancelledError:") + e.what();
  }
  return "nothing";
}

}  // namespace

TEST_CASE("a task that raised CancelledError(msg) keeps the message for every reader") {
  run([]() -> Coro<void> {
    Task<int> t = create_task(cancel_itself("stop here"));
    std::string awaited;
    try {
      co_await t;
    } catch (const CancelledError& e) {
      awaited = e.what();
    }
    CHECK(awaited == "stop here");
    CHECK(t.cancelled());
    CHECK(cancel_seen([&] { (void)t.result(); }) == "CancelledError:stop here");
    CHECK(cancel_seen([&] { (void)t.result(); }) == "CancelledError:stop here");  // not only the first reader
    CHECK(cancel_seen([&] { (void)t.exception(); }) == "CancelledError:stop here");
    auto outcomes = co_await gather(return_exceptions, t);
    const auto& o = std::get<0>(outcomes);  // (clang 14 cannot capture a structured binding)
    CHECK(cancel_seen([&] { (void)o.value(); }) == "CancelledError:stop here");
  }());
}

TEST_CASE("a task that raised a type derived from CancelledError keeps the type") {
  run([]() -> Coro<void> {
    Task<int> t = create_task(cancel_itself_derived("mine"));
    std::string awaited;
    try {
      co_await t;
    } catch (const MyCancel& e) {
      awaited = std::string("MyCancel:") + e.what();
    } catch (const CancelledError&) {
      awaited = "plain CancelledError";
    }
    CHECK(awaited == "MyCancel:mine");
    CHECK(t.cancelled());
    CHECK(cancel_seen([&] { (void)t.result(); }) == "MyCancel:mine");
    CHECK(cancel_seen([&] { (void)t.exception(); }) == "MyCancel:mine");
  }());
}

TEST_CASE("a task cancelled by cancel() still gives a plain CancelledError") {
  run([]() -> Coro<void> {
    Task<int> never_started = create_task(cancel_itself("unused"));
    never_started.cancel();
    Task<void> sleeper = create_task([]() -> Coro<void> { co_await sleep(10); }());
    co_await sleep(0);
    sleeper.cancel();
    co_await sleep(0);
    CHECK(cancel_seen([&] { (void)never_started.result(); }) == "CancelledError:CancelledError");
    CHECK(cancel_seen([&] { sleeper.result(); }) == "CancelledError:CancelledError");
  }());
}

// ---- references ----

namespace {

int global_counter = 0;

Coro<int&> counter_ref() {
  co_await sleep(0);
  co_return global_counter;
}

Coro<const std::string&> name_of(const std::vector<std::string>* names, std::size_t i) {
  co_await sleep(0);
  co_return (*names)[i];
}

}  // namespace

TEST_CASE("Coro<T&> and Task<T&> hand out the referenced object itself") {
  run([]() -> Coro<void> {
    int& r = co_await counter_ref();
    CHECK(&r == &global_counter);
    Task<int&> t = create_task(counter_ref());
    int& a = co_await t;
    int& b = co_await t;  // a second awaiter gets the same reference
    int& c = t.result();
    CHECK(&a == &global_counter);
    CHECK(&b == &global_counter);
    CHECK(&c == &global_counter);
    c = 42;
    CHECK(global_counter == 42);
  }());
  int& from_run = run(counter_ref());
  CHECK(&from_run == &global_counter);
}

TEST_CASE("gather over reference results: a tuple of references, a vector of reference_wrappers") {
  const std::vector<std::string> names{"ann", "bob"};
  run([](const std::vector<std::string>* names) -> Coro<void> {
    auto [x, y] = co_await gather(name_of(names, 1), counter_ref());
    CHECK(&x == &(*names)[1]);
    CHECK(&y == &global_counter);
    std::vector<Coro<const std::string&>> coros;
    coros.push_back(name_of(names, 0));
    coros.push_back(name_of(names, 1));
    std::vector<std::reference_wrapper<const std::string>> all = co_await gather(std::move(coros));
    REQUIRE(all.size() == 2);
    CHECK(&all[0].get() == &(*names)[0]);
    CHECK(&all[1].get() == &(*names)[1]);
    auto [o] = co_await gather(return_exceptions, name_of(names, 0));
    REQUIRE(o.has_value());
    CHECK(&o.value() == &(*names)[0]);
  }(&names));
}

// ---- move-only values ----

namespace {

Coro<std::unique_ptr<int>> boxed(int v) {
  co_await sleep(0);
  co_return std::make_unique<int>(v);
}

Coro<int> unbox(Coro<std::unique_ptr<int>> c) {
  std::unique_ptr<int> p = co_await std::move(c);
  co_return *p;
}

std::string invalid_state(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidStateError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a move-only result is moved out by an rvalue await, and only once") {
  run([]() -> Coro<void> {
    CHECK(co_await unbox(boxed(1)) == 1);
    std::unique_ptr<int> p = co_await create_task(boxed(2));
    REQUIRE(p);
    CHECK(*p == 2);

    Task<std::unique_ptr<int>> t = create_task(boxed(3));
    Task<std::unique_ptr<int>> other = t;
    const std::unique_ptr<int>& in_place = co_await t;  // lvalue: a reference into the task
    REQUIRE(in_place);
    CHECK(in_place.get() == t.result().get());
    std::unique_ptr<int> mine = co_await std::move(t);
    REQUIRE(mine);
    CHECK(*mine == 3);
    const std::string gone = "the task's result was already moved out";
    CHECK(invalid_state([&] { (void)other.result(); }) == gone);
    std::string second;
    try {
      (void)co_await std::move(other);
    } catch (const InvalidStateError& e) {
      second = e.what();
    }
    CHECK(second == gone);
  }());
  std::unique_ptr<int> from_run = run(boxed(4));
  REQUIRE(from_run);
  CHECK(*from_run == 4);
}

TEST_CASE("a copyable result stays in the task whatever the await") {
  run([]() -> Coro<void> {
    Task<std::string> t = create_task([]() -> Coro<std::string> { co_return std::string(100, 'x'); }());
    std::string a = co_await std::move(t);
    std::string b = co_await t;  // t was not moved from: the handle is still good
    CHECK(a == std::string(100, 'x'));
    CHECK(b == a);
    CHECK(t.result() == a);
  }());
}

TEST_CASE("gather over move-only results: Coros and rvalue Tasks hand their values over") {
  run([]() -> Coro<void> {
    auto [a, b] = co_await gather(boxed(1), create_task(boxed(2)));
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a + *b == 3);

    std::vector<Coro<std::unique_ptr<int>>> coros;
    for (int i = 0; i < 5; ++i) coros.push_back(boxed(i));
    std::vector<std::unique_ptr<int>> from_coros = co_await gather(std::move(coros));
    REQUIRE(from_coros.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(*from_coros[i] == i);

    std::vector<Task<std::unique_ptr<int>>> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(create_task(boxed(10 + i)));
    Task<std::unique_ptr<int>> kept = tasks[0];
    std::vector<std::unique_ptr<int>> from_tasks = co_await gather(std::move(tasks));
    REQUIRE(from_tasks.size() == 3);
    CHECK(*from_tasks[2] == 12);
    CHECK(invalid_state([&] { (void)kept.result(); }) == "the task's result was already moved out");

    std::vector<Coro<std::unique_ptr<int>>> more;
    more.push_back(boxed(7));
    more.push_back([]() -> Coro<std::unique_ptr<int>> {
      co_await sleep(0);
      throw std::runtime_error("no box");
    }());
    std::vector<Outcome<std::unique_ptr<int>>> outcomes = co_await gather(return_exceptions, std::move(more));
    REQUIRE(outcomes.size() == 2);
    std::unique_ptr<int> seven = std::move(outcomes[0]).value();
    REQUIRE(seven);
    CHECK(*seven == 7);
    CHECK_FALSE(outcomes[1].has_value());
    CHECK_THROWS_AS((void)outcomes[1].value(), std::runtime_error);
  }());
}

// What the awaits give: a copy, a reference into the task, or the value itself.
static_assert(std::is_same_v<decltype(std::declval<Task<std::string>&>().operator co_await().await_resume()), std::string>);
static_assert(std::is_same_v<decltype(std::declval<Task<std::unique_ptr<int>>&>().operator co_await().await_resume()),
                             const std::unique_ptr<int>&>);
static_assert(std::is_same_v<decltype(std::declval<Task<std::unique_ptr<int>>>().operator co_await().await_resume()),
                             std::unique_ptr<int>>);
static_assert(std::is_same_v<decltype(std::declval<Task<int&>&>().result()), int&>);
