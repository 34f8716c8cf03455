// TaskGroup and ExceptionGroup: waiting for children, the first failure
// cancelling siblings and body, errors reported together, parent
// cancellation, nesting, and asyncio 3.11's create_task rules (ported from
// CPython's test_taskgroups.py).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>


using namespace asyncuv;
using namespace std::chrono_literals;

using support::awaited;
using support::nap;
using support::value_after;

namespace {

struct ZeroDivisionError : std::runtime_error {
  ZeroDivisionError() : std::runtime_error("ZeroDivisionError") {}
};
struct MyExc : std::runtime_error {
  MyExc() : std::runtime_error("MyExc") {}
};

// An exception as text; an ExceptionGroup as the sorted set of its members'
// texts (CPython's get_error_types), e.g. "EG{MyExc,ZeroDivisionError}".
std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const ExceptionGroup& g) {
    std::set<std::string> kinds;
    for (const auto& x : g.exceptions()) kinds.insert(describe(x));
    std::string s = "EG{";
    for (const auto& k : kinds) s += (s.size() > 3 ? "," : "") + k;
    return s + "}";
  } catch (const TimeoutError&) {
    return "TimeoutError";
  } catch (const CancelledError&) {
    return "CancelledError";
  } catch (const std::exception& x) {
    return x.what();
  }
}

template <class T>
Coro<std::string> outcome(Coro<T> c) {
  try {
    co_await std::move(c);
    co_return "ok";
  } catch (...) {
    co_return describe(std::current_exception());
  }
}


Coro<void> crash_after(std::chrono::milliseconds d) {
  co_await sleep(d);
  throw ZeroDivisionError();
}

// Sleeps; counts a cancellation in *n and re-raises it.
Coro<void> count_cancel(int* n, std::chrono::milliseconds d) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
    ++*n;
    throw;
  }
}

// Sleeps; whatever ends the sleep, raises ZeroDivisionError ("finally: 1/0").
Coro<void> crash_in_finally(std::chrono::milliseconds d) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
  }
  throw ZeroDivisionError();
}

double now() { return get_running_loop().time(); }

TEST_CASE("the group waits for every child (test_taskgroup_01/02)") {
  run([]() -> Coro<void> {
    Task<int> t1, t2, t3;
    const double t0 = now();
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 10ms));
      t2 = g.create_task(value_after(11, 20ms));
      co_await sleep(15ms);
      t3 = g.create_task(value_after(7, 20ms));
    });
    CHECK(now() - t0 >= 0.034);
    CHECK(t1.result() == 42);
    CHECK(t2.result() == 11);
    CHECK(t3.result() == 7);
  }());
}

TEST_CASE("the scope returns the body's value; a Coro body and a user-owned group") {
  run([]() -> Coro<void> {
    int v = co_await task_group([](TaskGroup& g) -> Coro<int> {
      auto t = g.create_task(value_after(2, 1ms));
      co_return 40 + co_await t;
    });
    CHECK(v == 42);
    TaskGroup tg;
    CHECK(tg.repr() == "<TaskGroup>");
    Task<int> child;
    int w = co_await tg.run([](TaskGroup* g, Task<int>* child) -> Coro<int> {
      CHECK(g->repr() == "<TaskGroup entered>");
      *child = g->create_task(value_after(5, 2ms));
      CHECK(g->repr() == "<TaskGroup tasks=1 entered>");
      co_return 1;
    }(&tg, &child));
    CHECK(w == 1);
    CHECK(child.result() == 5);
    CHECK(tg.repr() == "<TaskGroup entered>");
  }());
}

TEST_CASE("cancelling one child explicitly is not an error (test_taskgroup_03)") {
  run([]() -> Coro<void> {
    Task<int> t1, t2;
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 1s));
      co_await sleep(2ms);
      t1.cancel();
      t2 = g.create_task(value_after(11, 5ms));
    });
    CHECK(t1.cancelled());
    CHECK(t2.result() == 11);
  }());
}

