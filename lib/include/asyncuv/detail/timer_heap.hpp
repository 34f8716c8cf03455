// asyncuv/detail/timer_heap.hpp — the loop's timers, as libuv keeps its
// heap (heap-inl.h) apart from its timer handle (timer.c).
//
// Entries are intrusive (a sleep's lives in the sleeping frame) and ordered
// by (deadline, sequence number); one uv_timer_t in the loop is armed for
// the earliest (events.cpp).
#pragma once

#include "config.hpp"

#include <cstdint>
#include <vector>

#include "ready_queue.hpp"

namespace asyncuv::detail {

// An entry of the loop's timer heap. It lives inside whoever waits (a sleep
// awaiter in a coroutine frame), so arming a timer never allocates. Most
// entries are sleeps, which only wake their task: they carry no function
// pointer (a sleeping task is 8 bytes smaller) and say so in seq's low bit.
// A due entry leaves the heap for the loop's due list (heap_index then holds
// due_bit and its place there; a sleep's task joins it instead) and acts on
// its turn in the ready queue, as asyncio moves a due TimerHandle to _ready:
// what it wakes runs a pass later.
struct ASYNCUV_API TimerEntry {
  static constexpr std::uint32_t not_queued = UINT32_MAX;
  static constexpr std::uint32_t wakes_task_bit = 1;
  static constexpr std::uint32_t due_bit = 0x4000'0000u;  // clear in heap and run places
  std::uint64_t deadline_ns = 0;  // uv_hrtime() clock
  // Bits 1-31: FIFO order among equal deadlines, counted in steps of two
  // (wraps safely, see TimerHeap::before); bit 0: wakes_task_bit.
  std::uint32_t seq = 0;
  std::uint32_t heap_index = not_queued;
  bool queued() const noexcept { return heap_index != not_queued; }
  bool wakes_task() const noexcept { return seq & wakes_task_bit; }
};

// A sleep's entry (wakes_task()) belongs to the sleep module (sleep.cpp),
// which knows the task it wakes. When the entry is due, claim_sleeper() marks
// that task woken and hands over its node, which the loop queues with the
// other sleepers due at once; wake_sleeper() wakes it the ordinary way.
ASYNCUV_API ReadyNode* claim_sleeper(TimerEntry* e) noexcept;
ASYNCUV_API void wake_sleeper(TimerEntry* e) noexcept;

// A timer entry that runs a function when due (call_later, timeouts, wait).
// fire(e, Fate::drop) when the loop closes with the entry still queued.
struct ASYNCUV_API TimerCall : TimerEntry {
  void (*fire)(TimerEntry*, Fate) noexcept = nullptr;
};

// The loop's timers, ordered by (deadline, seq). Deadlines mostly arrive in
// order (the same delay, measured from a clock that only goes forward), so
// those join a FIFO run: O(1) in and out, no sifting. An entry due before the
// run's last one goes to a binary heap instead. Each entry knows where it is,
// so a cancelled sleep leaves in O(1) (run) or O(log n) (heap).
class ASYNCUV_API TimerHeap {
public:
  bool empty() const noexcept { return heap_.empty() && run_count_ == 0; }
  TimerEntry* top() const noexcept {
    TimerEntry* r = run_count_ ? run_[run_head_ & run_mask()] : nullptr;
    if (heap_.empty()) return r;
    return r && before(r, heap_.front()) ? r : heap_.front();
  }
  void push(TimerEntry* e);
  void remove(TimerEntry* e) noexcept;
  // Loop teardown: every entry is told it is no longer queued, then handed
  // to visit (which may free it).
  template <class F>
  void forget_all(F&& visit) noexcept {
    std::vector<TimerEntry*> heap, run;  // taken out first: visit may free entries
    heap.swap(heap_);
    run.swap(run_);
    const std::uint32_t head = run_head_, tail = run_tail_, mask = static_cast<std::uint32_t>(run.size()) - 1;
    run_head_ = run_tail_ = run_count_ = 0;
    for (TimerEntry* e : heap) e->heap_index = TimerEntry::not_queued;
    for (std::uint32_t p = head; p != tail; ++p) {
      if (TimerEntry* e = run[p & mask]) e->heap_index = TimerEntry::not_queued;
    }
    for (TimerEntry* e : heap) visit(e);
    for (std::uint32_t p = head; p != tail; ++p) {
      if (TimerEntry* e = run[p & mask]) visit(e);
    }
  }

private:
  static constexpr std::uint32_t in_run = 0x8000'0000u;  // heap_index flag
  static constexpr std::uint32_t pos_mask = 0x3fff'ffffu;
  static bool before(const TimerEntry* a, const TimerEntry* b) noexcept {
    if (a->deadline_ns != b->deadline_ns) return a->deadline_ns < b->deadline_ns;
    // Serial-number order; the kind bits cannot decide it, as seqs differ by 2 or more.
    return static_cast<std::int32_t>(a->seq - b->seq) < 0;
  }
  std::uint32_t run_mask() const noexcept { return static_cast<std::uint32_t>(run_.size()) - 1; }
  void place(std::size_t i, TimerEntry* e) noexcept {
    heap_[i] = e;
    e->heap_index = static_cast<std::uint32_t>(i);
  }
  void heap_push(TimerEntry* e);
  void heap_remove(TimerEntry* e) noexcept;
  void run_push(TimerEntry* e);
  void run_remove(TimerEntry* e) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;

  std::vector<TimerEntry*> heap_;
  std::vector<TimerEntry*> run_;  // ring buffer, power-of-two size
  std::uint32_t run_head_ = 0;    // positions count up and wrap
  std::uint32_t run_tail_ = 0;
  std::uint32_t run_count_ = 0;   // live entries between head and tail
  std::uint64_t run_last_deadline_ = 0;
};

}  // namespace asyncuv::detail
