#!/usr/bin/python3
"""Corpus test: every file of Debian's python3-pydicom test data through
`deid file` with the default policy, checked by tools that are not ours.

Each file either
  * comes out: a Part 10 file that dcmdump and pydicom read, with no
    dciodvfy error its source did not have, where no attribute that the
    default policy removes or replaces (PS3.15 basic action X, Z, D, U or a
    combination, not overridden by one of the default's option columns)
    holds its original non-empty value anywhere (sequences included), and
    whose stored pixel data is byte-identical to the source when the
    transfer syntax is unchanged; or
  * is hidden (deid exits 3, or 1 for error reasons, and prints the
    reason) for the reason listed in corpus_expected_hidden.txt.
At least 85% of the files pydicom reads must come out.

usage: corpus_pydicom.py --deid DEID --csv PS315.csv --hidden TABLE [-v]
Exit 0 pass, 1 fail, 77 skip (no pydicom test data, no dciodvfy/dcmdump).
"""
import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
MIN_OUT = 0.85
warnings.filterwarnings("ignore")  # pydicom's value warnings: noise here

try:
    import pydicom
    from pydicom.tag import Tag
except ImportError:
    print("SKIP: pydicom is not installed (Debian: python3-pydicom)")
    sys.exit(77)

# The default policy's option columns ("PS3.15 Basic with modified dates",
# see `deid policy default`): an entry there overrides the basic action.
DEFAULT_OPTIONS = ["retain_long_modified_dates", "retain_patient_chars",
                   "clean_desc", "clean_struct_cont", "clean_graph"]
# The VR dummies of docs/internals/dicom.md: an original that already is
# the dummy may legitimately come out unchanged.
DUMMIES = {"REMOVED", "ANONYMOUS", "19000101", "19000101000000", "000000",
           "0", "000Y"}


def rules(csv_path):
    """tag -> 'replace' | 'shift' for attributes whose original value must
    not survive under the default policy (repeating groups skipped)."""
    out = {}
    for r in csv.DictReader(open(csv_path, encoding="utf-8")):
        m = re.fullmatch(r"\(([0-9A-F]{4}),([0-9A-F]{4})\)", r["tag"].upper())
        if not m or r["basic"] not in ("X", "Z", "D", "U", "X/Z", "Z/D",
                                       "X/D", "X/Z/D", "X/Z/U*"):
            continue
        over = [r[c] for c in DEFAULT_OPTIONS if r.get(c)]
        tag = Tag(int(m.group(1), 16), int(m.group(2), 16))
        if not over:
            out[tag] = "replace"
        elif over == ["C"] and r["vr"] in ("DA", "DT") and \
                r.get("retain_long_modified_dates") == "C":
            out[tag] = "shift"  # modified dates: shifted, never 0 days
    return out


def values(ds, tags, acc=None):
    """tag -> set of non-empty string values, at any depth."""
    acc = {} if acc is None else acc
    for e in ds:
        if e.VR == "SQ":
            for it in e.value:
                values(it, tags, acc)
        elif e.tag in tags:
            v = e.value
            if v is None or v == "" or isinstance(v, bytes):
                continue
            for x in (v if isinstance(v, (list, pydicom.multival.MultiValue))
                      else [v]):
                s = str(x).strip()
                if s and s not in DUMMIES:
                    acc.setdefault(e.tag, set()).add(s)
    return acc


def dciodvfy_errors(exe, path):
    r = subprocess.run([exe, path], capture_output=True, timeout=120)
    text = (r.stdout + r.stderr).decode("latin-1")
    errs = set()
    for line in text.splitlines():
        if line.startswith("Error"):
            # element values, offsets and counts differ between source and
            # output without the error being new
            line = re.sub(r"\"[^\"]*\"|\[[^\]]*\]|<[^>]*=[^>]*>", "#", line)
            line = re.sub(r"\b0x[0-9a-fA-F]+\b|\b\d+(\.\d+)*\b", "#", line)
            errs.add(line.strip())
    return errs


