// asyncuv/detail/ready_queue.hpp — the loop's ready queue and its nodes
// (asyncio's _ready deque of Handles).
//
// Intrusive and singly linked, so scheduling never allocates and a node is
// one word. The loop knows two kinds of node: a task (the task module runs
// its step) and a Callback (a function pointer). The kind rides in the low
// bit of the link that points at the node.
#pragma once

#include "config.hpp"

#include <cstdint>

namespace asyncuv::detail {

// Something the loop runs on its next pass over the ready queue
// (asyncio's Handle). Intrusive, so scheduling never allocates. A task is its
// own node (the common case, dispatched without an indirect call); anything
// else is a Callback. The link to a node carries its kind in its low bit,
// which keeps the node itself one word.
struct ASYNCUV_API ReadyNode {
  std::uintptr_t next = 0;  // tagged link to the following node
};

// What becomes of a queued node: it runs, or the loop closes with it still
// queued and drops it. Every node's function handles both, so a node that
// owns itself (a call_soon handle, a pooled post) frees itself when dropped,
// and a new kind of node has to say what dropping it means.
enum class Fate : bool { run, drop };

struct ASYNCUV_API Callback : ReadyNode {
  using Fn = void (*)(Callback*, Fate) noexcept;
  explicit Callback(Fn fn) noexcept : on_turn(fn) {}
  void run() noexcept { on_turn(this, Fate::run); }
  void drop() noexcept { on_turn(this, Fate::drop); }
  Fn on_turn;
};

// One pass's walk over the nodes it took from the queue (the first link):
// a callback runs through its function pointer, a task takes one step. It
// lives in the task module (tasks.cpp), where a task's step is inlined into
// the walk: a call per task step cost the yield benchmark 18% more instructions.
ASYNCUV_API void run_nodes(std::uintptr_t first) noexcept;

// A FIFO of tagged links: call_soon's queue, and the queue other threads
// post to (under the loop's mutex).
class ReadyQueue {
public:
  static constexpr std::uintptr_t task_tag = 1;
  static ReadyNode* node(std::uintptr_t link) noexcept { return reinterpret_cast<ReadyNode*>(link & ~task_tag); }
  static bool is_task(std::uintptr_t link) noexcept { return link & task_tag; }

  bool empty() const noexcept { return head_ == 0; }
  void push(ReadyNode* n, std::uintptr_t tag) noexcept {
    n->next = 0;
    *tail_ = reinterpret_cast<std::uintptr_t>(n) | tag;
    tail_ = &n->next;
  }
  // Appends nodes already linked to each other: `first` is the tagged link to
  // the first, `last_next` the last one's next field.
  void append(std::uintptr_t first, std::uintptr_t* last_next) noexcept {
    *tail_ = first;
    tail_ = last_next;
  }
  // Empties the queue, handing back its first link: a pass walks what was
  // queued when it began, while what it schedules waits for the next.
  std::uintptr_t take_all() noexcept {
    const std::uintptr_t first = head_;
    head_ = 0;
    tail_ = &head_;
    return first;
  }

private:
  std::uintptr_t head_ = 0;
  std::uintptr_t* tail_ = &head_;
};

}  // namespace asyncuv::detail
