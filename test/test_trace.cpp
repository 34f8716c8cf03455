// test_trace.cpp — the task timeline (trace.hpp): what is recorded, in what
// order, on what tasks wait; the Chrome JSON (checked with Python's json by
// test/trace_check.py) and the SVG (parsed here, and by trace_check.py with
// xml.etree); recording off records nothing, nor another thread's loops;
// cancelled, failing and abandoned tasks, and a recorder stopped while its
// loop runs. (Which recorder the loop's hooks write to is
// test_detail_trace.cpp's.)
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace asyncuv;
namespace tr = asyncuv::trace;

namespace {

// One task's events, as "kind" or "kind:on", in order.
std::vector<std::string> story(const tr::Trace& t, const std::string& name) {
  std::vector<std::string> out;
  for (const tr::Event& e : t.events) {
    if (e.task == 0 || t.task_name(e.task) != name) continue;
    std::string s = tr::kind_name(e.kind);
    if (e.on) s += std::string(":") + e.on;
    out.push_back(s);
  }
  return out;
}

const tr::TaskRow* row_of(const tr::Timeline& tl, const std::string& name) {
  for (const auto& r : tl.rows)
    if (r.name == name) return &r;
  return nullptr;
}

Coro<int> sleeper(double s, int v) {
  co_await sleep(s);
  co_return v;
}

Coro<void> fails() {
  co_await sleep(0);
  throw std::runtime_error("boom");
}

Coro<void> sleeps_forever() { co_await sleep(1000.0); }

// Catches every cancel and waits again, on an event nobody sets (no timer
// keeps the loop running): the loop abandons it when it closes.
Coro<void> stubborn(Event& never) {
  for (;;) {
    try {
      co_await never.wait();
    } catch (const CancelledError&) {
    }
  }
}

std::string temp_path(const std::string& leaf) {
  return (std::filesystem::temp_directory_path() /
          ("asyncuv-test-trace-" + std::to_string(::getpid()) + "-" + leaf)).string();
}

// A tiny SVG reader: the task rows and their bars, by attribute.
struct SvgBar {
  std::string cls, on;
  double begin, end, x, width;
};
struct SvgRow {
  std::string name;
  std::vector<SvgBar> bars;
};
struct SvgChart {
  double x0 = 0, px_per_s = 0;
  std::vector<SvgRow> rows;
};

std::string attr(const std::string& tag, const std::string& name) {
  const std::regex re("\\s" + name + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(tag, m, re) ? m[1].str() : std::string();
}

SvgChart parse_svg(const std::string& svg) {
  SvgChart chart;
  const std::regex tag_re("<(svg|g|rect)\\s[^>]*>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag_re); it != std::sregex_iterator(); ++it) {
    const std::string tag = it->str();
    const std::string kind = (*it)[1].str();
    if (kind == "svg") {
      chart.x0 = std::stod(attr(tag, "data-x0"));
      chart.px_per_s = std::stod(attr(tag, "data-px-per-s"));
    } else if (kind == "g" && attr(tag, "class") == "task") {
      chart.rows.push_back({attr(tag, "data-task"), {}});
    } else if (kind == "rect" && !attr(tag, "data-begin").empty()) {
      REQUIRE(!chart.rows.empty());
      chart.rows.back().bars.push_back({attr(tag, "class"), attr(tag, "data-on"), std::stod(attr(tag, "data-begin")),
                                        std::stod(attr(tag, "data-end")), std::stod(attr(tag, "x")),
                                        std::stod(attr(tag, "width"))});
    }
  }
  return chart;
}

// Runs a loop whose main task creates one task named `name`, and awaits it.
void run_named(const std::string& name) {
  run([](std::string n) -> Coro<void> { co_await create_task(sleeper(0.001, 1), n); }(name));
}

}  // namespace

TEST_CASE("recording off records nothing; a recorder sees only what ran while it recorded") {
  run_named("before");  // no recorder yet
  tr::Recorder rec;
  CHECK(rec.recording());
  tr::Trace t = rec.stop();
  CHECK(!rec.recording());
  CHECK(t.events.empty());
  run_named("between");  // stopped: not recorded, by it or by the next one
  CHECK_THROWS_AS(rec.stop(), RuntimeError);
  tr::Recorder next;
  run_named("after");
  const tr::Trace later = next.stop();
  CHECK(story(later, "before").empty());
  CHECK(story(later, "between").empty());
  CHECK(story(later, "after") == Log{"created", "started", "suspended:sleep", "resumed", "done"});
}

TEST_CASE("a recorder records its own thread's loops only") {
  tr::Recorder rec;
  std::thread([] { run_named("elsewhere"); }).join();
  run_named("here");
  const tr::Trace t = rec.stop();
  CHECK(story(t, "elsewhere").empty());
  CHECK(story(t, "here") == Log{"created", "started", "suspended:sleep", "resumed", "done"});
}

TEST_CASE("a task's life in order: created, started, suspended on what, resumed, done") {
  tr::Recorder rec;
  run([]() -> Coro<void> {
    auto worker = create_task(sleeper(0.01, 7), "worker");
    CHECK(co_await worker == 7);
  }());
  const tr::Trace t = rec.stop();
  CHECK(story(t, "Task-" + std::to_string(t.events.front().task)) ==
        Log{"created", "started", "suspended:task", "resumed", "done"});
  CHECK(story(t, "worker") == Log{"created", "started", "suspended:sleep", "resumed", "done"});
  // Times only go forward, and the sleep's wait lasted at least its delay.
  for (std::size_t i = 1; i < t.events.size(); ++i) CHECK(t.events[i - 1].time_ns <= t.events[i].time_ns);
  const tr::Timeline tl = tr::timeline(t);
  REQUIRE(tl.rows.size() == 2);
  const tr::TaskRow* w = row_of(tl, "worker");
  REQUIRE(w);
  REQUIRE(w->spans.size() == 3);
  CHECK(w->spans[0].running);
  CHECK(!w->spans[1].running);
  CHECK(std::string(w->spans[1].on) == "sleep");
  CHECK(w->spans[1].end_ns - w->spans[1].begin_ns >= 10'000'000);
  CHECK(w->spans[2].running);
  CHECK(w->outcome == tr::EventKind::done);
  // The timer that woke it is on the loop's row.
  bool timer = false;
  for (const tr::Event* e : tl.loop_events) timer = timer || (e->kind == tr::EventKind::timer && std::string(e->on) == "sleep");
  CHECK(timer);
}

TEST_CASE("cancelled, cancelled before it ran, failed: each ends as it did") {
  tr::Recorder rec;
  run([]() -> Coro<void> {
    auto victim = create_task(sleeps_forever(), "victim");
    auto never_ran = create_task(sleeps_forever(), "never_ran");
    auto failing = create_task(fails(), "failing");
    never_ran.cancel();
    co_await sleep(0);
    victim.cancel();
    CHECK_THROWS_AS(co_await victim, CancelledError);
    CHECK_THROWS_AS(co_await failing, std::runtime_error);
    CHECK_THROWS_AS(co_await never_ran, CancelledError);
  }());
  const tr::Trace t = rec.stop();
  CHECK(story(t, "victim") == Log{"created", "started", "suspended:sleep", "resumed", "cancelled"});
  CHECK(story(t, "never_ran") == Log{"created", "cancelled"});
  CHECK(story(t, "failing") == Log{"created", "started", "suspended:yield", "resumed", "failed"});
  const tr::Timeline tl = tr::timeline(t);
  REQUIRE(row_of(tl, "never_ran"));
  CHECK(row_of(tl, "never_ran")->spans.empty());
  CHECK(row_of(tl, "failing")->outcome == tr::EventKind::failed);
}

TEST_CASE("what a task waits on: gather, lock, event, queue, future, thread, wait, taskgroup") {
  tr::Recorder rec;
  run([]() -> Coro<void> {
    Lock lock;
    Event ev;
    Queue<int> q;
    co_await lock.acquire();
    auto locker = create_task([](Lock& l) -> Coro<void> {
      co_await l.acquire();
      l.release();
    }(lock), "locker");
    auto waiter = create_task([](Event& e) -> Coro<void> { co_await e.wait(); }(ev), "waiter");
    auto getter = create_task([](Queue<int>& qu) -> Coro<int> { co_return co_await qu.get(); }(q), "getter");
    auto fut = get_running_loop().create_future<int>();
    auto fut_waiter = create_task([](Future<int> f) -> Coro<int> { co_return co_await f; }(fut), "fut_waiter");
    auto threaded = create_task([]() -> Coro<int> {
      auto work = [] { return 5; };
      co_return co_await to_thread(work);
    }(), "threaded");
    co_await sleep(0.001);
    lock.release();
    ev.set();
    q.put_nowait(3);
    fut.set_result(4);
    co_await gather(locker, waiter);
    CHECK(co_await getter == 3);
    CHECK(co_await fut_waiter == 4);
    CHECK(co_await threaded == 5);
    std::vector<Task<int>> one{create_task(sleeper(0.001, 1))};
    co_await wait(one);
    co_await task_group([](TaskGroup& g) -> Coro<void> {
      g.create_task(sleeper(0.001, 2));
      co_return;
    });
  }());
  const tr::Trace t = rec.stop();
  auto waits_on = [&](const std::string& name) {
    std::vector<std::string> on;
    for (const auto& s : story(t, name))
      if (s.rfind("suspended:", 0) == 0) on.push_back(s.substr(10));
    return on;
  };
  CHECK(waits_on("locker") == Log{"lock"});
  CHECK(waits_on("waiter") == Log{"event"});
  CHECK(waits_on("getter") == Log{"queue get"});
  CHECK(waits_on("fut_waiter") == Log{"future"});
  CHECK(waits_on("threaded") == Log{"thread"});
  const std::string main = t.task_name(t.events.front().task);
  // The tasks it awaits after the gather are usually done by then, so no
  // suspension; but the thread's may still run (a slow, sanitized build):
  // waiting on a task then shows as "task", in its place.
  Log main_waits = waits_on(main);
  std::erase(main_waits, std::string("task"));
  CHECK(main_waits == Log{"sleep", "gather", "wait", "taskgroup"});
  CHECK(waits_on(main).size() <= main_waits.size() + 3);
}

TEST_CASE("a loop torn down with tasks pending, a recorder stopped while its loop runs: clean") {
  tr::Recorder outer;
  std::vector<std::string> reports;
  std::optional<tr::Trace> inner_trace;
  Event never;  // outlives the loop, as the abandoned task waits on it to the end
  run([&]() -> Coro<void> {
    get_running_loop().set_exception_handler([&](const ExceptionContext& c) { reports.push_back(c.message); });
    create_task(stubborn(never), "stubborn");
    create_task(sleeps_forever(), "sleeper");
    {
      tr::Recorder inner;  // nests: records alone until it stops
      co_await sleep(0);
      inner_trace = inner.stop();
    }
    {
      tr::Recorder dropped;  // destroyed while recording: the outer one takes over again
      co_await sleep(0);
    }
    co_return;
  }());
  const tr::Trace t = outer.stop();
  CHECK(reports == Log{"Task was destroyed but it is pending!"});
  CHECK(story(t, "sleeper").back() == "cancelled");
  CHECK(story(t, "stubborn").back() == "abandoned");
  REQUIRE(inner_trace);
  CHECK(!story(*inner_trace, "sleeper").empty());  // it started while the inner one recorded
  CHECK(story(t, "sleeper").front() == "created");
  const tr::Timeline tl = tr::timeline(t);
  CHECK(row_of(tl, "stubborn")->outcome == tr::EventKind::abandoned);
  // A recording that stops while tasks still wait leaves their spans open.
  tr::Recorder mid;
  run([&]() -> Coro<void> {
    create_task(sleeps_forever(), "left");
    co_await sleep(0.001);
    const tr::Timeline open = tr::timeline(mid.stop());
    const tr::TaskRow* left = row_of(open, "left");
    REQUIRE(left);
    REQUIRE(!left->spans.empty());
    CHECK(left->spans.back().open);
    CHECK(left->spans.back().end_ns == open.end_ns);
  }());
}

TEST_CASE("the SVG draws one row per task and each bar where its span is; the JSON parses (python3)") {
  tr::Recorder rec;
  run([]() -> Coro<void> {
    auto [a, b] = co_await gather(sleeper(0.02, 1), sleeper(0.04, 2));
    CHECK(a + b == 3);
    auto named = create_task(sleeper(0.001, 3), "a <name> & \"quotes\" that is too long to show");
    co_await named;
  }());
  const tr::Trace t = rec.stop();
  std::ostringstream svg_text;
  tr::write_svg(svg_text, t, "gather <test>");
  std::ostringstream again;
  tr::write_svg(again, t, "gather <test>");
  CHECK(svg_text.str() == again.str());  // deterministic
  CHECK(svg_text.str().find("gather &lt;test&gt;") != std::string::npos);

  const tr::Timeline tl = tr::timeline(t);
  const SvgChart chart = parse_svg(svg_text.str());
  REQUIRE(chart.rows.size() == tl.rows.size());
  CHECK(tl.rows.size() == 4);
  CHECK(chart.px_per_s > 0);
  for (std::size_t i = 0; i < tl.rows.size(); ++i) {
    const tr::TaskRow& row = tl.rows[i];
    CAPTURE(row.name);
    CHECK(chart.rows[i].name == std::regex_replace(std::regex_replace(std::regex_replace(std::regex_replace(
                                    row.name, std::regex("&"), "&amp;"), std::regex("<"), "&lt;"),
                                    std::regex(">"), "&gt;"), std::regex("\""), "&quot;"));
    REQUIRE(chart.rows[i].bars.size() == row.spans.size());
    for (std::size_t k = 0; k < row.spans.size(); ++k) {
      const tr::Span& s = row.spans[k];
      const SvgBar& bar = chart.rows[i].bars[k];
      CHECK(bar.cls == (s.running ? "running" : "waiting"));
      CHECK(bar.begin == doctest::Approx(static_cast<double>(s.begin_ns) / 1e9).epsilon(1e-12));
      CHECK(bar.end == doctest::Approx(static_cast<double>(s.end_ns) / 1e9).epsilon(1e-12));
      CHECK(std::abs(bar.x - (chart.x0 + bar.begin * chart.px_per_s)) < 0.01);
      CHECK(std::abs(bar.width - std::max((bar.end - bar.begin) * chart.px_per_s, 1.0)) < 0.01);
      if (!s.running) CHECK(bar.on == s.on);
    }
  }
  // Every span comes from the events: a running span opens at a start or
  // resume and a wait at a suspension of the same task, at the same time.
  for (const tr::TaskRow& row : tl.rows) {
    for (const tr::Span& s : row.spans) {
      bool found = false;
      for (const tr::Event& e : t.events) {
        const bool opener = s.running ? (e.kind == tr::EventKind::started || e.kind == tr::EventKind::resumed)
                                      : e.kind == tr::EventKind::suspended;
        found = found || (e.task == row.task && opener && e.time_ns == s.begin_ns);
      }
      CHECK(found);
    }
  }
  // gather(0.02 s, 0.04 s): the children's sleeps overlap; main waits the longer.
  const tr::TaskRow* main = &tl.rows[0];
  REQUIRE(main->spans.size() >= 3);
  CHECK(std::string(main->spans[1].on) == "gather");
  CHECK(main->spans[1].end_ns - main->spans[1].begin_ns >= 40'000'000);
  const tr::Span& s1 = tl.rows[1].spans.at(1);
  const tr::Span& s2 = tl.rows[2].spans.at(1);
  CHECK(std::min(s1.end_ns, s2.end_ns) - std::max(s1.begin_ns, s2.begin_ns) >= 20'000'000);

  // The same recording as files: Python's json and xml.etree agree with each other.
  const std::string json_path = temp_path("t.json"), svg_path = temp_path("t.svg");
  {
    std::ofstream js(json_path), sv(svg_path);
    tr::write_chrome_json(js, t);
    sv << svg_text.str();
  }
  if (::access("/usr/bin/python3", X_OK) == 0) {
    const std::string cmd = "/usr/bin/python3 " ASYNCUV_TEST_DIR "trace_check.py --files " + json_path + " " +
                            svg_path + " > /dev/null";
    CHECK(std::system(cmd.c_str()) == 0);
    // and the check can fail: a bar moved by a pixel
    std::string moved = svg_text.str();
    const auto at = moved.find("class=\"waiting\"");
    REQUIRE(at != std::string::npos);
    const auto x = moved.find(" x=\"", at) + 4;
    moved.insert(x, "1");
    std::ofstream(svg_path) << moved;
    CHECK(std::system(cmd.c_str()) != 0);
  }
  std::filesystem::remove(json_path);
  std::filesystem::remove(svg_path);
}

TEST_CASE("JSON strings are escaped; an empty trace still writes valid documents") {
  tr::Trace t;
  t.events.push_back({0, 9, nullptr, tr::EventKind::created});
  t.events.push_back({10, 9, nullptr, tr::EventKind::started});
  t.events.push_back({20, 9, "a\"b\\c\n", tr::EventKind::suspended});
  t.custom_names[9] = "tab\there";
  t.end_ns = 30;
  std::ostringstream js;
  tr::write_chrome_json(js, t);
  CHECK(js.str().find("\"tab\\u0009here\"") != std::string::npos);
  CHECK(js.str().find("\"wait: a\\\"b\\\\c\\u000a\"") != std::string::npos);
  CHECK(js.str().find("\"ts\":0.020,\"dur\":0.010") != std::string::npos);  // open at the end
  std::ostringstream empty_js, empty_svg;
  tr::write_chrome_json(empty_js, tr::Trace{});
  tr::write_svg(empty_svg, tr::Trace{});
  CHECK(empty_js.str().rfind("{\"displayTimeUnit\"", 0) == 0);
  CHECK(parse_svg(empty_svg.str()).rows.empty());
}
