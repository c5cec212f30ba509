#!/usr/bin/python3
"""The stored patient index (patientLinking "auto") through `deid index`.

usage: index_store.py DEID

Checks: the first run builds and stores the index (directory 0700, file
0600, nothing else left in the store directory); a second run finds it up
to date with the same digest; a file with one byte flipped (header or
body) or cut short is rebuilt, never used; touching a FHIR file or adding a
DICOM file rebuilds it; a DICOM file whose PatientID no Patient has leaves
the digest (part of every cache key) unchanged, one that a Patient's
identifier equals changes it; another key is another index file.
"""
import base64
import os
import re
import subprocess
import sys
import tempfile

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)


def dicom_header(pid):
    """Preamble, meta group (explicit VR little endian), PatientID."""
    ts = b"1.2.840.10008.1.2.1\0"
    meta = b"\x02\x00\x10\x00UI" + len(ts).to_bytes(2, "little") + ts
    if len(pid) % 2:
        pid += b" "
    ds = b"\x10\x00\x20\x00LO" + len(pid).to_bytes(2, "little") + pid
    return b"\0" * 128 + b"DICM" + meta + ds


def run(deid, src, env, key):
    r = subprocess.run([deid, "index", src, "--key-file", key, "-q"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        FAILS.append("deid index failed: %s" % r.stderr.strip())
        return None, None
    state = "built" if ": built" in r.stdout else "up to date" if "up to date" in r.stdout else "?"
    m = re.search(r"digest:\s+(\S+)", r.stdout)
    return state, m.group(1) if m else None


def main():
    deid = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(os.path.join(src, "fhir"))
        with open(os.path.join(src, "fhir", "p.ndjson"), "w") as f:
            for i in range(50):
                f.write('{"resourceType":"Patient","id":"p%d","identifier":'
                        '[{"system":"urn:x","value":"ID%04d"}],'
                        '"name":[{"family":"Fam%d"}]}\n' % (i, i, i))
        keys = []
        for n, word in enumerate((b"index_store key one, 32 bytes!!!",
                                  b"index_store key two, 32 bytes!!!")):
            k = os.path.join(tmp, "key%d" % n)
            with open(k, "w") as f:
                f.write(base64.b64encode(word).decode() + "\n")
            os.chmod(k, 0o600)
            keys.append(k)
        cache = os.path.join(tmp, "cache")
        env = dict(os.environ, DEIDFS_CACHE_DIR=cache)
        store = os.path.join(cache, "fhir-index")

        st, d0 = run(deid, src, env, keys[0])
        check(st == "built" and d0, "first run: %s" % st)
        files = os.listdir(store) if os.path.isdir(store) else []
        check(len(files) == 1 and files[0].endswith(".idx"),
              "store holds %s, expected one .idx" % files)
        if len(files) != 1:
            return report()
        idx = os.path.join(store, files[0])
        check(os.stat(store).st_mode & 0o777 == 0o700, "store directory not 0700")
        check(os.stat(idx).st_mode & 0o777 == 0o600, "index file not 0600")
        st, d = run(deid, src, env, keys[0])
        check(st == "up to date" and d == d0, "second run: %s, digest %s" % (st, d))

        size = os.path.getsize(idx)
        for off in (10, 64 + 8, 64 + 100, size // 2, size - 3):
            with open(idx, "r+b") as f:
                f.seek(off)
                b = f.read(1)
                f.seek(off)
                f.write(bytes([b[0] ^ 0x40]))
            st, d = run(deid, src, env, keys[0])
            check(st == "built" and d == d0,
                  "byte %d flipped: %s (digest %s)" % (off, st, d))
        with open(idx, "r+b") as f:
            f.truncate(size - 20)
        st, d = run(deid, src, env, keys[0])
        check(st == "built" and d == d0, "cut short: %s" % st)
        st, d = run(deid, src, env, keys[0])
        check(st == "up to date", "after the rebuild: %s" % st)

        os.utime(os.path.join(src, "fhir", "p.ndjson"), (1, 1))
        st, d = run(deid, src, env, keys[0])
        check(st == "built" and d == d0, "touched FHIR file: %s" % st)
        with open(os.path.join(src, "new.dcm"), "wb") as f:
            f.write(dicom_header(b"UNRELATED1"))
        st, d = run(deid, src, env, keys[0])
        check(st == "built" and d == d0,
              "added DICOM file, unrelated PatientID: %s, digest %s" % (st, d))
        with open(os.path.join(src, "new2.dcm"), "wb") as f:
            f.write(dicom_header(b"ID0007"))
        st, d = run(deid, src, env, keys[0])
        check(st == "built" and d and d != d0,
              "added DICOM file, a Patient's identifier as PatientID: %s, "
              "digest %s (was %s)" % (st, d, d0))

        st, d1 = run(deid, src, env, keys[1])
        check(st == "built", "another key: %s" % st)
        check(len(os.listdir(store)) == 2,
              "store after a second key: %s" % os.listdir(store))
    return report()


def report():
    for f in FAILS:
        print("FAIL", f)
    if not FAILS:
        print("index_store: all checks passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
