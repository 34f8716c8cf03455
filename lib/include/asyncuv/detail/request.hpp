// asyncuv/detail/request.hpp — awaiting one libuv request (uv_work_t,
// uv_connect_t, uv_write_t, uv_shutdown_t, uv_getaddrinfo_t, uv_fs_t).
//
// A request belongs to libuv from the moment it is submitted until its
// completion callback runs, however the awaiting task ends: cancelled, or
// destroyed with its frame. So the request lives on the heap, not in the
// frame, and whoever is last frees it: the awaiter if the request never left
// it or came back before the awaiter went, the completion callback otherwise.
// Cancelling the awaiting task ends the await with CancelledError at once,
// as asyncio's does; libuv withdraws the request where it can (work, fs,
// getaddrinfo not yet started), and the rest run to their end unobserved.
#pragma once

#include <uv.h>

#include <coroutine>

#include "../exceptions.hpp"
#include "../tasks.hpp"

namespace asyncuv::detail {

class RequestAwaitBase;

class RequestBase {
public:
  RequestBase() noexcept = default;
  RequestBase(const RequestBase&) = delete;
  RequestBase& operator=(const RequestBase&) = delete;
  virtual ~RequestBase() = default;  // subclasses free what the request returned

  // The completion, on the loop's thread: wakes the awaiter, or frees the
  // request if nobody waits any more.
  void complete(int status) noexcept;
  int status() const noexcept { return status_; }

protected:
  uv_req_t* base_ = nullptr;

private:
  friend class RequestAwaitBase;
  RequestAwaitBase* waiter_ = nullptr;
  int status_ = 0;
};

// A request of libuv type Req; req.data points back here.
template <class Req>
class Request : public RequestBase {
public:
  Request() noexcept {
    req.data = this;
    base_ = reinterpret_cast<uv_req_t*>(&req);
  }
  static Request& of(Req* r) noexcept { return *static_cast<Request*>(r->data); }
  // The completion callback for libuv's (Req*, int status) shape: connect,
  // write, shutdown, work.
  static void on_complete(Req* r, int status) noexcept { of(r).complete(status); }

  Req req{};
};

// Awaits one request it owns until submission.
class RequestAwaitBase : protected Suspension {
protected:
  explicit RequestAwaitBase(RequestBase* r) noexcept : req_(r) {}
  RequestAwaitBase(RequestAwaitBase&&) = delete;  // the request points at us
  ~RequestAwaitBase();

  // submit() hands the request to libuv and returns libuv's status; a
  // failure is thrown as the matching OSError, and the request stays ours.
  template <class Submit>
  void suspend(std::coroutine_handle<> h, Submit&& submit, const char* on = "I/O") {
    TaskCore& self = running_task();
    resume = h;
    cancel = &RequestAwaitBase::on_cancel;
    if (const int rc = submit(); rc != 0) throw_uv_error(rc);
    req_->waiter_ = this;
    in_flight_ = true;
    self.park(this, on);
  }
  // After the wake-up: delivers a pending cancel; the request is complete.
  RequestBase& resumed();

  RequestBase* req_;  // null once handed over for good (detached)

private:
  friend class RequestBase;
  static bool on_cancel(Suspension* s) noexcept;
  void detach() noexcept;
  bool in_flight_ = false;  // submitted, completion not yet seen
};

}  // namespace asyncuv::detail
