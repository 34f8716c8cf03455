// asyncuv/events.hpp — the event loop (asyncio.events).
//
// One EventLoop per run(): a libuv loop plus what asyncio keeps beside it —
// a ready queue (call_soon), a timer heap behind a single uv_timer_t
// (call_later / sleep), the registry of unfinished tasks (so that run() can
// cancel them) and the exception handler. Only events.cpp calls uv_run.
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
#include "detail/handle.hpp"
#include "detail/signal.hpp"

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

struct TaskCore;

// Something the loop runs on its next pass over the ready queue
// (asyncio's Handle). Intrusive, so scheduling never allocates. A task is its
// own node (the common case, dispatched without an indirect call); anything
// else is a Callback. The link to a node carries its kind in its low bit,
// which keeps the node itself one word.
struct ASYNCUV_API ReadyNode {
  std::uintptr_t next = 0;  // tagged link to the following node
};

// What becomes of a queued node: it runs, or the loop closes with it still
// queued and drops it. Every node's function handles both, so a node that
// owns itself (a call_soon handle, a pooled post) frees itself when dropped,
// and a new kind of node has to say what dropping it means.
enum class Fate : bool { run, drop };

struct ASYNCUV_API Callback : ReadyNode {
  using Fn = void (*)(Callback*, Fate) noexcept;
  explicit Callback(Fn fn) noexcept : on_turn(fn) {}
  void run() noexcept { on_turn(this, Fate::run); }
  void drop() noexcept { on_turn(this, Fate::drop); }
  Fn on_turn;
};

// An entry of the loop's timer heap. It lives inside whoever waits (a sleep
// awaiter in a coroutine frame), so arming a timer never allocates. Most
// entries are sleeps, which only wake their task: they carry no function
// pointer (a sleeping task is 8 bytes smaller) and say so in seq's low bit.
// A due entry leaves the heap for the loop's due list (heap_index then holds
// due_bit and its place there; a sleep's task joins it instead) and acts on
// its turn in the ready queue, as asyncio moves a due TimerHandle to _ready:
// what it wakes runs a pass later.
struct ASYNCUV_API TimerEntry {
  static constexpr std::uint32_t not_queued = UINT32_MAX;
  static constexpr std::uint32_t wakes_task_bit = 1;
  static constexpr std::uint32_t due_bit = 0x4000'0000u;  // clear in heap and run places
  std::uint64_t deadline_ns = 0;  // uv_hrtime() clock
  // Bits 1-31: FIFO order among equal deadlines, counted in steps of two
  // (wraps safely, see TimerHeap::before); bit 0: wakes_task_bit.
  std::uint32_t seq = 0;
  std::uint32_t heap_index = not_queued;
  bool queued() const noexcept { return heap_index != not_queued; }
  bool wakes_task() const noexcept { return seq & wakes_task_bit; }
};

// A timer entry that runs a function when due (call_later, timeouts, wait).
// fire(e, Fate::drop) when the loop closes with the entry still queued.
struct ASYNCUV_API TimerCall : TimerEntry {
  void (*fire)(TimerEntry*, Fate) noexcept = nullptr;
};

