#!/bin/bash
# fs_smoke.sh: mount a generated tree and check the view through the kernel:
# names, sizes, bytes (against `deid file` and `deid materialize`), hidden
# files, no PHI in paths, EROFS, timestamps, owner/modes, negative lookups,
# counters, options, a bad policy, the mount helper.  (fs_source.sh checks
# that the source stays unchanged.)
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

SRC=$T/src MNT=$T/mnt
fs_make_tree "$SRC"

# --- command line ----------------------------------------------------------
"$DEIDFS" --help >"$T/help.txt" || fail "--help exit status"
grep -q 'policy=FILE' "$T/help.txt" || fail "--help does not describe policy="
grep -q 'notify_pipe' "$T/help.txt" || fail "--help does not describe notify_pipe="
"$DEIDFS" --version >"$T/version.txt" && grep -q "^deidfs " "$T/version.txt" || fail "--version"
ok "--help, --version"

printf '{"dicom": {"filterProfile": "NO_SUCH_PROFILE"}, "bogus": 1}\n' >"$T/bad.json"
mkfifo "$T/tmp/badfifo"
"$DEIDFS" "$SRC" "$MNT" -f -o "policy=$T/bad.json,key=$KEYFILE,notify_pipe=$T/tmp/badfifo" \
	2>"$T/bad.log" &
bad_pid=$!
read -r -t 60 -n 1 c <"$T/tmp/badfifo"
wait "$bad_pid"
bad_rc=$?
[ "$bad_rc" = 1 ] || fail "bad policy: exit $bad_rc, expected 1"
[ "${c:-}" = f ] || fail "bad policy: notify pipe says '${c:-}', expected f"
grep -q 'error:' "$T/bad.log" || fail "bad policy: no diagnostics printed"
mountpoint -q "$MNT" && fail "bad policy: mounted anyway"
ok "a bad policy is refused with its diagnostics, exit 1, notify f"

# --- mount -------------------------------------------------------------------
fs_mount "$SRC" "$MNT"
find "$MNT" >"$T/find.txt" || fail "find through the mount"
ls -lR "$MNT" >"$T/ls.txt" || fail "ls -lR through the mount"
nfiles=$(find "$MNT" -type f | wc -l)
ok "find and ls -lR ($nfiles files, $(find "$MNT" -type d | wc -l) directories)"

"$PYTHON" "$FS_LIB_DIR/fs_check.py" sizes "$MNT" || fail "sizes"
ok "stat sizes equal bytes read"

# every visible file is exactly `deid file`'s output of one source file:
# the multisets of checksums are equal (this needs no name mapping)
: >"$T/deid_file_sums"
: >"$T/visible_src"
n_hidden=0
while IFS= read -r -d '' f; do
	rc=0
	"$DEID" file "$SRC/$f" "$T/tmp/out" -p "$POLICY" --key-file "$KEYFILE" --src "$SRC" \
		2>>"$T/deid_file.log" || rc=$?
	# 0: served; 3: hidden; 1 with "hidden (": hidden for an error reason
	case $rc in
	0) sha256sum <"$T/tmp/out" | awk '{print $1}' >>"$T/deid_file_sums"
	   printf '%s\n' "$f" >>"$T/visible_src"
	   rm -f "$T/tmp/out" ;;
	3) n_hidden=$((n_hidden + 1)) ;;
	1) tail -1 "$T/deid_file.log" | grep -q 'hidden (' || fail "deid file $f: exit 1"
	   n_hidden=$((n_hidden + 1)) ;;
	*) fail "deid file $f: exit $rc" ;;
	esac
done < <(fs_src_files "$SRC")
sort -o "$T/deid_file_sums" "$T/deid_file_sums"
fs_sums "$MNT" >"$T/mnt_sums"
diff "$T/deid_file_sums" "$T/mnt_sums" >/dev/null ||
	fail "the view's files are not exactly deid file's outputs ($(wc -l <"$T/mnt_sums") in the view, $(wc -l <"$T/deid_file_sums") from deid file)"
