// asyncuv/datagrams.hpp — UDP (asyncio's loop.create_datagram_endpoint and
// loop.sock_recvfrom / sock_sendto), as an awaitable socket.
//
//   Python                                          C++
//   t, p = await loop.create_datagram_endpoint(     auto sock = co_await create_datagram_endpoint(
//       P, local_addr=('127.0.0.1', 0))                 SocketAddress("127.0.0.1", 0));
//   data, addr = await loop.sock_recvfrom(s, 4096)  auto [data, addr] = co_await sock.recvfrom();
//   await loop.sock_sendto(s, data, addr)           co_await sock.sendto(data, addr);
//   transport.close()                               sock.close();  (or its destructor)
//
// Addresses are Python's tuples: host and port (IPv6 prints as its 4-tuple).
// Only numeric hosts, '' (any) and 'localhost' are accepted: no name lookup
// happens here. Errors are the OSError family with Python's text: a
// datagram too big for the protocol is OSError "[Errno 90] Message too
// long"; a connected socket whose peer has no listener gets
// ConnectionRefusedError from its next recvfrom (the ICMP error).
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "detail/udp.hpp"
#include "dns.hpp"
#include "tasks.hpp"

namespace asyncuv {

// Addresses are SocketAddress (dns.hpp), Python's tuples, as for streams:
// SocketAddress("127.0.0.1", 9999).repr() is ('127.0.0.1', 9999),
// SocketAddress("::1", 9999).repr() is ('::1', 9999, 0, 0).

// What recvfrom() returns: Python's (data, addr).
struct Datagram {
  std::string data;
  SocketAddress addr;
};

// create_datagram_endpoint's keyword arguments (the addresses are its
// positional ones). Trivially destructible on purpose: `{.allow_broadcast =
// true}` inside a co_await is then safe from g++ 12's double destruction.
struct DatagramOptions {
  int family = 0;  // AF_INET / AF_INET6; 0: the addresses' (else AF_INET)
  bool allow_broadcast = false;
  // Datagrams kept while nobody awaits recvfrom(); past it the socket stops
  // reading and the kernel's buffer takes (or drops) the rest.
  std::size_t max_queued = detail::UdpSocket::default_max_queued;
};

// A UDP socket of the running loop. Move-only; closing (or destroying) it
// ends every pending recvfrom() with OSError "[Errno 9] Bad file descriptor"
// and drops what was queued. Loop thread only.
class DatagramSocket {
public:
  explicit DatagramSocket(int family = 0, std::size_t max_queued = detail::UdpSocket::default_max_queued);
  DatagramSocket(DatagramSocket&&) noexcept = default;
  DatagramSocket& operator=(DatagramSocket&&) noexcept = default;
  ~DatagramSocket() = default;

  void bind(const SocketAddress& addr);
  void connect(const SocketAddress& addr);
  void set_broadcast(bool on);
  SocketAddress local_address() const;  // getsockname()
  SocketAddress peer_address() const;   // getpeername(): OSError ENOTCONN when not connected
  int family() const noexcept { return s_->family(); }
  void close() noexcept { s_->close(); }
  bool is_closing() const noexcept { return s_->is_closing(); }
  std::size_t queued() const noexcept { return s_->queued(); }

  // The next datagram (at once if one is queued), truncated to bufsize as
  // sock_recvfrom(sock, bufsize) truncates. A coroutine, as in Python: it
  // can be given to create_task, timeout, wait_for, gather.
  Coro<Datagram> recvfrom(std::size_t bufsize = 65536);

  // Sends one datagram; the number of bytes sent. The data is copied only
  // if the kernel's buffer is full and the send has to wait.
  Coro<std::size_t> sendto(std::string data, SocketAddress addr);
  // On a connected socket.
  Coro<std::size_t> send(std::string data);

  detail::UdpSocket& state() noexcept { return *s_; }

private:
  std::unique_ptr<detail::UdpSocket> s_;
};

// loop.create_datagram_endpoint(factory, local_addr, remote_addr, ...): a
// socket bound to local_addr and/or connected to remote_addr (then send()
// and recvfrom() talk to that peer only).
Coro<DatagramSocket> create_datagram_endpoint(std::optional<SocketAddress> local_addr,
                                              std::optional<SocketAddress> remote_addr = std::nullopt,
                                              DatagramOptions options = {});

// asyncio 3.11's loop.sock_recvfrom(sock, bufsize) / sock_sendto(sock, data, addr).
Coro<Datagram> sock_recvfrom(DatagramSocket& sock, std::size_t bufsize);
Coro<std::size_t> sock_sendto(DatagramSocket& sock, std::string data, SocketAddress addr);

}  // namespace asyncuv
