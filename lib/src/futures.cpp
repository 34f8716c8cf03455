// futures.cpp — Future's state machine and its awaiter (asyncio.futures).
#include "asyncuv/futures.hpp"

namespace asyncuv::detail {

FutureCore::FutureCore(void (*destroy)(FutureCore*)) noexcept : destroy_(destroy), loop_(EventLoop::current()) {}

// asyncio logs an exception nobody looked at when the future is collected.
FutureCore::~FutureCore() {
  while (FutureEntry* e = entries_.pop_front()) e->on_done(e, Fate::drop);
  if (state_ == State::finished && error_ && !retrieved_ && loop_ && EventLoop::current() == loop_) {
    loop_->call_exception_handler({"Future exception was never retrieved", error_, {}});
  }
}

EventLoop& FutureCore::loop() {
  EventLoop* here = EventLoop::current();
  if (!loop_) loop_ = here;
  if (!loop_) throw RuntimeError("no running event loop");
  if (here != loop_) throw RuntimeError("Non-thread-safe operation invoked on an event loop other than the current one");
  return *loop_;
}

void FutureCore::check_pending() {
  loop();
  if (done()) throw InvalidStateError("invalid state");
}

bool FutureCore::cancel(std::string message) {
  loop();
  if (done()) return false;
  error_ = std::make_exception_ptr(message.empty() ? CancelledError() : CancelledError(std::move(message)));
  state_ = State::cancelled;
  complete();
  return true;
}

void FutureCore::set_exception(std::exception_ptr e) {
  if (!e) throw TypeError("set_exception() needs an exception");
  check_pending();
  error_ = std::move(e);
  finish();
}

void FutureCore::finish() noexcept {
  state_ = State::finished;
  complete();
}

// Waiters and callbacks are scheduled in the order they were added, as
// asyncio's __schedule_callbacks does with its one list.
void FutureCore::complete() noexcept {
  while (FutureEntry* e = entries_.pop_front()) e->on_done(e, Fate::run);
}

void FutureCore::check_result() {
  if (state_ == State::pending) throw InvalidStateError("Result is not set.");
  retrieved_ = true;
  if (error_) std::rethrow_exception(error_);
}

std::exception_ptr FutureCore::exception() {
  if (state_ == State::pending) throw InvalidStateError("Exception is not set.");
  if (state_ == State::cancelled) std::rethrow_exception(error_);
  retrieved_ = true;
  return error_;
}

void FutureCore::add_entry(FutureEntry* e) {
  loop();
  if (done()) e->on_done(e, Fate::run);  // through the loop: the next iteration
  else entries_.push_back(e);
}

void FutureAwaitBase::suspend(std::coroutine_handle<> h) {
  TaskCore& self = running_task();
  resume = h;
  cancel = &FutureAwaitBase::on_cancel;
  on_done = &FutureAwaitBase::on_future_done;
  f_.add_entry(this);
  suspended_ = true;
  self.park(this, "future");  // a cancel already pending cancels the future right here
}

// (Never dropped: the awaiter keeps its future alive.)
void FutureAwaitBase::on_future_done(FutureEntry* e, Fate fate) noexcept {
  if (fate == Fate::run) static_cast<FutureAwaitBase*>(e)->task->wake();
}

// Task.cancel() on a task awaiting a future cancels the future (unless it
// is already done): every awaiter then gets its CancelledError.
bool FutureAwaitBase::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<FutureAwaitBase*>(s);
  try {
    return self->f_.cancel({});
  } catch (...) {
    return false;  // out of memory for the CancelledError: abandon the wait instead
  }
}

void FutureAwaitBase::resumed() {
  if (suspended_) task->throw_if_cancelled();
  f_.check_result();
}

}  // namespace asyncuv::detail
