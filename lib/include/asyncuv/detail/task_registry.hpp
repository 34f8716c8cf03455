// asyncuv/detail/task_registry.hpp — every task of a loop (asyncio keeps
// _all_tasks in tasks.py, and runners.py's _cancel_all_tasks walks it).
//
// The loop holds a reference on each task until a sweep finds it finished,
// so that a task nobody awaits still runs to its end. The registry is the
// task module's per-loop state: the loop owns it as its LoopExtension and
// knows nothing else about it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "loop_access.hpp"

namespace asyncuv::detail {

struct TaskCore;

class ASYNCUV_API TaskRegistry final : public LoopExtension {
public:
  // The loop's registry, made on first use.
  static TaskRegistry& of(EventLoop& loop) {
    if (TaskRegistry* r = find(loop)) [[likely]] return *r;
    return make(loop);
  }
  // The loop's registry, or null if it never had a task.
  static TaskRegistry* find(EventLoop& loop) noexcept {
    return static_cast<TaskRegistry*>(LoopAccess::extension(loop));
  }

  // A singly linked list (through TaskCore::next_task), swept in amortised
  // O(1) per task: 8 bytes a task instead of a doubly linked list's 16.
  void add(TaskCore* t) noexcept;
  void task_finished() noexcept {
    --pending_;
    ++finished_;
    if ((draining_ && pending_ == 0) || (sweep_due() && !sweep_asked_)) [[unlikely]] ask_loop();
  }
  // A finished task that only the loop still holds has an error nobody
  // retrieved: report it after this pass, promptly. Only such tasks are
  // looked at, not the whole registry (which may hold a million tasks).
  void report_soon(TaskCore* t) noexcept;
  // The tasks not done yet, in creation order (asyncio.all_tasks()).
  std::vector<TaskCore*> pending_tasks() const;
  std::size_t pending() const noexcept { return pending_; }
  // Sweeps so far and the tasks they walked over (for tests: a sweep is
  // amortised O(1) per finished task, never a walk per event).
  std::uint64_t sweep_count() const noexcept { return sweeps_; }
  std::uint64_t sweep_visits() const noexcept { return sweep_visits_; }

  // asyncio.run()'s epilogue (_cancel_all_tasks): cancel every pending task
  // and run the loop until they have ended; a task that will not end is
  // reported and dropped, so that the loop can close.
  void cancel_all();

  void after_pass() noexcept override;
  void on_close() noexcept override { cancel_all(); }

private:
  explicit TaskRegistry(EventLoop& loop) noexcept : loop_(loop) {}
  static TaskRegistry& make(EventLoop& loop);
  void ask_loop() noexcept;  // for a stop (draining) or a sweep
  void sweep() noexcept;  // drops finished tasks from the list
  void report_unretrieved() noexcept;
  bool sweep_due() const noexcept { return sweep_soon_ || (finished_ >= 256 && finished_ >= pending_); }

  EventLoop& loop_;
  TaskCore* tasks_ = nullptr;  // pending and finished tasks
  std::size_t pending_ = 0;
  std::size_t finished_ = 0;  // finished but still listed
  std::uint64_t sweeps_ = 0;
  std::uint64_t sweep_visits_ = 0;
  std::vector<TaskCore*> to_report_;  // see report_soon
  bool sweep_soon_ = false;           // report_soon ran out of memory: sweep instead
  bool draining_ = false;             // cancel_all: stop once no task is pending
  bool sweep_asked_ = false;          // after_pass() is on its way
};

}  // namespace asyncuv::detail
