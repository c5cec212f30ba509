# fs_lib.sh: shared helpers of the real-mount tests (sourced, not run).
#
# Environment (tests/fs/meson.build sets it):
#   DEIDFS    the daemon          DEID      the deid CLI
#   DEID_GEN  deid-gen (optional: without it a small tree is written here)
#   DD_FS_TMP where to make work directories (default: $TMPDIR or /tmp)
#
# Every test gets a private work directory $T with src/ mnt/ tmp/ cache/,
# mounts with -o notify_pipe (no sleeping), and cleans up on exit: every
# mount it made is unmounted and every daemon it started is stopped by its
# pid.  Exit 77 (skip) only when /dev/fuse is missing or mounting is
# impossible here, with the reason printed.

set -u
set -o pipefail

: "${DEIDFS:?DEIDFS must name the deidfs binary}"
: "${DEID:?DEID must name the deid binary}"

PYTHON=${PYTHON:-python3}
if /usr/bin/python3 -c 'import pydicom' 2>/dev/null; then
	PYTHON=/usr/bin/python3
fi
FS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }
ok() { echo "ok - $*"; }

T=$(mktemp -d "${DD_FS_TMP:-${TMPDIR:-/tmp}}/deidfs-test.XXXXXX") ||
	fail "mktemp"
mkdir -p "$T/src" "$T/mnt" "$T/tmp" "$T/cache"
chmod 700 "$T/cache"
FS_PIDS=()
FS_MOUNTS=()
FS_TMPFS=()

