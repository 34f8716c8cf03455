// asyncuv/events.hpp — the event loop (asyncio.events).
//
// One EventLoop per run(): a libuv loop plus what asyncio keeps beside it —
// a ready queue of nodes (detail/ready_queue.hpp: call_soon, task steps), a
// timer heap behind a single uv_timer_t (detail/timer_heap.hpp: call_later,
// sleep), the owned handles (detail/owned_handle.hpp), the signal table and
// the exception handler. Only events.cpp calls uv_run. It knows nothing of
// tasks: the task module keeps its registry in the loop as an opaque
// LoopExtension and runs task nodes itself (run_nodes).
//
// The public callback API is asyncio's: call_soon / call_later / call_at
// return a Handle / TimerHandle that can cancel the call, and
// call_soon_threadsafe is the one door other threads may use. A scheduled
// callback is one allocation (its Handle state, which is at once a ready-queue
// node and a timer entry), never a libuv handle of its own.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <uv.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/clock.hpp"
#include "detail/owned_handle.hpp"
#include "detail/ready_queue.hpp"
#include "detail/signal.hpp"
#include "detail/timer_heap.hpp"
#include "handles.hpp"

namespace asyncuv {

class EventLoop;
template <class T = void>
class Future;
template <class T>
class Coro;

// What the loop's exception handler receives (asyncio's "context" dict).
struct ASYNCUV_API ExceptionContext {
  std::string message;           // e.g. "Task exception was never retrieved"
  std::exception_ptr exception;  // may be null
  std::string task_name;         // empty when no task is involved
};
using ExceptionHandler = std::function<void(const ExceptionContext&)>;

// Prints the context on stderr, as asyncio's default handler does.
ASYNCUV_API void default_exception_handler(const ExceptionContext& ctx);

namespace detail {
// The one way the library reports an error nobody can catch: to the running
// loop's handler, or on stderr when no loop runs on this thread. Never throws.
ASYNCUV_API void report_exception(const ExceptionContext& ctx) noexcept;
}  // namespace detail

namespace detail {

struct LoopAccess;

// The per-loop state of a module above the loop (the task registry, see
// tasks): the loop owns it and calls it at two moments, and knows nothing
// else about it. A pass over the ready queue may ask for after_pass() (it
// runs once the loop's run of passes ends); on_close() runs first thing
// when the loop closes, while the loop still works.
class ASYNCUV_API LoopExtension {
public:
  virtual ~LoopExtension() = default;
  virtual void after_pass() noexcept = 0;
  virtual void on_close() noexcept = 0;
};

template <class F, class... A>
concept CallableWith = std::invocable<std::decay_t<F>, std::decay_t<A>...>;

// Called again and again with the same arguments (a signal handler).
template <class F, class... A>
concept RepeatableWith = std::invocable<std::decay_t<F>&, std::decay_t<A>&...>;

template <class R>
inline constexpr bool is_coro_v = false;
template <class T>
inline constexpr bool is_coro_v<Coro<T>> = true;

}  // namespace detail

class ASYNCUV_API EventLoop {
public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The loop running on this thread, or null (asyncio's _get_running_loop()).
  static EventLoop* current() noexcept { return current_; }

  // asyncio's loop.time(): monotonic seconds.
  double time() const noexcept { return detail::loop_time(detail::now_ns()); }

  void set_exception_handler(ExceptionHandler h) { handler_ = std::move(h); }
  void call_exception_handler(const ExceptionContext& ctx) noexcept;

  // ---- asyncio's callback API (loop thread only, except call_soon_threadsafe) ----

  // loop.call_soon(f, args...): f(args...) on the next pass over the ready
  // queue, FIFO with everything else scheduled (tasks included).
  template <class F, class... A>
    requires detail::CallableWith<F, A...>
  Handle call_soon(F&& f, A&&... args) {
    check_thread();
    auto* s = detail::make_handle(std::forward<F>(f), std::forward<A>(args)...);
    s->loop = this;
    schedule(static_cast<detail::Callback*>(s));
    return Handle(s);
  }

  // loop.call_later(delay, f, args...): f(args...) once at least `delay`
  // (seconds, or any std::chrono::duration) has passed; equal deadlines run
  // in call order. A delay <= 0 runs on the next iteration.
  template <class F, class... A>
    requires detail::CallableWith<F, A...>
  TimerHandle call_later(double delay, F&& f, A&&... args) {
    check_thread();
    const std::uint64_t deadline = detail::deadline_after(delay);
    return start_timer(detail::make_handle(std::forward<F>(f), std::forward<A>(args)...), deadline,
                       detail::loop_time(deadline));
  }
  template <class Rep, class Period, class F, class... A>
    requires detail::CallableWith<F, A...>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& f, A&&... args) {
    return call_later(std::chrono::duration<double>(delay).count(), std::forward<F>(f), std::forward<A>(args)...);
  }

