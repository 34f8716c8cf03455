#!/usr/bin/env bash
# compare.sh - asyncuv-bench side by side with the peers of ../shared/peers
# (libuv asio node uvloop asyncio), interleaved, and a markdown table of
# medians with each peer's ratio to asyncuv.
#
# usage: test/bench/compare.sh [options]
#   -r, --runs R       repetitions of every case (default 5; --quick: 3)
#   --quick            R=3 and the slow peers (--slow) at N/10 from the start
#   --peers "LIST"     peers besides asyncuv (default "libuv asio node uvloop asyncio")
#   --cases "LIST"     workload:N ... (default "spawn:1000000 sleepers:100000
#                      sleepers:1000000 yield:1000000 queue:1000000")
#   --slow "LIST"      which peers are slow (default "uvloop asyncio")
#   --slow-div D       run the slow peers at N/D (default 1; --quick: 10); asyncuv
#                      is then also run at N/D so that their ratio is like for like
#   --max-s S          a run over S seconds (default 60) makes that peer's case run
#                      at N/10 in every round, as the peers' bench.sh does
#   --scaling-n "LIST" N of the scaling section (default "10000 100000 1000000")
#   --no-scaling       skip the scaling section (asyncuv and libuv, spawn and sleepers)
#   --echo "CELLS"     also the echo workload (../shared/peers/echo.sh), each cell
#                      TRANSPORT:SIZE:CLIENTS (e.g. "tcp:1024:10 unix:102400:10"),
#                      servers libuv, asyncuv (asyncuv-bench echo-server) and
#                      uvloop-protocol, R interleaved rounds of --echo-s seconds
#                      (default 2): a table of server CPU us per request
#   --echo-s S         seconds per echo run
#   --build DIR        asyncuv's release build directory (default <repo>/build-bench)
#   --install          apt-get install the peers' dependencies first
#   -h, --help
#
# Environment: PEERS_DIR (default <repo>/../shared/peers) and every knob of its
# run.sh (PEERS_BUILD, PEERS_PYTHON, NODE, CC, CXX, PEERS_OPT).
#
# asyncuv is built in its own release build directory
#   meson setup DIR --buildtype=release -Dtests=false -Ddemo=false
# (b_ndebug=if-release, so NDEBUG as in the peers' -O3 -DNDEBUG).
# A peer whose run.sh exits 3 (missing dependency) is skipped with a note.
# The queue workload (a producer and a consumer task through a Queue of 100)
# is not one of ../shared/peers': its peers live here, test/bench/queue_peers.py
# (asyncio, uvloop) and test/bench/queue_raw.c (libuv, built into DIR with $CC);
# node and asio have no queue peer (their cells show "-").
# Raw result lines go to DIR/compare-<time>.log; the tables go to stdout,
# progress to stderr. Exit status: 0, 1 if some run failed, 2 bad usage.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$REPO/../shared/peers}"

RUNS=""
QUICK=0
PEERS="libuv asio node uvloop asyncio"
CASES="spawn:1000000 sleepers:100000 sleepers:1000000 yield:1000000 queue:1000000"
SLOW="uvloop asyncio"
SLOW_DIV=""
MAX_S=60
SCALING=1
SCALING_N="10000 100000 1000000"
ECHO_CELLS=""
ECHO_S=2
BUILD="$REPO/build-bench"
INSTALL=0

