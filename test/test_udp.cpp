// UDP (datagrams.hpp): create_datagram_endpoint, recvfrom/sendto, the
// sock_recvfrom/sock_sendto shapes; loopback only, every loop bounded, every
// socket closed.
#include "test_support.hpp"

#include <asyncuv/datagrams.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;

namespace {

Coro<void> echo(DatagramSocket& server, int count) {
  for (int i = 0; i < count; ++i) {
    auto [data, from] = co_await server.recvfrom();
    co_await server.sendto(data, from);
  }
}

Coro<void> echo_round_trips(std::string host) {
  auto server = co_await create_datagram_endpoint(SocketAddress(host, 0));
  const SocketAddress where = server.local_address();
  CHECK(where.host == host);
  CHECK(where.port != 0);
  auto echoer = create_task(echo(server, 3));
  auto client = co_await create_datagram_endpoint(std::nullopt, where);
  CHECK(client.peer_address() == where);
  for (const std::string& msg : std::vector<std::string>{"one", "", std::string(60000, 'x')}) {
    CHECK(co_await client.send(msg) == msg.size());
    auto [data, from] = co_await timeout(5s, client.recvfrom());
    CHECK(data == msg);
    CHECK(from == where);
  }
  co_await echoer;
  client.close();
  server.close();
}

}  // namespace

TEST_CASE("UDP echo over IPv4 loopback") { run(echo_round_trips("127.0.0.1")); }

TEST_CASE("UDP echo over IPv6 loopback") {
  try {
    run(echo_round_trips("::1"));
  } catch (const OSError& e) {  // a machine without ::1 (EADDRNOTAVAIL)
    MESSAGE("SKIPPED: no IPv6 loopback: " << e.what());
  }
}

TEST_CASE("addresses print as Python's tuples; 'localhost' and '' are understood, names are not looked up") {
  CHECK(SocketAddress{"127.0.0.1", 9999}.repr() == "('127.0.0.1', 9999)");
  CHECK(SocketAddress{"::1", 9999}.repr() == "('::1', 9999, 0, 0)");
  CHECK(SocketAddress(AF_INET6, "fe80::1", 9, 0, 2).repr() == "('fe80::1', 9, 0, 2)");
  CHECK(SocketAddress("::1", 1).family == AF_INET6);
  CHECK(SocketAddress("localhost", 1).family == AF_INET);
  run([]() -> Coro<void> {
    auto a = co_await create_datagram_endpoint(SocketAddress("localhost", 0));
    CHECK(a.local_address().host == "127.0.0.1");
    auto b = co_await create_datagram_endpoint(SocketAddress("", 0));
    CHECK(b.local_address().host == "0.0.0.0");
    CHECK(co_await support::error_of<ValueError>(create_datagram_endpoint(SocketAddress("256.0.0.1", 0))) ==
          "not a numeric address (asyncuv does no name lookup here): '256.0.0.1'");
    CHECK(co_await support::error_of<OSError>([](DatagramSocket& s) -> Coro<SocketAddress> { co_return s.peer_address(); }(a)) ==
          "[Errno 107] Transport endpoint is not connected");
    a.set_broadcast(true);  // allow_broadcast
    auto c = co_await create_datagram_endpoint(SocketAddress("127.0.0.1", 0), std::nullopt, {.allow_broadcast = true});
    CHECK(c.local_address().port != 0);
  }());
}

TEST_CASE("sock_recvfrom truncates to bufsize; sock_sendto returns the bytes sent") {
  run([]() -> Coro<void> {
    auto& loop = get_running_loop();
    static_cast<void>(loop);
    DatagramSocket server;
    server.bind({"127.0.0.1", 0});
    DatagramSocket client;
    CHECK(co_await sock_sendto(client, "0123456789", server.local_address()) == 10);
    auto [data, from] = co_await timeout(5s, sock_recvfrom(server, 4));
    CHECK(data == "0123");
    CHECK(from.port == client.local_address().port);  // the first send bound the client (to 0.0.0.0)
  }());
}

