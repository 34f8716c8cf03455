// wait.cpp — the suspensions behind wait(), wait_for(), shield() and as_completed().
#include "asyncuv/wait.hpp"

#include <string>

namespace asyncuv::detail {

void check_return_when(ReturnWhen when) {
  switch (when) {
    case ReturnWhen::first_completed:
    case ReturnWhen::first_exception:
    case ReturnWhen::all_completed:
      return;
  }
  throw std::invalid_argument("Invalid return_when value: " + std::to_string(static_cast<int>(when)));
}

// ---- TaskSetWait ----

bool TaskSetWait::satisfied_by(TaskCore& child) const noexcept {
  switch (when_) {
    case ReturnWhen::first_completed:
      return true;
    case ReturnWhen::first_exception:
      return child.take_failure() != nullptr;  // Python looked at it with f.exception()
    case ReturnWhen::all_completed:
      break;
  }
  return false;
}

void TaskSetWait::await_suspend(std::coroutine_handle<> h) {
  TaskCore& self = running_task();
  resume = h;
  cancel = &TaskSetWait::on_cancel;
  on_done = &TaskSetWait::on_child_done;
  bool ready = false;
  for (std::size_t i = 0; i < n_; ++i) {
    TaskCore* c = tasks_[i];
    if (!c->done()) ++pending_;
    else ready = satisfied_by(*c) || ready;
  }
  if (ready || pending_ == 0) {
    // Already decided: the done callbacks still run first, then the wake-up
    // (two passes). Queued before park() so that a pending cancel finds it.
    signalled_ = true;
    wake_.fire(&self);
    self.park(this, "wait");
    return;
  }
  for (std::size_t i = 0; i < n_; ++i) {
    if (!tasks_[i]->done()) tasks_[i]->add_shared_listener(this);
  }
  registered_ = true;
  if (deadline_ns != no_deadline) {
    fire = &TaskSetWait::on_fire;
    add_timer(*EventLoop::current(), this);
  }
  self.park(this, "wait");
}

void TaskSetWait::await_resume() {
  stop();
  task->throw_if_cancelled();
  wake_.rethrow_cancel();
}

void TaskSetWait::stop() noexcept {
  if (registered_) {
    registered_ = false;
    for (std::size_t i = 0; i < n_; ++i) {
      if (!tasks_[i]->done()) tasks_[i]->remove_shared_listener(this);
    }
  }
  if (queued()) {
    if (EventLoop* loop = EventLoop::current()) remove_timer(*loop, this);
  }
}

void TaskSetWait::on_child_done(Listener* l, TaskCore& child, Fate fate) noexcept {
  if (fate == Fate::drop) return;  // embedded in its owner: nothing to free
  auto* self = static_cast<TaskSetWait*>(l);
  --self->pending_;
  if (self->signalled_) return;
  // A task's end reaches the waiter through a callback (Python's
  // _on_completion, a pass later), which releases the waiter: two passes. The
  // timer stays armed meanwhile, as in asyncio: one due before the callback
  // runs releases the waiter first.
  if (self->pending_ == 0 || self->satisfied_by(child)) {
    self->signalled_ = true;
    self->wake_.fire(self->task);
  }
}

// The timeout is a timer callback that releases the waiter (one pass), unless
// the callback that will is already queued; that then wakes the task itself,
// so that the callback never outlives the wait.
void TaskSetWait::on_fire(TimerEntry* e, Fate fate) noexcept {
  if (fate == Fate::drop) return;  // embedded in the awaiter: nothing to free
  auto* self = static_cast<TaskSetWait*>(e);
  if (self->wake_.queued) return;
  self->signalled_ = true;  // later ends find the waiter released
  self->task->wake();
}

// Abandon the wait: the tasks go on, the awaiter raises CancelledError.
bool TaskSetWait::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<TaskSetWait*>(s);
  self->stop();
  return self->wake_.absorb_cancel();  // a queued wake-up must still find us
}

// ---- as_completed ----

AsCompletedState::AsCompletedState(std::vector<TaskCore*> tasks, std::uint64_t deadline)
    : DoneCallbacks(&AsCompletedState::on_completion), tasks_(std::move(tasks)) {
  on_done = &AsCompletedState::on_child_done;
  fire = &AsCompletedState::on_fire;
  todo_ = tasks_.size();
  for (TaskCore* t : tasks_) {
    t->incref();
    if (t->done()) {
      post(*t);  // Python's add_done_callback on a done task: the next pass
    } else {
      ++pending_;
      t->add_shared_listener(this);
    }
  }
  if (pending_ > 0 && deadline != no_deadline) {
    deadline_ns = deadline;
    add_timer(*EventLoop::current(), this);
  }
}

