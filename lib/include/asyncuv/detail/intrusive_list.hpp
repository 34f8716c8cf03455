// asyncuv/detail/intrusive_list.hpp — a circular, doubly linked intrusive
// list (libuv's queue.h is the model): the nodes live in their owners (an
// awaiter in a coroutine frame, a pooled callback), so queueing never
// allocates and a node leaves in O(1) from wherever it is.
#pragma once

#include <cstddef>

namespace asyncuv::detail {

struct ListLink {
  ListLink* prev = nullptr;
  ListLink* next = nullptr;
  bool linked() const noexcept { return next != nullptr; }
};

// T derives from ListLink. The list does not own its nodes.
template <class T>
class IntrusiveList {
public:
  IntrusiveList() noexcept { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const noexcept { return head_.next == &head_; }
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const ListLink* l = head_.next; l != &head_; l = l->next) ++n;
    return n;
  }
  T* front() const noexcept { return empty() ? nullptr : static_cast<T*>(head_.next); }
  T* next_of(T* n) const noexcept { return n->next == &head_ ? nullptr : static_cast<T*>(n->next); }
  void push_back(T* n) noexcept {
    ListLink* l = n;
    l->prev = head_.prev;
    l->next = &head_;
    head_.prev->next = l;
    head_.prev = l;
  }
  static void unlink(T* n) noexcept {
    ListLink* l = n;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = nullptr;
  }
  T* pop_front() noexcept {
    T* n = front();
    if (n) unlink(n);
    return n;
  }

private:
  ListLink head_;
};

}  // namespace asyncuv::detail