TEST_CASE("a datagram too big for the protocol is OSError EMSGSIZE, and the socket goes on") {
  run([]() -> Coro<void> {
    DatagramSocket server;
    server.bind({"127.0.0.1", 0});
    DatagramSocket client;
    const std::string big(65508, 'b');  // IPv4's largest payload is 65507
    CHECK(co_await support::error_of<OSError>([](DatagramSocket& c, const std::string& d, SocketAddress to) -> Coro<std::size_t> {
            co_return co_await c.sendto(d, to);
          }(client, big, server.local_address())) == "[Errno 90] Message too long");
    const std::string largest(65507, 'l');
    CHECK(co_await client.sendto(largest, server.local_address()) == largest.size());
    auto d = co_await timeout(5s, server.recvfrom());
    CHECK(d.data == largest);
  }());
}

TEST_CASE("a connected socket whose peer has no listener: ConnectionRefusedError from the next recvfrom") {
  run([]() -> Coro<void> {
    SocketAddress closed_port;
    {
      DatagramSocket gone;
      gone.bind({"127.0.0.1", 0});
      closed_port = gone.local_address();
    }
    auto client = co_await create_datagram_endpoint(std::nullopt, closed_port);
    co_await client.send("anyone?");
    std::string error;
    try {
      co_await timeout(5s, client.recvfrom());
    } catch (const ConnectionRefusedError& e) {
      error = e.what();
    }
    CHECK(error == "[Errno 111] Connection refused");
  }());
}

TEST_CASE("a recvfrom cancelled while waiting loses nothing") {
  run([]() -> Coro<void> {
    DatagramSocket server;
    server.bind({"127.0.0.1", 0});
    auto waiting = create_task([](DatagramSocket& s) -> Coro<std::string> { co_return (co_await s.recvfrom()).data; }(server));
    co_await sleep(0.001);
    waiting.cancel();
    co_await sleep(0);
    CHECK(waiting.cancelled());
    DatagramSocket client;
    co_await client.sendto("kept", server.local_address());
    auto d = co_await timeout(5s, server.recvfrom());
    CHECK(d.data == "kept");
  }());
}

TEST_CASE("a recvfrom woken for a datagram but cancelled before it ran hands the datagram to the next") {
  run([]() -> Coro<void> {
    DatagramSocket server;
    server.bind({"127.0.0.1", 0});
    auto recv = [](DatagramSocket& s) -> Coro<std::string> { co_return (co_await s.recvfrom()).data; };
    auto first = create_task(recv(server));
    auto second = create_task(recv(server));
    co_await sleep(0.001);  // both wait now
    DatagramSocket client;
    co_await client.sendto("only one", server.local_address());  // on loopback it is queued by now
    // The poll that reads it wakes `first` behind us (we are queued already),
    // so we see it queued before `first` runs.
    for (int i = 0; i < 100000 && server.queued() == 0 && !first.done(); ++i) co_await sleep(0);
    REQUIRE(server.queued() == 1);
    CHECK_FALSE(first.done());
    first.cancel();
    CHECK(co_await timeout(5s, second) == "only one");
    co_await sleep(0);
    CHECK(first.cancelled());
    CHECK(server.queued() == 0);
  }());
}

TEST_CASE("closing a socket ends a pending recvfrom with EBADF; a socket outliving run() is closed by the loop") {
  DatagramSocket* outliving = nullptr;
  std::unique_ptr<DatagramSocket> keep;
  run([](std::unique_ptr<DatagramSocket>& keep, DatagramSocket*& outliving) -> Coro<void> {
    DatagramSocket s;
    s.bind({"127.0.0.1", 0});
    auto waiting = create_task(support::error_of<OSError>(s.recvfrom()));
    co_await sleep(0.001);
    s.close();
    CHECK(co_await waiting == "[Errno 9] Bad file descriptor");
    CHECK(co_await support::error_of<OSError>(s.recvfrom()) == "[Errno 9] Bad file descriptor");
    CHECK(co_await support::error_of<OSError>([](DatagramSocket& s) -> Coro<std::size_t> {
            co_return co_await s.sendto("x", {"127.0.0.1", 9});
          }(s)) == "[Errno 9] Bad file descriptor");
    keep = std::make_unique<DatagramSocket>();
    keep->bind({"127.0.0.1", 0});
    outliving = keep.get();
    // A task still waiting at shutdown is cancelled; run() does not hang.
    create_task([](DatagramSocket& k) -> Coro<void> { co_await k.recvfrom(); }(*keep));
  }(keep, outliving));
  REQUIRE(outliving);
  CHECK(outliving->is_closing());  // the loop closed its handle
  keep.reset();
}

