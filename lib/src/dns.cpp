// dns.cpp — SocketAddress and the resolver requests (uv_getaddrinfo_t,
// uv_getnameinfo_t) on the request foundation.
#include "asyncuv/dns.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <uv.h>

#include <cstring>

#include "asyncuv/detail/request.hpp"

namespace asyncuv {

std::string SocketAddress::repr() const {
  if (family == AF_UNIX) return "'" + host + "'";
  std::string s = "('" + host + "', " + std::to_string(port);
  if (family == AF_INET6) s += ", " + std::to_string(flowinfo) + ", " + std::to_string(scope_id);
  return s + ")";
}

SocketAddress SocketAddress::from(const sockaddr* sa, socklen_t len) {
  SocketAddress a;
  a.family = sa->sa_family;
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    a.host = text;
    a.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    a.host = text;
    a.port = ntohs(in6->sin6_port);
    a.flowinfo = ntohl(in6->sin6_flowinfo);
    a.scope_id = in6->sin6_scope_id;
  } else if (sa->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    const std::size_t max = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path)
                                                                   : sizeof un->sun_path;
    a.host.assign(un->sun_path, ::strnlen(un->sun_path, std::min(max, sizeof un->sun_path)));
  }
  return a;
}

socklen_t SocketAddress::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (const int rc = uv_ip6_addr(host.c_str(), port, in6); rc != 0) throw_uv_error(rc);
    in6->sin6_flowinfo = htonl(flowinfo);
    in6->sin6_scope_id = scope_id;
    return sizeof(sockaddr_in6);
  }
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    if (const int rc = uv_ip4_addr(host.c_str(), port, in); rc != 0) throw_uv_error(rc);
    return sizeof(sockaddr_in);
  }
  throw ValueError("SocketAddress: not an IPv4 or IPv6 address");
}

namespace detail {

std::vector<AddrInfo> numeric_addrinfo(const std::string& host, int port, int family, int type, int proto) {
  if (port < 0 || port > 65535) return {};
  AddrInfo info;
  info.type = type;
  info.proto = proto;
  unsigned char buf[sizeof(in6_addr)];
  if ((family == AF_UNSPEC || family == AF_INET) && ::inet_pton(AF_INET, host.c_str(), buf) == 1) {
    info.family = AF_INET;
  } else if ((family == AF_UNSPEC || family == AF_INET6) && host.find('%') == std::string::npos &&
             ::inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    info.family = AF_INET6;
  } else {
    return {};
  }
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(info.family, buf, text, sizeof text);  // the canonical spelling, as the resolver gives
  info.address = SocketAddress{info.family, text, port, 0, 0};
  return {info};
}

namespace {

struct GetAddrInfo final : Request<uv_getaddrinfo_t> {
  ~GetAddrInfo() override { uv_freeaddrinfo(result); }
  static void on_done(uv_getaddrinfo_t* r, int status, addrinfo* res) noexcept {
    auto& self = static_cast<GetAddrInfo&>(of(r));
    self.result = res;
    self.complete(status);
  }
  addrinfo* result = nullptr;
};

class GetAddrInfoAwaiter : RequestAwaitBase {
public:
  GetAddrInfoAwaiter(const std::string& host, const std::string& port, const addrinfo& hints)
      : RequestAwaitBase(new GetAddrInfo), host_(host), port_(port), hints_(hints) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    suspend(h, [this] {
      auto& r = static_cast<GetAddrInfo&>(*req_);
      // libuv copies the strings and hints into the request.
      return uv_getaddrinfo(EventLoop::current()->uv_loop(), &r.req, &GetAddrInfo::on_done,
                            host_.empty() ? nullptr : host_.c_str(), port_.empty() ? nullptr : port_.c_str(),
                            &hints_);
    });
  }
  std::vector<AddrInfo> await_resume() {
    auto& r = static_cast<GetAddrInfo&>(resumed());
    if (r.status() != 0) throw_uv_error(r.status());
    std::vector<AddrInfo> out;
    for (const addrinfo* p = r.result; p; p = p->ai_next) {
      out.push_back({p->ai_family, p->ai_socktype, p->ai_protocol, p->ai_canonname ? p->ai_canonname : "",
                     SocketAddress::from(p->ai_addr, p->ai_addrlen)});
    }
    return out;
  }

private:
  const std::string& host_;
  const std::string& port_;
  addrinfo hints_;
};

struct GetNameInfo final : Request<uv_getnameinfo_t> {
  static void on_done(uv_getnameinfo_t* r, int status, const char*, const char*) noexcept {
    of(r).complete(status);  // the answer stays in r->host / r->service
  }
};

class GetNameInfoAwaiter : RequestAwaitBase {
public:
  GetNameInfoAwaiter(const sockaddr_storage& addr, int flags)
      : RequestAwaitBase(new GetNameInfo), addr_(addr), flags_(flags) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    suspend(h, [this] {
      auto& r = static_cast<GetNameInfo&>(*req_);
      return uv_getnameinfo(EventLoop::current()->uv_loop(), &r.req, &GetNameInfo::on_done,
                            reinterpret_cast<const sockaddr*>(&addr_), flags_);
    });
  }
  std::pair<std::string, std::string> await_resume() {
    auto& r = static_cast<GetNameInfo&>(resumed());
    if (r.status() != 0) throw_uv_error(r.status());
    return {r.req.host, r.req.service};
  }

private:
  sockaddr_storage addr_;
  int flags_;
};

}  // namespace
}  // namespace detail

Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, int family, int type, int proto,
                                        int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = proto;
  hints.ai_flags = flags;
  co_return co_await detail::GetAddrInfoAwaiter(host, port, hints);
}

Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, int port, int family, int type, int proto, int flags) {
  return getaddrinfo(std::move(host), std::to_string(port), family, type, proto, flags);
}

namespace {

Coro<std::pair<std::string, std::string>> name_of(sockaddr_storage address, int flags) {
  co_return co_await detail::GetNameInfoAwaiter(address, flags);
}

}  // namespace

Coro<std::pair<std::string, std::string>> getnameinfo(const SocketAddress& address, int flags) {
  sockaddr_storage storage;
  address.to_sockaddr(storage);  // before the coroutine: the address may be a temporary
  return name_of(storage, flags);
}

}  // namespace asyncuv
