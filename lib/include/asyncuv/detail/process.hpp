// asyncuv/detail/process.hpp — one child process on uv_process_t, with
// asyncio's subprocess transport behaviour (base_subprocess.py): the exit
// status, the pipes it watches, and wait()'s "exited and every pipe closed".
//
// Reference counted: the Process handles, running wait()/communicate()
// coroutines and the open uv_process_t each hold a reference. The handle's
// reference lives in its OwnedHandle block and goes when libuv frees the
// block, so a child that outlives every Process is still reaped (the exit
// callback closes the handle), and a loop that closes first frees the core
// with the block: nothing leaks either way.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "owned_handle.hpp"
#include "stream.hpp"

namespace asyncuv {
class EventLoop;
}

namespace asyncuv::detail {

class ProcessCore;

// A counted reference on a ProcessCore.
class ProcessRef {
public:
  ProcessRef() noexcept = default;
  explicit ProcessRef(ProcessCore* p) noexcept;
  ProcessRef(const ProcessRef& o) noexcept : ProcessRef(o.p_) {}
  ProcessRef(ProcessRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  ProcessRef& operator=(ProcessRef o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~ProcessRef();
  ProcessCore* get() const noexcept { return p_; }
  ProcessCore* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

private:
  ProcessCore* p_ = nullptr;
};

// What the child's fd 0, 1 and 2 become (asyncio.subprocess's constants;
// nullopt is Python's None: inherited; n >= 0 an fd of ours).
inline constexpr int stdio_pipe = -1;
inline constexpr int stdio_stdout = -2;
inline constexpr int stdio_devnull = -3;

// Everything uv_spawn needs, owned (copied when create_subprocess_* is
// called, so a lazily awaited call dangles nothing).
struct SpawnArgs {
  std::string program;            // what is executed (and named by errors)
  std::vector<std::string> argv;  // argv[0] included
  std::optional<int> stdio[3];
  std::size_t limit = StreamCore::default_limit;
  std::optional<std::string> cwd;
  std::optional<std::vector<std::string>> env;  // "NAME=value"
};

class ProcessCore final : PipeWatcher {
public:
  // Spawns the child; throws the OSError of the failure (a missing program:
  // FileNotFoundError "[Errno 2] No such file or directory: 'prog'"). The
  // pipes asked for are open and reading when it returns.
  static ProcessRef spawn(const SpawnArgs& args);

  void incref() noexcept { ++refs_; }
  void decref() noexcept {
    if (--refs_ == 0) delete this;
  }

  int pid() const noexcept { return pid_; }
  // Set when the child exited: its status, or -signal when a signal ended it.
  const std::optional<int>& returncode() const noexcept { return returncode_; }
  // Exited and every pipe closed: base_subprocess's _try_finish.
  bool finished() const noexcept { return finished_; }
  WaitList& exit_waiters() noexcept { return exit_waiters_; }
  // The pipe of the child's fd 0, 1 or 2 (null if not a pipe).
  StreamCore* pipe(int fd) const noexcept { return pipes_[fd]; }

  // Popen.send_signal through asyncio's _check_proc: ProcessLookupError once
  // finished; nothing once exited (the pid may be reused); else kill(2)'s
  // error as OSError.
  void send_signal(int sig);

  // The handle's reference on its core (in the OwnedHandle block, so it goes
  // when libuv frees the block).
  struct Handle {
    uv_process_t process;
    ProcessRef keep;
  };

private:
  ProcessCore() noexcept = default;
  ~ProcessCore();
  void add_pipe(int fd, StreamCore* core, StreamCore::PipeRole role);
  int share_stdout_pipe(std::size_t limit);
  void choose_stdio(int fd, const std::optional<int>& want, uv_stdio_container_t* stdio, std::size_t limit);
  void start(EventLoop& loop, const uv_process_options_t& o, const SpawnArgs& a);
  void start_pipes();
  void pipe_lost(StreamCore& pipe) noexcept override;
  static void on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal);
  void try_finish() noexcept;

  std::uint32_t refs_ = 0;
  int pid_ = 0;
  int pipes_open_ = 0;
  bool finished_ = false;
  std::optional<int> returncode_;
  StreamCore* pipes_[3] = {};  // each holds a reference
  WaitList exit_waiters_;
  OwnedHandle<Handle> handle_;
};

inline ProcessRef::ProcessRef(ProcessCore* p) noexcept : p_(p) {
  if (p_) p_->incref();
}
inline ProcessRef::~ProcessRef() {
  if (p_) p_->decref();
}

}  // namespace asyncuv::detail
