// The loop's trace hook (detail/trace_hook.hpp): the thread-local
// trace_buffer every hook point loads is null while no Recorder records on
// the thread, points at the innermost recording one, and is restored to the
// one before when a Recorder stops or is destroyed, in whatever order the
// nested ones end. A stale pointer here would be written through by the
// next loop that runs on the thread.
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>
#include <asyncuv/detail/trace_hook.hpp>

#include <optional>
#include <thread>

using namespace asyncuv;
namespace tr = asyncuv::trace;

namespace {

Coro<void> one_task() { co_await create_task([]() -> Coro<void> { co_await sleep(0.001); }()); }

}  // namespace

TEST_CASE("trace_buffer: null with no recorder, set while one records, null once it stops") {
  CHECK(detail::trace_buffer == nullptr);
  run(one_task());  // running a loop sets nothing
  CHECK(detail::trace_buffer == nullptr);
  tr::Recorder rec;
  CHECK(detail::trace_buffer != nullptr);
  run(one_task());
  const tr::Trace t = rec.stop();
  CHECK(!t.events.empty());
  CHECK(detail::trace_buffer == nullptr);
  {
    tr::Recorder dropped;  // destroyed while recording
    CHECK(detail::trace_buffer != nullptr);
  }
  CHECK(detail::trace_buffer == nullptr);
}

TEST_CASE("trace_buffer: nested recorders restore the one before, whichever ends first") {
  std::optional<tr::Recorder> outer(std::in_place);
  detail::TraceBuffer* const outer_buffer = detail::trace_buffer;
  REQUIRE(outer_buffer != nullptr);
  std::optional<tr::Recorder> middle(std::in_place);
  detail::TraceBuffer* const middle_buffer = detail::trace_buffer;
  CHECK(middle_buffer != outer_buffer);
  {
    tr::Recorder inner;
    CHECK(detail::trace_buffer != middle_buffer);
    static_cast<void>(inner.stop());
    CHECK(detail::trace_buffer == middle_buffer);
  }
  // The outer one ends first: the middle one still records, and its own
  // end then leaves nothing behind.
  static_cast<void>(outer->stop());
  CHECK(detail::trace_buffer == middle_buffer);
  outer.reset();
  CHECK(detail::trace_buffer == middle_buffer);
  middle.reset();  // destroyed, not stopped
  CHECK(detail::trace_buffer == nullptr);
}

TEST_CASE("trace_buffer: another thread's recorder leaves this thread's hook alone") {
  detail::TraceBuffer* seen_there = nullptr;
  tr::Recorder here;
  detail::TraceBuffer* const mine = detail::trace_buffer;
  std::thread([&seen_there] {
    seen_there = detail::trace_buffer;  // nothing recording on that thread
    tr::Recorder there;
    static_cast<void>(there.stop());
  }).join();
  CHECK(seen_there == nullptr);
  CHECK(detail::trace_buffer == mine);
  static_cast<void>(here.stop());
  CHECK(detail::trace_buffer == nullptr);
}
