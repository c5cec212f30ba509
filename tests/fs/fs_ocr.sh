#!/bin/bash
# fs_ocr.sh: the daemon starts its OCR workers (threads "deid-ocr", each
# with tesseract's model loaded) at the first image that needs OCR, not at
# start-up, and a broken tesseract install is still found at mount time.
#   1. Default policy over FHIR, a CT and three US images with burnt-in
#      text: mounted, listed (stat of every file: size-only, no OCR) and
#      every FHIR and CT file read, the daemon has no OCR thread and
#      ocr_calls is 0; after reading one US image it has one (the default
#      pool size), ocr_calls > 0, `deid report` works, and the bytes are
#      `deid file`'s.
#   2. ocr.workers 2, a fresh cache: three US images read at once (three
#      FUSE threads ask for the pool together): exactly 2 OCR threads,
#      every output equal to `deid file`'s.
#   3. TESSDATA_PREFIX at an empty directory: the mount fails at start-up
#      with a message naming eng.traineddata; with REDACT_NO_TEXT (no
#      OCR) the same environment mounts and serves the US image.
#   4. The model removed after the mount, over the US images and a CT
#      that nothing marks but whose text the pre-pass flags: reading any
#      fails (the file is then hidden, reason internal), never with its
#      source's bytes; again at a second read; no OCR thread is left; the
#      log says why, once.
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse
"$PYTHON" -c 'import pydicom, numpy, PIL' 2>/dev/null ||
	skip "python3 with pydicom, numpy and PIL is needed to make the images"
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
[ -f "$FONT" ] || skip "$FONT is missing"
TESSDATA=$(ls -d /usr/share/tesseract-ocr/*/tessdata 2>/dev/null | head -1)
[ -n "$TESSDATA" ] && [ -f "$TESSDATA/eng.traineddata" ] ||
	skip "tesseract's eng.traineddata is not where Debian puts it"
SRC=$T/src MNT=$T/mnt

mkdir -p "$SRC/fhir" "$SRC/ct" "$SRC/us"
printf '{"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["John"]}], "birthDate": "1950-01-02"}\n' \
	>"$SRC/fhir/patient.json"
printf '{"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}}\n' \
	>"$SRC/fhir/obs.ndjson"
cp "$FS_PYD/CT_small.dcm" "$SRC/ct/IMG1.dcm" || fail "CT_small.dcm"
# US images (a modality that is OCR'd whole) with the patient's name and
# ID burnt in, as the header has them
"$PYTHON" - "$SRC/us" "$FONT" <<'PY' || fail "making the US images"
import sys
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from PIL import Image, ImageDraw, ImageFont
out, font = sys.argv[1], ImageFont.truetype(sys.argv[2], 22)
for i, (fam, giv, pid) in enumerate([("JOHNSON", "MARY", "4471093"),
                                     ("GARCIA", "ROBERT", "5520871"),
                                     ("WILSON", "LINDA", "6630452")]):
    im = Image.new("L", (320, 240), 20)
    d = ImageDraw.Draw(im)
    d.text((10, 8), "%s %s" % (fam, giv), font=font, fill=230)
    d.text((10, 36), "ID %s" % pid, font=font, fill=230)
    d.ellipse((110, 110, 210, 200), fill=90)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(i)])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", str(i)])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series", str(i)])
    ds.PatientName = "%s^%s" % (fam, giv)
    ds.PatientID = pid
    ds.Modality = "US"
    ds.StudyDate = "20190304"
    ds.BurnedInAnnotation = "YES"
    ds.Rows, ds.Columns = 240, 320
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.asarray(im, dtype=np.uint8).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as("%s/US%d.dcm" % (out, i + 1), write_like_original=False)
# a CT that nothing marks, with text in its top band: OCR'd only because
# the pre-pass flags the text
im = Image.new("L", (256, 256), 0)
d = ImageDraw.Draw(im)
f14 = ImageFont.truetype(sys.argv[2], 14)
d.text((6, 4), "JOHNSON MARY", font=f14, fill=255)
d.text((6, 22), "ID 4471093", font=f14, fill=255)
d.ellipse((60, 60, 200, 200), fill=120)
ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["ct"])
ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
ds.PatientName, ds.PatientID = "JOHNSON^MARY", "4471093"
ds.Modality = "CT"
del ds.BurnedInAnnotation
ds.Rows = ds.Columns = 256
ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
ds.PixelData = (np.asarray(im, dtype=np.uint16) * 8).tobytes()
ds.save_as("%s/../CT_TEXT.dcm" % out, write_like_original=False)
PY
mkdir -p "$T/src4/us" "$T/src4/ct"
mv "$SRC/CT_TEXT.dcm" "$T/src4/ct/" && cp "$SRC"/us/US*.dcm "$T/src4/us/" ||
	fail "the tree of part 4"

# the daemon's threads named deid-ocr
ocr_threads() { cat /proc/"$FS_PID"/task/*/comm 2>/dev/null | grep -c '^deid-ocr$'; }
anon_mib() { awk '/^RssAnon/ {print int($2 / 1024)}' "/proc/$FS_PID/status"; }
# `deid file`'s output of source file $1 (relative to SRC), written to $2
expect() {
	"$DEID" file "$SRC/$1" "$2" -p "$POLICY" --key-file "$KEYFILE" --src "$SRC" \
		2>>"$T/deid_file.log" || fail "deid file $1"
}
view_of() { # EXPECTED MNT: the view file with those bytes
	local sum
	sum=$(sha256sum <"$1" | awk '{print $1}')
	(cd "$2" && find . -type f -print0 | xargs -0 -r sha256sum) |
		awk -v s="$sum" '$1 == s {print $2; exit}'
}
for i in 1 2 3; do expect "us/US$i.dcm" "$T/US$i.expect"; done
cmp -s "$SRC/us/US1.dcm" "$T/US1.expect" && fail "deid file left US1 as it was"

