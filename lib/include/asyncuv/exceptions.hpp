// asyncuv/exceptions.hpp — the error types of asyncio (asyncio.exceptions).
//
// CancelledError deliberately derives from no standard exception: Python's
// derives from BaseException so that `except Exception` cannot swallow a
// cancellation, and `catch (const std::exception&)` must not swallow ours.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <stdexcept>
#include <string>

namespace asyncuv {

class ASYNCUV_API CancelledError {
public:
  CancelledError() = default;
  explicit CancelledError(std::string msg) : msg_(std::move(msg)) {}
  virtual ~CancelledError() = default;
  virtual const char* what() const noexcept { return msg_.empty() ? "CancelledError" : msg_.c_str(); }

private:
  std::string msg_;
};

class ASYNCUV_API TimeoutError : public std::runtime_error {
public:
  TimeoutError() : std::runtime_error("TimeoutError") {}
  using std::runtime_error::runtime_error;
};

class ASYNCUV_API RuntimeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class ASYNCUV_API InvalidStateError : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

}  // namespace asyncuv
