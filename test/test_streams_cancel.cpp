// Streams under cancellation (issue 11, reliability): a pending connect,
// read, readexactly, readline, drain, serve_forever and whole connection
// tasks cancelled, with no byte lost and nothing left open.
// Loopback only (127.0.0.1, ::1, Unix sockets; the one name resolved is
// "localhost"); every loop is bounded in count and in time; after each case
// the process's fd count and the loop's open handles are back to where they
// started.
#include "streams_stress_support.hpp"
#include "test_support.hpp"

#include <dirent.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;
using support::sanitized_build;
using support::wait_until;
using namespace streams_stress_support;

namespace {

// A TCP socket listening on 127.0.0.1 that nobody accepts from, outside
// libuv: with its backlog full, the kernel drops further SYNs, so a connect
// to it stays pending.
struct RawListener {
  int fd = -1;
  int port = 0;
  explicit RawListener(int backlog) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      FAIL("raw listener: " << std::strerror(errno));
    }
    port = ntohs(a.sin_port);
  }
  RawListener(const RawListener&) = delete;
  ~RawListener() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

// ---------------------------------------------------------------------------

// ---- cancellation ----

TEST_CASE("cancelling a pending connect (a listener whose backlog is full) leaves no handle or fd") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    RawListener full(0);
    std::vector<std::pair<StreamReader, StreamWriter>> queued;  // accepted by the kernel only
    int timed_out = 0;
    for (int i = 0; i < 8 && timed_out == 0; ++i) {
      const int fds_before = fd_count();
      const std::size_t handles_before = open_handles();
      try {
        queued.push_back(co_await wait_for(open_connection("127.0.0.1", full.port), 0.3));
      } catch (const TimeoutError&) {
        ++timed_out;  // wait_for cancelled the connect
        CHECK(fd_count() == fds_before);
        CHECK(open_handles() == handles_before);
      }
    }
    REQUIRE(timed_out == 1);
    // Cancelled by hand, and cancelled before it even started.
    Task<std::pair<StreamReader, StreamWriter>> pending = create_task(open_connection("127.0.0.1", full.port));
    co_await sleep(0.05);
    CHECK_FALSE(pending.done());
    pending.cancel();
    CHECK(co_await ended(pending) == "CancelledError");
    Task<std::pair<StreamReader, StreamWriter>> unstarted = create_task(open_connection("localhost", full.port));
    unstarted.cancel();
    CHECK(co_await ended(unstarted) == "CancelledError");
    for (auto& [reader, writer] : queued) writer.close();  // (wait_for's finished task holds a copy)
    queued.clear();
    CHECK(fd_count() == fds + 1);  // the raw listener
    CHECK(open_handles() == handles);
  }());
}

TEST_CASE("cancelling read, readexactly and readline loses no buffered byte") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    Handlers h;
    Server server = co_await start_server(echo_with(&h), "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    const std::string payload = ByteGen(5).take(scaled(4, 1) * 1024 * 1024);
    Task<Checksum> sender = create_task(send_stream(writer, 5, payload.size()));
    std::string got;
    std::mt19937 rng(5);
    // Reads of every kind, each cut short by a timeout at a random moment;
    // whatever was not returned must still be in the buffer.
    for (int i = 0; i < 100000 && got.size() < payload.size(); ++i) {
      const double limit = (rng() % 200) * 1e-6;
      try {
        switch (i % 3) {
          case 0: got += co_await wait_for(reader.read(static_cast<std::ptrdiff_t>(1 + rng() % 100000)), limit); break;
          case 1: got += co_await wait_for(reader.readexactly(std::min<std::ptrdiff_t>(
                                                static_cast<std::ptrdiff_t>(1 + rng() % 300000),
                                                static_cast<std::ptrdiff_t>(payload.size() - got.size()))),
                                            limit);
            break;
          default: {
            const std::size_t at = std::min(got.size() + rng() % 1000, payload.size() - 1);
            got += co_await wait_for(reader.readuntil(std::string(1, payload[at])), limit);
            break;
          }
        }
      } catch (const TimeoutError&) {
      }
    }
    CHECK(got.size() == payload.size());
    CHECK((got == payload));
    co_await sender;
    CHECK(co_await reader.read() == "");
    writer.close();
    server.close();
    co_await server.wait_closed();
    co_await handlers_done(h);
    CHECK(fd_count() == fds);
  }());
}

