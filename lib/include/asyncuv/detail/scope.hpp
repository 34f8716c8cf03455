// asyncuv/detail/scope.hpp — the shape every `async with` takes here
// (Timeout::run, TaskGroup::run): a coroutine that runs a body between the
// scope's enter() and exit(error).
#pragma once

#include "config.hpp"  // first: a C++17 consumer gets one clear #error

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "../tasks.hpp"
#include "awaitable.hpp"

namespace asyncuv::detail {

// A scope's body: a Coro<T>, or a callable that takes the scope and returns one.
template <class Body, class Scope>
decltype(auto) make_body(Body& body, Scope& scope) {
  if constexpr (std::is_invocable_v<Body&, Scope&>) return body(scope);
  else return std::move(body);
}
template <class Body, class Scope>
using scope_result_t = awaited_t<decltype(make_body(std::declval<Body&>(), std::declval<Scope&>()))>;
template <class Body, class Scope>
concept ScopeBody = requires(Body& b, Scope& s) { typename scope_result_t<Body, Scope>; };

// enter(), the body, then exit(error) with whatever the body threw —
// awaited when exit() is asynchronous (TaskGroup waits for its children),
// called when not (Timeout).
template <class Scope, class Body>
auto run_scope(Scope& scope, Body body) -> Coro<scope_result_t<Body, Scope>> {
  using R = scope_result_t<Body, Scope>;
  constexpr bool async_exit = !std::is_void_v<decltype(scope.exit(std::exception_ptr{}))>;
  scope.enter();
  std::exception_ptr error;
  std::optional<gathered_t<R>> value;
  try {
    if constexpr (std::is_void_v<R>) {
      co_await make_body(body, scope);
      value.emplace();
    } else {
      value.emplace(co_await make_body(body, scope));
    }
  } catch (...) {
    error = std::current_exception();
  }
  if constexpr (async_exit) co_await scope.exit(std::move(error));
  else scope.exit(std::move(error));
  if constexpr (!std::is_void_v<R>) co_return std::move(*value);
}

}  // namespace asyncuv::detail
