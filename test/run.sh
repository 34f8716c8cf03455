#!/usr/bin/env bash
# The README's test command. Installs what is missing, then:
#   1. g++:   build (warnings are errors), every suite
#   2. clang: build (warnings are errors), every suite
#   3. ASan+UBSan (g++, -O0): build, every suite
#   3b. ThreadSanitizer (g++, -O2): build, every suite (the thread-crossing
#      code: call_soon_threadsafe, run_coroutine_threadsafe, to_thread)
#   4. a consumer project using asyncuv as a meson subproject
#   5. `meson install` into a prefix + a consumer built with pkg-config
#   6. the demo under valgrind: no leak, no error
# and ends with one line "N passed, M failed": N and M count doctest test
# cases, differential-test cases and each of the checks above.
# Options: --quick (g++ suites only), --keep (reuse build dirs).
set -u
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/test
quick=0
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --keep) ;;
    *) echo "usage: test/run.sh [--quick]" >&2; exit 2 ;;
  esac
done

.ci/install-deps --test || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$out"
passed=0
failed=0
check() {  # check NAME COMMAND...: one pass or fail, log in $out/NAME.log
  local name=$1; shift
  if "$@" >"$out/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "ok    $name"
  else
    failed=$((failed + 1)); echo "FAIL  $name (log: $out/$name.log)"; tail -n 30 "$out/$name.log" | sed 's/^/    /'
  fi
}

# Runs `meson test` in a build dir and adds up the test cases each suite
# reports ("[doctest] test cases: ..." or "[name] N passed, M failed"); a
# suite that crashed before its summary counts as one failure.
suites() {
  local dir=$1
  local prefix=()
  # ThreadSanitizer's runtime rejects some kernels' ASLR layouts ("unexpected
  # memory mapping"); without ASLR it always works.
  [[ $dir == */tsan ]] && command -v setarch >/dev/null && prefix=(setarch "$(uname -m)" -R)
  "${prefix[@]}" meson test -C "$dir" --no-rebuild --print-errorlogs >"$out/$(basename "$dir")-tests.log" 2>&1
  local counts
  counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, re, sys
p = f = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout", "") or ""
    m = re.findall(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed", out)
    s = re.findall(r"^\[\w+\] (\d+) passed, (\d+) failed$", out, re.M)
    tp, tf = (int(m[-1][1]), int(m[-1][2])) if m else (int(s[-1][0]), int(s[-1][1])) if s else (0, 0)
    if t["result"] != "OK" and tf == 0:
        tf = 1
    if t["result"] != "OK" or tf:
        print(f"FAIL  {t['name']} ({t['result']})", file=sys.stderr)
    p += tp; f += tf
print(p, f)
PY
)
  read -r p f <<<"$counts"
  passed=$((passed + p)); failed=$((failed + f))
  echo "      $(basename "$dir"): $p passed, $f failed"
}

build() {  # build NAME ENV-ASSIGNMENTS... -- MESON-OPTIONS...
  local name=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  local dir=$root/build/$name
  if [ ! -f "$dir/build.ninja" ]; then
    env "${envs[@]}" meson setup "$dir" --wrap-mode=nodownload "$@" || return 1
  fi
  ninja -C "$dir"
}

check build-gcc build gcc CXX=g++ -- -Dwerror=true --prefix="$root/build/gcc/prefix"
[ -f build/gcc/build.ninja ] && suites build/gcc

if [ $quick -eq 0 ]; then
  check build-clang build clang CXX=clang++ -- -Dwerror=true
  [ -f build/clang/build.ninja ] && suites build/clang

  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  check build-asan build asan CXX=g++ -- --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
  [ -f build/asan/build.ninja ] && suites build/asan
  unset ASAN_OPTIONS UBSAN_OPTIONS

  # Any race report fails the suite (TSan exits non-zero); halt_on_error
  # makes it fail at the first one. The frame pool is bypassed under TSan.
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  check build-tsan build tsan CXX=g++ -- -Db_sanitize=thread -Db_lundef=false -Dbench=false -Ddemo=false
  [ -f build/tsan/build.ninja ] && suites build/tsan
  unset TSAN_OPTIONS

  consumer_subproject() {
    local d=$out/consumer
    rm -rf "$d" && mkdir -p "$d/subprojects/asyncuv"
    cp test/consumer/meson.build test/consumer/main.cpp "$d/"
    cp -r meson.build meson_options.txt lib "$d/subprojects/asyncuv/"
    meson setup "$d/build" "$d" --wrap-mode=nodownload && ninja -C "$d/build" &&
      "$d/build/consumer" | tee /dev/stderr | grep -qx "consumer: 42"
  }
  check consumer-subproject consumer_subproject

  installed_consumer() {
    local prefix=$root/build/gcc/prefix
    rm -rf "$prefix" && meson install -C build/gcc --quiet || return 1
    local pc
    pc=$(dirname "$(find "$prefix" -name asyncuv.pc | head -n 1)")
    [ -n "$pc" ] || return 1
    export PKG_CONFIG_PATH=$pc
    # shellcheck disable=SC2046
    g++ -std=c++20 -Wall -Wextra -Werror test/consumer/main.cpp $(pkg-config --cflags --libs asyncuv) \
      -o "$out/consumer-installed" && "$out/consumer-installed" | tee /dev/stderr | grep -qx "consumer: 42"
  }
  check installed-pkg-config installed_consumer

  check valgrind-demo valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
    build/gcc/demo/asyncuv-demo all --time-scale 0.01
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