// The loop's timers, ordered by (deadline, seq). Deadlines mostly arrive in
// order (the same delay, measured from a clock that only goes forward), so
// those join a FIFO run: O(1) in and out, no sifting. An entry due before the
// run's last one goes to a binary heap instead. Each entry knows where it is,
// so a cancelled sleep leaves in O(1) (run) or O(log n) (heap).
class ASYNCUV_API TimerHeap {
public:
  bool empty() const noexcept { return heap_.empty() && run_count_ == 0; }
  TimerEntry* top() const noexcept {
    TimerEntry* r = run_count_ ? run_[run_head_ & run_mask()] : nullptr;
    if (heap_.empty()) return r;
    return r && before(r, heap_.front()) ? r : heap_.front();
  }
  void push(TimerEntry* e);
  void remove(TimerEntry* e) noexcept;
  // Loop teardown: every entry is told it is no longer queued, then handed
  // to visit (which may free it).
  template <class F>
  void forget_all(F&& visit) noexcept {
    std::vector<TimerEntry*> heap, run;  // taken out first: visit may free entries
    heap.swap(heap_);
    run.swap(run_);
    const std::uint32_t head = run_head_, tail = run_tail_, mask = static_cast<std::uint32_t>(run.size()) - 1;
    run_head_ = run_tail_ = run_count_ = 0;
    for (TimerEntry* e : heap) e->heap_index = TimerEntry::not_queued;
    for (std::uint32_t p = head; p != tail; ++p) {
      if (TimerEntry* e = run[p & mask]) e->heap_index = TimerEntry::not_queued;
    }
    for (TimerEntry* e : heap) visit(e);
    for (std::uint32_t p = head; p != tail; ++p) {
      if (TimerEntry* e = run[p & mask]) visit(e);
    }
  }

private:
  static constexpr std::uint32_t in_run = 0x8000'0000u;  // heap_index flag
  static constexpr std::uint32_t pos_mask = 0x3fff'ffffu;
  static bool before(const TimerEntry* a, const TimerEntry* b) noexcept {
    if (a->deadline_ns != b->deadline_ns) return a->deadline_ns < b->deadline_ns;
    // Serial-number order; the kind bits cannot decide it, as seqs differ by 2 or more.
    return static_cast<std::int32_t>(a->seq - b->seq) < 0;
  }
  std::uint32_t run_mask() const noexcept { return static_cast<std::uint32_t>(run_.size()) - 1; }
  void place(std::size_t i, TimerEntry* e) noexcept {
    heap_[i] = e;
    e->heap_index = static_cast<std::uint32_t>(i);
  }
  void heap_push(TimerEntry* e);
  void heap_remove(TimerEntry* e) noexcept;
  void run_push(TimerEntry* e);
  void run_remove(TimerEntry* e) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;

  std::vector<TimerEntry*> heap_;
  std::vector<TimerEntry*> run_;  // ring buffer, power-of-two size
  std::uint32_t run_head_ = 0;    // positions count up and wrap
  std::uint32_t run_tail_ = 0;
  std::uint32_t run_count_ = 0;   // live entries between head and tail
  std::uint64_t run_last_deadline_ = 0;
};

// The state behind a Handle / TimerHandle (asyncio's Handle object): at once
// a ready-queue node (call_soon) and a timer entry (call_later), so that a
// scheduled callback costs one allocation and no libuv handle. Reference
// counted, atomically, because a call_soon_threadsafe handle lives in two
// threads; the loop holds one reference while the callback is queued. The
// callable itself is only ever run and destroyed on the loop's thread (after
// it ran, was cancelled there, or was dropped at loop close), so whatever it
// captures never crosses threads behind the user's back.
class ASYNCUV_API HandleState : public Callback, public TimerCall {
public:
  HandleState() noexcept : Callback(&HandleState::on_ready) {}
  HandleState(const HandleState&) = delete;
  virtual ~HandleState() = default;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
  void cancel() noexcept;
  void drop() noexcept;  // the loop closes without running it

  static void on_ready(Callback* c, Fate fate) noexcept;     // Callback::on_turn
  static void on_timer(TimerEntry* e, Fate fate) noexcept;   // TimerCall::fire

  EventLoop* loop = nullptr;  // compared, never dereferenced off its thread
  double when = 0;            // TimerHandle::when(), in loop.time() seconds

protected:
  virtual void invoke() = 0;            // runs the callable
  virtual void discard() noexcept = 0;  // destroys the callable (idempotent)

private:
  std::atomic<std::uint32_t> refs_{2};  // the loop's and the first Handle's
  std::atomic<bool> cancelled_{false};
  // Loop thread only: the callable is running, so a cancel from inside it
  // only flags the handle; on_ready destroys the callable once it returns.
  bool running_ = false;
};

