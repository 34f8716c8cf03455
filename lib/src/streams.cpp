// streams.cpp — asyncio.streams on the stream core (detail/stream.hpp):
// StreamReader's read operations, StreamWriter, open_connection and the
// servers.
#include "asyncuv/streams.hpp"

#include "asyncuv/detail/pipe.hpp"
#include "asyncuv/detail/tcp.hpp"
#include "asyncuv/sleep.hpp"

namespace asyncuv {

// ---- StreamReader ----

namespace {

detail::StreamCore* new_reader_core(std::size_t limit) {
  if (limit == 0 || limit > static_cast<std::size_t>(PTRDIFF_MAX)) throw ValueError("Limit cannot be <= 0");
  return new detail::StreamCore(limit);
}

void throw_if_failed(const detail::StreamCore& c) {
  if (c.exception()) std::rethrow_exception(c.exception());
}

// The first n bytes of the buffer, consumed; reading resumes if it paused.
std::string take(detail::StreamCore& c, std::size_t n) {
  std::string data = c.buffer().take(n);
  c.maybe_resume_reading();
  return data;
}

Coro<std::string> no_bytes() { co_return std::string(); }

// Hold the core while a read runs: the reader object may go first.
Coro<std::string> read_up_to(detail::StreamUser c, std::size_t n) {
  if (c->buffer().empty() && !c->eof()) co_await c->wait_for_data("read");
  throw_if_failed(*c);  // an error that arrived while waiting
  co_return take(*c, n);
}

Coro<std::string> read_all(detail::StreamUser c) {
  std::string out;
  for (;;) {
    throw_if_failed(*c);
    if (c->buffer().empty() && !c->eof()) co_await c->wait_for_data("read");
    throw_if_failed(*c);
    if (c->buffer().empty()) break;  // EOF
    out += take(*c, c->buffer().size());
  }
  co_return out;
}

Coro<std::string> read_exactly(detail::StreamUser c, std::size_t n) {
  while (c->buffer().size() < n) {
    if (c->eof()) {
      std::string partial = take(*c, c->buffer().size());
      throw IncompleteReadError(std::move(partial), n);
    }
    co_await c->wait_for_data("readexactly");
    throw_if_failed(*c);
  }
  co_return take(*c, n);
}

// asyncio's readuntil, with its offsets: data stays buffered on an overrun.
Coro<std::string> read_until(detail::StreamUser c, std::string separator) {
  const std::size_t seplen = separator.size();
  const std::size_t limit = c->limit();
  std::size_t offset = 0;
  std::size_t isep = 0;
  for (;;) {
    const std::string_view buf = c->buffer().view();
    if (buf.size() >= offset + seplen) {
      isep = buf.find(separator, offset);
      if (isep != std::string_view::npos) break;
      offset = buf.size() + 1 - seplen;
      if (offset > limit) throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
    }
    if (c->eof()) {
      std::string partial = take(*c, c->buffer().size());
      throw IncompleteReadError(std::move(partial), std::nullopt);
    }
    co_await c->wait_for_data("readuntil");
    throw_if_failed(*c);
  }
  if (isep > limit) throw LimitOverrunError("Separator is found, but chunk is longer than limit", isep);
  co_return take(*c, isep + seplen);
}

Coro<std::string> read_line(detail::StreamUser c) {
  std::exception_ptr overrun;
  std::size_t consumed = 0;
  try {
    co_return co_await read_until(c, "\n");
  } catch (const IncompleteReadError& e) {
    co_return e.partial();
  } catch (const LimitOverrunError& e) {
    overrun = std::current_exception();
    consumed = e.consumed();
  }
  // asyncio drops the overlong line (through its separator, if buffered).
  detail::ReadBuffer& buf = c->buffer();
  if (buf.view().substr(consumed).starts_with('\n')) buf.consume(consumed + 1);
  else buf.clear();
  c->maybe_resume_reading();
  try {
    std::rethrow_exception(overrun);
  } catch (const LimitOverrunError& e) {
    throw ValueError(e.what());
  }
}

}  // namespace

StreamReader::StreamReader(std::size_t limit) : core_(new_reader_core(limit)) {}

Coro<std::string> StreamReader::read(std::ptrdiff_t n) {
  throw_if_failed(*core_);
  if (n == 0) return no_bytes();
  if (n < 0) return read_all(core_);
  return read_up_to(core_, static_cast<std::size_t>(n));
}

Coro<std::string> StreamReader::readline() {
  throw_if_failed(*core_);
  return read_line(core_);
}

Coro<std::string> StreamReader::readexactly(std::ptrdiff_t n) {
  if (n < 0) throw ValueError("readexactly size can not be less than zero");
  throw_if_failed(*core_);
  return read_exactly(core_, static_cast<std::size_t>(n));
}

Coro<std::string> StreamReader::readuntil(std::string separator) {
  if (separator.empty()) throw ValueError("Separator should be at least one-byte string");
  throw_if_failed(*core_);
  return read_until(core_, std::move(separator));
}

bool StreamReader::at_eof() const noexcept { return core_->eof() && core_->buffer().empty(); }

void StreamReader::feed_data(std::string_view bytes) { core_->feed_data(bytes); }
void StreamReader::feed_eof() noexcept { core_->feed_eof(); }
void StreamReader::set_exception(std::exception_ptr e) noexcept { core_->set_exception(std::move(e)); }

// ---- StreamWriter ----

void Transport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  auto arg = [](std::optional<std::size_t> v) { return v ? static_cast<std::ptrdiff_t>(*v) : std::ptrdiff_t(-1); };
  core_->set_write_buffer_limits(arg(high), arg(low));
}

