#!/usr/bin/python3
"""det_images.py: determinism of burnt-in text redaction.

    det_images.py IMAGE_TOOL J2K_ENC WORKDIR

Generates the image set, then plans a few of its images (US whole-frame
OCR, a multi-frame J2K, a CR with pre-pass regions) three times: twice
with one OCR worker, once with two.  The encoded boxes and the decoded
output pixels must be byte-identical across the three runs.  Exit 1 if
not, 2 on a tool failure.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
tool, j2k, work = sys.argv[1:4]
setdir = os.path.join(work, "set")
subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_images.py"), setdir, j2k])
rc = 0
for name in ("us_native", "xa_j2k_mf", "cr_mono1_native", "ct_jpegll"):
    outs = []
    for run, workers in enumerate((1, 1, 2)):
        base = os.path.join(work, "%s.%d" % (name, run))
        p = subprocess.run([tool, "plan", os.path.join(setdir, name + ".dcm"),
                            "--mode", "sensitive", "--workers", str(workers),
                            "--boxes", base + ".boxes", "--red", base + ".red"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print("%s: image_tool failed: %s" % (name, p.stdout.strip()))
            sys.exit(2)
        outs.append(open(base + ".boxes", "rb").read() + open(base + ".red", "rb").read())
    same = outs[0] == outs[1] == outs[2]
    print("%-18s %s" % (name, "identical (1, 1, 2 workers)" if same else "DIFFERENT"))
    rc |= 0 if same else 1
sys.exit(rc)