ok "every visible file is cmp-equal to deid file's output ($nfiles visible, $n_hidden hidden)"

# the expected visible set: the four DICOM files, the generator's DICOM,
# the FHIR files iff the FHIR engine claims them; nothing else
for f in DOE_JOHN_12345678/20190304_CT/IMG0001.dcm SMITH_JANE_987654/MR_HEAD/1.2.840.1234.dcm \
	SMITH_JANE_987654/MR_HEAD/img_002 SMITH_JANE_987654/MR_HEAD/sub/IM3; do
	[ -f "$SRC/$f" ] || continue
	grep -qxF "./$f" "$T/visible_src" || fail "DICOM $f is not in the view"
done
for f in DOE_JOHN_12345678/notes.txt SMITH_JANE_987654/junk.bin empty_file; do
	grep -qxF "./$f" "$T/visible_src" && fail "junk $f is in the view"
done
if [ "$FS_HAVE_GEN" = 1 ]; then
	ngen=$(grep -c '^\./sample/.*\.dcm$' "$T/visible_src" || true)
	[ "$ngen" -gt 0 ] || fail "no DICOM of deid-gen's sample is in the view"
fi
if grep -qxF ./DOE_JOHN_12345678/patient.json "$T/visible_src"; then
	note "FHIR engine present: FHIR files are in the view"
else
	note "FHIR files hidden: no FHIR engine claims them in this build"
fi
ok "the visible set is the expected one"

"$DEID" materialize "$SRC" "$T/mat" -p "$POLICY" --key-file "$KEYFILE" -q >/dev/null ||
	note "deid materialize exit $? (files hidden for error reasons)"
diff -r "$T/mat" "$MNT" >"$T/diff.txt" || { head "$T/diff.txt"; fail "mount != deid materialize"; }
(cd "$T/mat" && find . | sort) >"$T/mat_names"
(cd "$MNT" && find . | sort) >"$T/mnt_names"
diff "$T/mat_names" "$T/mnt_names" >/dev/null || fail "names differ from deid materialize"
ok "names and bytes equal deid materialize"

# and the generator's: every token (>= 3 characters) of its patient
# directories (NAME_NAME_ID), and the dates/numbers (>= 4 digits) of the level below
phi=$FS_PHI_TOKENS
if [ "$FS_HAVE_GEN" = 1 ]; then
	phi+=" $(cd "$SRC/sample" && find . -mindepth 1 -maxdepth 1 -type d -printf '%P\n' |
		grep -E '_[0-9]{4,}$' | tr '_' '\n' | awk 'length($0) >= 3')"
	phi+=" $(cd "$SRC/sample" && find . -mindepth 2 -maxdepth 2 -type d -printf '%f\n' |
		tr '_' '\n' | grep -E '^[0-9]{4,}$')"
fi
for tok in $phi; do
	if grep -iF -- "$tok" "$T/find.txt" | sed "s|^$MNT||" | grep -qiF -- "$tok"; then
		fail "a view path contains the PHI token $tok"
	fi
done
ok "no PHI-bearing name component in any path"

[ -z "$(find "$MNT" -iname DICOMDIR)" ] || fail "DICOMDIR is visible"
[ -z "$(find "$MNT" -name '.*' ! -path "$MNT")" ] || fail "a dot file is visible"
[ -z "$(find "$MNT" ! -type f ! -type d)" ] || fail "a symlink/fifo is visible"
ok "junk, DICOMDIR, dot files, symlinks, FIFOs hidden"

"$PYTHON" "$FS_LIB_DIR/fs_check.py" erofs "$MNT" || fail "erofs"
touch "$MNT/x" 2>/dev/null && fail "touch succeeded"
mkdir "$MNT/d" 2>/dev/null && fail "mkdir succeeded"
rm -f "$(find "$MNT" -type f | head -1)" 2>/dev/null && fail "rm succeeded"
ok "writes fail with EROFS (touch, mkdir, rm, open O_WRONLY, ...)"

