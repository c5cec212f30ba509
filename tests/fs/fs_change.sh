#!/bin/bash
# fs_change.sh: a source file changes while a reader holds its view open.
#  - replaced by rename: the reader's open pinned the old source; its
#    reads return the old bytes or EIO (the rename changes the old file's
#    ctime -- its link count -- and identity includes ctime, since mtime
#    alone can be reset with utimensat), never a mix;
#  - rewritten in place: every read returns the old bytes or fails with
#    EIO, never new bytes; at least one EIO shows the change was caught;
#  - in both cases the next open sees the new content (== deid file).
# Twice: a 2 MiB file (read through READ requests) and a 128 KiB one
# (stored whole in the kernel's page cache at its first open: prefill).
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

SRC=$T/src MNT=$T/mnt
mkdir -p "$SRC"

# change_while_open NAME ROWS COLS PREFILLS: SRC/NAME/ct.dcm alone in its
# directory (readahead must not cover it); PREFILLS: the prefills counter
# wanted after the first open (0: the file is larger than prefill_kb)
# Python prepended to the checks below: pread @fd in @step blocks from
# @start; every read must give @old's bytes or fail with EIO (never a
# mix); returns (reads of old bytes, EIO count).
PY_OLD_OR_EIO='
import errno, os, sys
def old_or_eio(fd, old, start, step, what):
    good = eio = 0
    for off in range(start, len(old), step):
        try:
            got = os.pread(fd, step, off)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            eio += 1
            continue
        if got != old[off:off + len(got)]:
            print("FAIL: %s at %d" % (what, off)); sys.exit(1)
        good += 1
    return good, eio
'

change_while_open() {
	local name=$1 rows=$2 cols=$3 want_pf=$4 ct1 ct2 view mode
	fs_make_ct "$T/gen.$name" 2 "$rows" "$cols"
	mkdir -p "$SRC/$name"
	ct1=$(find "$T/gen.$name" -type f -name '*.dcm' | sort | sed -n 1p)
	ct2=$(find "$T/gen.$name" -type f -name '*.dcm' | sort | sed -n 2p)
	cp "$ct1" "$SRC/$name/ct.dcm"
	# the "new" content: a different image, same size (in place) / any size
	cp "$ct2" "$T/new.dcm"
	"$DEID" file "$T/new.dcm" "$T/new.view" -p "$POLICY" --key-file "$KEYFILE" ||
		fail "deid file of the new content"
	cmp -s "$SRC/$name/ct.dcm" "$T/new.dcm" && fail "old and new content are equal"

	fs_mount "$SRC" "$MNT" ",attr_timeout=0.2"
	view=$(find "$MNT" -type f)
	[ "$(echo "$view" | wc -l)" = 1 ] || fail "expected one view file, got: $view"

	for mode in rename inplace; do
		cp "$ct1" "$SRC/$name/ct.dcm.tmp"
		mv "$SRC/$name/ct.dcm.tmp" "$SRC/$name/ct.dcm"
		sleep 0.3
		{ echo "$PY_OLD_OR_EIO"; cat <<'PY'; } | "$PYTHON" - "$view" "$SRC/$name/ct.dcm" "$T/new.dcm" "$T/new.view" "$mode" || fail "change while open ($name, $mode)"
import errno, os, shutil, sys, time
view, src, new, new_view, mode = sys.argv[1:]
old = open(view, "rb").read()
fd = os.open(view, os.O_RDONLY)
assert os.pread(fd, 4096, 0) == old[:4096]
if mode == "rename":
    shutil.copyfile(new, src + ".tmp")
    os.rename(src + ".tmp", src)
else:
    data = open(new, "rb").read()
    with open(src, "r+b") as f:
        f.write(data)
        f.truncate(len(data))
# drop what the kernel cached, so reads reach the daemon
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
good, eio = old_or_eio(fd, old, 4096, 65536, mode + ": mixed bytes")
os.close(fd)
if mode == "inplace" and not eio:
    print("FAIL: inplace: every read returned old bytes: change not detected"); sys.exit(1)
time.sleep(0.5)
if open(view, "rb").read() != open(new_view, "rb").read():
    print("FAIL: %s: the next open does not see the new content" % mode); sys.exit(1)
print("# %s: %d reads of old bytes, %d EIO, next open new" % (mode, good, eio))
PY
		if [ "$mode" = rename ] && [ "$(fs_counter "$MNT" prefills)" != "$want_pf" ]; then
			fail "$name: prefills $(fs_counter "$MNT" prefills) after the first open, want $want_pf"
		fi
	done
	[ "$(fs_counter "$MNT" changed_during_read)" -gt 0 ] || fail "changed_during_read not counted"
	fs_umount "$MNT"
	rm -rf "$SRC/$name"
}

change_while_open large 1024 1024 0
ok "2 MiB source replaced or rewritten while open: old bytes or EIO, never a mix; next open sees the new content"
change_while_open small 256 256 1
ok "128 KiB source (stored at its first open) replaced or rewritten while open: old bytes or EIO, never a mix; next open sees the new content"

# A first open stores the file by splicing the source into the kernel's
# page cache and checks the source's identity after the copy.  The daemon
# pauses between the two ($DEIDFS_TEST_PREFILL_DELAY_US) while the source
# is rewritten in place: the check must see the change and drop the
# stored pages, so the reader gets EIO (the rewrite came after the copy:
# the pages hold old bytes, but a check made before the copy would let
# them through unnoticed, and one made during it could not tell them from
# mixed ones).
fs_make_ct "$T/gen.delay" 2 256 256
mkdir -p "$SRC/delay"
ct1=$(find "$T/gen.delay" -type f -name '*.dcm' | sort | sed -n 1p)
ct2=$(find "$T/gen.delay" -type f -name '*.dcm' | sort | sed -n 2p)
cp "$ct1" "$SRC/delay/ct.dcm"
"$DEID" file "$ct1" "$T/old.view" -p "$POLICY" --key-file "$KEYFILE" ||
	fail "deid file of the old content"
DEIDFS_TEST_PREFILL_DELAY_US=600000 fs_mount "$SRC" "$MNT"
view=$(find "$MNT" -type f)
{ echo "$PY_OLD_OR_EIO"; cat <<'PY'; } | "$PYTHON" - "$view" "$SRC/delay/ct.dcm" "$ct2" "$T/old.view" || fail "source rewritten between a prefill and its check"
import errno, os, sys, threading, time
view, src, new, old_view = sys.argv[1:]
old = open(old_view, "rb").read()
data = open(new, "rb").read()
def rewrite():
    time.sleep(0.3)  # the store is done, the check is not
    with open(src, "r+b") as f:
        f.write(data)
        f.truncate(len(data))
t = threading.Thread(target=rewrite)
t.start()
fd = os.open(view, os.O_RDONLY)  # the first open: store, pause, check
t.join()
good, eio = old_or_eio(fd, old, 0, 16384, "mixed or new bytes")
os.close(fd)
if good:
    print("FAIL: %d reads served the stored pages after the source changed" % good); sys.exit(1)
print("# %d reads, all EIO" % eio)
PY
[ "$(fs_counter "$MNT" prefills)" = 0 ] || fail "a prefill whose check failed was counted"
[ "$(fs_counter "$MNT" changed_during_read)" -gt 0 ] || fail "the change after the store was not counted"
fs_umount "$MNT"
ok "source rewritten after a prefill's copy, before its check: the stored pages are dropped, reads get EIO"
echo PASS
