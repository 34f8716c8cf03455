#!/usr/bin/env bash
# valgrind_echo.sh DEMO — the demo's TCP echo pair under valgrind: the server
# (stopped by Ctrl-C, i.e. SIGINT) and the client must both report no error
# and no leak. Over 127.0.0.1 only; the server gets a port from the kernel.
set -u
demo=$1
dir=$(mktemp -d)
trap 'kill -9 $srv 2>/dev/null; rm -rf "$dir"' EXIT
vg=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1)
# SIGINT at its default disposition even when this script runs in the
# background (where it is ignored), so that Ctrl-C reaches the server.
# The server ends by SIGINT (as CPython after KeyboardInterrupt), so no
# thread-exit destructor runs: the per-thread error objects it keeps (one
# CancelledError, one bad_alloc) are then "possibly lost"; only definite and
# indirect leaks count for it.
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  "${vg[@]}" --errors-for-leak-kinds=definite,indirect --log-file="$dir/server.log" "$demo" tcp_echo_server --port 0 >"$dir/server.out" 2>"$dir/server.err" &
srv=$!
for _ in $(seq 300); do grep -q "Serving on" "$dir/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n "s/^Serving on ('127.0.0.1', \([0-9]*\))$/\1/p" "$dir/server.out")
[ -n "$port" ] || { echo "server did not start"; cat "$dir/server.log"; exit 1; }
"${vg[@]}" --log-file="$dir/client.log" "$demo" tcp_echo_client --port "$port" >"$dir/client.out"
client=$?
kill -INT $srv
wait $srv
ok=1
[ $client -eq 0 ] || { echo "client: exit $client"; cat "$dir/client.log"; ok=0; }
grep -q "Received: 'Hello World!'" "$dir/client.out" || { echo "client output:"; cat "$dir/client.out"; ok=0; }
grep -q "ERROR SUMMARY: 0 errors" "$dir/server.log" || { echo "server:"; cat "$dir/server.log"; ok=0; }
grep -q "Received 'Hello World!'" "$dir/server.out" || { echo "server output:"; cat "$dir/server.out"; ok=0; }
[ $ok -eq 1 ]
