// gather.cpp — the suspension behind every form of gather().
#include "asyncuv/gather.hpp"

namespace asyncuv::detail {

GatherWait::~GatherWait() {
  if (!registered_ || pending_ == 0) return;  // every listener has fired
  for (std::size_t i = 0; i < n_; ++i) {
    TaskCore* c = child(i);
    if (!c->done()) c->remove_shared_listener(this);
  }
}

void GatherWait::await_suspend(std::coroutine_handle<> h) {
  TaskCore& self = running_task();
  resume = h;
  cancel = &GatherWait::on_cancel;
  on_done = &GatherWait::on_child_done;
  registered_ = true;  // first: if a registration throws, the destructor undoes the others
  // One pass over the children: with many of them, each pass is a walk
  // through memory that no longer fits in cache.
  for (std::size_t i = 0; i < n_; ++i) {
    TaskCore* c = child(i);
    // asyncio's gather looks at every child's exception, even after it has
    // returned (first failure) or been dropped: none is "never retrieved".
    c->mark_retrieved();
    if (c->done()) {
      note_done(*c);
    } else {
      c->add_shared_listener(this);
      ++pending_;
    }
  }
  if (pending_ == 0) signalled_ = true;
  // Decided before we waited: still two passes. Queued before park(), so that
  // a cancel pending on this task finds the wake-up on its way (on_cancel).
  if (signalled_) wake_.fire(&self);
  self.park(this, "gather");
}

void GatherWait::on_child_done(Listener* l, TaskCore& child, Fate fate) noexcept {
  if (fate == Fate::drop) return;  // embedded in its owner: nothing to free
  auto* self = static_cast<GatherWait*>(l);
  --self->pending_;
  self->note_done(child);
  if (self->pending_ == 0 && !self->signalled_) {
    self->signalled_ = true;
    self->wake_.fire(self->task);
  }
}

// Records a finished child; the first failure (a cancelled child included,
// even when we cancelled it) wakes the awaiter at once, unless exceptions
// are results. asyncio's gather does not wait for slow cancellation handlers.
void GatherWait::note_done(TaskCore& child) noexcept {
  if (child.succeeded()) return;  // the common case
  std::exception_ptr e = child.outcome_error();
  if (!e || return_exceptions_ || signalled_) return;
  error_ = e;
  signalled_ = true;
  if (task) wake_.fire(task);  // (while registering, await_suspend fires it)
}

// Cancelling the gather cancels the children; the awaiter raises at the
// first child that ends cancelled (or failed), or CancelledError once all
// are done if every child swallowed its cancel. Nothing to cancel means the
// outcome is already decided, so the awaiting task gets a plain CancelledError.
bool GatherWait::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<GatherWait*>(s);
  if (self->wake_.absorb_cancel()) return true;  // decided; the wake-up must find us
  if (self->signalled_) return false;
  bool any = false;
  for (std::size_t i = 0; i < self->n_; ++i) any = self->child(i)->cancel() || any;
  if (any) self->cancel_requested_ = true;
  return any;
}

bool GatherWait::only_handle(const TaskCore& t) noexcept { return t.sole_handle(); }

void GatherWait::await_resume() {
  if (task) task->throw_if_cancelled();
  wake_.rethrow_cancel();
  if (error_) std::rethrow_exception(error_);
  if (cancel_requested_) detail::throw_cancelled();
}

}  // namespace asyncuv::detail
