// asyncuv/detail/listener.hpp — listening sockets (uv_listen on uv_tcp_t or
// uv_pipe_t) and the state of asyncio's Server around them: accepting,
// counting the live connections, close / wait_closed / serve_forever.
#pragma once

#include <functional>
#include <vector>

#include "stream.hpp"

namespace asyncuv::detail {

class ASYNCUV_API ServerCore {
public:
  // Called with every accepted connection (makes the reader, the writer and
  // the client task).
  using OnClient = std::function<void(StreamCore*)>;

  ServerCore(OnClient on_client, std::size_t limit, bool tcp) noexcept
      : on_client_(std::move(on_client)), limit_(limit), tcp_(tcp) {}
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  void incref() noexcept { ++refs_; }
  void decref() noexcept {
    if (--refs_ == 0) delete this;
  }
  // Server handles: the last one to go closes the server.
  void add_handle() noexcept {
    ++handles_;
    incref();
  }
  void drop_handle() noexcept {
    if (--handles_ == 0) close();
    decref();
  }

  // Opens one listening socket of `family` bound by bind(handle) (bind_tcp,
  // bind_pipe).
  void add_listener(int family, const std::function<void(AnyStream&)>& bind);
  // "<Server sockets=(('127.0.0.1', 8888),)>", for messages.
  std::string repr() const;
  void start_serving();
  int backlog = 100;
  bool is_serving() const noexcept { return serving_; }
  bool is_closed() const noexcept { return closed_; }
  std::vector<SocketAddress> addresses() const;

  void close() noexcept;
  // A connection accepted here started or ended (Server._attach/_detach).
  void attach() noexcept { ++active_; }
  void detach() noexcept;

  WaitList& closed_waiters() noexcept { return waiters_; }
  bool waiters_released() const noexcept { return waiters_released_; }
  // serve_forever's wait: ended by close() (as asyncio cancels its future).
  WaitList& forever_waiters() noexcept { return forever_; }
  bool serving_forever = false;

private:
  ~ServerCore();
  static void on_connection(uv_stream_t* listener, int status);
  void accept(uv_stream_t* listener);
  void wakeup() noexcept;

  std::uint32_t refs_ = 0;
  std::uint32_t handles_ = 0;
  OnClient on_client_;
  std::size_t limit_;
  bool tcp_;
  bool serving_ = false;
  bool closed_ = false;
  bool waiters_released_ = false;  // asyncio sets _waiters = None
  std::size_t active_ = 0;
  std::vector<OwnedHandle<AnyStream>> listeners_;
  WaitList waiters_;
  WaitList forever_;
};

}  // namespace asyncuv::detail
