#!/bin/sh
# clang.sh: build with clang (-Werror) and run the test suite.  Not in CI
# (two compilers double its time); run it before a release.
set -eu
cd "$(dirname "$0")/.."
command -v clang >/dev/null || apt-get install -y -qq clang >/dev/null
CC=clang CXX=clang++ scripts/build.sh build-clang -Dwerror=true
meson test -C build-clang --print-errorlogs --num-processes 2 --no-suite slow
