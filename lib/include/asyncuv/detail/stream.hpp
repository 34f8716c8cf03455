// asyncuv/detail/stream.hpp — one connected libuv stream (uv_tcp_t or
// uv_pipe_t) with asyncio's transport and StreamReaderProtocol behaviour:
// the reader's buffer, flow control both ways, and connection_lost.
//
// Shared by a StreamReader and a StreamWriter (as asyncio's transport and
// protocol are), so it is reference counted. Users (reader, writer) and
// libuv's in-flight requests hold references; the last user to go closes the
// connection, flushing queued writes first as transport.close() does; the
// handle itself is an OwnedHandle, so the loop may close it first.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "../dns.hpp"
#include "../locks.hpp"
#include "owned_handle.hpp"
#include "request.hpp"

namespace asyncuv::detail {

// Parks the running task in a WaitList until woken (wake_all) or cancelled.
class [[nodiscard]] ListWaiter : WaitNode {
public:
  // `on` names the wait in a trace (trace.hpp).
  explicit ListWaiter(WaitList& list, const char* on = "I/O") noexcept : list_(&list), on_(on) {}
  ListWaiter(ListWaiter&&) = delete;
  ~ListWaiter() {
    if (linked()) WaitList::unlink(this);
  }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { wait_in(*list_, this, h, &leave_queue, on_); }
  void await_resume() { task->throw_if_cancelled(); }

private:
  WaitList* list_;
  const char* on_;
};

// SIGPIPE ignored, as Python does at startup (once; a program's own handler
// is kept), so that a write to a reset peer or a gone reader is an error
// (BrokenPipeError, ConnectionResetError), not the end of the process.
ASYNCUV_API void ignore_sigpipe() noexcept;

class ServerCore;
class StreamCore;

// Told when a pipe's connection is lost (asyncio's pipe_connection_lost, by
// which a subprocess transport knows its pipes are closed).
class PipeWatcher {
public:
  virtual void pipe_lost(StreamCore& pipe) noexcept = 0;

protected:
  ~PipeWatcher() = default;
};

union AnyStream {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
};

// The socket's own address (peer = false) or its peer's, TCP or Unix.
SocketAddress address_of(const AnyStream& s, bool tcp, bool peer);

// The reader's buffer: bytes from begin_ to end_ of one heap block, filled
// by libuv in place (no copy on receipt). An empty buffer gives its block
// back (to a one-block cache per thread), so an idle connection holds no
// buffer memory.
class ReadBuffer {
public:
  ReadBuffer() noexcept = default;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  ~ReadBuffer() { release(); }

  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::string_view view() const noexcept { return {data_ + begin_, size()}; }
  char* space(std::size_t want, std::size_t& got);  // room for at least `want` more at the end
  void commit(std::size_t n) noexcept { end_ += n; }
  void append(std::string_view bytes);  // feed_data without libuv
  std::string take(std::size_t n);      // the first n bytes, consumed
  void consume(std::size_t n) noexcept;
  void clear() noexcept { consume(size()); }

private:
  void release() noexcept;
  char* data_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

class ASYNCUV_API StreamCore {
public:
  static constexpr std::size_t default_limit = 64 * 1024;  // asyncio's _DEFAULT_LIMIT

  explicit StreamCore(std::size_t limit = default_limit) noexcept : limit_(limit) {}
  StreamCore(const StreamCore&) = delete;
  StreamCore& operator=(const StreamCore&) = delete;
  ~StreamCore();

  // ---- ownership ----
  void incref() noexcept { ++refs_; }
  void decref() noexcept {
    if (--refs_ == 0) delete this;
  }
  void add_user() noexcept {
    ++users_;
    incref();
  }
  void drop_user() noexcept;  // the last one closes

  // ---- the handle ----
  OwnedHandle<AnyStream> handle;
  uv_stream_t* stream() const noexcept { return handle ? &handle.get()->stream : nullptr; }
  bool is_tcp() const noexcept { return tcp_; }
  // The connection is made (connect, accept): start reading. Throws OSError.
  void connection_made(bool tcp);

  // ---- reading: asyncio.StreamReader ----
  std::size_t limit() const noexcept { return limit_; }
  ReadBuffer& buffer() noexcept { return buf_; }
  bool eof() const noexcept { return eof_; }
  const std::exception_ptr& exception() const noexcept { return error_; }
  void feed_data(std::string_view bytes);
  void feed_eof() noexcept;
  void set_exception(std::exception_ptr e) noexcept;
  void maybe_resume_reading() noexcept;  // after the reader consumed bytes
  // _wait_for_data: until data, EOF or an error arrives.
  ListWaiter wait_for_data(const char* caller);

