// asyncuv_demo.cpp — the asyncuv-demo CLI: runs the seed programs by name
// (or `all`), with Python-compatible --seed, a --time-scale for every delay,
// --timing on stderr, and --trace / --timeline to see what the loop did.
// Bad input: one error line, the usage, exit 2; a file that cannot be
// written: one error line, exit 1.
#include <asyncuv/asyncuv.hpp>
#include <cxxopts.hpp>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "demo.hpp"

#ifndef ASYNCUV_VERSION
#define ASYNCUV_VERSION "unknown"
#endif

namespace {

constexpr const char* prog = "asyncuv-demo";

struct UsageError {
  std::string message;
};

// A file we cannot write (--trace, --timeline): reported without the usage.
struct FileError {
  std::string message;
};

// Opened before the programs run, so that a bad path fails at once.
std::ofstream open_output(const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw FileError{"cannot open '" + path + "' for writing: " + std::strerror(errno)};
  return f;
}

void finish_output(std::ofstream& f, const std::string& path) {
  f.close();
  if (!f) throw FileError{"cannot write '" + path + "'"};
}

// What --trace and --timeline ask for: the files, and the recording.
struct TraceOutputs {
  bool want_trace = false, want_timeline = false;
  std::string trace_path, timeline_path;
  std::ofstream trace_file, timeline_file;
  std::optional<asyncuv::trace::Recorder> recorder;

  bool wanted() const { return want_trace || want_timeline; }
  void write(const std::string& program) {
    const asyncuv::trace::Trace t = recorder->stop();
    if (want_trace) {
      asyncuv::trace::write_chrome_json(trace_file, t);
      finish_output(trace_file, trace_path);
    }
    if (want_timeline) {
      char took[32];
      std::snprintf(took, sizeof took, "%.3f", static_cast<double>(t.end_ns) / 1e9);
      asyncuv::trace::write_svg(timeline_file, t, std::string(prog) + " " + program + ": " + took + " s in all");
      finish_output(timeline_file, timeline_path);
    }
  }
};

// The table of programs, plus `all`, one per line.
std::string program_list() {
  std::string s;
  auto line = [&](const std::string& name, const std::string& desc) {
    s += "  " + name + std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') + desc + "\n";
  };
  for (const auto& p : demo::programs) line(p.name, p.description);
  line("all", "run the five seed programs in sequence (not the network ones)");
  return s;
}

// --time-scale: a finite, non-negative decimal number.
double parse_time_scale(const std::string& s) {
  const bool plain = !s.empty() && s.find_first_not_of("0123456789.eE+-") == std::string::npos;
  char* end = nullptr;
  const double x = plain ? std::strtod(s.c_str(), &end) : NAN;
  if (!plain || end != s.c_str() + s.size() || !std::isfinite(x) || x < 0)
    throw UsageError{"invalid --time-scale '" + s + "': expected a finite number >= 0"};
  return x;
}

// --port: 0..65535 (0: the kernel picks one; the server prints it).
int parse_port(const std::string& s) {
  const UsageError bad{"invalid --port '" + s + "': expected an integer between 0 and 65535"};
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) throw bad;
  const int p = std::stoi(s);
  if (p > 65535) throw bad;
  return p;
}

// --seed: a Python int with |n| < 2**64; random.seed(n) uses |n|, so we keep only it.
std::uint64_t parse_seed_magnitude(const std::string& s) {
  const std::size_t digits = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  const UsageError bad{"invalid --seed '" + s + "': expected an integer between -(2**64-1) and 2**64-1"};
  if (s.size() == digits || s.find_first_not_of("0123456789", digits) != std::string::npos) throw bad;
  std::uint64_t n = 0;
  for (std::size_t i = digits; i < s.size(); ++i) {
    const auto d = static_cast<std::uint64_t>(s[i] - '0');
    if (n > (UINT64_MAX - d) / 10) throw bad;
    n = n * 10 + d;
  }
  return n;
}

// cxxopts quotes names with ‘’ on POSIX; keep our messages ASCII.
std::string ascii_quotes(std::string s) {
  for (const std::string q : {"\u2018", "\u2019"})
    for (auto i = s.find(q); i != std::string::npos; i = s.find(q)) s.replace(i, q.size(), "'");
  return s;
}

// Runs one program (a separate asyncuv::run each, like each snippet's asyncio.run).
void run_one(const demo::Program& p, bool timing) {
  const auto t0 = std::chrono::steady_clock::now();
  p.run();
  if (timing) {
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    std::fprintf(stderr, "%s: %s took %.3f s\n", prog, p.name, dt.count());
  }
}

