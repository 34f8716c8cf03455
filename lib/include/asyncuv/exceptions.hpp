// asyncuv/exceptions.hpp — the error types of asyncio (asyncio.exceptions).
//
// CancelledError deliberately derives from no standard exception: Python's
// derives from BaseException so that `except Exception` cannot swallow a
// cancellation, and `catch (const std::exception&)` must not swallow ours.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace asyncuv {

class CancelledError {
public:
  CancelledError() = default;
  explicit CancelledError(std::string msg) : msg_(std::move(msg)) {}
  virtual ~CancelledError() = default;
  virtual const char* what() const noexcept { return msg_.empty() ? "CancelledError" : msg_.c_str(); }

private:
  std::string msg_;
};

class TimeoutError : public std::runtime_error {
public:
  TimeoutError() : std::runtime_error("TimeoutError") {}
  using std::runtime_error::runtime_error;
};

class RuntimeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class InvalidStateError : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

namespace detail {

// The CancelledError the library raises: one object per thread, made before
// it is needed (the first loop of a thread makes it) and shared by every
// cancelled task, instead of one allocated per task. A storm of cancels then
// costs no memory per task (each stored error is a reference), which is what
// lets run() shut a million tasks down cleanly when memory has run out; the
// runtime's emergency pool covers the small record each rethrow needs while
// it propagates.
const std::exception_ptr& cancelled_error() noexcept;
[[noreturn]] void throw_cancelled();
// Likewise one std::bad_alloc per thread, which a task that fails for lack
// of memory keeps instead of its own (see TaskCore::capture_exception).
const std::exception_ptr& out_of_memory_error() noexcept;

}  // namespace detail

}  // namespace asyncuv
