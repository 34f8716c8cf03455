// Threads: to_thread (libuv's pool: results, exceptions, cancellation, work
// outstanding at shutdown). (run_coroutine_threadsafe / ConcurrentFuture:
// test_run_coroutine_threadsafe.cpp.) Scenarios ported from CPython's
// test_asyncio (test_threads.py).
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

