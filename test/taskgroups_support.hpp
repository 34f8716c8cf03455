// What the task group suites share: the exceptions the tests raise, a
// group's outcome as text, and children that crash or count their cancels.
#pragma once

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>

namespace taskgroups_support {

using namespace asyncuv;

struct ZeroDivisionError : std::runtime_error {
  ZeroDivisionError() : std::runtime_error("ZeroDivisionError") {}
};
struct MyExc : std::runtime_error {
  MyExc() : std::runtime_error("MyExc") {}
};

// An exception as text; an ExceptionGroup as the sorted set of its members'
// texts (CPython's get_error_types), e.g. "EG{MyExc,ZeroDivisionError}".
inline std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const ExceptionGroup& g) {
    std::set<std::string> kinds;
    for (const auto& x : g.exceptions()) kinds.insert(describe(x));
    std::string s = "EG{";
    for (const auto& k : kinds) s += (s.size() > 3 ? "," : "") + k;
    return s + "}";
  } catch (const TimeoutError&) {
    return "TimeoutError";
  } catch (const CancelledError&) {
    return "CancelledError";
  } catch (const std::exception& x) {
    return x.what();
  }
}

template <class T>
Coro<std::string> outcome(Coro<T> c) {
  try {
    co_await std::move(c);
    co_return "ok";
  } catch (...) {
    co_return describe(std::current_exception());
  }
}

inline Coro<void> crash_after(std::chrono::milliseconds d) {
  co_await sleep(d);
  throw ZeroDivisionError();
}

// Sleeps; counts a cancellation in *n and re-raises it.
inline Coro<void> count_cancel(int* n, std::chrono::milliseconds d) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
    ++*n;
    throw;
  }
}

// Sleeps; whatever ends the sleep, raises ZeroDivisionError ("finally: 1/0").
inline Coro<void> crash_in_finally(std::chrono::milliseconds d) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
  }
  throw ZeroDivisionError();
}

}  // namespace taskgroups_support
