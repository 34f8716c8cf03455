// asyncuv/detail/task_awaiters.hpp — the task module's pieces that the
// public headers' templates need: the running task, awaiting a task, the
// deferred wake-up hop, and done callbacks run through the loop.
#pragma once

#include "config.hpp"

#include <coroutine>
#include <functional>

#include "intrusive_list.hpp"
#include "task_core.hpp"

namespace asyncuv {
namespace detail {

// The task that is running now (asyncio.current_task()); throws when none.
inline TaskCore& running_task() {
  if (!Running::now.task) [[unlikely]] throw RuntimeError("no running task");
  return *Running::now.task;
}

// Wakes the awaiting task when the awaited task finishes; cancelling the
// awaiter cancels the awaited task (asyncio's behaviour, shield() aside).
class ASYNCUV_API TaskAwaitBase : protected Suspension, protected Listener {
protected:
  explicit TaskAwaitBase(TaskCore* target) noexcept : target_(target) {}
  TaskAwaitBase(TaskAwaitBase&&) = delete;  // registered by address
  ~TaskAwaitBase() {
    if (registered_) target_->remove_listener(this);
  }
  bool ready() const noexcept { return target_->done(); }
  void suspend(std::coroutine_handle<> h);
  void resumed();  // unregisters, delivers a cancel, marks retrieved

  TaskCore* target_;

private:
  static void on_target_done(Listener* l, TaskCore&, Fate fate) noexcept;
  static bool on_cancel(Suspension* s) noexcept;
  bool registered_ = false;
  bool suspended_ = false;  // only a real suspension is a cancellation point
};

// asyncio completes gather(), wait() and friends through an intermediate
// future: a child's end schedules a callback (next pass), which completes the
// future, which schedules the awaiting task (the pass after). DeferredWake is
// that hop, so that programs interleave exactly as their Python originals.
// While it is queued its owner must stay alive: the owner's cancel hook then
// hands the cancel on (returns true) and raises CancelledError itself.
struct ASYNCUV_API DeferredWake : Callback {
  DeferredWake() noexcept : Callback(&DeferredWake::run_it) {}
  void fire(TaskCore* t) noexcept {
    task = t;
    if (queued) return;
    queued = true;
    schedule(*EventLoop::current(), static_cast<Callback*>(this));
  }
  static void run_it(Callback* c, Fate fate) noexcept {
    auto* d = static_cast<DeferredWake*>(c);
    d->queued = false;
    if (fate == Fate::run) d->task->wake();
  }
  // For the owner's cancel hook: while the wake-up is on its way, the cancel
  // is absorbed (the hook returns true) and raised by rethrow_cancel().
  bool absorb_cancel() noexcept {
    if (!queued) return false;
    cancelled = true;
    return true;
  }
  void rethrow_cancel() const {
    if (cancelled) detail::throw_cancelled();
  }
  TaskCore* task = nullptr;
  bool queued = false;
  bool cancelled = false;
};

// A task's done callbacks run through the loop in asyncio: the pass after
// the task ends (or, added to a task already done, the next pass). Where
// bookkeeping happens in such a callback (as_completed's _on_completion,
// TaskGroup's _on_task_done), posting it here makes it happen on the same
// pass, so that its waiters wake when asyncio's do. Posts run in order, each
// once; a queued post holds a reference on its task and does nothing once
// its owner is gone (the owner may go while they are queued). A post is one
// small node from the frame pool, not a std::function: a group of a million
// children posts a million times.
class ASYNCUV_API DoneCallbacks {
public:
  using Fn = void (*)(DoneCallbacks*, TaskCore&) noexcept;
  explicit DoneCallbacks(Fn fn) noexcept : fn_(fn) {}
  DoneCallbacks(DoneCallbacks&&) = delete;
  ~DoneCallbacks();
  void post(TaskCore& t) noexcept;  // fn(t) on the next pass
  void flush() noexcept;            // every queued fn(t) now, in order

  static void run_post(Callback* c, Fate fate) noexcept;  // Callback::on_turn

private:
  struct Post;
  void unlink(Post* p) noexcept;
  Fn fn_;
  IntrusiveList<Post> posts_;  // queued, oldest first
};

struct ASYNCUV_API DoneCallbackListener : Listener {
  std::function<void(TaskCore&)> fn;
  explicit DoneCallbackListener(std::function<void(TaskCore&)> f);
  static void fire(Listener* l, TaskCore&, Fate fate) noexcept;
};

}  // namespace detail

}  // namespace asyncuv