"$PYTHON" "$FS_LIB_DIR/fs_check.py" times "$SRC" "$MNT" || fail "timestamps"
"$PYTHON" "$FS_LIB_DIR/fs_check.py" attrs "$MNT" "$(id -u)" "$(id -g)" 0 || fail "attrs"
ok "view timestamps, owner and modes"

for i in 1 2; do
	stat "$MNT/no_such_name" >/dev/null 2>&1 && fail "a missing name exists"
	stat "$MNT/DOE_JOHN_12345678" >/dev/null 2>&1 && fail "a source name resolves"
done
ok "missing names (twice) and source names give ENOENT"

"$PYTHON" "$FS_LIB_DIR/fs_check.py" counters "$MNT" || fail "counters"
"$DEID" report "$MNT" >"$T/report.txt" || fail "deid report"
grep -q 'files served' "$T/report.txt" || fail "deid report output"
"$DEID" report "$MNT" --json | "$PYTHON" -c 'import json,sys; json.load(sys.stdin)' ||
	fail "deid report --json"
"$DEID" report "$T" >/dev/null 2>&1 && fail "deid report on a non-mount succeeded"
ok "counters xattr (unlisted), deid report"

fs_umount "$MNT"
ok "clean unmount (fusermount3 -u): exit 0"

fs_mount "$SRC" "$MNT"
ls "$MNT" >/dev/null || fail "ls"
kill -TERM "$FS_PID"
wait "$FS_PID"
rc=$?
[ "$rc" = 0 ] || fail "deidfs exited with $rc after SIGTERM"
mountpoint -q "$MNT" && fail "still mounted after SIGTERM"
ok "clean unmount on SIGTERM: exit 0"

# --- options: uid, gid, umask, preset ------------------------------------------
fs_mount "$SRC" "$MNT" ",uid=1234,gid=4321,umask=027,attr_timeout=0.5"
"$PYTHON" "$FS_LIB_DIR/fs_check.py" attrs "$MNT" 1234 4321 027 || fail "uid/gid/umask"
fs_umount "$MNT"
mkfifo "$T/tmp/pfifo"
"$DEIDFS" "$SRC" "$MNT" -f -o "preset=safe-harbor,key=$KEYFILE,cache=$CACHE,notify_pipe=$T/tmp/pfifo" \
	2>>"$T/daemon.log" &
FS_PID=$!
FS_PIDS+=("$FS_PID")
read -r -t 60 -n 1 c <"$T/tmp/pfifo"
[ "${c:-}" = s ] || fail "preset=safe-harbor did not mount"
find "$MNT" -type f | head -1 | xargs -r cat >/dev/null || fail "read with a preset"
fs_umount "$MNT"
ok "uid=, gid=, umask=, attr_timeout=, preset="

# --- listing_cache: listings evicted (LRU) and rebuilt -------------------------
# With room for at most one small listing, every directory's listing is
# dropped and rebuilt as others are used: the view (names, sizes, inode
# numbers, bytes) must be the same as with the default, and files opened
# before their directory's listing was dropped still read.
view_state() { # MNT -> "path size inode sha256" lines, sorted
	(cd "$1" && find . -type f -printf '%P %s %i ' -exec sh -c 'sha256sum <"$1" | cut -c1-64' sh {} \;) | sort
}
fs_mount "$SRC" "$MNT"
view_state "$MNT" >"$T/view_default.txt" || fail "view with the default listing cache"
fs_umount "$MNT"
fs_mount "$SRC" "$MNT" ",listing_cache=1"
first=$(find "$MNT" -type f | head -1)
exec 7<"$first" || fail "open $first"
view_state "$MNT" >"$T/view_small.txt" || fail "view with listing_cache=1"
ls -lR "$MNT" >/dev/null || fail "ls -lR with listing_cache=1"
view_state "$MNT" >"$T/view_small2.txt" || fail "second view with listing_cache=1"
cmp -s <(cat <&7 | sha256sum | cut -c1-64) <(sha256sum <"$first" | cut -c1-64) ||
	fail "a file opened before its listing was evicted reads differently"
