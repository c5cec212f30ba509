#!/bin/sh
# bench_ocr.sh: burnt-in text redaction speed, as ratios against peers
# measured in the same run (not a test).
#
#   tests/bench/bench_ocr.sh BUILD_DIR
#
# 1. The text pre-pass, MB/s of pixel data on one core (image_tool
#    prepass --repeat 50), on a 2000x2000 16-bit CR, a 512x512 CT and a
#    640x480 8-bit US (whole frame, "anywhere").
# 2. OCR per image: `image_tool plan --mode all` (our pipeline: decode,
#    pre-pass, tesseract through the C API, one worker) on a 640x480 US
#    frame and a 1024x1024 SC, against the tesseract CLI
#    (`tesseract IMG - --psm 11`, OMP_THREAD_LIMIT=1) on the same image
#    as PGM, minus the CLI's time on a blank image of the same size (its
#    start-up: loading the model).
set -eu
B=${1:-build-ocr}
TOOL=$B/tests/image/image_tool
J2K=$B/tests/image/j2k_enc
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMP_THREAD_LIMIT=1

/usr/bin/python3 "$HERE/../image/gen_images.py" "$W/set" "$J2K" >/dev/null

echo "== pre-pass (one core)"
for f in cr_mono1_native notext_0 us_native; do
	any=""
	[ "$f" = us_native ] && any="--anywhere"
	r=$($TOOL prepass "$W/set/$f.dcm" --repeat 50 $any)
	echo "$f: $(echo "$r" | sed 's/.*"mb_s":\([0-9.]*\).*/\1/') MB/s"
done

# frame 0 as an 8-bit PGM (what the CLI reads) and a blank one
topgm() {
	/usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import sys, numpy as np, pydicom
ds = pydicom.dcmread(sys.argv[1])
a = ds.pixel_array
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

ms() { # run "$@" 3 times, print the best wall time in ms
	best=""
	for i in 1 2 3; do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		t=$(( (t1 - t0) / 1000000 ))
		if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
	done
	echo "$best"
}

echo "== OCR per image (one worker vs tesseract CLI minus its start-up)"
for f in us_native sc_jpegls_dark_on_light; do
	dcm="$W/set/$f.dcm"
	if [ "$f" = sc_jpegls_dark_on_light ]; then
		dcmdjpls "$dcm" "$W/$f.native.dcm"
		dcm="$W/$f.native.dcm"
	fi
	topgm "$dcm" "$W/$f.pgm" "$W/$f.blank.pgm"
	# ours: the plan's own time (decode, pre-pass, OCR; the model was
	# loaded before, as in the daemon), best of 3
	ours=""
	for i in 1 2 3; do
		t=$($TOOL plan "$dcm" --mode all --workers 1 | sed 's/.*"ms":\([0-9]*\).*/\1/')
		if [ -z "$ours" ] || [ "$t" -lt "$ours" ]; then ours=$t; fi
	done
	cli=$(ms tesseract "$W/$f.pgm" - --psm 11)
	blank=$(ms tesseract "$W/$f.blank.pgm" - --psm 11)
	net=$((cli - blank))
	[ "$net" -gt 0 ] || net=1
	echo "$f: ours ${ours} ms, CLI ${cli} ms - blank ${blank} ms = ${net} ms; ratio ours/CLI-net $(echo "scale=2; $ours / $net" | bc 2>/dev/null || echo "$ours/$net")"
done
