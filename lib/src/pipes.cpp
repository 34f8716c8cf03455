// pipes.cpp — connect_read_pipe / connect_write_pipe (see pipes.hpp): a
// StreamCore over uv_pipe_open of a duplicate of the caller's fd.
#include "asyncuv/pipes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "asyncuv/detail/pipe.hpp"

namespace asyncuv {

namespace {

// asyncio's check in _UnixReadPipeTransport / _UnixWritePipeTransport.
void check_pipe_kind(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) throw_uv_error(-errno);
  if (!(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))) {
    throw ValueError("Pipe transport is for pipes/sockets/character devices only.");
  }
}

// The reader or writer (Stream) over a duplicate of fd. It is the core's
// user from the start, so a failure half-way closes what was opened.
template <class Stream>
Coro<Stream> open_fd_pipe(int fd, std::size_t limit, detail::StreamCore::PipeRole role) {
  if (limit == 0 || limit > static_cast<std::size_t>(PTRDIFF_MAX)) throw ValueError("Limit cannot be <= 0");
  check_pipe_kind(fd);
  detail::ignore_sigpipe();
  auto* core = new detail::StreamCore(limit);
  Stream stream(core, detail::FromCore{});
  detail::open_pipe(*core);
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw_uv_error(-errno);
  if (const int rc = uv_pipe_open(&core->handle.get()->pipe, copy); rc != 0) {
    ::close(copy);
    throw_uv_error(rc);
  }
  core->set_pipe_role(role, nullptr);
  core->connection_made(false);
  co_return stream;
}

}  // namespace

Coro<StreamReader> connect_read_pipe(int fd, std::size_t limit) {
  return open_fd_pipe<StreamReader>(fd, limit, detail::StreamCore::PipeRole::read);
}

Coro<StreamWriter> connect_write_pipe(int fd) {
  return open_fd_pipe<StreamWriter>(fd, detail::StreamCore::default_limit, detail::StreamCore::PipeRole::write);
}

}  // namespace asyncuv
