// loop.add_signal_handler() / remove_signal_handler() and run()'s Ctrl-C
// (asyncio.run() in 3.11). The Ctrl-C cases run a child process that gets a
// real SIGINT: this binary re-executed, and the Python original beside it.
#include "test_support.hpp"

#include <sys/syscall.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace asyncuv;

namespace {

bool has_default_disposition(int sig) {
  struct sigaction current{};
  REQUIRE(sigaction(sig, nullptr, &current) == 0);
  return !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL;
}

template <class E>
std::string message_of(const auto& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "no error";
}

Coro<void> noop_coro() { co_return; }

}  // namespace

TEST_CASE("a signal handler runs through the loop, with its arguments, when the signal arrives") {
  Log log;
  run([](Log& log) -> Coro<void> {
    auto& loop = get_running_loop();
    loop.add_signal_handler(SIGUSR1, [&log](const std::string& what, int n) { log.push_back(what + std::to_string(n)); },
                            std::string("usr1 "), 1);
    REQUIRE(raise(SIGUSR1) == 0);
    log.push_back("raised");  // the callback never runs inside raise()
    for (int i = 0; i < 200 && log.size() < 2; ++i) co_await sleep(0.005);
    REQUIRE(kill(getpid(), SIGUSR1) == 0);
    for (int i = 0; i < 200 && log.size() < 3; ++i) co_await sleep(0.005);
  }(log));
  CHECK(log == Log{"raised", "usr1 1", "usr1 1"});
  CHECK(has_default_disposition(SIGUSR1));  // the loop's close removed it
}

TEST_CASE("a second add replaces the handler; remove returns true, then false, and restores the default") {
  Log log;
  run([](Log& log) -> Coro<void> {
    auto& loop = get_running_loop();
    loop.add_signal_handler(SIGUSR2, [&log] { log.push_back("first"); });
    loop.add_signal_handler(SIGUSR2, [&log] { log.push_back("second"); });
    CHECK_FALSE(has_default_disposition(SIGUSR2));
    raise(SIGUSR2);
    for (int i = 0; i < 200 && log.empty(); ++i) co_await sleep(0.005);
    CHECK(loop.remove_signal_handler(SIGUSR2));
    CHECK(has_default_disposition(SIGUSR2));
    CHECK_FALSE(loop.remove_signal_handler(SIGUSR2));
    CHECK_FALSE(loop.remove_signal_handler(SIGHUP));  // never added
  }(log));
  CHECK(log == Log{"second"});
}

TEST_CASE("add_signal_handler's errors are asyncio's, with its messages") {
  run([]() -> Coro<void> {
    auto& loop = get_running_loop();
    CHECK(message_of<TypeError>([&] { loop.add_signal_handler(SIGUSR1, noop_coro); }) ==
          "coroutines cannot be used with add_signal_handler()");
    for (int sig : {0, -1, 32, 33, 65, 1000}) {
      CAPTURE(sig);
      CHECK(message_of<ValueError>([&] { loop.add_signal_handler(sig, [] {}); }) ==
            "invalid signal number " + std::to_string(sig));
      CHECK(message_of<ValueError>([&] { loop.remove_signal_handler(sig); }) ==
            "invalid signal number " + std::to_string(sig));
    }
    CHECK(message_of<RuntimeError>([&] { loop.add_signal_handler(SIGKILL, [] {}); }) == "sig 9 cannot be caught");
    CHECK(message_of<RuntimeError>([&] { loop.add_signal_handler(SIGSTOP, [] {}); }) == "sig 19 cannot be caught");
    CHECK_FALSE(loop.remove_signal_handler(SIGKILL));
    // Real-time signals are valid ones.
    loop.add_signal_handler(SIGRTMIN, [] {});
    CHECK(loop.remove_signal_handler(SIGRTMIN));
    co_return;
  }());
}

TEST_CASE("an exception from a signal handler goes to the loop's exception handler") {
  std::vector<std::string> seen;
  run([](std::vector<std::string>& seen) -> Coro<void> {
    auto& loop = get_running_loop();
    loop.set_exception_handler([&seen](const ExceptionContext& ctx) {
      try {
        std::rethrow_exception(ctx.exception);
      } catch (const std::exception& e) {
        seen.push_back(ctx.message + ": " + e.what());
      }
    });
    loop.add_signal_handler(SIGUSR1, [] { throw std::runtime_error("boom"); });
    raise(SIGUSR1);
    for (int i = 0; i < 200 && seen.empty(); ++i) co_await sleep(0.005);
    raise(SIGUSR1);  // still installed
    for (int i = 0; i < 200 && seen.size() < 2; ++i) co_await sleep(0.005);
  }(seen));
  CHECK(seen == std::vector<std::string>{"Exception in callback: boom", "Exception in callback: boom"});
}

