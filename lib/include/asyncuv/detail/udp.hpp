// asyncuv/detail/udp.hpp — one UDP socket (uv_udp_t) and its awaiters.
//
// Receiving is buffer-first: the socket reads whenever it is open, and every
// datagram (or error, such as a connected socket's ICMP "port unreachable")
// joins a FIFO queue; recvfrom() takes the oldest. A recvfrom cancelled at
// any point therefore loses nothing: a datagram leaves the queue only in the
// await_resume of a recvfrom that returns it. The queue is bounded
// (max_queued datagrams): when full the socket stops reading, so the excess
// waits in (and, past its size, is dropped by) the kernel's receive buffer,
// as it would with nobody reading; reading resumes when the queue is half
// empty.
//
// Sending tries uv_udp_try_send first (no allocation, no suspension); only
// when the kernel's buffer is full does it queue a uv_udp_send request, which
// owns a copy of the datagram and outlives a cancelled sender
// (detail/request.hpp).
#pragma once

#include <uv.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "../locks.hpp"
#include "owned_handle.hpp"
#include "request.hpp"

namespace asyncuv {
struct SocketAddress;
}

namespace asyncuv::detail {

// SocketAddress -> sockaddr (numeric hosts, '' for any, 'localhost'); throws
// ValueError for anything that would need a name lookup.
sockaddr_storage to_sockaddr(const SocketAddress& a, int family);

struct Received {
  std::string data;
  sockaddr_storage from{};
  int error = 0;  // a libuv status to raise instead
};

class UdpSocket {
public:
  static constexpr std::size_t default_max_queued = 256;

  UdpSocket(EventLoop& loop, int family, std::size_t max_queued);
  UdpSocket(const UdpSocket&) = delete;
  ~UdpSocket() { close(); }

  int family() const noexcept { return family_; }
  bool is_closing() const noexcept { return !handle_; }
  uv_udp_t* handle() const;  // throws OSError EBADF once closed
  void close() noexcept;

  // ---- receiving ----
  // A datagram nobody has been promised yet is waiting.
  bool available() const noexcept { return queue_.size() > promised_; }
  Received take();  // the oldest; raises its error, or EBADF once closed
  std::size_t queued() const noexcept { return queue_.size(); }
  std::size_t max_queued() const noexcept { return max_queued_; }

  // A recvfrom waiting for a datagram.
  struct Waiter : WaitNode {
    UdpSocket* socket = nullptr;
  };
  void wait(Waiter* w, std::coroutine_handle<> h);
  static bool on_cancel(Suspension* s) noexcept;
  void forget(Waiter* w) noexcept;  // the waiter's frame goes

private:
  friend class RecvAwaiter;
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);
  void received(Received r);
  void hand_out() noexcept;  // wakes waiters while datagrams are unpromised
  void start_reading();
  void update_ref() noexcept;

  EventLoop& loop_;
  OwnedHandle<uv_udp_t> handle_;
  int family_;
  std::size_t max_queued_;
  std::deque<Received> queue_;
  std::size_t promised_ = 0;  // woken waiters that have not taken theirs yet
  WaitList waiters_;
  // The woken ones, until they run: a socket closed or destroyed before
  // then orphans them, so that they raise EBADF without touching it.
  WaitList promised_waiters_;
  bool reading_ = false;
  bool closed_ = false;
  char buffer_[65536];  // one datagram at a time: copied out at its exact size
};

// co_await of one datagram.
class [[nodiscard]] RecvAwaiter : UdpSocket::Waiter {
public:
  RecvAwaiter(UdpSocket& s, std::size_t bufsize) noexcept : bufsize_(bufsize) { socket = &s; }
  RecvAwaiter(RecvAwaiter&&) = delete;  // queued by address
  ~RecvAwaiter() {
    if (!orphaned) socket->forget(this);
  }
  bool await_ready() const noexcept { return socket->available() || socket->is_closing(); }
  void await_suspend(std::coroutine_handle<> h) { socket->wait(this, h); }
  Received await_resume();

private:
  std::size_t bufsize_;
};

struct SendRequest : Request<uv_udp_send_t> {
  std::string data;
};

// co_await of one datagram sent: the number of bytes.
class [[nodiscard]] SendAwaiter : RequestAwaitBase {
public:
  SendAwaiter(UdpSocket& s, std::string_view data, const sockaddr_storage* to) noexcept
      : RequestAwaitBase(nullptr), socket_(s), data_(data) {
    if (to) to_ = *to;
    has_to_ = to != nullptr;
  }
  bool await_ready();  // sent at once, or an error
  void await_suspend(std::coroutine_handle<> h);
  std::size_t await_resume();

private:
  const sockaddr* to() const noexcept { return has_to_ ? reinterpret_cast<const sockaddr*>(&to_) : nullptr; }
  UdpSocket& socket_;
  std::string_view data_;
  sockaddr_storage to_{};
  bool has_to_ = false;
  bool suspended_ = false;
};

}  // namespace asyncuv::detail
