// What the stream stress suites share: fd and handle counts, deterministic
// checksummed byte streams, and echo servers whose handlers the tests wait for.
#pragma once

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

namespace streams_stress_support {

using namespace asyncuv;
using namespace std::chrono_literals;
using support::sanitized_build;
using support::wait_until;

// ---- measuring ----

// Open file descriptors of this process (not counting the one reading the list).
inline int fd_count() {
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
inline Coro<int> fds_at_start() {
  const std::string path = "/tmp/asyncuv-stress-" + std::to_string(::getpid()) + "-warm.sock";
  Server warm = co_await start_unix_server([](StreamReader, StreamWriter) {}, path);
  warm.close();
  ::unlink(path.c_str());
  co_return fd_count();
}

// The fd count outside run(), once a first loop has run: libuv's first loop
// creates a process-wide pipe (its signal lock) that stays.
inline int fds_between_runs() {
  run([]() -> Coro<void> { co_return; }());
  return fd_count();
}

// The loop's libuv handles not closed nor closing: listeners, connections,
// and the loop's own (a fixed number while it runs).
inline std::size_t open_handles() {
  std::size_t open = 0;
  uv_walk(
      get_running_loop().uv_loop(),
      [](uv_handle_t* h, void* count) {
        if (!uv_is_closing(h)) ++*static_cast<std::size_t*>(count);
      },
      &open);
  return open;
}

inline double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

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

inline std::string unix_path(const char* tag) {
  return "/tmp/asyncuv-stress-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

inline int port_of(const Server& s) { return s.sockets().at(0).port; }

// A TCP connection to 127.0.0.1:port, or a Unix one to path. (One co_await:
// g++ 12 destroys the result of `c ? co_await a : co_await b` twice.)
inline Coro<std::pair<StreamReader, StreamWriter>> connect_to(bool tcp, int port, std::string path) {
  if (tcp) co_return co_await open_connection("127.0.0.1", port);
  co_return co_await open_unix_connection(std::move(path));
}

inline std::string text_of(const std::exception_ptr& e) {
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
inline Coro<void> handlers_done(Handlers& h, double limit = 30.0) {
  const bool done = co_await wait_until([&] { return h.live == 0; }, limit);
  CHECK_MESSAGE(done, h.live << " handler(s) still running");
}

// Echoes until EOF, then closes; an error ends it, noted in outcomes.
inline Coro<void> echo_handler(StreamReader reader, StreamWriter writer, Handlers* h) {
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
inline auto echo_with(Handlers* h) {
  return [h](StreamReader r, StreamWriter w) { return echo_handler(std::move(r), std::move(w), h); };
}

// ---- clients ----

// Writes `total` bytes of the seed's stream in random chunk sizes, draining
// after each, then write_eof(); returns what it sent.
inline Coro<Checksum> send_stream(StreamWriter writer, std::uint64_t seed, std::size_t total) {
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

// SO_LINGER {1, 0}: closing sends RST, not FIN.
inline void set_linger_zero(const StreamWriter& w) {
  const int fd = std::any_cast<int>(w.get_extra_info("socket"));
  const linger l{1, 0};
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
}

}  // namespace streams_stress_support
