// asyncuv/exceptions.hpp — the error types of asyncio (asyncio.exceptions)
// and the built-in ones it raises (OSError and its family, ExceptionGroup).
//
// CancelledError deliberately derives from no standard exception: Python's
// derives from BaseException so that `except Exception` cannot swallow a
// cancellation, and `catch (const std::exception&)` must not swallow ours.
//
// Python's other built-in errors map onto the standard ones, and these
// aliases give them their Python names:
//   ValueError -> std::invalid_argument    IndexError -> std::out_of_range
//   TypeError  -> std::invalid_argument    OverflowError -> std::overflow_error
//   MemoryError -> std::bad_alloc          RuntimeError -> asyncuv::RuntimeError
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <cstddef>
#include <exception>
#include <optional>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace asyncuv {

using ValueError = std::invalid_argument;
using TypeError = std::invalid_argument;
using IndexError = std::out_of_range;
using OverflowError = std::overflow_error;

class CancelledError {
public:
  CancelledError() = default;
  explicit CancelledError(std::string msg) : msg_(std::move(msg)) {}
  virtual ~CancelledError() = default;
  virtual const char* what() const noexcept { return msg_.empty() ? "CancelledError" : msg_.c_str(); }

private:
  std::string msg_;
};

// Python's KeyboardInterrupt: what run() raises after Ctrl-C cancelled the
// main task. Like CancelledError it derives from no standard exception, so
// `catch (const std::exception&)` does not swallow it (Python's derives from
// BaseException).
class KeyboardInterrupt {
public:
  KeyboardInterrupt() = default;
  virtual ~KeyboardInterrupt() = default;
  virtual const char* what() const noexcept { return "KeyboardInterrupt"; }
};

class RuntimeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class ASYNCUV_API InvalidStateError : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

// ---- OSError and its family ----
//
// Python's OSError(errno, strerror[, filename]). what() is str(e):
// "[Errno 2] No such file or directory: 'prog'". code() is the errno in
// std::generic_category() (or the EAI_* code in gai_category() for gaierror),
// so `catch (const std::system_error&)` sees it too.
class OSError : public std::system_error {
public:
  OSError(int errno_value, std::string strerror, std::string filename = {});
  // An OSError without errno, as Python's OSError("message").
  explicit OSError(std::string message);

  int errno_value() const noexcept { return errno_; }  // Python's e.errno (0: None)
  const std::string& strerror() const noexcept { return strerror_; }
  const std::string& filename() const noexcept { return filename_; }
  const char* what() const noexcept override { return what_.c_str(); }

protected:
  OSError(std::error_code code, std::string strerror, std::string filename);

private:
  int errno_ = 0;
  std::string strerror_;
  std::string filename_;
  std::string what_;
};

#define ASYNCUV_OSERROR_SUBCLASS(Name, Base) \
  class Name : public Base {                 \
  public:                                    \
    using Base::Base;                        \
  }

ASYNCUV_OSERROR_SUBCLASS(BlockingIOError, OSError);
ASYNCUV_OSERROR_SUBCLASS(ChildProcessError, OSError);
ASYNCUV_OSERROR_SUBCLASS(ConnectionError, OSError);
ASYNCUV_OSERROR_SUBCLASS(BrokenPipeError, ConnectionError);
ASYNCUV_OSERROR_SUBCLASS(ConnectionAbortedError, ConnectionError);
ASYNCUV_OSERROR_SUBCLASS(ConnectionRefusedError, ConnectionError);
ASYNCUV_OSERROR_SUBCLASS(ConnectionResetError, ConnectionError);
ASYNCUV_OSERROR_SUBCLASS(FileExistsError, OSError);
ASYNCUV_OSERROR_SUBCLASS(FileNotFoundError, OSError);
ASYNCUV_OSERROR_SUBCLASS(InterruptedError, OSError);
ASYNCUV_OSERROR_SUBCLASS(IsADirectoryError, OSError);
ASYNCUV_OSERROR_SUBCLASS(NotADirectoryError, OSError);
ASYNCUV_OSERROR_SUBCLASS(PermissionError, OSError);
ASYNCUV_OSERROR_SUBCLASS(ProcessLookupError, OSError);
#undef ASYNCUV_OSERROR_SUBCLASS

// Python 3.11's TimeoutError (asyncio.TimeoutError is builtins.TimeoutError):
// an OSError, so `catch (const OSError&)` catches it as `except OSError`
// does. Raised by asyncio's timeouts without errno (what() "TimeoutError");
// from a system call with ETIMEDOUT.
class TimeoutError : public OSError {
public:
  TimeoutError() : OSError("TimeoutError") {}
  explicit TimeoutError(std::string message) : OSError(std::move(message)) {}
  using OSError::OSError;
};

// socket.gaierror: a name resolution failure. errno_value() is the EAI_*
// code (negative on glibc) and strerror() gai_strerror's text:
// "[Errno -2] Name or service not known".
class gaierror : public OSError {
public:
  gaierror(int eai_code, std::string strerror);
};

// The category of gaierror's codes.
const std::error_category& gai_category() noexcept;

// The OSError subclass Python raises for a libuv status (a negative UV_E*
// value): errno, C's strerror text and, when given, the file name.
// uv_error(UV_ENOENT, "prog") is FileNotFoundError
// "[Errno 2] No such file or directory: 'prog'".
std::exception_ptr uv_error(int status, std::string filename = {});
[[noreturn]] void throw_uv_error(int status, std::string filename = {});
// The same subclass with asyncio's own text in place of strerror's:
// uv_error_text(UV_ECONNREFUSED, "Connect call failed ('127.0.0.1', 1)") is
// ConnectionRefusedError "[Errno 111] Connect call failed ('127.0.0.1', 1)".
std::exception_ptr uv_error_text(int status, std::string text);

// ---- streams (asyncio.exceptions) ----

// Python's EOFError.
class EOFError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// readexactly() met EOF first: partial() holds what was read.
// "3 bytes read on a total of 10 expected bytes" ("undefined" when unknown).
class IncompleteReadError : public EOFError {
public:
  IncompleteReadError(std::string partial, std::optional<std::size_t> expected);
  const std::string& partial() const noexcept { return partial_; }
  std::optional<std::size_t> expected() const noexcept { return expected_; }

private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};

// readuntil() found no separator within the buffer limit; consumed() is how
// many bytes are to be consumed.
class LimitOverrunError : public std::runtime_error {
public:
  LimitOverrunError(const std::string& message, std::size_t consumed)
      : std::runtime_error(message), consumed_(consumed) {}
  std::size_t consumed() const noexcept { return consumed_; }

private:
  std::size_t consumed_;
};

// ---- ExceptionGroup (Python 3.11) ----

// Several errors raised together (a TaskGroup's failing children).
class ExceptionGroup : public std::exception {
public:
  // Throws std::invalid_argument if `exceptions` is empty, as Python does.
  ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions);
  // "message (N sub-exceptions)", as str(eg) in Python.
  const char* what() const noexcept override { return what_.c_str(); }
  const std::string& message() const noexcept { return message_; }
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

private:
  std::string message_;
  std::string what_;
  std::vector<std::exception_ptr> exceptions_;
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
// Whether e is a CancelledError (of any kind): what a scope's exit asks of
// the error its body raised (Timeout, TaskGroup).
ASYNCUV_API bool is_cancelled_error(const std::exception_ptr& e) noexcept;
// Likewise one std::bad_alloc per thread, which a task that fails for lack
// of memory keeps instead of its own (see TaskCore::capture_exception).
const std::exception_ptr& out_of_memory_error() noexcept;

}  // namespace detail

}  // namespace asyncuv
