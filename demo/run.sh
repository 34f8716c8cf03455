#!/usr/bin/env bash
# The README's "run it" command: installs what is missing, builds asyncuv in
# release mode and runs the seed programs (`asyncuv-demo all`). Extra
# arguments go to asyncuv-demo, e.g. `bash demo/run.sh gather --timing`.
set -eu
cd "$(dirname "$0")/.."
.ci/install-deps
build=build/release
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release --wrap-mode=nodownload -Dtests=false -Dbench=false >/dev/null
fi
ninja -C "$build" demo/asyncuv-demo >/dev/null  # meson 1.0 has no bare-name alias
if [ $# -eq 0 ]; then set -- all; fi
exec "$build/demo/asyncuv-demo" "$@"
