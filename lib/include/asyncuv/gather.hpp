// asyncuv/gather.hpp — asyncio.gather().
//
// gather(a(), b()) runs its children concurrently and returns their results
// in argument order: a std::tuple for the variadic form, a std::vector for a
// range. Coros become tasks when the gather first runs (gather is itself a
// lazy Coro); Tasks are used as they are. As in asyncio the first failure
// propagates at once while the siblings keep running, and cancelling the
// gather cancels every child. gather(return_exceptions, ...) never throws for
// a child: each result is an Outcome<T>.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <array>
#include <cstddef>
#include <memory>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "outcome.hpp"
#include "tasks.hpp"

namespace asyncuv {

struct ASYNCUV_API return_exceptions_t {
  explicit constexpr return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

template <class A>
struct awaitable_traits;
template <class T>
struct awaitable_traits<Coro<T>> {
  using type = T;
};
template <class T>
struct awaitable_traits<Task<T>> {
  using type = T;
};
template <class A>
using awaited_t = typename awaitable_traits<std::remove_cvref_t<A>>::type;

template <class A>
concept CoroOrTask = requires { typename awaitable_traits<std::remove_cvref_t<A>>::type; };

// Python's list of None for void children.
template <class T>
using gathered_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// The one suspension of a gather: counts children down and wakes the
// awaiting task when all are done, or at the first failure. It is a single
// listener shared by every child, so a child costs no extra memory.
class ASYNCUV_API GatherWait : Suspension, Listener {
public:
  // children(i) for i < n; the tasks must outlive the wait.
  template <class TaskT>
  GatherWait(const TaskT* tasks, std::size_t n, bool return_exceptions)
      : tasks_(tasks), n_(n), child_(&child_at<TaskT>), return_exceptions_(return_exceptions) {}
  GatherWait(GatherWait&&) = delete;
  ~GatherWait();
  bool await_ready() const noexcept { return n_ == 0; }  // as asyncio: only gather() is done at once
  void await_suspend(std::coroutine_handle<> h);
  void await_resume();

private:
  template <class TaskT>
  static TaskCore* child_at(const void* tasks, std::size_t i) noexcept {
    const TaskT& t = static_cast<const TaskT*>(tasks)[i];
    if constexpr (std::is_pointer_v<TaskT>) return t;
    else return t.promise();
  }
  TaskCore* child(std::size_t i) const noexcept { return child_(tasks_, i); }
  static void on_child_done(Listener* l, TaskCore& child) noexcept;
  static bool on_cancel(Suspension* s) noexcept;
  void note_done(TaskCore& child) noexcept;

  const void* tasks_;
  std::size_t n_;
  TaskCore* (*child_)(const void*, std::size_t) noexcept;
  std::size_t pending_ = 0;
  std::exception_ptr error_;
  bool return_exceptions_;
  bool registered_ = false;
  bool signalled_ = false;  // the awaiter has been (or need not be) woken
  bool cancel_requested_ = false;
  DeferredWake wake_;  // asyncio's intermediate future, see tasks.hpp
};

template <class T>
gathered_t<T> value_of(const Task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    return {};
  } else {
    return t.promise()->value;
  }
}

template <class T>
Outcome<T> outcome_of(const Task<T>& t) {
  auto* p = t.promise();
  if (auto e = p->outcome_error()) return Outcome<T>(e);
  if constexpr (std::is_void_v<T>) {
    return Outcome<void>();
  } else {
    return Outcome<T>(p->value);
  }
}

template <class... T>
Coro<std::tuple<gathered_t<T>...>> gather_tasks(Task<T>... tasks) {
  const std::array<TaskCore*, sizeof...(T)> cores{tasks.promise()...};
  co_await GatherWait(cores.data(), cores.size(), false);
  co_return std::tuple<gathered_t<T>...>{value_of(tasks)...};
}

template <class... T>
Coro<std::tuple<Outcome<T>...>> gather_outcomes(Task<T>... tasks) {
  const std::array<TaskCore*, sizeof...(T)> cores{tasks.promise()...};
  co_await GatherWait(cores.data(), cores.size(), true);
  co_return std::tuple<Outcome<T>...>{outcome_of(tasks)...};
}

template <class T>
Coro<std::vector<gathered_t<T>>> gather_range(std::vector<Task<T>> tasks) {
  co_await GatherWait(tasks.data(), tasks.size(), false);
  std::vector<gathered_t<T>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) {
    out.push_back(value_of(t));
    t = Task<T>();  // let go of the frame while it is in cache
  }
  co_return out;
}