TEST_CASE("a socket destroyed while tasks wait on it (one of them already woken for a datagram): they get EBADF") {
  run([]() -> Coro<void> {
    auto server = std::make_unique<DatagramSocket>();
    server->bind({"127.0.0.1", 0});
    auto woken = create_task(support::error_of<OSError>(server->recvfrom()));
    auto waiting = create_task(support::error_of<OSError>(server->recvfrom()));
    co_await sleep(0.001);
    DatagramSocket client;
    co_await client.sendto("dropped with the socket", server->local_address());
    for (int i = 0; i < 100000 && server->queued() == 0 && !woken.done(); ++i) co_await sleep(0);
    REQUIRE(server->queued() == 1);
    REQUIRE_FALSE(woken.done());
    server.reset();  // ASan: neither task touches the socket after this
    CHECK(co_await woken == "[Errno 9] Bad file descriptor");
    CHECK(co_await waiting == "[Errno 9] Bad file descriptor");
  }());
}

TEST_CASE("many datagrams with nobody reading: the queue stays bounded, order is kept, every loss is counted") {
  constexpr int sent = 2000;
  int received = 0, out_of_order = 0;
  std::size_t most_queued = 0;
  run([](int& received, int& out_of_order, std::size_t& most_queued) -> Coro<void> {
    auto server = co_await create_datagram_endpoint(SocketAddress("127.0.0.1", 0), std::nullopt, {.max_queued = 8});
    DatagramSocket client;
    for (int i = 0; i < sent; ++i) {
      co_await client.sendto(std::to_string(i) + std::string(1000, '.'), server.local_address());
      if (i % 100 == 0) co_await sleep(0);  // the server's socket reads meanwhile
      most_queued = std::max(most_queued, server.queued());
    }
    int last = -1;
    for (;;) {
      std::optional<Datagram> d;
      try {
        d = co_await timeout(0.2, server.recvfrom());
      } catch (const TimeoutError&) {
        break;  // nothing more came
      }
      const int n = std::stoi(d->data);
      if (n <= last) ++out_of_order;
      last = n;
      ++received;
      most_queued = std::max(most_queued, server.queued());
    }
  }(received, out_of_order, most_queued));
  MESSAGE("udp bounded queue: sent " << sent << ", received " << received << ", lost " << sent - received
                                     << ", most queued " << most_queued);
  CHECK(received >= 8);
  CHECK(received <= sent);
  CHECK(out_of_order == 0);
  CHECK(most_queued <= 8);
}

TEST_CASE("a DatagramSocket moved before its recvfrom starts, or while it waits, still delivers") {
  run([]() -> Coro<void> {
    DatagramSocket server;
    server.bind({"127.0.0.1", 0});
    auto lazy = server.recvfrom();  // not started yet
    auto waiting = create_task(server.recvfrom());
    co_await sleep(0.001);
    DatagramSocket moved = std::move(server);
    DatagramSocket client;
    co_await client.sendto("a", moved.local_address());
    co_await client.sendto("b", moved.local_address());
    CHECK((co_await timeout(5s, waiting)).data == "a");
    CHECK((co_await timeout(5s, std::move(lazy))).data == "b");
  }());
}

TEST_CASE("several datagrams queued before anyone reads come out in order") {
  run([]() -> Coro<void> {
    DatagramSocket server;
    server.bind({"127.0.0.1", 0});
    DatagramSocket client;
    for (int i = 0; i < 5; ++i) co_await client.sendto(std::to_string(i), server.local_address());
    for (int i = 0; i < 200 && server.queued() < 5; ++i) co_await sleep(0.001);
    for (int i = 0; i < 5; ++i) CHECK((co_await server.recvfrom()).data == std::to_string(i));
  }());
}
