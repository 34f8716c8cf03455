// pipe.cpp — uv_pipe_t as a Unix socket: open, connect, bind (see
// detail/pipe.hpp).
#include "asyncuv/detail/pipe.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

namespace asyncuv::detail {

void open_pipe(StreamCore& core) {
  uv_loop_t* loop = EventLoop::current()->uv_loop();
  const int rc =
      core.handle.open(handles_of(*EventLoop::current()), [&](AnyStream* s) { return uv_pipe_init(loop, &s->pipe, 0); });
  if (rc != 0) throw_uv_error(rc);
  core.handle.get()->handle.data = &core;
}

Coro<void> connect_pipe(StreamCore& core, std::string path) {
  uv_pipe_t* pipe = &core.handle.get()->pipe;
  const int status = co_await ConnectAwaiter([&](uv_connect_t* req) {
    uv_pipe_connect(req, pipe, path.c_str(), &Request<uv_connect_t>::on_complete);
    return 0;  // failures arrive through the callback
  });
  if (status != 0) throw_uv_error(status);
  core.connection_made(false);
}

void bind_pipe(AnyStream& s, const std::string& path) {
  struct stat st;
  if (!path.empty() && path[0] != '\0' && ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::unlink(path.c_str());
  }
  if (const int rc = uv_pipe_bind(&s.pipe, path.c_str()); rc != 0) {
    if (rc == UV_EADDRINUSE) std::rethrow_exception(uv_error_text(rc, "Address '" + path + "' is already in use"));
    throw_uv_error(rc);
  }
}

}  // namespace asyncuv::detail
