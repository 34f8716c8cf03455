// What the interleaving suites share: the small tasks whose prints show on
// which loop pass each step runs.
#pragma once

#include "test_support.hpp"

#include <stdexcept>
#include <string>

namespace interleaving_support {

using namespace asyncuv;

inline Coro<int> child(Log* log) {
  log->push_back("child");
  co_return 1;
}

inline Coro<void> ticker(Log* log, int n) {
  for (int i = 0; i < n; ++i) {
    log->push_back(std::to_string(i));
    co_await sleep(0);
  }
}

inline Coro<int> bad(Log* log) {
  log->push_back("bad");
  throw std::runtime_error("bad");
  co_return 0;
}

// Logs its cancellation, and then lets a gated ticker start.
inline Coro<int> slow(Log* log, bool* go = nullptr) {
  log->push_back("slow");
  try {
    co_await sleep(10);
  } catch (const CancelledError&) {
    log->push_back("slow cancelled");
    if (go) *go = true;
    throw;
  }
  co_return 0;
}

// Python's
//   t = create_task(ticker(10))
//   async def waiter():
//       try: await <what>
//       except CancelledError: log.append('C'); raise
//   w = create_task(waiter()); await sleep(0); await sleep(0)
//   w.cancel(); log.append('cancel'); (await w: CancelledError); await t
// with what(log) as <what>.
inline Coro<void> cancel_waiter_two_passes_in(Log* log, Coro<void> (*what)(Log*)) {
  auto t = create_task(ticker(log, 10));
  auto w = create_task([](Log* log, Coro<void> (*what)(Log*)) -> Coro<void> {
    try {
      co_await what(log);
    } catch (const CancelledError&) {
      log->push_back("C");
      throw;
    }
  }(log, what));
  co_await sleep(0);
  co_await sleep(0);
  w.cancel();
  log->push_back("cancel");
  try {
    co_await w;
  } catch (const CancelledError&) {
  }
  co_await t;
}

}  // namespace interleaving_support
