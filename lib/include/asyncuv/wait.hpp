// asyncuv/wait.hpp — asyncio.wait(), as_completed() and shield().
//
//   done, pending = await asyncio.wait(tasks, return_when=FIRST_COMPLETED, timeout=1)
//   auto [done, pending] = co_await asyncuv::wait(tasks, asyncuv::FIRST_COMPLETED, 1s);
//
// wait(tasks, return_when = ALL_COMPLETED, timeout = none) takes a range of
// Task<T> (Python 3.11 forbids bare coroutines here too) and returns a
// WaitResult<T>{done, pending}: two vectors of the same handles, each in
// input order (Python's sets have no order; duplicates are dropped as a set
// would). It never raises the tasks' exceptions, never cancels them, and an
// expired timeout just leaves tasks in `pending`. An empty input throws
// std::invalid_argument("Set of Tasks/Futures is empty."). The timeout may
// also come first: wait(tasks, 1s, FIRST_COMPLETED).
//
//   for f in asyncio.as_completed(aws, timeout=5): r = await f
//   for (auto f : asyncuv::as_completed(std::move(coros), 5s)) { T r = co_await f; }
//
// as_completed(aws, timeout) returns an AsCompleted<T> (Coros become tasks at
// the call, which needs a running loop; the timeout starts then too). Like
// Python's iterator it yields size() awaitables; awaiting one gives the result
// of the next task to finish (or raises its exception), TimeoutError once the
// timeout has expired and no finished task is left. `co_await ac.next()`
// instead gives the finished Task<T> itself and never raises its exception
// (Python 3.13's `async for t in as_completed(...)`). Awaiting more than
// size() times throws InvalidStateError. The AsCompleted must outlive its
// awaits; the tasks are never cancelled by it.
//
//   res = await asyncio.shield(task)
//   T res = co_await asyncuv::shield(task);
//
// shield(aw) waits for a Task (a Coro becomes a task at the call): cancelling
// the awaiting task raises CancelledError in it at once while the inner task
// runs on untouched; if the inner task is cancelled by other means, the
// awaiter gets CancelledError too.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gather.hpp"
#include "sleep.hpp"
#include "detail/clock.hpp"
#include "tasks.hpp"

namespace asyncuv {

// asyncio.FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED.
enum class ReturnWhen : std::uint8_t { first_completed, first_exception, all_completed };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::first_completed;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::first_exception;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::all_completed;

// What wait() returns: `auto [done, pending] = co_await wait(...)`.
template <class T>
struct WaitResult {
  std::vector<Task<T>> done;
  std::vector<Task<T>> pending;

};

namespace detail {

inline constexpr std::uint64_t no_deadline = never;

// The loop clock (uv_hrtime) deadline `seconds` from now, as asyncio's
// call_later(timeout, ...) computes it: a timeout <= 0 is due on the next
// iteration, among the other due timers in deadline order.
inline std::uint64_t timeout_deadline(double seconds) { return deadline_after(seconds); }
inline std::uint64_t timeout_deadline(std::optional<double> seconds) {
  return seconds ? timeout_deadline(*seconds) : no_deadline;
}

template <class Rep, class Period>
std::optional<double> to_seconds(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration<double>(d).count();
}

// asyncio's _wait(): the awaiting task sleeps until the tasks satisfy
// return_when or the deadline passes. It observes, never owns or cancels the
// tasks: cancelling the awaiter abandons the wait (CancelledError). Like
// Python's, it always yields to the loop at least once. The task array must
// outlive the awaiter and hold no duplicates.
class ASYNCUV_API TaskSetWait : Suspension, Listener, TimerCall {
public:
  TaskSetWait(TaskCore* const* tasks, std::size_t n, ReturnWhen when, std::uint64_t deadline = no_deadline) noexcept
      : tasks_(tasks), n_(n), when_(when) {
    deadline_ns = deadline;
  }
  TaskSetWait(TaskSetWait&&) = delete;
  ~TaskSetWait() { stop(); }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h);
  void await_resume();

private:
  bool satisfied_by(TaskCore& child) const noexcept;
  void stop() noexcept;  // unregisters from the tasks and the timer
  static void on_child_done(Listener* l, TaskCore& child, Fate fate) noexcept;
  static void on_fire(TimerEntry* e, Fate fate) noexcept;
  static bool on_cancel(Suspension* s) noexcept;

