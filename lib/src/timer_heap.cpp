// timer_heap.cpp — the loop's timers: a FIFO run for in-order deadlines,
// a binary heap for the rest (detail/timer_heap.hpp).
#include "asyncuv/detail/timer_heap.hpp"

#include <stdexcept>

namespace asyncuv::detail {

void TimerHeap::push(TimerEntry* e) {
  if (run_count_ == 0 || e->deadline_ns >= run_last_deadline_) run_push(e);
  else heap_push(e);
}

void TimerHeap::remove(TimerEntry* e) noexcept {
  if (e->heap_index & in_run) run_remove(e);
  else heap_remove(e);
  e->heap_index = TimerEntry::not_queued;
}

void TimerHeap::heap_push(TimerEntry* e) {
  if (heap_.size() >= pos_mask) throw std::length_error("too many timers");
  heap_.push_back(e);
  sift_up(heap_.size() - 1);
}

void TimerHeap::heap_remove(TimerEntry* e) noexcept {
  const std::size_t i = e->heap_index;
  TimerEntry* last = heap_.back();
  heap_.pop_back();
  if (last == e) return;
  place(i, last);
  sift_up(i);
  sift_down(last->heap_index);
}

void TimerHeap::run_push(TimerEntry* e) {
  const std::uint32_t used = run_tail_ - run_head_;  // slots, live or not
  if (used == run_.size()) {  // grow; positions keep their meaning
    if (run_.size() > pos_mask / 2) throw std::length_error("too many timers");
    std::vector<TimerEntry*> bigger(run_.empty() ? 64 : 2 * run_.size());
    const std::uint32_t mask = static_cast<std::uint32_t>(bigger.size()) - 1;
    for (std::uint32_t p = run_head_; p != run_tail_; ++p) bigger[p & mask] = run_[p & run_mask()];
    run_.swap(bigger);
  }
  const std::uint32_t pos = run_tail_++;
  run_[pos & run_mask()] = e;
  e->heap_index = in_run | (pos & pos_mask);
  run_last_deadline_ = e->deadline_ns;
  ++run_count_;
}

// Leaves a hole; the head skips holes so that top() is always live.
void TimerHeap::run_remove(TimerEntry* e) noexcept {
  const std::uint32_t mask = run_mask();
  run_[e->heap_index & mask] = nullptr;  // (pos & pos_mask) & mask == pos & mask
  --run_count_;
  while (run_head_ != run_tail_ && !run_[run_head_ & mask]) ++run_head_;
  if (run_count_ == 0) run_head_ = run_tail_;
}

void TimerHeap::sift_up(std::size_t i) noexcept {
  TimerEntry* e = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(e, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(std::size_t i) noexcept {
  TimerEntry* e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], e)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

}  // namespace asyncuv::detail
