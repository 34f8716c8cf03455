// Streams under load and abuse (issue 11, reliability): a thousand
// concurrent checksummed echo streams through one server, abrupt
// disconnects, peer resets, half-close, a server closed under its clients,
// a slow reader, oversized lines and refused connects.
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

// Raises the soft fd limit towards the hard one; true if `want` fds fit.
bool fd_limit_at_least(rlim_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur >= want) return true;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? want : std::min(lim.rlim_max, std::max(want, lim.rlim_cur));
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur >= want;
}

struct Tally {
  int ok = 0;
  std::vector<std::string> failures;
  Checksum sent_total;
};

// One echo client: streams a random-length byte sequence through the server
// while reading the echo, checks every byte against the same sequence (a
// lost, duplicated or reordered byte shows at its offset) and the checksums.
Coro<void> checked_echo_client(SocketAddress to, std::uint64_t seed, std::size_t max_len, Tally* tally) {
  const std::string who = to.repr() + " seed " + std::to_string(seed);
  try {
    auto [reader, writer] = co_await open_connection(to.host, to.port);
    const std::size_t total = ByteGen(seed ^ 0x5555).next64() % (max_len + 1);
    Task<Checksum> sender = create_task(send_stream(writer, seed, total));
    ByteGen expected(seed);
    std::mt19937 sizes(static_cast<std::uint32_t>(seed * 7));
    Checksum received;
    std::optional<std::uint64_t> first_bad;
    for (;;) {
      const std::string data = co_await reader.read(static_cast<std::ptrdiff_t>(1 + sizes() % (32 * 1024)));
      if (data.empty()) break;
      for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] != expected.next() && !first_bad) first_bad = received.bytes + i;
      }
      received.add(data);
    }
    const Checksum sent = co_await sender;
    writer.close();
    co_await writer.wait_closed();
    if (first_bad) tally->failures.push_back(who + ": byte " + std::to_string(*first_bad) + " differs");
    else if (!(received == sent) || sent.bytes != total)
      tally->failures.push_back(who + ": sent " + std::to_string(sent.bytes) + " got " +
                                std::to_string(received.bytes));
    else ++tally->ok;
    tally->sent_total.bytes += sent.bytes;
  } catch (const std::exception&) {
    tally->failures.push_back(who + ": " + text_of(std::current_exception()));
  }
}

// Shrinks a socket buffer (SO_SNDBUF / SO_RCVBUF): loopback's autotuned
// buffers (tcp_rmem up to 32 MiB) would otherwise absorb whole test streams.
void set_socket_buffer(const StreamWriter& w, int option, int bytes) {
  const int fd = std::any_cast<int>(w.get_extra_info("socket"));
  REQUIRE(::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes) == 0);
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("1,000 concurrent checksummed echo streams through one server: no byte lost, duplicated or reordered") {
  const int connections = scaled(1000, 500);
  const std::size_t max_len = scaled(128, 16) * 1024;
  // Both ends of every connection live in this process.
  if (!fd_limit_at_least(static_cast<rlim_t>(2 * connections + 256))) {
    MESSAGE("skipped: RLIMIT_NOFILE's hard limit is below " << 2 * connections + 256);
    return;
  }
  const int fds_before_run = fds_between_runs();
  run([&]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    Handlers h;
    // "localhost": a listener on 127.0.0.1 and, where configured, one on ::1.
    ServerOptions options;
    options.backlog = connections;  // every client connects at once
    Server server = co_await start_server(echo_with(&h), "localhost", 0, options);
    const std::vector<SocketAddress> listeners = server.sockets();
    REQUIRE_FALSE(listeners.empty());
    for (const SocketAddress& a : listeners) CHECK((a.host == "127.0.0.1" || a.host == "::1"));

    Tally tally;
    const double start = now();
    std::vector<Task<void>> clients;
    for (int i = 0; i < connections; ++i) {
      const SocketAddress& to = listeners[static_cast<std::size_t>(i) % listeners.size()];
      clients.push_back(create_task(checked_echo_client(to, 1000 + static_cast<std::uint64_t>(i), max_len, &tally)));
    }
    int peak_fds = 0;
    Task<void> sampler = create_task([](int* peak) -> Coro<void> {
      for (int i = 0; i < 100000; ++i) {
        *peak = std::max(*peak, fd_count());
        co_await sleep(0.02);
      }
    }(&peak_fds));
    co_await wait_for(gather(std::move(clients)), 240.0);
    const double took = now() - start;
    sampler.cancel();
    co_await ended(sampler);
    for (const std::string& f : tally.failures) FAIL_CHECK(f);
    CHECK(tally.ok == connections);
    server.close();
    co_await server.wait_closed();
    co_await handlers_done(h);
    CHECK(h.finished == connections);
    for (const std::string& o : h.outcomes) CHECK(o == "ok");
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
    MESSAGE(connections << " connections over " << listeners.size() << " listener(s), " << tally.sent_total.bytes
                        << " bytes each way in " << took << " s; fds " << fds << " -> peak " << peak_fds << " -> "
                        << fd_count());
  }());
  CHECK(fd_count() == fds_before_run);
}

