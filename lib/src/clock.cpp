// clock.cpp — see detail/clock.hpp.
#include "asyncuv/detail/clock.hpp"

#include <stdexcept>

namespace asyncuv::detail {

void throw_nan_time() { throw std::invalid_argument("Invalid time: NaN (not a number)"); }

std::uint64_t deadline_after(double seconds) {
  if (seconds >= 0 || std::isnan(seconds)) return deadline_in(delay_ns(seconds));
  const std::uint64_t now = now_ns();
  const double ns = std::floor(-seconds * 1e9);
  return ns >= static_cast<double>(now) ? 0 : now - static_cast<std::uint64_t>(ns);
}

std::uint64_t deadline_at(double when) {
  if (std::isnan(when)) throw_nan_time();
  if (when <= 0) return 0;
  const double ns = std::ceil(when * 1e9);
  if (ns >= 1.8e19) return latest;
  auto deadline = static_cast<std::uint64_t>(ns);
  while (loop_time(deadline) < when) ++deadline;
  return deadline;
}

}  // namespace asyncuv::detail
