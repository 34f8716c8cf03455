// listener.cpp — listening sockets and asyncio's Server state (see
// detail/listener.hpp).
#include "asyncuv/detail/listener.hpp"

#include <cstring>

namespace asyncuv::detail {

ServerCore::~ServerCore() = default;  // listeners close themselves (OwnedHandle)

void ServerCore::add_listener(int family, const std::function<void(AnyStream&)>& bind) {
  EventLoop& loop = get_running_loop();
  OwnedHandle<AnyStream> h;
  const int rc = h.open(handles_of(loop), [&](AnyStream* s) {
    // The TCP socket exists before bind, so that options can be set on it.
    return tcp_ ? uv_tcp_init_ex(loop.uv_loop(), &s->tcp, static_cast<unsigned>(family))
                : uv_pipe_init(loop.uv_loop(), &s->pipe, 0);
  });
  if (rc != 0) throw_uv_error(rc);
  h.get()->handle.data = this;
  bind(*h.get());
  listeners_.push_back(std::move(h));
}

void ServerCore::start_serving() {
  if (serving_ || closed_) return;
  for (auto& h : listeners_) {
    if (!h) continue;
    if (const int rc = uv_listen(&h.get()->stream, backlog, &on_connection); rc != 0) throw_uv_error(rc);
  }
  serving_ = true;
}

std::vector<SocketAddress> ServerCore::addresses() const {
  std::vector<SocketAddress> out;
  for (const auto& h : listeners_) {
    if (!h) continue;
    try {
      out.push_back(address_of(*h.get(), tcp_, false));
    } catch (const OSError&) {
      // a socket that cannot say its address is left out, as a closed one
    }
  }
  return out;
}

std::string ServerCore::repr() const {
  std::string s = "<Server sockets=(";
  for (const SocketAddress& a : addresses()) s += a.repr() + ",";
  return s + ")>";
}

void ServerCore::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<ServerCore*>(listener->data);
  if (status < 0) {
    report_exception({"socket.accept() out of system resource", uv_error(status), {}});
    return;
  }
  try {
    self->accept(listener);
  } catch (...) {
    report_exception({"Error on transport creation for incoming connection", std::current_exception(), {}});
  }
}

void ServerCore::accept(uv_stream_t* listener) {
  StreamUser conn(new StreamCore(limit_));
  EventLoop& loop = *EventLoop::current();
  const int rc = conn->handle.open(handles_of(loop), [&](AnyStream* s) {
    return tcp_ ? uv_tcp_init(loop.uv_loop(), &s->tcp) : uv_pipe_init(loop.uv_loop(), &s->pipe, 0);
  });
  if (rc != 0) throw_uv_error(rc);
  if (const int arc = uv_accept(listener, conn->stream()); arc != 0) throw_uv_error(arc);
  conn->connection_made(tcp_);
  conn->attach_to(this);
  on_client_(conn.get());
}

void ServerCore::close() noexcept {
  if (closed_) return;
  closed_ = true;
  serving_ = false;
  for (auto& h : listeners_) h.close();
  listeners_.clear();
  wake_all(forever_);  // serve_forever() ends with CancelledError
  if (active_ == 0) wakeup();
}

void ServerCore::detach() noexcept {
  if (--active_ == 0 && closed_) wakeup();
}

void ServerCore::wakeup() noexcept {
  waiters_released_ = true;
  wake_all(waiters_);
}

}  // namespace asyncuv::detail
