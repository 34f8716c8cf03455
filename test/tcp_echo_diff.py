#!/usr/bin/env python3
# tcp_echo_diff.py — asyncuv-demo's tcp_echo_server / tcp_echo_client against
# the asyncio documentation's originals (test/fixtures/tcp_echo_*.py) under
# CPython: every server with every client, over 127.0.0.1 only. The servers
# listen on a port the kernel picks; the clients' stdout must be identical,
# and so must the servers' once the client's ephemeral port is written PORT.
# Each server is stopped with SIGINT (Ctrl-C), which both must survive the
# asyncio way: the process ends by SIGINT after a KeyboardInterrupt.
# Usage: python3 tcp_echo_diff.py <path-to-asyncuv-demo>
import re
import signal
import subprocess
import sys
from pathlib import Path

from checks import check, summary

DEMO = sys.argv[1] if len(sys.argv) == 2 else sys.exit("usage: tcp_echo_diff.py <path-to-asyncuv-demo>")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PYTHON = "/usr/bin/python3"  # the oracle: CPython 3.11


def server_cmd(kind):
    if kind == "asyncuv":
        return [DEMO, "tcp_echo_server", "--port", "0"]
    return [PYTHON, str(FIXTURES / "tcp_echo_server.py"), "0"]


def client_cmd(kind, port):
    if kind == "asyncuv":
        return [DEMO, "tcp_echo_client", "--port", str(port)]
    return [PYTHON, str(FIXTURES / "tcp_echo_client.py"), str(port)]


def session(server, client):
    """Runs one client against one server; (server stdout, client stdout, server status)."""
    # SIGINT at its default disposition, whatever this script inherited (a
    # background job's is ignored): both servers then take Ctrl-C.
    srv = subprocess.Popen(server_cmd(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = srv.stdout.readline().decode()
        m = re.fullmatch(r"Serving on \('127\.0\.0\.1', (\d+)\)\n", first)
        if not m:
            return first, "", None
        port = int(m.group(1))
        cli = subprocess.run(client_cmd(client, port), capture_output=True, timeout=60)
        srv.send_signal(signal.SIGINT)
        rest, _ = srv.communicate(timeout=60)
        text = (first.replace(str(port), "SERVERPORT") + rest.decode())
        return re.sub(r"'127\.0\.0\.1', \d+\)", "'127.0.0.1', PORT)", text), cli.stdout.decode(), srv.returncode
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


results = {}
for server in ("python", "asyncuv"):
    for client in ("python", "asyncuv"):
        results[server, client] = session(server, client)

expected_client = "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n"
for (server, client), (srv_out, cli_out, status) in results.items():
    check(cli_out == expected_client, f"{client} client against {server} server", repr(cli_out))
    check(status == -signal.SIGINT, f"{server} server ends by SIGINT after Ctrl-C", f"status {status}")
for client in ("python", "asyncuv"):
    py, cpp = results["python", client][0], results["asyncuv", client][0]
    check(py == cpp, f"server output with the {client} client", f"\n{py}\n---\n{cpp}")
    check("Received 'Hello World!' from ('127.0.0.1', PORT)" in cpp, f"asyncuv server saw the {client} client", cpp)
for server in ("python", "asyncuv"):
    check(results[server, "python"][1] == results[server, "asyncuv"][1], f"clients agree against the {server} server")

summary("tcp_echo_diff")
