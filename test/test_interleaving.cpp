// Interleaving: a program whose tasks print around a gather prints what its
// Python original prints. asyncio completes a gather through a callback and
// then the awaiting task's wake-up: two loop passes after the last child.
#include <doctest/doctest.h>

#include "test_support.hpp"

using namespace asyncuv;

namespace {

Coro<int> child(Log* log) {
  log->push_back("child");
  co_return 1;
}

Coro<void> ticker(Log* log, int n) {
  for (int i = 0; i < n; ++i) {
    log->push_back(std::to_string(i));
    co_await sleep(0);
  }
}

}  // namespace

TEST_CASE("gather resumes its awaiter two passes after the last child, as asyncio") {
  // Python 3.11 prints ['0', '1', 'child', '2', '3', 'G', '4', '5'] for:
  //   t = create_task(ticker(6)); await sleep(0)
  //   await gather(child()); log.append('G'); await t
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 6));
    co_await sleep(0);
    co_await gather(child(log));
    log->push_back("G");
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "child", "2", "3", "G", "4", "5"});
}

TEST_CASE("gather of finished tasks still takes two passes, as asyncio") {
  // Python 3.11: c = create_task(child()); await sleep(0); t = create_task(ticker(5));
  //   await gather(c); log.append('G'); await t   ->  ['child', '0', '1', 'G', '2', '3', '4']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto c = create_task(child(log));
    co_await sleep(0);
    auto t = create_task(ticker(log, 5));
    co_await gather(c);
    log->push_back("G");
    co_await t;
  }(&log));
  CHECK(log == Log{"child", "0", "1", "G", "2", "3", "4"});
}

TEST_CASE("wait resumes its awaiter two passes after the deciding task, as asyncio") {
  // Python 3.11: t = create_task(ticker(6)); await sleep(0); c = create_task(child())
  //   await wait([c]); log.append('W'); await t   ->  ['0', '1', 'child', '2', '3', 'W', '4', '5']
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(ticker(log, 6));
    co_await sleep(0);
    std::vector<Task<int>> cs{create_task(child(log))};
    co_await wait(cs);
    log->push_back("W");
    co_await t;
  }(&log));
  CHECK(log == Log{"0", "1", "child", "2", "3", "W", "4", "5"});
}

TEST_CASE("wait on finished tasks still takes two passes, as asyncio") {
  // Python 3.11: ['child', '0', '1', 'W', '2', '3', '4']
  Log log;
  run([](Log* log) -> Coro<void> {
    std::vector<Task<int>> cs{create_task(child(log))};
    co_await sleep(0);
    auto t = create_task(ticker(log, 5));
    co_await wait(cs);
    log->push_back("W");
    co_await t;
  }(&log));
  CHECK(log == Log{"child", "0", "1", "W", "2", "3", "4"});
}
