// asyncuv/locks.hpp — synchronisation primitives (asyncio.locks): Event,
// Lock, Semaphore, BoundedSemaphore, Condition, and Guard, the RAII form of
// `async with`.
//
// Semantics are asyncio's (CPython 3.11), including its fairness: waiters are
// served first come, first served, and a task arriving at a lock that has just
// been handed to a waiter (which has not run yet) queues behind it instead of
// barging in. A task cancelled while it waits leaves nothing behind: a lock or
// a semaphore unit that was handed to it is passed on to the next waiter.
//
// Waiting costs no allocation: the awaiter (which lives in the waiting
// coroutine's frame) is the node of the primitive's intrusive FIFO list, so
// cancelling a waiter unlinks it in O(1). The one exception is
// Condition::wait(), a small coroutine (one pooled frame) because it is two
// waits in a row (the notification, then the lock).
//
// Threads: a primitive belongs to the thread of the loop that uses it and must
// only be touched from there (use call_soon_threadsafe to reach it from
// elsewhere). Like asyncio since 3.10, a primitive can be created before any
// loop runs (a global, a member of an object built in main()) and used inside
// one. It must outlive the tasks that wait on it; one destroyed with tasks
// still queued detaches them (they wait until cancelled).
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

#include "detail/intrusive_list.hpp"
#include "tasks.hpp"

namespace asyncuv {

template <class M>
class Guard;

namespace detail {

// A waiting task: where it resumes (Suspension) and its place in the queue.
struct ASYNCUV_API WaitNode : Suspension, ListLink {
  bool woken = false;     // handed what it waited for (or notified)
  bool orphaned = false;  // the primitive died while we were queued
  bool suspended() const noexcept { return task != nullptr; }
};

// A FIFO of waiting tasks, O(1) at both ends and for removal. Destroyed with
// waiters still queued, it detaches them (orphaned).
class ASYNCUV_API WaitList : public IntrusiveList<WaitNode> {
public:
  WaitList() noexcept = default;
  ~WaitList();
};

// Parks the running task on `n` at the back of `list`.
ASYNCUV_API void wait_in(WaitList& list, WaitNode* n, std::coroutine_handle<> h, bool (*on_cancel)(Suspension*),
                         const char* on);

// Wakes every task parked in `list` (Event::set, and the streams', servers'
// and processes' waits).
ASYNCUV_API void wake_all(WaitList& list) noexcept;

// The cancel hook of a plain waiter: leave the queue (if still in it); the
// task gets CancelledError.
ASYNCUV_API bool leave_queue(Suspension* s) noexcept;

// A cancel hook for waiters that stay queued once woken (Lock, Semaphore):
// only a waiter that was not handed anything leaves the queue at once.
ASYNCUV_API bool leave_unless_woken(Suspension* s) noexcept;

// co_await lock.acquire() / sem.acquire(): takes the primitive P (Lock or
// Semaphore) at once when it is free and nobody queues, else waits in its
// queue. Returns true, holding it.
template <class P>
class [[nodiscard]] AcquireAwaiter : protected WaitNode {
public:
  explicit AcquireAwaiter(P& p) noexcept : p_(&p) {}
  AcquireAwaiter(AcquireAwaiter&&) = delete;  // queued by address
  ~AcquireAwaiter() {
    if (linked()) WaitList::unlink(this);
  }
  bool await_ready() noexcept { return p_->try_take(); }
  void await_suspend(std::coroutine_handle<> h) { wait_in(p_->waiters_, this, h, &leave_unless_woken, P::wait_label); }
  bool await_resume() {
    if (suspended()) resumed();
    return true;
  }

protected:
  P* p_;

private:
  void resumed();  // locks.cpp: the end of a real wait
};

// auto guard = co_await p.scoped(): the same, with a Guard<G> that releases.
template <class P, class G = P>
class [[nodiscard]] ScopedAcquireAwaiter : public AcquireAwaiter<P> {
public:
  using AcquireAwaiter<P>::AcquireAwaiter;
  Guard<G> await_resume() {
    AcquireAwaiter<P>::await_resume();
    return Guard<G>(static_cast<G&>(*this->p_));
  }
};

}  // namespace detail

// `auto guard = co_await lock.scoped();` — releases in its destructor (the
// `async with` of Python). Movable; release() lets go early.
template <class M>
class [[nodiscard]] Guard {
public:
  Guard() noexcept = default;
  explicit Guard(M& m) noexcept : m_(&m) {}
  Guard(Guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Guard& operator=(Guard&& o) noexcept {
    if (this != &o) {
      reset();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~Guard() { reset(); }

  bool owns() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return owns(); }
  // Releases now (and may throw what M::release() throws).
  void release() {
    if (M* m = std::exchange(m_, nullptr)) m->release();
  }

private:
  // A destructor cannot throw: an error (the primitive was released by hand
  // as well) goes to the loop's exception handler instead.
  void reset() noexcept {
    if (!m_) return;
    try {
      std::exchange(m_, nullptr)->release();
    } catch (...) {
      report_guard_error(std::current_exception());
    }
  }
  static void report_guard_error(std::exception_ptr e) noexcept {
    detail::report_exception({"Exception in Guard release", std::move(e), {}});
  }
  M* m_ = nullptr;
};

// asyncio.Event: a flag that tasks can wait for.
class ASYNCUV_API Event {
public:
  Event() noexcept = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return value_; }
  // Wakes every waiting task; later wait()s return at once.
  void set();
  void clear() noexcept { value_ = false; }

  class [[nodiscard]] WaitAwaiter : detail::WaitNode {
  public:
    explicit WaitAwaiter(Event& e) noexcept : e_(&e) {}
    WaitAwaiter(WaitAwaiter&&) = delete;  // queued by address
    ~WaitAwaiter() {
      if (linked()) detail::WaitList::unlink(this);
    }
    bool await_ready() const noexcept { return e_->value_; }
    void await_suspend(std::coroutine_handle<> h) { detail::wait_in(e_->waiters_, this, h, &detail::leave_queue, "event"); }
    bool await_resume() {
      if (suspended()) task->throw_if_cancelled();
      return true;
    }

  private:
    Event* e_;
  };
  // co_await ev.wait(): returns true once the flag is set (at once if it is).
  WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }
  std::size_t waiters() const noexcept { return waiters_.size(); }

private:
  bool value_ = false;
  detail::WaitList waiters_;
};

// asyncio.Lock: a mutex for tasks (not owned by a task: any task may release
// it). Fair: released, it goes to the first waiter.
class ASYNCUV_API Lock {
public:
  Lock() noexcept = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  bool locked() const noexcept { return locked_; }
  // Throws RuntimeError("Lock is not acquired.") when unlocked.
  void release();

