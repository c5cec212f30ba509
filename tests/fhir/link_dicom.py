#!/usr/bin/python3
"""Linking by a DICOM PatientID value (DESIGN "One patient, one identity":
the linking identifier is any identifier of type MR, else the one whose
value equals a DICOM PatientID of the tree).

usage: link_dicom.py DEID

Writes a source tree of DICOM files (pydicom: explicit LE with a sequence
of undefined length before PatientID, implicit LE, explicit BE) and FHIR
Patients / Observations, runs `deid index` and `deid materialize` with the
default policy (patientLinking "auto", a fixed key), and checks with pydicom
and json (not our code):
  A. a Patient with two non-MR identifiers, one equal to a DICOM PatientID:
     that identifier's output value == the DICOM file's output PatientID,
     the other one's is not; the Patient's Observation is shifted by the
     DICOM file's date shift;
  B. a Patient with an MR identifier and another identifier equal to a
     different DICOM file's PatientID still links by MR;
  C. two identifiers equal to DICOM PatientIDs: the smallest (system,
     value) links;
  D. a Patient without any such identifier keeps its own key (its
     Observation's shift differs from every linked one or is independent);
  E. the same tree with its FHIR files renamed (so scanned in another
     order) and Patients reordered gives the same index digest and the
     same outputs.
Exit 77 (skip) without pydicom.
"""
import base64
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import pydicom
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import (ExplicitVRBigEndian, ExplicitVRLittleEndian,
                             ImplicitVRLittleEndian)
except ImportError:
    print("pydicom missing: skip")
    sys.exit(77)

ROOT = "1.2.826.0.1.3680043.8.498.2000000000000000000000"
MR_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                       "code": "MR"}]}
D0 = datetime.date(2021, 3, 4)


def write_dicom(path, pid, n, syntax):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = "%s.%d.1.1" % (ROOT, n)
    meta.TransferSyntaxUID = syntax
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "%s.%d" % (ROOT, n)
    ds.SeriesInstanceUID = "%s.%d.1" % (ROOT, n)
    # a sequence before PatientID (written with undefined length)
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ref.ReferencedSOPInstanceUID = "%s.%d.9" % (ROOT, n)
    ds.ReferencedStudySequence = Sequence([ref])
    ds.PatientName = "Test^Person%d" % n
    ds.PatientID = pid
    ds.StudyDate = D0.strftime("%Y%m%d")
    ds.Modality = "CT"
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = b"\0\1" * 16
    ds.is_little_endian = syntax != ExplicitVRBigEndian
    ds.is_implicit_VR = syntax == ImplicitVRLittleEndian
    ds.save_as(path, write_like_original=False)


def ident(system, value, mr=False):
    i = {"system": system, "value": value}
    if mr:
        i["type"] = MR_TYPE
    return i


PATIENTS = [
    # A: two non-MR identifiers, the second equals DICOM d1's PatientID
    {"resourceType": "Patient", "id": "pa",
     "identifier": [ident("urn:oid:2.16.840.1.113883.4.1", "999-11-2222"),
                    ident("urn:oid:1.2.3.4", "PID4242")],
     "name": [{"family": "Adeyemi", "given": ["Tola"]}]},
    # B: an MR identifier (= d2) and another one equal to d3's PatientID
    {"resourceType": "Patient", "id": "pb",
     "identifier": [ident("urn:oid:1.2.3.9", "OTHER55"),
                    ident("urn:oid:1.2.3.4", "MRN777", mr=True)],
     "name": [{"family": "Bjornsdottir", "given": ["Kari"]}]},
    # C: both identifiers are DICOM PatientIDs: (urn:a, TIE-A) is smaller
    {"resourceType": "Patient", "id": "pc",
     "identifier": [ident("urn:b", "TIE-B"), ident("urn:a", "TIE-A")],
     "name": [{"family": "Castellanos", "given": ["Ines"]}]},
    # D: nothing matches
    {"resourceType": "Patient", "id": "pd",
     "identifier": [ident("urn:oid:1.2.3.4", "NOMATCH1")],
     "name": [{"family": "Dubois", "given": ["Luc"]}]},
]
DICOM = [("d1", "PID4242", ExplicitVRLittleEndian),
         ("d2", "MRN777", ImplicitVRLittleEndian),
         ("d3", "OTHER55", ExplicitVRBigEndian),
         ("d4", "TIE-A ", ExplicitVRLittleEndian),  # padded: trimmed
         ("d5", "TIE-B", ImplicitVRLittleEndian)]


