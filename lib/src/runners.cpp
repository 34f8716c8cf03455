// runners.cpp — asyncio.run()'s sequence around the main task.
#include "asyncuv/runners.hpp"

#include "asyncuv/detail/task_registry.hpp"

namespace asyncuv::detail {

namespace {

// When main finishes, stop the loop after one more pass over the ready
// queue, so that callbacks already scheduled get that step (asyncio's
// run_until_complete stops through a done callback, i.e. call_soon).
struct StopWhenDone : Listener, Callback {
  EventLoop* loop;
  explicit StopWhenDone(EventLoop* l)
      : Callback([](Callback* self, Fate fate) noexcept {
          if (fate == Fate::run) static_cast<StopWhenDone*>(self)->loop->stop();
        }),
        loop(l) {
    on_done = [](Listener* self, TaskCore&, Fate fate) noexcept {
      if (fate == Fate::drop) return;
      auto* s = static_cast<StopWhenDone*>(self);
      schedule(*s->loop, static_cast<Callback*>(s));
    };
  }
};

void cancel_main(void* main) noexcept {
  auto* task = static_cast<TaskCore*>(main);
  if (!task->done()) task->cancel();
}

}  // namespace

void run_main_task(EventLoop& loop, TaskCore& main) {
  StopWhenDone stopper(&loop);
  main.add_listener(&stopper);
  SignalHandlers& signals = LoopAccess::signal_handlers(loop);
  signals.watch_interrupt(&cancel_main, &main);  // Ctrl-C cancels main, as asyncio.run()'s
  LoopAccess::keep_alive(loop, true);
  LoopAccess::run_until_stopped(loop);
  LoopAccess::keep_alive(loop, false);
  // asyncio.run() gives SIGINT back its default before the shutdown, so a
  // Ctrl-C there ends the process.
  signals.unwatch_interrupt();
  const bool interrupted = signals.interrupt_count() > 0;
  const bool finished = main.done();
  if (!finished) main.remove_listener(&stopper);
  TaskRegistry::of(loop).cancel_all();
  // asyncio.run()'s close() then runs shutdown_asyncgens() and
  // shutdown_default_executor() as two tasks, whatever main did: the next
  // run's first task is numbered after them (Task-6 in a second run, not 4).
  skip_task_ids(2);
  if (!finished) throw RuntimeError("Event loop stopped before Future completed.");
  // Runner.run(): main ended cancelled and the only cancel request left is
  // Ctrl-C's, so the program is told KeyboardInterrupt, not CancelledError.
  if (interrupted && main.cancelled() && main.uncancel() == 0) throw KeyboardInterrupt();
}

}  // namespace asyncuv::detail