TEST_CASE("a failing child cancels its siblings and the body (test_cancel_children_on_child_error)") {
  run([]() -> Coro<void> {
    int num = 0, t2_cancel = 0, runner_cancel = 0;
    Task<void> t2;
    auto runner = create_task([](int* num, int* t2_cancel, int* runner_cancel, Task<void>* t2) -> Coro<void> {
      co_await task_group([&](TaskGroup& g) -> Coro<void> {
        g.create_task(crash_after(5ms));
        g.create_task(crash_after(5ms));
        g.create_task(crash_after(5ms));
        *t2 = g.create_task(count_cancel(t2_cancel, 5s));
        co_await count_cancel(runner_cancel, 10s);
      });
      *num += 10;
    }(&num, &t2_cancel, &runner_cancel, &t2));
    CHECK(co_await outcome(awaited(runner)) == "EG{ZeroDivisionError}");
    CHECK(num == 0);
    CHECK(t2_cancel == 1);
    CHECK(runner_cancel == 1);
    CHECK(t2.cancelled());
    CHECK(runner.cancelling() == 0);  // the group took its cancel back
  }());
}

TEST_CASE("several failures are reported together, in completion order") {
  run([]() -> Coro<void> {
    try {
      co_await task_group([](TaskGroup& g) -> Coro<void> {
        g.create_task([]() -> Coro<void> {  // cleans up slowly, then fails
          try {
            co_await sleep(1s);
          } catch (const CancelledError&) {
          }
          co_await sleep(2ms);
          throw std::out_of_range("second");
        }());
        g.create_task([]() -> Coro<void> {
          co_await sleep(1ms);
          throw std::invalid_argument("first");
        }());
        // This one swallows the cancel and fails in its place.
        g.create_task(crash_in_finally(1s));
        co_return;
      });
      FAIL("no ExceptionGroup");
    } catch (const ExceptionGroup& eg) {
      CHECK(std::string(eg.what()) == "unhandled errors in a TaskGroup (3 sub-exceptions)");
      CHECK(eg.message() == "unhandled errors in a TaskGroup");
      REQUIRE(eg.exceptions().size() == 3);
      CHECK(describe(eg.exceptions()[0]) == "first");
      CHECK(describe(eg.exceptions()[1]) == "ZeroDivisionError");
      CHECK(describe(eg.exceptions()[2]) == "second");
    }
  }());
}

TEST_CASE("cancelling the parent cancels the children and the body (test_cancellation, test_taskgroup_07/22)") {
  run([]() -> Coro<void> {
    int num = 0;
    auto r = create_task([](int* num) -> Coro<void> {
      co_await task_group([num](TaskGroup& g) -> Coro<void> {
        for (int i = 0; i < 5; ++i) g.create_task(count_cancel(num, 5s));
        int body = 0;
        try {
          co_await count_cancel(&body, 10s);
        } catch (const CancelledError&) {
          *num += 10 * body;
          throw;
        }
      });
    }(&num));
    co_await sleep(5ms);
    CHECK_FALSE(r.done());
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "CancelledError");
    CHECK(num == 15);
    // Cancelled while the group waits in its exit (the body is done).
    auto r2 = create_task(task_group([](TaskGroup& g) -> Coro<void> {
      g.create_task(value_after(42, 1s));
      g.create_task(value_after(11, 2s));
      co_return;
    }));
    co_await sleep(5ms);
    r2.cancel();
    CHECK(co_await outcome(awaited(r2)) == "CancelledError");
    CHECK(r2.cancelled());
  }());
}

TEST_CASE("an empty group whose parent is cancelled raises CancelledError (test_taskgroup_17)") {
  run([]() -> Coro<void> {
    int num = 0;
    auto r = create_task(task_group([&num](TaskGroup&) -> Coro<void> { co_await count_cancel(&num, 10s); }));
    co_await sleep(2ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "CancelledError");
    CHECK(num == 1);
  }());
}

TEST_CASE("failures beat the parent's cancellation (test_taskgroup_08/18)") {
  run([]() -> Coro<void> {
    auto r = create_task(task_group([](TaskGroup& g) -> Coro<void> {
      for (int i = 0; i < 5; ++i) g.create_task(crash_in_finally(10s));
      co_await sleep(10s);
    }));
    co_await sleep(5ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "EG{ZeroDivisionError}");
    // The body turns the CancelledError into another error.
    auto r2 = create_task(task_group([](TaskGroup&) -> Coro<void> {
      bool cancelled = false;
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) throw MyExc();
    }));
    co_await sleep(2ms);
    r2.cancel();
    CHECK(co_await outcome(awaited(r2)) == "EG{MyExc}");
  }());
}

