// asyncuv/coroutines.hpp — Coro<T>, the coroutine object (asyncio.coroutines).
//
// `Coro<int> f()` is Python's `async def f() -> int`: calling it creates a
// suspended frame and runs nothing; `co_await f()` runs it inside the awaiting
// task, or create_task() turns it into a task. Every frame carries a TaskCore
// (tasks.hpp) so that create_task needs no second allocation: the frame *is*
// the task.
//
// Deep await chains: awaiting a Coro does not resume the child from inside
// await_suspend (that nests native stack frames unless the compiler turns it
// into a tail call, which g++ only does at -O2 without sanitizers). Instead it
// leaves the child in Running::next_resume and returns to the task's driver
// loop, which resumes it. Finishing hands the parent back the same way.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <coroutine>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "allocator.hpp"
#include "detail/loop_access.hpp"
#include "detail/trace_hook.hpp"
#include "events.hpp"
#include "exceptions.hpp"

namespace asyncuv {

template <class T = void>
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

}  // namespace detail

namespace detail {

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

template <class T>
struct PromiseBase : TaskCore {
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* p, std::size_t size) noexcept { deallocate_frame(p, size); }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { capture_exception(); }
  Coro<T> get_return_object() noexcept;
};

// What a Coro<T> may return: an object type (moved out to its one awaiter)
// or an lvalue reference (kept as a pointer; the referent must outlive the
// readers, as with any returned reference).
template <class T>
concept CoroResult = std::is_void_v<T> || std::is_lvalue_reference_v<T> ||
                     (std::is_object_v<T> && !std::is_array_v<T> && std::is_destructible_v<T> &&
                      std::is_move_constructible_v<T>);

template <class T>
struct Promise : PromiseBase<T> {
  static_assert(!std::is_rvalue_reference_v<T>, "Coro<T&&>/Task<T&&> is not supported: return T by value");
  static_assert(!std::is_array_v<T>, "Coro<T[N]>/Task<T[N]> is not supported: return a std::array");
  static_assert(CoroResult<T>,
                "Coro<T>/Task<T>: T must be void, an lvalue reference, or a destructible, "
                "move-constructible object type");
  using stored_type = std::conditional_t<std::is_reference_v<T>, std::remove_reference_t<T>*, T>;
  static_assert(alignof(stored_type) <= 2 * sizeof(void*), "Coro<T>: over-aligned T is not supported");
  union {
    stored_type value;  // constructed by co_return (a pointer for T&)
  };
  Promise() noexcept {}
  ~Promise() {
    if (this->has_value) value.~stored_type();
  }

  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    if constexpr (std::is_reference_v<T>) {
      T ref = std::forward<U>(v);
      std::construct_at(&value, std::addressof(ref));
    } else {
      std::construct_at(&value, std::forward<U>(v));
    }
    this->has_value = true;
  }
  template <class U>
    requires(std::is_reference_v<T> && !std::is_convertible_v<U &&, T>)
  void return_value(U&&) {
    static_assert(sizeof(U) == 0, "Coro<T&>: co_return an lvalue of T (it is returned by reference)");
  }
  // The value in place: T& for Coro<T&>, the stored object otherwise.
  std::add_lvalue_reference_t<T> stored() noexcept {
    if constexpr (std::is_reference_v<T>) return *value;
    else return value;
  }
  // A nested Coro's one awaiter takes the value.
  T take() {
    if (this->has_error) std::rethrow_exception(this->error);
    if constexpr (std::is_reference_v<T>) return *value;
    else return std::move(value);
  }
  // A task's value, moved out by its one owner (co_await std::move(task) of
  // a move-only T, gather over Coros): destroyed at once, and any later
  // reader gets InvalidStateError rather than a moved-from object.
  T move_out() {
    if (!this->has_value) throw InvalidStateError("the task's result was already moved out");
    if constexpr (std::is_reference_v<T>) {
      return *value;
    } else {
      T out = std::move(value);
      value.~T();
      this->has_value = false;
      return out;
    }
  }
  // A task's value for a reader who leaves it in place.
  std::add_lvalue_reference_t<T> peek() {
    if (!this->has_value) throw InvalidStateError("the task's result was already moved out");
    return stored();
  }
};

template <>
struct Promise<void> : PromiseBase<void> {
  void return_void() const noexcept {}
  void take() const {
    if (has_error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Coro {
public:
  using promise_type = detail::Promise<T>;
  using value_type = T;
  using handle_type = std::coroutine_handle<promise_type>;

  Coro() noexcept = default;
  explicit Coro(handle_type h) noexcept : h_(h) {}
  Coro(Coro&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Coro& operator=(Coro&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Coro() { reset(); }

  // False once awaited, moved from, or turned into a task.
  bool valid() const noexcept { return static_cast<bool>(h_); }

  class Awaiter : detail::CoroAwaitLink {
  public:
    explicit Awaiter(handle_type h) noexcept : CoroAwaitLink{h} {}
    Awaiter(Awaiter&&) = delete;  // built in place; nothing to move
    ~Awaiter() {
      if (child) detail::FrameReaper::end_await(this);  // the awaited frame ends with its await
    }
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> parent) noexcept {
      promise_type& p = promise();
      p.continuation = parent;
      if constexpr (std::is_base_of_v<detail::TaskCore, P>) {
        // A task root keeps its registry link there; the reaper starts below it.
        if (!parent.promise().is_task) {
          parent.promise().awaiting = this;
          p.parent_links_down = true;
        }
      }
      detail::Running::now.next_resume = child;
    }
    T await_resume() { return promise().take(); }

  private:
    promise_type& promise() const noexcept { return handle_type::from_address(child.address()).promise(); }
  };

  // A coroutine object can be awaited once; Python raises RuntimeError on the
  // second await, we raise InvalidStateError instead of undefined behaviour.
  Awaiter operator co_await() && { return Awaiter(take_handle()); }
  Awaiter operator co_await() & { return Awaiter(take_handle()); }

  // Hands the frame over (create_task).
  handle_type release() { return take_handle(); }

private:
  handle_type take_handle() {
    if (!h_) throw InvalidStateError("cannot reuse already awaited coroutine");
    return std::exchange(h_, {});
  }
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }
  handle_type h_;
};

template <class T>
Coro<T> detail::PromiseBase<T>::get_return_object() noexcept {
  return Coro<T>(Coro<T>::handle_type::from_promise(static_cast<Promise<T>&>(*this)));
}

}  // namespace asyncuv
