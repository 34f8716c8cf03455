// timeline_svg.cpp — a trace as a self-contained SVG Gantt chart: one row per
// task (running and waiting bars), the loop's callbacks and timers as ticks
// on a row of their own, the time axis in seconds. Every number is printed
// with a fixed precision, so the same events always give the same file.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

#include "asyncuv/trace.hpp"

namespace asyncuv::trace {

namespace {

// Geometry, in pixels.
constexpr double width = 960, label_width = 150, right_margin = 24;
constexpr double plot_width = width - label_width - right_margin;
constexpr double rows_top = 44, row_height = 24, bar_height = 14, bar_inset = (row_height - bar_height) / 2;
constexpr double min_bar = 1;         // a slice of microseconds still shows
constexpr double char_width = 6.5;    // for 11px sans-serif: room for a label
constexpr std::size_t max_label = 22;  // row labels longer than this are cut

constexpr const char* running_fill = "#3b78c2";
constexpr const char* waiting_fill = "#f6cf85";
constexpr const char* waiting_stroke = "#c99532";

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double x, int decimals = 2) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

// Seconds, exactly: the data-begin / data-end attributes tests read back.
std::string seconds(std::uint64_t ns) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%" PRIu64 ".%09" PRIu64, ns / 1'000'000'000, ns % 1'000'000'000);
  return buf;
}

// The time axis: the smallest step of 1, 2 or 5 times a power of ten that
// covers the trace in at most twelve steps; the axis ends on a whole step.
struct Axis {
  double step = 1, end = 1;
  int decimals = 0;
  double px_per_s = plot_width;

  explicit Axis(std::uint64_t span_ns) {
    constexpr double max_steps = 12;
    const double span = std::max(static_cast<double>(span_ns) / 1e9, 1e-6);
    int exponent = static_cast<int>(std::floor(std::log10(span / max_steps)));
    for (;; ++exponent) {
      const double base = std::pow(10.0, exponent);
      for (const double m : {1.0, 2.0, 5.0}) {
        step = m * base;
        if (std::ceil(span / step - 1e-9) <= max_steps) {
          decimals = std::max(0, -exponent);
          end = std::ceil(span / step - 1e-9) * step;
          px_per_s = plot_width / end;
          return;
        }
      }
    }
  }
  double x(std::uint64_t ns) const { return label_width + static_cast<double>(ns) / 1e9 * px_per_s; }
};

class SvgWriter {
public:
  SvgWriter(std::ostream& out, const Timeline& tl) : out_(out), tl_(tl), axis_(tl.end_ns) {}

  void write(std::string_view title) {
    const std::size_t nrows = tl_.rows.size() + (tl_.loop_events.empty() ? 0 : 1);
    const double rows_bottom = rows_top + static_cast<double>(nrows) * row_height;
    const double height = rows_bottom + 76;
    out_ << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << fixed(width, 0) << "\" height=\""
         << fixed(height, 0) << "\" viewBox=\"0 0 " << fixed(width, 0) << ' ' << fixed(height, 0)
         << "\" font-family=\"sans-serif\" font-size=\"11\" data-x0=\"" << fixed(label_width, 0)
         << "\" data-px-per-s=\"" << fixed(axis_.px_per_s, 6) << "\">\n";
    out_ << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    out_ << "<text class=\"title\" x=\"" << fixed(width / 2, 0) << "\" y=\"26\" text-anchor=\"middle\" font-size=\"16\""
         << " font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
    double y = rows_top;
    std::size_t i = 0;
    for (const TaskRow& row : tl_.rows) {
      write_row(row, y, i++);
      y += row_height;
    }
    if (!tl_.loop_events.empty()) write_loop_row(y, i);
    write_axis(rows_bottom);
    write_legend(rows_bottom + 58);
    out_ << "</svg>\n";
  }

private:
  void row_background(double y, std::size_t i) {
    if (i % 2 == 0) return;
    out_ << "  <rect x=\"0\" y=\"" << fixed(y) << "\" width=\"" << fixed(width, 0) << "\" height=\""
         << fixed(row_height) << "\" fill=\"#f4f4f4\"/>\n";
  }
  void row_label(std::string_view name, std::string_view tooltip, double y) {
    std::string shown(name.substr(0, max_label));
    if (name.size() > max_label) shown += "...";
    out_ << "  <text class=\"label\" x=\"" << fixed(label_width - 8) << "\" y=\"" << fixed(y + row_height / 2 + 4)
         << "\" text-anchor=\"end\">" << xml_escape(shown) << "<title>" << xml_escape(tooltip) << "</title></text>\n";
  }

  void write_row(const TaskRow& row, double y, std::size_t i) {
    out_ << "<g class=\"task\" data-task=\"" << xml_escape(row.name) << "\" data-id=\"" << row.task
         << "\" data-outcome=\"" << kind_name(row.outcome) << "\">\n";
    row_background(y, i);
    row_label(row.name, row.name + " (" + kind_name(row.outcome) + ")", y);
    for (const Span& s : row.spans) write_bar(row, s, y);
    const bool ended_badly = row.outcome == EventKind::failed || row.outcome == EventKind::cancelled ||
                             row.outcome == EventKind::abandoned;
    if (ended_badly) {
      out_ << "  <text class=\"outcome\" x=\"" << fixed(axis_.x(row.end_ns) + 4) << "\" y=\""
           << fixed(y + row_height / 2 + 4) << "\" fill=\"#b03030\">" << kind_name(row.outcome) << "</text>\n";
    }
    out_ << "</g>\n";
  }