TEST_CASE("a failing body cancels the children (test_taskgroup_09/10)") {
  run([]() -> Coro<void> {
    Task<int> t1, t2;
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 1s));
      t2 = g.create_task(value_after(11, 2s));
      co_await sleep(2ms);
      throw ZeroDivisionError();
    })) == "EG{ZeroDivisionError}");
    CHECK(t1.cancelled());
    CHECK(t2.cancelled());
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 1s));
      throw ZeroDivisionError();
      co_return;
    })) == "EG{ZeroDivisionError}");
    CHECK(t1.cancelled());
  }());
}

TEST_CASE("nested groups: an inner group's ExceptionGroup is one error of the outer (test_taskgroup_11/12)") {
  run([]() -> Coro<void> {
    auto r = create_task(task_group([](TaskGroup& g1) -> Coro<void> {
      g1.create_task(nap(10s));
      co_await task_group([](TaskGroup& g2) -> Coro<void> {
        for (int i = 0; i < 5; ++i) g2.create_task(crash_in_finally(10s));
        co_await sleep(10s);
      });
    }));
    co_await sleep(5ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "EG{EG{ZeroDivisionError}}");
  }());
}

TEST_CASE("nested groups: which crash comes first decides the shape (test_taskgroup_13/14)") {
  run([]() -> Coro<void> {
    // The outer child crashes first: the inner group is cancelled, not failed.
    CHECK(co_await outcome(task_group([](TaskGroup& g1) -> Coro<void> {
      g1.create_task(crash_after(2ms));
      co_await task_group([](TaskGroup& g2) -> Coro<void> {
        g2.create_task(crash_after(10s));
        co_return;
      });
    })) == "EG{ZeroDivisionError}");
    // The inner child crashes first.
    CHECK(co_await outcome(task_group([](TaskGroup& g1) -> Coro<void> {
      g1.create_task(crash_after(10s));
      co_await task_group([](TaskGroup& g2) -> Coro<void> {
        g2.create_task(crash_after(2ms));
        co_return;
      });
    })) == "EG{EG{ZeroDivisionError}}");
  }());
}

TEST_CASE("a child crashes while the cancelled body cleans up (test_taskgroup_15/16)") {
  run([]() -> Coro<void> {
    auto body = [](TaskGroup& g) -> Coro<void> {
      g.create_task(crash_after(15ms));
      bool cancelled = false;
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        co_await sleep(30ms);
        throw CancelledError();
      }
    };
    auto r = create_task(task_group(body));
    co_await sleep(5ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "EG{ZeroDivisionError}");
    // The same, one task further away.
    auto r2 = create_task([](decltype(body) b) -> Coro<void> {
      auto t = create_task(task_group(b));
      co_await t;
    }(body));
    co_await sleep(5ms);
    r2.cancel();
    CHECK(co_await outcome(awaited(r2)) == "EG{ZeroDivisionError}");
  }());
}

TEST_CASE("the body's own error joins the children's (test_taskgroup_19, _context_manager_exit_raises)") {
  run([]() -> Coro<void> {
    auto nested = []() -> Coro<void> {
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
      }
      throw MyExc();
    };
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task(crash_after(2ms));
      co_await nested();
    })) == "EG{MyExc,ZeroDivisionError}");
    CHECK(current_task().cancelling() == 0);
    try {
      co_await task_group([&](TaskGroup& g) -> Coro<void> {
        g.create_task([]() -> Coro<void> {
          throw MyExc();
          co_return;
        }());
        co_await nested();
      });
    } catch (const ExceptionGroup& eg) {
      CHECK(eg.exceptions().size() == 2);
    }
    CHECK(current_task().cancelling() == 0);
  }());
}

TEST_CASE("finished children are dropped; children may add children (test_taskgroup_23/24/25)") {
  run([]() -> Coro<void> {
    co_await task_group([](TaskGroup& g) -> Coro<void> {
      for (int i = 0; i < 10; ++i) {
        co_await sleep(1ms);
        g.create_task(nap(3ms));
      }
      co_await sleep(20ms);
      CHECK(g.repr() == "<TaskGroup entered>");
    });
    int spawned = 0;
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task([](TaskGroup& g, int* spawned) -> Coro<void> {
        co_await sleep(2ms);
        g.create_task([](int* s) -> Coro<void> {
          co_await sleep(2ms);
          ++*s;
        }(spawned));
      }(g, &spawned));
      co_return;
    });
    CHECK(spawned == 1);
    // Hydras keep spawning until Hercules fails and the group cancels them all.
    int nhydras = 0;
    struct Hydra {
      static Coro<void> run(TaskGroup& g, int* n) {
        ++*n;
        co_await sleep(1ms);
        if (*n > 100000) co_return;  // (never: Hercules wins long before)
        g.create_task(run(g, n));
        g.create_task(run(g, n));
      }
    };
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task(Hydra::run(g, &nhydras));
      g.create_task([](int* n) -> Coro<void> {
        while (*n < 10) co_await sleep(1ms);
        throw ZeroDivisionError();
      }(&nhydras));
      co_return;
    })) == "EG{ZeroDivisionError}");
    CHECK(nhydras >= 10);
  }());
}

