// signals.cpp — loop.add_signal_handler() / remove_signal_handler() and
// run()'s Ctrl-C, on uv_signal_t (see detail/signal.hpp).
#include "asyncuv/detail/signal.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "asyncuv/detail/loop_access.hpp"
#include "asyncuv/events.hpp"
#include "asyncuv/exceptions.hpp"

namespace asyncuv {

namespace detail {

void check_signal(int sig) {
  // signal.valid_signals() is sigfillset's set: glibc leaves out the two
  // real-time signals it keeps for itself (32 and 33).
  sigset_t all;
  sigfillset(&all);
  if (sig < 1 || sig >= NSIG || sigismember(&all, sig) != 1)
    throw ValueError("invalid signal number " + std::to_string(sig));
}

void throw_coroutine_signal_handler() { throw TypeError("coroutines cannot be used with add_signal_handler()"); }

namespace {

[[noreturn]] void throw_signal_error(int status, int sig) {
  // sigaction's EINVAL for a valid number: SIGKILL or SIGSTOP.
  if (status == UV_EINVAL) throw RuntimeError("sig " + std::to_string(sig) + " cannot be caught");
  throw_uv_error(status);
}

bool on_main_thread() noexcept { return ::getpid() == static_cast<pid_t>(::syscall(SYS_gettid)); }

bool sigint_is_default() noexcept {
  struct sigaction current{};
  if (::sigaction(SIGINT, nullptr, &current) != 0) return false;
  return !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL;
}

}  // namespace

int SignalHandlers::start(OwnedHandle<uv_signal_t>& handle, void* data, uv_signal_cb cb, int sig) {
  uv_loop_t* uv = loop_.uv_loop();
  if (const int rc = handle.open(handles_of(loop_), [uv](uv_signal_t* h) { return uv_signal_init(uv, h); }); rc != 0)
    return rc;
  handle.get()->data = data;
  if (const int rc = uv_signal_start(handle.get(), cb, sig); rc != 0) {
    handle.close();
    return rc;
  }
  uv_unref(handle.base());  // asyncio's signal handlers do not keep run() going
  return 0;
}

void SignalHandlers::add(int sig, std::shared_ptr<SignalCallback> callback) {
  check_signal(sig);
  auto [it, added] = entries_.try_emplace(sig);
  Entry& e = it->second;
  if (added) {
    e.owner = this;
    if (const int rc = start(e.handle, &e, &SignalHandlers::on_signal, sig); rc != 0) {
      entries_.erase(it);
      throw_signal_error(rc, sig);
    }
  }
  // A second add replaces the callable; a delivery already queued keeps the
  // one it was made with (asyncio queues the Handle it found).
  e.callback = std::move(callback);
  // asyncio's handler replaces run()'s, which then stops cancelling main.
  if (sig == SIGINT) unwatch_interrupt();
}

bool SignalHandlers::remove(int sig) {
  check_signal(sig);
  auto it = entries_.find(sig);
  if (it == entries_.end()) return false;
  entries_.erase(it);  // closes the handle: libuv restores SIG_DFL if it was the last
  return true;
}

void SignalHandlers::on_signal(uv_signal_t* h, int) {
  auto* e = static_cast<Entry*>(h->data);
  try {
    e->owner->loop_.call_soon([callback = e->callback] { (*callback)(); });
  } catch (...) {  // out of memory: this delivery is lost, and said so
    report_exception({"Exception in signal handler", std::current_exception(), {}});
  }
}

bool SignalHandlers::watch_interrupt(InterruptFn on_interrupt, void* arg) {
  if (!on_main_thread() || !sigint_is_default()) return false;
  interrupt_fn_ = on_interrupt;
  interrupt_arg_ = arg;
  interrupts_ = 0;
  return start(interrupt_, this, &SignalHandlers::on_interrupt, SIGINT) == 0;
}

// asyncio.Runner._on_sigint, first call: run() cancels its main task. Stopping the
// watch gives SIGINT back its default disposition at once, so a second
// Ctrl-C while main cleans up ends the process, as asyncio's default
// handler would by raising KeyboardInterrupt there.
void SignalHandlers::on_interrupt(uv_signal_t* h, int) {
  auto* self = static_cast<SignalHandlers*>(h->data);
  ++self->interrupts_;
  self->unwatch_interrupt();
  self->interrupt_fn_(self->interrupt_arg_);
}

}  // namespace detail

void EventLoop::set_signal_handler(int sig, std::shared_ptr<detail::SignalCallback> callback) {
  detail::check_signal(sig);  // asyncio checks the number before the loop
  check_thread();
  signal_handlers().add(sig, std::move(callback));
}

bool EventLoop::remove_signal_handler(int sig) {
  check_thread();
  return signal_handlers().remove(sig);
}

detail::SignalHandlers& EventLoop::signal_handlers() {
  if (!signals_) signals_ = std::make_unique<detail::SignalHandlers>(*this);
  return *signals_;
}

}  // namespace asyncuv
