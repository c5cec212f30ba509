#!/bin/sh
# fuzz.sh [SECONDS]: build every fuzz target with clang + libFuzzer +
# ASan/UBSan and run each for SECONDS (default 60), starting from its
# committed corpus.  New crashes are left as crash-* files: add each one
# to tests/fuzz/corpus/NAME/ once fixed.  Not in CI.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v clang >/dev/null || apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
CC=clang CXX=clang++ scripts/build.sh build-fuzz -Dlibfuzzer=true \
	-Db_sanitize=address,undefined -Db_lundef=false
work=$(mktemp -d)
rc=0
for t in build-fuzz/tests/fuzz/fuzz_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	corpus=tests/fuzz/corpus/${name#fuzz_}
	mkdir -p "$work/$name"
	echo "== $name ($secs s)"
	(cd "$work" && "$OLDPWD/$t" -max_total_time="$secs" "$work/$name" "$OLDPWD/$corpus") \
		>"$work/$name.log" 2>&1 || { rc=1; tail -30 "$work/$name.log"; }
	tail -1 "$work/$name.log"
done
echo "logs and any crash files: $work"
exit $rc
