// asyncuv/detail/loop_access.hpp — the library's door to the loop's
// internals.
//
// EventLoop's public section is asyncio's loop API only; what the library's
// own awaiters, tasks and handles need of it (queue a node, arm a timer,
// list an owned handle, keep per-loop state) is private, and reached here.
#pragma once

#include <memory>

#include "../events.hpp"

namespace asyncuv::detail {

struct LoopAccess {
  static void schedule(EventLoop& l, Callback* c) noexcept { l.schedule(c); }
  // A task is a node of its own kind: the loop hands it to run_nodes().
  static void schedule_task(EventLoop& l, ReadyNode* task) noexcept { l.push_ready(task, ReadyQueue::task_tag); }
  static void add_timer(EventLoop& l, TimerEntry* e) { l.add_timer(e); }
  static void remove_timer(EventLoop& l, TimerEntry* e) noexcept { l.remove_timer(e); }
  // Where owned handles (owned_handle.hpp) are listed while open.
  static HandleRegistry& handles(EventLoop& l) noexcept { return l.handles_; }
  static SignalHandlers& signal_handlers(EventLoop& l) { return l.signal_handlers(); }
  static void run_until_stopped(EventLoop& l) { l.run_until_stopped(); }
  static void keep_alive(EventLoop& l, bool on) noexcept { l.keep_alive(on); }
  static void stop_after_queued(EventLoop& l) noexcept { l.stop_after_queued(); }
  static LoopExtension* extension(EventLoop& l) noexcept { return l.extension_.get(); }
  static void set_extension(EventLoop& l, std::unique_ptr<LoopExtension> e) noexcept { l.extension_ = std::move(e); }
  static void want_after_pass(EventLoop& l) noexcept { l.after_pass_wanted_ = true; }
};

inline void schedule(EventLoop& l, Callback* c) noexcept { LoopAccess::schedule(l, c); }
inline void add_timer(EventLoop& l, TimerEntry* e) { LoopAccess::add_timer(l, e); }
inline void remove_timer(EventLoop& l, TimerEntry* e) noexcept { LoopAccess::remove_timer(l, e); }
inline HandleRegistry& handles_of(EventLoop& l) noexcept { return LoopAccess::handles(l); }

}  // namespace asyncuv::detail