def observation(pid):
    return {"resourceType": "Observation", "id": "o" + pid, "status": "final",
            "code": {"text": "heart rate"},
            "subject": {"reference": "Patient/" + pid},
            "effectiveDateTime": D0.isoformat() + "T10:15:00Z"}


def build_tree(src, order):
    """FHIR files under names that sort in @order; Patients in NDJSON."""
    os.makedirs(os.path.join(src, "dicom", "sub"))
    os.makedirs(os.path.join(src, "fhir"))
    for n, (name, pid, syn) in enumerate(DICOM):
        sub = "sub" if n % 2 else ""
        write_dicom(os.path.join(src, "dicom", sub, name + ".dcm"), pid, n + 1, syn)
    pats = PATIENTS if order == 0 else list(reversed(PATIENTS))
    names = ["a-patients.ndjson", "b-obs.ndjson"]
    if order:
        names = ["z-patients.ndjson", "c-obs.ndjson"]
    with open(os.path.join(src, "fhir", names[0]), "w") as f:
        for p in pats:
            f.write(json.dumps(p) + "\n")
    with open(os.path.join(src, "fhir", names[1]), "w") as f:
        for p in pats:
            f.write(json.dumps(observation(p["id"])) + "\n")
    return names


def run(deid, tmp, tag, order):
    src = os.path.join(tmp, "src" + tag)
    dest = os.path.join(tmp, "dest" + tag)
    names = build_tree(src, order)
    pol = os.path.join(tmp, "policy.json")
    key = os.path.join(tmp, "key")
    env = dict(os.environ, DEIDFS_CACHE_DIR=os.path.join(tmp, "cache" + tag))
    r = subprocess.run([deid, "index", src, "-p", pol, "--key-file", key, "-q"],
                       env=env, stdout=subprocess.PIPE, text=True)
    print(r.stdout, end="")
    digest = re.search(r"digest:\s+(\S+)", r.stdout)
    ndicom = re.search(r"DICOM ids:\s+(\d+)", r.stdout)
    r = subprocess.run([deid, "materialize", src, dest, "-p", pol, "--key-file", key, "-q"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        print(r.stdout, r.stderr)
    out = {}
    for name, _, _ in DICOM:
        for sub in ("", "sub"):
            p = os.path.join(dest, "dicom", sub, name + ".dcm")
            if os.path.exists(p):
                out[name] = pydicom.dcmread(p)
    pats = {}
    with open(os.path.join(dest, "fhir", names[0])) as f:
        for line in f:
            p = json.loads(line)
            pats[p["id"]] = p
    obs = {}
    with open(os.path.join(dest, "fhir", names[1])) as f:
        for line in f:
            o = json.loads(line)
            obs[o["subject"]["reference"]] = o
    return {"digest": digest.group(1) if digest else None,
            "ndicom": int(ndicom.group(1)) if ndicom else None,
            "dicom": out, "pats": pats, "obs": obs}


def shift_of(o):
    return (datetime.date.fromisoformat(o["effectiveDateTime"][:10]) - D0).days


def dicom_shift(ds):
    return (datetime.datetime.strptime(ds.StudyDate, "%Y%m%d").date() - D0).days


def check(res, fails):
    d = res["dicom"]
    if sorted(d) != sorted(n for n, _, _ in DICOM):
        fails.append("DICOM outputs missing: %s" % sorted(d))
        return
    # kept: the PatientIDs a Patient's key equals (d1 by A, d2 by B's MR,
    # d4 by C), not d3 and d5, which no Patient links by
    if res["ndicom"] != 3:
        fails.append("deid index kept %s DICOM PatientIDs, expected 3"
                     % res["ndicom"])
    # the FHIR Patients in source order: map by their pseudonymised ids
    by_family = {}
    for p in res["pats"].values():
        by_family[p["id"]] = p
    pats = list(res["pats"].values())
    if len(pats) != 4:
        fails.append("expected 4 Patients, got %d" % len(pats))
        return
    idents = {}
    for p in pats:
        for i in p.get("identifier", []):
            idents.setdefault(i.get("system"), []).append((p["id"], i["value"]))

    def pat_with(system, value):
        for pid, v in idents.get(system, []):
            if v == value:
                return pid
        return None

    def obs_shift(pid):
        o = res["obs"].get("Patient/" + pid)
        return shift_of(o) if o else None

    # A: urn:oid:1.2.3.4 identifier of Patient A == d1's PatientID
    a = pat_with("urn:oid:1.2.3.4", d["d1"].PatientID)
    if not a:
        fails.append("A: no Patient identifier equals DICOM d1's PatientID %r"
                     % d["d1"].PatientID)
    else:
        ssn = [v for pid, v in idents.get("urn:oid:2.16.840.1.113883.4.1", []) if pid == a]
        if ssn == [d["d1"].PatientID]:
            fails.append("A: the non-matching identifier got the patient pseudonym too")
        if obs_shift(a) != dicom_shift(d["d1"]):
            fails.append("A: Observation shifted %s days, DICOM d1 %d"
                         % (obs_shift(a), dicom_shift(d["d1"])))
    # B: MR wins over an identifier equal to d3's PatientID
    b = pat_with("urn:oid:1.2.3.4", d["d2"].PatientID)
    if not b:
        fails.append("B: the MR identifier does not equal DICOM d2's PatientID")
    else:
        if pat_with("urn:oid:1.2.3.9", d["d3"].PatientID) == b:
            fails.append("B: the non-MR identifier got d3's pseudonym")
        if obs_shift(b) != dicom_shift(d["d2"]):
            fails.append("B: Observation shifted %s days, DICOM d2 %d"
                         % (obs_shift(b), dicom_shift(d["d2"])))
    # C: (urn:a, TIE-A) links, (urn:b, TIE-B) does not
    c = pat_with("urn:a", d["d4"].PatientID)
    if not c:
        fails.append("C: the smallest (system, value) did not link")
    else:
        if pat_with("urn:b", d["d5"].PatientID) == c:
            fails.append("C: the larger identifier linked too")
        if obs_shift(c) != dicom_shift(d["d4"]):
            fails.append("C: Observation shifted %s days, DICOM d4 %d"
                         % (obs_shift(c), dicom_shift(d["d4"])))
    # D: no DICOM pseudonym anywhere on Patient D
    dicom_ids = {ds.PatientID for ds in d.values()}
    for p in pats:
        if p["id"] in (a, b, c):
            continue
        for i in p.get("identifier", []):
            if i["value"] in dicom_ids:
                fails.append("D: an unmatched Patient got a DICOM pseudonym")


def main():
    deid = sys.argv[1]
    fails = []
    with tempfile.TemporaryDirectory() as tmp:
        pol = json.loads(subprocess.check_output([deid, "policy", "default"]))
        pol["deidfs"]["pathMode"] = "keep"
        with open(os.path.join(tmp, "policy.json"), "w") as f:
            json.dump(pol, f)
        key = os.path.join(tmp, "key")
        with open(key, "w") as f:
            f.write(base64.b64encode(b"link-dicom test key, 32 bytes!!!").decode() + "\n")
        os.chmod(key, 0o600)
        r1 = run(deid, tmp, "1", 0)
        check(r1, fails)
        r2 = run(deid, tmp, "2", 1)
        check(r2, fails)
        # E: scan order
        if not r1["digest"] or r1["digest"] != r2["digest"]:
            fails.append("E: index digests differ with the scan order: %s %s"
                         % (r1["digest"], r2["digest"]))
        if r1["pats"] != r2["pats"]:
            fails.append("E: Patient outputs differ with the scan order")
        if r1["obs"] != r2["obs"]:
            fails.append("E: Observation outputs differ with the scan order")
        for n in r1["dicom"]:
            if n in r2["dicom"] and r1["dicom"][n].PatientID != r2["dicom"][n].PatientID:
                fails.append("E: DICOM %s PatientID differs" % n)
    for x in fails:
        print("FAIL", x)
    if not fails:
        print("link_dicom: all checks passed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
