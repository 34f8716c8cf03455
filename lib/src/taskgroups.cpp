// taskgroups.cpp — TaskGroup's bookkeeping and its exit sequence (asyncio's __aexit__).
#include "asyncuv/taskgroups.hpp"

#include <stdexcept>

namespace asyncuv {

// The parent waiting in exit() for the last child.
class TaskGroup::ExitWait : detail::Suspension {
public:
  explicit ExitWait(TaskGroup& g) noexcept : g_(g) {}
  ExitWait(ExitWait&&) = delete;
  ~ExitWait() {
    if (g_.waiter_ == this) g_.waiter_ = nullptr;
  }
  bool await_ready() const noexcept { return g_.pending_ == 0; }
  void await_suspend(std::coroutine_handle<> h) {
    detail::TaskCore& self = detail::running_task();
    resume = h;
    cancel = &ExitWait::on_cancel;
    g_.waiter_ = this;
    self.park(this, "taskgroup");
  }
  void await_resume() {
    g_.waiter_ = nullptr;
    task->throw_if_cancelled();
  }

private:
  friend class TaskGroup;
  static bool on_cancel(Suspension* s) noexcept {
    auto* self = static_cast<ExitWait*>(s);
    self->g_.waiter_ = nullptr;
    return false;
  }
  TaskGroup& g_;
};

TaskGroup::TaskGroup() noexcept : DoneCallbacks(&TaskGroup::on_task_done) { on_done = &TaskGroup::on_child_done; }

TaskGroup::~TaskGroup() { release_children(); }

void TaskGroup::release_children() noexcept {
  for (detail::TaskCore* c : children_) {
    if (!c->done()) c->remove_shared_listener(this);
    c->decref();
  }
  children_.clear();
  finished_ = 0;
}

std::string TaskGroup::repr() const {
  std::string s = "<TaskGroup";
  if (pending_) s += " tasks=" + std::to_string(pending_);
  if (!errors_.empty()) s += " errors=" + std::to_string(errors_.size());
  if (aborting_) s += " cancelling";
  else if (entered_) s += " entered";
  return s + ">";
}

void TaskGroup::enter() {
  if (entered_) throw RuntimeError("TaskGroup " + repr() + " has already been entered");
  get_running_loop();
  parent_ = detail::Running::now.task;
  if (!parent_) throw RuntimeError("TaskGroup " + repr() + " cannot determine the parent task");
  entered_ = true;
}

void TaskGroup::check_can_create() const {
  if (!entered_) throw RuntimeError("TaskGroup " + repr() + " has not been entered");
  if (exiting_ && pending_ == 0) throw RuntimeError("TaskGroup " + repr() + " is finished");
  if (aborting_) throw RuntimeError("TaskGroup " + repr() + " is shutting down");
}

void TaskGroup::adopt(detail::TaskCore* t) {
  // Finished children are dropped now and then, so that a long-lived group
  // (a server's connections) holds no more than twice its live children.
  if (finished_ > 16 && finished_ * 2 > children_.size()) {
    std::size_t kept = 0;
    for (detail::TaskCore* c : children_) {
      if (c->done()) c->decref();
      else children_[kept++] = c;
    }
    children_.resize(kept);
    finished_ = 0;
  }
  if (children_.size() == children_.capacity()) {  // nothing below may throw
    children_.reserve(children_.empty() ? 8 : 2 * children_.size());
  }
  t->incref();
  children_.push_back(t);
  ++pending_;
  t->add_shared_listener(this);
}

void TaskGroup::abort() noexcept {
  aborting_ = true;
  for (detail::TaskCore* c : children_) {
    if (!c->done()) c->cancel();
  }
}

void TaskGroup::on_child_done(Listener* l, detail::TaskCore& child, detail::Fate fate) noexcept {
  if (fate == detail::Fate::drop) return;  // embedded in the group: nothing to free
  auto* g = static_cast<TaskGroup*>(l);
  ++g->finished_;
  g->post(child);  // asyncio's task.add_done_callback(self._on_task_done)
}

// Python's _on_task_done, on the pass after the child's end.
void TaskGroup::on_task_done(DoneCallbacks* d, detail::TaskCore& child) noexcept {
  auto* g = static_cast<TaskGroup*>(d);
  --g->pending_;
  if (g->pending_ == 0 && g->waiter_) g->waiter_->task->wake();
  std::exception_ptr error = child.take_failure();
  if (!error) return;
  try {
    g->errors_.push_back(error);
  } catch (...) {  // out of memory: report it rather than lose it
    get_running_loop().call_exception_handler({"TaskGroup could not record a child's error", error, child.name()});
  }
  if (g->parent_->done()) {
    get_running_loop().call_exception_handler(
        {"Task " + child.name() + " has errored out but its parent task " + g->parent_->name() + " is already completed",
         error, child.name()});
    return;
  }
  if (!g->aborting_ && !g->parent_cancel_requested_) {
    // Abort whatever the body is doing; exit() takes this cancel back.
    g->abort();
    g->parent_cancel_requested_ = true;
    g->parent_->cancel();
  }
}

Coro<void> TaskGroup::exit(std::exception_ptr error) {
  exiting_ = true;
  const bool error_is_cancel = detail::is_cancelled_error(error);
  std::exception_ptr propagate_cancel = error_is_cancel ? error : nullptr;
  if (error && !aborting_) abort();  // the parent is cancelled, or the body failed
  // A loop: the parent may be cancelled again and again while it waits.
  while (pending_ > 0) {
    bool cancelled = false;
    try {
      co_await ExitWait(*this);
    } catch (const CancelledError&) {
      cancelled = true;
      if (!aborting_) propagate_cancel = std::current_exception();
    }
    if (cancelled && !aborting_) abort();
  }
  if (parent_cancel_requested_ && parent_->uncancel() == 0) {
    propagate_cancel = nullptr;  // the only cancel request was ours
  }
  release_children();
  // Failures win over a cancellation.
  if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
  if (error && !error_is_cancel) errors_.push_back(error);
  if (!errors_.empty()) {
    std::vector<std::exception_ptr> errors = std::move(errors_);
    errors_.clear();
    throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors));
  }
}

}  // namespace asyncuv
