// sleep.cpp — asyncio.sleep(): a timer entry in the sleeping frame.
#include "asyncuv/sleep.hpp"

namespace asyncuv::detail {

void SleepBase::cancel_timer() noexcept {
  if (EventLoop* loop = EventLoop::current()) remove_timer(*loop, this);
}

void SleepBase::start_timer(TaskCore& self) {
  deadline_ns = deadline_in(deadline_ns);  // it held the delay until now
  add_timer(*EventLoop::current(), this);
  self.park(this, "sleep");
}

bool SleepBase::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<SleepBase*>(s);
  if (self->queued()) remove_timer(*EventLoop::current(), self);
  return false;
}

ReadyNode* claim_sleeper(TimerEntry* e) noexcept {
  TaskCore* t = static_cast<SleepBase*>(e)->task;
  t->scheduled = true;  // woken: a cancel meanwhile finds it on its way
  return t;
}

void wake_sleeper(TimerEntry* e) noexcept { static_cast<SleepBase*>(e)->task->wake(); }

}  // namespace asyncuv::detail