  using AcquireAwaiter = detail::AcquireAwaiter<Lock>;
  using ScopedAwaiter = detail::ScopedAcquireAwaiter<Lock>;

  // co_await lock.acquire(): returns true, holding the lock. Does not suspend
  // when the lock is free and nobody waits (as asyncio).
  AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  // auto guard = co_await lock.scoped(); — released when guard goes.
  ScopedAwaiter scoped() noexcept { return ScopedAwaiter(*this); }
  std::size_t waiters() const noexcept { return waiters_.size(); }

private:
  friend AcquireAwaiter;
  static constexpr const char* wait_label = "lock";  // a trace's label
  static constexpr const char* type_name = "Lock";
  // After a wait: takes what the waiter was handed or, cancelled, hands on
  // what it may have been given, never keeping it.
  void end_wait(const detail::WaitNode& n, bool cancelled) noexcept;
  bool try_take() noexcept {
    if (locked_ || !waiters_.empty()) return false;
    locked_ = true;
    return true;
  }
  void wake_up_first() noexcept;
  bool locked_ = false;
  detail::WaitList waiters_;
};

// asyncio.Semaphore: a counter of free units; acquire() takes one, waiting
// (first come, first served) while there is none.
class ASYNCUV_API Semaphore {
public:
  // Throws std::invalid_argument("Semaphore initial value must be >= 0").
  explicit Semaphore(std::int64_t value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // True when acquire() would have to wait (no unit, or others queued first).
  bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }
  // The free units (asyncio's _value).
  std::int64_t value() const noexcept { return value_; }
  // Adds a unit and hands it to the first waiter. On a BoundedSemaphore
  // already at its initial value: std::invalid_argument
  // ("BoundedSemaphore released too many times").
  void release();

  using AcquireAwaiter = detail::AcquireAwaiter<Semaphore>;
  template <class S>
  using ScopedAwaiter = detail::ScopedAcquireAwaiter<Semaphore, S>;

  AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  ScopedAwaiter<Semaphore> scoped() noexcept { return ScopedAwaiter<Semaphore>(*this); }
  std::size_t waiters() const noexcept { return waiters_.size(); }

protected:
  Semaphore(std::int64_t value, std::int64_t bound);

private:
  friend AcquireAwaiter;
  static constexpr const char* wait_label = "semaphore";  // a trace's label
  static constexpr const char* type_name = "Semaphore";
  // After a wait: takes what the waiter was handed or, cancelled, hands on
  // what it may have been given, never keeping it.
  void end_wait(const detail::WaitNode& n, bool cancelled) noexcept;
  bool try_take() noexcept {
    if (locked()) return false;
    --value_;
    return true;
  }
  void wake_up_next() noexcept;
  std::int64_t value_;
  std::int64_t bound_;  // -1: unbounded
  detail::WaitList waiters_;
};

// asyncio.BoundedSemaphore: release() beyond the initial value is an error.
class ASYNCUV_API BoundedSemaphore : public Semaphore {
public:
  explicit BoundedSemaphore(std::int64_t value = 1) : Semaphore(value, value) {}
  ScopedAwaiter<BoundedSemaphore> scoped() noexcept { return ScopedAwaiter<BoundedSemaphore>(*this); }
};

// asyncio.Condition: wait for a notification while holding a Lock (its own,
// or one shared with other conditions).
class ASYNCUV_API Condition {
public:
  Condition() noexcept : lock_(&own_) {}
  explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // The underlying lock's operations (as asyncio exports them).
  bool locked() const noexcept { return lock_->locked(); }
  Lock::AcquireAwaiter acquire() noexcept { return lock_->acquire(); }
  Lock::ScopedAwaiter scoped() noexcept { return lock_->scoped(); }
  void release() { lock_->release(); }
  Lock& lock() noexcept { return *lock_; }

  // Releases the lock, waits for notify(), re-acquires the lock (also when
  // cancelled: the CancelledError comes once the lock is held again) and
  // returns true. RuntimeError("cannot wait on un-acquired lock") without it.
  Coro<bool> wait();

  // Waits until predicate() is truthy; returns its last value.
  template <class Pred>
  Coro<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }

  // Wakes up to n waiters (each then waits for the lock).
  // RuntimeError("cannot notify on un-acquired lock") without the lock.
  void notify(std::size_t n = 1);
  void notify_all() { notify(waiters_.size()); }
  std::size_t waiters() const noexcept { return waiters_.size(); }

private:
  class NotifyAwaiter;
  detail::WaitList notified_;  // woken, not yet resumed (see notify)
  Lock own_;
  Lock* lock_;
  detail::WaitList waiters_;
};

}  // namespace asyncuv
