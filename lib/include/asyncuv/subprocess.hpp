// asyncuv/subprocess.hpp — asyncio.subprocess: create_subprocess_exec,
// create_subprocess_shell and Process, on uv_spawn with uv_pipe_t pipes.
//
//   Python                                          C++
//   p = await asyncio.create_subprocess_exec(       auto p = co_await create_subprocess_exec(
//       'ls', '-l', stdout=PIPE)                        "ls", "-l", Popen{.std_out = PIPE});
//   out, err = await p.communicate()                auto [out, err] = co_await p.communicate();
//   p.returncode                                    p.returncode()   (std::optional<int>)
//   await p.stdout.readline()                       co_await p.std_out->readline();
//
// stdin, stdout and stderr are C macros, so the members and options are
// spelled std_in, std_out and std_err. Keyword arguments are a Popen
// aggregate; it holds only trivially destructible members (g++ 12 destroys
// twice an aggregate temporary with a non-trivial member inside a co_await
// expression), and create_subprocess_* copies what it points to at once.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <csignal>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/process.hpp"
#include "streams.hpp"

namespace asyncuv {

// asyncio.subprocess.PIPE, STDOUT, DEVNULL.
inline constexpr int PIPE = detail::stdio_pipe;
inline constexpr int STDOUT = detail::stdio_stdout;
inline constexpr int DEVNULL = detail::stdio_devnull;

// The keyword arguments of create_subprocess_exec/_shell (and Popen's that
// asyncio passes on). std_in/std_out/std_err: std::nullopt (Python's None,
// the default) inherits ours; PIPE, DEVNULL, STDOUT (std_err only: into the
// child's stdout), or an fd of ours.
struct Popen {
  std::optional<int> std_in = std::nullopt;
  std::optional<int> std_out = std::nullopt;
  std::optional<int> std_err = std::nullopt;
  std::size_t limit = detail::StreamCore::default_limit;  // the pipes' StreamReader limit
  const char* cwd = nullptr;                              // None: ours
  // None: ours. Else the child's whole environment, as Python's env= dict.
  const std::map<std::string, std::string>* env = nullptr;
};

class ASYNCUV_API Process {
public:
  explicit Process(detail::ProcessRef core);

  int pid = 0;
  // The pipes asked for with PIPE (Python's None otherwise).
  std::optional<StreamWriter> std_in;
  std::optional<StreamReader> std_out;
  std::optional<StreamReader> std_err;

  // The exit status once the child exited (-N when signal N ended it);
  // std::nullopt while it runs.
  std::optional<int> returncode() const noexcept { return core_->returncode(); }

  // The exit status; asyncio 3.11: at once if the child has exited, else
  // when it has exited and every pipe is closed. Cancelling leaves the
  // child running.
  Coro<int> wait();
  // Feeds `input` to stdin (then closes it; BrokenPipeError and
  // ConnectionResetError ignored), reads stdout and stderr to EOF at the
  // same time, then wait()s. Each output is std::nullopt if not a PIPE.
  // Without input stdin stays open, as in asyncio.
  Coro<std::pair<std::optional<std::string>, std::optional<std::string>>> communicate(
      std::optional<std::string> input = std::nullopt);

  // ProcessLookupError once the process has finished (exited, pipes closed).
  void send_signal(int sig) { core_->send_signal(sig); }
  void terminate() { send_signal(SIGTERM); }
  void kill() { send_signal(SIGKILL); }

  detail::ProcessCore& core() const noexcept { return *core_.get(); }  // internal

private:
  detail::ProcessRef core_;
};

namespace detail {

ASYNCUV_API Coro<Process> spawn(SpawnArgs args);
ASYNCUV_API SpawnArgs spawn_args(std::string program, std::vector<std::string> argv, const Popen& options);

template <class A>
concept ExecArgument = std::is_convertible_v<const A&, std::string_view> || std::is_same_v<std::decay_t<A>, Popen>;

inline void add_exec_argument(std::vector<std::string>& argv, Popen&, std::string_view a) { argv.emplace_back(a); }
inline void add_exec_argument(std::vector<std::string>&, Popen& options, const Popen& o) { options = o; }

}  // namespace detail

// asyncio.create_subprocess_exec(program, *args, stdin=..., ...): the
// arguments are strings, optionally followed by a Popen with the keyword
// arguments. A missing program is FileNotFoundError
// "[Errno 2] No such file or directory: 'prog'".
template <detail::ExecArgument... Args>
Coro<Process> create_subprocess_exec(std::string program, const Args&... args) {
  std::vector<std::string> argv{program};
  Popen options;
  (detail::add_exec_argument(argv, options, args), ...);
  return detail::spawn(detail::spawn_args(std::move(program), std::move(argv), options));
}

// The same with the arguments in a vector (program not included).
ASYNCUV_API Coro<Process> create_subprocess_exec(std::string program, const std::vector<std::string>& args,
                                                 const Popen& options = {});

// asyncio.create_subprocess_shell(cmd, ...): /bin/sh -c cmd.
ASYNCUV_API Coro<Process> create_subprocess_shell(std::string cmd, const Popen& options = {});

}  // namespace asyncuv