template <class T>
Coro<std::vector<Outcome<T>>> gather_range_outcomes(std::vector<Task<T>> tasks) {
  co_await GatherWait(tasks.data(), tasks.size(), true);
  std::vector<Outcome<T>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) {
    out.push_back(outcome_of(t));
    t = Task<T>();
  }
  co_return out;
}

// Children become tasks only when the gather starts, as asyncio's gather
// wraps its coroutines when it is called (and our gather is called lazily).
template <class T>
Coro<std::vector<gathered_t<T>>> gather_coros(std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (auto& c : coros) tasks.push_back(create_task(std::move(c)));
  co_return co_await gather_range(std::move(tasks));
}

template <class T>
Coro<std::vector<Outcome<T>>> gather_coros_outcomes(std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (auto& c : coros) tasks.push_back(create_task(std::move(c)));
  co_return co_await gather_range_outcomes(std::move(tasks));
}

// A braced list evaluates left to right (a call's arguments in no set order;
// g++ often goes right to left): the children start in argument order, as
// asyncio's.
template <class... A>
Coro<std::tuple<gathered_t<awaited_t<A>>...>> gather_mixed(A... aws) {
  std::tuple<Task<awaited_t<A>>...> tasks{ensure_task(std::move(aws))...};
  co_return co_await std::apply([](auto&... t) { return gather_tasks(t...); }, tasks);
}

template <class... A>
Coro<std::tuple<Outcome<awaited_t<A>>...>> gather_mixed_outcomes(A... aws) {
  std::tuple<Task<awaited_t<A>>...> tasks{ensure_task(std::move(aws))...};
  co_return co_await std::apply([](auto&... t) { return gather_outcomes(t...); }, tasks);
}

template <class R>
concept TaskRange = std::ranges::input_range<R> &&
                    requires { typename std::ranges::range_value_t<R>::promise_type; } &&
                    std::is_same_v<std::ranges::range_value_t<R>,
                                   Task<typename std::ranges::range_value_t<R>::value_type>>;

template <TaskRange R>
auto copy_tasks(const R& range) {
  using TaskT = std::ranges::range_value_t<R>;
  std::vector<TaskT> tasks;
  for (const auto& t : range) tasks.push_back(t);
  return tasks;
}

}  // namespace detail

// auto [x, y] = co_await gather(a(), b());   (Coros and Tasks, mixed)
template <class... A>
  requires(detail::CoroOrTask<A> && ...)
auto gather(A&&... aws) {
  return detail::gather_mixed(std::remove_cvref_t<A>(std::forward<A>(aws))...);
}

// auto [x, y] = co_await gather(return_exceptions, a(), b());  (Outcomes)
template <class... A>
  requires(detail::CoroOrTask<A> && ...)
auto gather(return_exceptions_t, A&&... aws) {
  return detail::gather_mixed_outcomes(std::remove_cvref_t<A>(std::forward<A>(aws))...);
}

// std::vector<T> v = co_await gather(std::move(coros));
template <class T>
Coro<std::vector<detail::gathered_t<T>>> gather(std::vector<Coro<T>>&& coros) {
  return detail::gather_coros(std::move(coros));
}
template <class T>
Coro<std::vector<Outcome<T>>> gather(return_exceptions_t, std::vector<Coro<T>>&& coros) {
  return detail::gather_coros_outcomes(std::move(coros));
}

// std::vector<T> v = co_await gather(std::move(tasks));  (no copy)
template <class T>
Coro<std::vector<detail::gathered_t<T>>> gather(std::vector<Task<T>>&& tasks) {
  return detail::gather_range(std::move(tasks));
}
template <class T>
Coro<std::vector<Outcome<T>>> gather(return_exceptions_t, std::vector<Task<T>>&& tasks) {
  return detail::gather_range_outcomes(std::move(tasks));
}

// std::vector<T> v = co_await gather(tasks);  (any range of Task<T>, copied)
template <detail::TaskRange R>
auto gather(const R& tasks) {
  return detail::gather_range(detail::copy_tasks(tasks));
}
template <detail::TaskRange R>
auto gather(return_exceptions_t, const R& tasks) {
  return detail::gather_range_outcomes(detail::copy_tasks(tasks));
}

}  // namespace asyncuv
