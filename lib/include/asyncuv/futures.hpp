// asyncuv/futures.hpp — Future<T> (asyncio.futures): a result that will be
// set later, by anyone, and that any number of tasks can await.
//
// It is the primitive that turns a callback API into something a coroutine
// awaits: create one with loop.create_future<T>(), hand a copy to the
// callback, set_result() or set_exception() there, co_await it here.
// Semantics are asyncio's: completing a future schedules its waiters and its
// done callbacks through the loop, all in the order they were added; a done
// future awaits without suspending; cancelling a task that awaits a future
// cancels the future (as Task.cancel() cancels its _fut_waiter); a second
// set raises InvalidStateError("invalid state").
//
// A Future is a cheap, copyable, reference-counted handle, and belongs to
// one loop's thread (the loop running when it was created, or when it was
// first used): from another thread, reach it with call_soon_threadsafe.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "detail/intrusive_list.hpp"
#include "tasks.hpp"

namespace asyncuv {
namespace detail {

// One entry of a future's done list: a waiting task or a done callback.
// on_done(e, Fate::run) once the future is done; Fate::drop if the future
// dies pending (a callback entry frees itself).
struct FutureEntry : ListLink {
  void (*on_done)(FutureEntry*, Fate) noexcept = nullptr;
};

// What every Future<T> shares; the value lives in FutureCell<T>.
class FutureCore {
public:
  enum class State : std::uint8_t { pending, cancelled, finished };

  FutureCore(const FutureCore&) = delete;
  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) destroy_(this);
  }

  bool done() const noexcept { return state_ != State::pending; }
  bool cancelled() const noexcept { return state_ == State::cancelled; }
  bool cancel(std::string message);
  void set_exception(std::exception_ptr e);
  std::exception_ptr exception();  // null on success; throws while pending or once cancelled
  void check_result();             // throws what result() would throw; marks it retrieved
  void add_entry(FutureEntry* e);  // fired once done (at once, through the loop, if it is)
  static void remove_entry(FutureEntry* e) noexcept { IntrusiveList<FutureEntry>::unlink(e); }
  EventLoop& loop();               // the future's loop; binds it on first use

protected:
  explicit FutureCore(void (*destroy)(FutureCore*)) noexcept;
  ~FutureCore();
  void check_pending();    // InvalidStateError("invalid state") once done
  void finish() noexcept;  // state_ = finished; fires the entries

private:
  void complete() noexcept;

  void (*destroy_)(FutureCore*);
  EventLoop* loop_;
  std::uint32_t refs_ = 1;
  State state_ = State::pending;
  bool retrieved_ = false;
  std::exception_ptr error_;  // set_exception, or the CancelledError of cancel()
  IntrusiveList<FutureEntry> entries_;
};

template <class T>
class FutureCell final : public FutureCore {
public:
  FutureCell() noexcept : FutureCore(&FutureCell::destroy) {}
  template <class... A>
  void set(A&&... a) {
    check_pending();
    value_.emplace(std::forward<A>(a)...);
    finish();
  }
  const T& value() const noexcept { return *value_; }

private:
  static void destroy(FutureCore* c) noexcept { delete static_cast<FutureCell*>(c); }
  std::optional<T> value_;
};

template <>
class FutureCell<void> final : public FutureCore {
public:
  FutureCell() noexcept : FutureCore(&FutureCell::destroy) {}
  void set() {
    check_pending();
    finish();
  }

private:
  static void destroy(FutureCore* c) noexcept { delete static_cast<FutureCell*>(c); }
};

// A task waiting in co_await: woken when the future is done.
class FutureAwaitBase : protected Suspension, protected FutureEntry {
protected:
  explicit FutureAwaitBase(FutureCore& f) noexcept : f_(f) {}
  FutureAwaitBase(FutureAwaitBase&&) = delete;  // queued by address
  ~FutureAwaitBase() {
    if (ListLink::linked()) FutureCore::remove_entry(this);
  }
  void suspend(std::coroutine_handle<> h);
  void resumed();  // delivers a pending cancel, then checks the outcome
  FutureCore& f_;

private:
  static void on_future_done(FutureEntry* e, Fate fate) noexcept;
  static bool on_cancel(Suspension* s) noexcept;
  bool suspended_ = false;
};

}  // namespace detail