# 1. default policy: nothing loads until a US image is read
fs_mount "$SRC" "$MNT"
find "$MNT" -type f -printf '%s %p\n' >"$T/list1" || fail "listing"
[ "$(wc -l <"$T/list1")" = 6 ] || { cat "$T/list1" >&2; fail "expected 6 files in the view"; }
anon0=$(anon_mib)
n=$(ocr_threads)
[ "$n" = 0 ] || fail "OCR threads after the listing: $n"
# read everything but the US images (the view names are pseudonyms: the
# US ones are the three largest)
sort -n "$T/list1" | head -3 | cut -d' ' -f2- | while IFS= read -r f; do
	cat "$f" >/dev/null || fail "reading $f"
done || exit 1
n=$(ocr_threads)
[ "$n" = 0 ] || fail "OCR threads after reading FHIR and CT: $n"
calls=$(fs_counter "$MNT" ocr_calls)
[ "$calls" = 0 ] || fail "OCR calls before any US image was read: $calls"
ok "listed 6 files, read the FHIR and CT ones: no OCR thread, 0 OCR calls (anon RSS $anon0 MiB)"
# read every file: only the US images need OCR
find "$MNT" -type f -print0 | xargs -0 cat >/dev/null || fail "reading the view"
n=$(ocr_threads)
[ "$n" = 1 ] || fail "OCR threads after reading the US images: $n (want 1, the default pool)"
calls=$(fs_counter "$MNT" ocr_calls)
[ "$calls" -gt 0 ] || fail "no OCR call after reading the US images"
anon1=$(anon_mib)
for i in 1 2 3; do
	[ -n "$(view_of "$T/US$i.expect" "$MNT")" ] ||
		fail "US$i: no file in the view equals deid file's output"
done
"$DEID" report "$MNT" >"$T/report" || fail "deid report"
grep -q . "$T/report" || fail "deid report printed nothing"
ok "after reading the US images: 1 OCR thread, $calls OCR calls, anon RSS $anon0 -> $anon1 MiB; the outputs are deid file's"
fs_umount "$MNT"

