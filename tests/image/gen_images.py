#!/usr/bin/python3
"""gen_images.py: a generated DICOM image set with burnt-in text at known
places, for the image redaction tests.

    gen_images.py OUTDIR J2K_ENC [--slow] [--lossy]

Writes OUTDIR/<case>.dcm and OUTDIR/truth.json.  Text is rendered with
PIL from Debian's fonts-dejavu-core / fonts-noto-mono fonts (antialiased),
light on dark and dark on light, 10..40 px (8 px in the slow set), over
noisy US-like, CT-like, CR-like and plain backgrounds; single and multi
frame; native, JPEG lossless, JPEG-LS, RLE and JPEG 2000 (J2K_ENC, our
OpenJPEG helper) transfer syntaxes; --lossy adds JPEG baseline (grey, and
RGB stored as YBR_FULL_422) and JPEG-LS near-lossless cases (dcmtk's
encoders) and an RGB JPEG 2000 one (YBR_RCT), for the redactedEncoding
"same" tests.  Every planted word is a token with a
kind: S (sensitive: a name, ID, date or institution that is also in the
header, so dd_text knows it as context), H (harmless: "L", "ABD", "5 cm",
"TIS 0.4"...) or N (a label such as "MRN", "DOB": neither counted).  A
token's box is PIL's text bounding box; its ink mask is stored as the
pixels the glyphs actually changed (alpha >= 0.5).

Deterministic: a fixed seed; the same files every run.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from PIL import Image, ImageDraw, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
]
if os.path.exists("/usr/share/fonts/truetype/noto/NotoMono-Regular.ttf"):
    FONTS.append("/usr/share/fonts/truetype/noto/NotoMono-Regular.ttf")

GIVEN = ["MARY", "JOHN", "PATRICIA", "ROBERT", "LINDA", "MICHAEL", "BARBARA",
         "WILLIAM", "ELIZABETH", "DAVID", "SUSAN", "RICHARD", "JESSICA"]
FAMILY = ["JOHNSON", "WILLIAMS", "BROWN", "GARCIA", "MILLER", "DAVIS",
          "RODRIGUEZ", "MARTINEZ", "HERNANDEZ", "LOPEZ", "WILSON", "ANDERSON"]
INSTITUTIONS = [("ST MARY HOSPITAL", "St Mary Hospital"),
                ("MERCY GENERAL", "Mercy General"),
                ("RIVERSIDE CLINIC", "Riverside Clinic")]
HARMLESS = [["L"], ["ABD"], ["5", "cm"], ["TIS", "0.4"], ["R"], ["MI", "1.1"],
            ["LIVER"], ["12", "cm"]]

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]


class Case:
    def __init__(self, name, rng, **kw):
        self.name = name
        self.rng = rng
        self.__dict__.update(kw)
        g = GIVEN[rng.integers(len(GIVEN))]
        f = FAMILY[rng.integers(len(FAMILY))]
        self.given, self.family = g, f
        self.mrn = "%08d" % rng.integers(10**7, 10**8)
        y, m, d = int(rng.integers(1940, 2000)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        self.dob = (y, m, d)
        sy, sm, sd = int(rng.integers(2015, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        self.study = (sy, sm, sd)
        self.inst = INSTITUTIONS[rng.integers(len(INSTITUTIONS))]
        self.items = []   # (text tokens [(tok, kind)], x, y, font, size)

    def date_str(self, dt, style):
        y, m, d = dt
        if style == 0:
            return "%02d/%02d/%04d" % (m, d, y)
        if style == 1:
            return "%02d-%s-%04d" % (d, MONTHS[m - 1], y)
        return "%04d%02d%02d" % (y, m, d)


def render(case, shape, items, fg, bg_arr, maxval):
    """Draw the items on a float canvas; returns (pixels, tokens truth)."""
    h, w = shape
    alpha = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(alpha)
    tokens = []
    for toks, x, y, font_path, size in items:
        font = ImageFont.truetype(font_path, size)
        cx = x
        for i, (tok, kind) in enumerate(toks):
            bbox = draw.textbbox((cx, y), tok, font=font)
            one = Image.new("L", (w, h), 0)
            ImageDraw.Draw(one).text((cx, y), tok, font=font, fill=255)
            draw.text((cx, y), tok, font=font, fill=255)
            ink = np.array(one) >= 128
            ys, xs = np.nonzero(ink)
            if len(xs):
                tokens.append({"text": tok, "kind": kind,
                               "box": [int(bbox[0]), int(bbox[1]),
                                       int(bbox[2] - bbox[0]), int(bbox[3] - bbox[1])],
                               "ink": [int(v) for v in np.ravel_multi_index((ys, xs), (h, w))],
                               "size": size})
            cx += draw.textlength(tok + " ", font=font)
    a = np.array(alpha).astype(np.float64) / 255.0
    out = bg_arr * (1 - a) + fg * a
    return np.clip(np.rint(out), 0, maxval), tokens


def bg_us(rng, h, w, frame):
    """Black with a fan of speckle."""
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = w / 2, -h * 0.1
    r = np.hypot(xx - cx, yy - cy)
    ang = np.arctan2(xx - cx, yy - cy)
    fan = (r > h * 0.25) & (r < h * 1.0) & (np.abs(ang) < 0.6)
    sp = rng.rayleigh(40 + 5 * frame, (h, w))
    sp = np.minimum(sp, 230)
    return np.where(fan, sp, 0.0)


def bg_ct(rng, h, w, air, tissue, noise):
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / (w * 0.38), (yy - h / 2) / (h * 0.33))
    img = np.where(r < 1, tissue + 40 * np.sin(xx / 23.0) * np.cos(yy / 31.0), air)
    bone = (np.abs(r - 0.92) < 0.04)
    img = np.where(bone, tissue + 900, img)
    return img + rng.normal(0, noise, (h, w))


def bg_cr(rng, h, w, maxv):
    """MONOCHROME1: the body bright on display = low stored values."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / (w * 0.35), (yy - h / 2) / (h * 0.42))
    body = maxv * (0.25 + 0.25 * r)
    img = np.where(r < 1, body, maxv * 0.92)
    return np.clip(img + rng.normal(0, maxv * 0.01, (h, w)), 0, maxv)


