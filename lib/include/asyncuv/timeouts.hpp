// asyncuv/timeouts.hpp — asyncio.timeout(), timeout_at(), Timeout and wait_for().
//
// Python's `async with asyncio.timeout(d):` scope has no direct C++ spelling
// (a destructor cannot await), so a scope is a coroutine that runs a body:
//
//   async with asyncio.timeout(0.5):          co_await asyncuv::timeout(500ms, work());
//       await work()
//
//   async with asyncio.timeout(None) as cm:   co_await asyncuv::timeout(std::nullopt, [&](Timeout& cm) -> Coro<void> {
//       cm.reschedule(loop.time() + 1)            cm.reschedule(get_running_loop().time() + 1);
//       await work()                              co_await work();
//                                             });
//
//   cm = asyncio.timeout(1)                   Timeout cm = asyncuv::timeout(1s);
//   try:                                      try {
//       async with cm: await work()               co_await cm.run(work());
//   except TimeoutError: ...                  } catch (const TimeoutError&) { ... }
//   cm.expired()                              cm.expired();
//
// The body (a Coro<T>, or a callable taking Timeout& and returning a Coro<T>)
// runs inside the current task; the scope returns its value. When the deadline
// passes, the current task is cancelled; the CancelledError that comes out of
// the body is turned into TimeoutError at the scope's exit — only when no
// other cancel request arrived meanwhile (Task::cancelling()/uncancel(), as in
// asyncio), so an outer cancel stays a CancelledError and of nested scopes
// that both expired the outermost one raises. `when` is in loop time
// (get_running_loop().time() seconds); std::nullopt means never; a delay <= 0
// or a deadline in the past expires on the next loop iteration.
// timeout(delay) computes its deadline at the call (it needs a running loop);
// the shorthand timeout(delay, body) when it starts. A Timeout passed to
// run() must outlive the await (a temporary in the co_await statement does).
//
//   await asyncio.wait_for(aw, timeout)       co_await asyncuv::wait_for(aw, 1s)   (or 1.0, or std::nullopt)
//
// wait_for(aw, timeout) follows Python 3.11: a Coro becomes a task (with a
// timeout of none it is awaited directly); on expiry the task is cancelled and
// awaited, then TimeoutError is raised — or its value returned if it swallowed
// the cancel, or its other exception re-raised. A timeout <= 0 cancels at once
// unless the task is already done. Cancelling the awaiter cancels the task and
// waits for it to finish before raising CancelledError (but, as 3.11 does,
// returns the task's result if the task was already done when the cancel came).
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "detail/awaitable.hpp"
#include "detail/scope.hpp"
#include "tasks.hpp"
#include "wait.hpp"

namespace asyncuv {

class ASYNCUV_API Timeout : detail::TimerCall {
public:
  // Python's Timeout(when): a deadline in loop time, or never.
  explicit Timeout(std::optional<double> when) noexcept;
  Timeout(const Timeout&) = delete;  // a queued timer entry cannot move
  ~Timeout();

  std::optional<double> when() const noexcept { return when_; }
  // Moves the deadline (std::nullopt: never). Only inside the scope:
  // RuntimeError "Timeout has not been entered" / "Cannot change state of
  // <expiring|expired|finished> Timeout" otherwise.
  void reschedule(std::optional<double> when);
  // Whether the deadline passed inside the scope.
  bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }
  std::string repr() const;  // "<Timeout [active] when=12.345>", as Python's

  // async with self: await body  (see the top). Once only.
  template <detail::ScopeBody<Timeout> Body>
  auto run(Body body) -> Coro<detail::scope_result_t<Body, Timeout>>;

  // The two halves of `async with`, for scopes built by hand: enter() in the
  // task, then exit(error) with what the body threw (or null); exit rethrows
  // it, as a TimeoutError if it was this timeout's cancellation.
  void enter();
  void exit(std::exception_ptr error);

private:
  enum class State : std::uint8_t { created, entered, expiring, expired, exited };
  static void on_fire(TimerEntry* e, detail::Fate fate) noexcept;
  void on_timeout() noexcept;
  void disarm() noexcept;

  detail::TaskCore* task_ = nullptr;
  Handle soon_;  // a deadline already past: asyncio's call_soon(_on_timeout)
  std::optional<double> when_;
  std::uint8_t cancelling_ = 0;  // the task's cancel requests at entry
  State state_ = State::created;
};

