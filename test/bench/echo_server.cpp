// echo_server.cpp — `asyncuv-bench echo-server tcp PORT | unix PATH`: the
// echo workload of ../shared/peers (README "Echo"), written with the streams
// API the way a user would, as the asyncio-streams peer is:
//   data = await reader.read(1 MiB); writer.write(data); await writer.drain()
// Follows echo.sh's server contract: binds 127.0.0.1 only, prints
// "listening tcp PORT" (or "listening unix PATH") once it accepts, serves
// until SIGTERM (or ECHO_SERVER_MAX_S seconds, default 600), then closes
// everything and exits 0. Bad arguments: one line on stderr, exit 2; cannot
// listen: exit 3.
#include "echo_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "asyncuv/asyncuv.hpp"

using namespace asyncuv;

namespace {

constexpr std::ptrdiff_t read_size = 1024 * 1024;

Coro<void> echo(StreamReader reader, StreamWriter writer) {
  try {
    for (;;) {
      std::string data = co_await reader.read(read_size);
      if (data.empty()) break;
      writer.write(data);
      co_await writer.drain();
    }
  } catch (const OSError&) {
    // A client that resets its connection ends only its own task.
  }
  writer.close();
}

double max_seconds() {
  const char* s = std::getenv("ECHO_SERVER_MAX_S");
  const double v = s ? std::strtod(s, nullptr) : 600.0;
  return v > 0 ? v : 600.0;
}

Coro<Server> start_unix_or_tcp(bool tcp, const std::string& where) {
  if (tcp) co_return co_await start_server(echo, "127.0.0.1", std::stoi(where));
  co_return co_await start_unix_server(echo, where);
}

Coro<int> serve(bool tcp, std::string where) {
  // Two statements, not `tcp ? co_await a : co_await b`: g++ 12 mishandles
  // co_await inside a conditional expression.
  Server server = co_await start_unix_or_tcp(tcp, where);
  const std::string shown = tcp ? std::to_string(server.sockets().at(0).port) : where;
  std::printf("listening %s %s\n", tcp ? "tcp" : "unix", shown.c_str());
  std::fflush(stdout);
  EventLoop& loop = get_running_loop();
  loop.add_signal_handler(SIGTERM, [&server] { server.close(); });
  TimerHandle deadline = loop.call_later(max_seconds(), [&server] { server.close(); });
  try {
    co_await server.serve_forever();
  } catch (const CancelledError&) {
    // close() ends serve_forever, as in asyncio
  }
  deadline.cancel();
  loop.remove_signal_handler(SIGTERM);
  if (!tcp) ::unlink(where.c_str());
  co_return 0;
}

int usage(const char* msg) {
  std::fprintf(stderr, "asyncuv-bench: %s (usage: asyncuv-bench echo-server tcp PORT | unix PATH)\n", msg);
  return 2;
}

}  // namespace

int echo_server_main(int argc, char** argv) {
  if (argc != 4) return usage("echo-server takes two arguments");
  const std::string kind = argv[2];
  const std::string where = argv[3];
  if (kind == "tcp") {
    char* end = nullptr;
    errno = 0;
    const long port = std::strtol(where.c_str(), &end, 10);
    if (errno || end == where.c_str() || *end || port < 0 || port > 65535) return usage("PORT must be 0..65535");
  } else if (kind != "unix" || where.empty()) {
    return usage("the transport is tcp or unix");
  }
  try {
    return run(serve(kind == "tcp", where));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asyncuv-bench: echo-server: %s\n", e.what());
    return 3;
  }
}
