#!/bin/bash
# fs_crash.sh: the daemon and its cache under abuse.
#  - kill -9 of the daemon during parallel reads; the stale mount is
#    lazily unmounted (fusermount3 -uz) and a remount serves correct bytes
#    from the cache the killed daemon left;
#  - two daemons on one cache directory, reading at the same time;
#  - a damaged record in the cache (a flipped byte) is detected, dropped
#    and replaced by a fresh transform; a truncated cache file is detected
#    and the cache rebuilt; the bytes served stay correct throughout.
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

SRC=$T/src MNT=$T/mnt
fs_make_tree "$SRC"
fs_make_ct "$SRC/CT" 12 512 512
"$DEID" materialize "$SRC" "$T/mat" -p "$POLICY" --key-file "$KEYFILE" -q >/dev/null ||
	note "deid materialize exit $? (files hidden for error reasons)"
fs_sums "$T/mat" >"$T/want"

# --- kill -9 during reads, stale mount, remount -----------------------------
fs_mount "$SRC" "$MNT"
find "$MNT" -type f | head -3 | xargs cat >/dev/null
sleep 0.3 # let the cache writer commit a batch
"$PYTHON" "$FS_LIB_DIR/fs_check.py" readers "$MNT" 8 10 >/dev/null 2>&1 &
rpid=$!
sleep 1
kill -9 "$FS_PID"
wait "$FS_PID" 2>/dev/null
wait "$rpid" 2>/dev/null && fail "the readers did not notice the kill"
ls "$MNT" >/dev/null 2>&1 && fail "the mount still answers after kill -9"
fusermount3 -uz "$MNT" || fail "fusermount3 -uz of the stale mount"
fs_mount "$SRC" "$MNT"
fs_sums "$MNT" | diff - "$T/want" >/dev/null || fail "wrong bytes after kill -9 and remount"
[ "$(fs_counter "$MNT" cache_hits)" -gt 0 ] || fail "the cache left by the killed daemon was not used"
ok "kill -9 during reads, fusermount3 -uz, remount: correct bytes, cache reused"

# --- two daemons, one cache ---------------------------------------------------
mkdir -p "$T/mnt2"
pid1=$FS_PID
fs_mount "$SRC" "$T/mnt2"
pid2=$FS_PID
"$PYTHON" "$FS_LIB_DIR/fs_check.py" readers "$MNT" 4 3 >"$T/r1.log" 2>&1 &
r1=$!
"$PYTHON" "$FS_LIB_DIR/fs_check.py" readers "$T/mnt2" 4 3 >"$T/r2.log" 2>&1 &
r2=$!
wait "$r1" || { cat "$T/r1.log"; fail "readers on the first daemon"; }
wait "$r2" || { cat "$T/r2.log"; fail "readers on the second daemon"; }
fs_sums "$T/mnt2" | diff - "$T/want" >/dev/null || fail "second daemon: wrong bytes"
FS_PID=$pid2 fs_umount "$T/mnt2"
FS_PID=$pid1 fs_umount "$MNT"
ok "two daemons on one cache read the same bytes"

# --- a damaged record ---------------------------------------------------------
gen=$(cat "$CACHE/current")
db=$CACHE/env.$gen/data.mdb
[ -f "$db" ] || fail "no cache data file at $db"
# flip one byte in every stored manifest: the literal DICOM header of
# every DICOM output holds "DICM".  Every copy is damaged, live or not:
# LMDB keeps old copies on free pages, and damaging only the first "DICM"
# found may hit one of those and no live record.
"$PYTHON" - "$db" <<'PY' || fail "could not damage a record"
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"DICM")
if i < 0:
    sys.exit(1)
while i >= 0:
    b[i + 8] ^= 0xFF
    i = b.find(b"DICM", i + 9)
open(p, "r+b").write(b)
PY
fs_mount "$SRC" "$MNT"
fs_sums "$MNT" | diff - "$T/want" >/dev/null || fail "wrong bytes with a damaged record"
[ "$(fs_counter "$MNT" cache_corrupt)" -gt 0 ] || fail "the damaged record was not detected"
fs_umount "$MNT"
fs_mount "$SRC" "$MNT"
fs_sums "$MNT" | diff - "$T/want" >/dev/null || fail "wrong bytes after the damaged record"
[ "$(fs_counter "$MNT" cache_corrupt)" = 0 ] || fail "the damaged record was not replaced"
fs_umount "$MNT"
ok "a damaged cache record is detected, dropped and replaced"

# --- a truncated cache file -----------------------------------------------------
gen=$(cat "$CACHE/current")
truncate -s 8192 "$CACHE/env.$gen/data.mdb"
fs_mount "$SRC" "$MNT"
fs_sums "$MNT" | diff - "$T/want" >/dev/null || fail "wrong bytes with a truncated cache"
[ "$(fs_counter "$MNT" cache_generation)" -gt "$gen" ] || fail "the truncated cache was not rebuilt"
fs_umount "$MNT"
ok "a truncated cache file is detected and the cache rebuilt"
echo PASS