def header(case, modality, rows, cols, photo, bits, signed, frames,
           burned_in=None, sop="1.2.840.10008.5.1.4.1.1.7"):
    ds = Dataset()
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[case.name, "sop"])
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[case.name, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[case.name, "series"])
    ds.Modality = modality
    ds.PatientName = "%s^%s" % (case.family, case.given)
    ds.PatientID = case.mrn
    ds.PatientBirthDate = "%04d%02d%02d" % case.dob
    ds.StudyDate = "%04d%02d%02d" % case.study
    ds.InstitutionName = case.inst[1]
    ds.Manufacturer = "GENERATED"
    ds.ManufacturerModelName = "TEST-" + modality
    if burned_in:
        ds.BurnedInAnnotation = burned_in
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3 if photo in ("RGB", "YBR_FULL") else 1
    ds.PhotometricInterpretation = photo
    if ds.SamplesPerPixel == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def save(ds, path, pixels, xfer, j2k_enc, tmpdir):
    """pixels: (frames, rows, cols[, 3]) array of stored values."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    dt = np.uint8 if ds.BitsAllocated == 8 else (np.int16 if ds.PixelRepresentation else np.uint16)
    arr = pixels.astype(dt)
    if xfer == "j2k":
        frames = []
        for i in range(arr.shape[0]):
            raw = os.path.join(tmpdir, "f.raw")
            out = os.path.join(tmpdir, "f.j2k")
            arr[i].tofile(raw)
            subprocess.check_call([j2k_enc, str(ds.Columns), str(ds.Rows),
                                   str(ds.SamplesPerPixel), str(ds.BitsAllocated),
                                   str(ds.BitsStored), str(ds.PixelRepresentation),
                                   raw, out])
            frames.append(open(out, "rb").read())
        ds.PixelData = encapsulate(frames)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
        if ds.SamplesPerPixel == 3:
            ds.PhotometricInterpretation = "YBR_RCT"
        ds["PixelData"].is_undefined_length = True
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(path, write_like_original=False)
        return
    ds.PixelData = arr.tobytes()
    ds["PixelData"].VR = "OB" if ds.BitsAllocated == 8 else "OW"
    ds.save_as(path, write_like_original=False)
    tool = {"native": None, "jpegll": ["dcmcjpeg", "+e1"],
            "jpegls": ["dcmcjpls"], "rle": ["dcmcrle"],
            "jpegbase": ["dcmcjpeg", "+eb", "+q", "90", "+un"],
            "jlsnear": ["dcmcjpls", "+en", "+md", "2", "+un"]}[xfer]
    if tool:
        tmp = path + ".tmp"
        subprocess.check_call(tool + [path, tmp])
        os.replace(tmp, path)


def text_items(case, rng, layout, sizes, fonts):
    """The standard annotation block: name, MRN, DOB, date, institution
    and a few harmless words, placed per @layout."""
    s = lambda: int(sizes[rng.integers(len(sizes))])
    f = lambda: fonts[rng.integers(len(fonts))]
    name_toks = ([(case.family + ",", "S"), (case.given, "S")]
                 if rng.integers(2) else [(case.given, "S"), (case.family, "S")])
    lines = [
        name_toks,
        [("MRN:", "N"), (case.mrn, "S")],
        [("DOB:", "N"), (case.date_str(case.dob, int(rng.integers(3))), "S")],
        [(case.date_str(case.study, int(rng.integers(2))), "S")],
        [(w, "S") for w in case.inst[0].split()],
    ]
    harmless = [[(t, "H") for t in HARMLESS[k]]
                for k in rng.choice(len(HARMLESS), 3, replace=False)]
    items = []
    for i, toks in enumerate(lines):
        size = s()
        x, y = layout(i, size, "S")
        items.append((toks, x, y, f(), size))
    for i, toks in enumerate(harmless):
        size = s()
        x, y = layout(i, size, "H")
        items.append((toks, x, y, f(), size))
    return items


def corner_layout(h, w, margin=8, gap=1.5):
    """Lines stacked down from the top-left (S) and up from the
    bottom-right (H), each line below the previous one whatever its size."""
    state = {"S": margin, "H": h - margin}

    def lay(i, size, kind):
        step = int(size * gap) + 2
        if kind == "S":
            y = state["S"]
            state["S"] += step
            return margin, y
        state["H"] -= step
        return w - margin - 6 * size, state["H"]
    return lay


def make_cases(slow, lossy=False):
    cases = []

    def add(name, **kw):
        c = Case(name, np.random.default_rng(len(cases) + 7), **kw)
        cases.append(c)
        return c

    sizes_small = [10, 12, 14]
    sizes_mid = [14, 18, 22]
    sizes_big = [24, 32, 40]
    specs = [
        # name, modality, rows, cols, photo, bits, signed, frames, xfer, bg, sizes, burned_in, fg
        ("us_native", "US", 480, 640, "MONOCHROME2", 8, False, 1, "native", "us", sizes_mid, "YES"),
        ("us_rle_mf", "US", 480, 640, "MONOCHROME2", 8, False, 4, "rle", "us", sizes_mid, None),
        ("us_rgb_jpegll", "US", 480, 640, "RGB", 8, False, 1, "jpegll", "us", sizes_mid, "YES"),
        ("sc_jpegls_dark_on_light", "OT", 1024, 1024, "MONOCHROME2", 8, False, 1, "jpegls", "white", sizes_big, None),
        ("ct_native", "CT", 512, 512, "MONOCHROME2", 16, True, 1, "native", "ct", sizes_small, None),
        ("ct_jpegll", "CT", 512, 512, "MONOCHROME2", 12, False, 1, "jpegll", "ct12", sizes_mid, None),
        ("pet_j2k", "PT", 256, 256, "MONOCHROME2", 16, False, 1, "j2k", "pet", [10, 12], None),
        ("cr_mono1_native", "CR", 2000, 2000, "MONOCHROME1", 12, False, 1, "native", "cr", [12, 14, 18], None),
        ("xa_j2k_mf", "XA", 512, 512, "MONOCHROME2", 8, False, 3, "j2k", "ct8", sizes_mid, None),
    ]
    if slow:
        specs += [
            ("cr_mono1_j2k", "CR", 2000, 2000, "MONOCHROME1", 12, False, 1, "j2k", "cr", [10, 12], None),
            ("us_small_text", "US", 480, 640, "MONOCHROME2", 8, False, 1, "native", "us", [8, 10], "YES"),
            ("mr_native", "MR", 256, 256, "MONOCHROME2", 16, False, 1, "native", "ct12", [10, 12], None),
            ("sc_rgb_rle", "SC", 768, 1024, "RGB", 8, False, 1, "rle", "white", sizes_mid, None),
            ("us_jpegls_mf", "US", 480, 640, "MONOCHROME2", 8, False, 12, "jpegls", "us", sizes_mid, None),
            ("ct_big_text", "CT", 512, 512, "MONOCHROME2", 16, True, 1, "jpegls", "ct", sizes_big, None),
        ]
    if lossy:
        specs += [
            ("us_jpeg_base", "US", 480, 640, "MONOCHROME2", 8, False, 1, "jpegbase", "us", sizes_mid, "YES"),
            ("sc_rgb_jpeg_base", "SC", 384, 512, "RGB", 8, False, 1, "jpegbase", "white", sizes_big, None),
            ("ct_jpegls_near", "CT", 512, 512, "MONOCHROME2", 12, False, 1, "jlsnear", "ct12", sizes_mid, None),
            ("us_rgb_j2k", "US", 480, 640, "RGB", 8, False, 1, "j2k", "us", sizes_mid, "YES"),
        ]
    for spec in specs:
        (name, mod, rows, cols, photo, bits, signed, frames, xfer, bg, sizes, bia) = spec
        add(name, modality=mod, rows=rows, cols=cols, photo=photo, bits=bits,
                signed=signed, frames=frames, xfer=xfer, bg=bg, sizes=sizes, bia=bia)
    return cases


def build(case, outdir, j2k_enc):
    rng = case.rng
    h, w = case.rows, case.cols
    maxv = (1 << case.bits) - 1
    fonts = FONTS
    lay = corner_layout(h, w)
    items = text_items(case, rng, lay, case.sizes, fonts)
    frames = []
    tokens = None
    for fi in range(case.frames):
        frng = np.random.default_rng(1000 + fi)
        if case.bg == "us":
            bg, fg = bg_us(frng, h, w, fi), 250.0
        elif case.bg == "white":
            bg, fg = np.full((h, w), 245.0) + frng.normal(0, 3, (h, w)), 10.0
        elif case.bg == "ct":   # signed, HU
            bg, fg = bg_ct(frng, h, w, -1024, 40, 12), 3071.0
        elif case.bg == "ct12":
            bg, fg = bg_ct(frng, h, w, 0, 1064, 12), 4095.0
        elif case.bg == "ct8":
            bg, fg = np.clip(bg_ct(frng, h, w, 10, 90, 6) / 8 + 60, 0, 255), 255.0
        elif case.bg == "pet":
            bg = np.clip(bg_ct(frng, h, w, 0, 3000, 300), 0, None)
            fg = 30000.0
        elif case.bg == "cr":
            bg, fg = bg_cr(frng, h, w, maxv), 80.0   # text white on display
        lo = -32768 if case.signed else 0
        hi = 32767 if case.signed else maxv
        bg = np.clip(bg, lo, hi)
        px, toks = render(case, (h, w), items, fg, bg, hi)
        px = np.clip(px, lo, hi)
        if tokens is None:
            tokens = toks
        if case.photo == "RGB":
            col = np.stack([px, px, px * 0.3 + bg * 0.7], axis=-1)  # yellowish text
            px = np.clip(col, 0, 255)
        frames.append(px)
    pixels = np.stack(frames)
    sop = {"CT": "1.2.840.10008.5.1.4.1.1.2", "PT": "1.2.840.10008.5.1.4.1.1.128",
           "CR": "1.2.840.10008.5.1.4.1.1.1", "MR": "1.2.840.10008.5.1.4.1.1.4",
           "XA": "1.2.840.10008.5.1.4.1.1.12.1",
           "US": "1.2.840.10008.5.1.4.1.1.6.1" if case.frames == 1 else "1.2.840.10008.5.1.4.1.1.3.1",
           }.get(case.modality, "1.2.840.10008.5.1.4.1.1.7")
    ds = header(case, case.modality, h, w, case.photo, case.bits, case.signed,
                case.frames, case.bia, sop)
    path = os.path.join(outdir, case.name + ".dcm")
    save(ds, path, pixels, case.xfer, j2k_enc, outdir)
    return {"file": path, "rows": h, "cols": w, "frames": case.frames,
            "photometric": case.photo, "xfer": case.xfer, "modality": case.modality,
            "tokens": tokens}


def make_notext(outdir, j2k_enc):
    """CT/MR without text, for the pre-pass's false-positive rate."""
    out = []
    for i in range(6):
        rng = np.random.default_rng(500 + i)
        c = Case("notext_%d" % i, rng)
        mod = "CT" if i % 2 == 0 else "MR"
        h = w = 512 if i < 4 else 256
        if mod == "CT":
            px = np.clip(bg_ct(rng, h, w, -1024, 40 + 10 * i, 10 + 4 * i), -2048, 3071)
            ds = header(c, mod, h, w, "MONOCHROME2", 16, True, 1, None, "1.2.840.10008.5.1.4.1.1.2")
        else:
            px = np.clip(bg_ct(rng, h, w, 0, 600, 20 + 10 * i), 0, 4095)
            ds = header(c, mod, h, w, "MONOCHROME2", 12, False, 1, None, "1.2.840.10008.5.1.4.1.1.4")
        path = os.path.join(outdir, c.name + ".dcm")
        save(ds, path, px[None], "native", j2k_enc, outdir)
        out.append(path)
    return out


def main():
    outdir, j2k_enc = sys.argv[1], sys.argv[2]
    slow = "--slow" in sys.argv
    lossy = "--lossy" in sys.argv
    os.makedirs(outdir, exist_ok=True)
    truth = {"cases": [], "notext": []}
    for c in make_cases(slow, lossy):
        truth["cases"].append(build(c, outdir, j2k_enc))
    truth["notext"] = make_notext(outdir, j2k_enc)
    for f in ("f.raw", "f.j2k"):
        p = os.path.join(outdir, f)
        if os.path.exists(p):
            os.unlink(p)
    with open(os.path.join(outdir, "truth.json"), "w") as f:
        json.dump(truth, f)
    print("gen_images: %d cases, %d without text in %s" %
          (len(truth["cases"]), len(truth["notext"]), outdir))


if __name__ == "__main__":
    main()
