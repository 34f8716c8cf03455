#!/usr/bin/env bash
# spawn_rate.sh — process spawn rate: create_subprocess_exec("true") + wait()
# N times in sequence, asyncuv against raw libuv (uv_spawn), asyncio, uvloop
# and Node's child_process, each child's stdio inherited (/dev/null).
#
#   bash test/bench/spawn_rate.sh [N] [RUNS]
#
# Defaults: N = 1000, 5 rounds (peers interleaved within a round). asyncuv
# comes from a release build ($ASYNCUV_BUILD, default build/release:
# configured and built here if missing). The summary gives the medians of
# spawns per second and of the parent's CPU time per spawn + wait (user +
# system, the child's excluded: steadier than the rate on a busy machine,
# where the rate mostly measures fork/exec and the scheduler), and their
# ratios to raw libuv's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-1000} runs=${2:-5}
build=${ASYNCUV_BUILD:-$root/build/release}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cc -O2 -o "$work/raw" "$here/spawn_raw.c" $(pkg-config --cflags --libs libuv)
if [ ! -d "$build" ]; then
  meson setup "$build" --wrap-mode=nodownload --buildtype=release -Dcpp_args=-O3 >/dev/null
fi
ninja -C "$build" test/bench/spawn-asyncuv >/dev/null

peers=(libuv asyncuv asyncio)
/usr/bin/python3 -c "import uvloop" 2>/dev/null && peers+=(uvloop)
command -v node >/dev/null && peers+=(node)

command_of() {
  case $1 in
    libuv) echo "$work/raw $n" ;;
    asyncuv) echo "$build/test/bench/spawn-asyncuv $n" ;;
    asyncio | uvloop) echo "/usr/bin/python3 $here/spawn_peers.py $n $1" ;;
    node) echo "node $here/spawn_node.js $n" ;;
  esac
}

results="$work/results"
for _ in $(seq "$runs"); do
  for p in "${peers[@]}"; do $(command_of "$p") </dev/null | tee -a "$results"; done
done

echo
echo "| peer | spawns/s (median of $runs) | × raw libuv's rate | parent CPU µs per spawn (median) | × raw libuv's CPU |"
echo "|---|---:|---:|---:|---:|"
# shellcheck source=results.sh
. "$here/results.sh"
base=$(field libuv per_s | median)
base_cpu=$(field libuv cpu_us | median)
for p in "${peers[@]}"; do
  rate=$(field "$p" per_s | median)
  cpu=$(field "$p" cpu_us | median)
  printf '| %s | %s | %.2f | %s | %.2f |\n' "$p" "$rate" "$(echo "$rate / $base" | bc -l)" "$cpu" \
    "$(echo "$cpu / $base_cpu" | bc -l)"
done