usage() {
  [[ $# -gt 0 ]] && echo "compare.sh: $*" >&2
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -r|--runs) [[ $# -ge 2 ]] || usage "$1 needs a value"; RUNS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --peers) [[ $# -ge 2 ]] || usage "$1 needs a value"; PEERS="$2"; shift 2 ;;
    --cases) [[ $# -ge 2 ]] || usage "$1 needs a value"; CASES="$2"; shift 2 ;;
    --slow) [[ $# -ge 2 ]] || usage "$1 needs a value"; SLOW="$2"; shift 2 ;;
    --slow-div) [[ $# -ge 2 ]] || usage "$1 needs a value"; SLOW_DIV="$2"; shift 2 ;;
    --max-s) [[ $# -ge 2 ]] || usage "$1 needs a value"; MAX_S="$2"; shift 2 ;;
    --scaling-n) [[ $# -ge 2 ]] || usage "$1 needs a value"; SCALING_N="$2"; shift 2 ;;
    --no-scaling) SCALING=0; shift ;;
    --echo) [[ $# -ge 2 ]] || usage "$1 needs a value"; ECHO_CELLS="$2"; shift 2 ;;
    --echo-s) [[ $# -ge 2 ]] || usage "$1 needs a value"; ECHO_S="$2"; shift 2 ;;
    --build) [[ $# -ge 2 ]] || usage "$1 needs a value"; BUILD="$2"; shift 2 ;;
    --install) INSTALL=1; shift ;;
    -h|--help) usage ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
[[ -n "$RUNS" ]] || { [[ $QUICK == 1 ]] && RUNS=3 || RUNS=5; }
[[ -n "$SLOW_DIV" ]] || { [[ $QUICK == 1 ]] && SLOW_DIV=10 || SLOW_DIV=1; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || usage "runs must be a positive integer"
[[ "$SLOW_DIV" =~ ^[1-9][0-9]*$ ]] || usage "--slow-div must be a positive integer"
[[ "$MAX_S" =~ ^[0-9]+([.][0-9]+)?$ ]] || usage "--max-s must be a number of seconds"
for p in $PEERS; do
  case "$p" in libuv|asio|node|uvloop|asyncio) ;; asyncuv) ;; *) usage "unknown peer '$p'" ;; esac
done
for c in $CASES; do
  [[ "$c" =~ ^(spawn|sleepers|yield|queue):[0-9]+$ ]] || usage "bad case '$c' (workload:N)"
done
for n in $SCALING_N; do [[ "$n" =~ ^[0-9]+$ ]] || usage "bad scaling N '$n'"; done
for c in $ECHO_CELLS; do
  [[ "$c" =~ ^(tcp|unix):[0-9]+:[0-9]+$ ]] || usage "bad echo cell '$c' (TRANSPORT:SIZE:CLIENTS)"
done
[[ "$ECHO_S" =~ ^[1-9][0-9]*$ ]] || usage "--echo-s must be a positive number of seconds"
PEERS="$(for p in $PEERS; do [[ $p == asyncuv ]] || echo "$p"; done | tr '\n' ' ')"

if [[ $INSTALL == 1 ]]; then
  echo "compare.sh: installing the peers' dependencies" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y \
    libboost1.81-dev python3-uvloop nodejs libuv1-dev pkg-config g++ meson ninja-build
fi

# ---- build asyncuv-bench (release, its own build directory) ----
if [[ ! -f "$BUILD/build.ninja" ]]; then
  echo "compare.sh: configuring $BUILD (release)" >&2
  meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false -Ddemo=false -Dbench=true >&2
else
  bt="$(meson introspect --buildoptions "$BUILD" 2>/dev/null |
    python3 -c 'import json,sys; print({o["name"]: o["value"] for o in json.load(sys.stdin)}.get("buildtype", "?"))' 2>/dev/null || echo "?")"
  if [[ "$bt" != release ]]; then
    echo "compare.sh: $BUILD has buildtype '$bt'; reconfiguring as release" >&2
    meson configure "$BUILD" --buildtype=release -Dbench=true >&2
  fi
fi
meson compile -C "$BUILD" asyncuv-bench >&2
ASYNCUV_BIN="$BUILD/test/bench/asyncuv-bench"
[[ -x "$ASYNCUV_BIN" ]] || { echo "compare.sh: $ASYNCUV_BIN was not built" >&2; exit 1; }

# ---- the queue workload's own peers (test/bench/queue_peers.py, queue_raw.c) ----
QUEUE_PY="$HERE/queue_peers.py"
QUEUE_PYTHON="${PEERS_PYTHON:-/usr/bin/python3}"
QUEUE_RAW_BIN="$BUILD/queue_raw"
QUEUE_RAW_OK=0
if [[ " $CASES " == *" queue:"* ]]; then
  read -r -a QOPT <<<"${PEERS_OPT:--O3 -DNDEBUG}"
  if pkg-config --exists libuv 2>/dev/null &&
    "${CC:-gcc}" -std=gnu11 "${QOPT[@]}" -Wall -Wextra $(pkg-config --cflags libuv) "$HERE/queue_raw.c" \
      $(pkg-config --libs libuv) -o "$QUEUE_RAW_BIN" >&2; then
    QUEUE_RAW_OK=1
  else
    echo "compare.sh: could not build queue_raw.c (libuv queue peer skipped)" >&2
  fi
fi
has_queue_peer() { # has_queue_peer PEER
  case "$1" in
    libuv) [[ $QUEUE_RAW_OK == 1 ]] ;;
    asyncio) [[ -x "$QUEUE_PYTHON" ]] ;;
    uvloop) "$QUEUE_PYTHON" -c 'import uvloop' 2>/dev/null ;;
    *) return 1 ;;
  esac
}

# ---- which peers can run (this also builds the compiled ones, untimed) ----
NOTES=()
AVAILABLE=""
if [[ -n "${PEERS// /}" && ! -x "$PEERS_DIR/run.sh" ]]; then
  echo "compare.sh: no peers at $PEERS_DIR (set PEERS_DIR); running asyncuv alone" >&2
  NOTES+=("peers not found at $PEERS_DIR: asyncuv alone")
  PEERS=""
fi
for p in $PEERS; do
  rc=0
  "$PEERS_DIR/run.sh" "$p" yield 100 >/dev/null 2>"$BUILD/peer-check-$p.err" || rc=$?
  if [[ $rc == 0 ]]; then
    AVAILABLE+="$p "
  elif [[ $rc == 3 ]]; then
    why="$(grep -m1 'install it with' "$BUILD/peer-check-$p.err" || tail -n1 "$BUILD/peer-check-$p.err")"
    echo "compare.sh: skipping $p: $why" >&2
    NOTES+=("$p skipped (missing dependency: ${why#run.sh: }); --install installs it")
  else
    echo "compare.sh: skipping $p: its check run failed (exit $rc):" >&2
    cat "$BUILD/peer-check-$p.err" >&2
    NOTES+=("$p skipped (its check run exited $rc)")
  fi
done
is_slow() { [[ " $SLOW " == *" $1 "* ]]; }

# ---- the jobs: peer:workload:nominal_n, every one run once per round ----
declare -A n_of reduced seen
JOBS=()
add_job() { # add_job PEER WORKLOAD N
  local k="$1:$2:$3"
  [[ -n "${seen[$k]:-}" ]] && return 0
  seen[$k]=1; JOBS+=("$k"); n_of[$k]="$3"; reduced[$k]=""
}
for c in $CASES; do
  w="${c%%:*}"; n="${c#*:}"
  add_job asyncuv "$w" "$n"
  for p in $AVAILABLE; do
    [[ $w == queue ]] && ! has_queue_peer "$p" && continue
    if is_slow "$p" && [[ $SLOW_DIV -gt 1 ]]; then
      add_job asyncuv "$w" $((n / SLOW_DIV))   # a like-for-like reference
      add_job "$p" "$w" $((n / SLOW_DIV))
    else
      add_job "$p" "$w" "$n"
    fi
  done
done
SCALING_PEERS="asyncuv"
[[ " $AVAILABLE " == *" libuv "* ]] && SCALING_PEERS+=" libuv"
if [[ $SCALING == 1 ]]; then
  for w in spawn sleepers; do
    for n in $SCALING_N; do
      for p in $SCALING_PEERS; do add_job "$p" "$w" "$n"; done
    done
  done
fi

LOG="$BUILD/compare-$(date +%Y%m%d-%H%M%S).log"
: >"$LOG"
echo "compare.sh: ${#JOBS[@]} jobs x $RUNS rounds; raw lines: $LOG" >&2

run_one() { # run_one PEER WORKLOAD N -> the result line
  if [[ "$1" == asyncuv ]]; then "$ASYNCUV_BIN" "$2" "$3"
  elif [[ "$2" == queue && "$1" == libuv ]]; then "$QUEUE_RAW_BIN" queue "$3"
  elif [[ "$2" == queue ]]; then "$QUEUE_PYTHON" "$QUEUE_PY" --loop "$1" queue "$3"
  else "$PEERS_DIR/run.sh" "$1" "$2" "$3"; fi
}

FAILED=0
for ((r = 1; r <= RUNS; r++)); do
  for k in "${JOBS[@]}"; do
    IFS=: read -r p w _ <<<"$k"
    while :; do
      n="${n_of[$k]}"
      start=$(date +%s.%N)
      if ! line="$(run_one "$p" "$w" "$n")"; then
        echo "compare.sh: FAILED: $p $w $n" >&2
        echo "FAILED job=$k round=$r peer=$p workload=$w n=$n" >>"$LOG"
        FAILED=1
        break
      fi
      took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
      echo "[$r/$RUNS] $line (process ${took}s)" >&2
      if [[ -z "${reduced[$k]}" && "$n" -ge 10 ]] && awk -v t="$took" -v m="$MAX_S" 'BEGIN { exit !(t > m) }'; then
        echo "over_limit job=$k round=$r proc_s=$took $line" >>"$LOG"
        n_of[$k]=$((n / 10)); reduced[$k]="$n"
        echo "compare.sh: $p $w $n took ${took}s > ${MAX_S}s; using n=${n_of[$k]} in every round" >&2
        continue
      fi
      echo "job=$k round=$r proc_s=$took $line" >>"$LOG"
      break
    done
  done
done

for k in "${JOBS[@]}"; do
  [[ -n "${reduced[$k]}" ]] && NOTES+=("${k%%:*} ${k#*:}: n reduced from ${reduced[$k]} to ${n_of[$k]} (a run took > ${MAX_S}s)")
done

# ---- tables ----
# ROWS lines: "main|PEER|WORKLOAD|N_USED|N_NOMINAL" and "scal|PEER|WORKLOAD|N|N".
ROWS=""
for c in $CASES; do
  w="${c%%:*}"; n="${c#*:}"
  for p in asyncuv $AVAILABLE; do
    [[ $w == queue && $p != asyncuv ]] && ! has_queue_peer "$p" && continue
    if [[ $p != asyncuv ]] && is_slow "$p" && [[ $SLOW_DIV -gt 1 ]]; then
      k="$p:$w:$((n / SLOW_DIV))"
      # asyncuv's like-for-like reference, listed once before the first slow peer
      [[ -n "${n_of[asyncuv:$w:$((n / SLOW_DIV))]:-}" && "$ROWS" != *"ref|asyncuv|$w|$((n / SLOW_DIV))|$n"* ]] &&
        ROWS+="ref|asyncuv|$w|${n_of[asyncuv:$w:$((n / SLOW_DIV))]}|$n"$'\n'
    else
      k="$p:$w:$n"
    fi
    ROWS+="main|$p|$w|${n_of[$k]}|$n"$'\n'
  done
done
if [[ $SCALING == 1 ]]; then
  for w in spawn sleepers; do
    for n in $SCALING_N; do
      for p in $SCALING_PEERS; do ROWS+="scal|$p|$w|${n_of[$p:$w:$n]}|$n"$'\n'; done
    done
  done
fi

echo "## asyncuv vs peers — $(date -u +%Y-%m-%d), $(nproc) CPUs, $RUNS interleaved runs per cell"
echo
echo "asyncuv: $ASYNCUV_BIN (release). Peers: ${AVAILABLE:-none}(run through $PEERS_DIR/run.sh)."
echo "ratio = peer / asyncuv of the ns_per_op medians: > 1 means asyncuv is faster;"
echo "for libuv (the floor), the SPEC's target is a ratio >= 0.83 (asyncuv within 1.2x)."
echo
printf '%s' "$ROWS" | awk -F'|' -v runs="$RUNS" -v casesstr="$CASES" '
  function median(arr, cnt,   i, j, t) {
    for (i = 2; i <= cnt; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
    return (cnt % 2) ? arr[(cnt + 1) / 2] : (arr[cnt / 2] + arr[cnt / 2 + 1]) / 2
  }
  function stat(id, field,   i, c, a) {
    c = cnt[id]; if (c == 0 || !((id, 1, field) in val)) return ""
    for (i = 1; i <= c; i++) a[i] = val[id, i, field] + 0
    return median(a, c)
  }
  function minmax(id, field,   i, v, mn, mx) {
    for (i = 1; i <= cnt[id]; i++) { v = val[id, i, field] + 0; if (i == 1 || v < mn) mn = v; if (i == 1 || v > mx) mx = v }
    return sprintf("%.1f-%.1f", mn, mx)
  }
  function fmt(x, d) { return x == "" ? "-" : sprintf("%." d "f", x) }
  function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
  # the asyncuv reference for (w, n used), falling back to (w, nominal n)
  function ref(w, n, nom) {
    if (cnt["asyncuv" SUBSEP w SUBSEP n] > 0) return "asyncuv" SUBSEP w SUBSEP n
    return "asyncuv" SUBSEP w SUBSEP nom
  }
  FILENAME != "-" && /^job=/ {
    delete f
    nf = split($0, fld, " ")
    for (i = 1; i <= nf; i++) { eq = index(fld[i], "="); f[substr(fld[i], 1, eq - 1)] = substr(fld[i], eq + 1) }
    id = f["peer"] SUBSEP f["workload"] SUBSEP f["n"]
    c = ++cnt[id]
    val[id, c, "ns"] = f["ns_per_op"]; val[id, c, "wall"] = f["wall_ms"]
    if ("overhead_ms" in f) val[id, c, "ovh"] = f["overhead_ms"]
    if ("bytes_per_task" in f) val[id, c, "bpt"] = f["bytes_per_task"]
    next
  }
  FILENAME == "-" { rows[++nrows] = $0 }
  END {
    # headline: one row per peer, one column per case
    ncases = split(casesstr, cases, " ")
    printf "| peer |"; for (c = 1; c <= ncases; c++) printf " %s ns/op (ratio) |", cases[c]
    for (c = 1; c <= ncases; c++) if (cases[c] !~ /^(yield|queue)/) printf " %s B/task |", cases[c]
    printf "\n|---|"; for (c = 1; c <= ncases; c++) printf "---:|"
    for (c = 1; c <= ncases; c++) if (cases[c] !~ /^(yield|queue)/) printf "---:|"
    printf "\n"
    np = 0
    for (r = 1; r <= nrows; r++) { split(rows[r], x, "|"); if (x[1] == "main" && !(x[2] in pseen)) { pseen[x[2]] = 1; plist[++np] = x[2] } }
    for (r = 1; r <= nrows; r++) { split(rows[r], x, "|"); if (x[1] == "main") cell[x[2], x[3] ":" x[5]] = x[4] }
    for (q = 1; q <= np; q++) {
      p = plist[q]; printf "| %s |", p
      for (c = 1; c <= ncases; c++) {
        split(cases[c], wn, ":"); n = cell[p, cases[c]]
        id = p SUBSEP wn[1] SUBSEP n; m = stat(id, "ns")
        if (m == "") { printf " - |"; continue }
        rid = ref(wn[1], n, wn[2])
        note = (n != wn[2]) ? sprintf(" @n=%s", n) : ""
        if (p == "asyncuv") printf " %.1f%s |", m, note
        else printf " %.1f (%s%s)%s |", m, ratio(m, stat(rid, "ns")), (n != wn[2] && cnt["asyncuv" SUBSEP wn[1] SUBSEP n] == 0) ? "†" : "", note
      }
      for (c = 1; c <= ncases; c++) {
        if (cases[c] ~ /^(yield|queue)/) continue
        split(cases[c], wn, ":"); n = cell[p, cases[c]]
        printf " %s |", fmt(stat(p SUBSEP wn[1] SUBSEP n, "bpt"), 0)
      }
      printf "\n"
    }
    print ""
    print "Full table (medians of the runs; min-max of ns_per_op):"
    print ""
    print "| workload | n | peer | runs | ns_per_op median (min-max) | wall_ms | overhead_ms | bytes_per_task | time ratio peer/asyncuv | bytes ratio peer/asyncuv |"
    print "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    for (r = 1; r <= nrows; r++) {
      split(rows[r], x, "|"); if (x[1] != "main" && x[1] != "ref") continue
      p = x[2]; w = x[3]; n = x[4]; nom = x[5]; id = p SUBSEP w SUBSEP n
      if (cnt[id] == 0) { printf "| %s | %s | %s | 0 | FAILED | - | - | - | - | - |\n", w, n, p; continue }
      rid = ref(w, n, nom)
      mark = (p != "asyncuv" && cnt["asyncuv" SUBSEP w SUBSEP n] == 0) ? "†" : ""
      printf "| %s | %s | %s | %d | %.1f (%s) | %.1f | %s | %s | %s%s | %s%s |\n", w, n, p, cnt[id], stat(id, "ns"), minmax(id, "ns"),
        stat(id, "wall"), fmt(stat(id, "ovh"), 1), fmt(stat(id, "bpt"), 0),
        (p == "asyncuv") ? "1" : ratio(stat(id, "ns"), stat(rid, "ns")), mark,
        (p == "asyncuv" && stat(id, "bpt") != "") ? "1" : ratio(stat(id, "bpt"), stat(rid, "bpt")), mark
    }
    # scaling: asyncuv (and libuv) per task as N grows
    hasscal = 0
    for (r = 1; r <= nrows; r++) { split(rows[r], x, "|"); if (x[1] == "scal") { hasscal = 1; sc[x[3], x[5], x[2]] = x[4]; if (!((x[3], x[5]) in sn)) { sn[x[3], x[5]] = 1; sorder[++ns] = x[3] SUBSEP x[5] } } }
    if (!hasscal) exit
    print ""
    print "Scaling (ns/task: spawn = wall/N, sleepers = (wall-50ms)/N; ratio = asyncuv/libuv, the SPEC target is <= 1.2):"
    print ""
    print "| workload | N | asyncuv ns/task (min-max) | libuv ns/task (min-max) | asyncuv/libuv | asyncuv B/task | libuv B/task |"
    print "|---|---:|---:|---:|---:|---:|---:|"
    for (s = 1; s <= ns; s++) {
      split(sorder[s], y, SUBSEP); w = y[1]; nom = y[2]
      a = "asyncuv" SUBSEP w SUBSEP sc[w, nom, "asyncuv"]
      l = ((w, nom, "libuv") in sc) ? "libuv" SUBSEP w SUBSEP sc[w, nom, "libuv"] : ""
      am = stat(a, "ns"); lm = (l == "") ? "" : stat(l, "ns")
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", w, nom,
        am == "" ? "-" : sprintf("%.1f (%s)", am, minmax(a, "ns")),
        lm == "" ? "-" : sprintf("%.1f (%s)", lm, minmax(l, "ns")),
        ratio(am, lm), fmt(stat(a, "bpt"), 0), (l == "") ? "-" : fmt(stat(l, "bpt"), 0)
    }
  }' "$LOG" -

echo
if [[ ${#NOTES[@]} -gt 0 || $SLOW_DIV -gt 1 ]]; then
  echo "Notes:"
  slow_here="$(for p in $AVAILABLE; do is_slow "$p" && printf '%s ' "$p"; done)"
  [[ $SLOW_DIV -gt 1 && -n "$slow_here" ]] &&
    echo "- slow peers (${slow_here% }) run at N/$SLOW_DIV; their ratio is to asyncuv at the same N."
  for note in "${NOTES[@]}"; do echo "- $note"; done
  echo "- † = no asyncuv run at that N; the ratio is to asyncuv at the nominal N."
fi
# ---- echo: server CPU per request, asyncuv's streams beside raw libuv and uvloop ----
if [[ -n "$ECHO_CELLS" ]]; then
  ECHO_LOG="$BUILD/compare-echo-$(date +%Y%m%d-%H%M%S).log"
  : >"$ECHO_LOG"
  for ((round = 1; round <= RUNS; ++round)); do
    for cell in $ECHO_CELLS; do
      IFS=: read -r tr size clients <<<"$cell"
      for srv in libuv asyncuv uvloop-protocol; do
        echo "compare.sh: echo round $round $cell $srv" >&2
        cmd=""
        [[ $srv == asyncuv ]] && cmd="$ASYNCUV_BIN echo-server"
        ECHO_SERVER_CMD="$cmd" ECHO_TRANSPORT="$tr" "$PEERS_DIR/echo.sh" "$srv" "$size" "$clients" "${ECHO_S}s" \
          >>"$ECHO_LOG" 2>/dev/null || { FAILED=1; echo "compare.sh: echo $cell $srv failed" >&2; }
      done
    done
  done
  echo
  echo "Echo, server CPU us per request (median of $RUNS; x raw libuv):"
  python3 - "$ECHO_LOG" <<'PY'
import collections, statistics, sys
cpu = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = dict(x.split("=", 1) for x in line.split())
    cpu[(f["transport"], int(f["size"]), int(f["clients"])), f["peer"]].append(float(f["srv_cpu_us"]))
print("| transport | size | clients | libuv | asyncuv | uvloop-protocol |")
print("|---|---:|---:|---:|---:|---:|")
for cell in sorted({c for c, _ in cpu}):
    med = {p: statistics.median(cpu[cell, p]) for p in ("libuv", "asyncuv", "uvloop-protocol") if cpu[cell, p]}
    base = med.get("libuv")
    show = lambda p: "-" if p not in med else f"{med[p]:.2f}" + (f" ({med[p] / base:.2f})" if base else "")
    print(f"| {cell[0]} | {cell[1]} | {cell[2]} | {show('libuv')} | {show('asyncuv')} | {show('uvloop-protocol')} |")
PY
  echo "raw echo lines: $ECHO_LOG" >&2
fi

echo "raw lines: $LOG" >&2
if [[ $FAILED == 1 ]]; then echo "compare.sh: some runs failed (see $LOG)" >&2; exit 1; fi
exit 0
