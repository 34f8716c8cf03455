// trace.cpp — recording what the loop does, and the Chrome trace-event JSON.
// (The SVG chart is timeline_svg.cpp.)
#include "asyncuv/trace.hpp"

#include <uv.h>

#include <cinttypes>
#include <cstdio>
#include <ostream>
#include <thread>
#include <utility>

#include "asyncuv/coroutines.hpp"
#include "asyncuv/exceptions.hpp"

namespace asyncuv::detail {

using trace::EventKind;

constinit thread_local TraceBuffer* trace_buffer = nullptr;

// What a Recorder fills while it is the thread's active one.
struct TraceBuffer {
  std::uint64_t origin_ns = uv_hrtime();
  std::vector<trace::Event> events;
  std::unordered_map<std::uint64_t, std::string> names;  // custom names seen
  std::uint64_t dropped = 0;
  TraceBuffer* previous = nullptr;  // the recorder this one interrupts (nesting)
  std::thread::id owner = std::this_thread::get_id();

  TraceBuffer() { events.reserve(4096); }

  // Recording must never throw into the loop: an event that finds no
  // memory is counted instead.
  void add(EventKind kind, std::uint64_t task, const char* on) noexcept {
    try {
      events.push_back({uv_hrtime() - origin_ns, task, on, kind});
    } catch (...) {
      ++dropped;
    }
  }
  void note_name(const TaskCore* t) noexcept {
    if (!t->has_custom_name) return;
    try {
      names[t->id] = t->name();
    } catch (...) {
    }
  }
};

void trace_created(TraceBuffer& b, const TaskCore* t) noexcept { b.add(EventKind::created, t->id, nullptr); }

// Called before TaskCore::step looks at the task, so it tells the same cases
// apart: a step that will not run the body (cancelled before it started, or
// nothing to resume) records nothing.
void trace_step(TraceBuffer& b, const TaskCore* t) noexcept {
  const bool first = !t->started;
  if (first ? t->must_cancel : !t->suspended_on) return;
  // create_task(coro, name) names it after creating it; a task made before
  // the recording began is named when first seen.
  if (t->has_custom_name && (first || !b.names.contains(t->id))) b.note_name(t);
  b.add(first ? EventKind::started : EventKind::resumed, t->id, nullptr);
}

void trace_suspended(TraceBuffer& b, const TaskCore* t, const char* on) noexcept {
  b.add(EventKind::suspended, t->id, on ? on : "await");
}

void trace_finished(TraceBuffer& b, const TaskCore* t) noexcept {
  b.note_name(t);
  EventKind kind = EventKind::done;
  if (t->state == TaskCore::State::cancelled) kind = EventKind::cancelled;
  else if (t->has_error) kind = EventKind::failed;
  b.add(kind, t->id, nullptr);
}

void trace_abandoned(TraceBuffer& b, const TaskCore* t) noexcept {
  b.note_name(t);
  b.add(EventKind::abandoned, t->id, nullptr);
}

void trace_callback(TraceBuffer& b) noexcept { b.add(EventKind::callback, 0, nullptr); }

void trace_timer(TraceBuffer& b, bool wakes_task) noexcept {
  b.add(EventKind::timer, 0, wakes_task ? "sleep" : "call");
}

}  // namespace asyncuv::detail

namespace asyncuv::trace {

using detail::TraceBuffer;

const char* kind_name(EventKind k) noexcept {
  switch (k) {
    case EventKind::created: return "created";
    case EventKind::started: return "started";
    case EventKind::suspended: return "suspended";
    case EventKind::resumed: return "resumed";
    case EventKind::done: return "done";
    case EventKind::failed: return "failed";
    case EventKind::cancelled: return "cancelled";
    case EventKind::abandoned: return "abandoned";
    case EventKind::callback: return "callback";
    case EventKind::timer: return "timer";
  }
  return "?";
}

std::string Trace::task_name(std::uint64_t task) const {
  if (auto it = custom_names.find(task); it != custom_names.end()) return it->second;
  return "Task-" + std::to_string(task);
}

// ---- recording ----

Recorder::Recorder() : owned_(std::make_unique<TraceBuffer>()), buffer_(owned_.get()) {
  buffer_->previous = detail::trace_buffer;
  detail::trace_buffer = buffer_;
}

namespace {

// Takes b out of this thread's chain of recorders, wherever it is in it.
void unlink(TraceBuffer* b) noexcept {
  for (TraceBuffer** p = &detail::trace_buffer; *p; p = &(*p)->previous) {
    if (*p == b) {
      *p = b->previous;
      return;
    }
  }
}

}  // namespace

Recorder::~Recorder() {
  if (!buffer_) return;
  // Another thread's chain cannot be touched from here: leaking the buffer
  // is better than leaving that thread a dangling pointer.
  if (buffer_->owner != std::this_thread::get_id()) static_cast<void>(owned_.release());
  else unlink(buffer_);
}

Trace Recorder::stop() {
  if (!buffer_) throw RuntimeError("the recorder was already stopped");
  if (buffer_->owner != std::this_thread::get_id())
    throw RuntimeError("a trace recorder must be stopped on the thread that started it");
  unlink(buffer_);
  Trace t;
  t.end_ns = uv_hrtime() - buffer_->origin_ns;
  t.events = std::move(buffer_->events);
  t.custom_names = std::move(buffer_->names);
  t.dropped = buffer_->dropped;
  buffer_ = nullptr;
  owned_.reset();
  return t;
}

// ---- from events to intervals ----

namespace {

struct RowBuilder {
  TaskRow row;
  bool has_open = false;
  bool ended = false;
  Span current{};

