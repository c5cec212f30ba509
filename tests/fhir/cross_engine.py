#!/usr/bin/python3
"""Cross-engine linking: one patient in DICOM and in FHIR gets one
pseudonym and one date shift.

usage: cross_engine.py DEID

Writes a source tree: a DICOM CT slice (pydicom) of PatientID MRN0012345,
StudyDate 20210304, and FHIR Patient / ImagingStudy / Observation files of
the same patient (MR identifier MRN0012345, dates 2021-03-04), runs
`deid materialize SRC DEST` with the default policy plus
patientLinking {"sources": [SRC]} and a fixed key, then checks with
pydicom and json (not our code):
  - DICOM PatientID == the FHIR Patient's MR identifier value;
  - DICOM StudyDate and the FHIR dates moved by the same number of days;
  - ImagingStudy's DICOM study UID identifier == DICOM StudyInstanceUID,
    and the Observation's subject resolves to the Patient.
Exit 77 (skip) without pydicom.
"""
import base64
import datetime
import json
import os
import subprocess
import sys
import tempfile

try:
    import pydicom
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
except ImportError:
    print("pydicom missing: skip")
    sys.exit(77)

STUDY_UID = "1.2.826.0.1.3680043.8.498.10000000000000000000000000001"


def write_dicom(path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = STUDY_UID + ".1.1"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = STUDY_UID + ".1"
    ds.PatientName = "Okonkwo^Adaeze"
    ds.PatientID = "MRN0012345"
    ds.PatientBirthDate = "19610417"
    ds.StudyDate = "20210304"
    ds.SeriesDate = "20210304"
    ds.Modality = "CT"
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = b"\0\1" * 16
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.save_as(path, write_like_original=False)


def main():
    deid = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        dest = os.path.join(tmp, "dest")
        os.makedirs(os.path.join(src, "dicom"))
        os.makedirs(os.path.join(src, "fhir"))
        write_dicom(os.path.join(src, "dicom", "ct1.dcm"))
        mr = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                   "code": "MR"}]},
              "system": "urn:oid:1.2.3", "value": "MRN0012345"}
        docs = {
            "patient.json": {"resourceType": "Patient", "id": "p1", "identifier": [mr],
                             "name": [{"family": "Okonkwo", "given": ["Adaeze"]}],
                             "birthDate": "1961-04-17"},
            "imagingstudy.json": {"resourceType": "ImagingStudy", "id": "is1", "status": "available",
                                  "identifier": [{"system": "urn:dicom:uid",
                                                  "value": "urn:oid:" + STUDY_UID}],
                                  "subject": {"reference": "Patient/p1"},
                                  "started": "2021-03-04T10:00:00Z"},
            "observation.json": {"resourceType": "Observation", "id": "o1", "status": "final",
                                 "code": {"text": "heart rate"},
                                 "subject": {"reference": "Patient/p1"},
                                 "effectiveDateTime": "2021-03-04T10:15:00Z"},
        }
        for n, d in docs.items():
            with open(os.path.join(src, "fhir", n), "w") as f:
                json.dump(d, f)
        with open(os.path.join(tmp, "policy.json"), "w") as f:
            pol = json.loads(subprocess.check_output([deid, "policy", "default"]))
            pol["deidfs"]["patientLinking"] = {"sources": [src]}
            pol["deidfs"]["pathMode"] = "keep"
            json.dump(pol, f)
        key = os.path.join(tmp, "key")
        with open(key, "w") as f:
            f.write(base64.b64encode(b"cross-engine test key, 32 bytes!").decode() + "\n")
        os.chmod(key, 0o600)
        env = dict(os.environ, DEIDFS_CACHE_DIR=os.path.join(tmp, "cache"))
        r = subprocess.run([deid, "materialize", src, dest, "-p", os.path.join(tmp, "policy.json"),
                            "--key-file", key, "-q"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        print(r.stdout, r.stderr)
        out = {}
        for root, _, files in os.walk(dest):
            for fn in files:
                out[fn] = os.path.join(root, fn)
        fails = []
        if "ct1.dcm" not in out:
            print("DICOM output missing (the DICOM engine hid it):", sorted(out))
            return 1
        ds = pydicom.dcmread(out["ct1.dcm"])
        p = json.load(open(out["patient.json"]))
        s = json.load(open(out["imagingstudy.json"]))
        o = json.load(open(out["observation.json"]))
        fhir_mr = [i["value"] for i in p.get("identifier", [])
                   if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"]
        if fhir_mr != [ds.PatientID]:
            fails.append("PatientID %r != FHIR MR identifier %r" % (ds.PatientID, fhir_mr))
        d0 = datetime.date(2021, 3, 4)
        dicom_shift = (datetime.datetime.strptime(ds.StudyDate, "%Y%m%d").date() - d0).days
        for name, v in (("Observation.effectiveDateTime", o["effectiveDateTime"]),
                        ("ImagingStudy.started", s["started"])):
            sh = (datetime.date.fromisoformat(v[:10]) - d0).days
            if sh != dicom_shift:
                fails.append("%s shifted by %d days, DICOM StudyDate by %d" % (name, sh, dicom_shift))
        uid = [i["value"] for i in s.get("identifier", []) if i.get("system") == "urn:dicom:uid"]
        if uid != ["urn:oid:" + ds.StudyInstanceUID]:
            fails.append("ImagingStudy study UID %r != DICOM %r" % (uid, ds.StudyInstanceUID))
        if o["subject"]["reference"] != "Patient/" + p["id"]:
            fails.append("Observation.subject does not resolve to the Patient")
        print("DICOM PatientID %s, shift %d days, StudyInstanceUID %s" %
              (ds.PatientID, dicom_shift, ds.StudyInstanceUID))
        for x in fails:
            print("FAIL", x)
        return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