  // ---- writing: the transport ----
  void write(const char* data, std::size_t n);
  void write_eof();
  bool write_eof_called() const noexcept { return eof_written_; }
  std::size_t write_buffer_size() const noexcept;
  void set_write_buffer_limits(std::ptrdiff_t high, std::ptrdiff_t low);
  std::size_t high_water() const noexcept { return high_; }
  std::size_t low_water() const noexcept { return low_; }
  bool writing_paused() const noexcept { return write_paused_; }
  WaitList& drain_waiters() noexcept { return drainers_; }
  bool connection_lost() const noexcept { return lost_; }
  const std::exception_ptr& lost_error() const noexcept { return lost_error_; }

  // ---- closing ----
  void close() noexcept;  // transport.close(): flush, then connection_lost(None)
  void abort() noexcept;  // transport.abort(): drop queued writes
  bool is_closing() const noexcept { return closing_; }
  WaitList& closed_waiters() noexcept { return closed_waiters_; }

  SocketAddress peername() const;
  SocketAddress sockname() const;
  int fileno() const noexcept;

  // The server that accepted this connection (asyncio's Server._attach):
  // told when the connection is lost.
  void attach_to(ServerCore* server) noexcept;

  // ---- pipes (asyncio's unix_events pipe transports) ----
  // A read pipe closes at EOF (_UnixReadPipeTransport: no half-close); a
  // write pipe reads only to learn that its reader went, then closes
  // (_UnixWritePipeTransport._read_ready: BrokenPipeError if bytes were
  // still queued) and drops anything read. Set before connection_made().
  enum class PipeRole : std::uint8_t { none, read, write };
  void set_pipe_role(PipeRole role, PipeWatcher* watcher) noexcept {
    pipe_role_ = role;
    watcher_ = watcher;
  }
  void forget_watcher() noexcept { watcher_ = nullptr; }

private:
  struct WriteRequest;
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  void written(int status) noexcept;
  void start_reading() noexcept;
  void pause_reading() noexcept;
  void wake_reader() noexcept;
  void maybe_pause_writing() noexcept;
  void fatal_error(int status) noexcept;
  void lose(std::exception_ptr error) noexcept;  // connection_lost(exc)
  void shutdown_now() noexcept;
  void pipe_eof() noexcept;

  std::uint32_t refs_ = 0;
  std::uint32_t users_ = 0;
  std::uint32_t writes_in_flight_ = 0;
  std::size_t limit_;
  std::size_t high_ = 64 * 1024;  // asyncio's write buffer limits
  std::size_t low_ = 16 * 1024;
  ReadBuffer buf_;
  std::exception_ptr error_;       // the reader's exception()
  std::exception_ptr lost_error_;  // connection_lost(exc)
  WaitList reader_;                // at most one waiter, as asyncio allows
  WaitList drainers_;
  WaitList closed_waiters_;
  ServerCore* server_ = nullptr;  // holds a reference until lost
  PipeWatcher* watcher_ = nullptr;  // told once, when lost
  PipeRole pipe_role_ = PipeRole::none;
  bool tcp_ = false;
  bool reading_ = false;      // uv_read_start is on
  bool read_paused_ = false;  // the protocol paused reading (buffer over 2 x limit)
  bool eof_ = false;
  bool write_paused_ = false;  // the transport paused the protocol (drain waits)
  bool eof_written_ = false;
  bool shutdown_pending_ = false;  // write_eof() waits for the queued writes
  bool closing_ = false;
  bool lost_ = false;
};

// Awaits one uv_connect_t (TCP or Unix): submit(req) starts it and returns
// libuv's status; co_await gives the completion status.
template <class Submit>
class [[nodiscard]] ConnectAwaiter : RequestAwaitBase {
public:
  explicit ConnectAwaiter(Submit submit) : RequestAwaitBase(new Request<uv_connect_t>), submit_(std::move(submit)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    suspend(h, [this] { return submit_(&static_cast<Request<uv_connect_t>&>(*req_).req); });
  }
  int await_resume() { return resumed().status(); }

private:
  Submit submit_;
};

// Tags the library's constructors of StreamReader / StreamWriter.
struct FromCore {};

// A counted reference on a StreamCore held as a user (reader or writer).
class StreamUser {
public:
  StreamUser() noexcept = default;
  explicit StreamUser(StreamCore* c) noexcept : c_(c) {
    if (c_) c_->add_user();
  }
  StreamUser(const StreamUser& o) noexcept : StreamUser(o.c_) {}
  StreamUser(StreamUser&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  StreamUser& operator=(StreamUser o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~StreamUser() {
    if (c_) c_->drop_user();
  }
  StreamCore* get() const noexcept { return c_; }
  StreamCore* operator->() const noexcept { return c_; }
  StreamCore& operator*() const noexcept { return *c_; }
  explicit operator bool() const noexcept { return c_ != nullptr; }

private:
  StreamCore* c_ = nullptr;
};

}  // namespace asyncuv::detail
