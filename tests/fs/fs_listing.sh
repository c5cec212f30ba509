#!/bin/bash
# fs_listing.sh: the kernel's copy of a directory listing (FOPEN_CACHE_DIR).
#  - a listing read again within attr_timeout is answered by the kernel
#    from its copy: no READDIR reaches the daemon, same names;
#  - past attr_timeout the daemon re-checks the directory and the kernel
#    reads it again: a file rewritten in place into something hidden (the
#    directory's mtime does not change), a hidden file rewritten into a
#    DICOM file, a file added and one removed all show in the next
#    listing, which equals the listing of a fresh mount.
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

SRC=$T/src MNT=$T/mnt
fs_make_tree "$SRC"
[ -d "$FS_PYD" ] || skip "pydicom's test files are needed for the rewrites"
D=$SRC/DOE_JOHN_12345678/20190304_CT
cp "$FS_PYD/MR_small.dcm" "$D/IMG0002.dcm"
cp "$FS_PYD/CT_small.dcm" "$D/IMG0003.dcm"
: >"$D/gone_later.bin" # hidden (empty)
cp "$FS_PYD/CT_small.dcm" "$D/IMG0004.dcm"

names() { (cd "$1" && find . | sort); }
readdirs() { fs_counter "$MNT" readdirs; }

# 1. within attr_timeout: the kernel's copy
fs_mount "$SRC" "$MNT" ",attr_timeout=60"
names "$MNT" >"$T/l1" || fail "find through the mount"
r1=$(readdirs)
[ "$r1" -gt 0 ] || fail "no READDIR on the first listing"
names "$MNT" >"$T/l2" || fail "find through the mount, again"
ls -laR "$MNT" >/dev/null || fail "ls -laR"
r2=$(readdirs)
diff "$T/l1" "$T/l2" || fail "the second listing differs"
[ "$r2" = "$r1" ] || fail "listing again sent $((r2 - r1)) READDIRs (want 0)"
kept=$(fs_counter "$MNT" dir_cache_kept)
[ "$kept" -gt 0 ] || fail "dir_cache_kept is $kept"
fs_umount "$MNT"
ok "a listing read again within attr_timeout comes from the kernel's copy ($r1 READDIRs first, none after; $kept opendirs kept it)"

# 2. past attr_timeout: what changed shows
fs_mount "$SRC" "$MNT" ",attr_timeout=0.3"
names "$MNT" >"$T/before" || fail "find through the mount"
r1=$(readdirs)
# in place (same inode, the directory's mtime unchanged): a DICOM file
# becomes junk, and a hidden junk file becomes a DICOM file
dmt=$(stat -c %Y.%y "$D")
head -c 3000 /dev/urandom >"$D/IMG0002.dcm"
cat "$FS_PYD/MR_small.dcm" >"$SRC/SMITH_JANE_987654/junk.bin"
[ "$(stat -c %Y.%y "$D")" = "$dmt" ] || fail "the test's in-place rewrite changed the directory"
sleep 0.5
names "$MNT" >"$T/inplace" || fail "find after the in-place rewrites"
[ "$(wc -l <"$T/inplace")" = "$(wc -l <"$T/before")" ] ||
	fail "want one file hidden and one shown: $(diff "$T/before" "$T/inplace")"
diff -q "$T/before" "$T/inplace" >/dev/null && fail "the in-place rewrites do not show"
# added and removed
cp "$FS_PYD/CT_small.dcm" "$D/IMG0005.dcm"
rm "$D/IMG0003.dcm" "$D/gone_later.bin"
sleep 0.5
names "$MNT" >"$T/after" || fail "find after the additions"
r2=$(readdirs)
[ "$r2" -gt "$r1" ] || fail "no READDIR past attr_timeout"
fs_umount "$MNT"

MNT2=$T/mnt2
mkdir -p "$MNT2"
fs_mount "$SRC" "$MNT2" ""
names "$MNT2" >"$T/fresh" || fail "find through a fresh mount"
fs_umount "$MNT2"
diff "$T/after" "$T/fresh" || fail "past attr_timeout the listing differs from a fresh mount's"
diff -q "$T/inplace" "$T/after" >/dev/null && fail "the added and removed files do not show"
ok "past attr_timeout a listing shows in-place rewrites (shown <-> hidden), added and removed files, as a fresh mount does"
