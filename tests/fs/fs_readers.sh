#!/bin/bash
# fs_readers.sh: real readers through the mount: pydicom and dcmdump read
# every DICOM file; 8 parallel readers at random offsets get the same
# bytes as one sequential read (cold cache, then warm).
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

SRC=$T/src MNT=$T/mnt
fs_make_tree "$SRC"
fs_make_ct "$SRC/CT_SERIES" 16 512 512

fs_mount "$SRC" "$MNT"
"$PYTHON" -c 'import pydicom' 2>/dev/null || skip "pydicom is not installed"
"$PYTHON" "$FS_LIB_DIR/fs_check.py" pydicom "$MNT" || fail "pydicom"
ok "pydicom reads every DICOM file"

if command -v dcmdump >/dev/null; then
	n=0
	while IFS= read -r -d '' f; do
		[ "$(head -c 132 "$f" | tail -c 4)" = DICM ] || continue
		dcmdump -q +E "$f" >/dev/null 2>"$T/dcmdump.err" ||
			{ cat "$T/dcmdump.err"; fail "dcmdump: $f"; }
		n=$((n + 1))
	done < <(find "$MNT" -type f -print0)
	[ "$n" -gt 0 ] || fail "no DICOM file for dcmdump"
	ok "dcmdump reads $n DICOM files"
else
	note "dcmdump not installed"
fi
fs_umount "$MNT"

# cold: a fresh mount, readers start before anything is cached
rm -rf "$CACHE"/*
fs_mount "$SRC" "$MNT"
"$PYTHON" "$FS_LIB_DIR/fs_check.py" readers "$MNT" 8 4 || fail "parallel readers (cold)"
fs_umount "$MNT"
fs_mount "$SRC" "$MNT"
"$PYTHON" "$FS_LIB_DIR/fs_check.py" readers "$MNT" 8 3 || fail "parallel readers (warm)"
[ "$(fs_counter "$MNT" cache_hits)" -gt 0 ] || fail "no cache hit on a warm mount"
for c in transform_errors read_errors changed_during_read open_errors; do
	[ "$(fs_counter "$MNT" $c)" = 0 ] || fail "the daemon counted $c"
done
fs_umount "$MNT"
ok "8 parallel random readers == sequential read (cold and warm)"
echo PASS
