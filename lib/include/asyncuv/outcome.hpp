// asyncuv/outcome.hpp — Outcome<T>: a value or the exception that replaced it.
//
// What gather(return_exceptions, ...) yields per child: Python puts the
// exception object in the result list; C++ needs a sum type for that.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

namespace asyncuv {

// Outcome<T&> keeps a pointer; a move-only T can be moved out of an rvalue
// Outcome (std::move(o).value()).
template <class T>
class Outcome {
  static_assert(!std::is_rvalue_reference_v<T>, "Outcome<T&&> is not supported");
  using stored_type = std::conditional_t<std::is_reference_v<T>, std::remove_reference_t<T>*, T>;
  using const_reference = std::conditional_t<std::is_reference_v<T>, T, const T&>;

public:
  explicit Outcome(T value) : v_(std::in_place_index<0>, store(std::forward<T>(value))) {}
  explicit Outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  const_reference value() const& {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
    if constexpr (std::is_reference_v<T>) return *std::get<0>(v_);
    else return std::get<0>(v_);
  }
  T value() && {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
    if constexpr (std::is_reference_v<T>) return *std::get<0>(v_);
    else return std::move(std::get<0>(v_));
  }
  std::exception_ptr error() const noexcept { return has_value() ? nullptr : std::get<1>(v_); }

private:
  static stored_type store(T&& value) {
    if constexpr (std::is_reference_v<T>) return std::addressof(value);
    else return std::move(value);
  }
  std::variant<stored_type, std::exception_ptr> v_;
};

template <>
class Outcome<void> {
public:
  Outcome() = default;
  explicit Outcome(std::exception_ptr e) : e_(std::move(e)) {}
  bool has_value() const noexcept { return !e_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (e_) std::rethrow_exception(e_);
  }
  std::exception_ptr error() const noexcept { return e_; }

private:
  std::exception_ptr e_;
};

}  // namespace asyncuv
