// subprocess.cpp — asyncio.subprocess on the process core (detail/process.hpp):
// Process's wait() and communicate(), create_subprocess_exec/_shell.
#include "asyncuv/subprocess.hpp"

#include "asyncuv/gather.hpp"

namespace asyncuv {

namespace {

using Output = std::optional<std::string>;

// base_subprocess's _wait: at once if the child has exited, else until it
// has exited and its pipes are closed. The core is held while waiting.
Coro<int> wait_for(detail::ProcessRef p) {
  if (!p->returncode()) co_await detail::ListWaiter(p->exit_waiters());
  co_return *p->returncode();
}

// Process._feed_stdin.
Coro<void> feed_stdin(StreamWriter stdin_writer, std::string input) {
  stdin_writer.write(input);
  try {
    co_await stdin_writer.drain();
  } catch (const BrokenPipeError&) {  // communicate() ignores these two, as asyncio's
  } catch (const ConnectionResetError&) {
  }
  stdin_writer.close();
}

Coro<void> nothing() { co_return; }
Coro<Output> no_output() { co_return std::nullopt; }

// Process._read_stream: everything up to EOF, then the pipe is closed.
Coro<Output> read_stream(StreamReader reader) {
  std::string all = co_await reader.read();
  co_return all;
}

Coro<std::pair<Output, Output>> communicate_with(detail::ProcessRef p, std::optional<StreamWriter> in,
                                                std::optional<StreamReader> out, std::optional<StreamReader> err,
                                                Output input) {
  Coro<void> feeding = input && in ? feed_stdin(*in, std::move(*input)) : nothing();
  Coro<Output> reading_out = out ? read_stream(*out) : no_output();
  Coro<Output> reading_err = err ? read_stream(*err) : no_output();
  auto [fed, stdout_bytes, stderr_bytes] =
      co_await gather(std::move(feeding), std::move(reading_out), std::move(reading_err));
  static_cast<void>(fed);
  co_await wait_for(p);
  co_return std::pair<Output, Output>{std::move(stdout_bytes), std::move(stderr_bytes)};
}

}  // namespace

Process::Process(detail::ProcessRef core) : pid(core->pid()), core_(std::move(core)) {
  if (detail::StreamCore* c = core_->pipe(0)) std_in.emplace(c, detail::FromCore{});
  if (detail::StreamCore* c = core_->pipe(1)) std_out.emplace(c, detail::FromCore{});
  if (detail::StreamCore* c = core_->pipe(2)) std_err.emplace(c, detail::FromCore{});
}

Coro<int> Process::wait() { return wait_for(core_); }

Coro<std::pair<Output, Output>> Process::communicate(Output input) {
  return communicate_with(core_, std_in, std_out, std_err, std::move(input));
}

namespace detail {

SpawnArgs spawn_args(std::string program, std::vector<std::string> argv, const Popen& options) {
  SpawnArgs a;
  a.program = std::move(program);
  a.argv = std::move(argv);
  a.stdio[0] = options.std_in;
  a.stdio[1] = options.std_out;
  a.stdio[2] = options.std_err;
  if (options.limit == 0 || options.limit > static_cast<std::size_t>(PTRDIFF_MAX)) {
    throw ValueError("Limit cannot be <= 0");
  }
  a.limit = options.limit;
  if (options.cwd) a.cwd = options.cwd;
  if (options.env) {
    a.env.emplace();
    for (const auto& [name, value] : *options.env) a.env->push_back(name + "=" + value);
  }
  return a;
}

Coro<Process> spawn(SpawnArgs args) { co_return Process(ProcessCore::spawn(args)); }

}  // namespace detail

Coro<Process> create_subprocess_exec(std::string program, const std::vector<std::string>& args,
                                     const Popen& options) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  return detail::spawn(detail::spawn_args(std::move(program), std::move(argv), options));
}

Coro<Process> create_subprocess_shell(std::string cmd, const Popen& options) {
  return detail::spawn(detail::spawn_args("/bin/sh", {"/bin/sh", "-c", std::move(cmd)}, options));
}

}  // namespace asyncuv
