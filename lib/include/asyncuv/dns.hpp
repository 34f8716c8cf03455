// asyncuv/dns.hpp — socket addresses and name resolution (asyncio's
// loop.getaddrinfo / loop.getnameinfo, on libuv's thread pool).
//
// Python spells an address as a tuple: ('127.0.0.1', 8888) for IPv4,
// ('::1', 8888, 0, 0) for IPv6 (flowinfo, scope id) and a path string for a
// Unix socket. SocketAddress is that tuple; repr() prints it as Python does,
// which is what asyncio's messages quote ("Connect call failed ('::1', 1, 0, 0)").
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "coroutines.hpp"

namespace asyncuv {

// A class with constructors, not an aggregate: g++ 12 destroys twice an
// aggregate temporary with a non-trivial member built inside a co_await
// expression (`co_await sock.sendto(d, {"::1", 9})` must be safe).
struct ASYNCUV_API SocketAddress {
  SocketAddress() = default;
  // Python's (host, port): AF_INET6 when the host is an IPv6 address (it
  // has a ':'), else AF_INET ('' and 'localhost' included).
  SocketAddress(std::string host_, int port_)
      : family(host_.find(':') != std::string::npos ? AF_INET6 : AF_INET), host(std::move(host_)), port(port_) {}
  SocketAddress(int family_, std::string host_, int port_ = 0, std::uint32_t flowinfo_ = 0,
                std::uint32_t scope_id_ = 0)
      : family(family_), host(std::move(host_)), port(port_), flowinfo(flowinfo_), scope_id(scope_id_) {}

  int family = AF_UNSPEC;  // AF_INET, AF_INET6 or AF_UNIX
  std::string host;        // numeric host; for AF_UNIX the path
  int port = 0;
  std::uint32_t flowinfo = 0;  // IPv6 only
  std::uint32_t scope_id = 0;  // IPv6 only

  // Python's repr of the tuple: "('127.0.0.1', 8888)", "('::1', 8888, 0, 0)",
  // "'/tmp/sock'".
  std::string repr() const;
  // From a socket API address (sockaddr_in, sockaddr_in6, sockaddr_un).
  static SocketAddress from(const sockaddr* sa, socklen_t len = 0);
  // Fills `out` (a sockaddr_storage) for the socket API; the length used.
  socklen_t to_sockaddr(sockaddr_storage& out) const;
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

// One entry of getaddrinfo()'s answer: (family, type, proto, canonname, sockaddr).
struct AddrInfo {
  int family = 0;
  int type = 0;
  int proto = 0;
  std::string canonname;
  SocketAddress address;
};

// loop.getaddrinfo(host, port, family=0, type=0, proto=0, flags=0), on the
// running loop. An empty host is Python's None (with AI_PASSIVE: every local
// address). Resolution runs on libuv's thread pool; cancelling the awaiting
// task while the lookup is still queued withdraws it. Errors are gaierror
// with the resolver's message ("[Errno -2] Name or service not known").
ASYNCUV_API Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, int family = 0,
                                                    int type = 0, int proto = 0, int flags = 0);
ASYNCUV_API Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, int port, int family = 0, int type = 0,
                                                    int proto = 0, int flags = 0);

// loop.getnameinfo(sockaddr, flags=0) -> (host, port) as strings.
ASYNCUV_API Coro<std::pair<std::string, std::string>> getnameinfo(const SocketAddress& address, int flags = 0);

namespace detail {

// asyncio's _ipaddr_info: a numeric host needs no resolver. The answer for
// (host, port) if host is a numeric IPv4/IPv6 address that fits `family`,
// else an empty vector.
std::vector<AddrInfo> numeric_addrinfo(const std::string& host, int port, int family, int type, int proto);

}  // namespace detail

}  // namespace asyncuv
