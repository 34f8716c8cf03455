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


}  // namespace asyncuv::detail
