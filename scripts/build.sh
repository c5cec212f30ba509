#!/bin/sh
# build.sh [BUILDDIR] [meson options...]: configure (once) and compile.
# Quiet on success; on failure prints the end of the build log.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
[ $# -gt 0 ] && shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail() {
	tail -n 60 "$log" >&2
	echo "build: $dir FAILED ($1)" >&2
	exit 1
}
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >"$log" 2>&1 || fail "meson setup"
elif [ $# -gt 0 ]; then
	meson configure "$dir" "$@" >"$log" 2>&1 || fail "meson configure"
fi
ninja -C "$dir" >"$log" 2>&1 || fail "ninja"
echo "build: $dir ok"
