// timeouts.cpp — the Timeout scope's state machine and wait_for's helpers.
#include "asyncuv/timeouts.hpp"

#include <charconv>
#include <cmath>

namespace asyncuv {

namespace detail {

Coro<void> cancel_and_wait(TaskCore* t) {
  t->cancel();
  TaskCore* const one[1] = {t};
  co_await TaskSetWait(one, 1, ReturnWhen::all_completed);
}

namespace {

// Python's repr of a float: shortest round-trip digits, "12.0" not "12".
std::string float_repr(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

}  // namespace
}  // namespace detail

Timeout timeout(std::optional<double> delay) {
  if (!delay) return Timeout(std::nullopt);
  return Timeout(get_running_loop().time() + *delay);
}

Timeout::Timeout(std::optional<double> when) noexcept : when_(when) { fire = &Timeout::on_fire; }

Timeout::~Timeout() { disarm(); }

void Timeout::disarm() noexcept {
  if (soon_.valid()) std::exchange(soon_, Handle()).cancel();  // on the loop's thread: never runs
  if (!queued()) return;
  if (EventLoop* loop = EventLoop::current()) detail::remove_timer(*loop, this);
}

void Timeout::reschedule(std::optional<double> when) {
  switch (state_) {
    case State::entered:
      break;
    case State::created:
      throw RuntimeError("Timeout has not been entered");
    case State::expiring:
      throw RuntimeError("Cannot change state of expiring Timeout");
    case State::expired:
      throw RuntimeError("Cannot change state of expired Timeout");
    case State::exited:
      throw RuntimeError("Cannot change state of finished Timeout");
  }
  detail::check_loop_thread();  // before disarm(), which needs the loop
  const std::uint64_t deadline = when ? detail::deadline_at(*when) : 0;
  disarm();
  when_ = when;
  if (!when) return;
  // A deadline already past takes its turn among the ready callbacks, as
  // asyncio's call_soon(_on_timeout) does (so before the task's next step
  // when the body yields), not after the timers due on the next pass.
  EventLoop& loop = get_running_loop();
  if (deadline <= detail::now_ns()) {
    soon_ = loop.call_soon([this] { on_timeout(); });
    return;
  }
  deadline_ns = deadline;
  detail::add_timer(loop, this);
}

std::string Timeout::repr() const {
  static constexpr const char* names[] = {"created", "active", "expiring", "expired", "finished"};
  std::string s = "<Timeout [";
  s += names[static_cast<int>(state_)];
  s += "]";
  if (state_ == State::entered) {
    s += " when=";
    s += when_ ? detail::float_repr(std::round(*when_ * 1000) / 1000) : "None";
  }
  return s + ">";
}

void Timeout::enter() {
  if (state_ != State::created) throw RuntimeError("Timeout has already been entered");
  EventLoop* loop = EventLoop::current();
  detail::TaskCore* task = loop ? detail::Running::now.task : nullptr;
  if (!task) throw RuntimeError("Timeout should be used inside a task");
  state_ = State::entered;
  task_ = task;
  cancelling_ = task->cancelling();
  reschedule(when_);
}

void Timeout::exit(std::exception_ptr error) {
  disarm();
  if (state_ == State::expiring) {
    state_ = State::expired;
    // Only when no new cancel request arrived is this cancellation ours.
    if (task_->uncancel() <= cancelling_ && detail::is_cancelled_error(error)) throw TimeoutError();
  } else if (state_ == State::entered) {
    state_ = State::exited;
  }
  if (error) std::rethrow_exception(error);
}

void Timeout::on_fire(TimerEntry* e, detail::Fate fate) noexcept {
  if (fate == detail::Fate::drop) return;  // embedded in the scope: nothing to free
  static_cast<Timeout*>(e)->on_timeout();
}

void Timeout::on_timeout() noexcept {
  soon_ = Handle();
  if (state_ != State::entered) return;
  state_ = State::expiring;
  task_->cancel();
}

}  // namespace asyncuv
