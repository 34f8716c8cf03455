// asyncuv/detail/owned_handle.hpp — OwnedHandle<H>: the one way the library holds
// and closes a libuv handle.
//
// libuv may touch a handle until its close callback has run, one loop
// iteration after uv_close, by which time the owner (an awaiter in a
// coroutine frame that a cancel destroyed, a stream object) may be gone. So
// the handle lives in a heap block that the close callback frees; the owner
// only holds a pointer, and closing is the owner's last act. Every open
// block is listed in its loop, so that a loop that closes before an owner
// (a server object outliving run()) closes the handle itself and tells the
// owner, whose later close() is then a no-op.
#pragma once

#include <uv.h>

#include <utility>

#include "intrusive_list.hpp"

namespace asyncuv::detail {

// The heap block of one owned handle.
struct HandleBlock : ListLink {
  HandleBlock() noexcept = default;
  HandleBlock(const HandleBlock&) = delete;
  virtual ~HandleBlock() = default;
  virtual uv_handle_t* handle() noexcept = 0;
  HandleBlock** owner = nullptr;  // cleared when the block is closed
};

template <class H>
struct HandleBlockOf final : HandleBlock {
  uv_handle_t* handle() noexcept override { return reinterpret_cast<uv_handle_t*>(&h); }
  H h{};
};

// The open owned handles of one loop.
class HandleRegistry {
public:
  HandleRegistry() noexcept = default;
  ~HandleRegistry() = default;  // the loop has closed every block by then
  void add(HandleBlock* b) noexcept { open_.push_back(b); }
  // uv_close, with a callback that frees the block: the single close path.
  static void close(HandleBlock* b) noexcept;
  void close_all() noexcept;  // the loop closes: every block still open
  std::size_t size() const noexcept { return open_.size(); }

private:
  IntrusiveList<HandleBlock> open_;
};

template <class H>
class OwnedHandle {
public:
  OwnedHandle() noexcept = default;
  OwnedHandle(const OwnedHandle&) = delete;
  OwnedHandle& operator=(const OwnedHandle&) = delete;
  OwnedHandle(OwnedHandle&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {
    if (b_) b_->owner = &b_;
  }
  OwnedHandle& operator=(OwnedHandle&& o) noexcept {
    if (this != &o) {
      close();
      b_ = std::exchange(o.b_, nullptr);
      if (b_) b_->owner = &b_;
    }
    return *this;
  }
  ~OwnedHandle() { close(); }

  // Allocates a handle and runs init(handle) — the uv_*_init call — which
  // returns libuv's status: non-zero frees the block and is returned.
  template <class Init>
  int open(HandleRegistry& registry, Init&& init) {
    close();
    auto* b = new HandleBlockOf<H>();
    if (const int rc = init(&b->h); rc != 0) {
      delete b;  // never initialised: nothing for libuv to close
      return rc;
    }
    b_ = b;
    b_->owner = &b_;
    registry.add(b_);
    return 0;
  }

  H* get() const noexcept { return b_ ? &static_cast<HandleBlockOf<H>*>(b_)->h : nullptr; }
  uv_handle_t* base() const noexcept { return b_ ? b_->handle() : nullptr; }
  explicit operator bool() const noexcept { return b_ != nullptr; }

  // Closes now; the memory goes after libuv's close callback. Idempotent.
  void close() noexcept {
    if (b_) HandleRegistry::close(b_);  // clears b_ through owner
  }

private:
  HandleBlock* b_ = nullptr;
};

}  // namespace asyncuv::detail
