// Streams closing and going away (issue 11, reliability): 10^4 connect/close
// cycles, closing with writes in flight, a writer destroyed with bytes
// queued, a handler returning without closing, and run() returning with
// everything still open.
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

// Bytes in use on glibc's heap (0 under the sanitizers' allocators).
std::size_t heap_in_use() {
  if constexpr (sanitized_build) return 0;
  return mallinfo2().uordblks;
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("10^4 connect/close cycles: no fd or memory growth") {
  const int cycles = scaled(10000, 3000);
  const int lanes = 8;
  run([cycles]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    Handlers h;
    // One byte in, one byte back, and the server closes first (so TIME_WAIT
    // stays on the server's port, not on thousands of client ports).
    auto once = [](StreamReader reader, StreamWriter writer, Handlers* h) -> Coro<void> {
      LiveGuard live(&h->live);
      try {
        writer.write(co_await reader.readexactly(1));
        writer.close();
        co_await writer.wait_closed();
        ++h->finished;
      } catch (const std::exception&) {
        h->outcomes.push_back(text_of(std::current_exception()));
      }
    };
    const std::string path = unix_path("cycles");
    auto cb = [&h, once](StreamReader r, StreamWriter w) { return once(std::move(r), std::move(w), &h); };
    Server tcp = co_await start_server(cb, "127.0.0.1", 0);
    Server unix_server = co_await start_unix_server(cb, path);
    const int port = port_of(tcp);
    int done = 0, bad = 0;
    auto lane = [](int n, int port, std::string path, int* done, int* bad) -> Coro<void> {
      for (int i = 0; i < n; ++i) {
        auto [reader, writer] = co_await connect_to(i % 4 != 3, port, path);
        writer.write("z");
        if (co_await reader.read() != "z") ++*bad;  // "z", then EOF
        writer.close();
        co_await writer.wait_closed();
        ++*done;
      }
    };
    auto batch = [&](int n) -> Coro<void> {
      std::vector<Task<void>> tasks;
      for (int l = 0; l < lanes; ++l) tasks.push_back(create_task(lane(n / lanes, port, path, &done, &bad)));
      co_await wait_for(gather(std::move(tasks)), 120.0);
      co_await wait_until([&] { return h.live == 0; });
    };
    co_await batch(lanes * 50);  // warm-up: caches, pools, the first TIME_WAITs
    const int fds_warm = fd_count();
    const std::size_t heap_warm = heap_in_use();
    const double start = now();
    co_await batch(cycles);
    const double took = now() - start;
    const std::size_t heap_after = heap_in_use();
    CHECK(done == lanes * 50 + cycles / lanes * lanes);
    CHECK(bad == 0);
    CHECK(h.outcomes.empty());
    CHECK(fd_count() == fds_warm);
    // A leaked connection would be several hundred bytes (core, handle block).
    if (!sanitized_build) CHECK(heap_after < heap_warm + 256 * 1024);
    MESSAGE(cycles << " connect/close cycles in " << took << " s; fds " << fds_warm << " -> " << fd_count()
                   << "; heap in use " << heap_warm << " -> " << heap_after << " bytes");
    tcp.close();
    unix_server.close();
    co_await tcp.wait_closed();
    co_await unix_server.wait_closed();
    co_await handlers_done(h);
    ::unlink(path.c_str());
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

TEST_CASE("closing with writes in flight: they complete, or fail cleanly on a reset") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    Event go;
    Handlers h;
    // Reads everything after `go`, reports the size; or resets at once.
    auto peer = [](StreamReader reader, StreamWriter writer, Handlers* h, Event* go) -> Coro<void> {
      LiveGuard live(&h->live);
      co_await go->wait();
      const std::string first = co_await reader.readexactly(1);
      if (first == "R") {
        set_linger_zero(writer);
        writer.transport().abort();
        co_return;
      }
      const std::string rest = co_await reader.read();
      h->outcomes.push_back(std::to_string(first.size() + rest.size()));
    };
    Server server = co_await start_server(
        [&h, &go, peer](StreamReader r, StreamWriter w) { return peer(std::move(r), std::move(w), &h, &go); },
        "127.0.0.1", 0);
    const std::size_t size = 16 * 1024 * 1024;
    // Completes: close() flushes first, wait_closed() returns normally.
    {
      auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
      writer.write("C" + std::string(size - 1, 'c'));
      CHECK(writer.transport().get_write_buffer_size() > 0);
      writer.close();
      CHECK(writer.is_closing());
      writer.write("dropped");  // after close(): ignored
      Task<void> closed = create_task(writer.wait_closed());
      co_await sleep(0.01);
      CHECK_FALSE(closed.done());  // still flushing
      go.set();
      co_await wait_for(closed, 30.0);
      REQUIRE(co_await wait_until([&] { return h.outcomes.size() == 1; }));
      CHECK(h.outcomes[0] == std::to_string(size));
    }
    // Fails: the peer resets with our writes queued; wait_closed and drain raise.
    {
      go.clear();
      auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
      writer.write("R" + std::string(size - 1, 'r'));
      Task<void> draining = create_task(writer.drain());
      writer.close();
      go.set();
      const std::string closed = co_await ended(wait_for(writer.wait_closed(), 30.0));
      CHECK((closed == "ConnectionResetError [Errno 104] Connection reset by peer" ||
             closed == "BrokenPipeError [Errno 32] Broken pipe"));
      CHECK(co_await ended(draining) == closed);
      CHECK(h.outcomes.size() == 1);
    }
    server.close();
    co_await server.wait_closed();
    co_await handlers_done(h);
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

TEST_CASE("a StreamWriter destroyed with bytes queued: close flushes, the peer receives them all") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    Handlers h;
    Event go;
    auto late = [](StreamReader reader, StreamWriter, Handlers* h, Event* go) -> Coro<void> {
      LiveGuard live(&h->live);
      co_await go->wait();
      Checksum c;
      c.add(co_await reader.read());
      h->outcomes.push_back(std::to_string(c.bytes) + " " + std::to_string(c.sum));
    };
    const std::string path = unix_path("flush");
    auto cb = [&h, &go, late](StreamReader r, StreamWriter w) { return late(std::move(r), std::move(w), &h, &go); };
    Server tcp = co_await start_server(cb, "127.0.0.1", 0);
    Server unix_server = co_await start_unix_server(cb, path);
    Checksum sent;
    for (int round = 0; round < 2; ++round) {
      auto [reader, writer] = co_await connect_to(round == 0, port_of(tcp), path);
      for (int i = 0; i < 8; ++i) {
        const std::string block = ByteGen(static_cast<std::uint64_t>(100 + i)).take(1024 * 1024);
        writer.write(block);
        if (round == 0) sent.add(block);
      }
      CHECK(writer.transport().get_write_buffer_size() > 0);
    }  // reader and writer go: the last user closes, after the flush
    go.set();
    REQUIRE(co_await wait_until([&] { return h.outcomes.size() == 2; }, 30.0));
    for (const std::string& o : h.outcomes) CHECK(o == std::to_string(sent.bytes) + " " + std::to_string(sent.sum));
    tcp.close();
    unix_server.close();
    co_await tcp.wait_closed();
    co_await unix_server.wait_closed();
    co_await handlers_done(h);
    ::unlink(path.c_str());
    CHECK(fd_count() == fds);
  }());
}

