#!/bin/sh
# install-deps.sh: install every Debian 12 package that deidfs's build, the
# sample job and the test suite need.  Run as root (or with sudo).
#   scripts/install-deps.sh          build + sample + tests
#   scripts/install-deps.sh --build  build only
set -eu

BUILD_PKGS="build-essential meson ninja-build pkg-config python3
 libfuse3-dev fuse3 libdcmtk-dev dcmtk libsndfile1-dev libjson-c-dev
 libtesseract-dev tesseract-ocr-eng liblmdb-dev lmdb-utils libssl-dev
 libopenjp2-7-dev"
TEST_PKGS="dicom3tools jq python3-pydicom python3-numpy python3-pil fonts-dejavu-core
 fonts-noto-mono orthanc rsync
 libgdcm-tools openssl procps psmisc attr time tesseract-ocr"

pkgs="$BUILD_PKGS"
[ "${1:-}" = "--build" ] || pkgs="$pkgs $TEST_PKGS"

SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO="sudo"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# orthanc's postinst starts a service; on machines without systemd that
# is harmless, and policy-rc.d keeps it from starting in chroots.
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