TEST_CASE("abrupt disconnects: mid-read, mid-write, and a peer reset during a big write") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    Handlers h;
    // Reads 1 MiB that never comes whole.
    auto wants_a_lot = [](StreamReader reader, StreamWriter writer, Handlers* h) -> Coro<void> {
      LiveGuard live(&h->live);
      try {
        co_await reader.readexactly(1 << 20);
        h->outcomes.push_back("read it all");
      } catch (const std::exception&) {
        h->outcomes.push_back(text_of(std::current_exception()));
      }
      CHECK(writer.is_closing() == (reader.exception() != nullptr));
      writer.close();
    };
    Server server = co_await start_server(
        [&h, wants_a_lot](StreamReader r, StreamWriter w) { return wants_a_lot(std::move(r), std::move(w), &h); },
        "127.0.0.1", 0);

    // Mid-read, graceful: FIN after 1000 bytes -> IncompleteReadError with them.
    {
      auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
      writer.write(std::string(1000, 'a'));
      co_await writer.drain();
      writer.close();
      co_await writer.wait_closed();
    }
    REQUIRE(co_await wait_until([&] { return h.outcomes.size() == 1; }));
    CHECK(h.outcomes[0] == "IncompleteReadError 1000");

    // Mid-read, abrupt: RST -> the reader's exception is ConnectionResetError.
    {
      auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
      writer.write(std::string(1000, 'b'));
      co_await writer.drain();
      co_await sleep(0.01);
      set_linger_zero(writer);
      writer.close();
    }
    REQUIRE(co_await wait_until([&] { return h.outcomes.size() == 2; }));
    CHECK(h.outcomes[1] == "ConnectionResetError [Errno 104] Connection reset by peer");
    server.close();
    co_await server.wait_closed();
    co_await handlers_done(h);

    // Mid-write: the server streams 32 MiB; the client reads a little, then
    // resets (SO_LINGER 0), or just closes with unread bytes (the kernel
    // resets then too). The server's drain raises; its reader holds the
    // same error; wait_closed raises it.
    for (const bool linger : {true, false}) {
      Handlers w;
      auto big_writer = [](StreamReader reader, StreamWriter writer, Handlers* h) -> Coro<void> {
        LiveGuard live(&h->live);
        std::string drain_error, read_error, closed_error;
        const std::string block(64 * 1024, 'w');
        try {
          for (int i = 0; i < 512; ++i) {
            writer.write(block);
            co_await writer.drain();
          }
          drain_error = "wrote it all";
        } catch (const std::exception&) {
          drain_error = text_of(std::current_exception());
        }
        try {
          co_await reader.read(1);
          read_error = "read";
        } catch (const std::exception&) {
          read_error = text_of(std::current_exception());
        }
        try {
          co_await writer.wait_closed();
          closed_error = "closed";
        } catch (const std::exception&) {
          closed_error = text_of(std::current_exception());
        }
        h->outcomes.push_back(drain_error + " | " + read_error + " | " + closed_error);
      };
      Server s2 = co_await start_server(
          [&w, big_writer](StreamReader r, StreamWriter wr) { return big_writer(std::move(r), std::move(wr), &w); },
          "127.0.0.1", 0);
      {
        auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(s2));
        CHECK((co_await reader.readexactly(300 * 1000)).size() == 300 * 1000);
        if (linger) set_linger_zero(writer);
        writer.close();
      }
      REQUIRE(co_await wait_until([&] { return w.outcomes.size() == 1; }));
      const std::string reset = "ConnectionResetError [Errno 104] Connection reset by peer";
      CHECK(w.outcomes[0] == reset + " | " + reset + " | " + reset);
      s2.close();
      co_await s2.wait_closed();
      co_await handlers_done(w);
    }
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