TEST_CASE("cancelling drain keeps the queued bytes: the peer still gets them all") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    Handlers h;
    Event go;
    auto late = [](StreamReader reader, StreamWriter writer, Handlers* h, Event* go) -> Coro<void> {
      LiveGuard live(&h->live);
      co_await go->wait();
      Checksum c;
      c.add(co_await reader.read());
      writer.write(std::to_string(c.bytes) + " " + std::to_string(c.sum));
      writer.close();
    };
    Server server = co_await start_server(
        [&h, &go, late](StreamReader r, StreamWriter w) { return late(std::move(r), std::move(w), &h, &go); },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    Checksum sent;
    for (int i = 0; i < 64 && writer.transport().get_write_buffer_size() < 256 * 1024; ++i) {
      const std::string block = ByteGen(static_cast<std::uint64_t>(i)).take(1024 * 1024);
      writer.write(block);
      sent.add(block);
    }
    REQUIRE(writer.transport().get_write_buffer_size() > 64 * 1024);  // the kernel is full: we are queueing
    Task<void> draining = create_task(writer.drain());
    co_await sleep(0.02);
    CHECK_FALSE(draining.done());
    draining.cancel();
    CHECK(co_await ended(draining) == "CancelledError");
    CHECK(co_await ended(wait_for(writer.drain(), 0.01)) == "TimeoutError");
    CHECK(writer.transport().get_write_buffer_size() > 0);
    writer.write_eof();
    go.set();
    CHECK(co_await wait_for(reader.read(), 30.0) == std::to_string(sent.bytes) + " " + std::to_string(sent.sum));
    writer.close();
    server.close();
    co_await server.wait_closed();
    co_await handlers_done(h);
    CHECK(fd_count() == fds);
  }());
}

TEST_CASE("cancelling serve_forever while clients connect; cancelling whole connection tasks") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    {
      Handlers h;
      ServerOptions o;
      o.start_serving = false;
      Server server = co_await start_server(echo_with(&h), "127.0.0.1", 0, o);
      const int port = port_of(server);
      Task<void> forever = create_task(server.serve_forever());
      co_await sleep(0);
      CHECK(server.is_serving());
      // Clients connect in two waves: the first is served; serve_forever
      // is cancelled while the second's connects are in flight, each of
      // which is then served, refused, or reset (the kernel had queued it
      // when the listener closed). None hangs, none is lost.
      int echoed = 0, refused = 0, ended_count = 0;
      auto client = [](int port, int* echoed, int* refused, int* ended) -> Coro<void> {
        try {
          auto [reader, writer] = co_await open_connection("127.0.0.1", port);
          writer.write("hi");
          writer.write_eof();
          if (co_await reader.read() == "hi") ++*echoed;
          writer.close();
        } catch (const ConnectionError&) {
          ++*refused;
        }
        ++*ended;
      };
      std::vector<Task<void>> first, second;
      for (int i = 0; i < 30; ++i) first.push_back(create_task(client(port, &echoed, &refused, &ended_count)));
      co_await wait_for(gather(std::move(first)), 30.0);
      CHECK(echoed == 30);
      for (int i = 0; i < 30; ++i) second.push_back(create_task(client(port, &echoed, &refused, &ended_count)));
      co_await sleep(0);  // the second wave's connects are submitted
      forever.cancel();
      CHECK(co_await ended(forever) == "CancelledError");
      CHECK_FALSE(server.is_serving());
      co_await wait_for(gather(std::move(second)), 30.0);
      CHECK(ended_count == 60);
      CHECK(echoed + refused <= 60);
      MESSAGE("second wave: " << echoed - 30 << " served, " << refused << " refused or reset");
      co_await wait_for(server.wait_closed(), 10.0);
      co_await handlers_done(h);
    }
    {
      // Connection tasks cancelled mid-read and with writes queued: their
      // reader and writer go with the task, which closes the connection
      // after flushing, so the client gets every queued byte, then EOF.
      Handlers h;
      auto stuck = [](StreamReader reader, StreamWriter writer, Handlers* h) -> Coro<void> {
        LiveGuard live(&h->live);
        h->tasks.push_back(current_task());
        writer.write(ByteGen(11).take(2 * 1024 * 1024));  // mostly queued
        co_await reader.readexactly(1 << 30);             // never completes
      };
      Server server = co_await start_server(
          [&h, stuck](StreamReader r, StreamWriter w) { return stuck(std::move(r), std::move(w), &h); }, "127.0.0.1",
          0);
      std::vector<std::pair<StreamReader, StreamWriter>> clients;
      for (int i = 0; i < 5; ++i) clients.push_back(co_await open_connection("127.0.0.1", port_of(server)));
      REQUIRE(co_await wait_until([&] { return h.tasks.size() == 5; }));
      for (AnyTask& t : h.tasks) t.cancel();
      co_await handlers_done(h);
      for (auto& [reader, writer] : clients) {
        CHECK((co_await wait_for(reader.read(), 30.0) == ByteGen(11).take(2 * 1024 * 1024)));
        CHECK(reader.at_eof());
        writer.close();
      }
      for (AnyTask& t : h.tasks) CHECK(t.cancelled());
      h.tasks.clear();
      server.close();
      co_await wait_for(server.wait_closed(), 10.0);  // the cancelled connections were detached
    }
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