template <class F>
class HandleFn final : public HandleState {
public:
  template <class G>
  explicit HandleFn(G&& g) : fn_(std::in_place, std::forward<G>(g)) {}

private:
  void invoke() override { static_cast<void>(std::invoke(std::move(*fn_))); }  // runs once
  void discard() noexcept override { fn_.reset(); }
  std::optional<F> fn_;
};

// f(args...) as one callable: Python's call_soon(callback, *args). Like
// std::thread, the copies are passed as rvalues: the call happens once.
template <class F, class... A>
HandleState* make_handle(F&& f, A&&... args) {
  if constexpr (sizeof...(A) == 0) {
    return new HandleFn<std::decay_t<F>>(std::forward<F>(f));
  } else {
    auto bound = [f = std::forward<F>(f), ... a = std::forward<A>(args)]() mutable {
      static_cast<void>(std::invoke(std::move(f), std::move(a)...));
    };
    return new HandleFn<decltype(bound)>(std::move(bound));
  }
}

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

// asyncio.Handle: what call_soon returns. A cheap copyable reference;
// cancel() means the callback never runs (a no-op once it has run, though
// cancelled() then reports true, as in asyncio). Thread-safe: cancel() may be
// called from any thread; off the loop's thread it only flags the handle.
class ASYNCUV_API Handle {
public:
  Handle() noexcept = default;
  Handle(const Handle& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  Handle(Handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Handle& operator=(Handle o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Handle() {
    if (s_) s_->release();
  }

  bool valid() const noexcept { return s_ != nullptr; }
  void cancel() { state().cancel(); }
  bool cancelled() const { return state().cancelled(); }

protected:
  explicit Handle(detail::HandleState* s) noexcept : s_(s) {}  // adopts a reference
  detail::HandleState& state() const;

  detail::HandleState* s_ = nullptr;
  friend class EventLoop;
};

// asyncio.TimerHandle: what call_later / call_at return. when() is the
// absolute time in loop.time() seconds; the callback never runs before
// loop.time() reaches it.
class ASYNCUV_API TimerHandle : public Handle {
public:
  TimerHandle() noexcept = default;
  double when() const { return state().when; }

private:
  using Handle::Handle;
  friend class EventLoop;
};

class ASYNCUV_API EventLoop {
public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The loop running on this thread, or null.
  static EventLoop* current() noexcept { return current_; }
  // The task running now (asyncio.current_task()), or null.
  detail::TaskCore* running_task() const noexcept { return current_task; }

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
  // Internal: the signal table (created on first use).
  detail::SignalHandlers& signal_handlers();

  // loop.create_future(): a pending Future<T> on this loop (futures.hpp).
  template <class T = void>
  Future<T> create_future();

  // loop.is_closed(): true once the loop has started closing. Thread-safe.
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  // Internal: queues a node from another thread; false once closed.
  bool post_threadsafe(detail::HandleState* s) noexcept;

  uv_loop_t* uv_loop() noexcept { return &uv_; }

  // ---- internals used by the library's own awaiters ----
  inline void schedule(detail::TaskCore* t) noexcept;  // (coroutines.hpp)
  void schedule(detail::Callback* c) noexcept { push_ready(c, 0); }
  void add_timer(detail::TimerEntry* e);
  // Where owned handles (detail/handle.hpp) are listed while open.
  detail::HandleRegistry& handles() noexcept { return handles_; }
  void remove_timer(detail::TimerEntry* e) noexcept;

  // Every task is registered when created; the loop holds a reference until
  // a sweep finds it finished (a singly linked list swept in amortised O(1)
  // per task costs a task 8 bytes instead of the 16 of a doubly linked one).
  void register_task(detail::TaskCore* t) noexcept;
  // The registry's first task (pending and finished ones, newest first,
  // linked through TaskCore::next_task): all_tasks() walks it.
  detail::TaskCore* registered_tasks() const noexcept { return tasks_; }
  void task_finished() noexcept {
    --pending_;
    ++finished_;
  }
  std::size_t pending_tasks() const noexcept { return pending_; }
  // A finished task that only the loop still holds has an error nobody
  // retrieved: report it after this pass, promptly. Only such tasks are
  // looked at, not the whole registry (which may hold a million tasks).
  void report_soon(detail::TaskCore* t) noexcept;
  // Registry sweeps so far and the tasks they walked over (for tests: a
  // sweep is amortised O(1) per finished task, never a walk per event).
  std::uint64_t sweep_count() const noexcept { return sweeps_; }
  std::uint64_t sweep_visits() const noexcept { return sweep_visits_; }

  // Runs the loop until stop() is called or nothing is left to wait for.
  void run_until_stopped();
  // While the main coroutine runs, the loop waits even with nothing pending,
  // as asyncio's does: another thread may still call call_soon_threadsafe.
  // At shutdown it lets go, so that the loop ends once the tasks have.
  void keep_alive(bool on) noexcept;
  // Stops after the current pass over the ready queue (asyncio's loop.stop()).
  void stop() noexcept { stopping_ = true; }
  // asyncio.run()'s epilogue: cancel every pending task and wait for them.
  void cancel_all_tasks();

  // The trampoline slot: a Coro awaiter stores here the coroutine to resume
  // next instead of resuming it from inside await_suspend, so that a chain of
  // nested awaits never grows the native stack (see coroutines.hpp).
  std::coroutine_handle<> next_resume;
  detail::TaskCore* current_task = nullptr;

private:
  static constexpr std::uintptr_t task_tag = 1;
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
  void drained() noexcept;
  static void on_drain_stop(detail::Callback* c, detail::Fate fate) noexcept;
  void push_ready(detail::ReadyNode* n, std::uintptr_t tag) noexcept {
    n->next = 0;
    *tail_ = reinterpret_cast<std::uintptr_t>(n) | tag;
    tail_ = &n->next;
    if (!idle_active_) start_idle();
  }
  static void on_idle(uv_idle_t* h);
  static void on_check(uv_check_t* h);
  static void on_timer(uv_timer_t* h);
  void start_idle() noexcept;
  void run_ready() noexcept;
  void run_pass() noexcept;
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
  std::uintptr_t head_ = 0;  // tagged links, see ReadyNode
  std::uintptr_t* tail_ = &head_;
  detail::TimerHeap timers_;
  std::uint32_t timer_seq_ = 0;
  // Timers found due, in deadline order, until due_turn_'s turn in the ready
  // queue runs them (asyncio's _ready tail). A cancelled one leaves a hole.
  std::vector<std::uintptr_t> due_;  // entries, and runs of sleepers (see fire_timers)
  detail::Callback due_turn_;
  bool due_turn_queued_ = false;
  void sweep() noexcept;                // drops finished tasks from tasks_
  detail::TaskCore* tasks_ = nullptr;  // registry: pending and finished tasks
  std::size_t pending_ = 0;
  std::size_t finished_ = 0;           // finished but still in tasks_
  std::uint64_t sweeps_ = 0;
  std::uint64_t sweep_visits_ = 0;
  std::vector<detail::TaskCore*> to_report_;  // see report_soon
  void report_unretrieved() noexcept;
  bool sweep_soon_ = false;  // report_soon ran out of memory: sweep instead
  bool idle_active_ = false;
  bool stopping_ = false;
  bool draining_ = false;        // cancel_all_tasks: stop once no task is pending
  bool drain_stop_queued_ = false;
  detail::Callback drain_stop_;  // stops the loop after one more pass
  ExceptionHandler handler_;
  // call_soon_threadsafe's queue (nodes linked through ReadyNode::next).
  std::mutex posted_mutex_;
  std::uintptr_t posted_head_ = 0;
  std::uintptr_t* posted_tail_ = &posted_head_;
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
