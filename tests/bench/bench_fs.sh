#!/bin/bash
# bench_fs.sh: deidfs against libfuse's passthrough_ll and native reads.
# Prints numbers and ratios measured in the same run; not a test.
#
#   tests/bench/bench_fs.sh [BUILD_DIR]      (default: ./build)
#
# Conditions (the issue's): the source is in the page cache (every file
# is read once before each measured pass), the deidfs cache (LMDB) is
# warm, and "first read" is the first pass after a fresh mount for both
# FUSE peers; "re-read" is the second pass on the same mount (served from
# the kernel's page cache of the mount).  Each peer is measured
# DD_BENCH_REPS times, interleaved; the script prints every run, then the
# medians, and the median of the per-run ratios (a ratio compares two
# numbers measured back to back, which matters on a shared machine).
#
# Environment: DD_BENCH_DIR (work directory, default /tmp; needs ~1.5 GB),
# DD_BENCH_SCALE (multiplies the file counts, default 1), DD_BENCH_PARTS
# (default "ct mid small"), DD_BENCH_REPS (default 3), DD_BENCH_DEIDFS_OPTS
# (extra -o options for deidfs, e.g. "attr_timeout=5").
#
# Peers (flags as run):
#   native          cat on the source directory itself
#   passthrough_ll  libfuse's example/passthrough_ll.c, built here from the
#                   copy Debian's libfuse3-dev ships in its docs (never
#                   committed), run as: passthrough_ll -f -o source=SRC
#                   -o cache=always MNT
#   deidfs          deidfs SRC MNT -f -o preset=default,key=K,cache=C
#                   (all other options at their defaults)
# Readers: find | xargs -P N -n 8 cat (coreutils cat: it reads in blocks
# of max(128 KiB, st_blksize)).
set -u
set -o pipefail

BUILD=${1:-build}
DEIDFS=${DEIDFS:-$BUILD/fs/deidfs}
DEID_GEN=${DEID_GEN:-}
for g in "$BUILD/tools/gen/deid-gen" "$BUILD/tools/deid-gen"; do
	[ -z "$DEID_GEN" ] && [ -x "$g" ] && DEID_GEN=$g
done
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=python3
/usr/bin/python3 -c 'import pydicom' 2>/dev/null && PYTHON=/usr/bin/python3
SCALE=${DD_BENCH_SCALE:-1}
REPS=${DD_BENCH_REPS:-3}
DOPTS=${DD_BENCH_DEIDFS_OPTS:-}
[ -x "$DEIDFS" ] || { echo "bench_fs: no deidfs at $DEIDFS" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "bench_fs: /dev/fuse is missing" >&2; exit 1; }

W=$(mktemp -d "${DD_BENCH_DIR:-/tmp}/deidfs-bench.XXXXXX") || exit 1
MNTS=()
PIDS=()
cleanup() {
	local m p
	for m in "${MNTS[@]}"; do mountpoint -q "$m" && fusermount3 -u "$m" 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT

now() { date +%s.%N; }
calc() { echo "scale=3; $*" | bc; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# put every file under DIR into the page cache
warm() { find "$1" -type f -print0 | xargs -0 -r -n 64 cat >/dev/null; }

# --- peers ------------------------------------------------------------------
PT=""
for src in /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c \
	/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c.gz; do
	[ -f "$src" ] || continue
	# its helper header sits next to it
	for f in passthrough_ll.c passthrough_helpers.h; do
		d=$(dirname "$src")
		if [ -f "$d/$f" ]; then cp "$d/$f" "$W/$f"
		elif [ -f "$d/$f.gz" ]; then zcat "$d/$f.gz" >"$W/$f"
		fi
	done
	cc -O2 -Wall -o "$W/passthrough_ll" "$W/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) 2>"$W/pt.log" && PT=$W/passthrough_ll
	break
done
[ -n "$PT" ] || echo "# passthrough_ll not available (libfuse3-dev examples missing): skipped"

# --- data -------------------------------------------------------------------
mkct() { # DIR COUNT ROWS COLS
	if [ -n "$DEID_GEN" ]; then
		"$DEID_GEN" ct "$1" --count "$2" --rows "$3" --cols "$4" >/dev/null
	else
		"$PYTHON" "$HERE/../fs/fs_mkdicom.py" "$1" "$2" "$3" "$4"
	fi
}
mksmall() { # DIR COUNT
	if [ -n "$DEID_GEN" ]; then
		"$DEID_GEN" small "$1" --count "$2" >/dev/null
	else
		"$PYTHON" "$HERE/../fs/fs_mkdicom.py" "$1" "$2" 16 16 SM
	fi
}
N_CT=$((600 * SCALE)) N_MID=$((2000 * SCALE)) N_SMALL=$((5000 * SCALE))
echo "# making data in $W (generator: ${DEID_GEN:-pydicom})"
PARTS=${DD_BENCH_PARTS:-ct mid small}
case " $PARTS " in *" ct "*) mkct "$W/ct" "$N_CT" 512 512 || exit 1 ;; esac
case " $PARTS " in *" mid "*) mkct "$W/mid" "$N_MID" 256 512 || exit 1 ;; esac # 256 KiB of pixels
case " $PARTS " in *" small "*) mksmall "$W/small" "$N_SMALL" || exit 1 ;; esac
head -c 32 /dev/urandom | base64 >"$W/key"
chmod 600 "$W/key"
mkdir -p "$W/cache" && chmod 700 "$W/cache"

