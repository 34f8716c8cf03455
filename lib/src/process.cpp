// process.cpp — one child process on uv_process_t (see detail/process.hpp).
#include "asyncuv/detail/process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "asyncuv/detail/pipe.hpp"
#include "asyncuv/events.hpp"

namespace asyncuv::detail {

namespace {

// The StreamCore of a new pipe, referenced by the caller.
StreamCore* new_pipe_core(std::size_t limit) {
  auto* core = new StreamCore(limit);
  core->incref();
  try {
    open_pipe(*core);
  } catch (...) {
    core->decref();
    throw;
  }
  return core;
}

// Python names the cwd in the error when the child could not enter it.
std::string failed_name(const SpawnArgs& a) {
  struct stat st{};
  if (a.cwd && (::stat(a.cwd->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) return *a.cwd;
  return a.program;
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const std::string& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

ProcessCore::~ProcessCore() {
  for (StreamCore*& p : pipes_) {
    if (!p) continue;
    p->forget_watcher();
    std::exchange(p, nullptr)->decref();
  }
}

void ProcessCore::add_pipe(int fd, StreamCore* core, StreamCore::PipeRole role) {
  core->set_pipe_role(role, this);
  pipes_[fd] = core;  // the reference new_pipe_core took
}

// stderr=STDOUT with stdout=PIPE: one socket pair for both. Returns the
// child's end, which the caller closes after the spawn.
int ProcessCore::share_stdout_pipe(std::size_t limit) {
  int fds[2];
  if (const int rc = uv_socketpair(SOCK_STREAM, 0, fds, 0, 0); rc != 0) throw_uv_error(rc);
  StreamCore* core = nullptr;
  try {
    core = new_pipe_core(limit);
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  add_pipe(1, core, StreamCore::PipeRole::read);
  if (const int rc = uv_pipe_open(&core->handle.get()->pipe, fds[0]); rc != 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw_uv_error(rc);
  }
  return fds[1];
}

// What the child's `fd` becomes; stdio[0..fd) are chosen already.
void ProcessCore::choose_stdio(int fd, const std::optional<int>& want, uv_stdio_container_t* stdio,
                               std::size_t limit) {
  uv_stdio_container_t& c = stdio[fd];
  if (!want) {
    c.flags = UV_INHERIT_FD;
    c.data.fd = fd;
  } else if (*want == stdio_pipe) {
    StreamCore* core = new_pipe_core(limit);
    // The child's stdin is a socket pair we also read, to learn when the
    // child closed it (asyncio's write pipe watches its fd the same way).
    const bool is_stdin = fd == 0;
    add_pipe(fd, core, is_stdin ? StreamCore::PipeRole::write : StreamCore::PipeRole::read);
    c.flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE | (is_stdin ? UV_READABLE_PIPE : 0));
    c.data.stream = core->stream();
  } else if (*want == stdio_devnull) {
    c.flags = UV_IGNORE;  // libuv opens /dev/null in the child for fds 0-2
  } else if (*want == stdio_stdout && fd == 2) {
    c = stdio[1];  // whatever the child's stdout is
  } else if (*want >= 0) {
    c.flags = UV_INHERIT_FD;
    c.data.fd = *want;
  } else {
    throw_uv_error(UV_EBADF);  // what Popen raises for STDOUT elsewhere (it tries fd -2) or a negative fd
  }
}

ProcessRef ProcessCore::spawn(const SpawnArgs& a) {
  EventLoop& loop = get_running_loop();
  ProcessRef self(new ProcessCore);
  ignore_sigpipe();
  uv_stdio_container_t stdio[3] = {};
  int child_stdout_end = -1;
  struct CloseLater {
    int& fd;
    ~CloseLater() {
      if (fd >= 0) ::close(fd);  // the parent's copy of the child's end
    }
  } close_later{child_stdout_end};
  if (a.stdio[2] == stdio_stdout && a.stdio[1] == stdio_pipe) {
    child_stdout_end = self->share_stdout_pipe(a.limit);
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = child_stdout_end;
    stdio[2] = stdio[1];
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (child_stdout_end < 0 || fd == 0) self->choose_stdio(fd, a.stdio[fd], stdio, a.limit);
  }

  std::vector<char*> argv = c_strings(a.argv);
  std::vector<char*> env;
  if (a.env) env = c_strings(*a.env);
  uv_process_options_t o{};
  o.exit_cb = &ProcessCore::on_exit;
  o.file = a.program.c_str();
  o.args = argv.data();
  o.env = a.env ? env.data() : nullptr;
  o.cwd = a.cwd ? a.cwd->c_str() : nullptr;
  o.stdio_count = 3;
  o.stdio = stdio;
  self->start(loop, o, a);
  return self;
}

// uv_spawn initialises the handle even when it fails, so the block is
// opened whatever happens, and closed again on failure (the pipes close
// with the core).
void ProcessCore::start(EventLoop& loop, const uv_process_options_t& o, const SpawnArgs& a) {
  int spawned = 0;
  uv_loop_t* uv = loop.uv_loop();
  const int rc = handle_.open(handles_of(loop), [&](Handle* h) {
    spawned = uv_spawn(uv, &h->process, &o);
    return 0;
  });
  if (rc != 0) throw_uv_error(rc);
  if (spawned != 0) {
    handle_.close();
    throw_uv_error(spawned, failed_name(a));
  }
  Handle* h = handle_.get();
  h->process.data = this;
  h->keep = ProcessRef(this);
  pid_ = h->process.pid;
  start_pipes();
}

// connection_made on every pipe: libuv opened them in uv_spawn.
void ProcessCore::start_pipes() {
  for (StreamCore* p : pipes_) {
    if (!p) continue;
    ++pipes_open_;
    p->connection_made(false);
  }
}

void ProcessCore::on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal) {
  auto* self = static_cast<ProcessCore*>(p->data);
  self->returncode_ = term_signal != 0 ? -term_signal : static_cast<int>(exit_status);
  ProcessRef hold(self);  // closing the handle lets its reference go later
  self->handle_.close();
  self->try_finish();
}

void ProcessCore::pipe_lost(StreamCore&) noexcept {
  --pipes_open_;
  try_finish();
}

void ProcessCore::try_finish() noexcept {
  if (finished_ || !returncode_ || pipes_open_ > 0) return;
  finished_ = true;
  wake_all(exit_waiters_);
}

void ProcessCore::send_signal(int sig) {
  if (finished_) throw ProcessLookupError("");
  if (returncode_ || !handle_) return;  // exited: the pid may belong to another process by now
  if (const int rc = uv_process_kill(&handle_.get()->process, sig); rc != 0) throw_uv_error(rc);
}

}  // namespace asyncuv::detail
