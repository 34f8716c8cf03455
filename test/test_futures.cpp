// Future<T>: asyncio.Future's states, messages, awaiting by many, done
// callbacks in asyncio's order, cancellation both ways, and the C-callback
// wrapping it exists for.
#include "test_support.hpp"

#include <memory>
#include <thread>

using namespace asyncuv;
using namespace std::chrono_literals;

TEST_CASE("a future's states and messages are asyncio's") {
  run([]() -> Coro<void> {
    Future<int> f = get_running_loop().create_future<int>();
    CHECK_FALSE(f.done());
    CHECK_THROWS_WITH_AS(f.result(), "Result is not set.", InvalidStateError);
    CHECK_THROWS_WITH_AS(f.exception(), "Exception is not set.", InvalidStateError);
    f.set_result(1);
    CHECK(f.done());
    CHECK(f.result() == 1);
    CHECK(f.exception() == nullptr);
    CHECK_THROWS_WITH_AS(f.set_result(2), "invalid state", InvalidStateError);
    CHECK_THROWS_WITH_AS(f.set_exception(ValueError("x")), "invalid state", InvalidStateError);
    CHECK_FALSE(f.cancel());
    CHECK(co_await f == 1);  // done: no suspension

    Future<> g;
    CHECK(g.cancel("why"));
    CHECK(g.cancelled());
    try {
      g.result();
      FAIL("no CancelledError");
    } catch (const CancelledError& e) {
      CHECK(std::string(e.what()) == "why");
    }
    CHECK_THROWS_AS(g.exception(), CancelledError);

    Future<std::string> h;
    h.set_exception(ValueError("bad"));
    CHECK_THROWS_WITH_AS(h.result(), "bad", ValueError);
    CHECK(h.exception() != nullptr);
  }());
}

TEST_CASE("waiters and done callbacks run in the order they were added (CPython 3.11)") {
  // /usr/bin/python3: k.add_done_callback(cb1); k.add_done_callback(cb2);
  // two tasks await k; call_soon(before); k.set_result(7); call_soon(after)
  // -> soon-before, cb1 7, cb2, waiter 0 7, waiter 1 7, soon-after
  Log log;
  run([](Log& log) -> Coro<void> {
    auto& loop = get_running_loop();
    auto k = loop.create_future<int>();
    k.add_done_callback([&](const Future<int>& f) { log.push_back("cb1 " + std::to_string(f.result())); });
    k.add_done_callback([&](const Future<int>&) { log.push_back("cb2"); });
    auto waiter = [](Log& log, Future<int> k, int n) -> Coro<void> {
      const int v = co_await k;
      log.push_back("waiter " + std::to_string(n) + " " + std::to_string(v));
    };
    auto t0 = create_task(waiter(log, k, 0));
    auto t1 = create_task(waiter(log, k, 1));
    co_await sleep(0);
    loop.call_soon([&] { log.push_back("soon-before"); });
    k.set_result(7);
    loop.call_soon([&] { log.push_back("soon-after"); });
    co_await gather(t0, t1);
  }(log));
  CHECK(log == Log{"soon-before", "cb1 7", "cb2", "waiter 0 7", "waiter 1 7", "soon-after"});
}

TEST_CASE("cancelling a task that awaits a future cancels the future (Task._fut_waiter)") {
  run([]() -> Coro<void> {
    Future<int> h;
    auto w = create_task([](Future<int> h) -> Coro<std::string> {
      try {
        co_await h;
      } catch (const CancelledError&) {
        co_return "cancelled";
      }
      co_return "not cancelled";
    }(h));
    co_await sleep(0);
    CHECK(w.cancel());
    CHECK(co_await w == "cancelled");
    CHECK(h.cancelled());
  }());
}

TEST_CASE("cancelling the future wakes every awaiter with its CancelledError") {
  run([]() -> Coro<void> {
    Future<int> f;
    auto waiter = [](Future<int> f) -> Coro<std::string> {
      try {
        co_await f;
      } catch (const CancelledError& e) {
        co_return e.what();
      }
      co_return "value";
    };
    auto a = create_task(waiter(f));
    auto b = create_task(waiter(f));
    co_await sleep(0);
    f.cancel("stop");
    CHECK(co_await a == "stop");
    CHECK(co_await b == "stop");
  }());
}

