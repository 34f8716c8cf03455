// asyncuv/detail/promise.hpp — the promise of every Coro<T>: its TaskCore,
// the frame pool's operator new, and the result slot.
#pragma once

#include "config.hpp"

#include <coroutine>
#include <memory>
#include <type_traits>
#include <utility>

#include "../allocator.hpp"
#include "task_core.hpp"

namespace asyncuv {
namespace detail {

template <class T>
struct PromiseBase : TaskCore {
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* p, std::size_t size) noexcept { deallocate_frame(p, size); }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { capture_exception(); }
  Coro<T> get_return_object() noexcept;
};

// What a Coro<T> may return: an object type (moved out to its one awaiter)
// or an lvalue reference (kept as a pointer; the referent must outlive the
// readers, as with any returned reference).
template <class T>
concept CoroResult = std::is_void_v<T> || std::is_lvalue_reference_v<T> ||
                     (std::is_object_v<T> && !std::is_array_v<T> && std::is_destructible_v<T> &&
                      std::is_move_constructible_v<T>);

template <class T>
struct Promise : PromiseBase<T> {
  static_assert(!std::is_rvalue_reference_v<T>, "Coro<T&&>/Task<T&&> is not supported: return T by value");
  static_assert(!std::is_array_v<T>, "Coro<T[N]>/Task<T[N]> is not supported: return a std::array");
  static_assert(CoroResult<T>,
                "Coro<T>/Task<T>: T must be void, an lvalue reference, or a destructible, "
                "move-constructible object type");
  using stored_type = std::conditional_t<std::is_reference_v<T>, std::remove_reference_t<T>*, T>;
  static_assert(alignof(stored_type) <= 2 * sizeof(void*), "Coro<T>: over-aligned T is not supported");
  union {
    stored_type value;  // constructed by co_return (a pointer for T&)
  };
  Promise() noexcept {}
  ~Promise() {
    if (this->has_value) value.~stored_type();
  }

  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    if constexpr (std::is_reference_v<T>) {
      T ref = std::forward<U>(v);
      std::construct_at(&value, std::addressof(ref));
    } else {
      std::construct_at(&value, std::forward<U>(v));
    }
    this->has_value = true;
  }
  template <class U>
    requires(std::is_reference_v<T> && !std::is_convertible_v<U &&, T>)
  void return_value(U&&) {
    static_assert(sizeof(U) == 0, "Coro<T&>: co_return an lvalue of T (it is returned by reference)");
  }
  // The value in place: T& for Coro<T&>, the stored object otherwise.
  std::add_lvalue_reference_t<T> stored() noexcept {
    if constexpr (std::is_reference_v<T>) return *value;
    else return value;
  }
  // A nested Coro's one awaiter takes the value.
  T take() {
    if (this->has_error) std::rethrow_exception(this->error);
    if constexpr (std::is_reference_v<T>) return *value;
    else return std::move(value);
  }
  // A task's value, moved out by its one owner (co_await std::move(task) of
  // a move-only T, gather over Coros): destroyed at once, and any later
  // reader gets InvalidStateError rather than a moved-from object.
  T move_out() {
    if (!this->has_value) throw InvalidStateError("the task's result was already moved out");
    if constexpr (std::is_reference_v<T>) {
      return *value;
    } else {
      T out = std::move(value);
      value.~T();
      this->has_value = false;
      return out;
    }
  }
  // A task's value for a reader who leaves it in place.
  std::add_lvalue_reference_t<T> peek() {
    if (!this->has_value) throw InvalidStateError("the task's result was already moved out");
    return stored();
  }
};

template <>
struct Promise<void> : PromiseBase<void> {
  void return_void() const noexcept {}
  void take() const {
    if (has_error) std::rethrow_exception(error);
  }
};

}  // namespace detail
}  // namespace asyncuv
