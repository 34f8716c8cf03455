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

#include "tasks.hpp"

namespace asyncuv {
namespace detail {

class ASYNCUV_API SleepBase : protected Suspension, protected TimerEntry {
protected:
  // delay_ns <= 0 means "yield once".
  // Until suspension, deadline_ns holds the delay.
  explicit SleepBase(std::int64_t delay_ns) noexcept {
    deadline_ns = static_cast<std::uint64_t>(delay_ns);
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
    TaskCore& self = running_task(loop);
    resume = h;
    cancel = &SleepBase::on_cancel;
    if (deadline_ns == 0) {  // a bare yield: no timer, straight to the ready queue
      self.park(this);
      self.wake(*loop);
    } else {
      start_timer(self);
    }
  }
  void resumed() { task->throw_if_cancelled(); }

public:
  // What the loop does for a due entry that wakes_task().
  static void on_fire(TimerEntry* e) noexcept { static_cast<SleepBase*>(e)->task->wake(); }

private:
  void start_timer(TaskCore& self);
  void cancel_timer() noexcept;
  static bool on_cancel(Suspension* s) noexcept;
};

inline std::int64_t seconds_to_ns(double seconds) {
  if (seconds > 0) [[likely]] {
    const double ns = std::ceil(seconds * 1e9);
    return ns >= 9.2e18 ? std::numeric_limits<std::int64_t>::max() : static_cast<std::int64_t>(ns);
  }
  if (std::isnan(seconds)) throw std::invalid_argument("Invalid delay: NaN (not a number)");
  return 0;
}

template <class Rep, class Period>
std::int64_t duration_to_ns(std::chrono::duration<Rep, Period> d) {
  using namespace std::chrono;
  if constexpr (std::is_floating_point_v<Rep>) {
    return seconds_to_ns(duration<double>(d).count());
  } else {
    if (d <= d.zero()) return 0;
    // Clamp in floating point: converting nanoseconds::max() to a finer
    // period (picoseconds) or d to nanoseconds (hours::max()) would overflow.
    if (duration<double, std::nano>(d).count() >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
    return ceil<nanoseconds>(d).count();  // sub-nanosecond remainders round up
  }
}

}  // namespace detail

template <class T>
class [[nodiscard]] SleepAwaiter : detail::SleepBase {
public:
  SleepAwaiter(std::int64_t delay_ns, T value) : SleepBase(delay_ns), value_(std::move(value)) {}
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
  explicit SleepAwaiter(std::int64_t delay_ns) noexcept : SleepBase(delay_ns) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { suspend(h); }
  void await_resume() { resumed(); }
};

// co_await sleep(0.5); co_await sleep(0); co_await sleep(-1);
inline SleepAwaiter<void> sleep(double seconds) { return SleepAwaiter<void>(detail::seconds_to_ns(seconds)); }
// Integer seconds get an exact-match overload: with `using namespace
// asyncuv`, sleep(0) would otherwise be ambiguous with POSIX ::sleep(unsigned).
template <std::integral I>
SleepAwaiter<void> sleep(I seconds) {
  return sleep(static_cast<double>(seconds));
}

// co_await sleep(500ms);
template <class Rep, class Period>
SleepAwaiter<void> sleep(std::chrono::duration<Rep, Period> d) {
  return SleepAwaiter<void>(detail::duration_to_ns(d));
}

// auto v = co_await sleep(1.0, value);  (asyncio.sleep(1, result=value))
template <class T>
SleepAwaiter<std::decay_t<T>> sleep(double seconds, T&& value) {
  return {detail::seconds_to_ns(seconds), std::forward<T>(value)};
}
template <class Rep, class Period, class T>
SleepAwaiter<std::decay_t<T>> sleep(std::chrono::duration<Rep, Period> d, T&& value) {
  return {detail::duration_to_ns(d), std::forward<T>(value)};
}
template <std::integral I, class T>
SleepAwaiter<std::decay_t<T>> sleep(I seconds, T&& value) {
  return sleep(static_cast<double>(seconds), std::forward<T>(value));
}

}  // namespace asyncuv
