// asyncuv/queues.hpp — producer/consumer queues (asyncio.queues): Queue<T>
// (FIFO), LifoQueue<T>, PriorityQueue<T> (smallest first, in heapq's exact
// order), with QueueFull / QueueEmpty and join() / task_done().
//
// Semantics are asyncio's (CPython 3.11): put() waits while the queue is
// full, get() while it is empty; waiters are woken first come, first served,
// but a woken waiter only re-checks the queue when its turn comes (the item
// stays in the queue until then, so qsize() and get_nowait() see it), and
// queues again at the back if someone took it first. A cancelled get() loses
// no item and a cancelled put() adds none; either one that had already been
// woken passes the wake-up on to the next waiter.
//
// Waiting allocates nothing: the awaiter, in the waiting coroutine's frame,
// is the queue's list node and the node of the loop's ready queue that gives
// it its turn. Same threading and lifetime rules as locks.hpp.
#pragma once

#include "detail/config.hpp"  // first: a C++17 consumer gets one clear #error

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "locks.hpp"

namespace asyncuv {

// put_nowait() on a full queue (asyncio.QueueFull).
class ASYNCUV_API QueueFull : public std::runtime_error {
public:
  QueueFull() : std::runtime_error("QueueFull") {}
  using std::runtime_error::runtime_error;
};

// get_nowait() on an empty queue (asyncio.QueueEmpty).
class ASYNCUV_API QueueEmpty : public std::runtime_error {
public:
  QueueEmpty() : std::runtime_error("QueueEmpty") {}
  using std::runtime_error::runtime_error;
};

namespace detail {

// Everything about a queue that does not depend on the item type: sizes,
// waiters, the unfinished-task count.
class ASYNCUV_API QueueCore {
public:
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  std::size_t qsize() const noexcept { return count_; }
  // <= 0: unbounded.
  std::ptrdiff_t maxsize() const noexcept { return maxsize_; }
  bool empty() const noexcept { return count_ == 0; }
  bool full() const noexcept { return maxsize_ > 0 && count_ >= static_cast<std::size_t>(maxsize_); }

  // A consumer is done with an item it got. Throws std::invalid_argument
  // ("task_done() called too many times") beyond the items put.
  void task_done();
  std::size_t unfinished_tasks() const noexcept { return unfinished_; }

  // co_await q.join(): until every item put has been task_done()'d.
  class [[nodiscard]] JoinAwaiter : public Event::WaitAwaiter {
  public:
    using Event::WaitAwaiter::WaitAwaiter;
    void await_resume() { Event::WaitAwaiter::await_resume(); }
  };
  JoinAwaiter join() noexcept { return JoinAwaiter(finished_); }

  std::size_t getters() const noexcept { return getters_.size(); }
  std::size_t putters() const noexcept { return putters_.size(); }

protected:
  explicit QueueCore(std::ptrdiff_t maxsize) noexcept : maxsize_(maxsize) { finished_.set(); }
  ~QueueCore() = default;

  void item_added() noexcept {  // after the store took an item
    ++count_;
    ++unfinished_;
    finished_.clear();
    if (!getters_.empty()) [[unlikely]] wakeup_next(getters_);
  }
  void item_removed() noexcept {  // after the store gave one
    --count_;
    if (!putters_.empty()) [[unlikely]] wakeup_next(putters_);
  }
  // Before a change that wakes a waiter: only the loop's thread may.
  void check_thread_before_add() const {
    if (!getters_.empty()) [[unlikely]] check_loop_thread();
  }
  void check_thread_before_remove() const {
    if (!putters_.empty()) [[unlikely]] check_loop_thread();
  }

  // A waiting get() or put(). When woken it is not resumed directly: its
  // turn on the ready queue first checks that the queue still has what it
  // waits for (else it queues again), as asyncio's `while self.empty()` does.
  class Waiter : protected WaitNode, protected Callback {
  protected:
    Waiter(QueueCore& q, bool is_put) noexcept : Callback(&Waiter::on_turn), q_(&q), is_put_(is_put) {}
    Waiter(Waiter&&) = delete;  // queued by address
    ~Waiter() {
      if (linked()) WaitList::unlink(this);
    }
    bool blocked() const noexcept { return is_put_ ? q_->full() : q_->empty(); }
    void suspend(std::coroutine_handle<> h) { wait_in(list(), this, h, &Waiter::on_cancel, is_put_ ? "queue put" : "queue get"); }
    void resumed() {  // after a real suspension
      if (cancelled_) detail::throw_cancelled();
      task->throw_if_cancelled();
      if (orphaned) throw RuntimeError("Queue was destroyed while a task waited for it");
    }
    QueueCore* q_;

  private:
    friend class QueueCore;
    WaitList& list() const noexcept { return is_put_ ? q_->putters_ : q_->getters_; }
    static void on_turn(Callback* c, Fate fate) noexcept;
    static bool on_cancel(Suspension* s) noexcept;
    bool is_put_;
    bool cancelled_ = false;  // cancelled after it was woken
  };

private:
  void wakeup_next(WaitList& waiters) noexcept;

