#!/bin/bash
# bench_fs.sh: deidfs against libfuse's passthrough_ll and native reads.
# Prints numbers and ratios measured in the same run; not a test.
#
#   tests/bench/bench_fs.sh [BUILD_DIR]      (default: ./build)
#
# Environment: DD_BENCH_DIR (work directory, default /tmp; needs ~1.5 GB),
# DD_BENCH_SCALE (multiplies the file counts, default 1), DD_BENCH_PARTS
# (default "ct mid small").  Dropping the
# kernel's caches between runs needs root; without it "first read" numbers
# are page-cache reads and the script says so.
#
# Peers:
#   native          cat/readers on the source directory itself
#   passthrough_ll  libfuse's example/passthrough_ll.c, built here from the
#                   copy Debian's libfuse3-dev ships in its docs (never
#                   committed), run as: passthrough_ll -f -o source=SRC
#                   -o cache=always MNT
#   deidfs          deidfs -f SRC MNT -o preset=default,key=K,cache=C
#                   (attr_timeout=1, workers = CPUs: the defaults)
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

CAN_DROP=0
if [ "$(id -u)" = 0 ] && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
	CAN_DROP=1
fi
drop() { [ "$CAN_DROP" = 1 ] && sync && echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
calc() { echo "scale=3; $*" | bc; }

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
mount_deidfs() { # SRC MNT
	local fifo=$W/notify.$RANDOM c=
	mkfifo "$fifo"
	"$DEIDFS" "$1" "$2" -f -o "preset=default,key=$W/key,cache=$W/cache,notify_pipe=$fifo" 2>>"$W/deidfs.log" &
	MNT_PID=$!
	PIDS+=("$MNT_PID")
	MNTS+=("$2")
	read -r -t 120 -n 1 c <"$fifo"
	rm -f "$fifo"
	[ "$c" = s ] || { cat "$W/deidfs.log"; echo "bench_fs: deidfs did not mount" >&2; exit 1; }
}
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
rss() { awk '/^VmHWM/ {printf "%d", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }

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

# bench NAME SRC READERS: first read (caches dropped) and re-read, for each
# peer; deidfs is run cold (empty cache) once first, not timed here
declare -A R
bench() {
	local name=$1 src=$2 n=$3 m=$W/mnt.$1 peer secs bytes files
	mkdir -p "$m"
	for peer in native passthrough_ll deidfs; do
		local dir=$m
		case $peer in
		native) dir=$src ;;
		passthrough_ll) [ -n "$PT" ] || continue; mount_pt "$src" "$m" ;;
		deidfs) mount_deidfs "$src" "$m"
			readall "$m" "$n" >/dev/null # warm the manifest cache
			umount_any "$m"; mount_deidfs "$src" "$m" ;;
		esac
		drop
		read -r secs bytes files < <(readall "$dir" "$n")
		R[$name.$peer.first]=$(calc "$bytes / 1048576 / $secs")
		read -r secs bytes files < <(readall "$dir" "$n")
		R[$name.$peer.again]=$(calc "$bytes / 1048576 / $secs")
		if [ "$peer" != native ]; then
			R[$name.$peer.rss]=$(rss "$MNT_PID")
			umount_any "$m"
		fi
		printf '%-6s %-15s first %8s MB/s   re-read %8s MB/s   (%d files, %d MB, %d readers)%s\n' \
			"$name" "$peer" "${R[$name.$peer.first]}" "${R[$name.$peer.again]}" \
			"$files" "$((bytes / 1048576))" "$n" \
			"$([ "$peer" != native ] && echo "   RSS ${R[$name.$peer.rss]} MiB")"
	done
}

echo "# $(nproc) CPUs; caches dropped between runs: $([ $CAN_DROP = 1 ] && echo yes || echo 'no (not root): first reads are page-cache reads')"
echo "# deidfs: $("$DEIDFS" --version | head -1); peers: passthrough_ll -o cache=always (libfuse $(pkg-config --modversion fuse3)), native"
PARTS=${DD_BENCH_PARTS:-ct mid small}
case " $PARTS " in *" ct "*) bench ct "$W/ct" 4 ;; esac
case " $PARTS " in *" mid "*) bench mid "$W/mid" 8 ;; esac
case " $PARTS " in *" small "*) ;; *) exit 0 ;; esac

# --- cold first pass over small DICOM files (files/s) ----------------------------
m=$W/mnt.small
mkdir -p "$m"
rm -rf "$W/cache"/*
drop
mount_deidfs "$W/small" "$m"
read -r secs bytes files < <(readall "$m" 4)
cold_rss=$(rss "$MNT_PID")
umount_any "$m"
cold_fps=$(calc "$files / $secs")
drop
mount_deidfs "$W/small" "$m"
read -r secs2 bytes2 files2 < <(readall "$m" 4)
umount_any "$m"
warm_fps=$(calc "$files2 / $secs2")
drop
read -r secs3 _ files3 < <(readall "$W/small" 4)
native_fps=$(calc "$files3 / $secs3")
pt_fps=-
if [ -n "$PT" ]; then
	drop
	mount_pt "$W/small" "$m"
	read -r secs4 _ files4 < <(readall "$m" 4)
	umount_any "$m"
	pt_fps=$(calc "$files4 / $secs4")
fi
printf 'small  deidfs cold first pass %8s files/s (%d files, empty cache, RSS %s MiB)\n' "$cold_fps" "$files" "$cold_rss"
printf 'small  deidfs warm cache      %8s files/s\n' "$warm_fps"
printf 'small  passthrough_ll         %8s files/s\n' "$pt_fps"
printf 'small  native                 %8s files/s\n' "$native_fps"

# --- ratios ----------------------------------------------------------------------
echo
echo "ratios (deidfs / peer; > 1 means deidfs is faster)"
for name in ct mid; do
	[ -n "${R[$name.native.first]:-}" ] || continue
	for k in first again; do
		line="  $name $k:"
		line+=" vs native $(calc "${R[$name.deidfs.$k]} / ${R[$name.native.$k]}")"
		[ -n "$PT" ] && line+="  vs passthrough_ll $(calc "${R[$name.deidfs.$k]} / ${R[$name.passthrough_ll.$k]}")"
		echo "$line"
	done
done
echo "  small cold pass: vs native $(calc "$cold_fps / $native_fps")$([ -n "$PT" ] && echo "  vs passthrough_ll $(calc "$cold_fps / $pt_fps")")"
echo "  small warm pass: vs native $(calc "$warm_fps / $native_fps")$([ -n "$PT" ] && echo "  vs passthrough_ll $(calc "$warm_fps / $pt_fps")")"
