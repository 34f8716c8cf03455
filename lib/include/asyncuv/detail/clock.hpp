// asyncuv/detail/clock.hpp — the loop's one clock, and every conversion to
// and from it.
//
// Deadlines are uv_hrtime() nanoseconds (monotonic); loop.time() is the same
// clock in seconds. One rule everywhere: delays and times round *up* (a timer
// never fires early), a delay <= 0 is "due now", NaN is a ValueError with one
// message, and anything beyond the clock's range (inf, 1e300) clamps to
// `latest`, a real deadline that is never reached. `never` is the absence of
// a deadline.
#pragma once

#include <uv.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace asyncuv::detail {

inline constexpr std::uint64_t never = UINT64_MAX;
inline constexpr std::uint64_t latest = never - 1;

inline std::uint64_t now_ns() noexcept { return uv_hrtime(); }
inline double loop_time(std::uint64_t deadline_ns) noexcept { return static_cast<double>(deadline_ns) / 1e9; }

// ValueError("Invalid time: NaN (not a number)").
[[noreturn]] void throw_nan_time();

// A delay in nanoseconds, rounded up; <= 0 is 0, beyond the clock `latest`.
inline std::uint64_t delay_ns(double seconds) {
  if (seconds > 0) [[likely]] {
    const double ns = std::ceil(seconds * 1e9);
    return ns >= 1.8e19 ? latest : static_cast<std::uint64_t>(ns);
  }
  if (std::isnan(seconds)) throw_nan_time();
  return 0;
}
template <class Rep, class Period>
std::uint64_t delay_ns(std::chrono::duration<Rep, Period> d) {
  using namespace std::chrono;
  if constexpr (std::is_floating_point_v<Rep>) {
    return delay_ns(duration<double>(d).count());
  } else {
    if (d <= d.zero()) return 0;
    // Clamp in floating point: converting nanoseconds::max() to a finer
    // period (picoseconds) or d to nanoseconds (hours::max()) would overflow.
    if (duration<double, std::nano>(d).count() >= 1.8e19) return latest;
    return static_cast<std::uint64_t>(ceil<nanoseconds>(d).count());  // sub-ns remainders round up
  }
}

// now + delay, clamped to `latest`.
inline std::uint64_t deadline_in(std::uint64_t delay, std::uint64_t now = now_ns()) noexcept {
  return delay > latest - now ? latest : now + delay;
}

// A signed delay as asyncio's call_later takes it: now + seconds; a negative
// delay is a deadline in the past (so call_later(-5) sorts before
// call_later(-1), as call_at(now - 5) does).
std::uint64_t deadline_after(double seconds);

// The first nanosecond whose loop time is not before `when` (loop-time
// seconds): time() is computed in double, so rounding must not make a timer
// early. <= 0 is 0.
std::uint64_t deadline_at(double when);

}  // namespace asyncuv::detail
