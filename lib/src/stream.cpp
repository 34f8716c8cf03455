// stream.cpp — a connected libuv stream as asyncio's transport + protocol
// (see detail/stream.hpp).
#include "asyncuv/detail/stream.hpp"

#include "asyncuv/detail/listener.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace asyncuv::detail {

// ---- ReadBuffer ----

namespace {

constexpr std::size_t block_size = 64 * 1024;  // libuv's suggested read size

// Spare blocks per thread, in four size classes (64 KiB to 512 KiB): a
// request/response connection empties its buffer after every request, many
// connections served in one iteration each need a block at once, and a
// 100 KiB message arrives in two reads, so the buffer grows to the next class.
// Freed and allocated each time, such blocks make glibc trim and grow its
// heap (brk) or mmap and munmap them, which doubled or tripled the server's
// CPU per request. The cache holds only blocks that were in use at the same
// moment, at most 8 MiB in all; an idle connection holds none.
constexpr std::size_t classes = 4;
constexpr std::size_t max_cached_bytes = 8 << 20;
struct SpareBlocks {
  char* blocks[classes][128];
  std::size_t count[classes] = {};
  std::size_t bytes = 0;
  ~SpareBlocks() {
    for (std::size_t k = 0; k < classes; ++k)
      while (count[k] > 0) std::free(blocks[k][--count[k]]);
  }
};
thread_local SpareBlocks spare;

// The capacity a block for `need` bytes gets: a class size, or `need` itself
// past the largest class.
std::size_t block_capacity(std::size_t need) noexcept {
  for (std::size_t k = 0; k < classes; ++k)
    if ((block_size << k) >= need) return block_size << k;
  return need;
}

std::size_t class_of(std::size_t cap) noexcept {
  for (std::size_t k = 0; k < classes; ++k)
    if ((block_size << k) == cap) return k;
  return classes;
}

char* take_block(std::size_t cap) {
  if (const std::size_t k = class_of(cap); k < classes && spare.count[k] > 0) {
    spare.bytes -= cap;
    return spare.blocks[k][--spare.count[k]];
  }
  char* b = static_cast<char*>(std::malloc(cap));
  if (!b) throw std::bad_alloc();
  return b;
}

void give_block(char* b, std::size_t cap) noexcept {
  const std::size_t k = class_of(cap);
  if (k < classes && spare.count[k] < 128 && spare.bytes + cap <= max_cached_bytes) {
    spare.blocks[k][spare.count[k]++] = b;
    spare.bytes += cap;
  } else {
    std::free(b);
  }
}


}  // namespace

char* ReadBuffer::space(std::size_t want, std::size_t& got) {
  if (!data_) {
    cap_ = block_capacity(want);
    data_ = take_block(cap_);
  }
  if (cap_ - end_ < want && begin_ > 0) {  // slide the unread bytes to the front
    std::memmove(data_, data_ + begin_, size());
    end_ -= begin_;
    begin_ = 0;
  }
  if (cap_ - end_ < want) {  // a block of the next class; the old one goes back
    const std::size_t cap = block_capacity(std::max(cap_ * 2, end_ + want));
    char* grown = take_block(cap);
    std::memcpy(grown, data_, end_);
    give_block(data_, cap_);
    data_ = grown;
    cap_ = cap;
  }
  got = cap_ - end_;
  return data_ + end_;
}

void ReadBuffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::size_t got = 0;
  char* p = space(bytes.size(), got);
  std::memcpy(p, bytes.data(), bytes.size());
  commit(bytes.size());
}

std::string ReadBuffer::take(std::size_t n) {
  n = std::min(n, size());
  std::string out(data_ + begin_, n);
  consume(n);
  return out;
}

void ReadBuffer::consume(std::size_t n) noexcept {
  begin_ += std::min(n, size());
  if (begin_ == end_) release();
}

void ReadBuffer::release() noexcept {
  if (data_) give_block(data_, cap_);
  data_ = nullptr;
  cap_ = begin_ = end_ = 0;
}

