// asyncuv/detail/task_core.hpp — TaskCore, the task state every coroutine
// frame carries, and the machinery that drives it: the running task and the
// trampoline slot (Running), the step, the frame reaper. The task module's
// own; the rest of the library calls TaskCore's intention-named operations.
#pragma once

#include "config.hpp"

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include "../events.hpp"
#include "../exceptions.hpp"
#include "loop_access.hpp"
#include "trace_hook.hpp"

namespace asyncuv {

template <class T>
class Coro;

namespace detail {

// Where a coroutine awaits a Coro: the awaiter, which owns the child frame
// (see FrameReaper).
struct CoroAwaitLink {
  std::coroutine_handle<> child;
};

// What runs on this thread now (one loop runs per thread): the task inside
// its step, null between steps; and the trampoline slot, where a Coro
// awaiter leaves the coroutine to resume next instead of resuming it from
// inside await_suspend, so that a chain of nested awaits never grows the
// native stack (TaskCore::step resumes it). The task is left set after a
// step that suspends: the next step overwrites it, and the walk over the
// ready queue clears it before a callback and at its end (run_nodes), one
// store less per step. initial-exec: read on every
// await; the general-dynamic model that -fPIC would pick costs a call per read.
struct ASYNCUV_API Running {
  TaskCore* task = nullptr;
  std::coroutine_handle<> next_resume;
  [[gnu::tls_model("initial-exec")]] static constinit thread_local Running now;
};

// Notified when a task finishes (awaiters, gather, done callbacks).
struct ASYNCUV_API Listener {
  Listener* next = nullptr;
  // Fate::run when the task finishes; Fate::drop when it is destroyed
  // unfinished (loop teardown): a listener that owns itself frees itself.
  void (*on_done)(Listener*, TaskCore&, Fate) noexcept = nullptr;
};

// Where a suspended task waits: what to resume, and how to stop waiting.
struct ASYNCUV_API Suspension {
  std::coroutine_handle<> resume;
  TaskCore* task = nullptr;
  // Called by Task::cancel(). Returns true when the cancellation was handed
  // on to what we wait for (another task, a gather): its outcome will arrive
  // the normal way. Returns false when the wait was just abandoned, so the
  // awaiter must throw CancelledError when resumed. Null means "abandon".
  bool (*cancel)(Suspension*) = nullptr;
};

// The state every coroutine frame carries in its promise. It is laid out for
// size, because a task's footprint is mostly its frame: a nested coroutine
// uses `continuation` and the result; a task root uses the rest. Fields that
// are never needed at the same time share storage.
struct ASYNCUV_API TaskCore : ReadyNode {
  enum class State : std::uint8_t { pending, done, cancelled };

  TaskCore() noexcept {}
  TaskCore(const TaskCore&) = delete;
  ~TaskCore() {
    if (has_error) error.~exception_ptr();
  }

private:
  // The fields belong to the task module: the frame's own machinery (the
  // promise, Coro's awaiter, the reaper), the loop's walk, the registry, the
  // cancel walk, sleep's wake-up and the tracer. Everything else uses the
  // intention-named operations below.
  template <class T>
  friend struct PromiseBase;
  template <class T>
  friend struct Promise;
  template <class T>
  friend class asyncuv::Coro;
  friend class FrameReaper;
  friend struct FinalAwaiter;
  friend class TaskRegistry;
  friend class CancelWalk;
  friend struct TraceBuffer;  // the tracer (trace.cpp) reads state, names and numbers
  friend void trace_created(TraceBuffer& b, const TaskCore* t) noexcept;
  friend void trace_step(TraceBuffer& b, const TaskCore* t) noexcept;
  friend void trace_suspended(TraceBuffer& b, const TaskCore* t, const char* on) noexcept;
  friend void trace_finished(TraceBuffer& b, const TaskCore* t) noexcept;
  friend void trace_abandoned(TraceBuffer& b, const TaskCore* t) noexcept;
  friend ReadyNode* claim_sleeper(TimerEntry* e) noexcept;