TEST_CASE("signal handlers keep neither the loop nor a dropped task alive; closing the loop removes them all") {
  int calls = 0;
  run([](int& calls) -> Coro<void> {
    auto& loop = get_running_loop();
    for (int sig : {SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGWINCH})
      loop.add_signal_handler(sig, [&calls, big = std::string(100, 'x')] { calls += static_cast<int>(big.size()); });
    // A task left pending at shutdown must not be waited for because of them.
    create_task([]() -> Coro<void> { co_await sleep(3600); }());
    co_return;
  }(calls));
  CHECK(calls == 0);
  for (int sig : {SIGUSR1, SIGUSR2, SIGHUP, SIGWINCH}) CHECK(has_default_disposition(sig));
}

TEST_CASE("a handler added outside a running loop's thread is refused") {
  CHECK_THROWS_AS(
      [] {
        EventLoop* none = EventLoop::current();
        REQUIRE(none == nullptr);
        run([]() -> Coro<void> {
          auto& loop = get_running_loop();
          std::string error;
          std::thread([&] {
            try {
              loop.add_signal_handler(SIGUSR1, [] {});
            } catch (const RuntimeError& e) {
              error = e.what();
            }
          }).join();
          CHECK(error == "Non-thread-safe operation invoked on an event loop other than the current one");
          throw RuntimeError("done");
          co_return;
        }());
      }(),
      RuntimeError);
}

