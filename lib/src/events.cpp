// events.cpp — the event loop: the only code that calls uv_run.
#include "asyncuv/events.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "asyncuv/detail/trace_hook.hpp"
#include "asyncuv/exceptions.hpp"

namespace asyncuv {

constinit thread_local EventLoop* EventLoop::current_ = nullptr;

namespace {

void check_uv(int rc) {
  if (rc != 0) throw_uv_error(rc);
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

// libuv takes descriptors 0-2 for standard streams: one of its own landing
// there (the epoll fd of a program started with `<&-`, `>&-` or `2>&-`) fails
// an assertion when closed. As Node.js does at startup, every closed standard
// descriptor is reopened on /dev/null before the first loop exists, so that
// nothing ever lands there. open() returns the lowest free descriptor, and
// the ones below are open by then, so each lands on its own number.
void reopen_closed_stdio() noexcept {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int opened = open("/dev/null", O_RDWR);
    if (opened != fd && opened >= 0) close(opened);  // someone raced us to it: leave theirs
  }
}

void reopen_closed_stdio_once() noexcept {
  static const bool done = (reopen_closed_stdio(), true);
  static_cast<void>(done);
}

}  // namespace

void default_exception_handler(const ExceptionContext& ctx) {
  std::string text = ctx.message;
  if (!ctx.task_name.empty()) text += "\ntask: " + ctx.task_name;
  if (ctx.exception) text += "\nexception: " + describe(ctx.exception);
  std::fprintf(stderr, "%s\n", text.c_str());
}

void detail::report_exception(const ExceptionContext& ctx) noexcept {
  if (EventLoop* loop = EventLoop::current()) return loop->call_exception_handler(ctx);
  try {
    default_exception_handler(ctx);
  } catch (...) {
  }
}

EventLoop& get_running_loop() {
  if (EventLoop* l = EventLoop::current()) return *l;
  throw RuntimeError("no running event loop");
}

// ---- the loop ----

EventLoop::EventLoop() : due_turn_(&EventLoop::on_due), stop_turn_(&EventLoop::on_stop_turn) {
  if (current_) throw RuntimeError("asyncuv.run() cannot be called from a running event loop");
  reopen_closed_stdio_once();
  static_cast<void>(detail::cancelled_error());  // made now, while memory is plentiful
  static_cast<void>(detail::out_of_memory_error());
  check_uv(uv_loop_init(&uv_));
  int rc = idle_.open(handles_, [&](uv_idle_t* h) { return uv_idle_init(&uv_, h); });
  if (rc == 0) rc = timer_.open(handles_, [&](uv_timer_t* h) { return uv_timer_init(&uv_, h); });
  if (rc == 0) rc = check_.open(handles_, [&](uv_check_t* h) { return uv_check_init(&uv_, h); });
  if (rc == 0) {  // an eventfd: may fail (EMFILE)
    rc = async_.open(handles_, [&](uv_async_t* h) { return uv_async_init(&uv_, h, &EventLoop::on_async); });
  }
  if (rc != 0) {
    close_uv_loop();
    throw_uv_error(rc);
  }
  uv_unref(async_.base());
  check_.get()->data = this;
  uv_check_start(check_.get(), on_check);
  uv_unref(check_.base());  // it never keeps the loop alive by itself
  idle_.get()->data = this;
  timer_.get()->data = this;
  async_.get()->data = this;
  current_ = this;
}

void EventLoop::keep_alive(bool on) noexcept {
  if (on) uv_ref(async_.base());
  else uv_unref(async_.base());
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
  uv_idle_start(idle_.get(), on_idle);
}

void EventLoop::on_idle(uv_idle_t* h) { static_cast<EventLoop*>(h->data)->run_ready(); }

// Right after the poll: what I/O callbacks (a read, a connect, a thread's
// call_soon_threadsafe) woke runs in the same iteration, as asyncio runs the
// callbacks of the events its select() returned. Left to the idle handle, it
// would wait for the next iteration, whose poll the idle handle makes a
// useless zero-timeout epoll_wait: one more system call per request served.
void EventLoop::on_check(uv_check_t* h) {
  auto* self = static_cast<EventLoop*>(h->data);
  // Not after a stop (uv_stop ends uv_run only once this iteration is over):
  // what is ready then belongs to the next run, as in asyncio.
  if (!self->ready_.empty() && !self->stopping_ && !self->uv_.stop_flag) self->run_ready();
}

// One pass over what was ready when the pass began; what those callbacks
// schedule waits for the next pass, as in asyncio's _run_once.
void EventLoop::run_pass() noexcept { detail::run_nodes(ready_.take_all()); }

// Up to passes_per_poll passes per libuv iteration: a pass that leaves work
// behind is followed by the due timers and the next pass, as the next
// iteration would do, minus its (zero-timeout) poll for I/O, which is what
// makes a loop iteration expensive. I/O and call_soon_threadsafe are still
// polled at least every passes_per_poll passes.
void EventLoop::run_ready() noexcept {
  for (int pass = 0;; ++pass) {
    run_pass();
    // A stop that waits for the pass to settle ends the run of passes (a
    // shutdown's deep chain ends one level per pass: a poll for each was
    // most of it, so shutdown passes as many as usual until then).
    if (ready_.empty() || stopping_ || stop_when_settled_ || pass + 1 == passes_per_poll) break;
    if (!timers_.empty() && timers_.top()->deadline_ns <= uv_hrtime()) fire_timers();
  }
  if (ready_.empty() && idle_active_) {
    uv_idle_stop(idle_.get());
    idle_active_ = false;
  }
  end_of_passes();
}

void EventLoop::end_of_passes() noexcept {
  if (after_pass_wanted_) [[unlikely]] {
    after_pass_wanted_ = false;
    if (extension_) extension_->after_pass();
  }
  if (stopping_) {
    uv_stop(&uv_);
  } else if (stop_when_settled_) [[unlikely]] {
    stop_when_settled_ = false;
    if (ready_.empty()) {
      uv_stop(&uv_);
    } else if (!stop_turn_queued_) {
      stop_turn_queued_ = true;
      schedule(&stop_turn_);
    }
  }
}

void EventLoop::stop_after_queued() noexcept { stop_when_settled_ = true; }

void EventLoop::on_stop_turn(detail::Callback*, detail::Fate fate) noexcept {
  EventLoop* loop = current_;  // embedded in it; the loop is current until closed
  loop->stop_turn_queued_ = false;
  if (fate == detail::Fate::run) loop->stop();
}

void EventLoop::add_timer(detail::TimerEntry* e) {
  e->seq = (timer_seq_++ << 1) | (e->seq & detail::TimerEntry::wakes_task_bit);
  timers_.push(e);
  if (timers_.top() == e) arm_timer();
}

void EventLoop::remove_timer(detail::TimerEntry* e) noexcept {
  if (!e->queued()) return;
  if (e->heap_index & detail::TimerEntry::due_bit) [[unlikely]] {  // due, its turn not come: a hole
    due_[e->heap_index & ~detail::TimerEntry::due_bit] = 0;
    e->heap_index = detail::TimerEntry::not_queued;
    return;
  }
  timers_.remove(e);
  // An early wake-up for a removed head is harmless (fire_timers re-arms);
  // only an empty heap must release the loop.
  if (timers_.empty()) uv_timer_stop(timer_.get());
}

void EventLoop::on_timer(uv_timer_t* h) { static_cast<EventLoop*>(h->data)->fire_timers(); }

// Right before a pass: every due timer joins the due list, which takes its
// turn at the end of the ready queue. asyncio's _run_once moves due timers to
// the end of _ready the same way, so a timer acts after everything that was
// ready, and what it wakes (a sleeper, a cancelled task, a released waiter)
// runs on the next pass.
//
// A due sleep only wakes its task, so its task is linked up at once (it is
// marked scheduled: a cancel meanwhile finds it woken) into a run of sleepers
// that the turn appends to the ready queue whole: a list entry is the run's
// first task and the address of its last task's link. A million sleepers due
// at once cost the turn nothing per sleeper (each touch of a frame is a cache
// miss). The one difference: a sleeper cancelled between this and the turn
// runs at the run's place on the next pass, not at the cancel's.
void EventLoop::fire_timers() noexcept {
  const std::uint64_t now = uv_hrtime();
  const std::size_t had = due_.size();
  std::uintptr_t* run_end = nullptr;  // the open run's last link
  while (!timers_.empty() && timers_.top()->deadline_ns <= now) {
    detail::TimerEntry* e = timers_.top();
    timers_.remove(e);
    if (detail::TraceBuffer* b = detail::trace_buffer) [[unlikely]] detail::trace_timer(*b, e->wakes_task());
    try {
      if (e->wakes_task()) {
        detail::ReadyNode* t = detail::claim_sleeper(e);
        const std::uintptr_t link = reinterpret_cast<std::uintptr_t>(t) | detail::ReadyQueue::task_tag;
        if (!run_end) {
          if (due_.capacity() - due_.size() < 2) due_.reserve(std::max<std::size_t>(64, 2 * due_.capacity()));
          due_.push_back(link);  // cannot throw now
          due_.push_back(0);
        } else {
          *run_end = link;
        }
        t->next = 0;
        run_end = &t->next;
        due_.back() = reinterpret_cast<std::uintptr_t>(run_end);
      } else {
        due_.push_back(reinterpret_cast<std::uintptr_t>(e));
        e->heap_index = detail::TimerEntry::due_bit | static_cast<std::uint32_t>(due_.size() - 1);
        run_end = nullptr;
      }
    } catch (...) {  // out of memory: act now, a pass early, rather than never
      run_timer(e);
      run_end = nullptr;
    }
  }
  if (due_.size() != had && !due_turn_queued_) {
    due_turn_queued_ = true;
    schedule(&due_turn_);
  }
  arm_timer();
}

void EventLoop::run_timer(detail::TimerEntry* e) noexcept {
  if (e->wakes_task()) detail::wake_sleeper(e);
  else static_cast<detail::TimerCall*>(e)->fire(e, detail::Fate::run);
}

// The due list's turn (or the loop closes: Fate::drop). An entry may cancel
// others further on (holes) while it acts; nothing joins the list meanwhile.
void EventLoop::on_due(detail::Callback*, detail::Fate fate) noexcept {
  EventLoop* loop = current_;  // embedded in it; the loop is current until closed
  std::vector<std::uintptr_t>& due = loop->due_;
  const std::size_t n = due.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uintptr_t slot = std::exchange(due[i], 0);
    if (detail::ReadyQueue::is_task(slot)) {  // a run of woken sleepers: appended whole
      auto* last_link = reinterpret_cast<std::uintptr_t*>(due[++i]);
      if (fate == detail::Fate::drop) continue;  // tasks: nothing to free
      loop->ready_.append(slot, last_link);
      if (!loop->idle_active_) loop->start_idle();
    } else if (slot) {
      auto* e = reinterpret_cast<detail::TimerEntry*>(slot);
      e->heap_index = detail::TimerEntry::not_queued;
      if (fate == detail::Fate::run) run_timer(e);
      else static_cast<detail::TimerCall*>(e)->fire(e, detail::Fate::drop);
    }
  }
  due.clear();
  loop->due_turn_queued_ = false;
}