  void close(std::uint64_t now) {
    if (!has_open) return;
    current.end_ns = now;
    row.spans.push_back(current);
    has_open = false;
  }
  void open(std::uint64_t now, bool running, const char* on) {
    close(now);
    current = Span{now, now, running, on, false};
    has_open = true;
  }
};

}  // namespace

Timeline timeline(const Trace& t) {
  Timeline out;
  out.end_ns = t.end_ns;
  std::vector<RowBuilder> rows;
  std::unordered_map<std::uint64_t, std::size_t> index;
  for (const Event& e : t.events) {
    if (e.kind == EventKind::callback || e.kind == EventKind::timer) {
      out.loop_events.push_back(&e);
      continue;
    }
    auto [it, fresh] = index.try_emplace(e.task, rows.size());
    if (fresh) {
      rows.emplace_back();
      rows.back().row = TaskRow{e.task, t.task_name(e.task), e.time_ns, e.time_ns, EventKind::created, {}};
    }
    RowBuilder& r = rows[it->second];
    if (r.ended) continue;  // nothing happens to a task after its end
    switch (e.kind) {
      case EventKind::created: break;
      case EventKind::started:
      case EventKind::resumed: r.open(e.time_ns, true, nullptr); break;
      case EventKind::suspended: r.open(e.time_ns, false, e.on ? e.on : "await"); break;
      default:  // an end
        r.close(e.time_ns);
        r.ended = true;
        break;
    }
    r.row.outcome = e.kind;
    r.row.end_ns = e.time_ns;
  }
  out.rows.reserve(rows.size());
  for (RowBuilder& r : rows) {
    if (!r.ended) {  // still pending when the recording stopped
      if (r.has_open) r.current.open = true;
      r.close(t.end_ns);
      r.row.end_ns = t.end_ns;
    }
    out.rows.push_back(std::move(r.row));
  }
  return out;
}

// ---- Chrome trace-event JSON ----

namespace {

void json_string(std::ostream& out, std::string_view s) {
  out << '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out << '\\' << c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out << buf;
    } else {
      out << c;
    }
  }
  out << '"';
}

// Microseconds, as the format wants, exactly: ns / 1000 with three decimals.
std::string micros(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
  return buf;
}

class JsonEvents {
public:
  explicit JsonEvents(std::ostream& out) : out_(out) {}
  // Opens one event object with the fields every event has; the caller
  // adds its own and closes it with end().
  std::ostream& begin(std::string_view name, const char* ph, std::uint64_t tid) {
    out_ << (first_ ? "\n" : ",\n") << "{\"name\":";
    first_ = false;
    json_string(out_, name);
    return out_ << ",\"ph\":\"" << ph << "\",\"pid\":1,\"tid\":" << tid;
  }
  void metadata(const char* name, std::uint64_t tid, const char* key, std::string_view value) {
    begin(name, "M", tid) << ",\"args\":{\"" << key << "\":";
    json_string(out_, value);
    out_ << "}}";
  }
  void sort_index(std::uint64_t tid, std::size_t i) {
    begin("thread_sort_index", "M", tid) << ",\"args\":{\"sort_index\":" << i << "}}";
  }
  void instant(std::string_view name, const char* cat, std::uint64_t tid, std::uint64_t ns) {
    begin(name, "i", tid) << ",\"cat\":\"" << cat << "\",\"s\":\"t\",\"ts\":" << micros(ns) << "}";
  }

private:
  std::ostream& out_;
  bool first_ = true;
};

}  // namespace

void write_chrome_json(std::ostream& out, const Trace& t) {
  const Timeline tl = timeline(t);
  out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  JsonEvents j(out);
  j.metadata("process_name", 0, "name", "asyncuv");
  j.metadata("thread_name", 0, "name", "event loop");
  j.sort_index(0, 0);
  std::size_t i = 0;
  for (const TaskRow& row : tl.rows) {
    j.metadata("thread_name", row.task, "name", row.name);
    j.sort_index(row.task, ++i);
    for (const Span& s : row.spans) {
      const std::string name = s.running ? std::string("running") : std::string("wait: ") + s.on;
      j.begin(name, "X", row.task) << ",\"cat\":\"" << (s.running ? "running" : "waiting") << "\",\"ts\":"
                                   << micros(s.begin_ns) << ",\"dur\":" << micros(s.end_ns - s.begin_ns);
      if (!s.running) {
        out << ",\"args\":{\"on\":";
        json_string(out, s.on);
        out << "}";
      }
      out << "}";
    }
  }
  for (const Event& e : t.events) {
    switch (e.kind) {
      case EventKind::created:
      case EventKind::done:
      case EventKind::failed:
      case EventKind::cancelled:
      case EventKind::abandoned: j.instant(kind_name(e.kind), "task", e.task, e.time_ns); break;
      case EventKind::callback: j.instant("callback", "loop", 0, e.time_ns); break;
      case EventKind::timer: j.instant(std::string("timer: ") + e.on, "loop", 0, e.time_ns); break;
      default: break;  // the slices show them
    }
  }
  out << "\n]}\n";
}

}  // namespace asyncuv::trace