namespace {

Coro<void> drain_core(detail::StreamUser c) {
  throw_if_failed(*c);
  // Let a pending connection_lost run first, as asyncio's sleep(0) does.
  if (c->is_closing()) co_await sleep(0);
  if (c->connection_lost()) {
    if (c->lost_error()) std::rethrow_exception(c->lost_error());
    throw ConnectionResetError("Connection lost");
  }
  if (!c->writing_paused()) co_return;
  co_await detail::ListWaiter(c->drain_waiters());
  if (c->lost_error()) std::rethrow_exception(c->lost_error());
}

Coro<void> wait_closed_core(detail::StreamUser c) {
  if (!c->connection_lost()) co_await detail::ListWaiter(c->closed_waiters());
  if (c->lost_error()) std::rethrow_exception(c->lost_error());
}

}  // namespace

Coro<void> StreamWriter::drain() { return drain_core(core_); }
Coro<void> StreamWriter::wait_closed() { return wait_closed_core(core_); }

std::any StreamWriter::get_extra_info(std::string_view name, std::any default_value) const {
  try {
    if (name == "peername") return peername();
    if (name == "sockname") return sockname();
    if (name == "socket" && core_->fileno() >= 0) return core_->fileno();
  } catch (const OSError&) {
  }
  return default_value;
}

// ---- open_connection ----

namespace {

// asyncio's create_connection: the first error if all agree, else all of them.
[[noreturn]] void throw_connect_errors(const std::vector<std::exception_ptr>& errors) {
  auto text = [](const std::exception_ptr& e) -> std::string {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      return x.what();
    }
  };
  const std::string first = text(errors.front());
  bool same = true;
  for (const auto& e : errors) same = same && text(e) == first;
  if (same) std::rethrow_exception(errors.front());
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : ", ") + text(e);
  throw OSError("Multiple exceptions: " + all);
}

Coro<std::vector<AddrInfo>> resolve(const std::string& host, int port, int family, int flags) {
  auto infos = detail::numeric_addrinfo(host, port, family, SOCK_STREAM, IPPROTO_TCP);
  if (infos.empty()) infos = co_await getaddrinfo(host, port, family, SOCK_STREAM, 0, flags);
  if (infos.empty()) throw OSError("getaddrinfo() returned empty list");
  co_return infos;
}

