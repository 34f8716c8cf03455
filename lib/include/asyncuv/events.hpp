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
// (asyncio's Handle). Intrusive, so scheduling never allocates.
struct ReadyNode {
  ReadyNode* next = nullptr;
  void (*run)(ReadyNode*) = nullptr;
};

// An entry of the loop's timer heap. It lives inside whoever waits (a sleep
// awaiter in a coroutine frame), so arming a timer never allocates.
struct TimerEntry {
  static constexpr std::size_t not_queued = SIZE_MAX;
  std::uint64_t deadline_ns = 0;  // uv_hrtime() clock
  std::uint64_t seq = 0;          // FIFO order among equal deadlines
  std::size_t heap_index = not_queued;
  void (*fire)(TimerEntry*) = nullptr;
  bool queued() const noexcept { return heap_index != not_queued; }
};

// Binary min-heap on (deadline, seq) that tracks each entry's index so that a
// cancelled sleep is removed in O(log n).
class TimerHeap {
public:
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  TimerEntry* top() const noexcept { return heap_.front(); }
  void push(TimerEntry* e);
  void remove(TimerEntry* e) noexcept;
  void forget_all() noexcept;  // loop teardown: entries must not touch us

private:
  static bool before(const TimerEntry* a, const TimerEntry* b) noexcept {
    return a->deadline_ns != b->deadline_ns ? a->deadline_ns < b->deadline_ns : a->seq < b->seq;
  }
  void place(std::size_t i, TimerEntry* e) noexcept {
    heap_[i] = e;
    e->heap_index = i;
  }
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  std::vector<TimerEntry*> heap_;
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

  // asyncio's loop.time(): monotonic seconds.
  double time() const noexcept { return static_cast<double>(uv_hrtime()) / 1e9; }

  void set_exception_handler(ExceptionHandler h) { handler_ = std::move(h); }
  void call_exception_handler(const ExceptionContext& ctx) noexcept;

  uv_loop_t* uv_loop() noexcept { return &uv_; }

  // ---- internals used by the library's own awaiters ----
  void schedule(detail::ReadyNode* n) noexcept {
    n->next = nullptr;
    *tail_ = n;
    tail_ = &n->next;
    if (!idle_active_) start_idle();
  }
  void add_timer(detail::TimerEntry* e);
  void remove_timer(detail::TimerEntry* e) noexcept;

  void register_task(detail::TaskCore* t) noexcept;
  void unregister_task(detail::TaskCore* t) noexcept;
  std::size_t pending_tasks() const noexcept { return task_count_; }

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
  static void on_idle(uv_idle_t* h);
  static void on_timer(uv_timer_t* h);
  void start_idle() noexcept;
  void run_ready() noexcept;
  void fire_timers() noexcept;
  void arm_timer() noexcept;
  void close() noexcept;

  static thread_local EventLoop* current_;

  uv_loop_t uv_;
  uv_idle_t idle_;    // active exactly while the ready queue is non-empty
  uv_timer_t timer_;  // armed for the earliest entry of timers_
  detail::ReadyNode* head_ = nullptr;
  detail::ReadyNode** tail_ = &head_;
  detail::TimerHeap timers_;
  std::uint64_t timer_seq_ = 0;
  detail::TaskCore* tasks_ = nullptr;  // registry of unfinished tasks
  std::size_t task_count_ = 0;
  bool idle_active_ = false;
  bool stopping_ = false;
  ExceptionHandler handler_;
};

// asyncio.get_running_loop(): throws RuntimeError("no running event loop").
EventLoop& get_running_loop();

}  // namespace asyncuv