exec 7<&-
[ -s "$T/view_default.txt" ] || fail "empty view"
diff "$T/view_default.txt" "$T/view_small.txt" >&2 || fail "listing_cache=1 changes the view"
diff "$T/view_default.txt" "$T/view_small2.txt" >&2 || fail "listing_cache=1: a second pass differs"
ev=$(fs_counter "$MNT" listing_evictions)
[ "${ev:-0}" -gt 0 ] || fail "listing_cache=1: no listing was evicted (listing_evictions ${ev:-none})"
fs_umount "$MNT"
ok "listing_cache=1: $ev listings evicted and rebuilt, same names, sizes, inodes and bytes"

# --- read_ahead_kb: the mount's read-ahead, set at the first open --------------
# The daemon finds its mount in /proc/self/mountinfo (the mount point here
# has a space, which mountinfo writes as \040) and writes the bdi's
# read_ahead_kb after the INIT reply; only root may.
ra_of() { cat "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"; }
if [ "$(id -u)" = 0 ]; then
	RMNT="$T/mnt ra"
	mkdir -p "$RMNT"
	for opt in "" ",read_ahead_kb=512" ",read_ahead_kb=0"; do
		fs_mount "$SRC" "$RMNT" "$opt"
		before=$(ra_of "$RMNT") || fail "no bdi for the mount"
		find "$RMNT" -type f | head -1 | xargs -r -d '\n' cat >/dev/null ||
			fail "read ($opt)"
		after=$(ra_of "$RMNT")
		case $opt in
		"") want=4096 ;;
		*=512) want=512 ;;
		*) want=$before ;;
		esac
		[ "$after" = "$want" ] ||
			fail "read_ahead_kb${opt:+ ($opt)}: $after KiB after the first open (before: $before), want $want"
		fs_umount "$RMNT"
	done
	ok "read_ahead_kb: 4096 by default, 512 when asked, the kernel's ($before) with 0"
else
	note "not root: read_ahead_kb is not checked (writing sysfs needs root)"
fi

# --- mount(8): the fuse.deidfs type and an fstab line -------------------------
# mount(8) runs mount.fuse3 with PATH removed, so `mount -t fuse.deidfs`
# needs deidfs installed on the default PATH; here mount.fuse3 is run the
# way mount(8) runs it, and the fstab line names the binary ("PROG#SRC").
if [ "$(id -u)" = 0 ] && command -v mount.fuse3 >/dev/null; then
	mkdir -p "$T/mnt2" "$T/mnt3"
	FS_MOUNTS+=("$T/mnt2" "$T/mnt3")
	opts="policy=$POLICY,key=$KEYFILE,cache=$CACHE"
	PATH=$(dirname "$DEIDFS"):$PATH mount.fuse3 "$SRC" "$T/mnt2" \
		-o "rw,$opts,dev,suid" -t fuse.deidfs || fail "mount.fuse3 -t fuse.deidfs"
	diff -r "$T/mat" "$T/mnt2" >/dev/null || fail "fuse.deidfs mount: wrong view"
	grep -q " $T/mnt2 fuse.deidfs ro," /proc/mounts || fail "not a read-only fuse.deidfs mount"
	umount "$T/mnt2" || fail "umount"
	printf '%s#%s %s fuse %s,noauto 0 0\n' "$DEIDFS" "$SRC" "$T/mnt3" "$opts" >"$T/fstab"
	mount -T "$T/fstab" "$T/mnt3" || fail "mount from an fstab line"
	diff -r "$T/mat" "$T/mnt3" >/dev/null || fail "fstab mount: wrong view"
	umount "$T/mnt3" || fail "umount (fstab)"
	ok "mount.fuse3 SRC MNT -o rw,... -t fuse.deidfs (forced ro) and an fstab line"
else
	note "not root: mount(8) helper check skipped"
fi

echo "PASS"
