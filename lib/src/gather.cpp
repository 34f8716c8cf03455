// gather.cpp — the suspension behind every form of gather().
#include "asyncuv/gather.hpp"

namespace asyncuv::detail {

GatherWait::GatherWait(std::vector<TaskCore*> children, bool return_exceptions)
    : children_(std::move(children)), return_exceptions_(return_exceptions) {
  for (TaskCore* c : children_) {
    // asyncio's gather looks at every child's exception, even after it has
    // returned (first failure) or been dropped: none is "never retrieved".
    c->retrieved = true;
    if (!c->done()) ++pending_;
    else note_done(*c);
  }
  if (pending_ == 0) signalled_ = true;
}

GatherWait::~GatherWait() {
  if (!nodes_) return;
  for (std::size_t i = 0; i < pending_nodes_; ++i) {
    if (nodes_[i].child) nodes_[i].child->remove_listener(&nodes_[i]);
  }
}

void GatherWait::await_suspend(std::coroutine_handle<> h) {
  TaskCore& self = running_task();
  resume = h;
  cancel = &GatherWait::on_cancel;
  nodes_ = std::make_unique<Node[]>(pending_);
  for (TaskCore* c : children_) {
    if (c->done()) continue;
    Node& n = nodes_[pending_nodes_++];
    n.owner = this;
    n.child = c;
    n.on_done = &GatherWait::on_child_done;
    c->add_listener(&n);
  }
  self.park(this);
}

void GatherWait::on_child_done(Listener* l, TaskCore& child) noexcept {
  auto* n = static_cast<Node*>(l);
  n->child = nullptr;  // no longer registered
  GatherWait* self = n->owner;
  --self->pending_;
  self->note_done(child);
  if (self->pending_ == 0 && !self->signalled_) {
    self->signalled_ = true;
    self->task->wake();
  }
}

// Records a finished child; the first failure (a cancelled child included,
// even when we cancelled it) wakes the awaiter at once, unless exceptions
// are results. asyncio's gather does not wait for slow cancellation handlers.
void GatherWait::note_done(TaskCore& child) noexcept {
  std::exception_ptr e = child.outcome_error();
  if (!e || return_exceptions_ || signalled_ || error_) return;
  error_ = e;
  signalled_ = true;
  if (task) task->wake();
}

// Cancelling the gather cancels the children; the awaiter raises at the
// first child that ends cancelled (or failed), or CancelledError once all
// are done if every child swallowed its cancel. Nothing to cancel means the
// outcome is already decided, so the awaiting task gets a plain CancelledError.
bool GatherWait::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<GatherWait*>(s);
  if (self->signalled_) return false;
  bool any = false;
  for (TaskCore* c : self->children_) any = c->cancel() || any;
  if (any) self->cancel_requested_ = true;
  return any;
}

void GatherWait::await_resume() {
  if (task) task->throw_if_cancelled();
  if (error_) std::rethrow_exception(error_);
  if (cancel_requested_) throw CancelledError();
}

}  // namespace asyncuv::detail
