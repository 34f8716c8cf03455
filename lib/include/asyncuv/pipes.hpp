// asyncuv/pipes.hpp — loop.connect_read_pipe / connect_write_pipe (asyncio's
// unix_events pipe transports) in the streams shape: a StreamReader or
// StreamWriter over an fd (stdin, stdout, one end of a pipe, a FIFO, a
// socket, a terminal).
//
//   Python (3.11)                                   C++
//   reader = asyncio.StreamReader()                 auto reader = co_await connect_read_pipe(0);
//   await loop.connect_read_pipe(
//       lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
//   line = await reader.readline()                  auto line = co_await reader.readline();
//
// asyncio returns (transport, protocol) and wants the protocol made by
// hand; the reader or writer is what a program then uses, so that is what
// these return.
//
// The fd: asyncio's transport owns the file object it is given and closes
// it (and so its fd) when the pipe closes. Here the stream works on its own
// duplicate (dup), so closing the stream never closes the fd passed in:
// connect_read_pipe(0) leaves fd 0 open for the rest of the program. As in
// asyncio, the fd is switched to non-blocking mode, which its duplicates
// share (restore with fcntl if another reader needs blocking reads).
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <cstddef>

#include "streams.hpp"

namespace asyncuv {

// A StreamReader over fd; EOF closes the pipe. ValueError "Pipe transport
// is for pipes/sockets/character devices only." for a regular file (epoll
// cannot watch one), as asyncio raises.
ASYNCUV_API Coro<StreamReader> connect_read_pipe(int fd, std::size_t limit = detail::StreamCore::default_limit);

// A StreamWriter over fd (write, drain, close; write_eof closes it). The
// same ValueError for a regular file.
ASYNCUV_API Coro<StreamWriter> connect_write_pipe(int fd);

}  // namespace asyncuv
