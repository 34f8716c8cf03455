// asyncuv/handles.hpp — asyncio.Handle and asyncio.TimerHandle: what
// call_soon, call_later and call_at return (events.hpp).
//
// A scheduled callback is one allocation, its HandleState, which is at once
// a ready-queue node (call_soon) and a timer entry (call_later), never a
// libuv handle of its own.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/ready_queue.hpp"
#include "detail/timer_heap.hpp"

namespace asyncuv {

class EventLoop;

namespace detail {

// The state behind a Handle / TimerHandle (asyncio's Handle object): at once
// a ready-queue node (call_soon) and a timer entry (call_later), so that a
// scheduled callback costs one allocation and no libuv handle. Reference
// counted, atomically, because a call_soon_threadsafe handle lives in two
// threads; the loop holds one reference while the callback is queued. The
// callable itself is only ever run and destroyed on the loop's thread (after
// it ran, was cancelled there, or was dropped at loop close), so whatever it
// captures never crosses threads behind the user's back.
class ASYNCUV_API HandleState : public Callback, public TimerCall {
public:
  HandleState() noexcept : Callback(&HandleState::on_ready) {}
  HandleState(const HandleState&) = delete;
  virtual ~HandleState() = default;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
  void cancel() noexcept;
  void drop() noexcept;  // the loop closes without running it

  static void on_ready(Callback* c, Fate fate) noexcept;     // Callback::on_turn
  static void on_timer(TimerEntry* e, Fate fate) noexcept;   // TimerCall::fire

  EventLoop* loop = nullptr;  // compared, never dereferenced off its thread
  double when = 0;            // TimerHandle::when(), in loop.time() seconds

protected:
  virtual void invoke() = 0;            // runs the callable
  virtual void discard() noexcept = 0;  // destroys the callable (idempotent)

private:
  std::atomic<std::uint32_t> refs_{2};  // the loop's and the first Handle's
  std::atomic<bool> cancelled_{false};
  // Loop thread only: the callable is running, so a cancel from inside it
  // only flags the handle; on_ready destroys the callable once it returns.
  bool running_ = false;
};

template <class F>
class HandleFn final : public HandleState {
public:
  template <class G>
  explicit HandleFn(G&& g) : fn_(std::in_place, std::forward<G>(g)) {}

private:
  void invoke() override { static_cast<void>(std::invoke(std::move(*fn_))); }  // runs once
  void discard() noexcept override { fn_.reset(); }
  std::optional<F> fn_;
};

// f(args...) as one callable: Python's call_soon(callback, *args). Like
// std::thread, the copies are passed as rvalues: the call happens once.
template <class F, class... A>
HandleState* make_handle(F&& f, A&&... args) {
  if constexpr (sizeof...(A) == 0) {
    return new HandleFn<std::decay_t<F>>(std::forward<F>(f));
  } else {
    auto bound = [f = std::forward<F>(f), ... a = std::forward<A>(args)]() mutable {
      static_cast<void>(std::invoke(std::move(f), std::move(a)...));
    };
    return new HandleFn<decltype(bound)>(std::move(bound));
  }
}

}  // namespace detail

// asyncio.Handle: what call_soon returns. A cheap copyable reference;
// cancel() means the callback never runs (a no-op once it has run, though
// cancelled() then reports true, as in asyncio). Thread-safe: cancel() may be
// called from any thread; off the loop's thread it only flags the handle.
class ASYNCUV_API Handle {
public:
  Handle() noexcept = default;
  Handle(const Handle& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  Handle(Handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Handle& operator=(Handle o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Handle() {
    if (s_) s_->release();
  }

  bool valid() const noexcept { return s_ != nullptr; }
  void cancel() { state().cancel(); }
  bool cancelled() const { return state().cancelled(); }

protected:
  explicit Handle(detail::HandleState* s) noexcept : s_(s) {}  // adopts a reference
  detail::HandleState& state() const;

  detail::HandleState* s_ = nullptr;
  friend class EventLoop;
};

// asyncio.TimerHandle: what call_later / call_at return. when() is the
// absolute time in loop.time() seconds; the callback never runs before
// loop.time() reaches it.
class ASYNCUV_API TimerHandle : public Handle {
public:
  TimerHandle() noexcept = default;
  double when() const { return state().when; }

private:
  using Handle::Handle;
  friend class EventLoop;
};

}  // namespace asyncuv
