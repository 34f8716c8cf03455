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

#include "detail/awaitable.hpp"
#include "outcome.hpp"
#include "tasks.hpp"

namespace asyncuv {

struct ASYNCUV_API return_exceptions_t {
  explicit constexpr return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

// A vector cannot hold references: gather over a range of T& children gives
// std::reference_wrapper<T>s.
template <class T>
using element_t = std::conditional_t<std::is_reference_v<T>, std::reference_wrapper<std::remove_reference_t<T>>,
                                     gathered_t<T>>;

// What gather yields per child, in a tuple (Result) or a vector (Element):
// the value, or with return_exceptions (Outcomes) an Outcome<T>.
template <bool Outcomes, class T>
using result_t = std::conditional_t<Outcomes, Outcome<T>, gathered_t<T>>;
template <bool Outcomes, class T>
using slot_t = std::conditional_t<Outcomes, Outcome<T>, element_t<T>>;

// Whether gather may leave a child's result in place for others and copy it.
template <class T>
inline constexpr bool copyable_result_v = std::is_void_v<T> || std::is_reference_v<T> || std::is_copy_constructible_v<T>;

// Whether gather always takes a child's value out of it (Take). It does
// from a child it created from a Coro (no one else can see that task) and,
// for a move-only T, from a Task passed as an rvalue. Otherwise it takes the
// value when its handle turned out to be the task's last one, and copies it
// when someone else may still read it.
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

  // Whether the caller holds the only handle on the finished task t (the
  // loop's own reference, kept until its next sweep, aside): then no one
  // else can read the result, and gather may move it out.
  static bool only_handle(const TaskCore& t) noexcept;

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

// One child's result, the task being done (and, unless Outcomes, a success).
template <bool Outcomes, bool Take, class T>
result_t<Outcomes, T> result_of(const Task<T>& t) {
  static_assert(Take || copyable_result_v<T>,
                "gather copies the result of a Task it was given as an lvalue, and this T cannot be "
                "copied: pass the task (or the vector of tasks) with std::move to hand its result over");
  using R = result_t<Outcomes, T>;
  auto* p = detail::TaskAccess::promise(t);
  if constexpr (Outcomes) {
    if (auto e = p->outcome_error()) return R(e);
  }
  if constexpr (std::is_void_v<T>) return R();
  else if constexpr (Take) return R(p->move_out());
  else if constexpr (std::is_reference_v<T> || std::is_trivially_copyable_v<T>) return R(p->peek());  // a copy is a move
  else return GatherWait::only_handle(*p) ? R(p->move_out()) : R(p->peek());
}

template <bool... B>
constexpr std::array<bool, sizeof...(B)> as_array(std::integer_sequence<bool, B...>) {
  return {B...};
}

// gather(a(), b()): Takes is a std::integer_sequence<bool, ...> of
// result_of's Take per child. A braced list evaluates left to right (a
// call's arguments in no set order; g++ often goes right to left): the
// children start in argument order, as asyncio's. Coros become tasks only
// when the gather starts, as asyncio's gather wraps its coroutines when it is
// called (and our gather is called lazily).
template <bool Outcomes, class Takes, class... A>
Coro<std::tuple<result_t<Outcomes, awaited_t<A>>...>> gather_tuple(A... aws) {
  std::tuple<Task<awaited_t<A>>...> tasks{ensure_task(std::move(aws))...};
  const auto cores = std::apply(
      [](const auto&... t) { return std::array<TaskCore*, sizeof...(A)>{detail::TaskAccess::promise(t)...}; }, tasks);
  co_await GatherWait(cores.data(), cores.size(), Outcomes);
  co_return[&]<std::size_t... I>(std::index_sequence<I...>) {
    [[maybe_unused]] constexpr auto take = as_array(Takes{});  // unused for gather()
    return std::tuple<result_t<Outcomes, awaited_t<A>>...>{result_of<Outcomes, take[I]>(std::get<I>(tasks))...};
  }(std::index_sequence_for<A...>{});
}

template <class T>
std::vector<Task<T>> as_tasks(std::vector<Task<T>>&& tasks) {
  return std::move(tasks);
}
template <class T>
std::vector<Task<T>> as_tasks(std::vector<Coro<T>>&& coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (auto& c : coros) tasks.push_back(create_task(std::move(c)));
  return tasks;
}

// gather(std::move(children)): a vector of Coros or of Tasks.
template <bool Outcomes, bool Take, class C>
Coro<std::vector<slot_t<Outcomes, awaited_t<C>>>> gather_range(std::vector<C> children) {
  std::vector<Task<awaited_t<C>>> tasks = as_tasks(std::move(children));
  co_await GatherWait(tasks.data(), tasks.size(), Outcomes);
  std::vector<slot_t<Outcomes, awaited_t<C>>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) {
    out.push_back(result_of<Outcomes, Take>(t));
    t = Task<awaited_t<C>>();  // let go of the frame while it is in cache
  }
  co_return out;
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

// Every form of gather, as its arguments come.
template <bool Outcomes, class... A>
  requires(CoroOrTask<A> && ...)
auto gather_of(A&&... aws) {
  using Takes = std::integer_sequence<bool, hands_over_v<A>...>;
  return gather_tuple<Outcomes, Takes>(std::remove_cvref_t<A>(std::forward<A>(aws))...);
}
template <bool Outcomes, class T>
auto gather_of(std::vector<Coro<T>>&& coros) {
  return gather_range<Outcomes, true>(std::move(coros));
}
template <bool Outcomes, class T>
auto gather_of(std::vector<Task<T>>&& tasks) {
  return gather_range<Outcomes, !copyable_result_v<T>>(std::move(tasks));
}
template <bool Outcomes, TaskRange R>
auto gather_of(const R& tasks) {
  return gather_range<Outcomes, false>(copy_tasks(tasks));
}

template <bool Outcomes, class... A>
concept Gatherable = requires(A&&... a) { gather_of<Outcomes>(std::forward<A>(a)...); };

}  // namespace detail

// auto [x, y] = co_await gather(a(), b());        Coros and Tasks, mixed: a std::tuple
// std::vector<T> v = co_await gather(std::move(coros));
// std::vector<T> v = co_await gather(std::move(tasks));   (handed over, not copied)
// std::vector<T> v = co_await gather(tasks);       any range of Task<T> (copied handles)
// A move-only result is moved out of each task (see Task's co_await); a
// copyable one is moved out of a task whose last handle was gather's.
template <class... A>
  requires detail::Gatherable<false, A...>
auto gather(A&&... aws) {
  return detail::gather_of<false>(std::forward<A>(aws)...);
}

// auto [x, y] = co_await gather(return_exceptions, a(), b());   the same
// forms, each result an Outcome<T>.
template <class... A>
  requires detail::Gatherable<true, A...>
auto gather(return_exceptions_t, A&&... aws) {
  return detail::gather_of<true>(std::forward<A>(aws)...);
}

}  // namespace asyncuv