template <detail::ScopeBody<Timeout> Body>
auto Timeout::run(Body body) -> Coro<detail::scope_result_t<Body, Timeout>> {
  return detail::run_scope(*this, std::move(body));
}

// Timeout cm = timeout(1.0) / timeout(1s) / timeout(std::nullopt).
ASYNCUV_API Timeout timeout(std::optional<double> delay);
template <class Rep, class Period>
Timeout timeout(std::chrono::duration<Rep, Period> delay) {
  return timeout(detail::to_seconds(delay));
}
// Timeout cm = timeout_at(get_running_loop().time() + 1).
inline Timeout timeout_at(std::optional<double> when) { return Timeout(when); }

namespace detail {
template <class Body>
auto timeout_scope(std::optional<double> delay, bool relative, Body body) -> Coro<scope_result_t<Body, Timeout>> {
  Timeout t(relative ? timeout(delay).when() : delay);
  co_return co_await t.run(std::move(body));
}
}  // namespace detail

// co_await timeout(500ms, work()) / timeout(0.5, [&](Timeout& cm) -> Coro<T> {...}).
template <detail::ScopeBody<Timeout> Body>
auto timeout(std::optional<double> delay, Body body) {
  return detail::timeout_scope(delay, true, std::move(body));
}
template <class Rep, class Period, detail::ScopeBody<Timeout> Body>
auto timeout(std::chrono::duration<Rep, Period> delay, Body body) {
  return detail::timeout_scope(detail::to_seconds(delay), true, std::move(body));
}
template <detail::ScopeBody<Timeout> Body>
auto timeout_at(std::optional<double> when, Body body) {
  return detail::timeout_scope(when, false, std::move(body));
}

// ---- wait_for ----

namespace detail {

// asyncio's _cancel_and_wait(): cancel t, wait until it is done. Cancelling
// us abandons the wait without handing the cancel on again.
ASYNCUV_API Coro<void> cancel_and_wait(TaskCore* t);

template <class T>
T result_or_timeout(const Task<T>& t) {
  if (t.cancelled()) throw TimeoutError();
  return t.result();
}

template <class T>
Coro<T> wait_for_task(Task<T> t, double timeout) {
  if (timeout <= 0) {
    if (t.done()) co_return t.result();
    co_await cancel_and_wait(detail::TaskAccess::promise(t));
    co_return result_or_timeout(t);
  }
  bool cancelled = false;
  {
    TaskCore* const one[1] = {detail::TaskAccess::promise(t)};
    TaskSetWait waiter(one, 1, ReturnWhen::first_completed, timeout_deadline(timeout));
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      cancelled = true;
    }
  }
  if (t.done()) co_return t.result();  // 3.11: even when we were cancelled
  // The task must not outlive wait_for (bpo-32751): cancel it and wait.
  co_await cancel_and_wait(detail::TaskAccess::promise(t));
  if (cancelled) detail::throw_cancelled();
  co_return result_or_timeout(t);  // its value if it swallowed the cancel
}

template <class T>
Coro<T> wait_for_coro(Coro<T> c, std::optional<double> timeout) {
  if (!timeout) co_return co_await std::move(c);
  co_return co_await wait_for_task(create_task(std::move(c)), *timeout);
}

template <class T>
Coro<T> wait_for_unbounded(Task<T> t) {
  co_return co_await t;
}

}  // namespace detail

// co_await wait_for(aw, 1.0) / wait_for(aw, 1s) / wait_for(aw, std::nullopt).
template <class T>
Coro<T> wait_for(Coro<T>&& coro, std::optional<double> timeout) {
  return detail::wait_for_coro(std::move(coro), timeout);
}
template <class T>
Coro<T> wait_for(Task<T> task, std::optional<double> timeout) {
  if (!timeout) return detail::wait_for_unbounded(std::move(task));
  return detail::wait_for_task(std::move(task), *timeout);
}
template <class A, class Rep, class Period>
  requires detail::CoroOrTask<A>
auto wait_for(A&& aw, std::chrono::duration<Rep, Period> timeout) {
  return wait_for(std::forward<A>(aw), detail::to_seconds(timeout));
}

}  // namespace asyncuv
