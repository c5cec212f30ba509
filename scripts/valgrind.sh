#!/bin/sh
# valgrind.sh: run the unit and fuzz-corpus tests under valgrind memcheck
# (leaks and invalid accesses are errors).  Slow; not in CI.
set -eu
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
scripts/build.sh build
meson test -C build --print-errorlogs --num-processes 2 \
	--suite core --suite policy --suite cache --suite fuzz --suite text \
	--timeout-multiplier 20 \
	--wrapper 'valgrind --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --quiet'
