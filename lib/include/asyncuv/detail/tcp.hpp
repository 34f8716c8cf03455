// asyncuv/detail/tcp.hpp — uv_tcp_t: a TCP stream's handle, connect, bind.
#pragma once

#include "stream.hpp"

namespace asyncuv::detail {

// Opens core.handle as a TCP socket of `family` (AF_UNSPEC: no socket yet).
void open_tcp(StreamCore& core, int family);
// Connects it; a failure is asyncio's OSError "Connect call failed ('h', p)".
Coro<void> connect_tcp(StreamCore& core, SocketAddress address);
// Binds a listening socket (IPv6 sockets bind IPv6 only, as asyncio's do).
void bind_tcp(AnyStream& s, const SocketAddress& address, bool reuse_port);

}  // namespace asyncuv::detail
