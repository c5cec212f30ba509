#!/bin/sh
# bench_ocr.sh: burnt-in text redaction speed, as ratios against peers
# measured in the same run (not a test).
#
#   tests/bench/bench_ocr.sh BUILD_DIR [RUNS]
#
# 1. The text pre-pass, MB/s of pixel data per core in CPU time (the
#    thread's, so other load on the machine counts little): the median of
#    RUNS (default 5) runs of `image_tool prepass --repeat 30` per kind:
#      cr   2000x2000 12-bit MONOCHROME1 CR (border bands)
#      ct   512x512 signed 16-bit CT (border bands)
#      mr   256x256 16-bit MR (border bands)
#      us   640x480 8-bit US, speckle (whole frame, "anywhere")
#      sc   1024x768 8-bit RGB SC (whole frame)
#    Target: >= 1000 MB/s on every kind.
# 2. OCR per image: `image_tool plan --mode all` (our pipeline: decode,
#    pre-pass, tesseract through the C API, one worker; its own "ms", the
#    model loaded before, as in the daemon) on a 640x480 US frame and a
#    1024x1024 SC, against the tesseract CLI (`tesseract IMG - --psm 11`,
#    OMP_THREAD_LIMIT=1) on the same image as PGM, minus the CLI's time on
#    a blank image of the same size (its start-up: loading the model).
#    The CLI is timed twice, in user CPU seconds (median of 3): as it
#    comes (SIMD dot products) and with -c dotproduct=generic, the
#    arithmetic our workers use (the same on every CPU: deterministic
#    output), which is the like-for-like peer.
# 3. Reads of a redacted compressed image through a deidfs mount against a
#    kept native image of the same size (see the section).
# DD_BENCH_OCR_PARTS picks sections (default "prepass ocr mount").
set -eu
B=${1:-build-ocr}
RUNS=${2:-5}
TOOL=$B/tests/image/image_tool
J2K=$B/tests/image/j2k_enc
HERE=$(cd "$(dirname "$0")" && pwd)
PARTS=${DD_BENCH_OCR_PARTS:-prepass ocr mount}
want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
W=$(mktemp -d)
trap 'fusermount3 -u "$W/mnt" 2>/dev/null; rm -rf "$W"' EXIT
export OMP_THREAD_LIMIT=1

/usr/bin/python3 "$HERE/../image/gen_images.py" "$W/set" "$J2K" --slow >/dev/null
dcmdrle "$W/set/sc_rgb_rle.dcm" "$W/set/sc_rgb_native.dcm"

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

if want prepass; then
	echo "== pre-pass, MB/s per core (CPU time, median of $RUNS; target >= 1000)"
	printf '%-4s %-22s %10s %10s %s\n' kind file "MB/s" "min-max" "regions"
	for spec in "cr cr_mono1_native" "ct ct_native" "mr mr_native" \
		    "us us_native --anywhere" "sc sc_rgb_native --anywhere"; do
		set -- $spec
		k=$1 f=$2 any=${3:-}
		vals=$(i=0; while [ $i -lt "$RUNS" ]; do
			$TOOL prepass "$W/set/$f.dcm" --repeat 30 $any |
				sed 's/.*"cpu_mb_s":\([0-9.]*\).*/\1/'
			i=$((i + 1)); done | sort -n)
		med=$(echo "$vals" | median)
		lo=$(echo "$vals" | head -1)
		hi=$(echo "$vals" | tail -1)
		nreg=$($TOOL prepass "$W/set/$f.dcm" $any | grep -o '\[[0-9,]*\]' | wc -l)
		printf '%-4s %-22s %10s %10s %s\n' "$k" "$f" "$med" "$lo-$hi" "$nreg"
	done
fi

# frame 0 as an 8-bit PGM (what the CLI reads) and a blank one; a blank
# copy of the DICOM file (same header: OCR'd the same way)
topgm() {
	/usr/bin/python3 - "$1" "$2" "$3" "$4" <<'PY'
import sys, numpy as np, pydicom
ds = pydicom.dcmread(sys.argv[1])
a = ds.pixel_array
blank = np.full_like(a, a.min())
ds.PixelData = blank.tobytes()
ds.save_as(sys.argv[4])
a = a[0] if a.ndim == 3 and ds.get("NumberOfFrames", 1) > 1 else a
a = a.astype(np.float64)
a = (255 * (a - a.min()) / max(1, a.max() - a.min())).astype(np.uint8)
h, w = a.shape[:2]
for path, img in ((sys.argv[2], a), (sys.argv[3], np.full((h, w), 255, np.uint8))):
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (w, h))
        f.write(img.tobytes())
PY
}

