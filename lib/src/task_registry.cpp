// task_registry.cpp — the loop's tasks: registration, sweeps, reports of
// errors nobody retrieved, and the cancellation of all of them at shutdown.
#include "asyncuv/detail/task_registry.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "asyncuv/tasks.hpp"

namespace asyncuv::detail {

TaskRegistry& TaskRegistry::make(EventLoop& loop) {
  auto* r = new TaskRegistry(loop);
  LoopAccess::set_extension(loop, std::unique_ptr<LoopExtension>(r));
  return *r;
}

void TaskRegistry::add(TaskCore* t) noexcept {
  t->in_registry = true;
  t->next_task = tasks_;
  tasks_ = t;
  ++pending_;
}

void TaskRegistry::ask_loop() noexcept {
  if (draining_ && pending_ == 0) LoopAccess::stop_after_queued(loop_);
  if (sweep_due()) {
    sweep_asked_ = true;
    LoopAccess::want_after_pass(loop_);
  }
}

void TaskRegistry::report_soon(TaskCore* t) noexcept {
  try {
    to_report_.push_back(t);  // stays in the registry, hence alive, until reported
  } catch (...) {
    sweep_soon_ = true;  // out of memory: the sweep finds it, at a walk's cost
  }
  LoopAccess::want_after_pass(loop_);
}

void TaskRegistry::after_pass() noexcept {
  sweep_asked_ = false;
  if (!to_report_.empty()) report_unretrieved();
  if (sweep_due()) sweep();
}

// A task may be listed twice, or have a handle again: it checks for itself.
// The exception handler may list more (or drop a handle): batch by batch.
void TaskRegistry::report_unretrieved() noexcept {
  while (!to_report_.empty()) {
    std::vector<TaskCore*> batch;
    batch.swap(to_report_);
    for (TaskCore* t : batch) t->report_if_unretrieved();
  }
}

void TaskRegistry::sweep() noexcept {
  report_unretrieved();  // before the sweep lets go of them
  sweep_soon_ = false;
  ++sweeps_;
  TaskCore** link = &tasks_;
  while (TaskCore* t = *link) {
    ++sweep_visits_;
    if (!t->done()) {
      link = &t->next_task;
      continue;
    }
    *link = std::exchange(t->next_task, nullptr);  // unlink first: decref may destroy
    t->in_registry = false;
    --finished_;
    t->decref();
  }
}

void TaskRegistry::cancel_all() {
  // A task may catch CancelledError and wait again; cancel again then. A
  // task that still cannot finish once nothing is left to wait for is
  // abandoned: reported and dropped, so that the loop can close. Each round
  // runs until no task is pending (plus one pass, for the callbacks their
  // ends scheduled, as asyncio's gather-then-stop does): a pending
  // call_later or outstanding to_thread work does not hold it up.
  for (int round = 0; pending_ > 0 && round < 16; ++round) {
    TaskCore::cancel_each(tasks_);
    draining_ = true;
    LoopAccess::run_until_stopped(loop_);
    draining_ = false;
  }
  sweep();
  while (tasks_) {
    TaskCore* t = std::exchange(tasks_, tasks_->next_task);
    t->next_task = nullptr;
    t->in_registry = false;
    --pending_;
    loop_.call_exception_handler({"Task was destroyed but it is pending!", nullptr, t->name()});
    t->abandon();
  }
}

std::vector<TaskCore*> TaskRegistry::pending_tasks() const {
  std::vector<TaskCore*> tasks;
  for (TaskCore* t = tasks_; t; t = t->next_task) {
    if (!t->done()) tasks.push_back(t);
  }
  std::reverse(tasks.begin(), tasks.end());  // the list is newest first
  return tasks;
}

}  // namespace asyncuv::detail

namespace asyncuv {

AnyTask current_task() {
  get_running_loop();  // RuntimeError("no running event loop") outside one
  return AnyTask(detail::Running::now.task);
}

std::vector<AnyTask> all_tasks() {
  std::vector<AnyTask> tasks;
  if (detail::TaskRegistry* r = detail::TaskRegistry::find(get_running_loop())) {
    for (detail::TaskCore* t : r->pending_tasks()) tasks.emplace_back(t);
  }
  return tasks;
}

}  // namespace asyncuv
