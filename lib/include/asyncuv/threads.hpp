// asyncuv/threads.hpp — threads and the loop (asyncio.to_thread,
// asyncio.run_coroutine_threadsafe, concurrent.futures.Future).
//
// to_thread(f, args...) runs f(args...) on libuv's thread pool and is awaited
// like any coroutine. run_coroutine_threadsafe(coro, loop) is the way in from
// another thread: it hands a coroutine to a running loop and returns a
// ConcurrentFuture that the calling thread can block on. Everything that
// crosses threads goes through a mutex (the future's, or the loop's
// call_soon_threadsafe queue); nothing else of the loop is touched off its
// thread.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <uv.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/request.hpp"
#include "tasks.hpp"

namespace asyncuv {

template <class T>
class ConcurrentFuture;

namespace detail {

// ---- to_thread ----

// One uv_work_t and what it computes: a request (detail/request.hpp), so it
// outlives an awaiter that gave up on it.
struct WorkBase : Request<uv_work_t> {
  std::exception_ptr error;
  virtual void execute() noexcept = 0;  // on a pool thread
  static void on_work(uv_work_t* req) noexcept { static_cast<WorkBase&>(of(req)).execute(); }
};

template <class R>
struct WorkResult : WorkBase {
  std::optional<R> value;
};
template <>
struct WorkResult<void> : WorkBase {};

template <class R, class Fn>
struct Work final : WorkResult<R> {
  Fn fn;
  explicit Work(Fn f) : fn(std::move(f)) {}
  void execute() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) std::invoke(fn);
      else this->value.emplace(std::invoke(fn));
    } catch (...) {
      this->error = std::current_exception();
    }
  }
};

// Submits the work to libuv's pool.
int queue_work(WorkBase& w);

// Waits for one piece of work. Cancelling the waiting task does what asyncio
// does: the await ends with CancelledError at once; work that has not started
// is withdrawn (uv_cancel), work that has started runs to its end and is then
// freed by the completion callback.
template <class R>
class [[nodiscard]] WorkAwaiter : RequestAwaitBase {
public:
  explicit WorkAwaiter(WorkResult<R>* w) noexcept : RequestAwaitBase(w) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    suspend(h, [this] { return queue_work(static_cast<WorkBase&>(*req_)); }, "thread");
  }
  R await_resume() {
    auto& w = static_cast<WorkResult<R>&>(resumed());
    if (w.error) std::rethrow_exception(w.error);
    if constexpr (!std::is_void_v<R>) return std::move(*w.value);
  }
};

// ---- ConcurrentFuture ----

// The shared state of a ConcurrentFuture: written once by the loop's thread,
// read by any thread. Every field below the mutex is guarded by it, except
// task, which only the loop's thread touches.
class ASYNCUV_API FutureStateBase : public std::enable_shared_from_this<FutureStateBase> {
public:
  enum class State : std::uint8_t { pending, done, cancelled };

  explicit FutureStateBase(EventLoop* loop) noexcept : loop_(loop) {}
  FutureStateBase(const FutureStateBase&) = delete;
  virtual ~FutureStateBase() = default;

  bool done() const;
  bool cancelled() const;
  bool cancel();
  // Timeouts: `forever`, or a time to wait (0 = don't).
  static constexpr std::chrono::nanoseconds forever = std::chrono::nanoseconds::max();
  void check_result(std::chrono::nanoseconds timeout) const;  // throws what result() would
  std::exception_ptr exception(std::chrono::nanoseconds timeout) const;
  void add_done_callback(std::function<void()> fn);

  // The loop's side. Each returns false if the future was already resolved
  // (cancelled from another thread, typically).
  bool set_exception(std::exception_ptr e);
  bool set_cancelled();

  TaskCore* task = nullptr;  // the task running the coroutine (loop thread only)

protected:
  std::unique_lock<std::mutex> lock_if_pending();  // owns the lock iff pending
  void resolve(std::unique_lock<std::mutex> lock, State s);

private:
  void wait_locked(std::unique_lock<std::mutex>& lock, std::chrono::nanoseconds timeout) const;

  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  State state_ = State::pending;
  std::exception_ptr error_;
  EventLoop* loop_;  // where to send a cancel; null once resolved
  std::vector<std::function<void()>> callbacks_;
};

template <class T>
class FutureState final : public FutureStateBase {
public:
  using FutureStateBase::FutureStateBase;
  template <class U>
  bool set_result(U&& v) {
    auto lock = lock_if_pending();
    if (!lock.owns_lock()) return false;
    value.emplace(std::forward<U>(v));
    resolve(std::move(lock), State::done);
    return true;
  }
  std::optional<T> value;  // immutable once done
};

template <>
class FutureState<void> final : public FutureStateBase {
public:
  using FutureStateBase::FutureStateBase;
  bool set_result() {
    auto lock = lock_if_pending();
    if (!lock.owns_lock()) return false;
    resolve(std::move(lock), State::done);
    return true;
  }
};

// A parameter of the bridge coroutine: lives exactly as long as its frame.
// Whatever way the frame ends (finished, cancelled before it started,
// destroyed unfinished at loop close), the future is resolved by then.
template <class T>
struct FutureGuard {
  std::shared_ptr<FutureState<T>> state;
  explicit FutureGuard(std::shared_ptr<FutureState<T>> s) noexcept : state(std::move(s)) {}
  FutureGuard(FutureGuard&& o) noexcept = default;
  ~FutureGuard() {
    if (state) {
      state->task = nullptr;
      state->set_cancelled();
    }
  }
};