// ---- StreamCore: ownership ----

// A queued write: libuv holds the bytes until the callback, which may come
// after every user is gone (it holds a reference on the core).
struct StreamCore::WriteRequest {
  uv_write_t req;
  StreamCore* core;
  std::size_t size;
  char data[1];  // `size` bytes follow
  static WriteRequest* make(StreamCore* core, const char* bytes, std::size_t n) {
    void* mem = std::malloc(offsetof(WriteRequest, data) + n);
    if (!mem) throw std::bad_alloc();
    auto* w = static_cast<WriteRequest*>(mem);
    w->core = core;
    w->size = n;
    std::memcpy(w->data, bytes, n);
    return w;
  }
};

StreamCore::~StreamCore() {  // the handle closes itself (OwnedHandle)
  if (ServerCore* server = std::exchange(server_, nullptr)) {
    server->detach();
    server->decref();
  }
}

void StreamCore::drop_user() noexcept {
  if (--users_ == 0) close();
  decref();
}

// libuv writes with write(2), which raises SIGPIPE when the peer has reset
// the connection (or a pipe's reader went): its default action kills the
// process. Python ignores SIGPIPE at startup, so asyncio sees EPIPE /
// ECONNRESET as errors instead; do the same before the first connection,
// child or pipe, unless the program has a handler of its own.
void ignore_sigpipe() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      std::signal(SIGPIPE, SIG_IGN);
    }
  });
}

void StreamCore::connection_made(bool tcp) {
  ignore_sigpipe();
  tcp_ = tcp;
  handle.get()->handle.data = this;
  if (tcp) {
    // asyncio sets TCP_NODELAY on every TCP transport.
    if (const int rc = uv_tcp_nodelay(&handle.get()->tcp, 1); rc != 0) throw_uv_error(rc);
  }
  start_reading();
}

// ---- reading ----

void StreamCore::start_reading() noexcept {
  if (reading_ || !handle || closing_ || eof_) return;
  // A write-only fd (a pipe's write end) cannot tell us its reader went.
  if (pipe_role_ == PipeRole::write && !uv_is_readable(stream())) return;
  if (const int rc = uv_read_start(stream(), &on_alloc, &on_read); rc != 0) {
    fatal_error(rc);
    return;
  }
  reading_ = true;
}

void StreamCore::pause_reading() noexcept {
  if (reading_ && handle) uv_read_stop(stream());
  reading_ = false;
}

void StreamCore::on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf) {
  auto* self = static_cast<StreamCore*>(h->data);
  try {
    std::size_t got = 0;
    char* p = self->buf_.space(suggested, got);
    *buf = uv_buf_init(p, static_cast<unsigned>(got));
  } catch (const std::bad_alloc&) {
    *buf = uv_buf_init(nullptr, 0);  // libuv reports UV_ENOBUFS to on_read
  }
}

void StreamCore::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<StreamCore*>(s->data);
  if (self->pipe_role_ == PipeRole::write && nread > 0) {
    self->buf_.clear();  // a child writing into its stdin: nobody reads that
    return;
  }
  if (self->pipe_role_ != PipeRole::none && nread == UV_EOF) {
    self->pipe_eof();
    return;
  }
  if (nread > 0) {
    self->buf_.commit(static_cast<std::size_t>(nread));
    self->wake_reader();
    // asyncio's feed_data: pause above twice the limit.
    if (self->buf_.size() > 2 * self->limit_) {
      self->read_paused_ = true;
      self->pause_reading();
    }
  } else if (nread == UV_EOF) {
    self->pause_reading();
    self->feed_eof();  // eof_received() keeps the transport open (half-close)
  } else if (nread < 0) {
    self->fatal_error(static_cast<int>(nread));
  }
  if (self->buf_.empty()) self->buf_.clear();  // give back a block nobody wrote into
}

