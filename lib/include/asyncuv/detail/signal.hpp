// asyncuv/detail/signal.hpp — the loop's signal handlers (uv_signal_t):
// what loop.add_signal_handler() installs and run()'s Ctrl-C watch.
//
// One OwnedHandle<uv_signal_t> per signal. A delivery does not run the
// user's callback from libuv's callback: it schedules it through the loop
// (call_soon), as asyncio queues the signal's Handle, so it runs in turn
// with everything else and its exceptions reach the loop's exception
// handler. The handles are unreferenced: like asyncio's, a signal handler
// does not keep the loop running. libuv puts the default disposition back
// when the last handle of a signal stops (remove, or the loop closing).
#pragma once

#include <uv.h>

#include <map>
#include <memory>

#include "owned_handle.hpp"

namespace asyncuv {
class EventLoop;
}

namespace asyncuv::detail {


// The user's callable with its arguments, called once per delivery.
struct SignalCallback {
  SignalCallback() = default;
  SignalCallback(const SignalCallback&) = delete;
  virtual ~SignalCallback() = default;
  virtual void operator()() = 0;
};

template <class F>
struct SignalCallbackOf final : SignalCallback {
  explicit SignalCallbackOf(F f) : fn(std::move(f)) {}
  void operator()() override { fn(); }
  F fn;
};

class SignalHandlers {
public:
  explicit SignalHandlers(EventLoop& loop) noexcept : loop_(loop) {}

  // asyncio's checks come first: ValueError "invalid signal number N",
  // RuntimeError "sig N cannot be caught" (SIGKILL, SIGSTOP).
  void add(int sig, std::shared_ptr<SignalCallback> callback);
  bool remove(int sig);

  // run()'s Ctrl-C: the first SIGINT calls on_interrupt(arg) (run() cancels
  // its main task) and gives SIGINT back its default disposition, so a
  // second one ends the process. Installed only on the main thread and when
  // SIGINT has its default disposition, as asyncio.run() does; false when
  // not installed.
  using InterruptFn = void (*)(void* arg) noexcept;
  bool watch_interrupt(InterruptFn on_interrupt, void* arg);
  void unwatch_interrupt() noexcept { interrupt_.close(); }
  int interrupt_count() const noexcept { return interrupts_; }

private:
  struct Entry {
    SignalHandlers* owner = nullptr;
    std::shared_ptr<SignalCallback> callback;
    OwnedHandle<uv_signal_t> handle;
  };
  static void on_signal(uv_signal_t* h, int sig);
  static void on_interrupt(uv_signal_t* h, int sig);
  int start(OwnedHandle<uv_signal_t>& handle, void* data, uv_signal_cb cb, int sig);

  EventLoop& loop_;
  std::map<int, Entry> entries_;  // by signal number; nodes never move
  OwnedHandle<uv_signal_t> interrupt_;
  InterruptFn interrupt_fn_ = nullptr;
  void* interrupt_arg_ = nullptr;
  int interrupts_ = 0;
};

// The checks of asyncio's _check_signal: sig is one of signal.valid_signals().
void check_signal(int sig);
[[noreturn]] void throw_coroutine_signal_handler();

}  // namespace asyncuv::detail