// libuv fires a timer once its cached millisecond clock reaches start+delay.
// Aiming at the millisecond that contains the deadline, rounded up, means the
// precise clock has passed the deadline when the callback runs: never early.
void EventLoop::arm_timer() noexcept {
  if (timers_.empty()) {
    uv_timer_stop(timer_.get());
    return;
  }
  uv_update_time(&uv_);
  const std::uint64_t deadline = timers_.top()->deadline_ns;  // may be UINT64_MAX: no overflow
  const std::uint64_t due_ms = deadline / 1'000'000 + (deadline % 1'000'000 != 0);
  const std::uint64_t now_ms = uv_now(&uv_);
  uv_timer_start(timer_.get(), on_timer, due_ms > now_ms ? due_ms - now_ms : 0, 0);
}

void EventLoop::run_until_stopped() {
  stopping_ = false;
  uv_run(&uv_, UV_RUN_DEFAULT);
  stopping_ = false;
}

void EventLoop::close() noexcept {
  // The task registry cancels what run() did not (a loop used without run())
  // and drops its references, while the loop still works.
  if (extension_) extension_->on_close();
  signals_.reset();    // closes the signal handles: their default dispositions come back
  // From here on other threads' posts fail; what they posted is dropped, as
  // asyncio's close() drops its ready queue.
  std::uintptr_t posted;
  {
    std::lock_guard lock(posted_mutex_);
    closed_.store(true, std::memory_order_release);
    posted = posted_.take_all();
  }
  while (posted) {
    auto* c = reinterpret_cast<detail::Callback*>(posted);
    posted = c->next;
    c->drop();
  }
  drop_ready_queue();
  timers_.forget_all([](detail::TimerEntry* e) {
    if (!e->wakes_task()) static_cast<detail::TimerCall*>(e)->fire(e, detail::Fate::drop);
  });
  close_uv_loop();
  extension_.reset();
}

