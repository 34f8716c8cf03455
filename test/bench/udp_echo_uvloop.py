# udp_echo_uvloop.py — uvloop's (or asyncio's) UDP echo server for the
# ping-pong benchmark, on the DatagramProtocol API (the fastest Python way).
#   python3 udp_echo_uvloop.py PORT [uvloop|asyncio]
# Prints "listening udp PORT"; stops on SIGTERM.
import asyncio
import signal
import sys


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


async def main(port):
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", port))
    print("listening udp %d" % transport.get_extra_info("sockname")[1], flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    transport.close()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if len(sys.argv) > 2 and sys.argv[2] == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(port))
