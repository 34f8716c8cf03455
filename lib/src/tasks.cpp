// tasks.cpp — how a task runs, suspends, is cancelled and finishes.
#include "asyncuv/tasks.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "asyncuv/sleep.hpp"

namespace asyncuv::detail {

namespace {

std::atomic<std::uint64_t> task_counter{0};

// Custom names are rare: keep them beside the frames, not in every frame.
std::mutex names_mutex;
std::unordered_map<const TaskCore*, std::string>& custom_names() {
  static std::unordered_map<const TaskCore*, std::string> names;
  return names;
}

void report(const char* message, std::exception_ptr e, std::string task_name) {
  ExceptionContext ctx{message, std::move(e), std::move(task_name)};
  if (EventLoop* loop = EventLoop::current()) loop->call_exception_handler(ctx);
  else default_exception_handler(ctx);
}

}  // namespace

void TaskCore::capture_exception() noexcept {
  error = std::current_exception();
  try {
    throw;
  } catch (const CancelledError&) {
    error_is_cancel = true;
  } catch (...) {
  }
}

void TaskCore::start_task(EventLoop& loop, void* own_frame, std::string task_name) {
  frame = own_frame;
  run = &TaskCore::step;
  id = ++task_counter;
  refs = 1;  // the loop's, until the task finishes
  if (!task_name.empty()) set_name(std::move(task_name));
  loop.register_task(this);
  wake();
}

std::string TaskCore::name() const {
  if (has_custom_name) {
    std::lock_guard lock(names_mutex);
    return custom_names().at(this);
  }
  return "Task-" + std::to_string(id);
}

void TaskCore::set_name(std::string task_name) {
  std::lock_guard lock(names_mutex);
  custom_names()[this] = std::move(task_name);
  has_custom_name = true;
}

void TaskCore::wake() noexcept {
  if (scheduled || done()) return;
  scheduled = true;
  EventLoop::current()->schedule(this);
}

// The driver loop (trampoline): resume, then keep resuming whatever the
// coroutine that just suspended left in next_resume.
void TaskCore::step(ReadyNode* n) noexcept {
  auto* t = static_cast<TaskCore*>(n);
  t->scheduled = false;
  std::coroutine_handle<> h;
  if (!t->started) {
    t->started = true;
    if (t->must_cancel) {  // cancelled before it ran: the body never runs
      t->state = State::cancelled;
      t->finish();
      return;
    }
    h = std::coroutine_handle<>::from_address(t->frame);
  } else {
    if (!t->suspended_on) return;
    h = std::exchange(t->suspended_on, nullptr)->resume;
  }
  EventLoop* loop = EventLoop::current();
  loop->current_task = t;
  do {
    loop->next_resume = nullptr;
    h.resume();
    h = loop->next_resume;
  } while (h);
  loop->current_task = nullptr;
  if (std::coroutine_handle<>::from_address(t->frame).done()) t->finish();
}

void TaskCore::park(Suspension* s) noexcept {
  s->task = this;
  suspended_on = s;
  if (!must_cancel) return;
  // cancel() was called while we ran: this suspension is where it lands.
  if (s->cancel && s->cancel(s)) must_cancel = false;
  else wake();
}

bool TaskCore::cancel() noexcept {
  if (done()) return false;
  if (!started) {
    must_cancel = true;  // already scheduled for its first step
    return true;
  }
  if (Suspension* s = suspended_on) {
    // A awaiting B awaiting A would recurse forever handing the cancel on
    // (asyncio hits RecursionError): the second visit cancels A directly.
    if (!cancelling) {
      cancelling = true;
      const bool handed_on = s->cancel && s->cancel(s);
      cancelling = false;
      if (handed_on && !must_cancel) return true;
    }
    must_cancel = true;
    wake();
    return true;
  }
  must_cancel = true;  // running now: lands at the next suspension
  return true;
}

void TaskCore::throw_if_cancelled() {
  if (must_cancel) {
    must_cancel = false;
    throw CancelledError();
  }
}

void TaskCore::finish() noexcept {
  if (state == State::pending) {
    const bool cancelled = error ? error_is_cancel : must_cancel;
    state = cancelled ? State::cancelled : State::done;
  }
  if (EventLoop* loop = EventLoop::current()) loop->unregister_task(this);
  // Listeners were pushed newest first; notify them in registration order.
  Listener* ordered = nullptr;
  for (Listener* l = std::exchange(listeners, nullptr); l;) {
    Listener* next = l->next;
    l->next = ordered;
    ordered = l;
    l = next;
  }
  while (ordered) {
    Listener* next = std::exchange(ordered->next, nullptr);
    ordered->on_done(ordered, *this);
    ordered = next;
  }
  decref();  // the loop's reference
}

void TaskCore::add_listener(Listener* l) noexcept {
  l->next = listeners;
  listeners = l;
}

void TaskCore::remove_listener(Listener* l) noexcept {
  for (Listener** p = &listeners; *p; p = &(*p)->next) {
    if (*p == l) {
      *p = l->next;
      l->next = nullptr;
      return;
    }
  }
}

void TaskCore::check_result() const {
  if (!done()) throw InvalidStateError("Result is not set.");
  if (state == State::cancelled) throw CancelledError();
  const_cast<TaskCore*>(this)->retrieved = true;
  if (error) std::rethrow_exception(error);
}

std::exception_ptr TaskCore::outcome_error() const {
  if (state == State::cancelled) return error && error_is_cancel ? error : std::make_exception_ptr(CancelledError());
  const_cast<TaskCore*>(this)->retrieved = true;
  return error;
}

void TaskCore::decref() noexcept {
  if (--refs == 0) destroy();
}

void TaskCore::abandon() noexcept {
  state = State::cancelled;
  decref();
}

void TaskCore::destroy() noexcept {
  if (state == State::done && error && !retrieved) {
    report("Task exception was never retrieved", error, name());
  }
  for (Listener* l = std::exchange(listeners, nullptr); l;) {
    Listener* next = l->next;
    if (l->on_done == &DoneCallbackListener::fire) delete static_cast<DoneCallbackListener*>(l);
    l = next;
  }
  if (has_custom_name) {
    std::lock_guard lock(names_mutex);
    custom_names().erase(this);
  }
  std::coroutine_handle<>::from_address(frame).destroy();
}

TaskCore& running_task() {
  EventLoop* loop = EventLoop::current();
  if (!loop || !loop->current_task) throw RuntimeError("no running task");
  return *loop->current_task;
}

// ---- awaiting a task ----

void TaskAwaitBase::suspend(std::coroutine_handle<> h) {
  TaskCore& self = running_task();
  if (&self == target_) throw RuntimeError("Task cannot await on itself");
  resume = h;
  cancel = &TaskAwaitBase::on_cancel;
  on_done = &TaskAwaitBase::on_target_done;
  target_->add_listener(this);
  registered_ = true;
  suspended_ = true;
  self.park(this);
}

void TaskAwaitBase::on_target_done(Listener* l, TaskCore&) noexcept {
  auto* self = static_cast<TaskAwaitBase*>(l);
  self->registered_ = false;
  self->task->wake();
}

bool TaskAwaitBase::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<TaskAwaitBase*>(s);
  return self->target_->cancel();
}

