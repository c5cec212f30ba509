#!/bin/sh
# bench_text.sh: throughput of the free-text detector (dd_text_find) on
# clinical prose: the labelled corpus (markup removed, no contextual
# values) repeated to about 24 MB, cut into paragraphs as the engines
# pass them.  Prints MB/s by the wall clock and per core (the process's
# CPU time, which a loaded machine does not inflate), for each of RUNS
# runs (default 5; report the median).  Not a test.
#   RUNS=5 tests/bench/bench_text.sh [BUILD_DIR]   (default: build)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$src/build"}
show="$build/tests/text/text_show"
[ -x "$show" ] || { echo "build $show first (ninja -C $build tests/text/text_show)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e '/^=== NOTE/d' -e '/^@ctx /d' -e 's/{{[A-Z_]*|\([^}]*\)}}/\1/g' \
	"$src/tests/text/corpus/dev.txt" "$src/tests/text/corpus/test.txt" > "$tmp/one.txt"
: > "$tmp/big.txt"
i=0
while [ "$(wc -c < "$tmp/big.txt")" -lt 24000000 ]; do
	cat "$tmp/one.txt" >> "$tmp/big.txt"
	i=$((i + 1))
done
echo "dd_text_find on $(wc -c < "$tmp/big.txt") bytes of clinical prose (corpus x $i):"
r=0
while [ "$r" -lt "${RUNS:-5}" ]; do
	"$show" -b "$tmp/big.txt"
	r=$((r + 1))
done
