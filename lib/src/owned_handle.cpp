// owned_handle.cpp — the single close path of owned libuv handles.
#include "asyncuv/detail/owned_handle.hpp"

namespace asyncuv::detail {

void HandleRegistry::close(HandleBlock* b) noexcept {
  IntrusiveList<HandleBlock>::unlink(b);
  if (b->owner) *std::exchange(b->owner, nullptr) = nullptr;
  uv_handle_t* h = b->handle();
  // No callback of this handle runs after uv_close but the close callback,
  // so its data can carry the block there.
  h->data = b;
  uv_close(h, [](uv_handle_t* closed) { delete static_cast<HandleBlock*>(closed->data); });
}

void HandleRegistry::close_all() noexcept {
  while (HandleBlock* b = open_.front()) close(b);
}

}  // namespace asyncuv::detail
