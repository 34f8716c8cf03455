// datagrams.cpp — the asyncio layer over detail/udp.hpp.
#include "asyncuv/datagrams.hpp"

namespace asyncuv {

namespace {

void check(int status) {
  if (status < 0) throw_uv_error(status);
}

int family_of(const std::optional<SocketAddress>& local, const std::optional<SocketAddress>& remote, int family) {
  if (family) return family;
  if (local) return local->family;
  if (remote) return remote->family;
  return AF_INET;
}

}  // namespace

DatagramSocket::DatagramSocket(int family, std::size_t max_queued)
    : s_(std::make_unique<detail::UdpSocket>(get_running_loop(), family, max_queued)) {}

void DatagramSocket::bind(const SocketAddress& addr) {
  const sockaddr_storage ss = detail::to_sockaddr(addr, family());
  check(uv_udp_bind(s_->handle(), reinterpret_cast<const sockaddr*>(&ss), 0));
}

void DatagramSocket::connect(const SocketAddress& addr) {
  const sockaddr_storage ss = detail::to_sockaddr(addr, family());
  check(uv_udp_connect(s_->handle(), reinterpret_cast<const sockaddr*>(&ss)));
}

void DatagramSocket::set_broadcast(bool on) { check(uv_udp_set_broadcast(s_->handle(), on ? 1 : 0)); }

SocketAddress DatagramSocket::local_address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  check(uv_udp_getsockname(s_->handle(), reinterpret_cast<sockaddr*>(&ss), &len));
  return SocketAddress::from(reinterpret_cast<const sockaddr*>(&ss), static_cast<socklen_t>(len));
}

SocketAddress DatagramSocket::peer_address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  check(uv_udp_getpeername(s_->handle(), reinterpret_cast<sockaddr*>(&ss), &len));
  return SocketAddress::from(reinterpret_cast<const sockaddr*>(&ss), static_cast<socklen_t>(len));
}

// The coroutines take the socket's state, which stays put, not the
// DatagramSocket, which may be moved before a lazy coroutine starts.
namespace {

Coro<Datagram> receive(detail::UdpSocket& s, std::size_t bufsize) {
  detail::Received r = co_await detail::RecvAwaiter(s, bufsize);
  co_return Datagram{std::move(r.data), SocketAddress::from(reinterpret_cast<const sockaddr*>(&r.from))};
}

Coro<std::size_t> send_to(detail::UdpSocket& s, std::string data, SocketAddress addr) {
  const sockaddr_storage to = detail::to_sockaddr(addr, s.family());
  co_return co_await detail::SendAwaiter(s, data, &to);
}

Coro<std::size_t> send_connected(detail::UdpSocket& s, std::string data) {
  co_return co_await detail::SendAwaiter(s, data, nullptr);
}

}  // namespace

Coro<Datagram> DatagramSocket::recvfrom(std::size_t bufsize) { return receive(*s_, bufsize); }

Coro<std::size_t> DatagramSocket::sendto(std::string data, SocketAddress addr) {
  return send_to(*s_, std::move(data), std::move(addr));
}

Coro<std::size_t> DatagramSocket::send(std::string data) { return send_connected(*s_, std::move(data)); }

Coro<DatagramSocket> create_datagram_endpoint(std::optional<SocketAddress> local_addr, std::optional<SocketAddress> remote_addr,
                                              DatagramOptions options) {
  DatagramSocket sock(family_of(local_addr, remote_addr, options.family), options.max_queued);
  if (options.allow_broadcast) sock.set_broadcast(true);
  if (local_addr) sock.bind(*local_addr);
  if (remote_addr) sock.connect(*remote_addr);
  co_return sock;
}

Coro<Datagram> sock_recvfrom(DatagramSocket& sock, std::size_t bufsize) { return sock.recvfrom(bufsize); }

Coro<std::size_t> sock_sendto(DatagramSocket& sock, std::string data, SocketAddress addr) {
  return sock.sendto(std::move(data), std::move(addr));
}

}  // namespace asyncuv
