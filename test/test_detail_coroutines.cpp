// Tests of detail headers behind Coro<T> (allocator.hpp's frame pool, and
// coroutines.hpp's rule for result types): internals, named by detail::.
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <vector>

using namespace asyncuv;

// The types Coro<T> refuses, each with a static_assert naming the rule.
static_assert(detail::CoroResult<void>);
static_assert(detail::CoroResult<int&>);
static_assert(detail::CoroResult<std::unique_ptr<int>>);
static_assert(!detail::CoroResult<int[3]>);
static_assert(!detail::CoroResult<int()>);
static_assert(!detail::CoroResult<int&&>);

TEST_CASE("frame pool: a thread's freed frames outlive it and serve other threads, each block once") {
  // A thread frees frames of two size classes and exits: its free lists go to
  // the shared pool whole. Other threads then take them block by block.
  std::thread([] {
    std::vector<void*> frames;
    for (int i = 0; i < 1000; ++i) frames.push_back(detail::allocate_frame(i % 2 ? 96 : 160));
    for (int i = 0; i < 1000; ++i) detail::deallocate_frame(frames[i], i % 2 ? 96 : 160);
  }).join();
  auto take = [](std::vector<void*>& out, std::size_t size, int n) {
    for (int i = 0; i < n; ++i) {
      void* p = detail::allocate_frame(size);
      std::memset(p, 0xab, size);  // writable, and overwrites any link a reuse would still follow
      out.push_back(p);
    }
  };
  std::vector<void*> small, large;
  std::thread([&] { take(small, 96, 700); }).join();  // more than the exited thread left of that class
  take(large, 160, 700);
  std::set<void*> distinct(small.begin(), small.end());
  distinct.insert(large.begin(), large.end());
  CHECK(distinct.size() == small.size() + large.size());
  for (void* p : small) detail::deallocate_frame(p, 96);
  for (void* p : large) detail::deallocate_frame(p, 160);
}
