#!/bin/bash
# bench_fs_requests.sh: the FUSE requests deidfs gets, by opcode, during a
# first read (fresh mount) and a re-read (same mount) of a directory; the
# request mix is what bench_fs.sh's times are made of.  Not a test.
#
#   tests/bench/bench_fs_requests.sh SRC [READERS] [BUILD_DIR]
#
# SRC: any source directory (e.g. the ct or mid part bench_fs.sh makes, or
# `deid-gen ct DIR --count 600 --rows 512 --cols 512`).  The deidfs cache
# is warmed by an untimed pass on its own mount first.  Requests are
# counted from libfuse's -d log (one line per request: slow, so only the
# counts mean anything here, never the times).  Readers: find | xargs -P
# READERS -n 8 cat, as in bench_fs.sh.  Environment: DD_BENCH_DEIDFS_OPTS
# (extra -o options, e.g. "prefill_kb=0").
set -u
SRC=$(realpath "${1:?usage: $0 SRC [READERS] [BUILD_DIR]}")
N=${2:-4}
BUILD=${3:-build}
DEIDFS=${DEIDFS:-$BUILD/fs/deidfs}
DOPTS=${DD_BENCH_DEIDFS_OPTS:-}
[ -x "$DEIDFS" ] || { echo "bench_fs_requests: no deidfs at $DEIDFS" >&2; exit 1; }
W=$(mktemp -d "${DD_BENCH_DIR:-/tmp}/deidfs-req.XXXXXX") || exit 1
PID=
cleanup() {
	mountpoint -q "$W/mnt" && fusermount3 -u "$W/mnt"
	[ -n "$PID" ] && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/mnt" "$W/cache" && chmod 700 "$W/cache"
head -c 32 /dev/urandom | base64 >"$W/key"
chmod 600 "$W/key"
OPTS="preset=default,key=$W/key,cache=$W/cache${DOPTS:+,$DOPTS}"
readall() { find "$1" -type f -print0 | xargs -0 -r -P "$N" -n 8 cat >/dev/null; }
mounted() { for _ in $(seq 200); do mountpoint -q "$1" && return 0; sleep 0.05; done; return 1; }

"$DEIDFS" "$SRC" "$W/mnt" -f -o "$OPTS" 2>/dev/null & PID=$!
mounted "$W/mnt" || { echo "bench_fs_requests: no mount" >&2; exit 1; }
readall "$W/mnt" # classifies every file into the cache
fusermount3 -u "$W/mnt"; wait "$PID"
readall "$SRC" # the source in the page cache

"$DEIDFS" "$SRC" "$W/mnt" -d -o "$OPTS" 2>"$W/log" & PID=$!
mounted "$W/mnt" || { echo "bench_fs_requests: no mount" >&2; exit 1; }
sleep 0.3
l0=$(wc -l <"$W/log")
readall "$W/mnt"
sleep 0.3
l1=$(wc -l <"$W/log")
readall "$W/mnt"
sleep 0.3
l2=$(wc -l <"$W/log")
files=$(find "$W/mnt" -type f | wc -l)
fusermount3 -u "$W/mnt"; wait "$PID"; PID=

count() { # FIRST LAST: "OPCODE N (N/file)" by count
	sed -n "$1,$2p" "$W/log" | grep -o 'opcode: [A-Z_]*' | awk -v f="$files" '
		{n[$2]++} END {for (o in n) printf "%s %d (%.2f/file)\n", o, n[o], n[o] / f}' |
		sort -k2 -rn | tr '\n' ' '
}
echo "# deidfs $SRC ($files files, $N readers, -o ${DOPTS:-defaults})"
echo "first read: $(count $((l0 + 1)) "$l1")"
echo "re-read:    $(count $((l1 + 1)) "$l2")"
