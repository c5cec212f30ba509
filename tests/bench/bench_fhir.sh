#!/bin/sh
# bench_fhir.sh: the FHIR engine on bulk NDJSON, against jq (ratios, not a
# test).  usage: tests/bench/bench_fhir.sh [BUILD_DIR] [MB] [BIG_MB]
#
# Generates MB (default 60) and BIG_MB (default 600) megabytes of NDJSON
# (Patients, Encounters, Observations with free-text notes;
# tests/bench/gen_fhir_ndjson.py) and measures, single-threaded:
#  - `deid materialize` with the default policy (free-text inspection on)
#    against the peer `jq -c` deleting the usual PHI fields
#    (name, telecom, address, identifier, birthDate, photo, contact, text,
#    note, subject.display) from every line: the time ratio;
#  - MB/s per core (user+sys CPU time) with deidfs.inspectFreeText false;
#  - peak RSS (/usr/bin/time -v) at MB and BIG_MB (inspection off for the
#    big one, to keep the run short; memory does not depend on it).  The
#    patient index (patientLinking "auto": every Patient of the tree) grows
#    with the number of patients; everything else is flat.
# `deid materialize` transforms each FHIR file once, writing the output while
# it transforms (dd_view_manifest_write); a mount instead keeps the manifest
# (size and ~1 MiB checkpoints) and re-transforms REGEN chunks on read.
# Before the first file, materialize builds the patient index of the tree
# (patientLinking "auto"): that is in the times too.
set -eu
B=${1:-build}
MB=${2:-60}
BIG=${3:-600}
DEID=$B/tools/deid
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export DEIDFS_CACHE_DIR=$T/cache
printf '%s\n' "$(head -c 32 /dev/zero | tr '\0' k | base64)" > "$T/key"
chmod 600 "$T/key"
$DEID policy default > "$T/on.json"
python3 - "$T/on.json" "$T/off.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["deidfs"]["inspectFreeText"] = False
json.dump(p, open(sys.argv[2], "w"))
PY
python3 "$HERE/gen_fhir_ndjson.py" "$T/src" "$MB" >/dev/null
SIZE=$(du -sb "$T/src" | cut -f1)

cpu() { # command... -> prints "wall user+sys maxrss_kb"
	/usr/bin/time -f '%e %U %S %M' -o "$T/tm" "$@" >/dev/null 2>&1 || true
	awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$T/tm"
}
mbps() { awk -v b="$SIZE" -v s="$1" 'BEGIN{printf "%.1f", b / 1e6 / (s > 0 ? s : 0.01)}'; }

JQ='del(.name, .telecom, .address, .identifier, .birthDate, .photo, .contact, .text, .note) | if .subject then .subject |= del(.display) else . end'
mkdir -p "$T/jq"
set -- $(cpu sh -c 'for f in "$1"/src/*.ndjson; do jq -c "$2" "$f" > "$1/jq/${f##*/}"; done' sh "$T" "$JQ"); JQW=$1 JQC=$2
rm -rf "$T/out"
set -- $(cpu "$DEID" materialize "$T/src" "$T/out" -p "$T/on.json" --key-file "$T/key" -q); ONW=$1 ONC=$2 ONRSS=$3
rm -rf "$T/out"
set -- $(cpu "$DEID" materialize "$T/src" "$T/out" -p "$T/off.json" --key-file "$T/key" -q); OFFW=$1 OFFC=$2 OFFRSS=$3
echo "bench_fhir: $(awk -v b="$SIZE" 'BEGIN{printf "%.1f", b/1e6}') MB of NDJSON ($(wc -l < "$T/src/Patient.ndjson") patients)"
echo "  jq -c (PHI fields deleted):           ${JQW}s wall, ${JQC}s cpu, $(mbps "$JQC") MB/s per core"
echo "  deid materialize, inspection on:      ${ONW}s wall, ${ONC}s cpu, $(mbps "$ONC") MB/s per core, peak RSS ${ONRSS} kB"
echo "  deid materialize, inspection off:     ${OFFW}s wall, ${OFFC}s cpu, $(mbps "$OFFC") MB/s per core, peak RSS ${OFFRSS} kB"
echo "  ratio deid(inspection on) / jq (cpu): $(awk -v a="$ONC" -v b="$JQC" 'BEGIN{printf "%.2f", a / (b > 0 ? b : 0.01)}')"
echo "  ratio deid(inspection off) / jq (cpu): $(awk -v a="$OFFC" -v b="$JQC" 'BEGIN{printf "%.2f", a / (b > 0 ? b : 0.01)}')"
if [ "$BIG" -gt 0 ]; then
	rm -rf "$T/src" "$T/out" "$T/jq"
	python3 "$HERE/gen_fhir_ndjson.py" "$T/src" "$BIG" >/dev/null
	set -- $(cpu "$DEID" materialize "$T/src" "$T/out" -p "$T/off.json" --key-file "$T/key" -q)
	echo "  ${BIG} MB, inspection off:            ${1}s wall, ${2}s cpu, peak RSS ${3} kB (${MB} MB: ${OFFRSS} kB)"
fi