# --- mounting -----------------------------------------------------------------
MNT_PID=
DEIDFS_FLAGS="-f -o preset=default,key=K,cache=C${DOPTS:+,$DOPTS}"
mount_deidfs() { # SRC MNT
	local fifo=$W/notify.$RANDOM c=
	mkfifo "$fifo"
	"$DEIDFS" "$1" "$2" -f -o "preset=default,key=$W/key,cache=$W/cache,notify_pipe=$fifo${DOPTS:+,$DOPTS}" 2>>"$W/deidfs.log" &
	MNT_PID=$!
	PIDS+=("$MNT_PID")
	MNTS+=("$2")
	read -r -t 120 -n 1 c <"$fifo"
	rm -f "$fifo"
	[ "$c" = s ] || { cat "$W/deidfs.log"; echo "bench_fs: deidfs did not mount" >&2; exit 1; }
}
PT_FLAGS="-f -o source=SRC -o cache=always"
mount_pt() { # SRC MNT
	"$PT" -f -o "source=$1" -o cache=always "$2" 2>>"$W/pt.log" &
	MNT_PID=$!
	PIDS+=("$MNT_PID")
	MNTS+=("$2")
	for _ in $(seq 200); do mountpoint -q "$2" && return; sleep 0.05; done
	echo "bench_fs: passthrough_ll did not mount" >&2
	exit 1
}
umount_any() { # MNT
	fusermount3 -u "$1"
	wait "$MNT_PID" 2>/dev/null
}
# "HWM ANON FILE" in MiB: peak RSS, anonymous and file-backed RSS now
rss() { awk '/^VmHWM/ {h = $2} /^RssAnon/ {a = $2} /^RssFile/ {f = $2}
	END {printf "%d %d %d", h / 1024, a / 1024, f / 1024}' "/proc/$1/status" 2>/dev/null; }

# read every file under DIR with N parallel readers; prints "secs bytes files"
# (the listing is timed too: on a cold deidfs mount it is where the
# files are classified and transformed)
readall() { # DIR N
	local t0 t1 bytes files
	t0=$(now)
	find "$1" -type f -print0 | xargs -0 -r -P "$2" -n 8 cat >/dev/null || return 1
	t1=$(now)
	files=$(find "$1" -type f | wc -l)
	bytes=$(find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	echo "$(calc "$t1 - $t0") $bytes $files"
}

# bench NAME SRC READERS: per run and peer, a fresh mount, the first pass
# and a re-read; the source is put in the page cache before each run.
declare -A R
bench() {
	local name=$1 src=$2 n=$3 m=$W/mnt.$1 peer secs bytes files rep h a f
	mkdir -p "$m"
	mount_deidfs "$src" "$m" # warm the manifest cache (not timed)
	readall "$m" "$n" >/dev/null
	umount_any "$m"
	for rep in $(seq "$REPS"); do
		for peer in native passthrough_ll deidfs; do
			local dir=$m
			warm "$src"
			case $peer in
			native) dir=$src ;;
			passthrough_ll) [ -n "$PT" ] || continue; mount_pt "$src" "$m" ;;
			deidfs) mount_deidfs "$src" "$m" ;;
			esac
			read -r secs bytes files < <(readall "$dir" "$n")
			local first again
			first=$(calc "$bytes / 1048576 / $secs")
			read -r secs bytes files < <(readall "$dir" "$n")
			again=$(calc "$bytes / 1048576 / $secs")
			R[$name.$peer.first]+=" $first"
			R[$name.$peer.again]+=" $again"
			R[$name.$peer.first.$rep]=$first
			R[$name.$peer.again.$rep]=$again
			local extra=
			if [ "$peer" != native ]; then
				read -r h a f < <(rss "$MNT_PID")
				extra="   RSS peak $h MiB (anon $a, file $f)"
				[ "$peer" = deidfs ] && [ "$h" -gt "${R[peak]:-0}" ] && R[peak]=$h
				umount_any "$m"
			fi
			printf '%-4s run %d  %-15s first %8s MB/s   re-read %8s MB/s   (%d files, %d MB, %d readers)%s\n' \
				"$name" "$rep" "$peer" "$first" "$again" "$files" \
				"$((bytes / 1048576))" "$n" "$extra"
		done
		for k in first again; do
			R[$name.rn.$k]+=" $(calc "${R[$name.deidfs.$k.$rep]} / ${R[$name.native.$k.$rep]}")"
			[ -n "$PT" ] && R[$name.rp.$k]+=" $(calc "${R[$name.deidfs.$k.$rep]} / ${R[$name.passthrough_ll.$k.$rep]}")"
		done
	done
	R[$name.srcbytes]=$(du -sb "$src" | cut -f1)
}