template <class T>
class Future {
  using State = detail::FutureCell<T>;

public:
  using value_type = T;

  // A new pending future, on the running loop (or the first loop to use it).
  Future() : s_(new State()) {}
  Future(const Future& o) noexcept : s_(o.s_) { s_->add_ref(); }
  Future& operator=(Future o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Future() {
    if (s_) s_->release();
  }

  bool done() const noexcept { return s_->done(); }
  bool cancelled() const noexcept { return s_->cancelled(); }
  // Cancels a pending future (its awaiters get CancelledError(message));
  // false once done.
  bool cancel(std::string message = {}) { return s_->cancel(std::move(message)); }

  template <class... A>
    requires std::is_constructible_v<std::conditional_t<std::is_void_v<T>, std::monostate, T>, A&&...>
  void set_result(A&&... a) {
    s_->set(std::forward<A>(a)...);
  }
  void set_exception(std::exception_ptr e) { s_->set_exception(std::move(e)); }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  void set_exception(E&& e) {
    s_->set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }

  // The value (a reference into the future); rethrows its exception;
  // CancelledError once cancelled; InvalidStateError("Result is not set.")
  // while pending.
  decltype(auto) result() const {
    s_->check_result();
    if constexpr (!std::is_void_v<T>) return s_->value();
  }
  // Null on success; CancelledError once cancelled; InvalidStateError while
  // pending.
  std::exception_ptr exception() const { return s_->exception(); }

  // f(const Future<T>&) runs through the loop once the future is done, in
  // the order waiters and callbacks were added; added to a done future it
  // runs on the next iteration.
  template <class F>
    requires std::invocable<F&, const Future&>
  void add_done_callback(F f) {
    s_->add_entry(new CallbackEntry(std::function<void(const Future&)>(std::move(f)), *this));
  }

  class Awaiter : detail::FutureAwaitBase {
  public:
    explicit Awaiter(const Future& f) noexcept : FutureAwaitBase(*f.s_), keep_(f) {}
    bool await_ready() const noexcept { return f_.done(); }
    void await_suspend(std::coroutine_handle<> h) { suspend(h); }
    T await_resume() {
      resumed();
      if constexpr (!std::is_void_v<T>) return keep_.s_->value();
    }

  private:
    Future keep_;  // the future outlives its awaiters
  };
  // co_await fut: its value (a copy: several tasks may await one future).
  Awaiter operator co_await() const { return Awaiter(*this); }

private:
  // A done callback waiting in the future's list: owned by the list.
  struct CallbackEntry : detail::FutureEntry {
    CallbackEntry(std::function<void(const Future&)> f, const Future& owner) : fn(std::move(f)), state(owner.s_) {
      on_done = &CallbackEntry::run;
    }
    static void run(detail::FutureEntry* e, detail::Fate fate) noexcept {
      auto* self = static_cast<CallbackEntry*>(e);
      if (fate == detail::Fate::drop) return delete self;
      self->state->add_ref();
      Future f(self->state);
      try {
        self->state->loop().call_soon([fn = std::move(self->fn), f]() { fn(f); });
      } catch (...) {
        // Out of memory while scheduling: the callback is lost, loudly.
        self->state->loop().call_exception_handler({"Exception in Future done callback", std::current_exception(), {}});
      }
      delete self;
    }
    std::function<void(const Future&)> fn;
    State* state;  // not a reference: the future owns its entries
  };

  explicit Future(State* adopted) noexcept : s_(adopted) {}
  State* s_;
};

// loop.create_future<T>(): a Future on this loop.
template <class T>
Future<T> EventLoop::create_future() {
  check_thread();
  return Future<T>();
}

}  // namespace asyncuv