TEST_CASE("a task cancelled after its future finished still gets CancelledError; the future keeps its result") {
  run([]() -> Coro<void> {
    Future<int> f;
    auto w = create_task([](Future<int> f) -> Coro<std::string> {
      try {
        co_await f;
      } catch (const CancelledError&) {
        co_return "cancelled";
      }
      co_return "value";
    }(f));
    co_await sleep(0);
    f.set_result(3);
    w.cancel();  // the wake-up is queued: the cancel lands at the await
    CHECK(co_await w == "cancelled");
    CHECK(f.result() == 3);
  }());
}

TEST_CASE("a waiter destroyed while waiting leaves the future clean") {
  run([]() -> Coro<void> {
    Future<int> f;
    auto w = create_task([](Future<int> f) -> Coro<void> { co_await f; }(f));
    co_await sleep(0);
    f.add_done_callback([](const Future<int>&) {});
  }());
  // run() cancelled w at shutdown: the future was cancelled with it, and
  // the pending callback entry was freed (LeakSanitizer would tell).
}

TEST_CASE("an exception nobody retrieved is reported when the future goes") {
  std::vector<std::string> seen;
  run([](std::vector<std::string>& seen) -> Coro<void> {
    get_running_loop().set_exception_handler([&](const ExceptionContext& c) { seen.push_back(c.message); });
    {
      Future<int> f;
      f.set_exception(ValueError("lost"));
    }
    Future<int> g;
    g.set_exception(ValueError("seen"));
    CHECK(g.exception() != nullptr);
    co_return;
  }(seen));
  CHECK(seen == std::vector<std::string>{"Future exception was never retrieved"});
}

TEST_CASE("move-only and void futures") {
  run([]() -> Coro<void> {
    Future<std::unique_ptr<int>> f;
    f.set_result(std::make_unique<int>(5));
    CHECK(*f.result() == 5);
    Future<> v;
    create_task([](Future<> v) -> Coro<void> {
      co_await sleep(0);
      v.set_result();
    }(v));
    co_await v;
    CHECK(v.done());
  }());
}

TEST_CASE("a future belongs to its loop's thread") {
  run([]() -> Coro<void> {
    Future<int> f;
    std::string error;
    std::thread([&] {
      try {
        f.set_result(1);
      } catch (const RuntimeError& e) {
        error = e.what();
      }
    }).join();
    CHECK(error == "Non-thread-safe operation invoked on an event loop other than the current one");
    CHECK_FALSE(f.done());
    co_return;
  }());
}

// The README's example: a C library that reports completion through a plain
// function pointer and a void* (here: a timer thread).
namespace {
extern "C" using c_callback = void (*)(void* user, int status);
void c_library_start(int input, c_callback cb, void* user) {
  std::thread([=] {
    std::this_thread::sleep_for(1ms);
    cb(user, input * 2);
  }).detach();
}

// What the C library carries through its void*: the loop to hop back onto
// and the future to complete there.
struct Pending {
  EventLoop* loop;
  Future<int> result;
};

Coro<int> c_library_call(int input) {
  auto& loop = get_running_loop();
  auto* pending = new Pending{&loop, loop.create_future<int>()};
  Future<int> result = pending->result;
  c_library_start(
      input,
      [](void* user, int status) {  // on the library's thread
        auto* p = static_cast<Pending*>(user);
        p->loop->call_soon_threadsafe([p, status] {
          p->result.set_result(status);
          delete p;
        });
      },
      pending);
  co_return co_await result;
}
}  // namespace

TEST_CASE("wrapping a C callback API in a future") {
  CHECK(run([]() -> Coro<int> {
          auto [a, b] = co_await gather(c_library_call(20), c_library_call(1));
          co_return a + b;
        }()) == 42);
}
