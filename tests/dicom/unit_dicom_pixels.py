#!/usr/bin/env python3
"""unit_dicom_pixels.py: the pixel value of every served output equals the
source's, byte for byte (native and encapsulated), read back independently
with pydicom.  Also checks the PixelData VR and the transfer syntax kept.

usage: unit_dicom_pixels.py DICOM_XFORM [DIR]   (exit 77 without pydicom)
"""
import os
import subprocess
import sys
import tempfile

try:
    import pydicom
except ImportError:
    sys.exit(77)

DATA = "/usr/lib/python3/dist-packages/pydicom/data/test_files"


def main():
    xform = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else DATA
    if not os.path.isdir(root):
        sys.exit(77)
    checked = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.dcm")
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                src = os.path.join(dirpath, name)
                try:
                    a = pydicom.dcmread(src)
                    if "PixelData" not in a:
                        continue
                    pix = a.PixelData
                except Exception:
                    continue
                for profile in ("default", "keep_all"):
                    r = subprocess.run([xform, "-p", profile, src, out],
                                       capture_output=True)
                    if r.returncode == 2:
                        continue  # hidden
                    if r.returncode != 0:
                        print("%s: driver failed" % src)
                        failed += 1
                        continue
                    b = pydicom.dcmread(out)
                    checked += 1
                    if "PixelData" not in b:
                        print("%s [%s]: pixel data lost" % (src, profile))
                        failed += 1
                    elif b.PixelData != pix:
                        print("%s [%s]: pixel data differ" % (src, profile))
                        failed += 1
                    if (b.file_meta.TransferSyntaxUID !=
                            a.file_meta.get("TransferSyntaxUID",
                                            b.file_meta.TransferSyntaxUID)):
                        print("%s [%s]: transfer syntax changed" % (src, profile))
                        failed += 1
    print("unit_dicom_pixels: %d outputs checked, %d failed" % (checked, failed))
    if checked == 0:
        sys.exit(77)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