  std::uint32_t refs = 0;  // Task handles + 1 while pending
  State state = State::pending;
  bool is_task : 1 = false;
  bool started : 1 = false;
  bool scheduled : 1 = false;
  bool must_cancel : 1 = false;
  bool retrieved : 1 = false;  // someone looked at the outcome
  bool has_error : 1 = false;
  bool error_is_cancel : 1 = false;
  bool has_custom_name : 1 = false;
  bool has_value : 1 = false;  // Promise<T>::value is constructed
  bool in_cancel : 1 = false;  // inside cancel(): breaks await cycles
  bool in_registry : 1 = false;  // the loop still holds its reference
  bool cancel_seen : 1 = false;  // cancel_each: walked through in this round
  bool parent_links_down : 1 = false;  // nested: our awaiter is the parent's `awaiting`
  // Python's Task.cancelling(): cancel() calls not yet taken back by
  // uncancel() (timeout scopes and task groups tell their own cancel from an
  // outer one with it). It fills what was padding before the union, so a
  // task is no bigger; it saturates at 255.
  std::uint8_t cancel_requests = 0;

  union {
    std::coroutine_handle<> continuation;  // nested: who awaits us
    std::uintptr_t listener_slot = 0;      // task: see add_listener()
  };
  union {
    Suspension* suspended_on = nullptr;  // while pending
    std::exception_ptr error;            // once the body threw, i.e. has ended
  };
  union {
    TaskCore* next_task = nullptr;  // task: the loop's registry, see EventLoop::sweep
    CoroAwaitLink* awaiting;        // nested: the Coro it awaits now, or null
  };
  std::uint64_t id = 0;  // the N of "Task-N"

public:
  void capture_exception() noexcept;
  std::exception_ptr kept_exception() noexcept;

  // ---- task operations (tasks.cpp, hot ones inline) ----
  void start_task(EventLoop& loop, void* own_frame);
  bool cancel() noexcept;
  // run()'s shutdown: cancel() on every task of the registry list, in O(n)
  // however deeply they await each other (tasks.cpp).
  static void cancel_each(TaskCore* first) noexcept;
  // Done with an exception that nobody retrieved (what destroy() reports).
  bool unretrieved_error() const noexcept { return state == State::done && has_error && !retrieved; }
  void report_if_unretrieved() noexcept;  // only the loop holds it: report now
  // The running task suspends on s; `on` names what it waits for (a trace's label).
  void park(Suspension* s, const char* on = nullptr) noexcept {
    if (TraceBuffer* b = trace_buffer) [[unlikely]] trace_suspended(*b, this, on);
    s->task = this;
    suspended_on = s;
    if (must_cancel) deliver_pending_cancel(s);
  }
  void wake() noexcept { wake(*EventLoop::current()); }  // schedule the next step
  void wake(EventLoop& loop) noexcept {
    if (scheduled || done()) return;
    scheduled = true;
    LoopAccess::schedule_task(loop, this);
  }
  void throw_if_cancelled() {  // in await_resume: deliver a cancel
    if (must_cancel) [[unlikely]] {
      must_cancel = false;
      detail::throw_cancelled();
    }
  }
  // Listeners are notified in registration order when the task finishes.
  void add_listener(Listener* l);
  void remove_listener(Listener* l) noexcept;
  // A listener shared by many tasks (one gather, many children): the common
  // single-listener case costs no node at all.
  void add_shared_listener(Listener* l);
  void remove_shared_listener(Listener* l) noexcept;

  void incref() noexcept { ++refs; }
  // Exactly one Task handle holds it (besides the registry's reference,
  // which lasts while in_registry): its holder may move the result out.
  bool sole_handle() const noexcept { return refs - (in_registry ? 1 : 0) == 1; }
  void decref() noexcept {
    if (--refs <= 1) [[unlikely]] last_references();
  }
  bool done() const noexcept { return state != State::pending; }
  bool cancelled() const noexcept { return state == State::cancelled; }
  // Ended by an exception of its own (not cancelled).
  bool failed() const noexcept { return state == State::done && has_error; }
  bool succeeded() const noexcept { return state == State::done && !has_error; }
  // The failure, if the task failed rather than was cancelled, marked
  // retrieved (the caller looked at it, as Python's f.exception() does).
  std::exception_ptr take_failure() noexcept {
    if (!failed()) return nullptr;
    retrieved = true;
    return error;
  }
  void mark_retrieved() noexcept { retrieved = true; }
  // A cancel() not yet delivered to the body (it raises at its next await).
  bool cancel_pending() const noexcept { return must_cancel; }
  // Python's Task.cancelling(): cancel requests not taken back.
  int cancelling() const noexcept { return cancel_requests; }
  // Python's Task.uncancel(): takes back one cancel request, returns the rest.
  std::uint8_t uncancel() noexcept {
    if (cancel_requests > 0) --cancel_requests;
    return cancel_requests;
  }
  std::exception_ptr error_or_null() const noexcept { return has_error ? error : nullptr; }
  std::string name() const;
  void set_name(std::string name);
  void check_result() const;                 // throws what result() would throw
  std::exception_ptr outcome_error() const;  // error or CancelledError

