// What the stress suites share: case sizes, and the tally of how each task
// of a storm ended.
//
// Sizes: CI sizes by default, a tenth of them in sanitizer or unoptimised
// builds (which run several times slower), full sizes (10^5 tasks) with
// ASYNCUV_STRESS=full in the environment. Random choices come from a fixed
// seed, so a run is repeatable.
#pragma once

#include <asyncuv/asyncuv.hpp>

#include "test_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace stress_support {

using namespace asyncuv;

#ifndef __OPTIMIZE__
constexpr bool unoptimised = true;
#else
constexpr bool unoptimised = false;
#endif

inline bool sanitized() { return support::sanitized_build; }

inline bool full_size() {
  const char* v = std::getenv("ASYNCUV_STRESS");
  return v && std::strcmp(v, "full") == 0;
}

// The size of a case: `full` with ASYNCUV_STRESS=full, else `ci`, divided
// by ten in builds that run several times slower.
inline int sized(int full, int ci) {
  if (full_size()) return full;
  return sanitized() || unoptimised ? std::max(1, ci / 10) : ci;
}

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// How each task of a storm ended. `frames[i]` counts the destruction of
// task i's frame, so after run() it must be exactly 1: less is a leak, more
// a double destruction.
struct Tally {
  explicit Tally(int n) : frames(static_cast<std::size_t>(n), 0) {}
  std::vector<std::uint8_t> frames;
  int completed = 0;
  int cancelled = 0;
  int failed = 0;

  int ended() const { return completed + cancelled + failed; }
  // Every frame destroyed exactly once; returns how many were not.
  int frames_not_once() const {
    return static_cast<int>(std::count_if(frames.begin(), frames.end(), [](std::uint8_t f) { return f != 1; }));
  }
};

// Lives in a coroutine frame: counts that frame's destruction.
struct FrameMark {
  Tally* tally;
  int index;
  ~FrameMark() { ++tally->frames[static_cast<std::size_t>(index)]; }
};

inline void report(const char* scenario, int size, const Tally& t, const std::string& extra, double secs) {
  std::printf("stress %-26s size %7d  completed %7d  cancelled %7d  failed %5d  frames-not-once %d  %s  %.2f s\n",
              scenario, size, t.completed, t.cancelled, t.failed, t.frames_not_once(), extra.c_str(), secs);
  std::fflush(stdout);
}

inline void check_every_frame_once(const Tally& t, int n) {
  CHECK(t.ended() == n);
  CHECK(t.frames_not_once() == 0);
}

// A task body that counts how it ended; `body` is what it awaits.
template <class Body>
Coro<void> counted(Tally* tally, int index, Body body) {
  FrameMark mark{tally, index};
  try {
    co_await body();
    ++tally->completed;
  } catch (const CancelledError&) {
    ++tally->cancelled;
    throw;
  } catch (...) {
    ++tally->failed;
    throw;
  }
}

}  // namespace stress_support