// Runs the coroutine inside the task and copies its outcome to the future.
template <class T>
Coro<void> bridge(Coro<T> coro, FutureGuard<T> guard) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(coro);
      guard.state->set_result();
    } else {
      guard.state->set_result(co_await std::move(coro));
    }
  } catch (const CancelledError&) {
    guard.state->set_cancelled();
    throw;
  } catch (...) {
    guard.state->set_exception(std::current_exception());
  }
}

// The callback run_coroutine_threadsafe posts: makes the task on the loop.
// Dropped unrun (the loop closed first), it cancels the future.
template <class T>
struct Launch {
  Coro<T> coro;
  std::shared_ptr<FutureState<T>> state;
  Launch(Coro<T> c, std::shared_ptr<FutureState<T>> s) noexcept : coro(std::move(c)), state(std::move(s)) {}
  Launch(Launch&&) noexcept = default;
  ~Launch() {
    if (state) state->set_cancelled();
  }
  void operator()() {
    auto s = std::move(state);
    try {
      Task<void> t = create_task(bridge<T>(std::move(coro), FutureGuard<T>(s)));
      s->task = detail::TaskAccess::promise(t);
    } catch (...) {
      s->set_exception(std::current_exception());
      throw;
    }
  }
};

// A timeout in seconds (Python's `timeout=`) as a wait: <= 0 polls, a huge
// one waits forever.
ASYNCUV_API std::chrono::nanoseconds to_timeout(double seconds);
template <class Rep, class Period>
std::chrono::nanoseconds to_timeout(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return std::chrono::nanoseconds(0);
  if (std::chrono::duration<double>(d).count() > 1e9) return FutureStateBase::forever;  // ~30 years
  return std::chrono::ceil<std::chrono::nanoseconds>(d);
}

}  // namespace detail

// concurrent.futures.Future as returned by run_coroutine_threadsafe: usable
// from any thread, copyable (copies share the outcome). result() and
// exception() block until the coroutine finished, or throw TimeoutError
// after `timeout`. Calling a blocking result() on the loop's own thread while
// it is pending would deadlock; that throws RuntimeError instead.
template <class T>
class ConcurrentFuture {
public:
  ConcurrentFuture() noexcept = default;
  explicit ConcurrentFuture(std::shared_ptr<detail::FutureState<T>> s) noexcept : s_(std::move(s)) {}

  bool valid() const noexcept { return s_ != nullptr; }
  bool done() const { return state().done(); }
  bool cancelled() const { return state().cancelled(); }
  bool running() const { return false; }  // as asyncio leaves it: pending until done
  // Cancels the future at once and asks the loop to cancel the task. False
  // if it is already done (True if already cancelled), as in Python.
  bool cancel() { return state().cancel(); }

  decltype(auto) result() const { return result_for(detail::FutureStateBase::forever); }
  decltype(auto) result(double timeout) const { return result_for(detail::to_timeout(timeout)); }
  template <class Rep, class Period>
  decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const {
    return result_for(detail::to_timeout(timeout));
  }

  std::exception_ptr exception() const { return state().exception(detail::FutureStateBase::forever); }
  std::exception_ptr exception(double timeout) const { return state().exception(detail::to_timeout(timeout)); }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return state().exception(detail::to_timeout(timeout));
  }

  // f(const ConcurrentFuture&) once done: at once in this thread if it is
  // already, else in the thread that completes it (the loop's).
  template <class F>
  void add_done_callback(F f) {
    state().add_done_callback([f = std::move(f), self = *this]() mutable { f(static_cast<const ConcurrentFuture&>(self)); });
  }

private:
  decltype(auto) result_for(std::chrono::nanoseconds timeout) const {
    state().check_result(timeout);
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*s_->value);
  }
  detail::FutureState<T>& state() const {
    if (!s_) throw InvalidStateError("empty ConcurrentFuture");
    return *s_;
  }
  std::shared_ptr<detail::FutureState<T>> s_;
};

// asyncio.run_coroutine_threadsafe(coro, loop): runs coro as a task on
// `loop` (which must be running, typically in another thread) and returns a
// future for its outcome. Cancelling the future cancels the task. Throws
// RuntimeError if the loop is closed.
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Coro<T> coro, EventLoop& loop) {
  auto state = std::make_shared<detail::FutureState<T>>(&loop);
  loop.call_soon_threadsafe(detail::Launch<T>(std::move(coro), state));
  return ConcurrentFuture<T>(std::move(state));
}

// asyncio.to_thread(f, args...): f(args...) on libuv's thread pool (shared
// by every loop; UV_THREADPOOL_SIZE threads, 4 by default); its result or
// exception comes back to the awaiter. Arguments are copied (or moved) into
// the call and passed on as rvalues, as std::thread does. Cancelling the awaiting task ends the
// await with CancelledError at once; the function, if it has started, runs
// to its end (a thread cannot be stopped) and run() waits for it on exit.
template <class F, class... A>
  requires std::invocable<F, A...>
Coro<std::decay_t<std::invoke_result_t<F, A...>>> to_thread(F f, A... args) {
  using R = std::decay_t<std::invoke_result_t<F, A...>>;
  auto call = [f = std::move(f), ... a = std::move(args)]() mutable -> R {
    return std::invoke(std::move(f), std::move(a)...);
  };
  auto* work = new detail::Work<R, decltype(call)>(std::move(call));
  co_return co_await detail::WorkAwaiter<R>(work);
}

}  // namespace asyncuv