  std::size_t count_ = 0;
  std::ptrdiff_t maxsize_;
  std::size_t unfinished_ = 0;
  Event finished_;
  WaitList getters_;
  WaitList putters_;
  // Woken waiters whose turn is still queued in the loop. They are linked
  // here so that a queue destroyed before their turn detaches them too
  // (orphaned), instead of leaving them to read a dead queue.
  WaitList woken_;
};

// A growable ring buffer: the FIFO's store, no allocation once warm.
template <class T>
class Ring {
public:
  Ring() = default;
  Ring(const Ring&) = delete;
  ~Ring() {
    while (size_) pop_front();
    if (buf_) std::allocator<T>().deallocate(buf_, cap_);
  }
  void push(T v) {
    if (size_ == cap_) grow();
    std::construct_at(buf_ + ((head_ + size_) & (cap_ - 1)), std::move(v));
    ++size_;
  }
  T pop() { return pop_front(); }

private:
  T pop_front() {
    T* p = buf_ + head_;
    T v = std::move(*p);
    std::destroy_at(p);
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return v;
  }
  void grow() {
    const std::size_t cap = cap_ ? cap_ * 2 : 16;
    T* buf = std::allocator<T>().allocate(cap);
    for (std::size_t i = 0; i < size_; ++i) {
      T* from = buf_ + ((head_ + i) & (cap_ - 1));
      std::construct_at(buf + i, std::move(*from));
      std::destroy_at(from);
    }
    if (buf_) std::allocator<T>().deallocate(buf_, cap_);
    buf_ = buf;
    cap_ = cap;
    head_ = 0;
  }
  T* buf_ = nullptr;
  std::size_t cap_ = 0;  // a power of two (or 0)
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

template <class T>
class Stack {
public:
  void push(T v) { v_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(v_.back());
    v_.pop_back();
    return v;
  }

private:
  std::vector<T> v_;
};

// A binary min-heap. std::push_heap / std::pop_heap (libstdc++) run the
// same sift algorithms as heapq, so equal-priority items come out in the
// same order as from asyncio.PriorityQueue.
template <class T, class Compare>
class Heap {
public:
  void push(T v) {
    v_.push_back(std::move(v));
    std::push_heap(v_.begin(), v_.end(), Reversed{cmp_});
  }
  T pop() {
    std::pop_heap(v_.begin(), v_.end(), Reversed{cmp_});
    T v = std::move(v_.back());
    v_.pop_back();
    return v;
  }

private:
  struct Reversed {  // the std heap algorithms keep the *largest* on top
    Compare& cmp;
    bool operator()(const T& a, const T& b) const { return cmp(b, a); }
  };
  std::vector<T> v_;
  [[no_unique_address]] Compare cmp_{};
};

}  // namespace detail

// The queue with its item store; Queue, LifoQueue and PriorityQueue are it.
template <class T, class Store>
class BasicQueue : public detail::QueueCore {
public:
  using value_type = T;

  // maxsize <= 0: unbounded.
  explicit BasicQueue(std::ptrdiff_t maxsize = 0) noexcept : QueueCore(maxsize) {}

  // Throws QueueFull when full.
  void put_nowait(T item) {
    if (full()) throw QueueFull();
    check_thread_before_add();
    store_.push(std::move(item));
    item_added();
  }
  // Throws QueueEmpty when empty.
  T get_nowait() {
    if (empty()) throw QueueEmpty();
    check_thread_before_remove();
    T item = store_.pop();
    item_removed();
    return item;
  }

  class [[nodiscard]] GetAwaiter : Waiter {
  public:
    explicit GetAwaiter(BasicQueue& q) noexcept : Waiter(q, false) {}
    bool await_ready() const noexcept { return !blocked(); }
    void await_suspend(std::coroutine_handle<> h) { suspend(h); }
    T await_resume() {
      if (suspended()) resumed();
      return static_cast<BasicQueue*>(q_)->get_nowait();
    }
  };
  class [[nodiscard]] PutAwaiter : Waiter {
  public:
    PutAwaiter(BasicQueue& q, T item) : Waiter(q, true), item_(std::move(item)) {}
    bool await_ready() const noexcept { return !blocked(); }
    void await_suspend(std::coroutine_handle<> h) { suspend(h); }
    void await_resume() {
      if (suspended()) resumed();
      static_cast<BasicQueue*>(q_)->put_nowait(std::move(item_));
    }

  private:
    T item_;
  };

  // co_await q.get(): the next item, waiting while the queue is empty.
  GetAwaiter get() noexcept { return GetAwaiter(*this); }
  // co_await q.put(item): waits while the queue is full.
  PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }

private:
  Store store_;
};

// asyncio.Queue: first in, first out.
template <class T>
class Queue : public BasicQueue<T, detail::Ring<T>> {
public:
  using BasicQueue<T, detail::Ring<T>>::BasicQueue;
};

// asyncio.LifoQueue: last in, first out.
template <class T>
class LifoQueue : public BasicQueue<T, detail::Stack<T>> {
public:
  using BasicQueue<T, detail::Stack<T>>::BasicQueue;
};

// asyncio.PriorityQueue: the smallest item (by Compare) first; typically
// std::pair / std::tuple of (priority, data).
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::Heap<T, Compare>> {
public:
  using BasicQueue<T, detail::Heap<T, Compare>>::BasicQueue;
};

}  // namespace asyncuv
