#!/usr/bin/env bash
# The README's test command. Installs what is missing, then:
#   1. g++:   build (warnings are errors), every suite
#   2. clang: build (warnings are errors), every suite
#   3. ASan+UBSan (g++, -O0): build, every suite
#   3b. ThreadSanitizer (g++, -O2): build, every suite (the thread-crossing
#      code: call_soon_threadsafe, run_coroutine_threadsafe, to_thread)
#   4. a consumer project using asyncuv as a meson subproject (which builds
#      only the library)
#   5. `meson install` into a prefix + a consumer built with pkg-config, and
#      one with CMake's find_package (each also as C++23: not downgraded)
#   6. a C++17 consumer gets the one "requires C++20" error
#   7. the wrap fallbacks (libuv, doctest, cxxopts) from Debian's sources,
#      offline, as a shared library (soname checked), a few suites
#   8. the demo under valgrind: no leak, no error (the seed programs, and the
#      TCP echo server and client talking to each other)
# and ends with one line "N passed, M failed": N and M count doctest test
# cases, differential-test cases and each of the checks above. Each stage
# says when it starts ("==>"); logs go to build/test/.
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
# The CPython fixtures run from the source tree: no __pycache__ there.
export PYTHONDONTWRITEBYTECODE=1
passed=0
failed=0
check() {  # check NAME COMMAND...: one pass or fail, log in $out/NAME.log
  local name=$1; shift
  echo "==>   $name"
  if "$@" >"$out/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "ok    $name"
  else
    failed=$((failed + 1)); echo "FAIL  $name (log: $out/$name.log)"; tail -n 30 "$out/$name.log" | sed 's/^/    /'
  fi
}

