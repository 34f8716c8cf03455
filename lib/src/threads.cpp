// threads.cpp — to_thread's work requests and ConcurrentFuture's state.
#include "asyncuv/threads.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace asyncuv::detail {

// ---- to_thread ----

int queue_work(WorkBase& w) {
  return uv_queue_work(EventLoop::current()->uv_loop(), &w.req, &WorkBase::on_work, &WorkBase::on_complete);
}

// ---- ConcurrentFuture ----

std::chrono::nanoseconds to_timeout(double seconds) {
  if (std::isnan(seconds)) throw_nan_time();
  return to_timeout(std::chrono::duration<double>(seconds));
}

namespace {

void report_callback_error() noexcept {
  report_exception({"exception calling callback for ConcurrentFuture", std::current_exception(), {}});
}

}  // namespace

bool FutureStateBase::done() const {
  std::lock_guard lock(mutex_);
  return state_ != State::pending;
}

bool FutureStateBase::cancelled() const {
  std::lock_guard lock(mutex_);
  return state_ == State::cancelled;
}

bool FutureStateBase::cancel() {
  std::unique_lock lock(mutex_);
  if (state_ != State::pending) return state_ == State::cancelled;
  // While pending, loop_ is alive: the loop resolves every future it runs
  // before it finishes closing, and it needs this mutex to do so.
  if (EventLoop* loop = loop_) {
    try {
      loop->call_soon_threadsafe([self = shared_from_this()] {
        if (self->task) self->task->cancel();
      });
    } catch (...) {
      // Closed, or out of memory: the loop cancels the task itself on close.
    }
  }
  resolve(std::move(lock), State::cancelled);
  return true;
}

void FutureStateBase::wait_locked(std::unique_lock<std::mutex>& lock, std::chrono::nanoseconds timeout) const {
  auto ready = [this] { return state_ != State::pending; };
  if (ready()) return;
  if (timeout == forever) {
    if (loop_ && loop_ == EventLoop::current())
      throw RuntimeError("ConcurrentFuture.result() would block the event loop that must complete it");
    cv_.wait(lock, ready);
  } else if (timeout.count() > 0) {
    cv_.wait_for(lock, timeout, ready);
  }
}

void FutureStateBase::check_result(std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(mutex_);
  wait_locked(lock, timeout);
  switch (state_) {
    case State::pending: throw TimeoutError();
    case State::cancelled: detail::throw_cancelled();
    case State::done: break;
  }
  if (error_) std::rethrow_exception(error_);
}

std::exception_ptr FutureStateBase::exception(std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(mutex_);
  wait_locked(lock, timeout);
  if (state_ == State::pending) throw TimeoutError();
  if (state_ == State::cancelled) detail::throw_cancelled();
  return error_;
}

void FutureStateBase::add_done_callback(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::pending) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  try {
    fn();
  } catch (...) {
    report_callback_error();
  }
}

bool FutureStateBase::set_exception(std::exception_ptr e) {
  auto lock = lock_if_pending();
  if (!lock.owns_lock()) return false;
  error_ = std::move(e);
  resolve(std::move(lock), State::done);
  return true;
}

bool FutureStateBase::set_cancelled() {
  auto lock = lock_if_pending();
  if (!lock.owns_lock()) return false;
  resolve(std::move(lock), State::cancelled);
  return true;
}

std::unique_lock<std::mutex> FutureStateBase::lock_if_pending() {
  std::unique_lock lock(mutex_);
  if (state_ != State::pending) lock.unlock();
  return lock;
}

void FutureStateBase::resolve(std::unique_lock<std::mutex> lock, State s) {
  state_ = s;
  loop_ = nullptr;
  auto callbacks = std::move(callbacks_);
  callbacks_.clear();
  cv_.notify_all();
  lock.unlock();
  for (auto& fn : callbacks) {
    try {
      fn();
    } catch (...) {
      report_callback_error();
    }
  }
}

}  // namespace asyncuv::detail
