// Streams under load and abuse (issue 11, reliability): a thousand
// concurrent checksummed echo streams through one server, abrupt
// disconnects, peer resets, half-close, a slow reader, oversized lines,
// refused connects, 10^4 connect/close cycles, cancellation at every await,
// and run() returning with everything still open. Loopback only (127.0.0.1,
// ::1, Unix sockets; the one name resolved is "localhost"); every loop is
// bounded in count and in time; after each case the process's fd count and
// the loop's open handles are back to where they started.
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

namespace {

// ---- measuring ----

// Open file descriptors of this process (not counting the one reading the list).
int fd_count() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;
}

// The fd count a test starts from, once the loop has made its first stream
// handle: libuv then reserves a spare fd (for EMFILE) that stays until the
// loop closes.
Coro<int> fds_at_start() {
  const std::string path = "/tmp/asyncuv-stress-" + std::to_string(::getpid()) + "-warm.sock";
  Server warm = co_await start_unix_server([](StreamReader, StreamWriter) {}, path);
  warm.close();
  ::unlink(path.c_str());
  co_return fd_count();
}

// The fd count outside run(), once a first loop has run: libuv's first loop
// creates a process-wide pipe (its signal lock) that stays.
int fds_between_runs() {
  run([]() -> Coro<void> { co_return; }());
  return fd_count();
}

// The loop's libuv handles not closed nor closing: listeners, connections,
// and the loop's own (a fixed number while it runs).
std::size_t open_handles() {
  std::size_t open = 0;
  uv_walk(
      get_running_loop().uv_loop(),
      [](uv_handle_t* h, void* count) {
        if (!uv_is_closing(h)) ++*static_cast<std::size_t*>(count);
      },
      &open);
  return open;
}

// Bytes in use on glibc's heap (0 under the sanitizers' allocators).
std::size_t heap_in_use() {
  if constexpr (sanitized_build) return 0;
  return mallinfo2().uordblks;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Raises the soft fd limit towards the hard one; true if `want` fds fit.
bool fd_limit_at_least(rlim_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur >= want) return true;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? want : std::min(lim.rlim_max, std::max(want, lim.rlim_cur));
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur >= want;
}

constexpr int scaled(int native, int sanitized) { return sanitized_build ? sanitized : native; }

// ---- deterministic byte streams ----