  void write_bar(const TaskRow& row, const Span& s, double y) {
    const double x = axis_.x(s.begin_ns);
    const double w = std::max(axis_.x(s.end_ns) - x, min_bar);
    const std::string what = s.running ? std::string("running") : std::string("waiting on ") + s.on;
    out_ << "  <rect class=\"" << (s.running ? "running" : "waiting") << "\" data-begin=\"" << seconds(s.begin_ns)
         << "\" data-end=\"" << seconds(s.end_ns) << '"';
    if (!s.running) out_ << " data-on=\"" << xml_escape(s.on) << '"';
    out_ << " x=\"" << fixed(x, 3) << "\" y=\"" << fixed(y + bar_inset) << "\" width=\"" << fixed(w, 3)
         << "\" height=\"" << fixed(bar_height) << "\" fill=\"" << (s.running ? running_fill : waiting_fill) << '"';
    if (!s.running) out_ << " stroke=\"" << waiting_stroke << "\" stroke-width=\"0.5\"";
    out_ << "><title>" << xml_escape(row.name) << ": " << xml_escape(what) << ", " << fixed(s.begin_ns / 1e9, 6)
         << " s to " << fixed(s.end_ns / 1e9, 6) << " s" << (s.open ? " (still, when the trace stopped)" : "")
         << "</title></rect>\n";
    // The waiting reason inside the bar, when it fits.
    if (!s.running && w > static_cast<double>(std::string_view(s.on).size()) * char_width + 8) {
      out_ << "  <text class=\"on\" x=\"" << fixed(x + w / 2) << "\" y=\"" << fixed(y + row_height / 2 + 4)
           << "\" text-anchor=\"middle\" fill=\"#5a4210\">" << xml_escape(s.on) << "</text>\n";
    }
  }

  void write_loop_row(double y, std::size_t i) {
    out_ << "<g class=\"loop\">\n";
    row_background(y, i);
    row_label("event loop", "callbacks (grey) and timers (red) the loop ran", y);
    for (const Event* e : tl_.loop_events) {
      const bool timer = e->kind == EventKind::timer;
      out_ << "  <line class=\"" << kind_name(e->kind) << "\" data-at=\"" << seconds(e->time_ns) << "\" x1=\""
           << fixed(axis_.x(e->time_ns), 3) << "\" x2=\"" << fixed(axis_.x(e->time_ns), 3) << "\" y1=\""
           << fixed(y + bar_inset) << "\" y2=\"" << fixed(y + bar_inset + bar_height) << "\" stroke=\""
           << (timer ? "#c03a2b" : "#8a8a8a") << "\" stroke-width=\"1\"/>\n";
    }
    out_ << "</g>\n";
  }

  void write_axis(double y) {
    out_ << "<g class=\"axis\">\n";
    out_ << "  <line x1=\"" << fixed(label_width) << "\" x2=\"" << fixed(label_width + plot_width) << "\" y1=\""
         << fixed(y + 4) << "\" y2=\"" << fixed(y + 4) << "\" stroke=\"#333333\"/>\n";
    const int ticks = static_cast<int>(std::lround(axis_.end / axis_.step));
    for (int k = 0; k <= ticks; ++k) {
      const double t = k * axis_.step;
      const double x = label_width + t * axis_.px_per_s;
      out_ << "  <line class=\"grid\" x1=\"" << fixed(x) << "\" x2=\"" << fixed(x) << "\" y1=\"" << fixed(rows_top)
           << "\" y2=\"" << fixed(y + 8) << "\" stroke=\"#cccccc\" stroke-width=\"0.5\"/>\n";
      out_ << "  <text class=\"tick\" data-s=\"" << fixed(t, axis_.decimals) << "\" x=\"" << fixed(x) << "\" y=\""
           << fixed(y + 20) << "\" text-anchor=\"middle\">" << fixed(t, axis_.decimals) << "</text>\n";
    }
    out_ << "  <text x=\"" << fixed(label_width + plot_width / 2) << "\" y=\"" << fixed(y + 36)
         << "\" text-anchor=\"middle\">time (s)</text>\n";
    out_ << "</g>\n";
  }

  void write_legend(double y) {
    out_ << "<g class=\"legend\">\n";
    out_ << "  <rect x=\"" << fixed(label_width) << "\" y=\"" << fixed(y - 10) << "\" width=\"14\" height=\"10\" fill=\""
         << running_fill << "\"/><text x=\"" << fixed(label_width + 20) << "\" y=\"" << fixed(y) << "\">running</text>\n";
    out_ << "  <rect x=\"" << fixed(label_width + 90) << "\" y=\"" << fixed(y - 10)
         << "\" width=\"14\" height=\"10\" fill=\"" << waiting_fill << "\" stroke=\"" << waiting_stroke
         << "\" stroke-width=\"0.5\"/><text x=\"" << fixed(label_width + 110) << "\" y=\"" << fixed(y)
         << "\">waiting (on what: in the bar, or hover)</text>\n";
    out_ << "</g>\n";
  }

  std::ostream& out_;
  const Timeline& tl_;
  Axis axis_;
};

}  // namespace

void write_svg(std::ostream& out, const Trace& t, std::string_view title) {
  const Timeline tl = timeline(t);
  SvgWriter(out, tl).write(title);
}

}  // namespace asyncuv::trace
