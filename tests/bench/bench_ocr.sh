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
set -eu
B=${1:-build-ocr}
RUNS=${2:-5}
TOOL=$B/tests/image/image_tool
J2K=$B/tests/image/j2k_enc
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMP_THREAD_LIMIT=1

/usr/bin/python3 "$HERE/../image/gen_images.py" "$W/set" "$J2K" --slow >/dev/null
dcmdrle "$W/set/sc_rgb_rle.dcm" "$W/set/sc_rgb_native.dcm"

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

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