# 2. two workers, three images read at once, a fresh cache
POL1=$POLICY
POLICY=$T/policy2.json
"$PYTHON" - "$POL1" "$POLICY" <<'PY' || fail "policy with 2 workers"
import json, sys
p = json.load(open(sys.argv[1]))
p["deidfs"]["ocr"] = {"workers": 2}
json.dump(p, open(sys.argv[2], "w"))
PY
rm -rf "$CACHE" && mkdir -m 700 "$CACHE"
for i in 1 2 3; do expect "us/US$i.dcm" "$T/US$i.expect2"; done
fs_mount "$SRC" "$MNT"
find "$MNT" -type f -printf '%s %p\n' | sort -n | tail -3 | cut -d' ' -f2- >"$T/us_views"
[ "$(ocr_threads)" = 0 ] || fail "OCR threads after a listing (2 workers)"
pids=()
while IFS= read -r f; do
	cat "$f" >"$T/par.$(basename "$f")" &
	pids+=($!)
done <"$T/us_views"
for p in "${pids[@]}"; do wait "$p" || fail "a parallel read failed"; done
n=$(ocr_threads)
[ "$n" = 2 ] || fail "OCR threads after three parallel reads: $n (want 2)"
for i in 1 2 3; do
	s=$(sha256sum <"$T/US$i.expect2" | awk '{print $1}')
	sha256sum "$T"/par.* | grep "^$s " >/dev/null || fail "US$i read in parallel differs from deid file's"
done
ok "three US images read at once with 2 workers: exactly 2 OCR threads, the outputs are deid file's"
fs_umount "$MNT"
POLICY=$POL1

# 3. no model: the mount fails at start-up, clearly
mkdir -p "$T/notessdata"
rc=0
TESSDATA_PREFIX=$T/notessdata timeout 120 "$DEIDFS" "$SRC" "$MNT" -f \
	-o "policy=$POLICY,key=$KEYFILE,cache=$CACHE" 2>"$T/nomodel.log" || rc=$?
mountpoint -q "$MNT" && { fusermount3 -u "$MNT"; fail "mounted without a model"; }
[ "$rc" = 1 ] || { cat "$T/nomodel.log" >&2; fail "deidfs without a model exited with $rc (want 1)"; }
grep -q 'eng.traineddata' "$T/nomodel.log" && grep -q "TESSDATA_PREFIX=$T/notessdata" "$T/nomodel.log" ||
	{ cat "$T/nomodel.log" >&2; fail "no clear message about the missing model"; }
ok "no model: the mount fails at start-up: $(head -1 "$T/nomodel.log")"
rc=0
TESSDATA_PREFIX=$T/notessdata "$DEID" materialize "$SRC" "$T/mat-nomodel" -p "$POLICY" \
	--key-file "$KEYFILE" -q >/dev/null 2>"$T/nomodel-mat.log" || rc=$?
[ "$rc" = 1 ] || { cat "$T/nomodel-mat.log" >&2; fail "deid materialize without a model exited with $rc (want 1)"; }
grep -q "eng.traineddata in TESSDATA_PREFIX=$T/notessdata" "$T/nomodel-mat.log" ||
	{ cat "$T/nomodel-mat.log" >&2; fail "deid materialize: no clear message about the missing model"; }
[ -z "$(find "$T/mat-nomodel" -type f 2>/dev/null)" ] || fail "deid materialize wrote files without a model"
ok "no model: deid materialize stops before writing anything: $(head -1 "$T/nomodel-mat.log")"
sed 's/"textRedactionMode": *"REDACT_SENSITIVE_TEXT"/"textRedactionMode": "REDACT_NO_TEXT"/' \
	"$POL1" >"$T/noocr.json"
