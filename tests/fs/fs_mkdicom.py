#!/usr/bin/env python3
"""fs_mkdicom.py DIR COUNT ROWS COLS [PREFIX]: COUNT uncompressed 16-bit CT
images of ROWS x COLS in DIR (deterministic bytes, fake PHI), made from
pydicom's CT_small.dcm.  Used when deid-gen is not available."""
import os
import random
import sys

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian


def main():
    out, count, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    prefix = sys.argv[5] if len(sys.argv) > 5 else "CT"
    os.makedirs(out, exist_ok=True)
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    rng = random.Random(1234)
    block = bytes(rng.getrandbits(8) for _ in range(1 << 16))
    npix = rows * cols * 2
    pixels = (block * (npix // len(block) + 1))[:npix]
    for i in range(count):
        ds = base.copy()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1
        ds.PatientName = "DOE^JOHN"
        ds.PatientID = "12345678"
        ds.InstanceNumber = i + 1
        ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.%d.%d" % (rows, i + 1)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        # each file's pixels differ (rotate the pattern)
        k = (i * 7919) % len(pixels)
        ds.PixelData = pixels[k:] + pixels[:k]
        ds["PixelData"].VR = "OW"
        path = os.path.join(out, "%s%06d.dcm" % (prefix, i + 1))
        ds.save_as(path, write_like_original=False)


if __name__ == "__main__":
    main()
