#!/usr/bin/env python3
"""Golden tests of the FHIR engine: policy + inputs -> expected outputs.

usage: golden.py FHIR_XFORM GOLDEN_DIR [--update]

Each case is a directory of GOLDEN_DIR: policy.json (else the built-in
"default"), input files (*.json, *.ndjson), and expected/ with, for every
input, the expected output bytes, or for hidden inputs a line in
expected/hidden.txt.  Every case runs twice, with the default chunking and
with 256-byte REGEN chunks read back 7 bytes at a time: both must give the
expected bytes.  Every expected output must also parse as JSON (per line
for NDJSON) and keep its resourceType.  --update rewrites expected/
(review the diff before committing it).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(xform, case, inputs, extra, out):
    cmd = [xform, "-o", out, "-s"] + extra
    pol = os.path.join(case, "policy.json")
    if os.path.exists(pol):
        cmd += ["-p", pol]
    if os.path.exists(os.path.join(case, "index")):
        cmd += ["-i", case]
    r = subprocess.run(cmd + inputs, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise RuntimeError("%s: fhir_xform exit %d\n%s" % (case, r.returncode, r.stderr))
    hidden = sorted("%s %s" % (l.split()[1], os.path.basename(l.split()[2]))
                    for l in r.stdout.splitlines() if l.startswith("HIDDEN"))
    return hidden


def valid(path, src):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs = [json.loads(l) for l in text.splitlines()] if path.endswith(".ndjson") \
        else [json.loads(text)]
    with open(src, encoding="utf-8-sig") as f:
        stext = f.read()
    sdocs = [json.loads(l) for l in stext.splitlines() if l.strip()] \
        if src.endswith(".ndjson") else [json.loads(stext)]
    return len(docs) == len(sdocs) and all(
        d.get("resourceType") == s.get("resourceType") for d, s in zip(docs, sdocs))


def main():
    xform, gdir = sys.argv[1:3]
    update = "--update" in sys.argv
    fails = 0
    for name in sorted(os.listdir(gdir)):
        case = os.path.join(gdir, name)
        if not os.path.isdir(case):
            continue
        inputs = sorted(os.path.join(case, f) for f in os.listdir(case)
                        if (f.endswith(".json") or f.endswith(".ndjson")) and f != "policy.json")
        exp = os.path.join(case, "expected")
        for extra in ([], ["-c", "256", "-r", "7"]):
            with tempfile.TemporaryDirectory() as out:
                hidden = run(xform, case, inputs, extra, out)
                if update and not extra:
                    shutil.rmtree(exp, ignore_errors=True)
                    os.makedirs(exp)
                    for f in os.listdir(out):
                        shutil.copy(os.path.join(out, f), exp)
                    with open(os.path.join(exp, "hidden.txt"), "w") as h:
                        h.write("".join(l + "\n" for l in hidden))
                with open(os.path.join(exp, "hidden.txt")) as h:
                    want_hidden = [l.strip() for l in h if l.strip()]
                if hidden != want_hidden:
                    print("FAIL %s %s: hidden %s, expected %s" % (name, extra, hidden, want_hidden))
                    fails += 1
                for src in inputs:
                    b = os.path.basename(src)
                    got, want = os.path.join(out, b), os.path.join(exp, b)
                    if not os.path.exists(want):
                        if os.path.exists(got):
                            print("FAIL %s %s: %s served, expected hidden" % (name, extra, b))
                            fails += 1
                        continue
                    if not os.path.exists(got) or open(got, "rb").read() != open(want, "rb").read():
                        print("FAIL %s %s: %s differs from expected/%s" % (name, extra, b, b))
                        fails += 1
                    elif not valid(got, src):
                        print("FAIL %s: %s is not valid FHIR JSON" % (name, b))
                        fails += 1
        print("ok   %s (%d inputs)" % (name, len(inputs)))
    print("failures: %d" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
