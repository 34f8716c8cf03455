// asyncuv/events.hpp — the event loop (asyncio.events).
//
// One EventLoop per run(): a libuv loop plus what asyncio keeps beside it —
// a ready queue (call_soon), a timer heap behind a single uv_timer_t
// (call_later / sleep), the registry of unfinished tasks (so that run() can
// cancel them) and the exception handler. Only events.cpp calls uv_run.
#pragma once

#include <uv.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace asyncuv {

// What the loop's exception handler receives (asyncio's "context" dict).
struct ExceptionContext {
  std::string message;           // e.g. "Task exception was never retrieved"
  std::exception_ptr exception;  // may be null
  std::string task_name;         // empty when no task is involved
};
using ExceptionHandler = std::function<void(const ExceptionContext&)>;

// Prints the context on stderr, as asyncio's default handler does.
void default_exception_handler(const ExceptionContext& ctx);

namespace detail {

struct TaskCore;

// Something the loop runs on its next pass over the ready queue
// (asyncio's Handle). Intrusive, so scheduling never allocates. A task is its
// own node (the common case, dispatched without an indirect call); anything
// else is a Callback. The link to a node carries its kind in its low bit,
// which keeps the node itself one word.
struct ReadyNode {
  std::uintptr_t next = 0;  // tagged link to the following node
};

struct Callback : ReadyNode {
  explicit Callback(void (*fn)(Callback*)) noexcept : run(fn) {}
  void (*run)(Callback*);
};

// An entry of the loop's timer heap. It lives inside whoever waits (a sleep
// awaiter in a coroutine frame), so arming a timer never allocates.
struct TimerEntry {
  static constexpr std::uint32_t not_queued = UINT32_MAX;
  std::uint64_t deadline_ns = 0;  // uv_hrtime() clock
  std::uint32_t seq;              // FIFO order among equal deadlines (wraps safely)
  std::uint32_t heap_index = not_queued;
  void (*fire)(TimerEntry*);
  bool queued() const noexcept { return heap_index != not_queued; }
};

// The loop's timers, ordered by (deadline, seq). Deadlines mostly arrive in
// order (the same delay, measured from a clock that only goes forward), so
// those join a FIFO run: O(1) in and out, no sifting. An entry due before the
// run's last one goes to a binary heap instead. Each entry knows where it is,
// so a cancelled sleep leaves in O(1) (run) or O(log n) (heap).
class TimerHeap {
public:
  bool empty() const noexcept { return heap_.empty() && run_count_ == 0; }
  TimerEntry* top() const noexcept {
    TimerEntry* r = run_count_ ? run_[run_head_ & run_mask()] : nullptr;
    if (heap_.empty()) return r;
    return r && before(r, heap_.front()) ? r : heap_.front();
  }
  void push(TimerEntry* e);
  void remove(TimerEntry* e) noexcept;
  void forget_all() noexcept;  // loop teardown: entries must not touch us

private:
  static constexpr std::uint32_t in_run = 0x8000'0000u;  // heap_index flag
  static constexpr std::uint32_t pos_mask = 0x3fff'ffffu;
  static bool before(const TimerEntry* a, const TimerEntry* b) noexcept {
    if (a->deadline_ns != b->deadline_ns) return a->deadline_ns < b->deadline_ns;
    return static_cast<std::int32_t>(a->seq - b->seq) < 0;  // serial-number order
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

}  // namespace detail

class EventLoop {
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
  double time() const noexcept { return static_cast<double>(uv_hrtime()) / 1e9; }

  void set_exception_handler(ExceptionHandler h) { handler_ = std::move(h); }
  void call_exception_handler(const ExceptionContext& ctx) noexcept;

  uv_loop_t* uv_loop() noexcept { return &uv_; }

  // ---- internals used by the library's own awaiters ----
  inline void schedule(detail::TaskCore* t) noexcept;  // (coroutines.hpp)
  void schedule(detail::Callback* c) noexcept { push_ready(c, 0); }
  void add_timer(detail::TimerEntry* e);
  void remove_timer(detail::TimerEntry* e) noexcept;

  // Every task is registered when created; the loop holds a reference until
  // a sweep finds it finished (a singly linked list swept in amortised O(1)
  // per task costs a task 8 bytes instead of the 16 of a doubly linked one).
  void register_task(detail::TaskCore* t) noexcept;
  void task_finished() noexcept {
    --pending_;
    ++finished_;
  }
  std::size_t pending_tasks() const noexcept { return pending_; }
  // A finished task that only the loop still holds has an error nobody
  // retrieved: sweep after this pass, so that it is reported promptly.
  void sweep_soon() noexcept { sweep_soon_ = true; }

  // Runs the loop until stop() is called or nothing is left to wait for.
  void run_until_stopped();
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
  void push_ready(detail::ReadyNode* n, std::uintptr_t tag) noexcept {
    n->next = 0;
    *tail_ = reinterpret_cast<std::uintptr_t>(n) | tag;
    tail_ = &n->next;
    if (!idle_active_) start_idle();
  }
  static void on_idle(uv_idle_t* h);
  static void on_timer(uv_timer_t* h);
  void start_idle() noexcept;
  void run_ready() noexcept;
  void fire_timers() noexcept;
  void arm_timer() noexcept;
  void close() noexcept;

  // initial-exec: read on every await; the general-dynamic model that -fPIC
  // would pick costs a call per read.
  [[gnu::tls_model("initial-exec")]] static thread_local EventLoop* current_;

  uv_loop_t uv_;
  uv_idle_t idle_;    // active exactly while the ready queue is non-empty
  uv_timer_t timer_;  // armed for the earliest entry of timers_
  std::uintptr_t head_ = 0;  // tagged links, see ReadyNode
  std::uintptr_t* tail_ = &head_;
  detail::TimerHeap timers_;
  std::uint32_t timer_seq_ = 0;
  void sweep() noexcept;                // drops finished tasks from tasks_
  detail::TaskCore* tasks_ = nullptr;  // registry: pending and finished tasks
  std::size_t pending_ = 0;
  std::size_t finished_ = 0;           // finished but still in tasks_
  bool sweep_soon_ = false;
  bool idle_active_ = false;
  bool stopping_ = false;
  ExceptionHandler handler_;
};

// asyncio.get_running_loop(): throws RuntimeError("no running event loop").
EventLoop& get_running_loop();

}  // namespace asyncuv