// A read pipe at EOF, a write pipe whose reader went (or wrote to it).
void StreamCore::pipe_eof() noexcept {
  if (pipe_role_ == PipeRole::read) {
    lose(nullptr);  // feeds EOF to the reader
    return;
  }
  // _UnixWritePipeTransport._read_ready: the reader went; BrokenPipeError
  // if bytes were still queued.
  lose(writes_in_flight_ > 0 ? uv_error(UV_EPIPE) : nullptr);
}

void StreamCore::wake_reader() noexcept { wake_all(reader_); }

void StreamCore::feed_data(std::string_view bytes) {
  if (bytes.empty()) return;
  buf_.append(bytes);
  wake_reader();
  if (buf_.size() > 2 * limit_ && reading_) {
    read_paused_ = true;
    pause_reading();
  }
}

void StreamCore::feed_eof() noexcept {
  eof_ = true;
  wake_reader();
}

void StreamCore::set_exception(std::exception_ptr e) noexcept {
  error_ = std::move(e);
  wake_reader();
}

void StreamCore::maybe_resume_reading() noexcept {
  if (read_paused_ && buf_.size() <= limit_) {
    read_paused_ = false;
    start_reading();
  }
}

ListWaiter StreamCore::wait_for_data(const char* caller) {
  if (!reader_.empty()) {
    throw RuntimeError(std::string(caller) +
                       "() called while another coroutine is already waiting for incoming data");
  }
  if (read_paused_) {  // the reader wants more than the paused buffer holds
    read_paused_ = false;
    start_reading();
  }
  return ListWaiter(reader_);
}

// ---- writing ----

std::size_t StreamCore::write_buffer_size() const noexcept {
  return handle ? handle.get()->stream.write_queue_size : 0;
}

void StreamCore::write(const char* data, std::size_t n) {
  if (n == 0) return;
  if (eof_written_) throw RuntimeError("Cannot call write() after write_eof()");
  if (lost_ || closing_ || !handle) return;  // asyncio drops writes on a lost connection
  uv_buf_t buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(n));
  if (writes_in_flight_ == 0) {  // nothing queued: send at once, queue only the rest
    const int sent = uv_try_write(stream(), &buf, 1);
    if (sent == static_cast<int>(n)) return;
    if (sent < 0 && sent != UV_EAGAIN) {
      fatal_error(sent);
      return;
    }
    if (sent > 0) {
      data += sent;
      n -= static_cast<std::size_t>(sent);
    }
  }
  WriteRequest* w = WriteRequest::make(this, data, n);
  buf = uv_buf_init(w->data, static_cast<unsigned>(n));
  if (const int rc = uv_write(&w->req, stream(), &buf, 1, &on_write); rc != 0) {
    std::free(w);
    fatal_error(rc);
    return;
  }
  incref();
  ++writes_in_flight_;
  maybe_pause_writing();
}

void StreamCore::on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  StreamCore* self = w->core;
  std::free(w);
  self->written(status);
  self->decref();
}

void StreamCore::written(int status) noexcept {
  --writes_in_flight_;
  if (status < 0 && status != UV_ECANCELED) fatal_error(status);
  if (write_paused_ && write_buffer_size() <= low_) {  // resume_writing()
    write_paused_ = false;
    wake_all(drainers_);
  }
  if (writes_in_flight_ > 0) return;
  if (shutdown_pending_) shutdown_now();
  if (closing_ && !lost_) lose(nullptr);  // close() waited for the flush
}

void StreamCore::maybe_pause_writing() noexcept {
  if (!write_paused_ && write_buffer_size() > high_) write_paused_ = true;
}