// splitmix64 as a byte source: sender and checker regenerate the same bytes
// from a seed, so no stream is held in memory whole.
class ByteGen {
public:
  explicit ByteGen(std::uint64_t seed) noexcept : s_(seed) {}
  char next() noexcept {
    if (left_ == 0) {
      word_ = next64();
      left_ = 8;
    }
    --left_;
    return static_cast<char>(static_cast<unsigned char>(word_ >> (8 * left_)));
  }
  std::string take(std::size_t n) {
    std::string out(n, '\0');
    for (char& c : out) c = next();
    return out;
  }
  std::uint64_t next64() noexcept {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

private:
  std::uint64_t s_;
  std::uint64_t word_ = 0;
  int left_ = 0;
};

// FNV-1a over a stream, and its length.
struct Checksum {
  std::uint64_t sum = 0xcbf29ce484222325ULL;
  std::uint64_t bytes = 0;
  void add(std::string_view data) noexcept {
    for (const char c : data) sum = (sum ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    bytes += data.size();
  }
  bool operator==(const Checksum&) const = default;
};

std::string unix_path(const char* tag) {
  return "/tmp/asyncuv-stress-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

int port_of(const Server& s) { return s.sockets().at(0).port; }

// A TCP connection to 127.0.0.1:port, or a Unix one to path. (One co_await:
// g++ 12 destroys the result of `c ? co_await a : co_await b` twice.)
Coro<std::pair<StreamReader, StreamWriter>> connect_to(bool tcp, int port, std::string path) {
  if (tcp) co_return co_await open_connection("127.0.0.1", port);
  co_return co_await open_unix_connection(std::move(path));
}

std::string text_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return "CancelledError";
  } catch (const TimeoutError&) {
    return "TimeoutError";
  } catch (const ConnectionResetError& x) {
    return std::string("ConnectionResetError ") + x.what();
  } catch (const BrokenPipeError& x) {
    return std::string("BrokenPipeError ") + x.what();
  } catch (const IncompleteReadError& x) {
    return "IncompleteReadError " + std::to_string(x.partial().size());
  } catch (const std::exception& x) {
    return std::string("error ") + x.what();
  }
}

// How an awaitable ended: "ok" or text_of its exception.
template <class T>
Coro<std::string> ended(Coro<T> c) {
  try {
    co_await std::move(c);
    co_return "ok";
  } catch (...) {
    co_return text_of(std::current_exception());
  }
}
template <class T>
Coro<std::string> ended(Task<T> t) {
  try {
    co_await t;
    co_return "ok";
  } catch (...) {
    co_return text_of(std::current_exception());
  }
}

// Marks a handler task as running in `live` until its frame goes, however
// it ends: a test waits for its handlers before its state goes away.
class LiveGuard {
public:
  explicit LiveGuard(int* live) noexcept : live_(live) { ++*live_; }
  LiveGuard(const LiveGuard&) = delete;
  ~LiveGuard() { --*live_; }

private:
  int* live_;
};

// What a test's server handlers share with the test: it outlives them.
struct Handlers {
  int live = 0;
  int finished = 0;
  std::vector<std::string> outcomes;  // how each handler ended
  std::vector<AnyTask> tasks;
};

// Waits (bounded) until every handler task of `h` has ended.
Coro<void> handlers_done(Handlers& h, double limit = 30.0) {
  const bool done = co_await wait_until([&] { return h.live == 0; }, limit);
  CHECK_MESSAGE(done, h.live << " handler(s) still running");
}

// Echoes until EOF, then closes; an error ends it, noted in outcomes.
Coro<void> echo_handler(StreamReader reader, StreamWriter writer, Handlers* h) {
  LiveGuard live(&h->live);
  try {
    for (;;) {
      std::string data = co_await reader.read(64 * 1024);
      if (data.empty()) break;
      writer.write(data);
      co_await writer.drain();
    }
    writer.close();
    co_await writer.wait_closed();
    h->outcomes.push_back("ok");
  } catch (const std::exception&) {
    h->outcomes.push_back(text_of(std::current_exception()));
  }
  ++h->finished;
}

// The callback start_server takes. Not a coroutine lambda: the handler's
// frame must not point into a closure the server owns and may free first.
auto echo_with(Handlers* h) {
  return [h](StreamReader r, StreamWriter w) { return echo_handler(std::move(r), std::move(w), h); };
}

// ---- clients ----

struct Tally {
  int ok = 0;
  std::vector<std::string> failures;
  Checksum sent_total;
};

// Writes `total` bytes of the seed's stream in random chunk sizes, draining
// after each, then write_eof(); returns what it sent.
Coro<Checksum> send_stream(StreamWriter writer, std::uint64_t seed, std::size_t total) {
  ByteGen gen(seed);
  std::mt19937 sizes(static_cast<std::uint32_t>(seed));
  Checksum sent;
  while (sent.bytes < total) {
    const std::size_t n = std::min<std::size_t>(total - sent.bytes, 1 + sizes() % (16 * 1024));
    const std::string chunk = gen.take(n);
    writer.write(chunk);
    sent.add(chunk);
    co_await writer.drain();
  }
  writer.write_eof();
  co_return sent;
}

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

// Shrinks a socket buffer (SO_SNDBUF / SO_RCVBUF): loopback's autotuned
// buffers (tcp_rmem up to 32 MiB) would otherwise absorb whole test streams.
void set_socket_buffer(const StreamWriter& w, int option, int bytes) {
  const int fd = std::any_cast<int>(w.get_extra_info("socket"));
  REQUIRE(::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes) == 0);
}

// SO_LINGER {1, 0}: closing sends RST, not FIN.
void set_linger_zero(const StreamWriter& w) {
  const int fd = std::any_cast<int>(w.get_extra_info("socket"));
  const linger l{1, 0};
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
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