cli_ms() { # user CPU ms of the tesseract CLI, median of 3
	i=0
	while [ $i -lt 3 ]; do
		/usr/bin/time -f %U -o "$W/t" tesseract "$@" - --psm 11 \
			$EXTRA >/dev/null 2>&1 || true
		awk '{printf "%d\n", $1 * 1000}' "$W/t"
		i=$((i + 1))
	done | median
}

ours_ms() { # user CPU ms of image_tool plan, median of 3
	i=0
	while [ $i -lt 3 ]; do
		/usr/bin/time -f %U -o "$W/t" $TOOL plan "$1" --mode all \
			--workers 1 >/dev/null 2>&1 || true
		awk '{printf "%d\n", $1 * 1000}' "$W/t"
		i=$((i + 1))
	done | median
}

ratio() { echo "scale=2; $1 / $2" | bc 2>/dev/null || echo "$1/$2"; }

if want ocr; then
	echo "== OCR per image, user CPU ms minus the same on a blank image, median of 3"
	echo "   (ours: image_tool plan --mode all, one worker; plan ms: its wall time)"
	printf '%-24s %8s %8s %6s %8s %7s %12s %7s\n' image "plan ms" "ours ms" calls \
		"CLI ms" ratio "CLI-generic" ratio
	for f in us_native sc_jpegls_dark_on_light; do
		dcm="$W/set/$f.dcm"
		if [ "$f" = sc_jpegls_dark_on_light ]; then
			dcmdjpls "$dcm" "$W/$f.native.dcm"
			dcm="$W/$f.native.dcm"
		fi
		topgm "$dcm" "$W/$f.pgm" "$W/$f.blank.pgm" "$W/$f.blank.dcm"
		plan=$(for i in 1 2 3; do
			$TOOL plan "$dcm" --mode all --workers 1 |
				sed 's/.*"ms":\([0-9]*\).*/\1/'
		done | median)
		ours=$(( $(ours_ms "$dcm") - $(ours_ms "$W/$f.blank.dcm") ))
		[ "$ours" -gt 0 ] || ours=1
		calls=$($TOOL plan "$dcm" --mode all --workers 1 |
			sed 's/.*"ocr_calls":\([0-9]*\).*/\1/')
		EXTRA=""
		net=$(( $(cli_ms "$W/$f.pgm") - $(cli_ms "$W/$f.blank.pgm") ))
		EXTRA="-c dotproduct=generic"
		gnet=$(( $(cli_ms "$W/$f.pgm") - $(cli_ms "$W/$f.blank.pgm") ))
		[ "$net" -gt 0 ] || net=1
		[ "$gnet" -gt 0 ] || gnet=1
		printf '%-24s %8s %8s %6s %8s %7s %12s %7s\n' "$f" "$plan" "$ours" \
			"$calls" "$net" "$(ratio "$ours" "$net")x" "$gnet" \
			"$(ratio "$ours" "$gnet")x"
	done
fi

# 3. Reads through a mount (issue #7: "the second read of a redacted file
#    as fast as any cached read").  A redacted compressed image is cached
#    as its header and boxes; its value is rebuilt (decoded, boxes filled;
#    re-encoded too under redactedEncoding "same") when read.  Its peer: a
#    native MR with no text and a pixel value of the same size as the
#    decoded one, kept as it is (header + a source range).  For each
#    encoding in DD_BENCH_ENCODINGS (default "explicitLittleEndian same"),
#    wall ms of reading the file (median of RUNS), each after the kernel
#    dropped the file's pages:
#      first   a fresh mount on an empty cache (the redacted one: OCR)
#      cached  a fresh mount on that cache (no OCR: a daemon thread
#              rebuilds the value; the peer is read from the source)
#      again   the same mount, read again (a daemon thread that rebuilt
#              the value keeps it; another rebuilds it)
DEIDFS=$B/fs/deidfs
want mount || exit 0
if [ ! -x "$DEIDFS" ] || [ ! -e /dev/fuse ]; then
	echo "== reads through a mount: skipped (no deidfs or /dev/fuse)"
	exit 0
