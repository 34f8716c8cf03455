// udp_echo_asyncuv.cpp — asyncuv's UDP echo server for the ping-pong
// benchmark: the Python program below, line for line. Prints
// "listening udp PORT"; stops on SIGTERM (loop.add_signal_handler).
//
//   async def main(port):
//       loop = asyncio.get_running_loop()
//       sock = ...bound to ('127.0.0.1', port)
//       loop.add_signal_handler(signal.SIGTERM, sock.close)
//       while True:
//           data, addr = await loop.sock_recvfrom(sock, 65536)
//           await loop.sock_sendto(sock, data, addr)
#include <asyncuv/asyncuv.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>

using namespace asyncuv;

Coro<void> serve(std::uint16_t port) {
  auto sock = co_await create_datagram_endpoint(SocketAddress("127.0.0.1", port));
  get_running_loop().add_signal_handler(SIGTERM, [&sock] { sock.close(); });
  std::printf("listening udp %u\n", static_cast<unsigned>(sock.local_address().port));
  std::fflush(stdout);
  try {
    for (;;) {
      auto [data, addr] = co_await sock.recvfrom();
      co_await sock.sendto(std::move(data), std::move(addr));
    }
  } catch (const OSError&) {  // closed by SIGTERM: EBADF
  }
}

int main(int argc, char** argv) { run(serve(static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0))); }