std::pair<StreamReader, StreamWriter> reader_writer(detail::StreamCore* c) {
  return {StreamReader(c, detail::FromCore{}), StreamWriter(c, detail::FromCore{})};
}

}  // namespace

Coro<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, int port, ConnectionOptions options) {
  auto infos = co_await resolve(host, port, options.family, options.flags);
  std::vector<std::exception_ptr> errors;
  for (const AddrInfo& info : infos) {
    detail::StreamUser conn(new detail::StreamCore(options.limit));
    try {
      detail::open_tcp(*conn, info.family);
      co_await detail::connect_tcp(*conn, info.address);
      co_return reader_writer(conn.get());
    } catch (const OSError&) {
      errors.push_back(std::current_exception());
    }
  }
  throw_connect_errors(errors);
}

Coro<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path, ConnectionOptions options) {
  detail::StreamUser conn(new detail::StreamCore(options.limit));
  detail::open_pipe(*conn);
  co_await detail::connect_pipe(*conn, path);
  co_return reader_writer(conn.get());
}

// ---- Server ----

Server::Server(detail::ServerCore* core) noexcept : core_(core) { core_->add_handle(); }
Server::Server(const Server& o) noexcept : core_(o.core_) {
  if (core_) core_->add_handle();
}
Server::~Server() {
  if (core_) core_->drop_handle();
}

Coro<void> Server::wait_closed() {
  Server self = *this;  // the awaiting coroutine keeps the server
  if (self.core_->is_closed() || self.core_->waiters_released()) co_return;
  co_await detail::ListWaiter(self.core_->closed_waiters());
}

Coro<void> Server::start_serving() {
  core_->start_serving();
  co_return;
}

Coro<void> Server::serve_forever() {
  Server self = *this;
  detail::ServerCore& c = *self.core_;
  if (c.serving_forever) throw RuntimeError("server " + c.repr() + " is already being awaited on serve_forever()");
  if (c.is_closed()) throw RuntimeError("server " + c.repr() + " is closed");
  c.start_serving();
  c.serving_forever = true;
  std::exception_ptr cancelled;
  try {
    co_await detail::ListWaiter(c.forever_waiters());
    detail::throw_cancelled();  // close() ended it: asyncio cancels the future
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  }
  c.serving_forever = false;
  c.close();
  co_await self.wait_closed();
  std::rethrow_exception(cancelled);
}

Coro<void> Server::exit(std::exception_ptr error) {
  close();
  co_await wait_closed();
  if (error) std::rethrow_exception(error);  // __aexit__ returns None: the error goes on
}

namespace detail {

Coro<Server> start_tcp_server(ServerCore::OnClient cb, std::string host, int port, ServerOptions o) {
  Server server(new ServerCore(std::move(cb), o.limit, true));
  detail::ServerCore& core = server.core();
  core.backlog = o.backlog;
  std::vector<AddrInfo> infos;
  if (host.empty()) infos = co_await getaddrinfo("", port, o.family, SOCK_STREAM, 0, o.flags);
  else infos = co_await resolve(host, port, o.family, o.flags);
  for (const AddrInfo& info : infos) {
    if (info.family != AF_INET && info.family != AF_INET6) continue;
    core.add_listener(info.family, [&](AnyStream& s) { bind_tcp(s, info.address, o.reuse_port); });
  }
  if (o.start_serving) core.start_serving();
  co_return server;
}

Coro<Server> start_unix_server(ServerCore::OnClient cb, std::string path, ServerOptions o) {
  Server server(new ServerCore(std::move(cb), o.limit, false));
  detail::ServerCore& core = server.core();
  core.backlog = o.backlog;
  core.add_listener(AF_UNIX, [&](AnyStream& s) { bind_pipe(s, path); });
  if (o.start_serving) core.start_serving();
  co_return server;
}

}  // namespace detail

}  // namespace asyncuv
