// asyncuv/coroutines.hpp — Coro<T>, the coroutine object (asyncio.coroutines).
//
// `Coro<int> f()` is Python's `async def f() -> int`: calling it creates a
// suspended frame and runs nothing; `co_await f()` runs it inside the awaiting
// task, or create_task() turns it into a task. Every frame carries a TaskCore
// (detail/task_core.hpp) in its promise (detail/promise.hpp), so that
// create_task needs no second allocation: the frame *is* the task.
//
// Deep await chains: awaiting a Coro does not resume the child from inside
// await_suspend (that nests native stack frames unless the compiler turns it
// into a tail call, which g++ only does at -O2 without sanitizers). Instead it
// leaves the child in Running::next_resume and returns to the task's driver
// loop, which resumes it. Finishing hands the parent back the same way.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <coroutine>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "detail/promise.hpp"
#include "exceptions.hpp"

namespace asyncuv {

template <class T = void>
class Coro;

template <class T>
class [[nodiscard]] Coro {
public:
  using promise_type = detail::Promise<T>;
  using value_type = T;
  using handle_type = std::coroutine_handle<promise_type>;

  Coro() noexcept = default;
  explicit Coro(handle_type h) noexcept : h_(h) {}
  Coro(Coro&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Coro& operator=(Coro&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Coro() { reset(); }

  // False once awaited, moved from, or turned into a task.
  bool valid() const noexcept { return static_cast<bool>(h_); }

  class Awaiter : detail::CoroAwaitLink {
  public:
    explicit Awaiter(handle_type h) noexcept : CoroAwaitLink{h} {}
    Awaiter(Awaiter&&) = delete;  // built in place; nothing to move
    ~Awaiter() {
      if (child) detail::FrameReaper::end_await(this);  // the awaited frame ends with its await
    }
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> parent) noexcept {
      promise_type& p = promise();
      p.continuation = parent;
      if constexpr (std::is_base_of_v<detail::TaskCore, P>) {
        // A task root keeps its registry link there; the reaper starts below it.
        if (!parent.promise().is_task) {
          parent.promise().awaiting = this;
          p.parent_links_down = true;
        }
      }
      detail::Running::now.next_resume = child;
    }
    T await_resume() { return promise().take(); }

  private:
    promise_type& promise() const noexcept { return handle_type::from_address(child.address()).promise(); }
  };

  // A coroutine object can be awaited once; Python raises RuntimeError on the
  // second await, we raise InvalidStateError instead of undefined behaviour.
  Awaiter operator co_await() && { return Awaiter(take_handle()); }
  Awaiter operator co_await() & { return Awaiter(take_handle()); }

  // Hands the frame over (create_task).
  handle_type release() { return take_handle(); }

private:
  handle_type take_handle() {
    if (!h_) throw InvalidStateError("cannot reuse already awaited coroutine");
    return std::exchange(h_, {});
  }
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }
  handle_type h_;
};

template <class T>
Coro<T> detail::PromiseBase<T>::get_return_object() noexcept {
  return Coro<T>(Coro<T>::handle_type::from_promise(static_cast<Promise<T>&>(*this)));
}

}  // namespace asyncuv