TEST_CASE("half-close: write_eof, then the peer reads to EOF and still answers (TCP and Unix)") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    Handlers h;
    // Reads everything to EOF, then answers with its size and checksum.
    auto summer = [](StreamReader reader, StreamWriter writer, Handlers* h) -> Coro<void> {
      LiveGuard live(&h->live);
      const std::string all = co_await reader.read();
      CHECK(reader.at_eof());
      Checksum c;
      c.add(all);
      writer.write(std::to_string(c.bytes) + " " + std::to_string(c.sum) + "\n");
      writer.write(all);  // and echoes it, after the peer's EOF
      writer.close();
      co_await writer.wait_closed();
      ++h->finished;
    };
    auto cb = [&h, summer](StreamReader r, StreamWriter w) { return summer(std::move(r), std::move(w), &h); };
    const std::string path = unix_path("halfclose");
    Server tcp = co_await start_server(cb, "127.0.0.1", 0);
    Server unix_server = co_await start_unix_server(cb, path);
    for (int round = 0; round < 2; ++round) {
      auto [reader, writer] = co_await connect_to(round == 0, port_of(tcp), path);
      const std::string payload = ByteGen(77).take(3 * 1024 * 1024 + 17);
      writer.write(payload);  // mostly queued: write_eof waits for it
      writer.write_eof();
      CHECK_THROWS_WITH_AS(writer.write("late"), "Cannot call write() after write_eof()", RuntimeError);
      CHECK_FALSE(writer.is_closing());
      Checksum c;
      c.add(payload);
      CHECK(co_await reader.readline() == std::to_string(c.bytes) + " " + std::to_string(c.sum) + "\n");
      CHECK(co_await reader.read() == payload);
      CHECK(reader.at_eof());
      writer.close();
      co_await writer.wait_closed();
      // asyncio checks write_eof first, closed or not.
      CHECK_THROWS_WITH_AS(writer.write("after close"), "Cannot call write() after write_eof()", RuntimeError);
    }
    tcp.close();
    unix_server.close();
    co_await tcp.wait_closed();
    co_await unix_server.wait_closed();
    co_await handlers_done(h);
    CHECK(h.finished == 2);
    ::unlink(path.c_str());
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

TEST_CASE("server close() with clients connected: no new connections, the old ones go on") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    Handlers h;
    Server server = co_await start_server(echo_with(&h), "127.0.0.1", 0);
    const int port = port_of(server);
    std::vector<std::pair<StreamReader, StreamWriter>> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(co_await open_connection("127.0.0.1", port));
    REQUIRE(co_await wait_until([&] { return h.live == 20; }));
    // Waiting before close(): 3.11's wait_closed() returns at once after it.
    Task<void> closed = create_task(server.wait_closed());
    co_await sleep(0);
    server.close();
    CHECK_FALSE(server.is_serving());
    CHECK(server.sockets().empty());
    CHECK_THROWS_AS(co_await open_connection("127.0.0.1", port), ConnectionRefusedError);
    for (auto& [reader, writer] : clients) {
      writer.write("still here\n");
      CHECK(co_await reader.readline() == "still here\n");
    }
    CHECK_FALSE(closed.done());
    for (std::size_t i = 0; i < clients.size(); ++i) {
      clients[i].second.close();
      if (i + 1 < clients.size()) CHECK_FALSE(closed.done());
    }
    co_await wait_for(closed, 10.0);  // every accepted connection has ended
    clients.clear();
    co_await handlers_done(h);
    for (const std::string& o : h.outcomes) CHECK(o == "ok");
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

TEST_CASE("a slow reader against a fast writer: the writer's buffer stays within the water marks") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    struct Marks {
      std::size_t high, low;
    };
    for (const Marks marks : {Marks{64 * 1024, 16 * 1024}, Marks{8 * 1024, 2 * 1024}}) {
      Handlers h;
      struct Report {
        std::size_t peak = 0, after_drain_peak = 0, total = 0;
        int stalls = 0;
        Checksum sent;
      } report;
      const std::size_t total = static_cast<std::size_t>(scaled(6, 2)) * 1024 * 1024;
      auto fast = [](StreamReader, StreamWriter writer, Handlers* h, Report* rep, Marks m,
                     std::size_t total) -> Coro<void> {
        LiveGuard live(&h->live);
        set_socket_buffer(writer, SO_SNDBUF, 16 * 1024);
        Transport t = writer.transport();
        if (m.high != 64 * 1024) t.set_write_buffer_limits(m.high, m.low);
        CHECK(t.get_write_buffer_limits() == std::pair(m.low, m.high));
        ByteGen gen(9);
        std::mt19937 sizes(9);
        while (rep->sent.bytes < total) {
          const std::string chunk = gen.take(std::min<std::size_t>(total - rep->sent.bytes, 1 + sizes() % 32768));
          writer.write(chunk);
          rep->sent.add(chunk);
          rep->peak = std::max(rep->peak, t.get_write_buffer_size());
          if (t.get_write_buffer_size() > m.high) ++rep->stalls;
          co_await writer.drain();
          rep->after_drain_peak = std::max(rep->after_drain_peak, t.get_write_buffer_size());
        }
        writer.close();
        co_await writer.wait_closed();
        ++h->finished;
      };
      Server server = co_await start_server(
          [&h, &report, fast, marks](StreamReader r, StreamWriter w) {
            return fast(std::move(r), std::move(w), &h, &report, marks, total);
          },
          "127.0.0.1", 0);
      auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
      Checksum got;
      for (int i = 0; i < 100000; ++i) {  // 16 KiB per read, a pause every few reads
        const std::string data = co_await reader.read(16 * 1024);
        if (data.empty()) break;
        got.add(data);
        if (i % 4 == 0) co_await sleep(0.001);
      }
      CHECK(got == report.sent);
      CHECK(got.bytes == total);
      CHECK(report.stalls > 0);                          // the writer did outrun the reader
      CHECK(report.after_drain_peak <= marks.high);      // drain() returns at or below the high mark
      CHECK(report.peak <= marks.high + 32 * 1024);      // at most one chunk above it
      MESSAGE("marks " << marks.low << "/" << marks.high << ": " << report.stalls << " stalls, peak queued "
                       << report.peak << ", after drain " << report.after_drain_peak);
      writer.close();
      server.close();
      co_await server.wait_closed();
      co_await handlers_done(h);
      CHECK(h.finished == 1);
    }
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

