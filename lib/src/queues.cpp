// queues.cpp — the type-independent half of asyncio's queues: waking
// getters and putters, and join()/task_done().
#include "asyncuv/queues.hpp"

namespace asyncuv::detail {

void QueueCore::task_done() {
  if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
  if (--unfinished_ > 0) return;
  try {
    finished_.set();
  } catch (...) {  // the wrong thread: nothing changed
    ++unfinished_;
    throw;
  }
}

// asyncio's _wakeup_next: the first waiter leaves the queue and gets its turn
// on the loop's next pass (cancelled waiters have left already).
void QueueCore::wakeup_next(WaitList& waiters) noexcept {
  WaitNode* n = waiters.pop_front();
  if (!n) return;
  auto* w = static_cast<Waiter*>(n);
  w->woken = true;
  woken_.push_back(w);
  schedule(*EventLoop::current(), static_cast<Callback*>(w));
}

// The woken waiter's turn: where asyncio's task would re-check
// `while self.empty()` (or full()), we check before resuming the task, so
// that a waiter whose item was taken meanwhile just queues again. Resuming
// runs the task's step right here, exactly where the ready queue would have.
void QueueCore::Waiter::on_turn(Callback* c, Fate fate) noexcept {
  auto* w = static_cast<Waiter*>(c);
  if (fate == Fate::drop) return;  // in the waiting frame; the task's teardown unlinks it
  w->woken = false;
  if (w->orphaned) return w->task->take_turn();  // resumed() throws
  WaitList::unlink(w);  // from woken_
  if (w->cancelled_) {
    // Woken, then cancelled before it ran: the wake-up is not lost.
    if (!w->blocked()) w->q_->wakeup_next(w->list());
  } else if (w->blocked()) {
    w->list().push_back(w);
    return;
  }
  w->task->take_turn();
}

bool QueueCore::Waiter::on_cancel(Suspension* s) noexcept {
  auto* w = static_cast<Waiter*>(static_cast<WaitNode*>(s));
  if (w->woken) {
    // Its turn is already on the ready queue: that turn delivers the
    // CancelledError (the task must not be scheduled twice).
    w->cancelled_ = true;
    return true;
  }
  if (w->linked()) WaitList::unlink(w);
  return false;
}

}  // namespace asyncuv::detail
