// asyncuv/detail/awaitable.hpp — what an API that takes "an awaitable" (a
// Coro or a Task) needs to know about it: the type it gives.
#pragma once

#include "config.hpp"  // first: a C++17 consumer gets one clear #error

#include <type_traits>
#include <variant>

#include "../tasks.hpp"

namespace asyncuv::detail {

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
// The T of a Coro<T> or a Task<T> (any cv-ref qualification).
template <class A>
using awaited_t = typename awaitable_traits<std::remove_cvref_t<A>>::type;

template <class A>
concept CoroOrTask = requires { typename awaitable_traits<std::remove_cvref_t<A>>::type; };

// A result that can be stored: Python's None (std::monostate) for void.
template <class T>
using gathered_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

}  // namespace asyncuv::detail
