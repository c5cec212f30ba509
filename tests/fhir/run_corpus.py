#!/usr/bin/env python3
"""Run the FHIR engine over a corpus and check the output independently.

usage: run_corpus.py FHIR_XFORM SRC_DIR WORDS KNOWN [XFORM_ARGS...]

FHIR_XFORM transforms every *.json of SRC_DIR (with the patient index of
SRC_DIR, tiny REGEN chunks and the in-memory self check) into a temporary
directory; check_corpus.py then checks that directory without using any
of the engine's code.
"""
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
xform, src, words, known = sys.argv[1:5]
extra = sys.argv[5:]
files = sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith(".json"))
with tempfile.TemporaryDirectory() as out:
    r = subprocess.run([xform, "-o", out, "-s", "-i", src] + extra + files,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        print(r.stdout[-4000:])
        print("fhir_xform failed: exit %d" % r.returncode)
        sys.exit(1)
    sys.exit(subprocess.call([sys.executable, os.path.join(here, "check_corpus.py"),
                              src, out, "--words", words, "--known", known]))
