#!/bin/sh
# sample.sh: install, build, generate a small sample dataset with fake PHI,
# de-identify it with the default policy, and show the result.
# The README's first command.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
S=${DD_SAMPLE_DIR:-_sample}
rm -rf "$S/src" "$S/out"
mkdir -p "$S"
# the sample gets its own key file (generated on first use, mode 0600)
export DEIDFS_KEY_FILE="$PWD/$S/deidfs.key"
build/tools/gen/deid-gen sample "$S/src" >/dev/null
echo "== source (fake PHI in names and contents) =="
(cd "$S/src" && find . -type f | sort | head -40)
echo
echo "== deid materialize $S/src $S/out (default policy) =="
rc=0
build/tools/deid materialize "$S/src" "$S/out" || rc=$?
echo
echo "== de-identified view =="
(cd "$S/out" && find . -type f | sort | head -40)
first=$(find "$S/out" -type f -name '*.dcm' | sort | head -1)
if [ -n "$first" ]; then
	echo
	echo "== dcmdump of $first (patient attributes) =="
	dcmdump -q "$first" | grep -E 'PatientName|PatientID|PatientBirthDate|StudyDate|AccessionNumber|InstitutionName|PatientIdentityRemoved|DeidentificationMethod ' || true
fi
exit $rc
