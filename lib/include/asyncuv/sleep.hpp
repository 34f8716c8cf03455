// asyncuv/sleep.hpp — asyncio.sleep().
//
// The awaiter is itself the timer entry (it lives in the sleeping coroutine's
// frame), so a sleep costs no allocation and no libuv handle: the loop keeps
// one heap of deadlines behind a single uv_timer_t. A delay <= 0 yields to the
// loop once without a timer, as asyncio does; any positive delay, however
// small, waits for the timer and never wakes early.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>

#include "detail/clock.hpp"
#include "tasks.hpp"

namespace asyncuv {
namespace detail {

class ASYNCUV_API SleepBase : protected Suspension, protected TimerEntry {
protected:
  // A delay of 0 means "yield once".
  // Until suspension, deadline_ns holds the delay.
  explicit SleepBase(std::uint64_t delay) noexcept {
    deadline_ns = delay;
    seq = wakes_task_bit;  // the loop calls on_fire, below
  }
  // Not movable: the awaiter is built in place in the frame (no second copy
  // for the compiler to keep there), and a queued timer entry must not move.
  SleepBase(SleepBase&&) = delete;
  ~SleepBase() {
    if (queued()) cancel_timer();
  }
  void suspend(std::coroutine_handle<> h) {
    EventLoop* loop = EventLoop::current();
    TaskCore& self = running_task();
    resume = h;
    cancel = &SleepBase::on_cancel;
    if (deadline_ns == 0) {  // a bare yield: no timer, straight to the ready queue
      self.park(this, "yield");
      self.wake(*loop);
    } else {
      start_timer(self);
    }
  }
  void resumed() { task->throw_if_cancelled(); }

  // A due sleep wakes its task on the due list's turn (see claim_sleeper),
  // so that it runs a pass later, as asyncio's sleep future wakes its task
  // through a call_soon.
  friend ReadyNode* claim_sleeper(TimerEntry* e) noexcept;
  friend void wake_sleeper(TimerEntry* e) noexcept;

private:
  void start_timer(TaskCore& self);
  void cancel_timer() noexcept;
  static bool on_cancel(Suspension* s) noexcept;
};

}  // namespace detail

template <class T>
class [[nodiscard]] SleepAwaiter : detail::SleepBase {
public:
  SleepAwaiter(std::uint64_t delay, T value) : SleepBase(delay), value_(std::move(value)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { suspend(h); }
  T await_resume() {
    resumed();
    return std::move(value_);
  }

private:
  T value_;
};

template <>
class [[nodiscard]] SleepAwaiter<void> : detail::SleepBase {
public:
  explicit SleepAwaiter(std::uint64_t delay) noexcept : SleepBase(delay) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { suspend(h); }
  void await_resume() { resumed(); }
};

// co_await sleep(0.5); co_await sleep(0); co_await sleep(-1);
inline SleepAwaiter<void> sleep(double seconds) { return SleepAwaiter<void>(detail::delay_ns(seconds)); }
// Integer seconds get an exact-match overload: with `using namespace
// asyncuv`, sleep(0) would otherwise be ambiguous with POSIX ::sleep(unsigned).
template <std::integral I>
SleepAwaiter<void> sleep(I seconds) {
  return sleep(static_cast<double>(seconds));
}

// co_await sleep(500ms);
template <class Rep, class Period>
SleepAwaiter<void> sleep(std::chrono::duration<Rep, Period> d) {
  return SleepAwaiter<void>(detail::delay_ns(d));
}

// auto v = co_await sleep(1.0, value);  (asyncio.sleep(1, result=value))
template <class T>
SleepAwaiter<std::decay_t<T>> sleep(double seconds, T&& value) {
  return {detail::delay_ns(seconds), std::forward<T>(value)};
}
template <class Rep, class Period, class T>
SleepAwaiter<std::decay_t<T>> sleep(std::chrono::duration<Rep, Period> d, T&& value) {
  return {detail::delay_ns(d), std::forward<T>(value)};
}
template <std::integral I, class T>
SleepAwaiter<std::decay_t<T>> sleep(I seconds, T&& value) {
  return sleep(static_cast<double>(seconds), std::forward<T>(value));
}

}  // namespace asyncuv
