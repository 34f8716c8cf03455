// handles.cpp — asyncio.Handle and TimerHandle (handles.hpp).
#include "asyncuv/handles.hpp"

#include "asyncuv/detail/loop_access.hpp"
#include "asyncuv/exceptions.hpp"

namespace asyncuv {

detail::HandleState& Handle::state() const {
  if (!s_) throw InvalidStateError("empty Handle");
  return *s_;
}

namespace detail {

void HandleState::on_ready(Callback* c, Fate fate) noexcept {
  auto* s = static_cast<HandleState*>(c);
  if (fate == Fate::drop) return s->drop();
  if (!s->cancelled()) {
    s->running_ = true;
    try {
      s->invoke();
    } catch (...) {
      if (EventLoop* loop = EventLoop::current())
        loop->call_exception_handler({"Exception in callback", std::current_exception(), {}});
    }
    s->running_ = false;
  }
  s->discard();
  s->release();  // the loop's reference
}

// Its turn in the due list: the call runs now, as a due TimerHandle runs
// from asyncio's _ready.
void HandleState::on_timer(TimerEntry* e, Fate fate) noexcept {
  on_ready(static_cast<Callback*>(static_cast<HandleState*>(e)), fate);
}

void HandleState::cancel() noexcept {
  if (cancelled_.exchange(true, std::memory_order_acq_rel)) return;
  // On the loop's thread the callable goes at once (asyncio drops its
  // reference too) and a timer leaves the heap, so it no longer keeps the
  // loop awake. Elsewhere the flag is all: the loop skips it when it is due.
  EventLoop* here = EventLoop::current();
  if (here != loop || running_) return;  // running: on_ready discards it after the call
  if (queued()) {
    remove_timer(*here, this);
    discard();
    release();  // the loop's reference
  } else {
    discard();
  }
}

void HandleState::drop() noexcept {
  discard();
  release();
}

}  // namespace detail

}  // namespace asyncuv