  TaskCore* const* tasks_;
  std::size_t n_;
  std::size_t pending_ = 0;
  ReturnWhen when_;
  bool registered_ = false;
  bool signalled_ = false;
  DeferredWake wake_;  // asyncio's intermediate future, see tasks.hpp
};

// Drops repeated tasks, keeping the first of each (Python's set(fs)).
template <class T>
void drop_duplicates(std::vector<Task<T>>& tasks) {
  std::vector<Task<T>> unique;
  unique.reserve(tasks.size());
  std::unordered_set<const void*> seen;  // only for large inputs: a scan is cheaper
  const bool small = tasks.size() <= 32;
  for (auto& t : tasks) {
    bool dup = false;
    if (small) {
      for (const auto& u : unique) dup = dup || detail::TaskAccess::promise(u) == detail::TaskAccess::promise(t);
    } else {
      dup = !seen.insert(detail::TaskAccess::promise(t)).second;
    }
    if (!dup) unique.push_back(std::move(t));
  }
  tasks = std::move(unique);
}

ASYNCUV_API void check_return_when(ReturnWhen when);

template <class T>
std::vector<TaskCore*> cores_of(const std::vector<Task<T>>& tasks) {
  std::vector<TaskCore*> cores;
  cores.reserve(tasks.size());
  for (const auto& t : tasks) cores.push_back(detail::TaskAccess::promise(t));
  return cores;
}

template <class T>
Coro<WaitResult<T>> wait_tasks(std::vector<Task<T>> tasks, ReturnWhen when, std::optional<double> timeout) {
  if (tasks.empty()) throw std::invalid_argument("Set of Tasks/Futures is empty.");
  check_return_when(when);
  drop_duplicates(tasks);
  const std::vector<TaskCore*> cores = cores_of(tasks);
  co_await TaskSetWait(cores.data(), cores.size(), when, timeout_deadline(timeout));
  WaitResult<T> r;
  for (auto& t : tasks) (t.done() ? r.done : r.pending).push_back(std::move(t));
  co_return r;
}

template <class T>
Coro<T> shield_task(Task<T> t) {
  if (!t.done()) {  // Python's shortcut: a done task is returned as it is
    TaskCore* const one[1] = {detail::TaskAccess::promise(t)};
    co_await TaskSetWait(one, 1, ReturnWhen::first_completed);
  }
  co_return t.result();
}

class AsCompletedNext;

// What as_completed() shares between its awaits: the tasks in completion
// order, the waiters in arrival order (Python's Queue of done futures). A
// task joins the queue through a done callback (a pass after it ends), and
// a waiter wakes on the pass after that, as in asyncio.
class ASYNCUV_API AsCompletedState : Listener, TimerCall, DoneCallbacks {
public:
  AsCompletedState(std::vector<TaskCore*> tasks, std::uint64_t deadline);
  AsCompletedState(AsCompletedState&&) = delete;
  ~AsCompletedState();
  std::size_t size() const noexcept { return tasks_.size(); }

private:
  friend class AsCompletedNext;
  static void on_child_done(Listener* l, TaskCore& child, Fate fate) noexcept;
  static void on_completion(DoneCallbacks* d, TaskCore& child) noexcept;  // Python's _on_completion
  static void on_fire(TimerEntry* e, Fate fate) noexcept;
  void unregister() noexcept;
  void deliver() noexcept;  // hands finished tasks (or the timeout) to waiters
  void enqueue(AsCompletedNext* w) noexcept;
  void unlink(AsCompletedNext* w) noexcept;

  std::vector<TaskCore*> tasks_;  // one reference each
  std::deque<TaskCore*> finished_;
  AsCompletedNext* head_ = nullptr;
  AsCompletedNext* tail_ = nullptr;
  std::size_t pending_ = 0;
  std::size_t todo_ = 0;    // Python's todo: tasks whose _on_completion has not run
  std::size_t issued_ = 0;  // awaits started
  bool timed_out_ = false;
};

// One await on an AsCompleted: the next finished task, or TimeoutError.
class ASYNCUV_API AsCompletedNext : Suspension {
public:
  explicit AsCompletedNext(AsCompletedState* s) noexcept : state_(s) {}
  AsCompletedNext(AsCompletedNext&&) = delete;
  ~AsCompletedNext();
  bool await_ready();
  void await_suspend(std::coroutine_handle<> h);

protected:
  TaskCore* take();  // in await_resume

private:
  friend class AsCompletedState;
  static bool on_cancel(Suspension* s) noexcept;

  AsCompletedState* state_;
  AsCompletedNext* next_ = nullptr;
  AsCompletedNext* prev_ = nullptr;
  TaskCore* item_ = nullptr;
  bool queued_ = false;
  bool suspended_ = false;
  bool handed_ = false;  // item_ (or the timeout) is ours
};

}  // namespace detail