def load_hidden(path):
    table = {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split(None, 2)
        if len(f) < 3:
            sys.exit(f"{path}:{n}: expected 'PATH REASON justification'")
        table[f[0]] = f[1]
    return table


def pixel_bytes(ds):
    return ds["PixelData"].value if "PixelData" in ds else None


def xfer_of(ds):
    fm = getattr(ds, "file_meta", None)
    if fm is not None and "TransferSyntaxUID" in fm:
        return str(fm.TransferSyntaxUID)
    return None


def check_output(rel, src, out, rule, tools, errors):
    r = subprocess.run([tools["dcmdump"], "-q", out], capture_output=True)
    if r.returncode:
        errors.append(f"{rel}: dcmdump cannot read the output: "
                      f"{r.stderr.decode('latin-1').strip()[:200]}")
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sds = pydicom.dcmread(src, force=True)
            ods = pydicom.dcmread(out)  # a Part 10 file: no force
            for _ in ods.iterall():    # parse every element
                pass
    except Exception as e:  # pydicom raises many kinds
        errors.append(f"{rel}: pydicom cannot read the output: {e}")
        return
    # PHI: no original value of a replaced attribute survives anywhere
    orig = values(sds, rule)
    got = values(ods, rule)
    for tag, vals in orig.items():
        kept = vals & got.get(tag, set())
        if kept:
            kw = pydicom.datadict.keyword_for_tag(tag) or str(tag)
            errors.append(f"{rel}: {kw} ({rule[tag]}) keeps its original "
                          f"value {sorted(kept)[0][:40]!r}")
    # pixels: byte-identical when the transfer syntax is unchanged
    sx, ox = xfer_of(sds), xfer_of(ods)
    sp, op = pixel_bytes(sds), pixel_bytes(ods)
    if sp is not None:
        if op is None:
            errors.append(f"{rel}: PixelData is gone")
        elif sx == ox and sp != op:
            errors.append(f"{rel}: PixelData differs (transfer syntax "
                          f"{ox} unchanged)")
    # validity: no dciodvfy error the source did not have
    if tools["dciodvfy"]:
        new = dciodvfy_errors(tools["dciodvfy"], out) - \
            dciodvfy_errors(tools["dciodvfy"], src)
        for e in sorted(new)[:5]:
            errors.append(f"{rel}: new dciodvfy error: {e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deid", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--hidden", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--policy", help="another policy (to see the checks "
                    "fail on a policy that keeps PHI)")
    a = ap.parse_args()
    data = os.path.join(os.path.dirname(pydicom.__file__), "data")
    roots = [os.path.join(data, d) for d in ("test_files", "charset_files")]
    if not all(os.path.isdir(r) for r in roots):
        print(f"SKIP: pydicom test data not found under {data} "
              "(Debian: python3-pydicom)")
        return 77
    tools = {t: shutil.which(t) for t in ("dcmdump", "dciodvfy")}
    for t in ("dcmdump", "dciodvfy"):
        if not tools[t]:
            print(f"SKIP: {t} is not installed (Debian: "
                  f"{'dcmtk' if t == 'dcmdump' else 'dicom3tools'})")
            return 77
    rule = rules(a.csv)
    hidden_table = load_hidden(a.hidden)
    files = sorted(os.path.join(dp, f) for r in roots
                   for dp, _, fs in os.walk(r) for f in fs)
    tmp = tempfile.mkdtemp(prefix="deid-corpus-")
    key = os.path.join(tmp, "key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (TEST_KEY + "\n").encode())
    os.close(fd)
    env = dict(os.environ, DEIDFS_KEY_FILE=os.path.join(tmp, "unused-key"))
    errors, readable, out_ok, reasons = [], 0, 0, {}
    seen = set()
    try:
        for i, src in enumerate(files):
            rel = os.path.relpath(src, data)
            seen.add(rel)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pydicom.dcmread(src)
                pyd = True
            except Exception:
                pyd = False
            readable += pyd
            out = os.path.join(tmp, f"out{i}.dcm")
            cmd = [a.deid, "file", src, out, "--key-file", key]
            if a.policy:
                cmd += ["-p", a.policy]
            r = subprocess.run(cmd, capture_output=True, env=env,
                               timeout=300)
            msg = r.stderr.decode("utf-8", "replace").strip()
            if r.returncode == 0:
                if rel in hidden_table:
                    errors.append(f"{rel}: listed as hidden "
                                  f"({hidden_table[rel]}) but came out: "
                                  "update corpus_expected_hidden.txt")
                n = len(errors)
                check_output(rel, src, out, rule, tools, errors)
                out_ok += pyd and len(errors) == n
                status = "out" if len(errors) == n else "BAD"
            elif r.returncode in (1, 3):
                m = re.search(r"hidden \(([^,]+), ([^)]+)\)", msg)
                if not m:
                    errors.append(f"{rel}: exit {r.returncode} without a "
                                  f"reason: {msg[:200]}")
                    status = "ERR"
                else:
                    why = m.group(2)
                    reasons[why] = reasons.get(why, 0) + 1
                    want = hidden_table.get(rel)
                    if want is None:
                        errors.append(f"{rel}: hidden ({why}) but not in "
                                      "corpus_expected_hidden.txt")
                    elif want != why:
                        errors.append(f"{rel}: hidden for {why}, the table "
                                      f"says {want}")
                    status = f"hidden {why}"
            else:
                errors.append(f"{rel}: deid exited {r.returncode}: "
                              f"{msg[:200]}")
                status = "ERR"
            if os.path.exists(out):
                os.unlink(out)
            if a.verbose:
                print(f"{status:28} {rel}")
    finally:
        shutil.rmtree(tmp)
    for rel in sorted(set(hidden_table) - seen):
        errors.append(f"{rel}: in corpus_expected_hidden.txt but not in "
                      "the corpus")
    for e in errors:
        print("FAIL " + e)
    pct = 100.0 * out_ok / readable if readable else 0.0
    print(f"corpus: {len(files)} files, {readable} read by pydicom, "
          f"{out_ok} of those de-identified and verified ({pct:.1f}%), "
          f"hidden: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    if pct < 100 * MIN_OUT:
        print(f"FAIL only {pct:.1f}% of the files pydicom reads came out "
              f"verified (need {100 * MIN_OUT:.0f}%)")
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
