// asyncuv/runners.hpp — asyncuv::run(), asyncio.run().
//
// run(main()) creates a loop, runs main() as a task until it finishes, then
// does asyncio.run()'s epilogue: lets already-scheduled callbacks have one
// more pass, cancels every task still pending and waits for them, closes the
// loop's handles. Returns main's value or rethrows its exception.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <type_traits>
#include <utility>

#include "tasks.hpp"

namespace asyncuv {
namespace detail {

// Drives one task to completion on `loop` and shuts the loop down.
ASYNCUV_API void run_main_task(EventLoop& loop, TaskCore& main);

// Uses up `count` "Task-N" numbers of the calling thread, as tasks that
// asyncio creates internally would (defined in tasks.cpp beside the counter).
void skip_task_ids(unsigned count) noexcept;

}  // namespace detail

template <class T>
T run(Coro<T> main) {
  EventLoop loop;  // throws when a loop already runs on this thread
  Task<T> task = create_task(std::move(main));
  detail::run_main_task(loop, *detail::TaskAccess::promise(task));
  auto* p = detail::TaskAccess::promise(task);
  p->check_result();
  if constexpr (!std::is_void_v<T>) return p->move_out();
}

}  // namespace asyncuv
