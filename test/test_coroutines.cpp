// Coro<T>: laziness, values, exceptions through nested awaits, single await,
// and the trampoline that keeps a 1,000,000-deep await chain off the stack.
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace asyncuv;

namespace {

Coro<int> answer() { co_return 42; }
Coro<std::string> greet(std::string who) { co_return "hello " + who; }
Coro<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }
Coro<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

Coro<int> plus_one(Coro<int> inner) { co_return co_await inner + 1; }

TEST_CASE("a Coro is lazy: calling it runs nothing until it is awaited") {
  bool ran = false;
  {
    Coro<void> c = set_flag(&ran);
    CHECK(c.valid());
    CHECK_FALSE(ran);
  }  // destroyed without being awaited: the body never ran
  CHECK_FALSE(ran);
  run([](bool* flag) -> Coro<void> {
    Coro<void> c = set_flag(flag);
    CHECK_FALSE(*flag);
    co_await c;
    CHECK(*flag);
  }(&ran));
  CHECK(ran);
}

TEST_CASE("destroying a never-awaited Coro releases its parameters") {
  auto p = std::make_shared<int>(1);
  {
    auto c = [](std::shared_ptr<int> q) -> Coro<int> { co_return *q; }(p);
    CHECK(p.use_count() == 2);
  }
  CHECK(p.use_count() == 1);
}

TEST_CASE("values of every kind come back through co_await") {
  auto r = run([]() -> Coro<std::string> {
    int a = co_await answer();
    std::string g = co_await greet("world");
    std::unique_ptr<int> b = co_await boxed(7);
    int c = co_await plus_one(plus_one(answer()));
    co_return g + " " + std::to_string(a) + " " + std::to_string(*b) + " " + std::to_string(c);
  }());
  CHECK(r == "hello world 42 7 44");
}

struct Boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Coro<int> thrower(int depth) {
  if (depth == 0) throw Boom("deep");
  co_return co_await thrower(depth - 1) + 1;
}

TEST_CASE("exceptions propagate through several levels of co_await") {
  std::vector<std::string> log;
  auto r = run([](std::vector<std::string>* log) -> Coro<int> {
    try {
      co_await thrower(5);
      log->push_back("not reached");
    } catch (const Boom& e) {
      log->push_back(std::string("caught ") + e.what());
    }
    // The exception can be caught in the middle and the chain continue.
    auto middle = [](std::vector<std::string>* log) -> Coro<int> {
      try {
        co_return co_await thrower(3);
      } catch (const Boom&) {
        log->push_back("middle");
      }
      co_return -1;
    };
    co_return co_await middle(log);
  }(&log));
  CHECK(r == -1);
  CHECK(log == std::vector<std::string>{"caught deep", "middle"});
  CHECK_THROWS_AS(run(thrower(4)), Boom);
}

TEST_CASE("a Coro can be awaited once; a second await is an InvalidStateError") {
  run([]() -> Coro<void> {
    Coro<int> c = answer();
    CHECK(co_await c == 42);
    CHECK_FALSE(c.valid());
    bool threw = false;
    try {
      co_await c;
    } catch (const InvalidStateError&) {
      threw = true;
    }
    CHECK(threw);
    CHECK_THROWS_AS(create_task(std::move(c)), InvalidStateError);

    // A moved-from Coro is spent too.
    Coro<int> d = answer();
    Coro<int> e = std::move(d);
    CHECK_FALSE(d.valid());
    CHECK_THROWS_AS(create_task(std::move(d)), InvalidStateError);
    CHECK(co_await e == 42);

    // Turned into a task: the Coro is spent.
    Coro<int> f = answer();
    Task<int> t = create_task(std::move(f));
    CHECK_FALSE(f.valid());
    threw = false;
    try {
      co_await f;
    } catch (const InvalidStateError&) {
      threw = true;
    }
    CHECK(threw);
    CHECK(co_await t == 42);
  }());
}

TEST_CASE("move-assigning a Coro destroys the frame it held") {
  auto p = std::make_shared<int>(3);
  auto hold = [](std::shared_ptr<int> q) -> Coro<int> { co_return *q; };
  Coro<int> a = hold(p);
  CHECK(p.use_count() == 2);
  a = answer();
  CHECK(p.use_count() == 1);
  CHECK(run(std::move(a)) == 42);
}

// ---- deep chains: the trampoline keeps the native stack flat ----

Coro<long> chain(long depth) {
  if (depth == 0) co_return 0;
  co_return co_await chain(depth - 1) + 1;
}

Coro<void> void_chain(long depth, long* bottom) {
  if (depth == 0) {
    co_await sleep(0);  // suspend at the bottom: resumption goes through the loop
    ++*bottom;
    co_return;
  }
  co_await void_chain(depth - 1, bottom);
}

TEST_CASE("a 1,000,000-deep nested co_await chain neither overflows nor leaks") {
  CHECK(run(chain(1'000'000)) == 1'000'000);
  long bottom = 0;
  run(void_chain(1'000'000, &bottom));
  CHECK(bottom == 1);
}

TEST_CASE("an exception unwinds a 100,000-deep chain") {
  auto r = run([]() -> Coro<int> {
    try {
      co_await thrower(100'000);
    } catch (const Boom& e) {
      co_return std::string(e.what()) == "deep" ? 1 : 2;
    }
    co_return 0;
  }());
  CHECK(r == 1);
}

TEST_CASE("a deep chain suspended in a task is cancelled level by level") {
  auto r = run([]() -> Coro<int> {
    auto deep = [](auto& self, int depth) -> Coro<void> {
      if (depth == 0) {
        co_await sleep(10.0);
        co_return;
      }
      co_await self(self, depth - 1);
    };
    auto t = create_task(deep(deep, 100'000));
    co_await sleep(0.001);
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
      co_return t.cancelled() ? 1 : 2;
    }
    co_return 0;
  }());
  CHECK(r == 1);
}

}  // namespace
