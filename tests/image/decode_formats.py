#!/usr/bin/python3
"""Decode paths for less common pixel layouts, against references computed
here with numpy:

  rgb32_rle     RGB, BitsAllocated/Stored 32, RLE Lossless, 2 frames
  mono32        MONOCHROME2, 32 bits, Explicit VR Little Endian
  ybr422        YBR_FULL_422, 8 bits, uncompressed (Y1 Y2 Cb Cr per pair)

For each file, `image_tool plan --mode all` must decode the source frames
exactly (--orig), give the pre-pass/OCR the grey computed here (--luma:
32-bit samples scaled to their top bits, luma of RGB, Y of YBR), find the
planted text, and write boxes that change nothing outside them: for
YBR_FULL_422 every pixel pair touching a box gets Y = 0 and Cb = Cr = 128,
the value keeps its size, and the native runs equal the decoded patch
(image_tool exits 3 otherwise).  `deid file` must then write the same
pixels.

With J2K_ENC, redactedEncoding "same" where it cannot re-encode: the
32-bit RGB RLE file (no encoder takes 32-bit samples) and a JPEG 2000
file whose codestream holds 16-bit samples under BitsStored 12
(j2k_overflow: the codec would not give them back) must come out as
Explicit VR Little Endian, byte-identical to the "explicitLittleEndian"
output.

usage: decode_formats.py IMAGE_TOOL DEID WORKDIR [J2K_ENC]
"""
import json
import os
import subprocess
import sys

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixel_data_handlers.rle_handler import rle_encode_frame
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

ROWS, COLS = 96, 320
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def text_mask(seed):
    """A bool mask with two lines of large text, and its rough box."""
    img = Image.new("L", (COLS, ROWS), 0)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 22)
    d.text((14, 12), "SMITH JOHN", fill=255, font=font)
    d.text((14, 52), "MRN 48213%d" % seed, fill=255, font=font)
    return np.asarray(img) > 127


def background(seed):
    """A smooth gradient in 0..1 (no text-like edges)."""
    y, x = np.mgrid[0:ROWS, 0:COLS].astype(np.float64)
    return 0.15 + 0.2 * (x / COLS) + 0.1 * np.sin(y / 17.0 + seed)


def base_ds(path, tsuid):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = tsuid
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.PatientName = "SMITH^JOHN"
    ds.PatientID = "482130"
    ds.Rows, ds.Columns = ROWS, COLS
    ds.PixelRepresentation = 0
    return ds


def make_rgb32(path):
    frames = []
    for f in range(2):
        v = background(f)
        rgb = np.stack([v, v * 0.8, v * 0.6], axis=-1)
        a = (rgb * 0xFFFFFFFF).astype(np.uint32)
        # low bits that must not matter to the grey
        a ^= np.uint32(0x00ABCDEF) & np.arange(a.size, dtype=np.uint32).reshape(a.shape)
        a[text_mask(f)] = 0xFFFFFFF0
        frames.append(a)
    ds = base_ds(path, RLELossless)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.NumberOfFrames = 2
    ds.PixelData = encapsulate([rle_encode_frame(a) for a in frames])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, write_like_original=False)
    px = np.stack(frames)  # (frames, rows, cols, 3)
    top = (px >> 24).astype(np.uint32)
    luma = (77 * top[..., 0] + 150 * top[..., 1] + 29 * top[..., 2]) >> 8
    return px.astype("<u4").tobytes(), luma.astype(np.uint16), 3, 4


def make_mono32(path):
    v = background(3)
    a = (v * 0xFFFFFFFF).astype(np.uint32)
    a[text_mask(3)] = 0xFFFF0000
    ds = base_ds(path, ExplicitVRLittleEndian)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelData = a.astype("<u4").tobytes()
    ds["PixelData"].VR = "OW"
    ds.save_as(path, write_like_original=False)
    return a.astype("<u4").tobytes(), (a >> 16).astype(np.uint16)[None], 1, 4


