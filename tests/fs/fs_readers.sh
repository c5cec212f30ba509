#!/bin/bash
# fs_readers.sh: real readers through the mount: pydicom and dcmdump read
# every DICOM file; 8 parallel readers at random offsets get the same
# bytes as one sequential read (cold cache, then warm); 8 readers opening
# every file of a fresh mount at once (the first opens store files in the
# kernel's page cache: prefill) get the bytes of a mount without prefill,
# and make no READ request for them.
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

# prefill: the reference from a mount that never stores, then 8 readers
# racing for the first opens of every file
fs_mount "$SRC" "$MNT" ",prefill_kb=0"
"$PYTHON" "$FS_LIB_DIR/fs_check.py" digests "$MNT" >"$T/digests" || fail "digests"
[ "$(fs_counter "$MNT" prefills)" = 0 ] || fail "prefill_kb=0: files were stored"
fs_umount "$MNT"
n_small=$(awk '$2 > 0 && $2 <= 1048576' "$T/digests" | wc -l)
[ "$n_small" -gt 0 ] || fail "no file of at most 1 MiB to store"
fs_mount "$SRC" "$MNT"
timeout 120 "$PYTHON" "$FS_LIB_DIR/fs_check.py" first_opens "$MNT" 8 "$T/digests" ||
	fail "8 readers at the first opens (prefill)"
pf=$(fs_counter "$MNT" prefills) reads=$(fs_counter "$MNT" reads)
[ "$pf" = "$n_small" ] || fail "prefills $pf, want one per file of at most 1 MiB ($n_small)"
# every file is at most 1 MiB: each was read once, by its store, and the
# readers' reads were all served from the kernel's page cache
[ "$n_small" = "$(wc -l <"$T/digests")" ] && [ "$reads" != "$pf" ] &&
	fail "$reads reads for $pf stored files: READ requests were made"
fs_umount "$MNT"
ok "8 readers at the first opens of $pf files: prefilled once each, no READ, same bytes as without prefill"
echo PASS
