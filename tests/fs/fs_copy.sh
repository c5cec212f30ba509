#!/bin/bash
# fs_copy.sh: ordinary tools copy the view: `cp -a` and `rsync -a` of the
# mount equal `deid materialize` (names, bytes, file modes and mtimes); a
# second rsync transfers nothing; after touching one source file, rsync
# transfers exactly that file.
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

SRC=$T/src MNT=$T/mnt
fs_make_tree "$SRC"
fs_make_ct "$SRC/CT_SERIES_20190304" 20 256 256
"$DEID" materialize "$SRC" "$T/mat" -p "$POLICY" --key-file "$KEYFILE" -q >/dev/null ||
	note "deid materialize exit $? (files hidden for error reasons)"

# file modes and mtimes; directory mtimes below the top (materialize does
# not stamp DEST itself; directory modes differ: 0755 there, 0555 here)
meta() { (cd "$1" && find . -mindepth 1 \( -type f -printf '%P f %m %T@ %s\n' \) -o \( -type d -printf '%P d %T@\n' \) | sort); }

fs_mount "$SRC" "$MNT" ",attr_timeout=0.3"
cp -a "$MNT/." "$T/cpa" || fail "cp -a of the mount"
diff -r "$T/mat" "$T/cpa" >/dev/null || fail "cp -a copy != deid materialize"
diff <(meta "$T/mat") <(meta "$T/cpa") || fail "cp -a: modes/mtimes differ from deid materialize"
ok "cp -a of the mount equals deid materialize (names, bytes, modes, mtimes)"

rsync -a "$MNT/" "$T/rs/" || fail "rsync -a of the mount"
diff -r "$T/mat" "$T/rs" >/dev/null || fail "rsync copy != deid materialize"
diff <(meta "$T/mat") <(meta "$T/rs") || fail "rsync: modes/mtimes differ from deid materialize"
ok "rsync -a of the mount equals deid materialize"

out=$(rsync -a --itemize-changes "$MNT/" "$T/rs/") || fail "second rsync"
[ -z "$out" ] || { echo "$out" | head; fail "a second rsync -a transferred something"; }
ok "a second rsync -a transfers nothing"

# touch one visible source file: its identity (mtime, ctime) changes, so
# its view mtime changes, and rsync's quick check picks up exactly it
victim=$(cd "$SRC" && find CT_SERIES_20190304 -type f | sort | sed -n 5p)
before=$(meta "$MNT")
sleep 1.1 # a new mtime second in the source
touch "$SRC/$victim"
sleep 0.5 # attr_timeout=0.3: the kernel asks again
after=$(meta "$MNT")
nchanged=$(diff <(echo "$before") <(echo "$after") | grep -c '^>' || true)
[ "$nchanged" = 1 ] || fail "touching one source file changed $nchanged view entries"
out=$(rsync -a --itemize-changes --stats "$MNT/" "$T/rs/") || fail "third rsync"
nfiles=$(echo "$out" | grep -c '^>f' || true)
[ "$nfiles" = 1 ] || { echo "$out"; fail "rsync transferred $nfiles files after one touch, expected 1"; }
echo "$out" | grep -q 'Number of regular files transferred: 1' || fail "rsync --stats"
echo "$out" | grep '^>f' | grep -q '>f..t' || fail "not a time-only change: $(echo "$out" | grep '^>f')"
rm -rf "$T/mat2"
"$DEID" materialize "$SRC" "$T/mat2" -p "$POLICY" --key-file "$KEYFILE" -q >/dev/null
diff -r "$T/mat2" "$T/rs" >/dev/null || fail "after the touch, rsync copy != deid materialize"
ok "after touching one source file rsync transfers exactly that file"
fs_umount "$MNT"
echo PASS
