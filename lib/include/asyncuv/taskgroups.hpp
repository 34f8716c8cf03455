// asyncuv/taskgroups.hpp — asyncio.TaskGroup: structured concurrency.
//
//   async with asyncio.TaskGroup() as tg:     co_await asyncuv::task_group([&](TaskGroup& tg) -> Coro<void> {
//       t1 = tg.create_task(a())                  t1 = tg.create_task(a());
//       t2 = tg.create_task(b())                  t2 = tg.create_task(b());
//   print(t1.result(), t2.result())           });
//                                             std::cout << t1.result() << t2.result();
//
// `async with` cannot be a destructor (leaving the group awaits), so the
// group runs a body: a callable taking TaskGroup& and returning a Coro<R>
// (or a Coro<R> that already knows the group). The body runs inside the
// current task (the parent); the scope returns the body's value once every
// child has finished. Spelled with an object that outlives the scope:
//
//   TaskGroup tg;  co_await tg.run([&](TaskGroup& tg) -> Coro<void> {...});
//
// asyncio's rules: the first child that fails (CancelledError is not a
// failure) cancels every other child and the parent's body; once all are done
// the failures — children's in completion order, then the body's — are thrown
// together as an ExceptionGroup ("unhandled errors in a TaskGroup (2
// sub-exceptions)"). Cancelling the parent cancels the children and, once
// they are done, raises CancelledError (unless there were failures, which win).
// create_task() outside the scope or once it is winding down throws
// RuntimeError: "TaskGroup <TaskGroup> has not been entered",
// "TaskGroup <TaskGroup entered> is finished", "TaskGroup <TaskGroup tasks=1
// errors=1 cancelling> is shutting down". Like asyncio 3.13 (not 3.11, which
// leaked a cancel request when a child failed while the group was exiting),
// the group takes back its own cancel request after the children are done.
// As in asyncio, a child's end reaches the group through a done callback, a
// loop pass later (a failure cancels the others then, the last child wakes
// the parent then, for its next pass): programs interleave as in Python.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <cstddef>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/scope.hpp"
#include "tasks.hpp"

namespace asyncuv {

class TaskGroup : detail::Listener, detail::DoneCallbacks {
public:
  TaskGroup() noexcept;
  TaskGroup(const TaskGroup&) = delete;  // children point at it
  ~TaskGroup();

  // A child task of the group; see the top for when it throws RuntimeError.
  template <class T>
  Task<T> create_task(Coro<T>&& coro) {
    check_can_create();
    Task<T> t = asyncuv::create_task(std::move(coro));
    adopt(detail::TaskAccess::promise(t));
    return t;
  }
  template <class T>
  Task<T> create_task(Coro<T>&& coro, std::string name) {
    Task<T> t = create_task(std::move(coro));
    t.set_name(std::move(name));
    return t;
  }

  // async with self: body  (see the top). Once only.
  template <detail::ScopeBody<TaskGroup> Body>
  auto run(Body body) -> Coro<detail::scope_result_t<Body, TaskGroup>>;

  std::string repr() const;  // "<TaskGroup tasks=2 entered>", as Python's

  // The two halves of `async with`, for scopes built by hand.
  void enter();
  Coro<void> exit(std::exception_ptr error);

private:
  class ExitWait;
  void check_can_create() const;
  void adopt(detail::TaskCore* t);
  void abort() noexcept;
  void release_children() noexcept;
  static void on_child_done(Listener* l, detail::TaskCore& child, detail::Fate fate) noexcept;
  static void on_task_done(DoneCallbacks* d, detail::TaskCore& child) noexcept;  // a pass later

  detail::TaskCore* parent_ = nullptr;
  std::vector<detail::TaskCore*> children_;  // one reference each; finished ones are pruned
  std::size_t pending_ = 0;                  // children whose done callback has not run (Python's len(_tasks))
  std::size_t finished_ = 0;                 // finished children still in children_
  std::vector<std::exception_ptr> errors_;
  detail::Suspension* waiter_ = nullptr;  // the parent, waiting in exit()
  bool entered_ = false;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
};

template <detail::ScopeBody<TaskGroup> Body>
auto TaskGroup::run(Body body) -> Coro<detail::scope_result_t<Body, TaskGroup>> {
  return detail::run_scope(*this, std::move(body));
}

namespace detail {
template <class Body>
auto task_group_scope(Body body) -> Coro<scope_result_t<Body, TaskGroup>> {
  TaskGroup tg;
  co_return co_await tg.run(std::move(body));
}
}  // namespace detail

// co_await task_group([&](TaskGroup& tg) -> Coro<R> {...}): a fresh group.
template <detail::ScopeBody<TaskGroup> Body>
auto task_group(Body body) {
  return detail::task_group_scope(std::move(body));
}

}  // namespace asyncuv