void StreamCore::set_write_buffer_limits(std::ptrdiff_t high, std::ptrdiff_t low) {
  // asyncio's _set_write_buffer_limits: high defaults to 64 KiB (or 4 x low),
  // low to high / 4.
  if (high < 0) high = low < 0 ? 64 * 1024 : 4 * low;
  if (low < 0) low = high / 4;
  if (!(high >= low && low >= 0)) {
    throw ValueError("high (" + std::to_string(high) + ") must be >= low (" + std::to_string(low) + ") must be >= 0");
  }
  high_ = static_cast<std::size_t>(high);
  low_ = static_cast<std::size_t>(low);
  maybe_pause_writing();
  if (write_paused_ && write_buffer_size() <= low_) {
    write_paused_ = false;
    wake_all(drainers_);
  }
}

void StreamCore::write_eof() {
  if (closing_ || eof_written_) return;
  eof_written_ = true;
  if (writes_in_flight_ == 0) shutdown_now();
  else shutdown_pending_ = true;  // after the queued bytes, as asyncio does
}

void StreamCore::shutdown_now() noexcept {
  shutdown_pending_ = false;
  if (!handle) return;
  struct Shutdown {
    uv_shutdown_t req;
    StreamCore* core;
  };
  auto* s = new (std::nothrow) Shutdown{{}, this};
  if (!s) return;
  const int rc = uv_shutdown(&s->req, stream(), [](uv_shutdown_t* r, int) {
    auto* done = reinterpret_cast<Shutdown*>(r);
    done->core->decref();
    delete done;
  });
  if (rc != 0) {
    delete s;
    return;
  }
  incref();
}

// ---- closing ----

void StreamCore::fatal_error(int status) noexcept {
  // asyncio's _fatal_error on an OSError: no log, the connection is lost.
  lose(uv_error(status));
}

void StreamCore::close() noexcept {
  if (closing_) return;
  closing_ = true;
  pause_reading();
  if (writes_in_flight_ == 0) lose(nullptr);
}

void StreamCore::abort() noexcept {
  closing_ = true;
  lose(nullptr);
}

// asyncio's connection_lost(exc), here at once (asyncio defers it by one
// call_soon; the fd is closed by uv_close now either way).
void StreamCore::lose(std::exception_ptr error) noexcept {
  if (lost_) return;
  lost_ = true;
  closing_ = true;
  reading_ = false;
  handle.close();  // queued writes come back with UV_ECANCELED
  lost_error_ = error;
  if (error) set_exception(error);
  else feed_eof();
  wake_all(drainers_);
  wake_all(closed_waiters_);
  if (ServerCore* server = std::exchange(server_, nullptr)) {
    server->detach();
    server->decref();
  }
  if (PipeWatcher* w = std::exchange(watcher_, nullptr)) w->pipe_lost(*this);
}

void StreamCore::attach_to(ServerCore* server) noexcept {
  server_ = server;
  server->incref();
  server->attach();
}

// ---- addresses ----

SocketAddress address_of(const AnyStream& s, bool tcp, bool peer) {
  if (tcp) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    const int rc = peer ? uv_tcp_getpeername(&s.tcp, sa, &len) : uv_tcp_getsockname(&s.tcp, sa, &len);
    if (rc != 0) throw_uv_error(rc);
    return SocketAddress::from(sa, static_cast<socklen_t>(len));
  }
  char path[4096];
  std::size_t len = sizeof path;
  const int rc = peer ? uv_pipe_getpeername(&s.pipe, path, &len) : uv_pipe_getsockname(&s.pipe, path, &len);
  if (rc != 0) throw_uv_error(rc);
  return SocketAddress(AF_UNIX, std::string(path, ::strnlen(path, len)), 0);
}

SocketAddress StreamCore::peername() const {
  if (!handle) throw_uv_error(UV_EBADF);
  return address_of(*handle.get(), tcp_, true);
}

SocketAddress StreamCore::sockname() const {
  if (!handle) throw_uv_error(UV_EBADF);
  return address_of(*handle.get(), tcp_, false);
}

int StreamCore::fileno() const noexcept {
  uv_os_fd_t fd = -1;
  if (!handle || uv_fileno(handle.base(), &fd) != 0) return -1;
  return fd;
}

}  // namespace asyncuv::detail
