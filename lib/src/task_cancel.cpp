// task_cancel.cpp — Task.cancel(): handing a cancel on through what a task
// awaits, at any depth, without recursing once per level.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "asyncuv/tasks.hpp"

namespace asyncuv::detail {

// Cancelling a task that awaits a task that awaits a task... hands the cancel
// on through each suspension's hook, which cancels what it waits for: done
// by plain recursion that is one native stack frame per level, and a chain
// of a million tasks overflows the stack. So a cancel() made while a walk
// runs on this thread (that is, from a hook) only answers — false when the
// task is done, true otherwise, exactly what the full cancel would return —
// and leaves the task on the walk's stack. The walk then visits the tasks in
// the order the recursion did (depth first; a hook's targets in the order it
// named them), and finishes each handing-on task after everything below it,
// so every effect (cancel counts, hooks, wake-ups) happens in the same order.
//
// Stack entries are tagged task pointers: a task to visit, or a task whose
// hook ran and which is left once its targets are done (`leave_tag`, with
// whether the hook handed the cancel on).
class CancelWalk {
public:
  // TaskCore::cancel() on a task that is not done.
  void cancel(TaskCore* t) noexcept {
    if (walking_ && push(entry(t))) return;  // a hook's cancel: visited in turn
    run(t);
  }
  // cancel_all_tasks: one cancel per task in the list (see cancel_each).
  void cancel_each(TaskCore* first) noexcept;

private:
  static constexpr std::uintptr_t leave_tag = 1, handed_tag = 2;
  static std::uintptr_t entry(TaskCore* t) noexcept { return reinterpret_cast<std::uintptr_t>(t); }
  static TaskCore* task_of(std::uintptr_t e) noexcept { return reinterpret_cast<TaskCore*>(e & ~(leave_tag | handed_tag)); }

  bool push(std::uintptr_t e) noexcept {
    try {
      stack_.push_back(e);
      return true;
    } catch (...) {  // out of memory: the caller works without the stack
      return false;
    }
  }
  void run(TaskCore* t) noexcept;
  void drain(std::size_t base) noexcept;
  void visit(TaskCore* t) noexcept;
  void hand_on(TaskCore* t, Suspension* s) noexcept;
  static void leave(TaskCore* t, bool handed_on) noexcept;

  std::vector<std::uintptr_t> stack_;
  bool walking_ = false;
  bool once_each_ = false;  // cancel_each: a task's targets are visited once
};

namespace {
thread_local CancelWalk cancel_walk;
}  // namespace

void CancelWalk::run(TaskCore* t) noexcept {
  const bool outermost = !walking_;
  walking_ = true;
  const std::size_t base = stack_.size();
  visit(t);
  drain(base);
  if (!outermost) return;
  walking_ = false;
  if (stack_.capacity() > 4096) std::vector<std::uintptr_t>().swap(stack_);  // a deep chain's stack goes
}

void CancelWalk::drain(std::size_t base) noexcept {
  while (stack_.size() > base) {
    const std::uintptr_t e = stack_.back();
    stack_.pop_back();
    if (e & leave_tag) leave(task_of(e), e & handed_tag);
    else visit(task_of(e));
  }
}

// What one cancel() does to one task, short of recursing.
void CancelWalk::visit(TaskCore* t) noexcept {
  if (t->done()) return;
  if (t->cancel_requests != UINT8_MAX) ++t->cancel_requests;
  Suspension* s = t->started ? t->suspended_on : nullptr;
  if (!s) {
    t->must_cancel = true;  // not started: never runs; running: lands at the next suspension
    return;
  }
  // A awaiting B awaiting A would hand the cancel on forever (asyncio hits
  // RecursionError): the second visit cancels A directly.
  if (!t->in_cancel) {
    if (once_each_ && t->cancel_seen) return;  // see cancel_each
    if (s->cancel) return hand_on(t, s);
  }
  t->must_cancel = true;
  t->wake();
}

// The hook's own cancel() calls land on the stack above t's leave entry, in
// the order they were made; reversed, the first comes off first.
void CancelWalk::hand_on(TaskCore* t, Suspension* s) noexcept {
  t->in_cancel = true;
  if (once_each_) t->cancel_seen = true;
  const std::size_t mark = stack_.size();
  if (!push(entry(t) | leave_tag)) {  // out of memory: this level recurses
    const bool handed_on = s->cancel(s);
    std::reverse(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    drain(mark);
    return leave(t, handed_on);
  }
  if (s->cancel(s)) stack_[mark] |= handed_tag;
  std::reverse(stack_.begin() + static_cast<std::ptrdiff_t>(mark) + 1, stack_.end());
}

void CancelWalk::leave(TaskCore* t, bool handed_on) noexcept {
  t->in_cancel = false;
  if (handed_on && !t->must_cancel) return;  // its outcome will arrive the normal way
  t->must_cancel = true;
  t->wake();
}

// asyncio's shutdown calls cancel() on every task, and each call walks down
// through everything the task awaits: over a chain of n tasks that is n^2/2
// visits. Here each task still gets its own cancel(), but a task already
// handed on in this round is only counted again, not walked through again:
// the hooks below it have run, and running them again changes nothing (its
// wake-ups are queued, its targets cancelled). The one difference is
// cancelling() of tasks nested three or more levels deep: asyncio counts a
// request from every task above, this counts the task's own request plus
// one per awaiter.
void CancelWalk::cancel_each(TaskCore* first) noexcept {
  once_each_ = true;
  for (TaskCore* t = first; t; t = t->next_task) {
    if (!t->done()) cancel(t);
  }
  once_each_ = false;
  for (TaskCore* t = first; t; t = t->next_task) t->cancel_seen = false;
}

bool TaskCore::cancel() noexcept {
  if (done()) return false;
  cancel_walk.cancel(this);
  return true;
}

void TaskCore::cancel_each(TaskCore* first) noexcept { cancel_walk.cancel_each(first); }

}  // namespace asyncuv::detail