TEST_CASE("many short-lived children in one group") {
  run([]() -> Coro<void> {
    int done = 0;
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      for (int i = 0; i < 2000; ++i) {
        g.create_task([](int* d) -> Coro<void> {
          co_await sleep(0);
          ++*d;
        }(&done));
        if (i % 100 == 0) co_await sleep(0);
      }
      co_return;
    });
    CHECK(done == 2000);
  }());
}

TEST_CASE("create_task names, and refuses once the group shuts down (test_taskgroup_no_create_task_after_failure)") {
  run([]() -> Coro<void> {
    std::string refused;
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      auto t = g.create_task(nap(0ms), "yolo");
      CHECK(t.get_name() == "yolo");
      g.create_task(crash_after(1ms));
      g.create_task([](TaskGroup& g, std::string* refused) -> Coro<void> {
        try {
          co_await sleep(1s);
        } catch (const CancelledError&) {
          try {
            g.create_task(nap(0ms));
          } catch (const RuntimeError& e) {
            *refused = e.what();
          }
        }
      }(g, &refused));
      co_return;
    })) == "EG{ZeroDivisionError}");
    CHECK(refused == "TaskGroup <TaskGroup tasks=1 errors=1 cancelling> is shutting down");
  }());
}

TEST_CASE("TaskGroup state errors have asyncio's messages") {
  run([]() -> Coro<void> {
    TaskGroup tg;
    CHECK_THROWS_WITH_AS(tg.create_task(nap(0ms)), "TaskGroup <TaskGroup> has not been entered", RuntimeError);
    co_await tg.run([](TaskGroup& g) -> Coro<void> {
      CHECK(co_await outcome(g.run([](TaskGroup&) -> Coro<void> { co_return; })) ==
            "TaskGroup <TaskGroup entered> has already been entered");
    });
    CHECK(co_await outcome(tg.run([](TaskGroup&) -> Coro<void> { co_return; })) ==
          "TaskGroup <TaskGroup entered> has already been entered");
    CHECK_THROWS_WITH_AS(tg.create_task(nap(0ms)), "TaskGroup <TaskGroup entered> is finished", RuntimeError);
  }());
  TaskGroup outside;
  CHECK_THROWS_WITH_AS(outside.enter(), "no running event loop", RuntimeError);
  CHECK_THROWS_WITH_AS(outside.create_task(nap(0ms)), "TaskGroup <TaskGroup> has not been entered", RuntimeError);
  CHECK_THROWS_AS(ExceptionGroup("x", {}), std::invalid_argument);
  ExceptionGroup one("x", {std::make_exception_ptr(MyExc())});
  CHECK(std::string(one.what()) == "x (1 sub-exception)");
}

TEST_CASE("a timeout around a group: expiry cancels everything and becomes TimeoutError") {
  run([]() -> Coro<void> {
    int cancelled = 0;
    CHECK(co_await outcome(timeout(5ms, task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task(count_cancel(&cancelled, 10s));
      g.create_task(count_cancel(&cancelled, 10s));
      co_await count_cancel(&cancelled, 10s);
    }))) == "TimeoutError");
    CHECK(cancelled == 3);
    // A child failing inside an unexpired timeout is not a timeout.
    CHECK(co_await outcome(timeout(10s, task_group([](TaskGroup& g) -> Coro<void> {
      g.create_task(crash_after(1ms));
      co_await sleep(10s);
    }))) == "EG{ZeroDivisionError}");
    CHECK(current_task().cancelling() == 0);
  }());
}

TEST_CASE("run() shutdown cancels a task waiting in a group; nothing leaks") {
  int cancelled = 0;
  run([](int* n) -> Coro<void> {
    create_task(task_group([n](TaskGroup& g) -> Coro<void> {
      g.create_task(count_cancel(n, 10s));
      co_await count_cancel(n, 10s);
    }));
    co_await sleep(1ms);
  }(&cancelled));
  CHECK(cancelled == 2);
}

}  // namespace
