// What several test files share: doctest printing for the event logs the
// tests compare, and small coroutines the timeout/wait/group tests build on.
#pragma once

#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

// A test's record of what happened, in order.
using Log = std::vector<std::string>;

// Lets doctest print a Log when a comparison fails.
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string s = "{";
    for (const auto& x : v) s += (s.size() > 1 ? ", \"" : "\"") + x + "\"";
    return (s + "}").c_str();
  }
};
}  // namespace doctest

namespace support {

// Under AddressSanitizer or ThreadSanitizer (g++ or clang): tests with large
// sizes scale down there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized_build = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif
#else
inline constexpr bool sanitized_build = false;
#endif

using namespace asyncuv;

inline std::string show(int v) { return std::to_string(v); }
inline std::string show(const std::string& v) { return v; }
inline std::string show(const std::tuple<int, int>& v) { return show(std::get<0>(v)) + "," + show(std::get<1>(v)); }

// The running loop's time().
inline double now() { return get_running_loop().time(); }

// How an awaitable ended, as text: "value 3", "ok", "TimeoutError", ...
template <class T>
Coro<std::string> outcome(Coro<T> c) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(c);
      co_return "ok";
    } else {
      T v = co_await std::move(c);
      co_return "value " + show(v);
    }
  } catch (const TimeoutError&) {
    co_return "TimeoutError";
  } catch (const CancelledError&) {
    co_return "CancelledError";
  } catch (const std::exception& e) {
    co_return std::string("error ") + e.what();
  }
}

// A task's result as a Coro (for APIs that take one).
template <class T>
Coro<T> awaited(Task<T> t) {
  co_return co_await t;
}

// Awaits t and says whether it ended in CancelledError.
template <class T>
Coro<bool> ends_cancelled(Task<T> t) {
  try {
    co_await t;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

template <class T>
Coro<T> value_after(T v, std::chrono::milliseconds d) {
  co_await sleep(d);
  co_return v;
}

template <class D>
Coro<void> nap(D d) {
  co_await sleep(d);
}

// Polls (on the loop) until pred() holds or `limit` seconds passed: for what
// another thread does, whose timing the loop does not know.
template <class P>
Coro<bool> wait_until(P pred, double limit = 10.0) {
  const double end = get_running_loop().time() + limit;
  while (!pred()) {
    if (get_running_loop().time() > end) co_return false;
    co_await sleep(0.001);
  }
  co_return true;
}

// The lines a CPython reference script prints under /usr/bin/python3 (the
// oracle the differential tests compare with); empty if it failed.
inline std::vector<std::string> python_lines(const std::string& script) {
  std::vector<std::string> lines;
  FILE* pipe = ::popen(("/usr/bin/python3 '" + script + "'").c_str(), "r");
  if (!pipe) return lines;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe)) {
    std::string line = buf.data();
    if (!line.empty() && line.back() == '\n') line.pop_back();
    lines.push_back(line);
  }
  if (::pclose(pipe) != 0) lines.clear();
  return lines;
}

// What awaiting c raises as E (its what()), or "no error".
template <class E, class T>
asyncuv::Coro<std::string> error_of(asyncuv::Coro<T> c) {
  try {
    co_await std::move(c);
  } catch (const E& e) {
    co_return e.what();
  }
  co_return "no error";
}

inline bool have_python() { return ::access("/usr/bin/python3", X_OK) == 0; }

}  // namespace support
