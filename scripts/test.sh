#!/bin/sh
# test.sh: install what is needed, build, and run every test suite.
# The README's second command.  With CI set (CI=true), warnings are errors.
# Slow scale tests (1M files) run only with DD_TEST_SLOW=1.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
opts=""
[ -n "${CI:-}" ] && opts="-Dwerror=true"
# shellcheck disable=SC2086
scripts/build.sh build $opts
suites="--no-suite slow"
[ -n "${DD_TEST_SLOW:-}" ] && suites=""
# shellcheck disable=SC2086
meson test -C build --print-errorlogs --num-processes 2 $suites