fi
mkdir -p "$W/msrc" "$W/mnt" "$W/mcache"
chmod 700 "$W/mcache"
head -c 32 /dev/urandom | base64 >"$W/mkey"
chmod 600 "$W/mkey"
mpolicy() { # ENCODING
	cat >"$W/mpol.json" <<EOF
{"deidfs": {"apiVersion": "v1beta1", "ocr": {"workers": 1}, "pathMode": "keep",
            "redactedEncoding": "$1"},
 "dicomTagConfig": {"profileType": "ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE",
   "options": {"cleanImage": {"textRedactionMode": "REDACT_SENSITIVE_TEXT"}}}}
EOF
}
# peer_mr OUT ROWS COLS FRAMES: a smooth 16-bit MR, no text
peer_mr() {
	/usr/bin/python3 - "$@" <<'PY'
import sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
out, rows, cols, frames = sys.argv[1], *map(int, sys.argv[2:5])
y, x = np.mgrid[0:rows, 0:cols]
f = (1000 + 800 * np.sin(x / 97.0) * np.cos(y / 131.0)).astype(np.uint16)
px = np.stack([f + 3 * i for i in range(frames)])
m = FileMetaDataset()
m.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
m.MediaStorageSOPInstanceUID = generate_uid()
m.TransferSyntaxUID = ExplicitVRLittleEndian
ds = Dataset()
ds.file_meta = m
ds.SOPClassUID = m.MediaStorageSOPClassUID
ds.SOPInstanceUID = m.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = generate_uid()
ds.SeriesInstanceUID = generate_uid()
ds.Modality = "MR"
ds.PatientName = "PEER^MR"
ds.PatientID = "P1"
ds.Rows, ds.Columns = rows, cols
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
ds.PixelRepresentation = 0
if frames > 1:
    ds.NumberOfFrames = frames
ds.PixelData = px.tobytes()
ds.is_little_endian, ds.is_implicit_VR = True, False
ds.save_as(out, write_like_original=False)
PY
}
cp "$W/set/us_jpegls_mf.dcm" "$W/set/cr_mono1_j2k.dcm" "$W/msrc/"
peer_mr "$W/msrc/peer_mr_us.dcm" 480 640 6    # = 640 x 480 x 12 bytes
peer_mr "$W/msrc/peer_mr_cr.dcm" 2000 2000 1  # = 2000 x 2000 x 2 bytes

MPID=
mount_m() {
	fifo=$W/notify.$$
	mkfifo "$fifo"
	"$DEIDFS" "$W/msrc" "$W/mnt" -f -o "policy=$W/mpol.json,key=$W/mkey,cache=$W/mcache,notify_pipe=$fifo" 2>>"$W/deidfs.log" &
	MPID=$!
	c=$(head -c 1 "$fifo")
	rm -f "$fifo"
	[ "$c" = s ] || { cat "$W/deidfs.log"; echo "bench_ocr: deidfs did not mount" >&2; exit 1; }
}
umount_m() {
	fusermount3 -u "$W/mnt"
	wait "$MPID" 2>/dev/null || true
}
read_ms() { # wall ms of reading FILE, its cached pages dropped first
	/usr/bin/python3 - "$1" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
t = time.monotonic()
while os.read(fd, 1 << 20):
    pass
print(int((time.monotonic() - t) * 1000 + 0.5))
os.close(fd)
PY
}
# one pass: "first cached again" ms for FILE
pass_ms() {
	rm -rf "$W/mcache" && mkdir -m 700 "$W/mcache"
	mount_m
	stat "$W/mnt/$1" >/dev/null
	a=$(read_ms "$W/mnt/$1")
	umount_m
	mount_m
	stat "$W/mnt/$1" >/dev/null
	b=$(read_ms "$W/mnt/$1")
	c=$(read_ms "$W/mnt/$1")
	umount_m
	echo "$a $b $c"
}
col() { awk -v c="$1" '{print $c}' | median; }

for enc in ${DD_BENCH_ENCODINGS:-explicitLittleEndian same}; do
mpolicy "$enc"
echo "== reads through a mount ($enc), wall ms (median of $RUNS), redacted compressed vs a kept native peer"
printf '%-16s %-13s %9s %9s %9s\n' image peer first cached again
for pair in "us_jpegls_mf peer_mr_us" "cr_mono1_j2k peer_mr_cr"; do
	set -- $pair
	red=$(i=0; while [ $i -lt "$RUNS" ]; do pass_ms "$1.dcm"; i=$((i + 1)); done)
	peer=$(i=0; while [ $i -lt "$RUNS" ]; do pass_ms "$2.dcm"; i=$((i + 1)); done)
	r1=$(echo "$red" | col 1); r2=$(echo "$red" | col 2); r3=$(echo "$red" | col 3)
	p1=$(echo "$peer" | col 1); p2=$(echo "$peer" | col 2); p3=$(echo "$peer" | col 3)
	[ "$p1" -gt 0 ] || p1=1; [ "$p2" -gt 0 ] || p2=1; [ "$p3" -gt 0 ] || p3=1
	printf '%-16s %-13s %9s %9s %9s\n' "$1" "" "$r1" "$r2" "$r3"
	printf '%-16s %-13s %9s %9s %9s\n' "" "$2" "$p1" "$p2" "$p3"
	printf '%-16s %-13s %8sx %8sx %8sx\n' "" "ratio" "$(ratio "$r1" "$p1")" \
		"$(ratio "$r2" "$p2")" "$(ratio "$r3" "$p3")"
done
done