def make_ybr422(path):
    v = background(5)
    y = (v * 255).astype(np.uint8)
    y[text_mask(5)] = 250
    pairs = y.reshape(ROWS, COLS // 2, 2)
    cb = ((np.arange(COLS // 2) * 3) % 200 + 20).astype(np.uint8)
    cr = ((np.arange(COLS // 2) * 7) % 180 + 40).astype(np.uint8)
    raw = np.empty((ROWS, COLS // 2, 4), np.uint8)
    raw[..., 0] = pairs[..., 0]
    raw[..., 1] = pairs[..., 1]
    raw[..., 2] = cb[None, :]
    raw[..., 3] = cr[None, :]
    ds = base_ds(path, ExplicitVRLittleEndian)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = raw.tobytes()
    ds["PixelData"].VR = "OB"
    ds.save_as(path, write_like_original=False)
    return raw.tobytes(), y.astype(np.uint16)[None], None, 1


def make_j2k_overflow(path, j2k_enc):
    """MONOCHROME2, BitsStored 12, but the codestream's samples have 16
    bits (values over 4095 in the text)."""
    v = background(7)
    a = (v * 4095).astype(np.uint16)
    a[text_mask(7)] = 0xFFF0
    raw, cs = path + ".raw", path + ".j2k"
    a.astype("<u2").tofile(raw)
    subprocess.check_call([j2k_enc, str(COLS), str(ROWS), "1", "16", "16", "0", raw, cs])
    ds = base_ds(path, "1.2.840.10008.1.2.4.90")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelData = encapsulate([open(cs, "rb").read()])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, write_like_original=False)
    os.unlink(raw)
    os.unlink(cs)


def same_fallback(deid, work, src, name):
    """redactedEncoding "same" without a way to re-encode: Explicit VR
    Little Endian, the same bytes as the explicit output."""
    key = os.path.join(work, "key")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
    outs = {}
    for enc in ("same", "explicitLittleEndian"):
        pol = os.path.join(work, "policy-%s.json" % enc)
        with open(pol, "w") as f:
            json.dump({"deidfs": {"apiVersion": "v1beta1", "redactedEncoding": enc},
                       "dicomTagConfig": {
                           "profileType": "ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE",
                           "options": {"cleanImage": {
                               "textRedactionMode": "REDACT_SENSITIVE_TEXT"}}}}, f)
        dst = os.path.join(work, "%s.%s.dcm" % (name, enc))
        rc, out, err = run([deid, "file", src, dst, "-p", pol, "--key-file", key])
        check(rc == 0, "%s: deid file (%s) failed: %s %s" % (name, enc, out, err))
        outs[enc] = open(dst, "rb").read() if rc == 0 else b""
    ds = pydicom.dcmread(os.path.join(work, "%s.same.dcm" % name))
    check(ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian,
          "%s: same: %s, expected Explicit VR Little Endian" % (
              name, ds.file_meta.TransferSyntaxUID))
    check(outs["same"] == outs["explicitLittleEndian"],
          "%s: same: differs from the explicit output" % name)
    check("113101" in [c.CodeValue for c in ds.get("DeidentificationMethodCodeSequence", [])],
          "%s: same: not redacted" % name)
    print("%s: redactedEncoding same -> Explicit VR Little Endian, as explicit" % name)


def box_mask(boxes, pair=False):
    m = np.zeros((ROWS, COLS), bool)
    for x, y, w, h in boxes:
        if pair:
            x0, x1 = x & ~1, min((x + w + 1) & ~1, COLS)
            m[y:y + h, x0:x1] = True
        else:
            m[y:y + h, x:x + w] = True
    return m


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    tool, deid, work = sys.argv[1], sys.argv[2], sys.argv[3]
    j2k_enc = sys.argv[4] if len(sys.argv) > 4 else None
    os.makedirs(work, exist_ok=True)
    if j2k_enc:
        src = os.path.join(work, "j2k_overflow.dcm")
        make_j2k_overflow(src, j2k_enc)
        same_fallback(deid, work, src, "j2k_overflow")
    for name, make in (("rgb32_rle", make_rgb32), ("mono32", make_mono32),
                       ("ybr422", make_ybr422)):
        src = os.path.join(work, name + ".dcm")
        exp_orig, exp_luma, spp, bps = make(src)
        o, r, l = (os.path.join(work, name + s) for s in (".orig", ".red", ".luma"))
        rc, out, err = run([tool, "plan", src, "--mode", "all", "--orig", o,
                            "--red", r, "--luma", l])
        check(rc == 0, "%s: image_tool exit %d %s %s" % (name, rc, out, err))
        if rc != 0:
            continue
        res = json.loads(out.splitlines()[0])
        orig = open(o, "rb").read()
        red = open(r, "rb").read()
        luma = np.frombuffer(open(l, "rb").read(), "<u2")
        check(orig == exp_orig, "%s: decoded frames differ from the source" % name)
        check(luma.size == exp_luma.size and
              np.array_equal(luma, exp_luma.reshape(-1)),
              "%s: grey differs from the reference (max diff %s)" % (
                  name, np.abs(luma.astype(int) - exp_luma.reshape(-1).astype(int)).max()
                  if luma.size == exp_luma.size else "size"))
        check(len(red) == len(orig), "%s: redacted size changed" % name)
        boxes = res["boxes"]
        check(len(boxes) > 0, "%s: no box over the planted text" % name)
        print("%s: kind %s, %d words, boxes %s" % (name, res["kind"],
                                                     res["words"], boxes))
        if spp is None:  # YBR_FULL_422: per pixel pair
            m = box_mask(boxes, pair=True)[:, 0::2]
            a = np.frombuffer(orig, np.uint8).reshape(ROWS, COLS // 2, 4)
            b = np.frombuffer(red, np.uint8).reshape(ROWS, COLS // 2, 4)
            check(np.array_equal(a[~m], b[~m]),
                  "%s: bytes changed outside the boxes" % name)
            check(np.all(b[m][:, :2] == 0) and np.all(b[m][:, 2:] == 128),
                  "%s: a box is not Y 0 / Cb Cr 128" % name)
        else:
            m = box_mask(boxes)
            dt = "<u4"
            a = np.frombuffer(orig, dt).reshape(-1, ROWS, COLS, spp)
            b = np.frombuffer(red, dt).reshape(-1, ROWS, COLS, spp)
            check(np.array_equal(a[:, ~m], b[:, ~m]),
                  "%s: pixels changed outside the boxes" % name)
            fill = 0 if spp == 3 else int(a[0].min())
            check(np.all(b[:, m] == fill), "%s: a box is not the fill" % name)
        # the DICOM engine (default policy: sensitive text) writes the
        # pixels image_tool gives in that mode
        r2 = os.path.join(work, name + ".red-sensitive")
        rc, out, err = run([tool, "plan", src, "--red", r2])
        check(rc == 0, "%s: image_tool (sensitive) exit %d %s" % (name, rc, out))
        red = open(r2, "rb").read() if rc == 0 else b""
        dst = os.path.join(work, name + ".deid.dcm")
        rc, out, err = run([deid, "file", src, dst])
        check(rc == 0 and os.path.exists(dst),
              "%s: deid file failed: %s %s" % (name, out, err))
        if rc == 0 and os.path.exists(dst):
            ds = pydicom.dcmread(dst)
            pd = bytes(ds.PixelData)
            check(pd[:len(red)] == red and len(pd) == len(red) + (len(red) & 1),
                  "%s: deid file's pixel data differs from image_tool's" % name)
        if j2k_enc and name == "rgb32_rle":
            same_fallback(deid, work, src, name)
    if fails:
        print("%d failure(s)" % len(fails))
        return 1
    print("decode_formats: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
