#!/usr/bin/env bash
# udp_pingpong.sh — UDP ping-pong on loopback: asyncuv's echo server against
# raw libuv's and uvloop's / asyncio's DatagramProtocol, one load generator.
#
#   bash test/bench/udp_pingpong.sh [SIZE] [CLIENTS] [SECONDS] [RUNS]
#
# Defaults: 64 bytes, 10 clients, 2 s, 3 rounds (servers interleaved within a
# round). asyncuv's server comes from a release build ($ASYNCUV_BUILD,
# default build/release: configured and built here if missing). Each line is
# the client's; the summary gives medians of srv_cpu_us (server CPU per
# datagram round trip) and their ratio to raw libuv's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
size=${1:-64} clients=${2:-10} seconds=${3:-2} runs=${4:-3}
build=${ASYNCUV_BUILD:-$root/build/release}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cc -O2 -o "$work/client" "$here/udp_pingpong_client.c"
cc -O2 -o "$work/raw" "$here/udp_echo_raw.c" $(pkg-config --cflags --libs libuv)
if [ ! -d "$build" ]; then
  meson setup "$build" --wrap-mode=nodownload --buildtype=release -Dcpp_args=-O3 >/dev/null
fi
ninja -C "$build" test/bench/udp-echo-asyncuv >/dev/null

servers=(libuv asyncuv asyncio-protocol)
/usr/bin/python3 -c "import uvloop" 2>/dev/null && servers+=(uvloop-protocol)

command_of() {
  case $1 in
    libuv) echo "$work/raw 0" ;;
    asyncuv) echo "$build/test/bench/udp-echo-asyncuv 0" ;;
    uvloop-protocol) echo "/usr/bin/python3 $here/udp_echo_uvloop.py 0 uvloop" ;;
    asyncio-protocol) echo "/usr/bin/python3 $here/udp_echo_uvloop.py 0 asyncio" ;;
  esac
}

run_one() {  # SERVER -> the client's line
  local fifo="$work/out.$1" pid port line
  $(command_of "$1") >"$fifo" &
  pid=$!
  for _ in $(seq 100); do
    line=$(head -n1 "$fifo" 2>/dev/null || true)
    [ -n "$line" ] && break
    sleep 0.05
  done
  port=${line##* }
  if [ -z "$port" ]; then kill "$pid" 2>/dev/null; echo "peer=$1 failed to start" >&2; return 1; fi
  timeout 60 "$work/client" "$1" "$port" "$size" "$clients" "$seconds" "$pid" || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

results="$work/results"
for r in $(seq "$runs"); do
  for s in "${servers[@]}"; do run_one "$s" | tee -a "$results"; done
done

echo
echo "| server | srv_cpu_us per round trip (median of $runs) | × raw libuv | req/s (median) | p50 µs | lost |"
echo "|---|---:|---:|---:|---:|---:|"
# shellcheck source=results.sh
. "$here/results.sh"
base=$(field libuv srv_cpu_us | median)
for s in "${servers[@]}"; do
  cpu=$(field "$s" srv_cpu_us | median)
  printf '| %s | %s | %.2f | %s | %s | %s |\n' "$s" "$cpu" "$(echo "$cpu / $base" | bc -l)" \
    "$(field "$s" req_per_s | median)" "$(field "$s" p50_us | median)" "$(field "$s" lost | paste -sd+ | bc)"
done
