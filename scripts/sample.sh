#!/bin/sh
# sample.sh: install, build, generate a small sample dataset with fake PHI,
# de-identify it with the default policy, and show the result: first with
# `deid materialize`, then through a deidfs mount of the same sample.
# The README's first command.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
S=${DD_SAMPLE_DIR:-_sample}
mkdir -p "$S"
S=$(cd "$S" && pwd)
MNT="$S/mnt"
if mountpoint -q "$MNT" 2>/dev/null; then fusermount3 -u "$MNT" || umount -l "$MNT"; fi
rm -rf "$S/src" "$S/out" "$S/cache"
# the sample gets its own key file (generated on first use, mode 0600) and
# its own cache, so nothing outside $S is touched
export DEIDFS_KEY_FILE="$S/deidfs.key"
export DEIDFS_CACHE_DIR="$S/cache"
build/tools/gen/deid-gen sample "$S/src" >/dev/null

echo "== source: $S/src (fake PHI in names and contents) =="
(cd "$S/src" && find . -type f | LC_ALL=C sort)
echo
echo "== deid materialize $S/src $S/out  (default policy) =="
rc=0
build/tools/deid materialize -q "$S/src" "$S/out" >"$S/summary.txt" 2>"$S/log.txt" || rc=$?
cat "$S/log.txt" "$S/summary.txt"
# The sample plants one truncated DICOM file: it must be hidden as
# dicom_parse (fail closed), which makes materialize exit 1.  Anything
# else is a real failure.
if [ "$rc" -ne 0 ]; then
	if [ "$rc" -eq 1 ] && grep -Eq '^ +dicom_parse +1 +\(error\)$' "$S/summary.txt" &&
	   [ "$(grep -c '(error)' "$S/summary.txt")" -eq 1 ]; then
		echo "(exit 1 expected: the sample's truncated DICOM file was hidden, not passed through)"
	else
		echo "sample: deid materialize failed (exit $rc)" >&2
		exit 1
	fi
fi
echo
echo "== de-identified view: $S/out =="
(cd "$S/out" && find . -type f | LC_ALL=C sort)
fhir=$(find "$S/out" -name 'Patient-*.json' | LC_ALL=C sort | head -1)
if [ -n "$fhir" ]; then
	echo
	echo "== ${fhir#"$S"/} =="
	jq -c . "$fhir"
fi

if [ -e /dev/fuse ] && [ -x build/fs/deidfs ]; then
	echo
	echo "== deidfs $S/src $MNT  (the same view, mounted read-only) =="
	mkdir -p "$MNT"
	fifo="$S/ready.fifo"
	rm -f "$fifo"
	mkfifo "$fifo"
	build/fs/deidfs "$S/src" "$MNT" -o "notify_pipe=$fifo"
	ready=$(head -c 1 "$fifo")
	rm -f "$fifo"
	if [ "$ready" != s ]; then
		echo "sample: deidfs failed to mount" >&2
		exit 1
	fi
	ls -lR "$MNT" | head -60
	first=$(find "$MNT" -type f -name '*.dcm' | LC_ALL=C sort | head -1)
	echo
	echo "== dcmdump ${first#"$S"/}  (patient attributes, through the mount) =="
	dcmdump -q "$first" | grep -E 'PatientName|PatientID|PatientBirthDate|StudyDate|StudyDescription|AccessionNumber|InstitutionName|PatientIdentityRemoved|DeidentificationMethod$' || true
	echo
	echo "== mount and materialised copy are identical =="
	if diff -r "$MNT" "$S/out" >/dev/null; then
		echo "diff -r $MNT $S/out: no difference"
	else
		echo "sample: the mount and the materialised copy differ" >&2
		fusermount3 -u "$MNT"
		exit 1
	fi
	fusermount3 -u "$MNT"
	echo "unmounted $MNT"
fi
