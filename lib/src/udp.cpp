// udp.cpp — one UDP socket on uv_udp_t: see detail/udp.hpp.
#include "asyncuv/detail/udp.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

#include "asyncuv/datagrams.hpp"

namespace asyncuv::detail {

namespace {

void check(int status) {
  if (status < 0) throw_uv_error(status);
}

}  // namespace

sockaddr_storage to_sockaddr(const SocketAddress& a, int family) {
  std::string host = a.host;
  const int wanted = family ? family : a.family;
  if (host.empty()) host = wanted == AF_INET6 ? "::" : "0.0.0.0";
  if (host == "localhost") host = wanted == AF_INET6 ? "::1" : "127.0.0.1";
  sockaddr_storage ss{};
  const bool v6 = host.find(':') != std::string::npos;
  const int rc = v6 ? uv_ip6_addr(host.c_str(), a.port, reinterpret_cast<sockaddr_in6*>(&ss))
                    : uv_ip4_addr(host.c_str(), a.port, reinterpret_cast<sockaddr_in*>(&ss));
  if (rc != 0) throw ValueError("not a numeric address (asyncuv does no name lookup here): '" + a.host + "'");
  if (v6) {  // a link-local address needs its scope
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_flowinfo = htonl(a.flowinfo);
    in6->sin6_scope_id = a.scope_id;
  }
  return ss;
}

UdpSocket::UdpSocket(EventLoop& loop, int family, std::size_t max_queued)
    : loop_(loop), family_(family ? family : AF_INET), max_queued_(max_queued ? max_queued : 1) {
  if (family_ != AF_INET && family_ != AF_INET6) throw_uv_error(UV_EAFNOSUPPORT);
  uv_loop_t* uv = loop.uv_loop();
  const unsigned f = static_cast<unsigned>(family_);
  check(handle_.open(handles_of(loop), [uv, f](uv_udp_t* h) { return uv_udp_init_ex(uv, h, f); }));
  handle_.get()->data = this;
  start_reading();
}

uv_udp_t* UdpSocket::handle() const {
  if (!handle_) throw_uv_error(UV_EBADF);
  return handle_.get();
}

// Reading starts at once: an unbound socket receives nothing until a bind,
// a connect or its first send gives it a port.
void UdpSocket::start_reading() {
  if (reading_ || !handle_) return;
  check(uv_udp_recv_start(handle_.get(), &UdpSocket::on_alloc, &UdpSocket::on_recv));
  reading_ = true;
  update_ref();
}

// Referenced only while a task waits for a datagram: an idle socket does
// not keep the loop (or run()'s shutdown) going, as no asyncio transport does.
void UdpSocket::update_ref() noexcept {
  if (!handle_) return;
  if (reading_ && !waiters_.empty()) uv_ref(handle_.base());
  else uv_unref(handle_.base());
}

void UdpSocket::close() noexcept {
  if (closed_) return;
  closed_ = true;
  handle_.close();  // pending sends complete with UV_ECANCELED and free themselves
  queue_.clear();
  promised_ = 0;
  // Every waiter wakes and raises EBADF, without reading the socket again
  // (it may be gone by then).
  for (WaitList* list : {&promised_waiters_, &waiters_}) {
    while (WaitNode* n = list->pop_front()) {
      n->orphaned = true;
      if (!n->woken) n->task->wake(loop_);
    }
  }
}

void UdpSocket::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<UdpSocket*>(h->data);
  *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
}

void UdpSocket::on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
  auto* self = static_cast<UdpSocket*>(h->data);
  if (nread == 0 && !addr) return;  // nothing more to read now
  Received r;
  try {
    if (nread < 0) {
      r.error = static_cast<int>(nread);  // ICMP errors of a connected socket, mostly
    } else {
      // UV_UDP_PARTIAL cannot happen: the buffer holds the largest datagram.
      static_cast<void>(flags);
      r.data.assign(buf->base, static_cast<std::size_t>(nread));
      std::memcpy(&r.from, addr, addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    }
    self->received(std::move(r));
  } catch (...) {  // out of memory: this datagram is lost, as if the kernel had dropped it
  }
}

void UdpSocket::received(Received r) {
  queue_.push_back(std::move(r));
  if (queue_.size() >= max_queued_ && reading_) {
    uv_udp_recv_stop(handle_.get());
    reading_ = false;
    update_ref();
  }
  hand_out();
}

void UdpSocket::hand_out() noexcept {
  while (promised_ < queue_.size() && !waiters_.empty()) {
    WaitNode* n = waiters_.pop_front();
    n->woken = true;
    promised_waiters_.push_back(n);
    ++promised_;
    n->task->wake(loop_);
  }
  update_ref();
}

Received UdpSocket::take() {
  if (closed_) throw_uv_error(UV_EBADF);
  Received r = std::move(queue_.front());
  queue_.pop_front();
  if (!reading_ && queue_.size() <= max_queued_ / 2) start_reading();
  if (r.error) throw_uv_error(r.error);
  return r;
}

void UdpSocket::wait(Waiter* w, std::coroutine_handle<> h) {
  wait_in(waiters_, w, h, &UdpSocket::on_cancel, "I/O");
  update_ref();
}

// A cancelled recvfrom: one that was promised a datagram hands its promise
// on, so the datagram stays queued for the next.
bool UdpSocket::on_cancel(Suspension* s) noexcept {
  auto* w = static_cast<Waiter*>(s);
  if (!w->orphaned) w->socket->forget(w);
  return false;
}

void UdpSocket::forget(Waiter* w) noexcept {
  if (!w->linked()) return;
  WaitList::unlink(w);
  if (w->woken) {
    w->woken = false;
    --promised_;
    hand_out();
  }
  update_ref();
}

Received RecvAwaiter::await_resume() {
  if (orphaned) {  // closed while we waited
    if (task) task->throw_if_cancelled();
    throw_uv_error(UV_EBADF);
  }
  if (woken) {  // promised one (a cancel would have handed the promise on)
    woken = false;
    WaitList::unlink(this);
    --socket->promised_;
  } else if (task) {
    task->throw_if_cancelled();
  }
  Received r = socket->take();
  if (r.data.size() > bufsize_) r.data.resize(bufsize_);
  return r;
}

bool SendAwaiter::await_ready() {
  const uv_buf_t buf = uv_buf_init(const_cast<char*>(data_.data()), static_cast<unsigned>(data_.size()));
  const int rc = uv_udp_try_send(socket_.handle(), &buf, 1, to());
  if (rc >= 0) return true;
  if (rc != UV_EAGAIN) throw_uv_error(rc);
  return false;  // the kernel's buffer is full, or sends are queued before us
}

void SendAwaiter::await_suspend(std::coroutine_handle<> h) {
  auto* r = new SendRequest;
  r->data.assign(data_);
  req_ = r;
  suspended_ = true;
  suspend(h, [this, r] {
    const uv_buf_t buf = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
    return uv_udp_send(&r->req, socket_.handle(), &buf, 1, to(), &SendRequest::on_complete);
  });
}

std::size_t SendAwaiter::await_resume() {
  if (suspended_) {
    const int status = resumed().status();
    if (status < 0) throw_uv_error(status);
  }
  return data_.size();
}

}  // namespace asyncuv::detail
