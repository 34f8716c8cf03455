// asyncuv/outcome.hpp — Outcome<T>: a value or the exception that replaced it.
//
// What gather(return_exceptions, ...) yields per child: Python puts the
// exception object in the result list; C++ needs a sum type for that.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <exception>
#include <utility>
#include <variant>

namespace asyncuv {

template <class T>
class Outcome {
public:
  explicit Outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  explicit Outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  const T& value() const {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  std::exception_ptr error() const noexcept { return has_value() ? nullptr : std::get<1>(v_); }

private:
  std::variant<T, std::exception_ptr> v_;
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
