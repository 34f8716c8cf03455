// asyncuv/streams.hpp — asyncio.streams: StreamReader, StreamWriter,
// open_connection / start_server and their Unix-socket twins, and Server.
//
//   auto [reader, writer] = co_await open_connection("127.0.0.1", 8888);
//   writer.write("hello\n");
//   co_await writer.drain();
//   std::string line = co_await reader.readline();
//   writer.close();
//   co_await writer.wait_closed();
//
// Bytes are std::string (Python's bytes); write() also takes a
// std::span<const std::byte>. Reading is buffer-first, as in asyncio: what
// arrives goes into the reader's buffer and a read takes from it, so
// cancelling a read never loses a byte. Reading pauses while more than
// 2 x limit bytes are buffered and resumes at <= limit. write() never blocks:
// it sends at once what the socket takes and queues the rest; drain() waits
// while more than the high-water mark (64 KiB) is queued, until it is down
// to the low mark (16 KiB).
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <any>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/listener.hpp"
#include "detail/stream.hpp"
#include "dns.hpp"
#include "tasks.hpp"
#include "timeouts.hpp"

namespace asyncuv {

class StreamWriter;

class ASYNCUV_API StreamReader {
public:
  // asyncio.StreamReader(limit): a reader fed by hand (feed_data, feed_eof).
  // Throws ValueError("Limit cannot be <= 0") for a zero limit.
  explicit StreamReader(std::size_t limit = detail::StreamCore::default_limit);
  StreamReader(detail::StreamCore* core, detail::FromCore) noexcept : core_(core) {}

  // Up to n bytes (n < 0: everything until EOF); "" at EOF. Returns as soon
  // as anything is buffered.
  Coro<std::string> read(std::ptrdiff_t n = -1);
  // One line with its "\n"; at EOF what is left. ValueError when the line is
  // longer than the limit (the line is dropped, the stream stays usable).
  Coro<std::string> readline();
  // Exactly n bytes, or IncompleteReadError (partial(), expected()) at EOF.
  Coro<std::string> readexactly(std::ptrdiff_t n);
  // Up to and including `separator`; LimitOverrunError (data stays
  // buffered) when it is not found within the limit; IncompleteReadError
  // at EOF.
  Coro<std::string> readuntil(std::string separator = "\n");
  bool at_eof() const noexcept;
  std::size_t limit() const noexcept { return core_->limit(); }

  void feed_data(std::string_view bytes);
  void feed_eof() noexcept;
  std::exception_ptr exception() const noexcept { return core_->exception(); }
  void set_exception(std::exception_ptr e) noexcept;

private:
  detail::StreamUser core_;
};

// What asyncio's StreamWriter.transport offers: buffer sizes and limits.
class ASYNCUV_API Transport {
public:
  explicit Transport(detail::StreamCore* core) noexcept : core_(core) {}
  std::size_t get_write_buffer_size() const noexcept { return core_->write_buffer_size(); }
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept {
    return {core_->low_water(), core_->high_water()};  // (low, high), as asyncio returns them
  }
  // set_write_buffer_limits(high=None, low=None).
  void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                               std::optional<std::size_t> low = std::nullopt);
  bool is_closing() const noexcept { return core_->is_closing(); }
  void close() noexcept { core_->close(); }
  void abort() noexcept { core_->abort(); }  // close without flushing queued writes
  bool can_write_eof() const noexcept { return true; }
  void write_eof() { core_->write_eof(); }

private:
  detail::StreamCore* core_;
};

class ASYNCUV_API StreamWriter {
public:
  StreamWriter(detail::StreamCore* core, detail::FromCore) noexcept : core_(core) {}

  // Sends what the socket takes now and queues the rest (copied); never
  // blocks. After write_eof(): RuntimeError; on a lost connection: ignored.
  void write(std::string_view data) { core_->write(data.data(), data.size()); }
  void write(std::span<const std::byte> data) {
    core_->write(reinterpret_cast<const char*>(data.data()), data.size());
  }
  template <class Lines>
  void writelines(const Lines& lines) {
    for (const auto& line : lines) write(std::string_view(line));
  }
  // Waits until the queued bytes are down to the low-water mark; raises the
  // connection's error, or ConnectionResetError("Connection lost").
  Coro<void> drain();
  void write_eof() { core_->write_eof(); }
  bool can_write_eof() const noexcept { return true; }
  // Closes once the queued bytes are sent.
  void close() noexcept { core_->close(); }
  bool is_closing() const noexcept { return core_->is_closing(); }
  // Until the connection is closed; raises the error it was lost with.
  Coro<void> wait_closed();

  // get_extra_info("peername" | "sockname") -> SocketAddress,
  // ("socket") -> int (the fd); anything else (or an error) -> default.
  std::any get_extra_info(std::string_view name, std::any default_value = {}) const;
  SocketAddress peername() const { return core_->peername(); }
  SocketAddress sockname() const { return core_->sockname(); }
  Transport transport() const noexcept { return Transport(core_.get()); }

private:
  detail::StreamUser core_;
};