  // Only the coroutine ABI's layout puts the frame here: two function
  // pointers, then the promise (whose first base is this TaskCore).
  void* frame() const noexcept { return const_cast<char*>(reinterpret_cast<const char*>(this)) - frame_offset; }
  static constexpr std::size_t frame_offset = 2 * sizeof(void*);

  // The step the ready queue would give this task, taken now by a callback
  // that stands in for its node (a queue waiter re-checks its condition on
  // its own turn, then runs the task right there).
  void take_turn() noexcept { step(this, Running::now); }
  void abandon() noexcept;  // loop teardown: drop a task that never finished


private:
  friend void run_nodes(std::uintptr_t first) noexcept;  // the loop's turn of a task
  // One scheduled step (inline, below). `running` is Running::now, passed in
  // by the walk so that its thread-local address is computed once per pass.
  static void step(TaskCore* t, Running& running) noexcept;
  void deliver_pending_cancel(Suspension* s) noexcept;
  void last_references() noexcept;
  void finish() noexcept;
  void destroy() noexcept;
};

// The driver loop (trampoline): resume, then keep resuming whatever the
// coroutine that just suspended left in next_resume.
inline void TaskCore::step(TaskCore* t, Running& running) noexcept {
  if (TraceBuffer* b = trace_buffer) [[unlikely]] trace_step(*b, t);
  t->scheduled = false;
  std::coroutine_handle<> h;
  if (!t->started) {
    t->started = true;
    if (t->must_cancel) {  // cancelled before it ran: the body never runs
      t->state = State::cancelled;
      running.task = nullptr;
      t->finish();
      return;
    }
    h = std::coroutine_handle<>::from_address(t->frame());
  } else {
    if (!t->suspended_on) return;
    h = std::exchange(t->suspended_on, nullptr)->resume;
  }
  running.task = t;
  do {
    running.next_resume = nullptr;
    h.resume();
    h = running.next_resume;
  } while (h);
  if (std::coroutine_handle<>::from_address(t->frame()).done()) {
    running.task = nullptr;
    t->finish();
  }
}

// Destroys the frame of an awaited coroutine when its await ends. A task
// destroyed while suspended deep in an await chain would otherwise destroy
// its frame, whose Awaiter destroys the child frame, whose Awaiter destroys
// the grandchild...: one native stack frame per level, and any depth limit
// on that recursion would destroy the deeper frames after their parents,
// whose locals they may still use. Instead every nested frame that awaits a
// Coro points down at its awaiter (`awaiting`), so the reaper walks down to
// the innermost frame and destroys the chain from there upwards, each child
// before its parent, in a loop: innermost first at any depth, O(1) stack.
class ASYNCUV_API FrameReaper {
public:
  // The await of `a` ends (its Awaiter is destroyed): the child frame goes.
  static void end_await(CoroAwaitLink* a) noexcept {
    TaskCore* child = core_of(a->child);
    if (child->parent_links_down) core_of(child->continuation)->awaiting = nullptr;
    if (child->awaiting) [[unlikely]] destroy_chain(a->child);
    else a->child.destroy();
  }

private:
  static TaskCore* core_of(std::coroutine_handle<> h) noexcept {
    return reinterpret_cast<TaskCore*>(static_cast<char*>(h.address()) + TaskCore::frame_offset);
  }
  static void destroy_chain(std::coroutine_handle<> top) noexcept;
};

struct ASYNCUV_API FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    // A nested coroutine hands control back to its awaiter through the
    // trampoline; a task root just stops, and the driver notices done().
    auto& p = h.promise();
    if (!p.is_task) Running::now.next_resume = p.continuation;
  }
  void await_resume() const noexcept {}
};

}  // namespace detail

}  // namespace asyncuv
