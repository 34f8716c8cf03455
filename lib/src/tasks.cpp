// tasks.cpp — how a task runs, suspends and finishes (its cancel walk: task_cancel.cpp).
#include "asyncuv/tasks.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <typeinfo>
#include <unordered_map>

#include "asyncuv/detail/task_registry.hpp"

namespace asyncuv::detail {

namespace {

// "Task-N" numbers are process-wide and unique. A thread takes them from the
// shared counter in blocks, so that creating a task costs no atomic operation;
// one thread alone numbers its tasks 1, 2, 3, ... exactly as asyncio does.
std::atomic<std::uint64_t> task_counter{0};
constexpr std::uint64_t id_block = 4096;

[[gnu::tls_model("initial-exec")]] thread_local std::uint64_t next_id = 0, end_id = 0;

std::uint64_t next_task_id() noexcept {
  std::uint64_t& next = next_id;
  std::uint64_t& end = end_id;
  if (next == end) {
    next = task_counter.fetch_add(id_block, std::memory_order_relaxed) + 1;
    end = next + id_block;
  }
  return next++;
}

// Custom names are rare: keep them beside the frames, not in every frame.
std::mutex names_mutex;
std::unordered_map<const TaskCore*, std::string>& custom_names() {
  static std::unordered_map<const TaskCore*, std::string> names;
  return names;
}

// Called where nothing may throw: a report that cannot be made for lack of
// memory is skipped.
void report(const char* message, std::exception_ptr e, const TaskCore* task) noexcept {
  try {
    report_exception({message, std::move(e), task ? task->name() : std::string()});
  } catch (...) {
  }
}

}  // namespace

void skip_task_ids(unsigned count) noexcept {
  for (; count > 0; --count) next_task_id();
}

void FrameReaper::destroy_chain(std::coroutine_handle<> top) noexcept {
  std::coroutine_handle<> h = top;
  while (CoroAwaitLink* a = core_of(h)->awaiting) h = a->child;
  while (h != top) {  // h: the innermost frame left; its parent awaits it
    const std::coroutine_handle<> up = core_of(h)->continuation;
    TaskCore* parent = core_of(up);
    parent->awaiting->child = {};  // the parent's Awaiter no longer owns it
    parent->awaiting = nullptr;
    h.destroy();
    h = up;
  }
  top.destroy();
}

void TaskCore::capture_exception() noexcept {
  // The error takes the place of suspended_on, which is null while we run.
  std::construct_at(&error, kept_exception());
  has_error = true;
}

// What the frame keeps of the exception it ends with. A plain std::bad_alloc
// is kept as the thread's shared one: when memory runs out, thousands of
// tasks may fail at once, and each kept exception object would hold a slot
// of the runtime's small emergency pool (std::terminate once it is empty).
// The one in flight is freed as soon as this handler returns.
std::exception_ptr TaskCore::kept_exception() noexcept {
  try {
    throw;
  } catch (const CancelledError&) {
    error_is_cancel = true;
  } catch (const std::bad_alloc& e) {
    if (typeid(e) == typeid(std::bad_alloc)) return out_of_memory_error();
  } catch (...) {
  }
  return std::current_exception();
}

void TaskCore::start_task(EventLoop& loop, void* own_frame) {
  if (own_frame != frame()) {  // an ABI we do not know: fail loudly, not subtly
    std::fputs("asyncuv: unsupported coroutine frame layout\n", stderr);
    std::abort();
  }
  is_task = true;
  listener_slot = 0;
  id = next_task_id();
  refs = 1;  // the registry's, until a sweep finds the task finished
  TaskRegistry::of(loop).add(this);
  wake();
  if (TraceBuffer* b = trace_buffer) [[unlikely]] trace_created(*b, this);  // last: a tail call
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

// cancel() was called while the task ran: this suspension is where it lands.
void TaskCore::deliver_pending_cancel(Suspension* s) noexcept {
  if (s->cancel && s->cancel(s)) must_cancel = false;
  else wake();
}

namespace {

// Stands in a task's listener list for a shared listener, once the task has
// more than one listener.
struct SharedRef : Listener {
  Listener* target;
  explicit SharedRef(Listener* t) : target(t) { on_done = &SharedRef::fire; }
  static void fire(Listener* l, TaskCore& t, Fate fate) noexcept {
    Listener* target = static_cast<SharedRef*>(l)->target;
    delete static_cast<SharedRef*>(l);
    if (fate == Fate::run) target->on_done(target, t, fate);
  }
};

constexpr std::uintptr_t shared_tag = 1;

Listener* untag(std::uintptr_t slot) { return reinterpret_cast<Listener*>(slot & ~shared_tag); }
std::uintptr_t tag(Listener* l) { return reinterpret_cast<std::uintptr_t>(l) | shared_tag; }

}  // namespace

void TaskCore::finish() noexcept {
  if (state == State::pending) {
    const bool cancelled = has_error ? error_is_cancel : must_cancel;
    state = cancelled ? State::cancelled : State::done;
  }
  if (TraceBuffer* b = trace_buffer) [[unlikely]] trace_finished(*b, this);
  TaskRegistry& registry = *TaskRegistry::find(*EventLoop::current());
  registry.task_finished();
  if (refs == 1 && unretrieved_error()) [[unlikely]] registry.report_soon(this);
  const std::uintptr_t slot = std::exchange(listener_slot, 0);
  if (slot & shared_tag) {
    untag(slot)->on_done(untag(slot), *this, Fate::run);
  } else {
    // Listeners were pushed newest first; notify them in registration order.
    Listener* ordered = nullptr;
    for (Listener* l = untag(slot); l;) {
      Listener* next = l->next;
      l->next = ordered;
      ordered = l;
      l = next;
    }
    while (ordered) {
      Listener* next = std::exchange(ordered->next, nullptr);
      ordered->on_done(ordered, *this, Fate::run);
      ordered = next;
    }
  }
}

void TaskCore::add_listener(Listener* l) {
  if (listener_slot & shared_tag) {  // make room: the shared one gets a node
    auto* ref = new SharedRef(untag(listener_slot));
    listener_slot = reinterpret_cast<std::uintptr_t>(ref);
  }
  l->next = untag(listener_slot);
  listener_slot = reinterpret_cast<std::uintptr_t>(l);
}

void TaskCore::add_shared_listener(Listener* l) {
  if (listener_slot == 0) listener_slot = tag(l);
  else add_listener(new SharedRef(l));
}

void TaskCore::remove_listener(Listener* l) noexcept {
  if (listener_slot & shared_tag) return;
  for (Listener** p = reinterpret_cast<Listener**>(&listener_slot); *p; p = &(*p)->next) {
    if (*p == l) {
      *p = l->next;
      l->next = nullptr;
      return;
    }
  }
}

void TaskCore::remove_shared_listener(Listener* l) noexcept {
  if (listener_slot == tag(l)) {
    listener_slot = 0;
    return;
  }
  if (listener_slot & shared_tag) return;
  for (Listener** p = reinterpret_cast<Listener**>(&listener_slot); *p; p = &(*p)->next) {
    if ((*p)->on_done == &SharedRef::fire && static_cast<SharedRef*>(*p)->target == l) {
      Listener* ref = *p;
      *p = ref->next;
      delete static_cast<SharedRef*>(ref);
      return;
    }
  }
}

// A task that ended by throwing its own CancelledError (a message, a derived
// type) is cancelled, and hands that very exception to every reader, as
// asyncio's first reader gets it; only a task cancelled before it could
// throw anything gets a fresh CancelledError.
void TaskCore::check_result() const {
  if (!done()) throw InvalidStateError("Result is not set.");
  if (state == State::cancelled) {
    if (has_error) std::rethrow_exception(error);  // the task's own CancelledError("msg")
    detail::throw_cancelled();
  }
  const_cast<TaskCore*>(this)->retrieved = true;
  if (has_error) std::rethrow_exception(error);
}

std::exception_ptr TaskCore::outcome_error() const {
  if (state == State::cancelled) return has_error ? error : detail::cancelled_error();
  const_cast<TaskCore*>(this)->retrieved = true;
  return error_or_null();
}

void TaskCore::last_references() noexcept {
  if (refs == 0) return destroy();
  if (in_registry && unretrieved_error()) {
    if (EventLoop* loop = EventLoop::current()) {
      if (TaskRegistry* registry = TaskRegistry::find(*loop)) registry->report_soon(this);
    }
  }
}

// Reported now rather than when the loop lets go of it (the next sweep):
// nobody else holds it, so nobody can retrieve it any more.
void TaskCore::report_if_unretrieved() noexcept {
  if (refs != 1 || !unretrieved_error()) return;  // a handle came back, or reported already
  retrieved = true;
  report("Task exception was never retrieved", error, this);
}

void TaskCore::abandon() noexcept {
  if (TraceBuffer* b = trace_buffer) [[unlikely]] trace_abandoned(*b, this);
  state = State::cancelled;
  decref();
}

void TaskCore::destroy() noexcept {
  if (state == State::done && has_error && !retrieved) {
    report("Task exception was never retrieved", error, this);
  }
  const std::uintptr_t slot = std::exchange(listener_slot, 0);
  if (!(slot & shared_tag)) {
    for (Listener* l = untag(slot); l;) {
      Listener* next = l->next;
      l->on_done(l, *this, Fate::drop);  // heap-owned listeners free themselves
      l = next;
    }
  }
  if (has_custom_name) {
    std::lock_guard lock(names_mutex);
    custom_names().erase(this);
  }
  std::coroutine_handle<>::from_address(frame()).destroy();
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
  self.park(this, "task");
}

void TaskAwaitBase::on_target_done(Listener* l, TaskCore&, Fate fate) noexcept {
  if (fate == Fate::drop) return;  // embedded in its owner: nothing to free
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

// ---- the loop's turn of a task ----

void run_nodes(std::uintptr_t link) noexcept {
  // g++ recomputes a thread-local's address after every call (two
  // instructions, twice per step); hidden behind an empty asm, the address is
  // an ordinary pointer that stays in a register for the whole walk.
  Running* here = &Running::now;
  asm("" : "+r"(here));
  Running& running = *here;
  while (link) {
    ReadyNode* n = ReadyQueue::node(link);
    const bool is_task = ReadyQueue::is_task(link);
    link = n->next;  // (a push resets it)
    if (is_task) [[likely]] {
      TaskCore::step(static_cast<TaskCore*>(n), running);
    } else {
      running.task = nullptr;  // a callback runs outside any task
      if (TraceBuffer* b = trace_buffer) [[unlikely]] trace_callback(*b);
      static_cast<Callback*>(n)->run();
    }
  }
  running.task = nullptr;
}

constinit thread_local Running Running::now{};

// ---- done callbacks ----

DoneCallbackListener::DoneCallbackListener(std::function<void(TaskCore&)> f) : fn(std::move(f)) {
  on_done = &DoneCallbackListener::fire;
}

void DoneCallbackListener::fire(Listener* l, TaskCore& t, Fate fate) noexcept {
  auto* self = static_cast<DoneCallbackListener*>(l);
  if (fate == Fate::drop) return delete self;
  try {
    self->fn(t);
  } catch (...) {
    report("Exception in callback", std::current_exception(), &t);
  }
  delete self;
}

// ---- done callbacks run through the loop ----

struct DoneCallbacks::Post : Callback, ListLink {
  Post(DoneCallbacks* o, TaskCore* t) noexcept : Callback(&DoneCallbacks::run_post), owner(o), task(t) {}
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* p, std::size_t size) noexcept { deallocate_frame(p, size); }
  DoneCallbacks* owner;  // null once the owner is gone or has flushed it
  TaskCore* task;        // holds a reference; null once fn ran (flush)
};

DoneCallbacks::~DoneCallbacks() {
  while (Post* p = posts_.pop_front()) p->owner = nullptr;  // they still hold their tasks
}

void DoneCallbacks::post(TaskCore& t) noexcept {
  EventLoop* loop = EventLoop::current();
  Post* p = nullptr;
  if (loop) {
    try {
      p = new Post(this, &t);
    } catch (...) {
    }
  }
  if (!p) return fn_(this, t);  // no loop or out of memory: early is better than never
  t.incref();
  posts_.push_back(p);
  schedule(*loop, static_cast<Callback*>(p));
}

void DoneCallbacks::unlink(Post* p) noexcept {
  IntrusiveList<Post>::unlink(p);
  p->owner = nullptr;
}

// Dropped (the loop closes with it queued), a post just lets go of its task.
void DoneCallbacks::run_post(Callback* c, Fate fate) noexcept {
  auto* p = static_cast<Post*>(c);
  TaskCore* t = p->task;
  if (DoneCallbacks* owner = p->owner) {
    owner->unlink(p);
    if (fate == Fate::run) owner->fn_(owner, *t);
  }
  delete p;
  if (t) t->decref();
}

// The posts stay queued in the loop; when their turn comes they find
// nothing to do.
void DoneCallbacks::flush() noexcept {
  while (Post* p = posts_.front()) {
    unlink(p);
    TaskCore* t = std::exchange(p->task, nullptr);
    fn_(this, *t);
    t->decref();
  }
}

}  // namespace asyncuv::detail