// Closes every handle still open, the library's and any a user left behind
// (those with no callback: their memory is the user's), so that
// uv_loop_close succeeds and nothing leaks. Running the loop also waits for
// outstanding thread-pool work (to_thread), whose completion frees it.
void EventLoop::close_uv_loop() noexcept {
  handles_.close_all();  // ours and the library's: each block is freed by its close callback
  uv_walk(
      &uv_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&uv_, UV_RUN_DEFAULT);
  uv_loop_close(&uv_);
}

// Callbacks still queued when the loop closes are dropped without running:
// each node frees itself or not, as its kind requires (Fate::drop).
void EventLoop::drop_ready_queue() noexcept {
  std::uintptr_t link = ready_.take_all();
  while (link) {
    detail::ReadyNode* n = detail::ReadyQueue::node(link);
    const bool is_task = detail::ReadyQueue::is_task(link);
    link = std::exchange(n->next, 0);
    if (!is_task) static_cast<detail::Callback*>(n)->drop();
  }
}

// ---- the callback API ----

void EventLoop::throw_wrong_thread() { detail::throw_wrong_thread(); }

const std::exception_ptr& detail::cancelled_error() noexcept {
  // (Should even this first allocation fail, make_exception_ptr's object
  // comes from the runtime's emergency pool.)
  static thread_local const std::exception_ptr error = std::make_exception_ptr(CancelledError());
  return error;
}

