// tcp_echo.cpp — the asyncio documentation's "TCP echo client" and "TCP echo
// server using streams" examples, ported line by line (Python in comments).
#include <asyncuv/asyncuv.hpp>

#include "demo.hpp"

namespace demo::tcp_echo_programs {

using namespace asyncuv;

// async def tcp_echo_client(message):
//     reader, writer = await asyncio.open_connection(
//         '127.0.0.1', 8888)
//
//     print(f'Send: {message!r}')
//     writer.write(message.encode())
//     await writer.drain()
//
//     data = await reader.read(100)
//     print(f'Received: {data.decode()!r}')
//
//     print('Close the connection')
//     writer.close()
//     await writer.wait_closed()
//
// asyncio.run(tcp_echo_client('Hello World!'))
Coro<> tcp_echo_client(std::string message) {
  auto [reader, writer] = co_await open_connection("127.0.0.1", port);

  print("Send: " + py_repr(message));
  writer.write(message);
  co_await writer.drain();

  std::string data = co_await reader.read(100);
  print("Received: " + py_repr(data));

  print("Close the connection");
  writer.close();
  co_await writer.wait_closed();
}

// async def handle_echo(reader, writer):
//     data = await reader.read(100)
//     message = data.decode()
//     addr = writer.get_extra_info('peername')
//
//     print(f"Received {message!r} from {addr!r}")
//
//     print(f"Send: {message!r}")
//     writer.write(data)
//     await writer.drain()
//
//     print("Close the connection")
//     writer.close()
//     await writer.wait_closed()
Coro<> handle_echo(StreamReader reader, StreamWriter writer) {
  std::string data = co_await reader.read(100);
  const std::string& message = data;
  auto addr = std::any_cast<SocketAddress>(writer.get_extra_info("peername"));

  print("Received " + py_repr(message) + " from " + addr.repr());

  print("Send: " + py_repr(message));
  writer.write(data);
  co_await writer.drain();

  print("Close the connection");
  writer.close();
  co_await writer.wait_closed();
}

// async def main():
//     server = await asyncio.start_server(
//         handle_echo, '127.0.0.1', 8888)
//
//     addrs = ', '.join(str(sock.getsockname()) for sock in server.sockets)
//     print(f'Serving on {addrs}')
//
//     async with server:
//         await server.serve_forever()
//
// asyncio.run(main())
Coro<> main() {
  Server server = co_await start_server(handle_echo, "127.0.0.1", port);

  std::string addrs;
  for (const SocketAddress& sock : server.sockets()) addrs += (addrs.empty() ? "" : ", ") + sock.repr();
  print("Serving on " + addrs);
  std::fflush(stdout);  // a tool waiting for this line sees it now

  co_await server.run(server.serve_forever());
}

}  // namespace demo::tcp_echo_programs

void demo::run_tcp_echo_client() { asyncuv::run(tcp_echo_programs::tcp_echo_client("Hello World!")); }
void demo::run_tcp_echo_server() { asyncuv::run(tcp_echo_programs::main()); }
