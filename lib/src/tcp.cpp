// tcp.cpp — uv_tcp_t: open, connect, bind (see detail/tcp.hpp).
#include "asyncuv/detail/tcp.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace asyncuv::detail {

void open_tcp(StreamCore& core, int family) {
  uv_loop_t* loop = EventLoop::current()->uv_loop();
  const int rc = core.handle.open(handles_of(*EventLoop::current()),
                                  [&](AnyStream* s) { return uv_tcp_init_ex(loop, &s->tcp, family); });
  if (rc != 0) throw_uv_error(rc);
  core.handle.get()->handle.data = &core;
}

Coro<void> connect_tcp(StreamCore& core, SocketAddress address) {
  sockaddr_storage ss;
  address.to_sockaddr(ss);
  uv_tcp_t* tcp = &core.handle.get()->tcp;
  const int status = co_await ConnectAwaiter([&](uv_connect_t* req) {
    return uv_tcp_connect(req, tcp, reinterpret_cast<const sockaddr*>(&ss), &Request<uv_connect_t>::on_complete);
  });
  if (status != 0) std::rethrow_exception(uv_error_text(status, "Connect call failed " + address.repr()));
  core.connection_made(true);
}

// Binds with the socket API, not uv_tcp_bind: libuv defers a bind error to
// uv_listen, and asyncio reports it from create_server, with its message:
// "error while attempting to bind on address ('127.0.0.1', 8888): address
// already in use". Options as asyncio sets them: SO_REUSEADDR, and
// IPV6_V6ONLY on IPv6 sockets.
void bind_tcp(AnyStream& s, const SocketAddress& address, bool reuse_port) {
  sockaddr_storage ss;
  const socklen_t len = address.to_sockaddr(ss);
  uv_os_fd_t fd = -1;
  if (const int rc = uv_fileno(&s.handle, &fd); rc != 0) throw_uv_error(rc);
  const int one = 1;
  auto set = [&](int level, int name) {
    if (::setsockopt(fd, level, name, &one, sizeof one) != 0) throw_uv_error(-errno);
  };
  set(SOL_SOCKET, SO_REUSEADDR);
  if (reuse_port) set(SOL_SOCKET, SO_REUSEPORT);
  if (address.family == AF_INET6) set(IPPROTO_IPV6, IPV6_V6ONLY);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    std::string text = std::strerror(err);
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::rethrow_exception(
        uv_error_text(-err, "error while attempting to bind on address " + address.repr() + ": " + text));
  }
}

}  // namespace asyncuv::detail
