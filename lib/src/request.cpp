// request.cpp — who frees a libuv request: see detail/request.hpp.
#include "asyncuv/detail/request.hpp"

namespace asyncuv::detail {

void RequestBase::complete(int status) noexcept {
  status_ = status;
  RequestAwaitBase* a = waiter_;
  if (!a) {
    delete this;
    return;
  }
  a->in_flight_ = false;
  a->task->wake();
}

RequestAwaitBase::~RequestAwaitBase() {
  if (!req_) return;
  if (in_flight_) detach();  // a frame destroyed while libuv holds the request
  else delete req_;
}

bool RequestAwaitBase::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<RequestAwaitBase*>(s);
  if (self->in_flight_) self->detach();
  return false;  // the await ends with CancelledError now
}

// Stop waiting: withdraw the request if libuv still can (a no-op error for
// those it cannot); either way its completion callback frees it.
void RequestAwaitBase::detach() noexcept {
  uv_cancel(req_->base_);
  req_->waiter_ = nullptr;
  req_ = nullptr;
  in_flight_ = false;
}

RequestBase& RequestAwaitBase::resumed() {
  task->throw_if_cancelled();
  return *req_;
}

}  // namespace asyncuv::detail
