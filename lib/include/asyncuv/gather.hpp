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
#include <functional>
#include <utility>
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
// A vector cannot hold references: gather over a range of T& children gives
// std::reference_wrapper<T>s.
template <class T>
using element_t = std::conditional_t<std::is_reference_v<T>, std::reference_wrapper<std::remove_reference_t<T>>,
                                     gathered_t<T>>;

// Whether gather may leave a child's result in place for others and copy it.
template <class T>
inline constexpr bool copyable_result_v = std::is_void_v<T> || std::is_reference_v<T> || std::is_copy_constructible_v<T>;

// Whether gather takes a child's value out of it (Take) or copies it. It
// takes it from a child it created from a Coro (no one else can see that
// task) and, for a move-only T, from a Task passed as an rvalue; a copyable
// value of a Task someone else holds is copied.
template <class A>
inline constexpr bool hands_over_v =
    std::is_same_v<std::remove_cvref_t<A>, Coro<awaited_t<A>>> ||
    (!std::is_lvalue_reference_v<A> && !copyable_result_v<awaited_t<A>>);

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
    else return detail::TaskAccess::promise(t);
  }
  TaskCore* child(std::size_t i) const noexcept { return child_(tasks_, i); }
  static void on_child_done(Listener* l, TaskCore& child, Fate fate) noexcept;
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

template <bool Take, class T>
gathered_t<T> value_of(const Task<T>& t) {
  static_assert(Take || copyable_result_v<T>,
                "gather copies the result of a Task it was given as an lvalue, and this T cannot be "
                "copied: pass the task (or the vector of tasks) with std::move to hand its result over");
  if constexpr (std::is_void_v<T>) return {};
  else if constexpr (Take) return detail::TaskAccess::promise(t)->move_out();
  else return detail::TaskAccess::promise(t)->peek();
}

template <bool Take, class T>
Outcome<T> outcome_of(const Task<T>& t) {
  static_assert(Take || copyable_result_v<T>,
                "gather copies the result of a Task it was given as an lvalue, and this T cannot be "
                "copied: pass the task (or the vector of tasks) with std::move to hand its result over");
  auto* p = detail::TaskAccess::promise(t);
  if (auto e = p->outcome_error()) return Outcome<T>(e);
  if constexpr (std::is_void_v<T>) return Outcome<void>();
  else if constexpr (Take) return Outcome<T>(p->move_out());
  else return Outcome<T>(p->peek());
}

// Takes: a std::integer_sequence<bool, ...> of value_of's Take per child.
template <class Takes, class... T>
Coro<std::tuple<gathered_t<T>...>> gather_tasks(Task<T>... tasks) {
  const std::array<TaskCore*, sizeof...(T)> cores{detail::TaskAccess::promise(tasks)...};
  co_await GatherWait(cores.data(), cores.size(), false);
  co_return[&]<bool... Take>(std::integer_sequence<bool, Take...>) {
    return std::tuple<gathered_t<T>...>{value_of<Take>(tasks)...};
  }(Takes{});
}

template <class Takes, class... T>
Coro<std::tuple<Outcome<T>...>> gather_outcomes(Task<T>... tasks) {
  const std::array<TaskCore*, sizeof...(T)> cores{detail::TaskAccess::promise(tasks)...};
  co_await GatherWait(cores.data(), cores.size(), true);
  co_return[&]<bool... Take>(std::integer_sequence<bool, Take...>) {
    return std::tuple<Outcome<T>...>{outcome_of<Take>(tasks)...};
  }(Takes{});
}

template <bool Take, class T>
Coro<std::vector<element_t<T>>> gather_range(std::vector<Task<T>> tasks) {
  co_await GatherWait(tasks.data(), tasks.size(), false);
  std::vector<element_t<T>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) {
    out.push_back(value_of<Take>(t));
    t = Task<T>();  // let go of the frame while it is in cache
  }
  co_return out;
}

