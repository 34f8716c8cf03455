// events.cpp — the event loop: the only code that calls uv_run.
#include "asyncuv/events.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include "asyncuv/coroutines.hpp"
#include "asyncuv/exceptions.hpp"

namespace asyncuv {

thread_local EventLoop* EventLoop::current_ = nullptr;

namespace {

void check_uv(int rc, const char* what) {
  if (rc != 0) throw RuntimeError(std::string(what) + ": " + uv_strerror(rc));
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const CancelledError& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

void default_exception_handler(const ExceptionContext& ctx) {
  std::string text = ctx.message;
  if (!ctx.task_name.empty()) text += "\ntask: " + ctx.task_name;
  if (ctx.exception) text += "\nexception: " + describe(ctx.exception);
  std::fprintf(stderr, "%s\n", text.c_str());
}

EventLoop& get_running_loop() {
  if (EventLoop* l = EventLoop::current()) return *l;
  throw RuntimeError("no running event loop");
}

// ---- timer heap ----

namespace detail {

void TimerHeap::push(TimerEntry* e) {
  if (run_count_ == 0 || e->deadline_ns >= run_last_deadline_) run_push(e);
  else heap_push(e);
}

void TimerHeap::remove(TimerEntry* e) noexcept {
  if (e->heap_index & in_run) run_remove(e);
  else heap_remove(e);
  e->heap_index = TimerEntry::not_queued;
}

void TimerHeap::forget_all() noexcept {
  for (TimerEntry* e : heap_) e->heap_index = TimerEntry::not_queued;
  for (std::uint32_t p = run_head_; p != run_tail_; ++p) {
    if (TimerEntry* e = run_[p & run_mask()]) e->heap_index = TimerEntry::not_queued;
  }
  heap_.clear();
  run_.clear();
  run_head_ = run_tail_ = run_count_ = 0;
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

}  // namespace detail

// ---- the loop ----

EventLoop::EventLoop() {
  if (current_) throw RuntimeError("asyncuv.run() cannot be called from a running event loop");
  check_uv(uv_loop_init(&uv_), "uv_loop_init");
  uv_idle_init(&uv_, &idle_);
  uv_timer_init(&uv_, &timer_);
  idle_.data = this;
  timer_.data = this;
  current_ = this;
}

EventLoop::~EventLoop() {
  close();
  current_ = nullptr;
}

void EventLoop::call_exception_handler(const ExceptionContext& ctx) noexcept {
  try {
    if (handler_) {
      handler_(ctx);
      return;
    }
  } catch (...) {
    // A throwing handler must not take the loop down; fall back to stderr.
  }
  try {
    default_exception_handler(ctx);
  } catch (...) {
  }
}

void EventLoop::start_idle() noexcept {
  idle_active_ = true;
  uv_idle_start(&idle_, on_idle);
}

void EventLoop::on_idle(uv_idle_t* h) { static_cast<EventLoop*>(h->data)->run_ready(); }

// One pass over what was ready when the pass began; what those callbacks
// schedule waits for the next pass, as in asyncio's _run_once.
void EventLoop::run_ready() noexcept {
  std::uintptr_t link = head_;
  head_ = 0;
  tail_ = &head_;
  while (link) {
    auto* n = reinterpret_cast<detail::ReadyNode*>(link & ~task_tag);
    const bool is_task = link & task_tag;
    link = std::exchange(n->next, 0);
    if (is_task) [[likely]]
      detail::TaskCore::step(static_cast<detail::TaskCore*>(n));
    else
      static_cast<detail::Callback*>(n)->run(static_cast<detail::Callback*>(n));
  }
  if (!head_ && idle_active_) {
    uv_idle_stop(&idle_);
    idle_active_ = false;
  }
  if (sweep_soon_ || (finished_ >= 256 && finished_ >= pending_)) sweep();
  if (stopping_) uv_stop(&uv_);
}

void EventLoop::add_timer(detail::TimerEntry* e) {
  e->seq = timer_seq_++;
  timers_.push(e);
  if (timers_.top() == e) arm_timer();
}

void EventLoop::remove_timer(detail::TimerEntry* e) noexcept {
  if (!e->queued()) return;
  timers_.remove(e);
  // An early wake-up for a removed head is harmless (fire_timers re-arms);
  // only an empty heap must release the loop.
  if (timers_.empty()) uv_timer_stop(&timer_);
}

void EventLoop::on_timer(uv_timer_t* h) { static_cast<EventLoop*>(h->data)->fire_timers(); }

void EventLoop::fire_timers() noexcept {
  const std::uint64_t now = uv_hrtime();
  while (!timers_.empty() && timers_.top()->deadline_ns <= now) {
    detail::TimerEntry* e = timers_.top();
    timers_.remove(e);
    e->fire(e);
  }
  arm_timer();
}

// libuv fires a timer once its cached millisecond clock reaches start+delay.
// Aiming at the millisecond that contains the deadline, rounded up, means the
// precise clock has passed the deadline when the callback runs: never early.
void EventLoop::arm_timer() noexcept {
  if (timers_.empty()) {
    uv_timer_stop(&timer_);
    return;
  }
  uv_update_time(&uv_);
  const std::uint64_t due_ms = (timers_.top()->deadline_ns + 999'999) / 1'000'000;
  const std::uint64_t now_ms = uv_now(&uv_);
  uv_timer_start(&timer_, on_timer, due_ms > now_ms ? due_ms - now_ms : 0, 0);
}

void EventLoop::register_task(detail::TaskCore* t) noexcept {
  t->in_registry = true;
  t->next_task = tasks_;
  tasks_ = t;
  ++pending_;
}

void EventLoop::sweep() noexcept {
  sweep_soon_ = false;
  detail::TaskCore** link = &tasks_;
  while (detail::TaskCore* t = *link) {
    if (!t->done()) {
      link = &t->next_task;
      continue;
    }
    *link = std::exchange(t->next_task, nullptr);  // unlink first: decref may destroy
    t->in_registry = false;
    --finished_;
    t->decref();
  }
}

void EventLoop::run_until_stopped() {
  stopping_ = false;
  uv_run(&uv_, UV_RUN_DEFAULT);
  stopping_ = false;
}

void EventLoop::cancel_all_tasks() {
  // A task may catch CancelledError and wait again; cancel again then. A
  // task that still cannot finish once nothing is left to wait for is
  // abandoned: reported and dropped, so that the loop can close.
  for (int round = 0; pending_ > 0 && round < 16; ++round) {
    for (detail::TaskCore* t = tasks_; t; t = t->next_task) t->cancel();
    run_until_stopped();
  }
  sweep();
  while (tasks_) {
    detail::TaskCore* t = std::exchange(tasks_, tasks_->next_task);
    t->next_task = nullptr;
    t->in_registry = false;
    --pending_;
    call_exception_handler({"Task was destroyed but it is pending!", nullptr, t->name()});
    t->abandon();
  }
}

void EventLoop::close() noexcept {
  cancel_all_tasks();  // normally done by run() already; this drops the loop's references
  timers_.forget_all();
  head_ = 0;
  tail_ = &head_;
  // Close every handle still open, ours and any a user left behind, so that
  // uv_loop_close succeeds and nothing leaks.
  uv_walk(
      &uv_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&uv_, UV_RUN_DEFAULT);
  uv_loop_close(&uv_);
}

}  // namespace asyncuv
