#!/usr/bin/python3
"""prepass_corpus.py: the pre-pass over a directory of DICOM files (the
pydicom test images, used in place), printing how many native images it
flags (border bands only, as for CT/MR/CR) and its speed.  These images
have no burnt-in text that we know of, so every flag is counted as a
false positive; this is a report, not an assertion.  Exit 77 (skip) when
the directory is missing."""
import json
import os
import subprocess
import sys

tool, d = sys.argv[1], sys.argv[2]
if not os.path.isdir(d):
    sys.exit(77)
n = flagged = 0
mb = secs = 0.0
for f in sorted(os.listdir(d)):
    if not f.endswith(".dcm"):
        continue
    p = subprocess.run([tool, "prepass", os.path.join(d, f)], capture_output=True, text=True)
    try:
        r = json.loads(p.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        continue
    if "error" in r:
        continue
    n += 1
    mb += r["bytes"] / 1e6
    secs += r["secs"]
    if r["regions"]:
        flagged += 1
        print("flagged: %s (%d regions)" % (f, len(r["regions"])))
print("pre-pass on %d native pydicom images: %d flagged (false-positive rate %.2f); "
      "%.1f MB in %.4f s" % (n, flagged, flagged / n if n else 0, mb, secs))
