// locks.cpp — Event, Lock, Semaphore and Condition (asyncio.locks).
//
// A waiter that was woken stays in the queue until its task runs, exactly as
// asyncio's done-but-not-yet-awaited futures do: that is what stops a newly
// arriving task from taking a lock (or a semaphore unit) that was already
// handed to a waiter, and what lets a waiter cancelled after the hand-over
// pass it on when it finally runs.
#include "asyncuv/locks.hpp"

#include <stdexcept>

namespace asyncuv {
namespace detail {

WaitList::~WaitList() {
  // Waiters outlive us: they must not touch this list (or its owner) again.
  while (WaitNode* n = pop_front()) n->orphaned = true;
}

void wait_in(WaitList& list, WaitNode* n, std::coroutine_handle<> h, bool (*on_cancel)(Suspension*), const char* on) {
  TaskCore& self = running_task();
  n->resume = h;
  n->cancel = on_cancel;
  list.push_back(n);
  self.park(n, on);  // a cancel already pending calls on_cancel right here
}

bool leave_queue(Suspension* s) noexcept {
  auto* n = static_cast<WaitNode*>(s);
  if (n->linked()) WaitList::unlink(n);
  return false;
}

bool leave_unless_woken(Suspension* s) noexcept {
  auto* n = static_cast<WaitNode*>(s);
  if (!n->woken && n->linked()) WaitList::unlink(n);
  return false;
}

namespace {

void wake(WaitNode* n) noexcept {
  n->woken = true;
  n->task->wake();
}

}  // namespace

void wake_all(WaitList& list) noexcept {
  while (WaitNode* n = list.pop_front()) wake(n);
}

namespace {

[[noreturn]] void throw_orphaned(const char* what) {
  throw RuntimeError(std::string(what) + " was destroyed while a task waited for it");
}

}  // namespace

template <class P>
void AcquireAwaiter<P>::resumed() {
  if (linked()) WaitList::unlink(this);
  const bool cancelled = task->cancel_pending();
  if (orphaned) {
    task->throw_if_cancelled();
    throw_orphaned(P::type_name);
  }
  p_->end_wait(*this, cancelled);
  task->throw_if_cancelled();
}

template class AcquireAwaiter<Lock>;
template class AcquireAwaiter<Semaphore>;

}  // namespace detail

// ---- Event ----

void Event::set() {
  if (value_) return;
  if (!waiters_.empty()) detail::check_loop_thread();
  value_ = true;
  detail::wake_all(waiters_);
}

// ---- Lock ----

void Lock::release() {
  if (!locked_) throw RuntimeError("Lock is not acquired.");
  if (!waiters_.empty()) detail::check_loop_thread();
  locked_ = false;
  wake_up_first();
}

// asyncio's _wake_up_first: a first waiter already woken will take the lock
// (or, cancelled, pass it on) when it runs.
void Lock::wake_up_first() noexcept {
  detail::WaitNode* first = waiters_.front();
  if (first && !first->woken) detail::wake(first);
}

void Lock::end_wait(const detail::WaitNode&, bool cancelled) noexcept {
  if (!cancelled) locked_ = true;
  else if (!locked_) wake_up_first();  // possibly handed to us: pass it on
}

// ---- Semaphore ----

Semaphore::Semaphore(std::int64_t value) : Semaphore(value, -1) {}

Semaphore::Semaphore(std::int64_t value, std::int64_t bound) : value_(value), bound_(bound) {
  if (value < 0) throw std::invalid_argument("Semaphore initial value must be >= 0");
}

void Semaphore::release() {
  if (bound_ >= 0 && value_ >= bound_) throw std::invalid_argument("BoundedSemaphore released too many times");
  // Python's counter has no ceiling; ours stops at INT64_MAX with ValueError
  // rather than wrapping (which would be undefined behaviour).
  if (value_ == INT64_MAX) throw std::invalid_argument("Semaphore released too many times (value would exceed INT64_MAX)");
  if (!waiters_.empty()) detail::check_loop_thread();
  ++value_;
  wake_up_next();
}

// A unit is reserved for the woken waiter at once (asyncio 3.11's
// _wake_up_next), so that nobody can take it before the waiter runs.
void Semaphore::wake_up_next() noexcept {
  for (detail::WaitNode* n = waiters_.front(); n; n = waiters_.next_of(n)) {
    if (!n->woken) {
      --value_;
      detail::wake(n);
      return;
    }
  }
}

void Semaphore::end_wait(const detail::WaitNode& n, bool cancelled) noexcept {
  if (cancelled) {
    if (!n.woken) return;
    ++value_;  // the unit reserved for us goes to the next
    wake_up_next();
  } else if (value_ > 0) {
    wake_up_next();
  }
}

// ---- Condition ----

class Condition::NotifyAwaiter : detail::WaitNode {
public:
  explicit NotifyAwaiter(detail::WaitList& list) noexcept : list_(&list) {}
  NotifyAwaiter(NotifyAwaiter&&) = delete;
  ~NotifyAwaiter() {
    if (linked()) detail::WaitList::unlink(this);
  }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { detail::wait_in(*list_, this, h, &detail::leave_queue, "condition"); }
  void await_resume() {
    // Notified, then the Condition went: its lock is gone with it.
    if (orphaned) detail::throw_orphaned("Condition");
    task->throw_if_cancelled();
  }

private:
  detail::WaitList* list_;
};

Coro<bool> Condition::wait() {
  if (!locked()) throw RuntimeError("cannot wait on un-acquired lock");
  release();
  bool cancelled = false;
  try {
    co_await NotifyAwaiter(waiters_);
  } catch (const CancelledError&) {
    cancelled = true;
  }
  // The lock is taken back whatever happened; a cancellation meanwhile
  // only makes us queue again.
  for (;;) {
    try {
      co_await lock_->acquire();
      break;
    } catch (const CancelledError&) {
      cancelled = true;
    }
  }
  if (cancelled) detail::throw_cancelled();
  co_return true;
}

void Condition::notify(std::size_t n) {
  if (!locked()) throw RuntimeError("cannot notify on un-acquired lock");
  if (!waiters_.empty()) detail::check_loop_thread();
  for (std::size_t i = 0; i < n; ++i) {
    detail::WaitNode* w = waiters_.pop_front();
    if (!w) break;
    // Until it runs, a notified waiter stays listed (as asyncio keeps its
    // done future in _waiters), so that a Condition destroyed meanwhile
    // can tell it (orphaned) instead of leaving it to touch the lock.
    notified_.push_back(w);
    detail::wake(w);
  }
}

}  // namespace asyncuv
