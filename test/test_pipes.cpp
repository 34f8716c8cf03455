// connect_read_pipe / connect_write_pipe (pipes.hpp): a StreamReader or
// StreamWriter over an fd; the caller's fd stays open.
#include "test_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <string>

using namespace asyncuv;
using namespace std::chrono_literals;

namespace {

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace

TEST_CASE("a pipe pair: write with a StreamWriter, read with a StreamReader, EOF when the writer closes") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  run([&]() -> Coro<void> {
    auto reader = co_await connect_read_pipe(fds[0]);
    auto writer = co_await connect_write_pipe(fds[1]);
    ::close(fds[1]);  // the writer has its own copy
    writer.write("first line\nsecond ");
    co_await writer.drain();
    CHECK(co_await timeout(5s, reader.readline()) == "first line\n");
    writer.write(std::string(1 << 20, 'p'));
    auto drained = create_task(writer.drain());
    std::string got = co_await timeout(10s, reader.readexactly(7 + (1 << 20)));
    CHECK(got.substr(0, 7) == "second ");
    CHECK(got.size() == 7 + (1 << 20));
    co_await timeout(5s, drained);
    writer.close();
    co_await timeout(5s, writer.wait_closed());
    CHECK(co_await timeout(5s, reader.read()) == "");
    CHECK(reader.at_eof());
  }());
  CHECK(fd_open(fds[0]));  // ours: the stream closed its duplicate only
  ::close(fds[0]);
}

TEST_CASE("a write pipe whose reader went: drain raises BrokenPipeError") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  run([&]() -> Coro<void> {
    auto writer = co_await connect_write_pipe(fds[1]);
    ::close(fds[0]);
    std::string error = "no error";
    try {
      for (int i = 0; i < 100; ++i) {
        writer.write(std::string(65536, 'w'));
        co_await timeout(5s, writer.drain());
      }
    } catch (const BrokenPipeError& e) {
      error = e.what();
    }
    CHECK(error == "[Errno 32] Broken pipe");
  }());
  CHECK(fd_open(fds[1]));
  ::close(fds[1]);
}

TEST_CASE("a regular file is refused with asyncio's ValueError") {
  const int fd = ::open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  run([fd]() -> Coro<void> {
    std::string error;
    try {
      co_await connect_read_pipe(fd);
    } catch (const ValueError& e) {
      error = e.what();
    }
    CHECK(error == "Pipe transport is for pipes/sockets/character devices only.");
  }());
  ::close(fd);
}

TEST_CASE("reading stdin asynchronously: connect_read_pipe(0) leaves fd 0 open") {
  // fd 0 is a pipe for the length of the test, as for `producer | program`.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved_stdin = ::dup(0);
  REQUIRE(::dup2(fds[0], 0) == 0);
  ::close(fds[0]);
  run([&]() -> Coro<void> {
    auto stdin_reader = co_await connect_read_pipe(0);
    CHECK(::write(fds[1], "a\nb\n", 4) == 4);
    ::close(fds[1]);
    CHECK(co_await timeout(5s, stdin_reader.readline()) == "a\n");
    CHECK(co_await timeout(5s, stdin_reader.readline()) == "b\n");
    CHECK(co_await timeout(5s, stdin_reader.readline()) == "");
  }());
  CHECK(fd_open(0));
  ::dup2(saved_stdin, 0);
  ::close(saved_stdin);
}

TEST_CASE("a cancelled read on a pipe loses nothing; closing the reader while a read waits") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  run([&]() -> Coro<void> {
    auto reader = co_await connect_read_pipe(fds[0]);
    auto pending = create_task(reader.readline());
    co_await sleep(0.01);
    pending.cancel();
    co_await sleep(0.01);
    CHECK(pending.cancelled());
    CHECK(::write(fds[1], "kept\n", 5) == 5);
    CHECK(co_await timeout(5s, reader.readline()) == "kept\n");
  }());
  ::close(fds[0]);
  ::close(fds[1]);
}
