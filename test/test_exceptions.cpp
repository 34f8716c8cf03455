// The error types: Python's OSError family and its messages, the libuv
// status map, asyncio's stream errors and ExceptionGroup.
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include <uv.h>

#include <cerrno>
#include <string>
#include <system_error>

using namespace asyncuv;

namespace {

// What `catch` sees for a libuv status: the most derived name we test for.
template <class E>
bool raises_as(int status) {
  try {
    throw_uv_error(status);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string text_of(int status, std::string filename = {}) {
  try {
    throw_uv_error(status, std::move(filename));
  } catch (const OSError& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("OSError's text is Python's str(OSError)") {
  // python3 -c "print(OSError(2, 'No such file or directory', 'prog'))"
  CHECK(std::string(OSError(2, "No such file or directory", "prog").what()) ==
        "[Errno 2] No such file or directory: 'prog'");
  CHECK(std::string(OSError(111, "Connection refused").what()) == "[Errno 111] Connection refused");
  const OSError e(13, "Permission denied", "/root/x");
  CHECK(e.errno_value() == 13);
  CHECK(e.strerror() == "Permission denied");
  CHECK(e.filename() == "/root/x");
  CHECK(e.code() == std::errc::permission_denied);  // a std::system_error too
  CHECK(std::string(OSError("plain").what()) == "plain");
  CHECK(OSError("plain").errno_value() == 0);
}

TEST_CASE("a libuv status becomes the OSError subclass Python raises for its errno") {
  CHECK(raises_as<FileNotFoundError>(UV_ENOENT));
  CHECK(raises_as<ConnectionRefusedError>(UV_ECONNREFUSED));
  CHECK(raises_as<ConnectionResetError>(UV_ECONNRESET));
  CHECK(raises_as<ConnectionAbortedError>(UV_ECONNABORTED));
  CHECK(raises_as<BrokenPipeError>(UV_EPIPE));
  CHECK(raises_as<BrokenPipeError>(UV_ESHUTDOWN));
  CHECK(raises_as<ConnectionError>(UV_EPIPE));
  CHECK(raises_as<PermissionError>(UV_EACCES));
  CHECK(raises_as<PermissionError>(UV_EPERM));
  CHECK(raises_as<FileExistsError>(UV_EEXIST));
  CHECK(raises_as<IsADirectoryError>(UV_EISDIR));
  CHECK(raises_as<NotADirectoryError>(UV_ENOTDIR));
  CHECK(raises_as<InterruptedError>(UV_EINTR));
  CHECK(raises_as<BlockingIOError>(UV_EAGAIN));
  CHECK(raises_as<BlockingIOError>(UV_EALREADY));
  CHECK(raises_as<ProcessLookupError>(UV_ESRCH));
  CHECK(raises_as<TimeoutError>(UV_ETIMEDOUT));
  CHECK(raises_as<OSError>(UV_EADDRINUSE));
  CHECK_FALSE(raises_as<ConnectionError>(UV_EADDRINUSE));
  CHECK_FALSE(raises_as<FileNotFoundError>(UV_EACCES));
}

TEST_CASE("uv_error's messages and errno match CPython's") {
  // python3 -c "import errno,os; print(OSError(errno.ENOENT, os.strerror(errno.ENOENT), 'prog'))"
  CHECK(text_of(UV_ENOENT, "prog") == "[Errno 2] No such file or directory: 'prog'");
  CHECK(text_of(UV_ECONNREFUSED) == "[Errno 111] Connection refused");
  CHECK(text_of(UV_EADDRINUSE) == "[Errno 98] Address already in use");
  CHECK(text_of(UV_ETIMEDOUT) == "[Errno 110] Connection timed out");
  try {
    throw_uv_error(UV_ECONNRESET);
  } catch (const OSError& e) {
    CHECK(e.errno_value() == ECONNRESET);
    CHECK(e.code() == std::errc::connection_reset);
  }
  // A code of libuv's own keeps libuv's name and text.
  CHECK(text_of(UV_EOF) == "EOF: end of file");
}

TEST_CASE("a resolver failure is a gaierror with glibc's EAI code and text") {
  // python3 -c "import socket; socket.getaddrinfo('no-such-host.invalid', 80)" ->
  // socket.gaierror: [Errno -2] Name or service not known
  try {
    throw_uv_error(UV_EAI_NONAME);
    FAIL("no exception");
  } catch (const gaierror& e) {
    CHECK(std::string(e.what()) == "[Errno -2] Name or service not known");
    CHECK(e.errno_value() == -2);
    CHECK(e.code().category() == gai_category());
  }
  CHECK(raises_as<OSError>(UV_EAI_AGAIN));
}

TEST_CASE("TimeoutError is an OSError, as builtins.TimeoutError is in Python 3.11") {
  bool caught = false;
  try {
    throw TimeoutError();
  } catch (const OSError& e) {
    caught = true;
    CHECK(std::string(e.what()) == "TimeoutError");
    CHECK(e.errno_value() == 0);  // asyncio raises it without errno
  }
  CHECK(caught);
  CHECK(std::string(TimeoutError("late").what()) == "late");
}

TEST_CASE("a timeout scope's TimeoutError is caught as OSError") {
  using namespace std::chrono_literals;
  auto body = []() -> Coro<std::string> {
    try {
      co_await timeout(1ms, []() -> Coro<void> { co_await sleep(10s); }());
    } catch (const OSError& e) {
      co_return std::string("OSError: ") + e.what();
    }
    co_return "no error";
  };
  CHECK(run(body()) == "OSError: TimeoutError");
}

TEST_CASE("IncompleteReadError and LimitOverrunError carry asyncio's messages") {
  // python3 -c "import asyncio; print(asyncio.IncompleteReadError(b'abc', 10))"
  const IncompleteReadError e("abc", 10);
  CHECK(std::string(e.what()) == "3 bytes read on a total of 10 expected bytes");
  CHECK(e.partial() == "abc");
  CHECK(e.expected() == 10u);
  CHECK(std::string(IncompleteReadError("", std::nullopt).what()) == "0 bytes read on a total of undefined expected bytes");
  const EOFError& as_eof = e;  // asyncio's IncompleteReadError is an EOFError
  CHECK(std::string(as_eof.what()).find("bytes read") != std::string::npos);
  const LimitOverrunError l("Separator is not found, and chunk exceed the limit", 7);
  CHECK(l.consumed() == 7u);
  CHECK(std::string(l.what()) == "Separator is not found, and chunk exceed the limit");
}

TEST_CASE("ExceptionGroup lives with the other errors") {
  ExceptionGroup eg("boom", {std::make_exception_ptr(ValueError("x"))});
  CHECK(std::string(eg.what()) == "boom (1 sub-exception)");
  CHECK_THROWS_AS(ExceptionGroup("empty", {}), ValueError);
}
