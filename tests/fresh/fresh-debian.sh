#!/bin/bash
# fresh-debian.sh: run the README's two commands on a fresh Debian 12 root.
#
# Builds a minimal bookworm root with mmdebstrap (using this machine's apt
# sources, so it reaches the same Debian mirror), clones the current commit
# into it, and runs `./scripts/sample.sh` and `./scripts/test.sh` there as
# root, printing the time each took.  Needs root, mmdebstrap and network
# access to the Debian archive.  Not part of `meson test` (it takes a
# while); run it by hand before a release:
#     sudo tests/fresh/fresh-debian.sh [WORKDIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-/tmp/deidfs-fresh}
root=$work/root
sources=""
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
	[ -s "$f" ] && { sources=$f; break; }
done
[ -n "$sources" ] || { echo "no apt sources found" >&2; exit 1; }
command -v mmdebstrap >/dev/null || apt-get install -y -qq mmdebstrap

cleanup() {
	for m in dev/pts dev proc sys; do
		mountpoint -q "$root/$m" && umount -l "$root/$m" || true
	done
}
trap cleanup EXIT

rm -rf "$work"
mkdir -p "$work"
t0=$(date +%s)
mmdebstrap --variant=minbase --include=ca-certificates,git,sudo \
	bookworm "$root" "$sources" >"$work/mmdebstrap.log" 2>&1
t1=$(date +%s)
echo "fresh root: $(( t1 - t0 ))s"
git clone -q --no-local "$top" "$root/root/deidfs"
# services must not start inside the chroot (orthanc's postinst)
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"

run() {
	local name=$1 s e rc=0
	shift
	s=$(date +%s)
	chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		TERM=dumb bash -c "cd /root/deidfs && $*" >"$work/$name.log" 2>&1 || rc=$?
	e=$(date +%s)
	echo "$name: exit $rc, $(( e - s ))s (log: $work/$name.log)"
	tail -n 25 "$work/$name.log"
	return $rc
}
rc=0
run sample ./scripts/sample.sh || rc=1
run test ./scripts/test.sh || rc=1
exit $rc
