// demo.hpp — what the ported seed programs share: the time scale, Python's
// print(), and the table of programs that asyncuv-demo can run.
#pragma once

#include <cstdio>
#include <string>

namespace demo {

// --time-scale: every delay of every program is multiplied by this.
inline double time_scale = 1.0;

// Python's print(s): the text and a newline on stdout (flushed at exit).
inline void print(const std::string& s) {
  std::fputs(s.c_str(), stdout);
  std::fputc('\n', stdout);
}

// One seed program; run() is its `asyncio.run(...)` line.
struct Program {
  const char* name;
  const char* description;
  void (*run)();
};

void run_say_hello();
void run_main();
void run_gather();
void run_create_task();
void run_random_sleep();

inline constexpr Program programs[] = {
    {"say_hello", "print Hello, sleep 1 s, print World", run_say_hello},
    {"main", "the async main: print, sleep 1 s, print Done", run_main},
    {"gather", "gather two coroutines sleeping 1 s and 2 s (2 s in all)", run_gather},
    {"create_task", "the same two coroutines as tasks, then await both", run_create_task},
    {"random_sleep", "sleep random.randint(1, 5) seconds and say how long", run_random_sleep},
};

}  // namespace demo
