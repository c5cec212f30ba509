#!/bin/bash
# fs_scale.sh (suite 'slow'): 1,000,000 tiny source files in 1,000
# directories; `find` through the mount completes (cold cache, then warm)
# and the daemon's RSS is reported.  One file in DD_FS_SCALE_DICOM_EVERY
# (default 10) is a tiny DICOM image; the others are tiny junk files that
# the view hides (each still classified: opened and sniffed).
#   DD_FS_SCALE_FILES   number of files (default 1000000)
#   DD_FS_SCALE_DIRS    number of directories (default 1000)
. "$(dirname "$0")/fs_lib.sh"
fs_check_fuse

NFILES=${DD_FS_SCALE_FILES:-1000000}
NDIRS=${DD_FS_SCALE_DIRS:-1000}
EVERY=${DD_FS_SCALE_DICOM_EVERY:-10}
SRC=$T/src MNT=$T/mnt

t0=$(date +%s.%N)
"$PYTHON" - "$SRC" "$NFILES" "$NDIRS" "$EVERY" <<'PY' || fail "making the tree"
import io, os, sys
import pydicom
from pydicom.data import get_testdata_file
src, nfiles, ndirs, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
ds.Rows = ds.Columns = 4
ds.PixelData = bytes(32)
buf = io.BytesIO()
ds.save_as(buf, write_like_original=False)
dcm = buf.getvalue()
per = (nfiles + ndirs - 1) // ndirs
n = 0
for d in range(ndirs):
    dp = os.path.join(src, "STUDY_%04d" % d)
    os.makedirs(dp, exist_ok=True)
    for i in range(per):
        if n == nfiles:
            break
        if n % every == 0:
            name, data = "IMG%d.dcm" % i, dcm
        else:
            name, data = "note_%d.txt" % i, b"tiny junk %d\n" % n
        fd = os.open(os.path.join(dp, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
        n += 1
print("# made %d files (%d bytes per DICOM) in %d directories" % (n, len(dcm), ndirs))
PY
t1=$(date +%s.%N)
note "tree made in $(echo "$t1 - $t0" | bc) s"

# peak, anonymous (heap: what the daemon holds) and file-backed (mapped
# LMDB pages and libraries: page cache, reclaimable) RSS
rss() { awk '/^VmHWM|^RssAnon|^RssFile/ {printf "%s %d MiB  ", $1, $2 / 1024}' "/proc/$1/status"; }
mem() { echo "manifest_bytes $(fs_counter "$MNT" manifest_bytes), listing_bytes $(fs_counter "$MNT" listing_bytes)"; }
# the largest VmRSS seen while a pass runs, with its anon/file split (VmHWM
# has no split) and the part of it that is the cache's map (data.mdb in
# smaps), and the largest map RSS seen: sampled every 0.1 s, so a shorter
# spike can be missed
peak_start() {
	echo "0 0 0 0 0" >"$T/peak"
	(while kill -0 "$1" 2>/dev/null; do
		awk -v best="$(cat "$T/peak")" '
			/^[0-9a-f]+-[0-9a-f]+ / {inmap = ($NF ~ /\/data\.mdb$/); next}
			/^Rss:/ && inmap {m += $2}
			/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} /^RssFile/ {f = $2}
			END {split(best, b, " ")
				mm = (m > b[5] + 0) ? m : b[5]
				if (r > b[1] + 0) print r, a, f, m, mm
				else print b[1], b[2], b[3], b[4], mm}' \
			"/proc/$1/status" "/proc/$1/smaps" >"$T/peak.new" 2>/dev/null &&
			mv "$T/peak.new" "$T/peak"
		sleep 0.1
	done) &
	PEAK_PID=$!
}
peak_stop() {
	kill "$PEAK_PID" 2>/dev/null
	wait "$PEAK_PID" 2>/dev/null
	awk '{printf "largest sampled RSS %d MiB (anon %d, file %d, of which the cache map %d); largest map RSS %d MiB",
		$1 / 1024, $2 / 1024, $3 / 1024, $4 / 1024, $5 / 1024}' "$T/peak"
}
# the daemon's file-backed RSS by mapping, largest first (what "file" is)
maps() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {n = ($6 == "") ? "[anon]" : $NF; sub(/.*\//, "", n); next}
		/^Rss:/ {s[n] += $2}
		END {for (k in s) if (s[k] >= 1024) printf "%s %d MiB\n", k, s[k] / 1024}' \
		"/proc/$1/smaps" | sort -k2 -rn | head -6 | paste -sd, -
}

# the daemon's OCR worker threads: 0 until an image needed OCR
ocr_threads() { cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c '^deid-ocr$'; }
ocr_state() { echo "OCR engine $( [ "$(ocr_threads "$FS_PID")" = 0 ] && echo "not loaded" || echo "loaded") ($(ocr_threads "$FS_PID") OCR threads, $(fs_counter "$MNT" ocr_calls) OCR calls)"; }

# The daemon as it runs outside the tests: meson sets MALLOC_PERTURB_,
# which makes malloc fill every block it hands out (libfuse's 1 MiB
# request buffer per worker thread, the read buffers) and so makes all of
# it resident: ~8 MiB more at 100k files.
unset MALLOC_PERTURB_
fs_mount "$SRC" "$MNT"
for pass in cold warm; do
	peak_start "$FS_PID"
	t0=$(date +%s.%N)
	n=$(find "$MNT" -type f | wc -l) || fail "find ($pass)"
	t1=$(date +%s.%N)
	secs=$(echo "$t1 - $t0" | bc)
	note "$pass find: $n visible files in $secs s ($(echo "$NFILES / $secs" | bc) source files/s); daemon $(rss "$FS_PID"); $(peak_stop)"
done
want=$(( (NFILES + EVERY - 1) / EVERY ))
[ "$n" = "$want" ] || fail "find saw $n files, expected $want"
note "counters: inodes $(fs_counter "$MNT" inodes), listings $(fs_counter "$MNT" listings), cache hits $(fs_counter "$MNT" cache_hits), transforms $(fs_counter "$MNT" transforms), $(mem); $(ocr_state)"
# RSS again after 3 s idle
sleep 3
note "idle: daemon $(rss "$FS_PID"); by mapping: $(maps "$FS_PID")"
# the kernel forgets inodes under memory pressure; ask it to drop them and
# see the daemon's memory follow
sync
echo 2 >/proc/sys/vm/drop_caches 2>/dev/null && sleep 2 &&
	note "after drop_caches: inodes $(fs_counter "$MNT" inodes); daemon $(rss "$FS_PID")"
fs_umount "$MNT"
# a fresh daemon over the warm cache: what a remount costs
fs_mount "$SRC" "$MNT"
peak_start "$FS_PID"
t0=$(date +%s.%N)
n=$(find "$MNT" -type f | wc -l) || fail "find (remount)"
t1=$(date +%s.%N)
note "remount, warm cache: find $n files in $(echo "$t1 - $t0" | bc) s; daemon $(rss "$FS_PID"); $(peak_stop); $(mem); $(ocr_state)"
sleep 3
note "idle: daemon $(rss "$FS_PID")"
fs_umount "$MNT"

# The OCR engine (tesseract's model, one per OCR worker thread, named
# deid-ocr) loads at the first image that needs OCR; none of this tree's
# does, so the daemons above should never have loaded it.  Its share when
# loaded: two daemons over one marked image (BurnedInAnnotation YES: OCR'd
# whole), each with an empty cache, one with the default policy and one
# with OCR off (textRedactionMode REDACT_NO_TEXT); the difference of their
# RSS after reading the file.
ocr_rss() { # POLICY_FILE CACHE_DIR: "VmRSS(KiB) OCR-threads" after a read
	fs_mount "$T/probe/src" "$T/probe/mnt" ",policy=$1,cache=$2"
	find "$T/probe/mnt" -type f -exec cat {} + >/dev/null || fail "reading the probe"
	echo "$(awk '/^VmRSS/ {print $2}' "/proc/$FS_PID/status") $(ocr_threads "$FS_PID")"
	fs_umount "$T/probe/mnt"
}
mkdir -p "$T/probe/src" "$T/probe/mnt" "$T/probe/c1" "$T/probe/c2"
chmod 700 "$T/probe/c1" "$T/probe/c2"
"$PYTHON" - "$SRC/STUDY_0000/IMG0.dcm" "$T/probe/src/IMG0.dcm" <<'PY' || fail "probe file"
import sys
import pydicom
ds = pydicom.dcmread(sys.argv[1])
ds.BurnedInAnnotation = "YES"
ds.Rows = ds.Columns = 64
ds.PixelData = bytes(64 * 64 * 2)
ds.save_as(sys.argv[2], write_like_original=False)
PY
sed 's/"textRedactionMode": *"REDACT_SENSITIVE_TEXT"/"textRedactionMode": "REDACT_NO_TEXT"/' \
	"$POLICY" >"$T/probe/noocr.json"
if grep -q REDACT_NO_TEXT "$T/probe/noocr.json"; then
	read -r with with_thr < <(ocr_rss "$POLICY" "$T/probe/c1")
	read -r without without_thr < <(ocr_rss "$T/probe/noocr.json" "$T/probe/c2")
	[ "$with_thr" -gt 0 ] && [ "$without_thr" = 0 ] ||
		fail "probe: $with_thr OCR threads with OCR, $without_thr without"
	note "OCR engine's share of the RSS when loaded: $(( (with - without) / 1024 )) MiB (one marked image read: $(( with / 1024 )) MiB with OCR, $with_thr worker(s), $(( without / 1024 )) MiB without)"
else
	note "OCR engine's share of the RSS: not measured (no textRedactionMode in the default policy)"
fi
ok "find over $NFILES files in $NDIRS directories"
echo PASS