struct ConnectionOptions {
  std::size_t limit = detail::StreamCore::default_limit;
  int family = 0;  // AF_UNSPEC, AF_INET or AF_INET6
  int flags = 0;   // getaddrinfo flags
};

// asyncio.open_connection(host, port, limit=...): resolves host (a numeric
// address skips the resolver) and tries each address in turn. A refused
// connection is ConnectionRefusedError "[Errno 111] Connect call failed
// ('127.0.0.1', 1)"; several different failures, OSError "Multiple
// exceptions: ...".
ASYNCUV_API Coro<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, int port,
                                                                        ConnectionOptions options = {});
// asyncio.open_unix_connection(path).
ASYNCUV_API Coro<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path,
                                                                             ConnectionOptions options = {});

struct ServerOptions {
  std::size_t limit = detail::StreamCore::default_limit;
  int family = 0;
  int flags = 0x0001;  // AI_PASSIVE
  int backlog = 100;
  bool reuse_port = false;
  bool start_serving = true;
};

// asyncio's Server (base_events.Server). A copyable handle: the last copy
// to go closes the server (asyncio's would keep serving until the loop
// closes). Closing stops listening; connections already accepted go on.
class ASYNCUV_API Server {
public:
  explicit Server(detail::ServerCore* core) noexcept;
  Server(const Server& o) noexcept;
  Server(Server&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  Server& operator=(Server o) noexcept {
    std::swap(core_, o.core_);
    return *this;
  }
  ~Server();

  void close() noexcept { core_->close(); }
  // asyncio 3.11: returns at once if the server is already closed; else waits
  // until it is closed and every connection it accepted has ended.
  Coro<void> wait_closed();
  // Serves until cancelled (or closed: then CancelledError); cancelled, it
  // closes the server first. RuntimeError if already serving forever or closed.
  Coro<void> serve_forever();
  Coro<void> start_serving();
  bool is_serving() const noexcept { return core_->is_serving(); }
  // The listening sockets' addresses (port 0 resolved to the real port);
  // empty once closed.
  std::vector<SocketAddress> sockets() const { return core_->addresses(); }

  // `async with server:` — runs body, then close() and wait_closed().
  template <class Body>
  auto run(Body body) -> Coro<detail::scope_result_t<Body, Server>> {
    return detail::run_scope(*this, std::move(body));
  }
  void enter() noexcept {}
  Coro<void> exit(std::exception_ptr error);

  detail::ServerCore& core() const noexcept { return *core_; }  // internal

private:
  detail::ServerCore* core_;
};

namespace detail {

// A connection's task runs its handler inside this frame, so that the
// handler's own frame, which holds the reader and the writer, goes the
// moment the handler returns (the awaited frame ends with its await). The
// task's frame itself lives until the loop lets go of the finished task, at
// its next sweep of done tasks: the connection would stay open that long, an
// unbounded time on a quiet loop.
template <class T>
Coro<T> serve_client(Coro<T> handler) {
  co_return co_await std::move(handler);
}

// Wraps the user's client_connected_cb: each connection becomes a reader, a
// writer and (for a coroutine callback) its own task, as asyncio does.
template <class F>
ServerCore::OnClient client_callback(F cb) {
  return [cb = std::move(cb)](StreamCore* core) mutable {
    StreamReader reader(core, FromCore{});
    StreamWriter writer(core, FromCore{});
    if constexpr (std::is_void_v<std::invoke_result_t<F&, StreamReader, StreamWriter>>) {
      cb(std::move(reader), std::move(writer));
    } else {
      create_task(serve_client(cb(std::move(reader), std::move(writer))));
    }
  };
}

ASYNCUV_API Coro<Server> start_tcp_server(ServerCore::OnClient cb, std::string host, int port, ServerOptions o);
ASYNCUV_API Coro<Server> start_unix_server(ServerCore::OnClient cb, std::string path, ServerOptions o);

}  // namespace detail

// asyncio.start_server(client_connected_cb, host, port, limit=..., backlog=...,
// reuse_port=..., start_serving=...). client_connected_cb(reader, writer)
// is a coroutine function (each connection runs as its own task) or a plain
// function. An empty host listens on every local address (Python's None).
template <class F>
  requires std::invocable<F&, StreamReader, StreamWriter>
Coro<Server> start_server(F client_connected_cb, std::string host, int port, ServerOptions options = {}) {
  return detail::start_tcp_server(detail::client_callback(std::move(client_connected_cb)), std::move(host), port,
                                  options);
}

// asyncio.start_unix_server(client_connected_cb, path).
template <class F>
  requires std::invocable<F&, StreamReader, StreamWriter>
Coro<Server> start_unix_server(F client_connected_cb, std::string path, ServerOptions options = {}) {
  return detail::start_unix_server(detail::client_callback(std::move(client_connected_cb)), std::move(path),
                                   options);
}

}  // namespace asyncuv