grep -q REDACT_NO_TEXT "$T/noocr.json" || fail "no textRedactionMode in the default policy"
POLICY=$T/noocr.json
rm -rf "$CACHE" && mkdir -m 700 "$CACHE"
export TESSDATA_PREFIX=$T/notessdata
fs_mount "$SRC" "$MNT"
find "$MNT" -type f -print0 | xargs -0 cat >/dev/null || fail "reading with REDACT_NO_TEXT and no model"
[ "$(ocr_threads)" = 0 ] && [ "$(fs_counter "$MNT" ocr_calls)" = 0 ] || fail "REDACT_NO_TEXT ran OCR"
fs_umount "$MNT"
unset TESSDATA_PREFIX
POLICY=$POL1
ok "no model, REDACT_NO_TEXT: mounts and serves every file without OCR"

# 4. the model goes away after the mount: the images fail closed, the
# CT that only the pre-pass flags too (DD_E_UNSUPPORTED from OCR would
# have kept its pixels: "an unmarked image we cannot look at")
mkdir -p "$T/tessdata"
cp "$TESSDATA/eng.traineddata" "$T/tessdata/" || fail "copy eng.traineddata"
rm -rf "$CACHE" && mkdir -m 700 "$CACHE"
export TESSDATA_PREFIX=$T/tessdata
fs_mount "$T/src4" "$MNT"
unset TESSDATA_PREFIX
rm "$T/tessdata/eng.traineddata"
find "$MNT" -type f >"$T/views4"
[ "$(wc -l <"$T/views4")" = 4 ] || fail "the images of part 4 are not listed"
[ "$(fs_counter "$MNT" ocr_calls)" = 0 ] || fail "the listing ran OCR"
nfail=0
while IFS= read -r f; do
	if cat "$f" >"$T/got" 2>"$T/err"; then
		fail "$f was served with no model ($(wc -c <"$T/got") bytes)"
	fi
	for g in "$T"/src4/*/*.dcm; do
		cmp -s "$T/got" "$g" && fail "the source's bytes came out"
	done
	nfail=$((nfail + 1))
done <"$T/views4"
[ "$(ocr_threads)" = 0 ] || fail "OCR threads left after a failed start"
grep -q 'cannot start the OCR workers' "$T/daemon.log" ||
	fail "the log does not say that the OCR workers could not start"
# and again: the same answer (hidden now), no second try
while IFS= read -r f; do
	cat "$f" >/dev/null 2>&1 && fail "$f was served at the second read"
done <"$T/views4"
[ "$(ocr_threads)" = 0 ] || fail "OCR threads after the second reads"
[ "$(grep -c 'cannot start the OCR workers' "$T/daemon.log")" = 1 ] ||
	fail "the failed start was logged more than once (retried?)"
"$DEID" report "$MNT" --json >"$T/report.json" || fail "deid report --json"
internal=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["hidden"]["internal"])' "$T/report.json")
[ "$internal" = 4 ] || fail "hidden for reason internal: $internal (want the 4 images)"
fs_umount "$MNT"
ok "model removed after the mount: $nfail image reads failed (the unmarked CT too), none passed through, then hidden (reason internal); no OCR thread; logged once"

# 5. the model back, a new mount on the same cache: "internal" was not
# cached (it says nothing about the files), so the images are served
cp "$TESSDATA/eng.traineddata" "$T/tessdata/" || fail "copy eng.traineddata"
export TESSDATA_PREFIX=$T/tessdata
fs_mount "$T/src4" "$MNT"
unset TESSDATA_PREFIX
n5=$(find "$MNT" -type f | wc -l)
[ "$n5" = 4 ] || fail "after the model came back: $n5 files listed, want 4"
find "$MNT" -type f -exec cat {} + >/dev/null || fail "after the model came back, a read failed"
[ "$(fs_counter "$MNT" ocr_calls)" -gt 0 ] || fail "no OCR after the model came back"
internal=$(fs_counter "$MNT" hidden | "$PYTHON" -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read()).get("internal", 0))')
[ "$internal" = 0 ] || fail "hidden for reason internal after the model came back: $internal"
fs_umount "$MNT"
ok "the model back, remounted on the same cache: the 4 images are served (an internal failure is never cached)"

echo PASS