fs_cleanup() {
	local m p
	for m in "${FS_MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null &&
			{ fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null; }
	done
	for p in "${FS_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${FS_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for m in "${FS_TMPFS[@]}"; do
		umount "$m" 2>/dev/null
	done
	[ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap fs_cleanup EXIT

# A fixed key (the tests compare the mount with deid's output, so both
# must use it) and the default policy written to a file.
KEYFILE=$T/key
printf 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n' >"$KEYFILE"
chmod 600 "$KEYFILE"
POLICY=$T/policy.json
"$DEID" policy default >"$POLICY" || fail "deid policy default"
CACHE=$T/cache
# deid's FHIR patient index (and anything else cached) stays in $T too
export DEIDFS_CACHE_DIR=$CACHE

# fs_src_tmpfs DIR: mount a strictatime tmpfs on DIR if we may (root), so
# that any atime change made through the daemon shows; returns 1 if not.
fs_src_tmpfs() {
	mount -t tmpfs -o strictatime,size=${2:-256m},mode=0755 deidfs-test "$1" 2>/dev/null ||
		return 1
	FS_TMPFS+=("$1")
}

fs_check_fuse() {
	[ -e /dev/fuse ] || skip "/dev/fuse is missing"
	command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
}

# fs_mount SRC MNT [EXTRA_OPTS]: start deidfs in the foreground (in the
# background of this shell), wait for its notify pipe.  Sets FS_PID.
# Skips the test if the kernel refuses to mount at all.
fs_mount() {
	local src=$1 mnt=$2 extra=${3:-} fifo c=
	fifo=$(mktemp -u "$T/tmp/notify.XXXXXX")
	mkfifo "$fifo" || fail "mkfifo"
	"$DEIDFS" "$src" "$mnt" -f \
		-o "policy=$POLICY,key=$KEYFILE,cache=$CACHE,notify_pipe=$fifo$extra" \
		2>>"$T/daemon.log" &
	FS_PID=$!
	FS_PIDS+=("$FS_PID")
	FS_MOUNTS+=("$mnt")
	read -r -t 120 -n 1 c <"$fifo"
	rm -f "$fifo"
	if [ "$c" != s ]; then
		if grep -qE 'device not found|Operation not permitted|fuse: failed to open|Permission denied' "$T/daemon.log"; then
			cat "$T/daemon.log" >&2
			skip "mounting is impossible here (see the daemon's message)"
		fi
		cat "$T/daemon.log" >&2
		fail "deidfs did not mount $mnt (notify: '${c:-nothing}')"
	fi
}

# fs_umount MNT: clean unmount; waits for the daemon to exit.
fs_umount() {
	fusermount3 -u "$1" || fail "fusermount3 -u $1"
	wait "$FS_PID" 2>/dev/null
	local rc=$?
	[ "$rc" = 0 ] || fail "deidfs exited with $rc after unmount"
}

# fs_gen_dicom OUT: one small valid DICOM file, from deid-gen if present,
# else from pydicom's test data.
FS_PYD=/usr/lib/python3/dist-packages/pydicom/data/test_files

# fs_make_tree DIR: DICOM (deid-gen sample, or pydicom test files), FHIR,
# junk, DICOMDIR, dot files, a FIFO, symlinks, an empty directory, and
# names full of (fake) PHI: DOE_JOHN_12345678/20190304_CT/.
fs_make_tree() {
	local d=$1 gen=${DEID_GEN:-}
	mkdir -p "$d"
	if [ -n "$gen" ] && [ -x "$gen" ]; then
		"$gen" sample "$d/sample" >/dev/null || fail "deid-gen sample"
		FS_HAVE_GEN=1
	else
		FS_HAVE_GEN=0
	fi
	mkdir -p "$d/DOE_JOHN_12345678/20190304_CT" "$d/SMITH_JANE_987654/MR_HEAD" \
		"$d/empty_dir" "$d/SMITH_JANE_987654/MR_HEAD/sub"
	if [ -d "$FS_PYD" ]; then
		cp "$FS_PYD/CT_small.dcm" "$d/DOE_JOHN_12345678/20190304_CT/IMG0001.dcm"
		cp "$FS_PYD/MR_small.dcm" "$d/SMITH_JANE_987654/MR_HEAD/1.2.840.1234.dcm"
		cp "$FS_PYD/MR_small_implicit.dcm" "$d/SMITH_JANE_987654/MR_HEAD/img_002"
		cp "$FS_PYD/MR_small.dcm" "$d/SMITH_JANE_987654/MR_HEAD/sub/IM3"
		# a DICOMDIR with DICOM content: hidden by name
		cp "$FS_PYD/CT_small.dcm" "$d/DOE_JOHN_12345678/DICOMDIR"
	elif [ "$FS_HAVE_GEN" = 0 ]; then
		skip "neither deid-gen nor pydicom's test files are available"
	fi
	printf 'Patient DOE, JOHN called on 2019-03-04\n' >"$d/DOE_JOHN_12345678/notes.txt"
	head -c 4096 /dev/urandom >"$d/SMITH_JANE_987654/junk.bin"
	: >"$d/empty_file"
	printf '{"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["John"]}], "birthDate": "1950-01-02"}\n' \
		>"$d/DOE_JOHN_12345678/patient.json"
	printf '{"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}}\n' \
		>"$d/DOE_JOHN_12345678/obs.ndjson"
	printf 'secret\n' >"$d/.hidden_file"
	ln -s /etc/passwd "$d/link_out"
	ln -s DOE_JOHN_12345678/notes.txt "$d/link_in"
	ln -s DOE_JOHN_12345678 "$d/link_dir"
	mkfifo "$d/a_fifo"
}

# PHI tokens of the names above: none may appear in a view path.
FS_PHI_TOKENS="DOE JOHN 12345678 20190304 SMITH JANE 987654 1.2.840.1234 notes secret"

# fs_src_files SRC: the regular files a view could show (not dot files,
# not DICOMDIR, no symlinks), NUL-separated.
fs_src_files() {
	(cd "$1" && find . -type f ! -name '.*' ! -iname DICOMDIR -print0)
}

# fs_sums DIR: sorted "sha256" of every regular file under DIR.
fs_sums() {
	(cd "$1" && find . -type f -print0 | xargs -0 -r sha256sum | awk '{print $1}' | sort)
}

# fs_tree_state DIR: type, size, mode, mtime, atime, ctime, inode and
# sha256 of every entry, read with O_NOATIME so taking the state does not
# change it (for "the source is unchanged").
fs_tree_state() {
	"$PYTHON" "$FS_LIB_DIR/fs_tree_state.py" "$1"
}

# fs_make_ct DIR COUNT ROWS COLS: uncompressed CT slices (deid-gen ct, or
# pydicom when deid-gen is not built).
fs_make_ct() {
	local gen=${DEID_GEN:-}
	if [ -n "$gen" ] && [ -x "$gen" ]; then
		"$gen" ct "$1" --count "$2" --rows "$3" --cols "$4" >/dev/null ||
			fail "deid-gen ct"
	else
		"$PYTHON" "$FS_LIB_DIR/fs_mkdicom.py" "$1" "$2" "$3" "$4" ||
			fail "fs_mkdicom.py (needs pydicom)"
	fi
}

# fs_counter MNT NAME: one number of the counters xattr.
fs_counter() {
	"$PYTHON" -c 'import json,os,sys; print(json.loads(os.getxattr(sys.argv[1], "user.deidfs.counters"))[sys.argv[2]])' "$1" "$2"
}
