// Streams: open_connection / start_server over loopback TCP (127.0.0.1,
// ::1) and Unix sockets, the reader's buffer-first reads, the writer's flow
// control, errors with asyncio's messages, and cancellation that loses
// nothing. Every server a test starts is closed by it.
#include "test_support.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using namespace asyncuv;
using namespace std::chrono_literals;

namespace {

// An echo handler: everything read is written back, until EOF.
Coro<void> echo(StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string data = co_await reader.read(64 * 1024);
    if (data.empty()) break;
    writer.write(data);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

int port_of(const Server& s) { return s.sockets().at(0).port; }

std::string unix_path(const char* tag) {
  return "/tmp/asyncuv-test-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

}  // namespace

TEST_CASE("a TCP echo round trip on 127.0.0.1, port 0 resolved by sockets()") {
  run([]() -> Coro<void> {
    Server server = co_await start_server(echo, "127.0.0.1", 0);
    CHECK(server.is_serving());
    REQUIRE(server.sockets().size() == 1);
    CHECK(server.sockets()[0].host == "127.0.0.1");
    CHECK(port_of(server) > 0);

    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    writer.write("hello\nworld\n");
    co_await writer.drain();
    CHECK(co_await reader.readline() == "hello\n");
    CHECK(co_await reader.readuntil("\n") == "world\n");
    CHECK(std::any_cast<SocketAddress>(writer.get_extra_info("peername")).port == port_of(server));
    CHECK(std::any_cast<SocketAddress>(writer.get_extra_info("sockname")).host == "127.0.0.1");
    CHECK(std::any_cast<int>(writer.get_extra_info("socket")) >= 0);
    CHECK_FALSE(writer.get_extra_info("nothing").has_value());
    writer.write_eof();
    CHECK(co_await reader.read() == "");  // the server closes after our EOF
    CHECK(reader.at_eof());
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
    CHECK_FALSE(server.is_serving());
    CHECK(server.sockets().empty());
  }());
}

TEST_CASE("IPv6 loopback and Unix sockets echo too") {
  run([]() -> Coro<void> {
    Server server6 = co_await start_server(echo, "::1", 0);
    auto [r6, w6] = co_await open_connection("::1", port_of(server6));
    w6.write(std::string(100000, 'x'));
    CHECK((co_await r6.readexactly(100000)).size() == 100000);
    CHECK(w6.peername().repr() == "('::1', " + std::to_string(port_of(server6)) + ", 0, 0)");
    w6.close();
    server6.close();

    const std::string path = unix_path("echo");
    Server server = co_await start_unix_server(echo, path);
    CHECK(server.sockets().at(0).host == path);
    auto [reader, writer] = co_await open_unix_connection(path);
    writer.write("over a unix socket");
    CHECK(co_await reader.readexactly(18) == "over a unix socket");
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
    ::unlink(path.c_str());
  }());
}

TEST_CASE("connect errors carry asyncio's messages") {
  run([]() -> Coro<void> {
    // A port nobody listens on: bind one, then close it.
    int port = 0;
    {
      Server s = co_await start_server(echo, "127.0.0.1", 0);
      port = port_of(s);
      s.close();
    }
    try {
      co_await open_connection("127.0.0.1", port);
      FAIL("connected");
    } catch (const ConnectionRefusedError& e) {
      CHECK(std::string(e.what()) == "[Errno 111] Connect call failed ('127.0.0.1', " + std::to_string(port) + ")");
      CHECK(e.errno_value() == ECONNREFUSED);
    }
    try {
      co_await open_unix_connection(unix_path("missing"));
      FAIL("connected");
    } catch (const FileNotFoundError& e) {
      CHECK(std::string(e.what()) == "[Errno 2] No such file or directory");
    }
    Server busy = co_await start_server(echo, "127.0.0.1", 0);
    try {
      co_await start_server(echo, "127.0.0.1", port_of(busy));
      FAIL("bound twice");
    } catch (const OSError& e) {
      CHECK(std::string(e.what()) == "[Errno 98] error while attempting to bind on address ('127.0.0.1', " +
                                         std::to_string(port_of(busy)) + "): address already in use");
    }
    busy.close();
  }());
}

TEST_CASE("getaddrinfo resolves localhost and numeric hosts; bad names are gaierror") {
  run([]() -> Coro<void> {
    auto infos = co_await getaddrinfo("localhost", 80, 0, SOCK_STREAM);
    REQUIRE_FALSE(infos.empty());
    for (const AddrInfo& i : infos) {
      CHECK(i.address.port == 80);
      CHECK((i.address.host == "127.0.0.1" || i.address.host == "::1"));
    }
    auto numeric = co_await getaddrinfo("127.0.0.1", "8080", AF_INET, SOCK_STREAM, 0, AI_NUMERICHOST);
    REQUIRE(numeric.size() == 1);
    CHECK(numeric[0].address.repr() == "('127.0.0.1', 8080)");
    try {
      co_await getaddrinfo("256.0.0.1", 80, 0, 0, 0, AI_NUMERICHOST);  // not numeric: no lookup
      FAIL("resolved");
    } catch (const gaierror& e) {
      CHECK(std::string(e.what()) == "[Errno -2] Name or service not known");
    }
    // Named, not a braced temporary: g++ 12 destroys an aggregate temporary
    // of a co_await's full-expression twice.
    const SocketAddress local{AF_INET, "127.0.0.1", 80};
    auto [host, port] = co_await getnameinfo(local, NI_NUMERICHOST | NI_NUMERICSERV);
    CHECK(host == "127.0.0.1");
    CHECK(port == "80");
  }());
}

TEST_CASE("StreamReader fed by hand: asyncio's read semantics and errors") {
  run([]() -> Coro<void> {
    CHECK_THROWS_WITH_AS(StreamReader(0), "Limit cannot be <= 0", ValueError);
    StreamReader r(8);
    r.feed_data("abc");
    CHECK(co_await r.read(2) == "ab");
    CHECK(co_await r.read(0) == "");
    r.feed_data("def\nghi");
    CHECK(co_await r.readline() == "cdef\n");
    CHECK_THROWS_WITH_AS(co_await r.readuntil(""), "Separator should be at least one-byte string", ValueError);
    CHECK_THROWS_WITH_AS(co_await r.readexactly(-1), "readexactly size can not be less than zero", ValueError);
    r.feed_data("0123456789");  // "ghi0123456789": no separator within the limit
    try {
      co_await r.readuntil("\n");
      FAIL("no overrun");
    } catch (const LimitOverrunError& e) {
      CHECK(std::string(e.what()) == "Separator is not found, and chunk exceed the limit");
      CHECK(e.consumed() == 13);
    }
    CHECK(co_await r.read(3) == "ghi");  // the data stayed buffered
    r.feed_data("\nrest");
    CHECK_THROWS_WITH_AS(co_await r.readline(), "Separator is found, but chunk is longer than limit", ValueError);
    CHECK(co_await r.read(4) == "rest");  // the overlong line was dropped, the stream is usable
    r.feed_data("ab");
    r.feed_eof();
    try {
      co_await r.readexactly(5);
      FAIL("no IncompleteReadError");
    } catch (const IncompleteReadError& e) {
      CHECK(e.partial() == "ab");
      CHECK(e.expected() == 5u);
      CHECK(std::string(e.what()) == "2 bytes read on a total of 5 expected bytes");
    }
    CHECK(r.at_eof());
    CHECK(co_await r.readline() == "");
    CHECK(co_await r.read() == "");

    StreamReader failed;
    failed.feed_data("kept?");
    failed.set_exception(std::make_exception_ptr(ConnectionResetError(ECONNRESET, "Connection reset by peer")));
    CHECK_THROWS_AS(co_await failed.read(10), ConnectionResetError);
  }());
}

TEST_CASE("two readers at once is asyncio's RuntimeError; a cancelled read loses nothing") {
  run([]() -> Coro<void> {
    StreamReader r;
    Task<std::string> first = create_task(r.read(10));
    co_await sleep(0);
    CHECK_THROWS_WITH_AS(co_await r.read(10),
                         "read() called while another coroutine is already waiting for incoming data", RuntimeError);
    first.cancel();
    CHECK_THROWS_AS(co_await first, CancelledError);
    r.feed_data("after the cancel");
    r.feed_eof();
    CHECK(co_await r.read() == "after the cancel");
  }());
}

TEST_CASE("cancelling reads on a socket, again and again, never loses a byte") {
  run([]() -> Coro<void> {
    Server server = co_await start_server(echo, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    std::string sent, got;
    for (int i = 0; i < 200; ++i) {
      const std::string chunk = std::to_string(i) + ",";
      sent += chunk;
      writer.write(chunk);
      // A read that a short timeout cancels, racing the echo.
      try {
        got += co_await wait_for(reader.readexactly(3), 0.0001);
      } catch (const TimeoutError&) {
      }
    }
    writer.write_eof();
    got += co_await reader.read();
    CHECK(got == sent);
    writer.close();
    server.close();
  }());
}

TEST_CASE("a slow reader: the writer's queue stays bounded by the water marks") {
  run([]() -> Coro<void> {
    Event release;
    auto slow = [&release](StreamReader reader, StreamWriter writer) -> Coro<void> {
      co_await release.wait();
      std::string all = co_await reader.read();
      writer.write(std::to_string(all.size()));
      writer.close();
    };
    Server server = co_await start_server(slow, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    Transport t = writer.transport();
    CHECK(t.get_write_buffer_limits() == std::pair<std::size_t, std::size_t>(16 * 1024, 64 * 1024));
    const std::string block(64 * 1024, 'b');
    std::size_t total = 0, max_queued = 0;
    for (int i = 0; i < 100; ++i) {  // 6.4 MB, far more than the socket buffers hold
      writer.write(block);
      total += block.size();
      max_queued = std::max(max_queued, t.get_write_buffer_size());
      CHECK(t.get_write_buffer_size() <= 64 * 1024 + block.size());  // drained before each write
      if (i == 50) release.set();
      co_await writer.drain();
    }
    CHECK(max_queued > 64 * 1024);  // the reader did stall us
    writer.write_eof();
    CHECK(co_await reader.read() == std::to_string(total));
    writer.close();
    co_await writer.wait_closed();
    server.close();
  }());
}

TEST_CASE("server close with clients connected; serve_forever is cancellable; async with") {
  run([]() -> Coro<void> {
    Server server = co_await start_server(echo, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    Task<void> forever = create_task(server.serve_forever());
    co_await sleep(0);
    CHECK_THROWS_WITH_AS(co_await server.serve_forever(),
                         ("server " + server.core().repr() + " is already being awaited on serve_forever()").c_str(),
                         RuntimeError);
    Task<void> waiting = create_task(server.wait_closed());
    co_await sleep(0);  // waiting before close(): 3.11's wait_closed returns at once after it
    server.close();  // ends serve_forever with CancelledError, as asyncio's future is cancelled
    CHECK_THROWS_AS(co_await forever, CancelledError);
    co_await sleep(0.01);
    CHECK_FALSE(waiting.done());  // the accepted connection is still alive
    writer.write("still echoing");
    CHECK(co_await reader.readexactly(13) == "still echoing");
    writer.close();
    co_await waiting;  // now every connection has ended

    int seen = 0;
    Server scoped = co_await start_server(echo, "127.0.0.1", 0);
    co_await scoped.run([&](Server&) -> Coro<void> {
      auto [r, w] = co_await open_connection("127.0.0.1", port_of(scoped));
      w.write("x");
      seen = static_cast<int>((co_await r.read(1)).size());
      w.close();
    });
    CHECK(seen == 1);
    CHECK_FALSE(scoped.is_serving());
    Server failing = co_await start_server(echo, "127.0.0.1", 0);
    CHECK_THROWS_WITH_AS(co_await failing.run([](Server&) -> Coro<void> {
      throw ValueError("from the body");
      co_return;
    }),
                         "from the body", ValueError);  // async with lets the error through
    CHECK_FALSE(failing.is_serving());

    Server cancelled = co_await start_server(echo, "127.0.0.1", 0);
    Task<void> f2 = create_task(cancelled.serve_forever());
    co_await sleep(0);
    f2.cancel();
    CHECK_THROWS_AS(co_await f2, CancelledError);
    CHECK_FALSE(cancelled.is_serving());
  }());
}