TEST_CASE("two loops on two threads each see the signal") {
  std::atomic<int> installed{0}, seen{0};
  auto watcher = [&installed, &seen] {
    run([](std::atomic<int>& installed, std::atomic<int>& seen) -> Coro<void> {
      int mine = 0;
      get_running_loop().add_signal_handler(SIGUSR1, [&mine] { ++mine; });
      ++installed;
      for (int i = 0; i < 2000 && mine == 0; ++i) co_await sleep(0.005);
      seen += mine > 0;
    }(installed, seen));
  };
  std::thread a(watcher), b(watcher);
  // Both handlers in place first: SIGUSR1's default would end the process.
  for (int i = 0; i < 2000 && installed < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(installed == 2);
  if (installed == 2) kill(getpid(), SIGUSR1);
  a.join();
  b.join();
  CHECK(seen == 2);
  CHECK(has_default_disposition(SIGUSR1));
}

// ---- Ctrl-C ----

namespace {

constexpr const char* child_env = "ASYNCUV_TEST_SIGINT_CHILD";

void say(const char* text) {
  std::printf("%s\n", text);
  std::fflush(stdout);
}

Coro<int> interrupted_main(std::string mode) {
  say("ready");
  try {
    co_await sleep(30);
  } catch (const CancelledError&) {
    say("cleanup");
    if (mode == "swallow") co_return 7;
    if (mode != "second") throw;
  }
  co_await sleep(30);  // "second": the next Ctrl-C ends the process here
  co_return 0;
}

// A child process: one side of the comparison.
struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string text;

  // quiet: stderr to /dev/null (CPython prints the second Ctrl-C's traceback).
  Child(std::vector<std::string> argv, bool quiet) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(fds[1], 1);
      if (quiet) freopen("/dev/null", "w", stderr);
      signal(SIGINT, SIG_DFL);  // an ignored SIGINT would survive exec: start as a shell would
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out = fds[0];
  }
  // Reads until `line` has been printed or EOF; bounded to 20 s.
  bool read_until(const std::string& line) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (text.find(line + "\n") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{out, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = read(out, buf, sizeof buf);
      if (n <= 0) return false;
      text.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // "exit N" or "signal N", after reading the rest; kills it after 20 s.
  std::string wait() {
    read_until("\x01never");
    for (int i = 0; i < 2000; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        close(out);
        if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
        return "status " + std::to_string(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(out);
    return "hung";
  }
};

// SIGINT to the child's main thread (tgkill), not to the whole process, so
// that under ThreadSanitizer it cannot land on TSan's background thread; a
// terminal's Ctrl-C reaches a single-threaded program's main thread anyway.
bool interrupt_main_thread(pid_t pid) { return syscall(SYS_tgkill, pid, pid, SIGINT) == 0; }

struct ChildEnd {
  std::string output;
  std::string status;
};

// Starts the child, sends SIGINT after "ready" (and again after "cleanup"
// in mode "second"), and returns what it printed and how it ended.
ChildEnd interrupt(std::vector<std::string> argv, const std::string& mode) {
  const bool quiet = argv[0] == "/usr/bin/python3";
  Child child(std::move(argv), quiet);
  REQUIRE(child.read_until("ready"));
  REQUIRE(interrupt_main_thread(child.pid));
  if (mode == "second" && child.read_until("cleanup")) REQUIRE(interrupt_main_thread(child.pid));
  ChildEnd o;
  o.status = child.wait();
  o.output = child.text;
  return o;
}

// Under ThreadSanitizer a Ctrl-C is sometimes never handled (the child
// prints "ready" and nothing more, with or without this library's change of
// the day: 1 run in 2 of the "second" case here, never natively or under
// ASan in hundreds of runs). TSan defers a signal's handler to a point where
// the receiving thread enters one of its interceptors; we have not found
// why that point never comes here. So a sanitized build gives a child whose
// Ctrl-C was not seen at all (no "cleanup") two more tries; any other
// outcome counts at once, and a native build gets one try.
ChildEnd interrupt_cpp(const std::string& mode) {
  setenv(child_env, mode.c_str(), 1);
  ChildEnd o;
  for (int attempt = 0; attempt < (support::sanitized_build ? 3 : 1); ++attempt) {
    o = interrupt({"/proc/self/exe", "-tc=Ctrl-C: child*", "--no-intro", "--no-version"}, mode);
    if (o.output.find("cleanup") != std::string::npos) break;
    if (support::sanitized_build) MESSAGE("Ctrl-C not seen under a sanitizer (" << o.status << "): trying again");
  }
  unsetenv(child_env);
  return o;
}

}  // namespace

TEST_CASE("Ctrl-C: child (runs only when started by the cases below)") {
  const char* mode = std::getenv(child_env);
  if (!mode) return;
  // The test framework catches SIGINT itself; a program starts at the default.
  signal(SIGINT, SIG_DFL);
  try {
    const int r = run(interrupted_main(mode));
    std::printf("returned %d\n", r);
  } catch (const KeyboardInterrupt& e) {
    say(e.what());
  }
  std::fflush(stdout);
  std::_Exit(has_default_disposition(SIGINT) ? 0 : 3);  // run() gave SIGINT back
}

TEST_CASE("Ctrl-C cancels the main task, which cleans up; then run() raises KeyboardInterrupt") {
  const ChildEnd o = interrupt_cpp("reraise");
  CHECK(o.output == "ready\ncleanup\nKeyboardInterrupt\n");
  CHECK(o.status == "exit 0");
}

TEST_CASE("Ctrl-C: a main task that swallows the cancel returns its value, as with asyncio.run()") {
  const ChildEnd o = interrupt_cpp("swallow");
  CHECK(o.output == "ready\ncleanup\nreturned 7\n");
  CHECK(o.status == "exit 0");
}

TEST_CASE("Ctrl-C: a second SIGINT while main cleans up ends the process by SIGINT") {
  const ChildEnd o = interrupt_cpp("second");
  CHECK(o.output == "ready\ncleanup\n");
  CHECK(o.status == "signal " + std::to_string(SIGINT));
}

TEST_CASE("Ctrl-C: the same output and end as the Python original (CPython 3.11)") {
  if (access("/usr/bin/python3", X_OK) != 0) {
    MESSAGE("SKIPPED: no /usr/bin/python3");
    return;
  }
  for (const std::string mode : {"reraise", "swallow", "second"}) {
    CAPTURE(mode);
    const ChildEnd py = interrupt({"/usr/bin/python3", ASYNCUV_TEST_DIR "sigint_ref.py", mode}, mode);
    const ChildEnd cpp = interrupt_cpp(mode);
    CHECK(cpp.output == py.output);
    CHECK(cpp.status == py.status);
  }
}

TEST_CASE("run() leaves SIGINT alone when it is not at its default disposition, and off the main thread") {
  // Here SIGINT is the test framework's: run() must not take it over.
  struct sigaction before{};
  sigaction(SIGINT, nullptr, &before);
  run([](void* framework_handler) -> Coro<void> {
    struct sigaction now{};
    sigaction(SIGINT, nullptr, &now);
    CHECK(reinterpret_cast<void*>(now.sa_handler) == framework_handler);  // not taken over while running
    co_return;
  }(reinterpret_cast<void*>(before.sa_handler)));
  struct sigaction after{};
  sigaction(SIGINT, nullptr, &after);
  CHECK(reinterpret_cast<void*>(after.sa_handler) == reinterpret_cast<void*>(before.sa_handler));
  // Off the main thread, even at the default disposition, run() installs nothing.
  signal(SIGINT, SIG_DFL);
  std::thread([] {
    run([]() -> Coro<void> {
      struct sigaction now{};
      sigaction(SIGINT, nullptr, &now);
      CHECK(reinterpret_cast<void*>(now.sa_handler) == nullptr);  // SIG_DFL
      co_return;
    }());
  }).join();
  sigaction(SIGINT, &before, nullptr);
}