int run_cli(int argc, char** argv) {
  cxxopts::Options options(prog, "Runs the seed's asyncio programs, ported to asyncuv.");
  options.custom_help("[OPTIONS]").positional_help("PROGRAM");
  options.add_options()
      ("list", "list the programs and exit")
      ("time-scale", "multiply every delay by X (default 1)", cxxopts::value<std::string>(), "X")
      ("seed", "random.seed(N) before running (default: seeded from the OS)", cxxopts::value<std::string>(), "N")
      ("timing", "report the elapsed wall time on stderr")
      ("port", "the TCP port of the tcp_echo programs (default 8888)", cxxopts::value<std::string>(), "P")
      ("trace", "write what the loop did to FILE as Chrome trace-event JSON (Perfetto, chrome://tracing)",
       cxxopts::value<std::string>(), "FILE")
      ("timeline", "draw what the loop did as an SVG chart in FILE (one row per task)",
       cxxopts::value<std::string>(), "FILE")
      ("h,help", "show this help and exit")
      ("version", "print the version and exit")
      ("program", "the program to run", cxxopts::value<std::vector<std::string>>());
  options.parse_positional({"program"});
  const std::string help = options.help() + "\nPrograms:\n" + program_list();
  std::string usage = std::string("usage: ") + prog + " [OPTIONS] PROGRAM\nPROGRAM is one of:";
  for (const auto& p : demo::programs) usage += std::string(" ") + p.name;
  usage += " all (see --help)\n";

  try {
    const auto args = options.parse(argc, argv);
    if (args.count("help")) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
    if (args.count("version")) {
      std::printf("%s %s\n", prog, ASYNCUV_VERSION);
      return 0;
    }
    if (args.count("list")) {
      std::fputs(program_list().c_str(), stdout);
      return 0;
    }
    const auto names = args.count("program") ? args["program"].as<std::vector<std::string>>()
                                             : std::vector<std::string>{};
    if (names.empty()) throw UsageError{"missing program name (see --list)"};
    if (names.size() > 1) throw UsageError{"unexpected extra argument '" + names[1] + "'"};

    std::vector<const demo::Program*> chosen;
    for (const auto& p : demo::programs)
      if ((names[0] == "all" && !p.network) || names[0] == p.name) chosen.push_back(&p);
    if (chosen.empty()) throw UsageError{"unknown program '" + names[0] + "' (see --list)"};

    if (args.count("port")) demo::port = parse_port(args["port"].as<std::string>());
    if (args.count("time-scale")) demo::time_scale = parse_time_scale(args["time-scale"].as<std::string>());
    if (args.count("seed")) {
      asyncuv::random::seed(parse_seed_magnitude(args["seed"].as<std::string>()));
    } else {
      asyncuv::random::seed();  // from the OS, like Python
    }
    const bool timing = args.count("timing") > 0;
    TraceOutputs traced;
    traced.want_trace = args.count("trace") > 0;
    traced.want_timeline = args.count("timeline") > 0;
    if (traced.want_trace) {
      traced.trace_path = args["trace"].as<std::string>();
      traced.trace_file = open_output(traced.trace_path);
    }
    if (traced.want_timeline) {
      traced.timeline_path = args["timeline"].as<std::string>();
      traced.timeline_file = open_output(traced.timeline_path);
    }
    if (traced.wanted()) traced.recorder.emplace();

    const auto t0 = std::chrono::steady_clock::now();
    for (const auto* p : chosen) run_one(*p, timing);
    if (traced.wanted()) traced.write(names[0]);
    if (timing && chosen.size() > 1) {
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      std::fprintf(stderr, "%s: all took %.3f s\n", prog, dt.count());
    }
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n%s", prog, e.message.c_str(), usage.c_str());
  } catch (const FileError& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, e.message.c_str());
    return 1;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n%s", prog, ascii_quotes(e.what()).c_str(), usage.c_str());
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int rc = 1;
  try {
    rc = run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, e.what());
  } catch (const asyncuv::KeyboardInterrupt&) {
    // Ctrl-C: as CPython does after a KeyboardInterrupt, flush and end by
    // SIGINT itself, so that the shell sees an interrupted program.
    std::fputs("KeyboardInterrupt\n", stderr);
    std::fflush(stdout);
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  } catch (const asyncuv::CancelledError& e) {
    std::fprintf(stderr, "%s: error: cancelled: %s\n", prog, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: error: unknown exception\n", prog);
  }
  // Everything goes out the same way whether stdout is a pipe or a tty.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "%s: error: cannot write to stdout\n", prog);
    return 1;
  }
  return rc;
}