echo "# $(nproc) CPUs, $REPS runs; source in the page cache, deidfs cache warm, fresh mount per run"
echo "# deidfs: $("$DEIDFS" --version | head -1)"
echo "#   deidfs SRC MNT $DEIDFS_FLAGS"
[ -n "$PT" ] && echo "#   passthrough_ll $PT_FLAGS MNT   (libfuse $(pkg-config --modversion fuse3) example)"
echo "#   native: the source directory"
case " $PARTS " in *" ct "*) bench ct "$W/ct" 4 ;; esac
case " $PARTS " in *" mid "*) bench mid "$W/mid" 8 ;; esac

# cache size against the pixel-heavy sources it describes
cache_line=
if [ -n "${R[ct.srcbytes]:-}${R[mid.srcbytes]:-}" ]; then
	srcb=$(( ${R[ct.srcbytes]:-0} + ${R[mid.srcbytes]:-0} ))
	cdisk=$(du -sB1 "$W/cache" | cut -f1)
	cache_line="cache: $((cdisk / 1024)) KiB on disk for $((srcb / 1048576)) MB of source ($(calc "100 * $cdisk / $srcb")%)"
fi

case " $PARTS " in *" small "*)
# --- cold first pass over small DICOM files (files/s) ----------------------------
m=$W/mnt.small
mkdir -p "$m"
rm -rf "$W/cache"/*
warm "$W/small"
mount_deidfs "$W/small" "$m"
read -r secs bytes files < <(readall "$m" 4)
read -r h a f < <(rss "$MNT_PID")
cold_rss="peak $h MiB (anon $a, file $f)"
[ "$h" -gt "${R[peak]:-0}" ] && R[peak]=$h
umount_any "$m"
cold_fps=$(calc "$files / $secs")
warm "$W/small"
mount_deidfs "$W/small" "$m"
read -r secs2 bytes2 files2 < <(readall "$m" 4)
umount_any "$m"
warm_fps=$(calc "$files2 / $secs2")
read -r secs3 _ files3 < <(readall "$W/small" 4)
native_fps=$(calc "$files3 / $secs3")
pt_fps=-
if [ -n "$PT" ]; then
	mount_pt "$W/small" "$m"
	read -r secs4 _ files4 < <(readall "$m" 4)
	umount_any "$m"
	pt_fps=$(calc "$files4 / $secs4")
fi
printf 'small  deidfs cold first pass %8s files/s (%d files, empty cache, RSS %s)\n' "$cold_fps" "$files" "$cold_rss"
printf 'small  deidfs warm cache      %8s files/s\n' "$warm_fps"
printf 'small  passthrough_ll         %8s files/s\n' "$pt_fps"
printf 'small  native                 %8s files/s\n' "$native_fps"
;; esac

# --- summary -----------------------------------------------------------------------
echo
echo "medians of $REPS runs (MB/s), and the median of the per-run ratios deidfs / peer (> 1: deidfs is faster)"
for name in ct mid; do
	[ -n "${R[$name.native.first]:-}" ] || continue
	for k in first again; do
		line=$(printf '  %-4s %-8s native %8s  passthrough_ll %8s  deidfs %8s   deidfs/native %6s' \
			"$name" "$([ $k = first ] && echo first || echo re-read)" \
			"$(echo "${R[$name.native.$k]}" | median)" \
			"$(echo "${R[$name.passthrough_ll.$k]:-}" | median)" \
			"$(echo "${R[$name.deidfs.$k]}" | median)" \
			"$(echo "${R[$name.rn.$k]}" | median)")
		[ -n "$PT" ] && line+=$(printf '  deidfs/passthrough_ll %6s' "$(echo "${R[$name.rp.$k]}" | median)")
		echo "$line"
	done
done
[ -n "$cache_line" ] && echo "  $cache_line"
case " $PARTS " in *" small "*)
echo "  small cold pass: $cold_fps files/s; vs native $(calc "$cold_fps / $native_fps")$([ -n "$PT" ] && echo "  vs passthrough_ll $(calc "$cold_fps / $pt_fps")")"
echo "  small warm pass: $warm_fps files/s; vs native $(calc "$warm_fps / $native_fps")$([ -n "$PT" ] && echo "  vs passthrough_ll $(calc "$warm_fps / $pt_fps")")"
;; esac

# --- the issue's targets, each beside its measured value -----------------------------
# verdict VALUE OP TARGET: "met" or "NOT MET" ("-" when not measured)
verdict() {
	case $1 in ''|-) echo "not measured"; return ;; esac
	if [ "$(echo "$1 $2 $3" | bc)" = 1 ]; then echo met; else echo "NOT MET"; fi
}
echo
echo "targets (issue #6; ratios are the medians above)"
target() { # LABEL VALUE OP TARGET
	printf '  %-46s %8s   target %s %-5s %s\n' "$1" "$2" "$3" "$4" "$(verdict "$2" "$3" "$4")"
}
for name in ct mid; do
	[ -n "${R[$name.native.first]:-}" ] || continue
	label="$name first read, deidfs/passthrough_ll"
	[ $name = ct ] && label="ct (600 slices, 4 readers) first read, deidfs/passthrough_ll"
	[ $name = mid ] && label="mid (2,000 x 256 KiB, 8 readers) first read, deidfs/passthrough_ll"
	if [ -n "$PT" ]; then
		target "$label" "$(echo "${R[$name.rp.first]}" | median)" ">=" 1.5
	else
		target "$label" - ">=" 1.5
	fi
	target "$name re-read, deidfs/native" "$(echo "${R[$name.rn.again]}" | median)" ">=" 0.8
done
if [ -n "${cdisk:-}" ]; then
	target "cache size, % of the pixel-heavy source" "$(calc "100 * $cdisk / $srcb")" "<=" 2
fi
case " $PARTS " in *" small "*)
printf '  %-46s %8s   (reported; no target)\n' "small cold first pass, files/s" "$cold_fps"
;; esac
# the daemon's peak RSS over every mount of this run (the target is for
# 100k and 1M files: tests/fs/fs_scale.sh measures those)
if [ -n "${R[peak]:-}" ]; then
	target "deidfs peak RSS here, MiB (1M: fs_scale.sh)" "${R[peak]}" "<=" 100
fi
