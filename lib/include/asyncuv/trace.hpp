// asyncuv/trace.hpp — a timeline of what the loop does (opt-in).
//
//   asyncuv::trace::Recorder rec;           // records this thread's loops from now on
//   asyncuv::run(main());
//   asyncuv::trace::Trace t = rec.stop();
//   asyncuv::trace::write_chrome_json(file, t);  // open in Perfetto / chrome://tracing
//   asyncuv::trace::write_svg(svg, t, "gather");  // one row per task, a Gantt chart
//
// What is recorded: every task created, started, suspended (and on what:
// sleep, task, gather, lock, queue get, future, thread, I/O, ...), resumed,
// and how it ended (done, failed, cancelled, or abandoned at loop close);
// every callback the loop runs and every timer that fires. While no Recorder
// is active on a thread, each of those points costs its loop one
// thread-local load and one predictable branch (see detail/trace_hook.hpp).
//
// A Recorder belongs to the thread that made it: it records the loops that
// thread runs, and must be stopped (or destroyed) on that thread. Recorders
// nest: an inner one records alone until it stops.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detail/trace_hook.hpp"

namespace asyncuv::trace {

enum class EventKind : std::uint8_t {
  created,    // create_task
  started,    // the first step
  suspended,  // Event::on says on what
  resumed,
  done,       // returned
  failed,     // raised (other than CancelledError)
  cancelled,  // ended cancelled (or raised CancelledError)
  abandoned,  // still pending when its loop closed
  callback,   // the loop ran a callback (call_soon, a done callback, a wake-up hop)
  timer,      // a timer fired (Event::on: "sleep" or "call")
};

// The text of a kind ("created", "suspended", ...).
ASYNCUV_API const char* kind_name(EventKind k) noexcept;

struct Event {
  std::uint64_t time_ns;  // since the Recorder started (uv_hrtime clock)
  std::uint64_t task;     // the N of "Task-N"; 0 for callback and timer
  const char* on;         // suspended: what the task waits for; timer: "sleep" or "call"; else null
  EventKind kind;
};

// A stopped recording: the events in the order they happened.
struct ASYNCUV_API Trace {
  std::vector<Event> events;
  std::uint64_t end_ns = 0;   // when the recording stopped
  std::uint64_t dropped = 0;  // events lost for lack of memory
  std::unordered_map<std::uint64_t, std::string> custom_names;  // set_name() / create_task(coro, name)

  // "Task-N", or the name the task was given.
  std::string task_name(std::uint64_t task) const;
};

// A task's life as intervals: what both writers draw.
struct Span {
  std::uint64_t begin_ns, end_ns;
  bool running;    // running, or else waiting
  const char* on;  // waiting: on what ("await" when the awaiter did not say)
  bool open;       // still running/waiting when the recording stopped
};
struct TaskRow {
  std::uint64_t task;
  std::string name;
  std::uint64_t created_ns;  // first seen
  std::uint64_t end_ns;      // when it ended, or the recording's end
  EventKind outcome;         // done/failed/cancelled/abandoned; `suspended` or `resumed` if it had not ended
  std::vector<Span> spans;   // in time order, never overlapping
};
struct Timeline {
  std::vector<TaskRow> rows;            // in the order the tasks were first seen
  std::vector<const Event*> loop_events;  // callbacks and timers
  std::uint64_t end_ns = 0;
};
ASYNCUV_API Timeline timeline(const Trace& t);

class ASYNCUV_API Recorder {
public:
  Recorder();  // starts recording on this thread
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  bool recording() const noexcept { return buffer_ != nullptr; }
  // Stops recording and hands over what was recorded. Throws RuntimeError
  // when called from another thread, or when already stopped.
  Trace stop();

private:
  std::unique_ptr<detail::TraceBuffer> owned_;
  detail::TraceBuffer* buffer_ = nullptr;
};

// Chrome trace-event JSON ({"traceEvents": [...]}): one thread per task,
// named after it, with "running" and "wait: <on>" slices, instant events
// for created/ended, and the loop's callbacks and timers on thread 0.
ASYNCUV_API void write_chrome_json(std::ostream& out, const Trace& t);

// A self-contained SVG Gantt chart: one row per task, bars for running
// and waiting, the time axis in seconds. Deterministic for given events.
ASYNCUV_API void write_svg(std::ostream& out, const Trace& t, std::string_view title = "asyncuv timeline");

}  // namespace asyncuv::trace