TEST_CASE("oversized lines: LimitOverrunError / ValueError, then the stream is still usable") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    Handlers h;
    auto lines = [](StreamReader reader, StreamWriter writer, Handlers* h) -> Coro<void> {
      LiveGuard live(&h->live);
      CHECK(reader.limit() == 1024);
      CHECK(co_await reader.readline() == "short\n");
      // readuntil: the overlong line stays buffered; read it out by hand.
      std::size_t consumed = 0;
      try {
        co_await reader.readuntil("\n");
        FAIL("no overrun");
      } catch (const LimitOverrunError& e) {
        consumed = e.consumed();
      }
      CHECK(consumed > 1024);
      CHECK(co_await reader.readexactly(5001) == std::string(5000, 'x') + "\n");
      CHECK(co_await reader.readline() == "after\n");
      // readline: the overlong line is dropped (what of it is buffered), and
      // reading goes on; its tail may come as more overlong or short lines.
      int value_errors = 0;
      std::string line;
      for (int i = 0; i < 500 && line != "again\n"; ++i) {
        try {
          line = co_await reader.readline();
        } catch (const ValueError&) {
          ++value_errors;
        }
      }
      CHECK(value_errors >= 1);
      CHECK(line == "again\n");
      writer.write("ok\n");
      writer.close();
      ++h->finished;
    };
    ServerOptions small;
    small.limit = 1024;
    Server server = co_await start_server(
        [&h, lines](StreamReader r, StreamWriter w) { return lines(std::move(r), std::move(w), &h); }, "127.0.0.1",
        0, small);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    writer.write("short\n" + std::string(5000, 'x') + "\nafter\n");
    co_await writer.drain();
    co_await sleep(0.01);
    writer.write(std::string(200 * 1024, 'y') + "\nagain\n");
    co_await writer.drain();
    CHECK(co_await wait_for(reader.readline(), 10.0) == "ok\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
    co_await handlers_done(h);
    CHECK(h.finished == 1);
    CHECK(fd_count() == fds);
  }());
}

TEST_CASE("connecting to a closed port or a missing socket path is refused, and leaves nothing open") {
  run([]() -> Coro<void> {
    const int fds = co_await fds_at_start();
    const std::size_t handles = open_handles();
    int port4 = 0, port6 = 0;
    {
      Handlers h;
      Server s4 = co_await start_server(echo_with(&h), "127.0.0.1", 0);
      Server s6 = co_await start_server(echo_with(&h), "::1", 0);
      port4 = port_of(s4);
      port6 = port_of(s6);
      s4.close();
      s6.close();
    }
    const std::string path = unix_path("nobody");
    const int attempts = scaled(300, 60);
    int refused = 0, missing = 0;
    for (int i = 0; i < attempts; ++i) {
      try {
        if (i % 3 == 0) co_await open_connection("127.0.0.1", port4);
        else if (i % 3 == 1) co_await open_connection("::1", port6);
        else co_await open_unix_connection(path);
        FAIL("connected");
      } catch (const ConnectionRefusedError& e) {
        const std::string expected = i % 3 == 0 ? "('127.0.0.1', " + std::to_string(port4) + ")"
                                                : "('::1', " + std::to_string(port6) + ", 0, 0)";
        CHECK(std::string(e.what()) == "[Errno 111] Connect call failed " + expected);
        ++refused;
      } catch (const FileNotFoundError&) {
        ++missing;
      }
    }
    CHECK(refused + missing == attempts);
    CHECK(missing == attempts / 3);
    CHECK(fd_count() == fds);
    CHECK(open_handles() == handles);
  }());
}