# Runs `meson test` in a build dir and adds up the test cases each suite
# reports ("[doctest] test cases: ..." or "[name] N passed, M failed"); a
# suite that crashed before its summary counts as one failure.
suites() {  # suites BUILD-DIR [SUITE...]: all suites unless some are named
  local dir=$1; shift
  local prefix=()
  # ThreadSanitizer's runtime rejects some kernels' ASLR layouts ("unexpected
  # memory mapping"); without ASLR it always works.
  [[ $dir == */tsan ]] && command -v setarch >/dev/null && prefix=(setarch "$(uname -m)" -R)
  echo "==>   $(basename "$dir") suites"
  "${prefix[@]}" meson test -C "$dir" --no-rebuild --print-errorlogs "$@" >"$out/$(basename "$dir")-tests.log" 2>&1
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

  # Output must be exactly EXPECTED; the full output stays in the log
  # (a `| grep -q` would cut the program's output short when it matches).
  prints() {  # prints EXPECTED COMMAND...
    local expected=$1; shift
    local got
    got=$("$@") || return 1
    printf '%s\n' "$got"
    [ "$got" = "$expected" ]
  }

  consumer_subproject() {
    local d=$out/consumer
    rm -rf "$d" && mkdir -p "$d/subprojects/asyncuv"
    cp test/consumer/meson.build test/consumer/main.cpp "$d/"
    cp -r meson.build meson_options.txt lib demo test "$d/subprojects/asyncuv/"
    meson setup "$d/build" "$d" --wrap-mode=nodownload && ninja -C "$d/build" &&
      prints "consumer: 42" "$d/build/consumer" || return 1
    # As a subproject asyncuv builds its library and nothing else: no demo,
    # no tests in the consumer's `meson test`, nothing of ours to install
    # but the library and its headers.
    local targets
    targets=$(meson introspect --targets "$d/build" | python3 -c '
import json, sys
print(" ".join(sorted(t["name"] for t in json.load(sys.stdin))))')
    echo "targets: $targets"
    [ "$targets" = "asyncuv consumer" ] || return 1
    ! meson introspect --installed "$d/build" | grep -q asyncuv-demo
  }
  check consumer-subproject consumer_subproject

  prefix=$root/build/gcc/prefix
  installed_consumer() {
    rm -rf "$prefix" && meson install -C build/gcc --quiet || return 1
    local pc
    pc=$(dirname "$(find "$prefix" -name asyncuv.pc | head -n 1)")
    [ -n "$pc" ] || return 1
    export PKG_CONFIG_PATH=$pc
    # shellcheck disable=SC2046
    g++ -std=c++20 -Wall -Wextra -Werror test/consumer/main.cpp $(pkg-config --cflags --libs asyncuv) \
      -o "$out/consumer-installed" && prints "consumer: 42" "$out/consumer-installed" || return 1
    # A C++23 consumer stays C++23 with asyncuv's Cflags after its own.
    # shellcheck disable=SC2046
    g++ -std=c++23 -Wall -Wextra -Werror test/consumer/newer_standard.cpp $(pkg-config --cflags --libs asyncuv) \
      -o "$out/consumer-installed-newer" && prints "newer standard: 23" "$out/consumer-installed-newer"
  }
  check installed-pkg-config installed_consumer

  cmake_consumer() {
    local d=$out/cmake-consumer version
    version=$(meson introspect --projectinfo build/gcc | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
    rm -rf "$d" && mkdir -p "$d"
    cmake -S test/consumer -B "$d" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
      -DASYNCUV_MAJOR_NUMBER="${version%%.*}" -DASYNCUV_MINOR_NUMBER="$(cut -d. -f2 <<<"$version")" &&
      cmake --build "$d" --verbose &&
      prints "consumer: 42" "$d/consumer" && prints "newer standard: 23" "$d/consumer_newer"
  }
  check installed-cmake cmake_consumer

  # Every public header, compiled as C++17, stops at one error that says
  # what is needed (and the compiler's "stopped here" line): not the pages
  # of concept and coroutine errors that would follow.
  cxx17_error() {
    local h n lines
    for h in lib/include/asyncuv/*.hpp; do
      for cxx in g++ clang++; do
        echo "#include <asyncuv/$(basename "$h")>" >"$out/cxx17.cpp"
        if $cxx -std=c++17 -fsyntax-only -Ilib/include "$out/cxx17.cpp" >"$out/cxx17.txt" 2>&1; then
          echo "$cxx accepted $h as C++17"; return 1
        fi
        lines=$(grep -E ': (fatal )?error: ' "$out/cxx17.txt")
        n=$(grep -c . <<<"$lines")
        printf '%s %s:\n%s\n' "$cxx" "$h" "$lines"
        [ "$n" -eq 2 ] && head -n 1 <<<"$lines" | grep -qF '"asyncuv requires C++20 coroutines (-std=c++20)"' || return 1
      done
    done
  }
  check cxx17-error cxx17_error

  # The fallbacks a machine without libuv1-dev, doctest-dev and
  # libcxxopts-dev uses, from Debian 12's sources (cached under
  # build/debian-sources by subprojects/fetch-sources), forced over the
  # installed packages, built with no download. asyncuv is a shared library
  # here, so the soname is checked too.
  fallbacks() {
    local src=$root/build/fallbacks-src dir=$root/build/fallbacks
    rm -rf "$src" "$dir" && mkdir -p "$src/subprojects/packagefiles"
    cp -r meson.build meson_options.txt lib demo test "$src/"
    cp subprojects/*.wrap subprojects/fetch-sources "$src/subprojects/"
    cp -r subprojects/packagefiles/libuv subprojects/packagefiles/doctest \
      subprojects/packagefiles/cxxopts "$src/subprojects/packagefiles/"
    if ! "$src/subprojects/fetch-sources" "$root/build/debian-sources"; then
      # Debian's archive here serves no cxxopts source tarball (only the
      # package): lay out what the tarball would extract to, the 3.1.1
      # header from libcxxopts-dev, under the wrap's packagefile.
      [ -f "$src/subprojects/packagefiles/cxxopts_3.1.1.orig.tar.gz" ] || cxxopts_from_deb "$src" || return 1
    fi
    meson setup "$dir" "$src" --wrap-mode=nodownload --force-fallback-for=libuv,doctest,cxxopts \
      -Ddefault_library=shared -Dbench=disabled &&
      ninja -C "$dir" demo/asyncuv-demo test/test_coroutines test/test_gather test/test_queues test/test_queue_kinds || return 1
    # Each fallback was used, not the installed package.
    grep -E "Subproject (libuv|doctest|cxxopts) finished" "$dir/meson-logs/meson-log.txt" | sort -u
    [ "$(grep -cE "^Subproject (libuv|doctest|cxxopts) finished" "$dir/meson-logs/meson-log.txt")" -eq 3 ] &&
      ! ldd "$dir/demo/asyncuv-demo" | grep -q 'libuv\.so' &&
      readelf -d "$dir/lib/libasyncuv.so" >"$out/fallbacks-dynamic.txt" &&
      grep 'SONAME.*\[libasyncuv\.so\.0\]' "$out/fallbacks-dynamic.txt" &&
      "$dir/demo/asyncuv-demo" say_hello --time-scale 0.01
  }
  cxxopts_from_deb() {  # cxxopts_from_deb SRC: cxxopts 3.1.1's header from the Debian package
    local cache=$root/build/debian-sources d=$1/subprojects/cxxopts-3.1.1
    [ -f "$cache/libcxxopts-dev_3.1.1-1_all.deb" ] ||
      (cd "$cache" && apt-get download -qq libcxxopts-dev=3.1.1-1) || return 1
    rm -rf "$cache/cxxopts-deb" && dpkg-deb -x "$cache/libcxxopts-dev_3.1.1-1_all.deb" "$cache/cxxopts-deb" &&
      mkdir -p "$d/include" && cp "$cache/cxxopts-deb/usr/include/cxxopts.hpp" "$d/include/" &&
      cp "$1/subprojects/packagefiles/cxxopts/meson.build" "$d/" &&
      echo "cxxopts: 3.1.1 header from libcxxopts-dev (no source tarball served)"
  }
  check fallbacks fallbacks
  [ -f build/fallbacks/build.ninja ] && suites build/fallbacks coroutines gather queues queue_kinds

  check valgrind-demo valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
    build/gcc/demo/asyncuv-demo all --time-scale 0.01
  check valgrind-echo bash test/valgrind_echo.sh build/gcc/demo/asyncuv-demo
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
