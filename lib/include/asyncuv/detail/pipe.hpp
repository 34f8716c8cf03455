// asyncuv/detail/pipe.hpp — uv_pipe_t: a Unix-socket stream's handle,
// connect, bind.
#pragma once

#include "stream.hpp"

namespace asyncuv::detail {

void open_pipe(StreamCore& core);
// Connects to `path`; failures are the OSError of the connect() call
// ("[Errno 2] No such file or directory"), as asyncio raises them.
Coro<void> connect_pipe(StreamCore& core, std::string path);
// Binds a listening socket to `path`, first removing a stale socket file
// there (asyncio 3.11's create_unix_server does the same).
void bind_pipe(AnyStream& s, const std::string& path);

// Python ignores SIGPIPE at startup, so that writing to a pipe whose reader
// went is an EPIPE error (BrokenPipeError), not the end of the process.
// Called when the first child is spawned or pipe over an fd is made;
// leaves a disposition the program chose alone. (libuv gives a child every signal's
// default back, as Popen(restore_signals=True) does.)
void ignore_sigpipe() noexcept;

}  // namespace asyncuv::detail