TEST_CASE("a handler that returns without closing: its connection closes as it returns") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    Handlers h;
    auto hello = [](StreamReader, StreamWriter writer, Handlers* h) -> Coro<void> {
      LiveGuard live(&h->live);
      writer.write("hello");
      co_return;  // no close(): the last reference to the connection goes here
    };
    Server server = co_await start_server(
        [&h, hello](StreamReader r, StreamWriter w) { return hello(std::move(r), std::move(w), &h); }, "127.0.0.1",
        0);
    for (int i = 0; i < 3; ++i) {
      auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
      CHECK(co_await wait_for(reader.read(), 10.0) == "hello");  // then EOF, not a wait for the loop's next sweep
      writer.close();
    }
    server.close();
    co_await wait_for(server.wait_closed(), 10.0);
    co_await handlers_done(h);
    CHECK(fd_count() == fds);
  }());
}

namespace {

// Reads forever: cancelled by run()'s teardown.
Coro<void> reads_forever(StreamReader reader, StreamWriter) {
  for (int i = 0; i < 1000000; ++i) {
    if ((co_await reader.read(1 << 16)).empty()) co_await sleep(3600);
  }
}

}  // namespace

TEST_CASE("run() returns with servers, connections, reads and writes still open: the loop closes them all") {
  const int fds = fds_between_runs();
  std::optional<Server> outliving_server;
  std::optional<StreamWriter> outliving_writer;
  std::optional<StreamReader> outliving_reader;
  const std::string path = unix_path("left-open");
  run([&]() -> Coro<void> {
    Server server = co_await start_server(reads_forever, "127.0.0.1", 0);
    Server unix_server = co_await start_unix_server(reads_forever, path);
    auto [r1, w1] = co_await open_connection("127.0.0.1", port_of(server));
    auto [r2, w2] = co_await open_unix_connection(path);
    auto [r3, w3] = co_await open_connection("127.0.0.1", port_of(server));
    w1.write(std::string(8 * 1024 * 1024, 'q'));  // a server that does read, but not all of it yet
    w3.write_eof();
    create_task(r1.read());  // a read still waiting
    create_task(w1.drain());  // a drain still waiting
    co_await sleep(0.01);
    outliving_server = server;
    outliving_writer = w2;
    outliving_reader = r2;
    co_return;  // everything else goes with this frame or with the loop
  }());
  CHECK(fd_count() == fds);  // every socket closed, uv_loop_close succeeded
  outliving_writer->write("to nowhere");  // the loop is gone: ignored
  CHECK(outliving_server->sockets().empty());
  outliving_writer.reset();
  outliving_reader.reset();
  outliving_server.reset();
  ::unlink(path.c_str());
  CHECK(fd_count() == fds);
}