AsCompletedState::~AsCompletedState() {
  unregister();
  // Waiters still queued would wait forever on a dead state: cut them loose.
  for (AsCompletedNext* w = head_; w; w = w->next_) {
    w->state_ = nullptr;
    w->queued_ = false;
  }
  for (TaskCore* t : tasks_) t->decref();
}

void AsCompletedState::unregister() noexcept {
  if (pending_ > 0) {
    for (TaskCore* t : tasks_) {
      if (!t->done()) t->remove_shared_listener(this);
    }
    pending_ = 0;
  }
  if (queued()) {
    if (EventLoop* loop = EventLoop::current()) remove_timer(*loop, this);
  }
}

void AsCompletedState::on_child_done(Listener* l, TaskCore& child, Fate fate) noexcept {
  if (fate == Fate::drop) return;  // embedded in its owner: nothing to free
  auto* self = static_cast<AsCompletedState*>(l);
  --self->pending_;
  self->post(child);
}

// The last task's callback disarms the timer, as in asyncio; a timeout that
// ran first leaves it nothing to do.
void AsCompletedState::on_completion(DoneCallbacks* d, TaskCore& child) noexcept {
  auto* self = static_cast<AsCompletedState*>(d);
  if (self->timed_out_) return;
  self->finished_.push_back(&child);
  if (--self->todo_ == 0 && self->queued()) remove_timer(*EventLoop::current(), self);
  self->deliver();
}

// Python queues one "timeout" per unfinished task: the tasks whose done
// callbacks ran before still come out first, every later await raises
// TimeoutError, and callbacks still queued find nothing to do.
void AsCompletedState::on_fire(TimerEntry* e, Fate fate) noexcept {
  if (fate == Fate::drop) return;  // embedded in the state: nothing to free
  auto* self = static_cast<AsCompletedState*>(e);
  self->unregister();
  self->timed_out_ = true;
  self->deliver();
}

void AsCompletedState::deliver() noexcept {
  while (head_ && (!finished_.empty() || timed_out_)) {
    AsCompletedNext* w = head_;
    unlink(w);
    w->handed_ = true;
    if (!finished_.empty()) {
      w->item_ = finished_.front();
      finished_.pop_front();
    }
    w->task->wake();
  }
}

void AsCompletedState::enqueue(AsCompletedNext* w) noexcept {
  w->queued_ = true;
  w->prev_ = tail_;
  w->next_ = nullptr;
  (tail_ ? tail_->next_ : head_) = w;
  tail_ = w;
}

void AsCompletedState::unlink(AsCompletedNext* w) noexcept {
  (w->prev_ ? w->prev_->next_ : head_) = w->next_;
  (w->next_ ? w->next_->prev_ : tail_) = w->prev_;
  w->next_ = w->prev_ = nullptr;
  w->queued_ = false;
}

AsCompletedNext::~AsCompletedNext() {
  if (queued_ && state_) state_->unlink(this);
}

bool AsCompletedNext::await_ready() {
  if (!state_) throw InvalidStateError("as_completed() is gone");
  if (state_->issued_ >= state_->size()) throw InvalidStateError("as_completed(): every task has been yielded");
  ++state_->issued_;
  // Something to take now: no suspension, as Queue.get() on a non-empty queue.
  if (!state_->finished_.empty()) {
    item_ = state_->finished_.front();
    state_->finished_.pop_front();
    handed_ = true;
  } else if (state_->timed_out_) {
    handed_ = true;
  }
  return handed_;
}

void AsCompletedNext::await_suspend(std::coroutine_handle<> h) {
  TaskCore& self = running_task();
  resume = h;
  cancel = &AsCompletedNext::on_cancel;
  suspended_ = true;
  state_->enqueue(this);
  self.park(this, "as_completed");
}

// A cancelled waiter gives back what it was handed (Queue.get() leaves the
// item in the queue and wakes the next getter).
bool AsCompletedNext::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<AsCompletedNext*>(s);
  AsCompletedState* st = self->state_;
  if (!st) return false;
  if (self->queued_) {
    st->unlink(self);
  } else if (self->item_) {
    st->finished_.push_front(std::exchange(self->item_, nullptr));
    st->deliver();
  }
  self->handed_ = false;
  return false;
}

TaskCore* AsCompletedNext::take() {
  if (suspended_) task->throw_if_cancelled();
  if (!handed_) throw InvalidStateError("as_completed() is gone");
  if (!item_) throw TimeoutError();
  return item_;
}

}  // namespace asyncuv::detail
