// demo.hpp — what the ported seed programs share: the time scale, Python's
// print(), and the table of programs that asyncuv-demo can run.
#pragma once

#include <cstdio>
#include <string>

namespace demo {

// --time-scale: every delay of every program is multiplied by this.
inline double time_scale = 1.0;

// --port: the TCP port of the network programs (Python's 8888).
inline int port = 8888;

// Python's repr() of a str: 'text' (or "text" when it holds a ' and no "),
// with Python's escapes.
inline std::string py_repr(const std::string& s) {
  const char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  static const char hex[] = "0123456789abcdef";
  for (const unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + q;
}

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
  bool network = false;  // needs a peer (or spawns processes): not part of `all`
};

void run_say_hello();
void run_main();
void run_gather();
void run_create_task();
void run_random_sleep();
void run_tcp_echo_client();
void run_tcp_echo_server();
void run_subprocesses();

inline constexpr Program programs[] = {
    {"say_hello", "print Hello, sleep 1 s, print World", run_say_hello},
    {"main", "the async main: print, sleep 1 s, print Done", run_main},
    {"gather", "gather two coroutines sleeping 1 s and 2 s (2 s in all)", run_gather},
    {"create_task", "the same two coroutines as tasks, then await both", run_create_task},
    {"random_sleep", "sleep random.randint(1, 5) seconds and say how long", run_random_sleep},
    {"tcp_echo_server", "asyncio's TCP echo server on 127.0.0.1:PORT (--port), until Ctrl-C", run_tcp_echo_server,
     true},
    {"tcp_echo_client", "asyncio's TCP echo client: send 'Hello World!' to 127.0.0.1:PORT", run_tcp_echo_client,
     true},
    {"subprocesses", "three shell commands at once, printed as each completes (not a seed: not in all)",
     run_subprocesses, true},
};

}  // namespace demo
