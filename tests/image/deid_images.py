#!/usr/bin/python3
"""deid_images.py: burnt-in text redaction through the real path,
`deid file`, on the generated image set.

    deid_images.py DEID IMAGE_TOOL J2K_ENC WORKDIR [--mode sensitive|all]
                   [--min-recall R] [--no-gen] [--dciodvfy N]
                   [--encoding explicitLittleEndian|same]

For every case: `deid file` under a Basic Profile policy with
options.cleanImage (1 OCR worker), then again with 2 workers and again with
1: the three outputs must be byte-identical (determinism).  The output's
pixels (always native: compressed sources are written as Explicit VR Little
Endian) are decoded with pydicom and compared with the source frames
decoded by our library (`image_tool plan --no-ocr --orig`):
  - a planted sensitive word is redacted when >= 95% of its glyph box
    holds the fill value (recall over all of them >= --min-recall);
  - every changed pixel holds the fill value (nothing changed outside the
    boxes: boxes are filled with it and nothing else is written);
  - >= 90% of the harmless words keep all their ink (sensitive mode);
  - DeidentificationMethodCodeSequence has 113101 and the pixel value
    has the size the geometry gives.
With --dciodvfy N, dciodvfy runs on N sources and their outputs: no error
may be new.  Words are never printed, only sizes.

With --encoding same (deidfs.redactedEncoding "same"; the set gets its
lossy cases, gen_images.py --lossy), a compressed source's output must be
in the source's transfer syntax or its family's lossless one (JPEG
baseline -> JPEG lossless SV1, JPEG-LS near-lossless -> JPEG-LS lossless,
J2K -> J2K lossless), with one fragment per frame and a Basic Offset
Table, LossyImageCompression "01" kept when the source had it; dcmtk's
decoder for it (dcmdjpeg, dcmdjpls, dcmdrle) and pydicom where it has one
(RLE, JPEG 2000) must decode it, to exactly the pixels of the
"explicitLittleEndian" output; dciodvfy runs on every compressed case.
The checks above then run on those decoded pixels.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pydicom
import pydicom.encaps
import pydicom.filebase

HERE = os.path.dirname(os.path.abspath(__file__))


def arg(name, default=None):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


MODES = {"sensitive": "REDACT_SENSITIVE_TEXT", "all": "REDACT_ALL_TEXT"}


def policy(path, mode, workers, encoding="explicitLittleEndian"):
    pol = {
        "deidfs": {"apiVersion": "v1beta1", "ocr": {"workers": workers},
                   "redactedEncoding": encoding},
        "dicomTagConfig": {
            "profileType": "ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE",
            "options": {"cleanImage": {"textRedactionMode": MODES[mode]}},
        },
    }
    with open(path, "w") as f:
        json.dump(pol, f)


def deid(tool, src, out, pol, key):
    p = subprocess.run([tool, "file", src, out, "-p", pol, "--key-file", key],
                       capture_output=True, text=True)
    return p.returncode, p.stderr.strip()


def decoded_source(image_tool, src, work):
    base = os.path.join(work, os.path.basename(src)[:-4])
    p = subprocess.run([image_tool, "plan", src, "--no-ocr", "--orig", base + ".orig"],
                       capture_output=True, text=True)
    res = json.loads(p.stdout.strip().splitlines()[0])
    return np.fromfile(base + ".orig", dtype=np.uint8), res


# source transfer syntax -> the "same" output's (lossless, same family)
SAME_XFER = {
    "1.2.840.10008.1.2.5": "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50": "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.51": "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.57": "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70": "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80": "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81": "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90": "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91": "1.2.840.10008.1.2.4.90",
}
DCMTK_DECODER = {"1.2.840.10008.1.2.5": "dcmdrle",
                 "1.2.840.10008.1.2.4.57": "dcmdjpeg",
                 "1.2.840.10008.1.2.4.70": "dcmdjpeg",
                 "1.2.840.10008.1.2.4.80": "dcmdjpls"}


def pixels(ds):
    """Decoded frames as (frames, rows, cols, spp) stored values."""
    a = ds.pixel_array
    spp = int(ds.SamplesPerPixel)
    return a.reshape(int(ds.get("NumberOfFrames", 1) or 1), ds.Rows, ds.Columns, spp)


def check_same(src, o, expl, work, failed):
    """The "same" output @o of @src against the explicit output @expl.
    Returns the decoded native dataset (for the recall checks) or None."""
    name = os.path.basename(src)
    sds = pydicom.dcmread(src)
    ds = pydicom.dcmread(o)
    sx, ox = str(sds.file_meta.TransferSyntaxUID), str(ds.file_meta.TransferSyntaxUID)
    if sx not in SAME_XFER:
        return ds
    if ox != SAME_XFER[sx]:
        failed.append("%s: same: transfer syntax %s, expected %s" % (name, ox, SAME_XFER[sx]))
        return None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    fp = pydicom.filebase.DicomBytesIO(ds.PixelData)
    fp.is_little_endian = True
    offsets = pydicom.encaps.get_frame_offsets(fp)[1]
    frags = list(pydicom.encaps.generate_pixel_data_fragment(fp))
    if len(frags) != frames or len(offsets) != frames or any(len(f) % 2 for f in frags):
        failed.append("%s: same: %d fragments, %d offsets for %d frames" %
                      (name, len(frags), len(offsets), frames))
    want = [sum(8 + len(f) for f in frags[:i]) for i in range(frames)]
    if list(offsets) != want:
        failed.append("%s: same: Basic Offset Table %s, expected %s" % (name, offsets[:4], want[:4]))
    if sds.get("LossyImageCompression") == "01" and (
            ds.get("LossyImageCompression") != "01" or
            ds.get("LossyImageCompressionMethod") != sds.get("LossyImageCompressionMethod")):
        failed.append("%s: same: LossyImageCompression/Method not kept" % name)
    if int(ds.get("PlanarConfiguration", 0)) != 0:
        failed.append("%s: same: PlanarConfiguration %s" % (name, ds.get("PlanarConfiguration")))
    ref = pixels(pydicom.dcmread(expl))
    native = None
    tool = DCMTK_DECODER.get(ox)
    if tool:
        d = os.path.join(work, name[:-4] + ".decoded.dcm")
        p = subprocess.run([tool, o, d], capture_output=True, text=True)
        if p.returncode != 0:
            failed.append("%s: same: %s failed: %s" % (name, tool, p.stderr[-200:]))
            return None
        native = pydicom.dcmread(d)
        if not np.array_equal(pixels(native), ref):
            failed.append("%s: same: %s's pixels differ from the explicit output's" % (name, tool))
    if ox in ("1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90"):
        got = pixels(ds)  # pydicom: its RLE decoder, Pillow's OpenJPEG
        if not np.array_equal(got, ref):
            failed.append("%s: same: pydicom's pixels differ from the explicit output's" % name)
        if native is None:
            native = ds
            native.PixelData = got.astype(ref.dtype).tobytes()
            native.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
            native.PhotometricInterpretation = pydicom.dcmread(expl).PhotometricInterpretation
    return native


def dciodvfy_errors(path):
    p = subprocess.run(["dciodvfy", "-new", path], capture_output=True, text=True)
    errs = set()
    for line in (p.stdout + p.stderr).splitlines():
        if line.startswith("Error"):
            # values differ between source and output: keep the message kind
            errs.add(re.sub(r"<[^>]*>|\"[^\"]*\"|[0-9]+", "#", line))
    return errs


def main():
    tool, image_tool, j2k, work = sys.argv[1:5]
    mode = arg("--mode", "sensitive")
    min_recall = float(arg("--min-recall", "0.99"))
    n_dciodvfy = int(arg("--dciodvfy", "0"))
    encoding = arg("--encoding", "explicitLittleEndian")
    same = encoding == "same"
    setdir = os.path.join(work, "set")
    if "--no-gen" not in sys.argv:
        subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_images.py"),
                               setdir, j2k] + (["--lossy"] if same else []),
                              stdout=subprocess.DEVNULL)
    truth = json.load(open(os.path.join(setdir, "truth.json")))
    out = os.path.join(work, "deid-" + mode + ("-same" if same else ""))
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    key = os.path.join(out, "key")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
        f.write(base64.b64encode(bytes(range(32))) + b"\n")
    pols = {}
    for w in (1, 2):
        pols[w] = os.path.join(out, "policy%d.json" % w)
        policy(pols[w], mode, w, encoding)
    pol_explicit = os.path.join(out, "policy-explicit.json")
    policy(pol_explicit, mode, 1)
    same_checked = []
    tot_s = red_s = tot_h = kept_h = outside = 0
    failed = []
    print("%-28s %8s %6s %6s %8s %s" % ("case", "size", "recall", "kept", "outside", "missed"))
    for case in truth["cases"]:
        src = case["file"]
        name = os.path.basename(src)
        outs = []
        for i, w in enumerate((1, 2, 1)):
            o = os.path.join(out, "%s.%d.dcm" % (name[:-4], i))
            rc, err = deid(tool, src, o, pols[w], key)
            if rc != 0:
                failed.append("%s: deid file exit %d: %s" % (name, rc, err[-200:]))
                break
            outs.append(open(o, "rb").read())
        if len(outs) != 3:
            continue
        if not (outs[0] == outs[1] == outs[2]):
            failed.append("%s: outputs differ (1 vs 2 workers or run to run)" % name)
        o = os.path.join(out, "%s.0.dcm" % name[:-4])
        ds = pydicom.dcmread(o)
        if same:
            expl = os.path.join(out, "%s.explicit.dcm" % name[:-4])
            rc, err = deid(tool, src, expl, pol_explicit, key)
            if rc != 0:
                failed.append("%s: deid file (explicit) exit %d: %s" % (name, rc, err[-200:]))
                continue
            if str(ds.file_meta.TransferSyntaxUID) in SAME_XFER.values():
                same_checked.append((src, o))
                print("%-28s same: %s, %d bytes (explicit %d, source %d)" %
                      (name, ds.file_meta.TransferSyntaxUID.name, len(outs[0]),
                       os.path.getsize(expl), os.path.getsize(src)))
            ds = check_same(src, o, expl, out, failed)
            if ds is None:
                continue
        codes = [it.CodeValue for it in ds.get("DeidentificationMethodCodeSequence", [])]
        if "113101" not in codes:
            failed.append("%s: no 113101 (Clean Pixel Data)" % name)
        rows, cols, frames = case["rows"], case["cols"], case["frames"]
        spp = int(ds.SamplesPerPixel)
        dt = np.uint8 if ds.BitsAllocated == 8 else np.uint16
        n = rows * cols * frames * spp
        raw = ds.PixelData
        if len(raw) != (n * np.dtype(dt).itemsize + 1) // 2 * 2:
            failed.append("%s: pixel value length %d" % (name, len(raw)))
            continue
        red = np.frombuffer(raw, dtype=np.uint8)[:n * np.dtype(dt).itemsize].view(dt)
        orig, res = decoded_source(image_tool, src, out)
        orig = orig[:n * np.dtype(dt).itemsize].view(dt)
        planar = int(ds.get("PlanarConfiguration", 0)) == 1 and spp == 3
        shape = (frames, spp, rows, cols) if planar else (frames, rows, cols, spp)
        red = red.reshape(shape)
        orig = orig.reshape(shape)
        if planar:
            red = red.transpose(0, 2, 3, 1)
            orig = orig.transpose(0, 2, 3, 1)
        fill = np.array(res["fill"][:spp], dtype=np.int64).reshape(1, 1, 1, spp)
        is_fill_px = np.all(red.astype(np.int64) == fill, axis=3)       # f, r, c
        changed_px = np.any(orig != red, axis=3)
        bad = int(np.count_nonzero(changed_px & ~is_fill_px))
        outside += bad
        changed = np.any(changed_px, axis=0)
        is_fill = np.all(is_fill_px, axis=0)
        missed = []
        for t in case["tokens"]:
            x, y, w, h = t["box"]
            boxfill = np.count_nonzero(is_fill[y:y + h, x:x + w]) / max(1, w * h)
            ink = np.zeros(rows * cols, dtype=bool)
            ink[np.array(t["ink"], dtype=np.int64)] = True
            kept = np.count_nonzero(changed & ink.reshape(rows, cols)) == 0
            if t["kind"] == "S":
                tot_s += 1
                red_s += boxfill >= 0.95
                if boxfill < 0.95:
                    missed.append("S@%d" % t["size"])
            elif t["kind"] == "H" and mode == "sensitive":
                tot_h += 1
                kept_h += kept
        ns = sum(1 for t in case["tokens"] if t["kind"] == "S")
        print("%-28s %8d %6s %6s %8d %s" % (name, len(outs[0]),
              "%d/%d" % (ns - len(missed), ns), "", bad, " ".join(missed)))
    # dciodvfy: no new errors (with "same": every re-encoded output too)
    if (n_dciodvfy or same_checked) and shutil.which("dciodvfy"):
        check = [(c["file"], os.path.join(out, "%s.0.dcm" % os.path.basename(c["file"])[:-4]))
                 for c in truth["cases"][:n_dciodvfy]]
        check += [x for x in same_checked if x not in check]
        for src, o in check:
            if not os.path.exists(o):
                continue
            new = dciodvfy_errors(o) - dciodvfy_errors(src)
            if new:
                failed.append("%s: dciodvfy errors the source did not have: %s" %
                              (os.path.basename(src), sorted(new)[:3]))
        print("dciodvfy: %d outputs checked" % len(check))
    if same:
        n_comp = sum(1 for c in truth["cases"] if c["xfer"] != "native")
        print("same: %d/%d compressed cases re-encoded" % (len(same_checked), n_comp))
        if len(same_checked) != n_comp:
            failed.append("same: %d of %d compressed cases were not re-encoded" %
                          (n_comp - len(same_checked), n_comp))
    recall = red_s / tot_s if tot_s else 1.0
    kept = kept_h / tot_h if tot_h else 1.0
    print("deid file, mode %s, %s: recall %d/%d = %.3f; harmless kept %d/%d = %.3f; "
          "changed pixels not fill: %d; 1 vs 2 workers and two runs byte-identical: %s" %
          (mode, encoding, red_s, tot_s, recall, kept_h, tot_h, kept, outside,
           "no" if any("differ" in f for f in failed) else "yes"))
    for f in failed:
        print("FAIL " + f)
    if failed or recall < min_recall or outside or (mode == "sensitive" and kept < 0.90):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
