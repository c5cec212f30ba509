#!/bin/bash
# bench_dicom.sh: `deid materialize` against its peers on generated DICOM,
# measured in the same run.  Prints ratios; not a test (nothing asserts).
#
#   tests/bench/bench_dicom.sh [BUILD_DIR]      (default: build)
#
# Data (deid-gen, deterministic): CT_COUNT (600) 512x512 16-bit CT slices
# and SMALL_COUNT (500) small 16x16 images of various modalities.  For each
# data set and each tool: one warm-up run, then RUNS (3) timed runs into a
# fresh destination; the median is reported.  The page cache stays warm
# (nothing is dropped), for every tool alike.  Peers:
#   cp -r --reflink=never SRC DEST                 (a plain copy: the floor)
#   gdcmanon -e -c CERT -r --continue -i SRC -o DEST
#                                                  (GDCM's PS3.15 E.1 de-identifier,
#                                                   Debian libgdcm-tools)
# deid materialize runs with the default policy and a key file; its LMDB
# cache lives in the work directory and is warm after the warm-up run
# (it keeps manifests, never pixel bytes), as it would be in use.
# Installs nothing: it says what is missing and skips that peer.
set -u
BUILD=${1:-build}
RUNS=${RUNS:-3}
CT_COUNT=${CT_COUNT:-600}
SMALL_COUNT=${SMALL_COUNT:-500}
cd "$(dirname "$0")/../.."
DEID=$BUILD/tools/deid
GEN=$BUILD/tools/gen/deid-gen
for b in "$DEID" "$GEN"; do
	if [ ! -x "$b" ]; then
		echo "bench_dicom: $b not built (ninja -C $BUILD)" >&2
		exit 1
	fi
done
have_gdcm=1
command -v gdcmanon >/dev/null || { echo "bench_dicom: gdcmanon missing (Debian: libgdcm-tools): peer skipped"; have_gdcm=0; }
command -v openssl >/dev/null || { echo "bench_dicom: openssl missing (Debian: openssl): gdcmanon skipped"; have_gdcm=0; }

W=$(mktemp -d "${TMPDIR:-/tmp}/deid-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME="$W/cache" DEIDFS_KEY_FILE="$W/key"
umask 077
printf '%s\n' "$(head -c 32 /dev/urandom | base64)" > "$W/key"
if [ $have_gdcm = 1 ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=deid-bench \
		-keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1 ||
		{ echo "bench_dicom: openssl could not make a certificate: gdcmanon skipped"; have_gdcm=0; }
fi

echo "generating: $CT_COUNT CT slices 512x512, $SMALL_COUNT small images ..."
"$GEN" ct "$W/src-ct" --count "$CT_COUNT" >/dev/null || exit 1
"$GEN" small "$W/src-small" --count "$SMALL_COUNT" >/dev/null || exit 1

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }

# run_tool NAME SRC: time one run into a fresh destination; prints seconds
run_once() {
	local tool=$1 src=$2 dest=$W/dest t0 t1 rc=0
	rm -rf "$dest"
	case $tool in
	deid) t0=$(now); "$DEID" materialize "$src" "$dest" -q --key-file "$W/key" >/dev/null 2>"$W/err" || rc=$?; t1=$(now) ;;
	cp) t0=$(now); cp -r --reflink=never "$src" "$dest" || rc=$?; t1=$(now) ;;
	gdcmanon) mkdir -p "$dest"; t0=$(now); gdcmanon -e -c "$W/cert.pem" -r --continue -i "$src" -o "$dest" >/dev/null 2>"$W/err" || rc=$?; t1=$(now) ;;
	esac
	if [ $rc != 0 ]; then
		echo "bench_dicom: $tool exited $rc on $src: $(head -c 300 "$W/err" 2>/dev/null)" >&2
	fi
	calc "$t1 - $t0"; echo
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

bench_set() {
	local name=$1 src=$2 tools="cp deid" t
	[ $have_gdcm = 1 ] && tools="cp gdcmanon deid"
	local bytes files
	bytes=$(du -sb "$src" | cut -f1)
	files=$(find "$src" -type f | wc -l)
	echo
	echo "== $name: $files files, $((bytes / 1048576)) MiB; median of $RUNS warm runs =="
	declare -A sec
	for t in $tools; do
		run_once "$t" "$src" >/dev/null  # warm-up
		sec[$t]=$(for i in $(seq "$RUNS"); do run_once "$t" "$src"; done | median)
	done
	printf '%-10s %10s %10s %12s  %s\n' tool seconds "vs cp" "vs gdcmanon" flags
	for t in $tools; do
		local vcp vg flags
		vcp=$(calc "${sec[$t]} / ${sec[cp]}")
		vg="-"
		[ $have_gdcm = 1 ] && vg=$(printf '%.2fx' "$(calc "${sec[$t]} / ${sec[gdcmanon]}")")
		case $t in
		cp) flags="cp -r --reflink=never SRC DEST" ;;
		gdcmanon) flags="gdcmanon -e -c CERT -r --continue -i SRC -o DEST" ;;
		deid) flags="deid materialize SRC DEST -q --key-file K (default policy)" ;;
		esac
		printf '%-10s %10.3f %9.2fx %12s  %s\n' "$t" "${sec[$t]}" "$vcp" "$vg" "$flags"
	done
	printf 'deid throughput: %.0f files/s, %.0f MiB/s\n' \
		"$(calc "$files / ${sec[deid]}")" \
		"$(calc "$bytes / 1048576 / ${sec[deid]}")"
}

echo "machine: $(nproc) cores, $(uname -r); gdcm $(gdcmanon --version 2>/dev/null | head -1 | awk '{print $3}')"
bench_set "CT 512x512" "$W/src-ct"
bench_set "small files" "$W/src-small"
