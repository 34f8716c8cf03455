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
// leaves the child in EventLoop::next_resume and returns to the task's driver
// loop, which resumes it. Finishing hands the parent back the same way.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "events.hpp"
#include "exceptions.hpp"

namespace asyncuv {

template <class T = void>
class Coro;

namespace detail {

// Notified when a task finishes (awaiters, gather, done callbacks).
struct Listener {
  Listener* next = nullptr;
  void (*on_done)(Listener*, TaskCore&) = nullptr;
};

// Where a suspended task waits: what to resume, and how to stop waiting.
struct Suspension {
  std::coroutine_handle<> resume;
  TaskCore* task = nullptr;
  // Called by Task::cancel(). Returns true when the cancellation was handed
  // on to what we wait for (another task, a gather): its outcome will arrive
  // the normal way. Returns false when the wait was just abandoned, so the
  // awaiter must throw CancelledError when resumed. Null means "abandon".
  bool (*cancel)(Suspension*) = nullptr;
};

// The state every coroutine frame carries. A nested coroutine uses only
// `continuation` and the result; a task root uses the rest.
struct TaskCore : ReadyNode {
  enum class State : std::uint8_t { pending, done, cancelled };

  std::coroutine_handle<> continuation;  // nested: who awaits us
  std::exception_ptr error;              // what the body threw

  void* frame = nullptr;                 // task root: our own frame
  Suspension* suspended_on = nullptr;
  Listener* listeners = nullptr;         // newest first
  TaskCore* prev_task = nullptr;         // the loop's registry
  TaskCore* next_task = nullptr;
  std::uint64_t id = 0;                  // the N of "Task-N"
  std::uint32_t refs = 0;                // Task handles + 1 while pending
  State state = State::pending;
  bool started = false;
  bool scheduled = false;
  bool must_cancel = false;
  bool retrieved = false;                // someone looked at the outcome
  bool error_is_cancel = false;
  bool has_custom_name = false;
  bool cancelling = false;               // inside cancel(): breaks await cycles

  void capture_exception() noexcept;

  // ---- task operations (tasks.cpp) ----
  void start_task(EventLoop& loop, void* own_frame, std::string name);
  bool cancel() noexcept;
  void park(Suspension* s) noexcept;  // the current task suspends on s
  void wake() noexcept;               // schedule the next step
  void throw_if_cancelled();          // in await_resume: deliver a cancel
  void add_listener(Listener* l) noexcept;
  void remove_listener(Listener* l) noexcept;
  void incref() noexcept { ++refs; }
  void decref() noexcept;
  bool done() const noexcept { return state != State::pending; }
  bool failed() const noexcept { return state == State::done && error; }
  std::string name() const;
  void set_name(std::string name);
  void check_result() const;          // throws what result() would throw
  std::exception_ptr outcome_error() const;  // error or CancelledError

  static void step(ReadyNode* n) noexcept;
  void abandon() noexcept;  // loop teardown: drop a task that never finished

private:
  void finish() noexcept;
  void destroy() noexcept;
};

struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    // A nested coroutine hands control back to its awaiter through the
    // trampoline; a task root just stops, and the driver notices done().
    if (auto parent = h.promise().continuation) EventLoop::current()->next_resume = parent;
  }
  void await_resume() const noexcept {}
};

template <class T>
struct PromiseBase : TaskCore {
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { capture_exception(); }
  Coro<T> get_return_object() noexcept;
};

template <class T>
struct Promise : PromiseBase<T> {
  std::optional<T> value;

  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (this->error) std::rethrow_exception(this->error);
    return std::move(*value);
  }
};

template <>
struct Promise<void> : PromiseBase<void> {
  void return_void() const noexcept {}
  void take() const {
    if (error) std::rethrow_exception(error);
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

  class Awaiter {
  public:
    explicit Awaiter(handle_type h) noexcept : h_(h) {}
    Awaiter(Awaiter&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    ~Awaiter() {
      if (h_) h_.destroy();  // the awaited frame ends with its await
    }
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> parent) const noexcept {
      h_.promise().continuation = parent;
      EventLoop::current()->next_resume = h_;
    }
    T await_resume() { return h_.promise().take(); }

  private:
    handle_type h_;
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
