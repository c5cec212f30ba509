#!/bin/sh
# bench_same.sh: deidfs.redactedEncoding "same" (a redacted compressed
# image re-encoded losslessly in its codec's family), as ratios measured in
# the same run (not a test).
#
#   tests/bench/bench_same.sh BUILD_DIR [RUNS]
#
# For every compressed case of the image set with its lossy cases
# (gen_images.py --lossy: RLE, JPEG lossless, JPEG-LS, JPEG 2000, JPEG
# baseline grey and RGB/YBR_FULL_422, JPEG-LS near-lossless):
#   - encode: CPU ms of dd_image_encode_same() on the redacted frames
#     (`image_tool plan --encode RUNS`, median of RUNS, default 5; OCR'd
#     boxes), and its ratio to the decode + fill that makes its input
#     (dd_image_pixels(), the same runs): what "same" adds to a file's
#     first transform (the OCR before it costs 0.3-1.5 s);
#   - size: the `deid file` output under "same" against the output under
#     "explicitLittleEndian" and against the source (whole files).
set -eu
B=${1:-build}
RUNS=${2:-5}
TOOL=$B/tests/image/image_tool
DEID=$B/tools/deid
J2K=$B/tests/image/j2k_enc
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMP_THREAD_LIMIT=1

/usr/bin/python3 "$HERE/../image/gen_images.py" "$W/set" "$J2K" --lossy >/dev/null
head -c 32 /dev/zero | base64 >"$W/key"
chmod 600 "$W/key"
for enc in same explicitLittleEndian; do
	cat >"$W/$enc.json" <<EOF
{"deidfs": {"apiVersion": "v1beta1", "ocr": {"workers": 1},
            "redactedEncoding": "$enc"},
 "dicomTagConfig": {"profileType": "ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE",
   "options": {"cleanImage": {"textRedactionMode": "REDACT_SENSITIVE_TEXT"}}}}
EOF
done

field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

echo "== redactedEncoding \"same\": CPU ms per image (median of $RUNS), sizes in bytes"
echo "   (cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg), commit: $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo ?))"
printf '%-24s %-6s %8s %8s %6s %9s %9s %9s %7s %7s\n' case out encode decode enc/dec \
	same explicit source /expl /src
for f in "$W"/set/*.dcm; do
	n=$(basename "$f" .dcm)
	tx=$(dcmdump -q -M +P 0002,0010 "$f" 2>/dev/null | awk '{print $3}')
	case "$tx" in =LittleEndian*) continue ;; esac
	line=$($TOOL plan "$f" --encode "$RUNS" | tail -1)
	xfer=$(echo "$line" | field xfer)
	[ -n "$xfer" ] || { echo "$n: not re-encoded: $line"; continue; }
	e=$(echo "$line" | field encode_ms)
	d=$(echo "$line" | field decode_ms)
	"$DEID" file "$f" "$W/$n.same.dcm" -p "$W/same.json" --key-file "$W/key" 2>/dev/null
	"$DEID" file "$f" "$W/$n.expl.dcm" -p "$W/explicitLittleEndian.json" --key-file "$W/key" 2>/dev/null
	s=$(stat -c %s "$W/$n.same.dcm")
	x=$(stat -c %s "$W/$n.expl.dcm")
	o=$(stat -c %s "$f")
	short=$(echo "$xfer" | sed 's/^1\.2\.840\.10008\.1\.2\.//')
	awk -v n="$n" -v t="$short" -v e="$e" -v d="$d" -v s="$s" -v x="$x" -v o="$o" 'BEGIN {
		printf "%-24s %-6s %8.1f %8.1f %6.2f %9d %9d %9d %7.2f %7.2f\n",
			n, t, e, d, e / d, s, x, o, s / x, s / o }'
done
