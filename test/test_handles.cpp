// detail/owned_handle.hpp and detail/request.hpp: the owned-handle and request
// primitives every libuv wrapper builds on (a test of detail headers).
#include "test_support.hpp"

#include <asyncuv/detail/loop_access.hpp>
#include <asyncuv/detail/owned_handle.hpp>
#include <asyncuv/detail/request.hpp>

#include <atomic>
#include <thread>

using namespace asyncuv;
using namespace std::chrono_literals;

namespace {

detail::HandleRegistry& registry() { return detail::handles_of(get_running_loop()); }

// A coroutine that owns a timer handle in its frame and waits for it.
Coro<int> wait_on_own_timer(std::uint64_t ms, int* fired) {
  detail::OwnedHandle<uv_timer_t> timer;
  const int rc = timer.open(registry(), [](uv_timer_t* h) { return uv_timer_init(get_running_loop().uv_loop(), h); });
  REQUIRE(rc == 0);
  timer.get()->data = fired;
  uv_timer_start(timer.get(), [](uv_timer_t* h) { ++*static_cast<int*>(h->data); }, ms, 0);
  co_await sleep(ms / 1000.0 + 0.05);
  co_return *fired;
}

}  // namespace

TEST_CASE("an owned handle is closed and freed when its owner's frame ends") {
  int fired = 0;
  CHECK(run(wait_on_own_timer(1, &fired)) == 1);
}

TEST_CASE("an owned handle outlives the frame of a cancelled owner until libuv lets go of it") {
  int fired = 0;
  run([](int* fired) -> Coro<void> {
    const std::size_t before = registry().size();
    auto t = create_task(wait_on_own_timer(10'000, fired));
    co_await sleep(0.001);
    CHECK(registry().size() == before + 1);
    t.cancel();
    co_await sleep(0);  // the frame is gone now; the close callback frees the block
    CHECK(t.cancelled());
    CHECK(registry().size() == before);
  }(&fired));
  CHECK(fired == 0);  // ASan/LeakSanitizer check the block was freed exactly once
}

TEST_CASE("a loop that closes first closes the owner's handle; the owner's close is then a no-op") {
  detail::OwnedHandle<uv_check_t> check;
  run([](detail::OwnedHandle<uv_check_t>& check) -> Coro<void> {
    REQUIRE(check.open(registry(), [](uv_check_t* h) { return uv_check_init(get_running_loop().uv_loop(), h); }) == 0);
    CHECK(check);
    co_return;
  }(check));
  CHECK_FALSE(check);
  CHECK(check.get() == nullptr);
  check.close();
}

TEST_CASE("a failed init frees the block and reports libuv's status") {
  run([]() -> Coro<void> {
    detail::OwnedHandle<uv_idle_t> idle;
    CHECK(idle.open(registry(), [](uv_idle_t*) { return UV_EMFILE; }) == UV_EMFILE);
    CHECK_FALSE(idle);
    co_return;
  }());
}

TEST_CASE("a moved owned handle is closed once, by its last owner") {
  run([]() -> Coro<void> {
    const std::size_t before = registry().size();
    detail::OwnedHandle<uv_idle_t> a;
    REQUIRE(a.open(registry(), [](uv_idle_t* h) { return uv_idle_init(get_running_loop().uv_loop(), h); }) == 0);
    detail::OwnedHandle<uv_idle_t> b = std::move(a);
    CHECK_FALSE(a);
    CHECK(b);
    a = std::move(b);
    CHECK(a);
    a.close();
    a.close();
    CHECK(registry().size() == before);
    co_await sleep(0);
  }());
}

namespace {

// A request of the (Req*, int) shape that libuv cannot withdraw once sent:
// a work item whose function blocks until released.
struct Blocking : detail::Request<uv_work_t> {
  std::atomic<bool>* release;
  std::atomic<int>* done;
  static void work(uv_work_t* r) {
    auto& self = static_cast<Blocking&>(of(r));
    while (!self.release->load()) std::this_thread::sleep_for(1ms);
    ++*self.done;
  }
};

class BlockingAwaiter : detail::RequestAwaitBase {
public:
  explicit BlockingAwaiter(Blocking* b) noexcept : RequestAwaitBase(b) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    suspend(h, [this] {
      return uv_queue_work(get_running_loop().uv_loop(), &static_cast<Blocking*>(req_)->req, &Blocking::work,
                           &Blocking::on_complete);
    });
  }
  int await_resume() { return resumed().status(); }
};

}  // namespace

TEST_CASE("a request outlives its cancelled awaiter and is freed by its completion") {
  std::atomic<bool> release{false};
  std::atomic<int> done{0};
  run([](std::atomic<bool>& release, std::atomic<int>& done) -> Coro<void> {
    auto* b = new Blocking;
    b->release = &release;
    b->done = &done;
    auto t = create_task([](Blocking* b) -> Coro<int> { co_return co_await BlockingAwaiter(b); }(b));
    co_await sleep(0.01);  // a pool thread runs it now
    t.cancel();
    co_await sleep(0);
    CHECK(t.cancelled());
    release = true;  // the completion, on a later iteration, frees the request
    co_await to_thread([] { std::this_thread::sleep_for(5ms); });
  }(release, done));
  CHECK(done == 1);
}

TEST_CASE("a request that fails to submit throws its OSError and stays the awaiter's") {
  run([]() -> Coro<void> {
    struct Refused : detail::RequestAwaitBase {
      Refused() : RequestAwaitBase(new detail::Request<uv_work_t>) {}
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        suspend(h, [] { return UV_EAGAIN; });
      }
      void await_resume() {}
    };
    CHECK_THROWS_AS(co_await Refused(), BlockingIOError);
  }());
}
