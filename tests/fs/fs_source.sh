#!/bin/bash
# fs_source.sh: the source tree is unchanged by a mount that lists, stats
# and reads everything, twice (cold and warm cache), and is unmounted:
# content, sizes, modes, mtimes, ctimes, inode numbers -- and atimes.
#
# atime semantics: the source is put on a tmpfs mounted with strictatime
# (when we may mount one), where every read or directory listing that is
# not opened with O_NOATIME updates the atime.  deidfs opens sources with
# O_NOATIME where permitted (the owner of the file, or CAP_FOWNER), so as
# root or as the owner no atime may change.  Elsewhere (relatime, noatime)
# the atime check is weaker; the test says which mode it ran under.
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

SRC=$T/src MNT=$T/mnt
if fs_src_tmpfs "$SRC"; then
	note "source on a strictatime tmpfs"
else
	note "source on $(stat -f -c %T "$SRC") (not strictatime: atime check is weaker)"
fi
fs_make_tree "$SRC"
sleep 0.05 # the state must not share a timestamp tick with the writes
fs_tree_state "$SRC" >"$T/state0" || fail "tree state"

for pass in cold warm; do
	fs_mount "$SRC" "$MNT"
	find "$MNT" -type f -print0 | xargs -0 -r cat >/dev/null || fail "read ($pass)"
	ls -lR "$MNT" >/dev/null || fail "ls -lR ($pass)"
	fs_umount "$MNT"
done
fs_tree_state "$SRC" >"$T/state1" || fail "tree state"

if ! cmp -s "$T/state0" "$T/state1"; then
	# which fields changed?  columns: path mode size mtime atime ctime ino sha
	"$PYTHON" - "$T/state0" "$T/state1" <<'PY'
import sys
a = [l.split() for l in open(sys.argv[1])]
b = [l.split() for l in open(sys.argv[2])]
if [x[0] for x in a] != [x[0] for x in b]:
    print("FAIL: the set of source entries changed"); sys.exit(1)
bad = False
for x, y in zip(a, b):
    x_no_atime = x[:4] + x[5:]
    y_no_atime = y[:4] + y[5:]
    if x_no_atime != y_no_atime:
        print("FAIL: %s: content, size, mode, mtime or ctime changed" % x[0])
        bad = True
    elif x[4] != y[4]:
        kind = "directory" if x[1].startswith("4") else "file"
        print("FAIL: %s: atime changed (%s read without O_NOATIME)" % (x[0], kind))
        bad = True
sys.exit(1 if bad else 0)
PY
	fail "the source tree changed"
fi
ok "source unchanged after cold and warm passes: checksums, sizes, modes, mtimes, ctimes, atimes"
echo PASS