void TaskAwaitBase::resumed() {
  if (registered_) {
    target_->remove_listener(this);
    registered_ = false;
  }
  // asyncio: awaiting a finished task does not yield, so a pending cancel
  // waits for the next real suspension point.
  if (suspended_) running_task().throw_if_cancelled();
}

// ---- done callbacks ----

CallbackNode::CallbackNode(std::function<void()> f) : fn(std::move(f)) { run = &CallbackNode::run_and_delete; }

void CallbackNode::run_and_delete(ReadyNode* n) noexcept {
  auto* self = static_cast<CallbackNode*>(n);
  try {
    self->fn();
  } catch (...) {
    report("Exception in callback", std::current_exception(), {});
  }
  delete self;
}

void call_soon(std::function<void()> fn) {
  EventLoop* loop = EventLoop::current();
  if (!loop) throw RuntimeError("no running event loop");
  loop->schedule(new CallbackNode(std::move(fn)));
}

DoneCallbackListener::DoneCallbackListener(std::function<void(TaskCore&)> f) : fn(std::move(f)) {
  on_done = &DoneCallbackListener::fire;
}

void DoneCallbackListener::fire(Listener* l, TaskCore& t) noexcept {
  auto* self = static_cast<DoneCallbackListener*>(l);
  try {
    self->fn(t);
  } catch (...) {
    report("Exception in callback", std::current_exception(), t.name());
  }
  delete self;
}

// ---- sleep ----

std::int64_t seconds_to_ns(double seconds) {
  if (std::isnan(seconds)) throw std::invalid_argument("Invalid delay: NaN (not a number)");
  if (seconds <= 0) return 0;
  const double ns = std::ceil(seconds * 1e9);
  if (ns >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(ns);
}

SleepBase::~SleepBase() {
  if (queued()) {
    if (EventLoop* loop = EventLoop::current()) loop->remove_timer(this);
  }
}

void SleepBase::suspend(std::coroutine_handle<> h) {
  TaskCore& self = running_task();
  resume = h;
  cancel = &SleepBase::on_cancel;
  if (delay_ns_ <= 0) {
    self.park(this);
    self.wake();
    return;
  }
  const std::uint64_t now = uv_hrtime();
  const auto delay = static_cast<std::uint64_t>(delay_ns_);
  deadline_ns = delay > UINT64_MAX - now ? UINT64_MAX : now + delay;
  fire = &SleepBase::on_fire;
  EventLoop::current()->add_timer(this);
  self.park(this);
}

void SleepBase::on_fire(TimerEntry* e) noexcept { static_cast<SleepBase*>(e)->task->wake(); }

bool SleepBase::on_cancel(Suspension* s) noexcept {
  auto* self = static_cast<SleepBase*>(s);
  if (self->queued()) EventLoop::current()->remove_timer(self);
  return false;
}

}  // namespace asyncuv::detail