  // loop.call_at(when, f, args...): f(args...) once time() >= when.
  template <class F, class... A>
    requires detail::CallableWith<F, A...>
  TimerHandle call_at(double when, F&& f, A&&... args) {
    check_thread();
    return start_timer(detail::make_handle(std::forward<F>(f), std::forward<A>(args)...), detail::deadline_at(when), when);
  }

  // loop.call_soon_threadsafe(f, args...): the one call other threads may
  // make. Queues f(args...) under a mutex and wakes the loop; on the loop's
  // own thread it is call_soon. Throws RuntimeError("Event loop is closed")
  // once the loop has closed. The loop object itself must still exist: keep
  // it alive (e.g. let run() not return) while other threads may post.
  template <class F, class... A>
    requires detail::CallableWith<F, A...>
  Handle call_soon_threadsafe(F&& f, A&&... args) {
    if (is_closed()) throw_closed();
    auto* s = detail::make_handle(std::forward<F>(f), std::forward<A>(args)...);
    s->loop = this;
    if (current_ == this) {
      schedule(static_cast<detail::Callback*>(s));
    } else if (!post_threadsafe(s)) {
      s->release();
      s->release();
      throw_closed();
    }
    return Handle(s);
  }

  // loop.add_signal_handler(sig, f, args...): f(args...) through the loop
  // (as call_soon) each time signal sig arrives; a second add replaces f.
  // asyncio's errors: a coroutine function is a TypeError ("coroutines
  // cannot be used with add_signal_handler()"), a number that is no signal a
  // ValueError ("invalid signal number N"), SIGKILL and SIGSTOP a
  // RuntimeError ("sig 9 cannot be caught"). Handlers do not keep the loop
  // running, and the loop's close removes them (signals.cpp).
  template <class F, class... A>
    requires detail::RepeatableWith<F, A...>
  void add_signal_handler(int sig, F&& f, A&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>;
    if constexpr (detail::is_coro_v<std::remove_cvref_t<R>>) {
      detail::throw_coroutine_signal_handler();
    } else {
      auto bound = [f = std::forward<F>(f), ... a = std::forward<A>(args)]() mutable {
        static_cast<void>(std::invoke(f, a...));
      };
      set_signal_handler(sig, std::make_shared<detail::SignalCallbackOf<decltype(bound)>>(std::move(bound)));
    }
  }
  // loop.remove_signal_handler(sig): true if a handler was removed (sig then
  // gets its default disposition back), false if there was none.
  bool remove_signal_handler(int sig);

  // loop.create_future(): a pending Future<T> on this loop (futures.hpp).
  template <class T = void>
  Future<T> create_future();

  // loop.stop(): stops after the current pass over the ready queue.
  void stop() noexcept { stopping_ = true; }
  // loop.is_closed(): true once the loop has started closing. Thread-safe.
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // The libuv loop, for binding handles of your own (uv_*_init on it). Close
  // them before run() returns, or the loop's close does it for you.
  uv_loop_t* uv_loop() noexcept { return &uv_; }

private:
  // The library reaches the rest through detail::LoopAccess (detail/loop_access.hpp).
  friend struct detail::LoopAccess;

  void schedule(detail::Callback* c) noexcept { push_ready(c, 0); }
  void push_ready(detail::ReadyNode* n, std::uintptr_t tag) noexcept {
    ready_.push(n, tag);
    if (!idle_active_) start_idle();
  }
  void add_timer(detail::TimerEntry* e);
  void remove_timer(detail::TimerEntry* e) noexcept;
  detail::SignalHandlers& signal_handlers();  // created on first use
  bool post_threadsafe(detail::HandleState* s) noexcept;  // false once closed
  // Runs the loop until stop() is called or nothing is left to wait for.
  void run_until_stopped();
  // While run()'s main coroutine runs, the loop waits even with nothing
  // pending, as asyncio's does: another thread may still call
  // call_soon_threadsafe. At shutdown it lets go, so that the loop ends once
  // the tasks have.
  void keep_alive(bool on) noexcept;
  // Stops once what the current pass queued has run: at once when it queued
  // nothing, else after one more pass.
  void stop_after_queued() noexcept;

