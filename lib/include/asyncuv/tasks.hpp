// asyncuv/tasks.hpp — Task<T> and create_task (asyncio.tasks).
//
// A Task is a cheap, copyable handle on a coroutine frame that the loop
// drives on its own. Like asyncio it starts on the next loop iteration, can be
// awaited by any number of awaiters before or after it finishes, and keeps its
// outcome for as long as a handle exists. Unlike asyncio the loop holds a
// reference while it is unfinished, so a fire-and-forget task is never lost.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "coroutines.hpp"
#include "detail/task_awaiters.hpp"

namespace asyncuv {

template <class T = void>
class Task;

namespace detail {
// How the library reaches a task's promise (not part of the public API).
struct TaskAccess {
  template <class T>
  static auto* promise(const Task<T>& t) noexcept {
    return t.p_;
  }
};
}  // namespace detail

template <class T>
class Task {
public:
  using value_type = T;
  using promise_type = detail::Promise<T>;

  Task() noexcept = default;
  explicit Task(promise_type* p) noexcept : p_(p) {
    if (p_) p_->incref();
  }
  Task(const Task& o) noexcept : Task(o.p_) {}
  Task(Task&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Task& operator=(Task o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Task() {
    if (p_) p_->decref();
  }

  bool valid() const noexcept { return p_ != nullptr; }
  bool done() const { return core().done(); }
  bool cancelled() const { return core().cancelled(); }
  bool cancel() {
    auto& c = core();
    if (!c.done()) detail::check_loop_thread();
    return c.cancel();
  }
  // Python 3.11's Task.cancelling() / uncancel(): pending cancel requests.
  int cancelling() const { return core().cancelling(); }
  int uncancel() { return core().uncancel(); }
  std::string get_name() const { return core().name(); }
  void set_name(std::string name) { core().set_name(std::move(name)); }

  // The value; rethrows the task's exception; CancelledError if cancelled;
  // InvalidStateError while pending.
  // A const T& into the task (valid while a handle on it lives); T& itself
  // for Task<T&>. InvalidStateError once a move-only value was moved out.
  decltype(auto) result() const {
    core().check_result();
    if constexpr (std::is_reference_v<T>) return p_->peek();
    else if constexpr (!std::is_void_v<T>) return static_cast<const T&>(p_->peek());
  }
  // Null when the task succeeded; CancelledError if cancelled;
  // InvalidStateError while pending.
  std::exception_ptr exception() const {
    if (!core().done()) throw InvalidStateError("Exception is not set.");
    if (cancelled()) core().check_result();  // throws the task's CancelledError
    p_->mark_retrieved();
    return p_->error_or_null();
  }

  // f(const Task<T>&) runs through the loop once the task is done, in
  // registration order; added to a done task it runs on the next iteration.
  template <class F>
  void add_done_callback(F f) {
    auto& c = core();
    auto schedule = [f = std::move(f)](promise_type* p) mutable {
      get_running_loop().call_soon([f, t = Task(p)]() mutable { f(static_cast<const Task&>(t)); });
    };
    if (c.done()) {
      schedule(p_);
    } else {
      // The listener holds no reference: a pending task destroyed at
      // teardown must not be kept alive by its own callback.
      c.add_listener(new detail::DoneCallbackListener(
          [s = std::move(schedule)](detail::TaskCore& done) mutable { s(static_cast<promise_type*>(&done)); }));
    }
  }

  // What co_await gives. A task may have many awaiters, so a copyable value
  // is copied to each, and T& is handed out as it is. A move-only value
  // leaves the task only through an rvalue handle (co_await std::move(t),
  // co_await create_task(...)): it is moved out, and later readers get
  // InvalidStateError. co_await on an lvalue handle of a move-only T gives a
  // const T& into the task, valid while a handle on the task lives.
  template <bool Owner>
  class Awaiter : detail::TaskAwaitBase {
    static constexpr bool moves_out = Owner && !std::is_void_v<T> && !std::is_reference_v<T> &&
                                      !std::is_copy_constructible_v<T>;
    static constexpr bool by_reference = !std::is_void_v<T> && !std::is_reference_v<T> &&
                                         !std::is_copy_constructible_v<T> && !Owner;
    using result_type = typename std::conditional_t<by_reference, std::add_lvalue_reference<std::add_const_t<T>>,
                                                    std::type_identity<T>>::type;

  public:
    explicit Awaiter(promise_type* p) noexcept : TaskAwaitBase(p) {}
    bool await_ready() const noexcept { return ready(); }
    void await_suspend(std::coroutine_handle<> h) { suspend(h); }
    result_type await_resume() {
      resumed();
      auto* p = static_cast<promise_type*>(target_);
      p->check_result();
      if constexpr (moves_out) return p->move_out();
      else if constexpr (!std::is_void_v<T>) return p->peek();
    }
  };
  Awaiter<false> operator co_await() const& { return Awaiter<false>(&core_promise()); }
  Awaiter<true> operator co_await() const&& { return Awaiter<true>(&core_promise()); }

  // Two handles on the same task (Python tasks compare by identity).
  friend bool operator==(const Task& a, const Task& b) noexcept { return a.p_ == b.p_; }

private:
  friend struct detail::TaskAccess;
  promise_type& core_promise() const {
    if (!p_) throw InvalidStateError("empty Task handle");
    return *p_;
  }
  detail::TaskCore& core() const { return core_promise(); }

  promise_type* p_ = nullptr;
};

// asyncio.create_task(coro, name=...): schedules the coroutine to start on
// the next loop iteration. Throws RuntimeError outside a running loop.
template <class T>
Task<T> create_task(Coro<T>&& coro) {
  EventLoop* loop = EventLoop::current();
  if (!loop) throw RuntimeError("no running event loop");
  auto h = coro.release();
  h.promise().start_task(*loop, h.address());
  return Task<T>(&h.promise());
}

template <class T>
Task<T> create_task(Coro<T>&& coro, std::string name) {
  Task<T> t = create_task(std::move(coro));
  t.set_name(std::move(name));
  return t;
}

// asyncio.current_task() / all_tasks() hand out tasks whose result type the
// caller does not know: AnyTask is a Task<T> handle without the T (name,
// state, cancel; no result). Compares equal to another handle on the same
// task, as Python tasks compare by identity.
class AnyTask {
public:
  AnyTask() noexcept = default;
  template <class T>
  AnyTask(const Task<T>& t) noexcept : AnyTask(detail::TaskAccess::promise(t)) {}  // NOLINT: implicit, like Python's duck typing
  explicit AnyTask(detail::TaskCore* c) noexcept : c_(c) {
    if (c_) c_->incref();
  }
  AnyTask(const AnyTask& o) noexcept : AnyTask(o.c_) {}
  AnyTask(AnyTask&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  AnyTask& operator=(AnyTask o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~AnyTask() {
    if (c_) c_->decref();
  }

  bool valid() const noexcept { return c_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }
  bool done() const { return core().done(); }
  bool cancelled() const { return core().cancelled(); }
  bool cancel() { return core().cancel(); }
  int cancelling() const { return core().cancelling(); }
  int uncancel() { return core().uncancel(); }
  std::string get_name() const { return core().name(); }
  void set_name(std::string name) { core().set_name(std::move(name)); }

  friend bool operator==(const AnyTask& a, const AnyTask& b) noexcept { return a.c_ == b.c_; }

private:
  detail::TaskCore& core() const {
    if (!c_) throw InvalidStateError("empty Task handle");
    return *c_;
  }
  detail::TaskCore* c_ = nullptr;
};

// asyncio.current_task(): the task running now; an empty handle (Python's
// None) in a plain callback. RuntimeError("no running event loop") outside
// a loop.
AnyTask current_task();

// asyncio.all_tasks(): the running loop's tasks that are not done.
std::vector<AnyTask> all_tasks();

// For APIs that take "an awaitable": a Task as it is, a Coro as a new task.
template <class T>
Task<T> ensure_task(Task<T> t) {
  return t;
}
template <class T>
Task<T> ensure_task(Coro<T>&& c) {
  return create_task(std::move(c));
}

}  // namespace asyncuv