void detail::throw_cancelled() { std::rethrow_exception(cancelled_error()); }

const std::exception_ptr& detail::out_of_memory_error() noexcept {
  static thread_local const std::exception_ptr error = std::make_exception_ptr(std::bad_alloc());
  return error;
}

void detail::throw_wrong_thread() {
  throw RuntimeError("Non-thread-safe operation invoked on an event loop other than the current one");
}

void EventLoop::throw_closed() { throw RuntimeError("Event loop is closed"); }

TimerHandle EventLoop::start_timer(detail::HandleState* s, std::uint64_t deadline_ns, double when) {
  s->loop = this;
  s->when = when;
  s->deadline_ns = deadline_ns;
  s->fire = &detail::HandleState::on_timer;
  try {
    add_timer(s);
  } catch (...) {
    s->release();
    s->release();
    throw;
  }
  return TimerHandle(s);
}

bool EventLoop::post_threadsafe(detail::HandleState* s) noexcept {
  // Sending under the lock: close() takes it before closing the async
  // handle, so a post that got in never touches a closed handle.
  std::lock_guard lock(posted_mutex_);
  if (closed_.load(std::memory_order_relaxed)) return false;
  const bool was_empty = posted_.empty();
  posted_.push(static_cast<detail::Callback*>(s), 0);
  if (was_empty) uv_async_send(async_.get());  // one wake-up per batch
  return true;
}

void EventLoop::on_async(uv_async_t* h) { static_cast<EventLoop*>(h->data)->drain_threadsafe(); }

// Posted callbacks join the ready queue in the order they were posted.
void EventLoop::drain_threadsafe() noexcept {
  std::uintptr_t link;
  {
    std::lock_guard lock(posted_mutex_);
    link = posted_.take_all();
  }
  while (link) {
    auto* c = reinterpret_cast<detail::Callback*>(link);
    link = c->next;
    schedule(c);
  }
}

}  // namespace asyncuv