// wait(tasks, return_when = ALL_COMPLETED, timeout = none); see the top.
template <class T>
Coro<WaitResult<T>> wait(std::vector<Task<T>>&& tasks, ReturnWhen when = ALL_COMPLETED,
                         std::optional<double> timeout = std::nullopt) {
  return detail::wait_tasks(std::move(tasks), when, timeout);
}
template <detail::TaskRange R>
auto wait(const R& tasks, ReturnWhen when = ALL_COMPLETED, std::optional<double> timeout = std::nullopt) {
  return detail::wait_tasks(detail::copy_tasks(tasks), when, timeout);
}
template <class R, class Rep, class Period>
auto wait(R&& tasks, ReturnWhen when, std::chrono::duration<Rep, Period> timeout) {
  return wait(std::forward<R>(tasks), when, detail::to_seconds(timeout));
}
// The timeout first: wait(tasks, 0.5) or wait(tasks, 500ms, FIRST_COMPLETED).
template <class R>
auto wait(R&& tasks, std::optional<double> timeout, ReturnWhen when = ALL_COMPLETED) {
  return wait(std::forward<R>(tasks), when, timeout);
}
template <class R, class Rep, class Period>
auto wait(R&& tasks, std::chrono::duration<Rep, Period> timeout, ReturnWhen when = ALL_COMPLETED) {
  return wait(std::forward<R>(tasks), when, detail::to_seconds(timeout));
}

// as_completed(aws, timeout = none); see the top.
template <class T>
class AsCompleted {
public:
  AsCompleted(std::vector<Task<T>> tasks, std::optional<double> timeout) {
    detail::drop_duplicates(tasks);
    state_ = std::make_unique<detail::AsCompletedState>(detail::cores_of(tasks), detail::timeout_deadline(timeout));
  }

  // How many awaitables the iteration yields (the distinct tasks).
  std::size_t size() const noexcept { return state_->size(); }

  // co_await ac.next() -> the next Task<T> to finish (its exception stays in it).
  class NextTask : detail::AsCompletedNext {
  public:
    using AsCompletedNext::AsCompletedNext;
    using AsCompletedNext::await_ready;
    using AsCompletedNext::await_suspend;
    Task<T> await_resume() { return Task<T>(static_cast<typename Task<T>::promise_type*>(take())); }
  };
  NextTask next() { return NextTask(state_.get()); }

  // co_await *it -> the next result, or the exception of the task that failed.
  class NextResult : detail::AsCompletedNext {
  public:
    using AsCompletedNext::AsCompletedNext;
    using AsCompletedNext::await_ready;
    using AsCompletedNext::await_suspend;
    T await_resume() {
      Task<T> t(static_cast<typename Task<T>::promise_type*>(take()));
      if constexpr (std::is_void_v<T>) t.result();
      else return t.result();
    }
  };
  // What iterating yields: Python's awaitable returned by as_completed().
  struct Awaitable {
    detail::AsCompletedState* state;
    NextResult operator co_await() const noexcept { return NextResult(state); }
  };
  class iterator {
  public:
    using value_type = Awaitable;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(detail::AsCompletedState* s, std::size_t i) : state_(s), i_(i) {}
    Awaitable operator*() const { return Awaitable{state_}; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

  private:
    detail::AsCompletedState* state_ = nullptr;
    std::size_t i_ = 0;
  };
  iterator begin() const { return iterator(state_.get(), 0); }
  iterator end() const { return iterator(state_.get(), size()); }

private:
  std::unique_ptr<detail::AsCompletedState> state_;
};

template <class T>
AsCompleted<T> as_completed(std::vector<Coro<T>>&& coros, std::optional<double> timeout = std::nullopt) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (auto& c : coros) tasks.push_back(create_task(std::move(c)));
  return AsCompleted<T>(std::move(tasks), timeout);
}
template <detail::TaskRange R>
auto as_completed(const R& tasks, std::optional<double> timeout = std::nullopt) {
  using T = typename std::ranges::range_value_t<R>::value_type;
  return AsCompleted<T>(detail::copy_tasks(tasks), timeout);
}
template <class R, class Rep, class Period>
auto as_completed(R&& aws, std::chrono::duration<Rep, Period> timeout) {
  return as_completed(std::forward<R>(aws), detail::to_seconds(timeout));
}

// shield(aw); see the top.
template <class T>
Coro<T> shield(Task<T> task) {
  return detail::shield_task(std::move(task));
}
template <class T>
Coro<T> shield(Coro<T>&& coro) {
  return detail::shield_task(create_task(std::move(coro)));  // created now, as ensure_future does
}

}  // namespace asyncuv