template <bool Take, class T>
Coro<std::vector<Outcome<T>>> gather_range_outcomes(std::vector<Task<T>> tasks) {
  co_await GatherWait(tasks.data(), tasks.size(), true);
  std::vector<Outcome<T>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) {
    out.push_back(outcome_of<Take>(t));
    t = Task<T>();
  }
  co_return out;
}

// Children become tasks only when the gather starts, as asyncio's gather
// wraps its coroutines when it is called (and our gather is called lazily).
// No one else sees these tasks: their values are moved out, not copied.
template <class T>
Coro<std::vector<element_t<T>>> gather_coros(std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (auto& c : coros) tasks.push_back(create_task(std::move(c)));
  co_return co_await gather_range<true>(std::move(tasks));
}

template <class T>
Coro<std::vector<Outcome<T>>> gather_coros_outcomes(std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (auto& c : coros) tasks.push_back(create_task(std::move(c)));
  co_return co_await gather_range_outcomes<true>(std::move(tasks));
}

// A braced list evaluates left to right (a call's arguments in no set order;
// g++ often goes right to left): the children start in argument order, as
// asyncio's.
template <class Takes, class... A>
Coro<std::tuple<gathered_t<awaited_t<A>>...>> gather_mixed(A... aws) {
  std::tuple<Task<awaited_t<A>>...> tasks{ensure_task(std::move(aws))...};
  co_return co_await std::apply([](auto&... t) { return gather_tasks<Takes>(t...); }, tasks);
}

template <class Takes, class... A>
Coro<std::tuple<Outcome<awaited_t<A>>...>> gather_mixed_outcomes(A... aws) {
  std::tuple<Task<awaited_t<A>>...> tasks{ensure_task(std::move(aws))...};
  co_return co_await std::apply([](auto&... t) { return gather_outcomes<Takes>(t...); }, tasks);
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
  using Takes = std::integer_sequence<bool, detail::hands_over_v<A>...>;
  return detail::gather_mixed<Takes>(std::remove_cvref_t<A>(std::forward<A>(aws))...);
}

// auto [x, y] = co_await gather(return_exceptions, a(), b());  (Outcomes)
template <class... A>
  requires(detail::CoroOrTask<A> && ...)
auto gather(return_exceptions_t, A&&... aws) {
  using Takes = std::integer_sequence<bool, detail::hands_over_v<A>...>;
  return detail::gather_mixed_outcomes<Takes>(std::remove_cvref_t<A>(std::forward<A>(aws))...);
}

// std::vector<T> v = co_await gather(std::move(coros));
template <class T>
Coro<std::vector<detail::element_t<T>>> gather(std::vector<Coro<T>>&& coros) {
  return detail::gather_coros(std::move(coros));
}
template <class T>
Coro<std::vector<Outcome<T>>> gather(return_exceptions_t, std::vector<Coro<T>>&& coros) {
  return detail::gather_coros_outcomes(std::move(coros));
}

// std::vector<T> v = co_await gather(std::move(tasks));  (no copy)
// A move-only result is moved out of each task (see Task's co_await).
template <class T>
Coro<std::vector<detail::element_t<T>>> gather(std::vector<Task<T>>&& tasks) {
  return detail::gather_range<!detail::copyable_result_v<T>>(std::move(tasks));
}
template <class T>
Coro<std::vector<Outcome<T>>> gather(return_exceptions_t, std::vector<Task<T>>&& tasks) {
  return detail::gather_range_outcomes<!detail::copyable_result_v<T>>(std::move(tasks));
}

// std::vector<T> v = co_await gather(tasks);  (any range of Task<T>, copied)
template <detail::TaskRange R>
auto gather(const R& tasks) {
  return detail::gather_range<false>(detail::copy_tasks(tasks));
}
template <detail::TaskRange R>
auto gather(return_exceptions_t, const R& tasks) {
  return detail::gather_range_outcomes<false>(detail::copy_tasks(tasks));
}

}  // namespace asyncuv
