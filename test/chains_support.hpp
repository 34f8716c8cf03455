// What the chain tests share (test_cancel_chains.cpp through the public
// API, test_detail_registry.cpp through the task registry's counters): a
// chain of tasks each awaiting the next, a record of what its levels saw
// when the cancel arrived, and the sizes that fit the build.
#pragma once

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <cstddef>
#include <vector>

namespace chains {

using namespace asyncuv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Sanitizers and unoptimised builds are slower; depths that overflowed the
// stack through the old recursion in every build still do at these sizes.
constexpr bool slow_build = support::sanitized_build;

#ifdef __OPTIMIZE__
constexpr bool optimised = !slow_build;
#else
constexpr bool optimised = false;
#endif

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// What the tasks of a chain saw when their cancel arrived.
struct Seen {
  std::vector<int> depths;     // in the order the tasks caught CancelledError
  std::vector<int> cancelling;  // their cancelling() then, same order
  int started = 0;              // levels that have begun (and gone on to wait)
  void record(int depth) {
    depths.push_back(depth);
    cancelling.push_back(current_task().cancelling());
  }
};

// Level `depth` of a chain: a task awaiting a task... awaiting a sleep.
inline Coro<void> chain(Seen* seen, int depth, int levels) {
  ++seen->started;
  try {
    if (depth == levels) co_await sleep(1h);
    else co_await create_task(chain(seen, depth + 1, levels));
  } catch (const CancelledError&) {
    seen->record(depth);
    throw;
  }
}

// Every level caught the cancel once, innermost first (each awaiter learns
// of its target's end the pass after it), as asyncio orders them.
inline void check_innermost_first(const Seen& seen, int levels) {
  REQUIRE(seen.depths.size() == static_cast<std::size_t>(levels) + 1);
  bool ordered = true;
  for (int i = 0; i <= levels; ++i) ordered = ordered && seen.depths[i] == levels - i;
  CHECK(ordered);
}

// Until all `levels + 1` levels of a chain have started: the innermost
// then sleeps and every other one awaits the level below.
inline Coro<void> wait_for_chain(const Seen* seen, int levels) {
  while (seen->started < levels + 1) co_await sleep(0);
  co_await sleep(0);  // the innermost, started, is asleep by now
}

}  // namespace chains
