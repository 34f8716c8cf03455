// The loop's timer internals: detail/clock.hpp's conversions of delays and
// deadlines (round up, clamp, NaN refused) and the TimerHeap behind
// call_later and sleep() (events.hpp's detail::TimerHeap).
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ratio>
#include <stdexcept>
#include <utility>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;

TEST_CASE("TimerHeap: (deadline, seq) order, FIFO on equal deadlines, removal anywhere") {
  using detail::TimerEntry;
  detail::TimerHeap heap;
  std::vector<TimerEntry> e(50);
  // Deadlines 0..4 repeated: ties broken by seq (insertion order).
  for (std::size_t i = 0; i < e.size(); ++i) {
    e[i].deadline_ns = (i * 7) % 5;
    e[i].seq = i;
    heap.push(&e[i]);
  }
  for (std::size_t i = 3; i < e.size(); i += 4) heap.remove(&e[i]);
  CHECK_FALSE(e[3].queued());
  std::vector<std::pair<std::uint64_t, std::uint64_t>> order;
  while (!heap.empty()) {
    TimerEntry* t = heap.top();
    heap.remove(t);
    order.emplace_back(t->deadline_ns, t->seq);
  }
  CHECK(order.size() == e.size() - e.size() / 4);
  for (std::size_t i = 1; i < order.size(); ++i) CHECK(order[i - 1] < order[i]);
  for (auto& [d, s] : order) CHECK(s % 4 != 3);
}

TEST_CASE("delay conversion rounds up and clamps") {
  using detail::delay_ns;
  using detail::latest;
  CHECK(delay_ns(1ns) == 1);
  CHECK(delay_ns(0ns) == 0);
  CHECK(delay_ns(-3s) == 0);
  CHECK(delay_ns(std::chrono::duration<long long, std::pico>(1)) == 1);
  CHECK(delay_ns(std::chrono::duration<double>(1e-12)) == 1);
  CHECK(delay_ns(std::chrono::hours::max()) == latest);
  CHECK(delay_ns(0.5) == 500'000'000);
  CHECK(delay_ns(1e-10) == 1);
  CHECK(delay_ns(0.0) == 0);
  CHECK(delay_ns(-1.0) == 0);
  CHECK(delay_ns(1e300) == latest);
  CHECK(delay_ns(std::numeric_limits<double>::infinity()) == latest);
  CHECK_THROWS_WITH_AS(delay_ns(std::nan("")), "Invalid time: NaN (not a number)", std::invalid_argument);
  CHECK(detail::deadline_at(-1) == 0);
  CHECK(detail::deadline_at(1e300) == latest);
  CHECK(detail::loop_time(detail::deadline_at(12.345)) >= 12.345);
  CHECK(detail::deadline_after(-1e300) == 0);
  CHECK(detail::deadline_after(1e300) == latest);
}