  void check_thread() const {  // asyncio's debug-mode check, always on
    if (current_ != this) [[unlikely]] throw_wrong_thread();
    if (is_closed()) [[unlikely]] throw_closed();
  }
  [[noreturn]] static void throw_wrong_thread();
  [[noreturn]] static void throw_closed();
  TimerHandle start_timer(detail::HandleState* s, std::uint64_t deadline_ns, double when);
  void set_signal_handler(int sig, std::shared_ptr<detail::SignalCallback> callback);
  static void on_async(uv_async_t* h);
  void drain_threadsafe() noexcept;
  void drop_ready_queue() noexcept;
  static void on_stop_turn(detail::Callback* c, detail::Fate fate) noexcept;
  static void on_idle(uv_idle_t* h);
  static void on_check(uv_check_t* h);
  static void on_timer(uv_timer_t* h);
  void start_idle() noexcept;
  void run_ready() noexcept;
  void run_pass() noexcept;
  void end_of_passes() noexcept;
  static constexpr int passes_per_poll = 16;
  void fire_timers() noexcept;
  static void on_due(detail::Callback* c, detail::Fate fate) noexcept;
  static void run_timer(detail::TimerEntry* e) noexcept;
  void arm_timer() noexcept;
  void close() noexcept;
  void close_uv_loop() noexcept;

  // initial-exec: read on every await; the general-dynamic model that -fPIC
  // would pick costs a call per read.
  [[gnu::tls_model("initial-exec")]] static constinit thread_local EventLoop* current_;

  uv_loop_t uv_;
  detail::HandleRegistry handles_;        // every owned handle still open
  detail::OwnedHandle<uv_idle_t> idle_;    // active exactly while the ready queue is non-empty
  detail::OwnedHandle<uv_timer_t> timer_;  // armed for the earliest entry of timers_
  detail::OwnedHandle<uv_check_t> check_;  // runs what the poll's I/O woke (on_check)
  // Wakes the loop for call_soon_threadsafe. Referenced only while run()'s
  // main coroutine runs (keep_alive), so shutdown still ends when tasks do.
  detail::OwnedHandle<uv_async_t> async_;
  std::unique_ptr<detail::SignalHandlers> signals_;  // add_signal_handler's, run()'s SIGINT
  // The task module's per-loop state (its registry), see LoopExtension.
  std::unique_ptr<detail::LoopExtension> extension_;
  detail::ReadyQueue ready_;
  detail::TimerHeap timers_;
  std::uint32_t timer_seq_ = 0;
  // Timers found due, in deadline order, until due_turn_'s turn in the ready
  // queue runs them (asyncio's _ready tail). A cancelled one leaves a hole.
  std::vector<std::uintptr_t> due_;  // entries, and runs of sleepers (see fire_timers)
  detail::Callback due_turn_;
  bool due_turn_queued_ = false;
  bool idle_active_ = false;
  bool stopping_ = false;
  bool after_pass_wanted_ = false;  // the extension asked for after_pass()
  bool stop_when_settled_ = false;  // stop_after_queued() was asked for
  bool stop_turn_queued_ = false;
  detail::Callback stop_turn_;  // stop_after_queued()'s one more pass
  ExceptionHandler handler_;
  // call_soon_threadsafe's queue.
  std::mutex posted_mutex_;
  detail::ReadyQueue posted_;
  std::atomic<bool> closed_{false};  // written under posted_mutex_
};

// asyncio.get_running_loop(): throws RuntimeError("no running event loop").
ASYNCUV_API EventLoop& get_running_loop();

namespace detail {

[[noreturn]] void throw_wrong_thread();

// Tasks and primitives belong to the thread of their loop. Their entry points
// that would reach a loop (to wake a waiter, to cancel a task) check first
// that the calling thread runs one, so that a call from another thread gets
// asyncio's debug-mode RuntimeError instead of following a null loop. (A
// thread running a *different* loop is not detected: that would cost every
// task and primitive a loop pointer.)
inline void check_loop_thread() {
  if (!EventLoop::current()) [[unlikely]] throw_wrong_thread();
}

}  // namespace detail

}  // namespace asyncuv
