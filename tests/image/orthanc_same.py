#!/usr/bin/python3
"""orthanc_same.py: a PACS takes the redactedEncoding "same" outputs.

    orthanc_same.py DEID J2K_ENC WORKDIR

The image set with its lossy cases (gen_images.py --lossy); every
compressed case through `deid file` under "same" and under
"explicitLittleEndian".  A private Orthanc (HTTP on a free local port,
no DICOM port, storage in WORKDIR) must store every "same" output
(Status "Success"), with the output's transfer syntax and photometric,
and where it decodes the frames (its built-in DCMTK decoders: RLE, JPEG
lossless, JPEG-LS; Debian's Orthanc has no JPEG 2000 decoder without the
GDCM plugin, so those are only stored), each frame must equal the
explicit output's: grey through /frames/N/image-uint16, RGB through
/frames/N/preview (8-bit RGB is given as it is).  Exit 77 without Orthanc.
"""
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pydicom
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"


def policy(path, enc):
    with open(path, "w") as f:
        json.dump({"deidfs": {"apiVersion": "v1beta1", "ocr": {"workers": 1},
                              "redactedEncoding": enc},
                   "dicomTagConfig": {
                       "profileType": "ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE",
                       "options": {"cleanImage": {"textRedactionMode": "REDACT_SENSITIVE_TEXT"}}}}, f)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(base, path):
    return urllib.request.urlopen(base + path, timeout=60).read()


def main():
    deid, j2k, work = sys.argv[1:4]
    if not os.access(ORTHANC, os.X_OK):
        print("SKIP: no Orthanc")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    setdir = os.path.join(work, "set")
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_images.py"),
                           setdir, j2k, "--lossy"], stdout=subprocess.DEVNULL)
    truth = json.load(open(os.path.join(setdir, "truth.json")))
    key = os.path.join(work, "key")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
        f.write(base64.b64encode(bytes(range(32))) + b"\n")
    for enc in ("same", "explicitLittleEndian"):
        policy(os.path.join(work, enc + ".json"), enc)

    port = free_port()
    db = os.path.join(work, "orthanc")
    os.makedirs(db)
    cfg = os.path.join(work, "orthanc.json")
    with open(cfg, "w") as f:
        json.dump({"Name": "deidfs-test", "StorageDirectory": db, "IndexDirectory": db,
                   "HttpPort": port, "DicomServerEnabled": False,
                   "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                   "Plugins": []}, f)
    log = open(os.path.join(work, "orthanc.log"), "w")
    orth = subprocess.Popen([ORTHANC, cfg], stdout=log, stderr=log)
    base = "http://127.0.0.1:%d" % port
    failed = []
    stored = decoded = 0
    try:
        for _ in range(100):
            try:
                get(base, "/system")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        else:
            print("FAIL Orthanc did not start (%s)" % os.path.join(work, "orthanc.log"))
            return 1
        for case in truth["cases"]:
            if case["xfer"] == "native":
                continue
            src = case["file"]
            name = os.path.basename(src)[:-4]
            outs = {}
            for enc in ("same", "explicitLittleEndian"):
                o = os.path.join(work, "%s.%s.dcm" % (name, enc))
                p = subprocess.run([deid, "file", src, o, "-p", os.path.join(work, enc + ".json"),
                                    "--key-file", key], capture_output=True, text=True)
                if p.returncode:
                    failed.append("%s: deid file (%s) exit %d" % (name, enc, p.returncode))
                outs[enc] = o
            if len(outs) != 2 or any(not os.path.exists(o) for o in outs.values()):
                continue
            ds = pydicom.dcmread(outs["same"])
            ts = str(ds.file_meta.TransferSyntaxUID)
            if ts == pydicom.uid.ExplicitVRLittleEndian:
                failed.append("%s: not re-encoded" % name)
                continue
            req = urllib.request.Request(base + "/instances", data=open(outs["same"], "rb").read(),
                                         method="POST")
            r = json.loads(urllib.request.urlopen(req, timeout=60).read())
            if r.get("Status") != "Success":
                failed.append("%s: Orthanc: %s" % (name, r.get("Status")))
                continue
            stored += 1
            iid = r["ID"]
            ots = get(base, "/instances/%s/metadata/TransferSyntax" % iid).decode()
            tags = json.loads(get(base, "/instances/%s/simplified-tags" % iid))
            if ots != ts or tags.get("PhotometricInterpretation") != ds.PhotometricInterpretation:
                failed.append("%s: Orthanc sees %s %s" % (name, ots, tags.get("PhotometricInterpretation")))
            ref = pydicom.dcmread(outs["explicitLittleEndian"]).pixel_array
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            ref = ref.reshape((frames,) + ref.shape[-3:] if ds.SamplesPerPixel == 3
                              else (frames,) + ref.shape[-2:])
            what = "preview" if ds.SamplesPerPixel == 3 else "image-uint16"
            ok = True
            for i in range(frames):
                try:
                    png = get(base, "/instances/%s/frames/%d/%s" % (iid, i, what))
                except urllib.error.HTTPError as e:
                    if ts.startswith("1.2.840.10008.1.2.4.9"):
                        ok = None  # no J2K decoder in this Orthanc: stored only
                        break
                    failed.append("%s: Orthanc cannot decode frame %d: %s" % (name, i, e.code))
                    ok = False
                    break
                got = np.array(Image.open(io.BytesIO(png)))
                if not np.array_equal(got.astype(np.int64), ref[i].astype(np.int64)):
                    failed.append("%s: Orthanc's frame %d differs from the explicit output's" % (name, i))
                    ok = False
            decoded += ok is True
            print("%-26s %-24s stored, %s" % (name, ts, {True: "decoded: same pixels",
                                                         None: "no decoder here",
                                                         False: "DIFFERS"}[ok]))
    finally:
        orth.terminate()
        try:
            orth.wait(timeout=20)
        except subprocess.TimeoutExpired:
            orth.kill()
            orth.wait()
        log.close()
    print("orthanc: %d \"same\" outputs stored, %d decoded to the explicit output's pixels" %
          (stored, decoded))
    for f in failed:
        print("FAIL " + f)
    return 1 if failed or not stored or not decoded else 0


if __name__ == "__main__":
    sys.exit(main())
