#!/usr/bin/env python3
"""gen_corpus.py: the labelled free-text corpus of tests/text/corpus/.

Synthetic clinical notes (discharge summaries, radiology reports, nursing
notes, letters, clinic notes) with every PHI span marked inline as
{{INFO_TYPE|text}}.  Deterministic (fixed seeds).  Two halves:

  dev.txt   names, surnames and cities from data/text/ (the lists the
            detector is built from): for tuning;
  test.txt  names, surnames and cities from tests/text/heldout/ (never
            compiled into the detector): for the figures we report.

Notes are separated by a line "=== NOTE <n> <kind>".  Lines "@ctx TYPE=VALUE"
right after it are contextual values of the record (as the DICOM or FHIR
engine would add), not part of the note's text.  Unmarked text is meant to
hold no PHI: eponyms, drugs, doses, units, vital signs, LOINC and ICD codes
are there on purpose as negatives.  Ages under 90 are not PHI (HIPAA) and
are left unmarked.

usage: gen_corpus.py SRCROOT OUTDIR [N_PER_HALF]
"""
import os
import random
import re
import sys

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]

STREET_SUFFIX = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive",
                 "Court", "Boulevard", "Way", "Place", "Terrace"]
STATES = [("Illinois", "IL"), ("Massachusetts", "MA"), ("Ohio", "OH"), ("Texas", "TX"),
          ("California", "CA"), ("New York", "NY"), ("Georgia", "GA"), ("Oregon", "OR"),
          ("Michigan", "MI"), ("Arizona", "AZ"), ("Florida", "FL"), ("Wisconsin", "WI")]
DOMAINS = ["example.com", "mail.example.org", "example.net", "clinic.example.com"]

EPONYM_LINES = [
    "History of Parkinson disease, on carbidopa-levodopa 25/100 mg three times daily.",
    "Known Crohn's disease, last flare two years ago.",
    "Past history of Hodgkin lymphoma treated with chemotherapy.",
    "Bell's palsy on the left, resolving.",
    "Family history of Alzheimer dementia.",
    "Graves disease, status post radioactive iodine.",
    "Cushing syndrome was excluded by dexamethasone suppression test.",
    "Addison's disease on hydrocortisone 20 mg in the morning.",
    "Wilson disease was considered but ceruloplasmin was normal.",
    "Down syndrome with moderate intellectual disability.",
    "Murphy sign negative. McBurney point non-tender.",
    "Babinski sign absent bilaterally. Romberg negative.",
    "Foley catheter removed on day two.",
    "Glasgow Coma Scale 15.",
    "Doppler ultrasound of the lower extremities showed no thrombosis.",
    "Raynaud phenomenon in both hands.",
    "Hashimoto thyroiditis on levothyroxine 75 mcg daily.",
    "Barrett esophagus on surveillance endoscopy.",
    "Apgar scores 8 and 9.",
    "Gleason score 3+4=7 on biopsy.",
]
NEG_LINES = [
    "Vital signs: BP 132/84, HR 78, RR 16, T 98.6 F, SpO2 97% on room air.",
    "Labs: WBC 7.2 x 10^9/L, Hgb 13.1 g/dL, platelets 245, creatinine 1.1 mg/dL.",
    "LOINC 2345-7 glucose 104 mg/dL; LOINC 8480-6 systolic 132 mmHg.",
    "ICD-10 I10, E11.9 and N18.3 were coded.",
    "Metoprolol 25 mg PO BID, lisinopril 10 mg daily, atorvastatin 40 mg at bedtime.",
    "Furosemide 40 mg IV given with good diuresis of 1.5 L.",
    "A 5 cm mass in the L lobe; ABD soft, non-tender.",
    "TIS 0.4, MI 1.1 for the ultrasound examination.",
    "Insulin glargine 20 units at night; sliding scale lispro.",
    "Potassium 3.4 mmol/L, replaced with 40 mEq KCl.",
    "Heparin drip at 18 units/kg/h, aPTT goal 60-80 s.",
    "INR 2.3 on warfarin 5 mg.",
    "Chest X-ray PA and lateral: no acute cardiopulmonary process.",
    "CT abdomen and pelvis with contrast, 5 mm slices.",
    "MRI brain: no acute infarct. Mild periventricular white matter changes.",
    "Echocardiogram: EF 55-60%, no wall motion abnormality.",
    "Tylenol 650 mg q6h PRN pain. Zofran 4 mg IV PRN nausea.",
    "Right upper quadrant ultrasound: cholelithiasis without cholecystitis.",
    "EKG: normal sinus rhythm at 72, QTc 430 ms.",
    "Hemoglobin A1c 7.8%. LDL 112 mg/dL.",
    "Eliquis 5 mg twice daily for atrial fibrillation, CHA2DS2-VASc 4.",
    "Keppra 500 mg BID for seizure prophylaxis.",
    "Lungs clear to auscultation bilaterally. Heart regular rate and rhythm.",
    "Abdomen soft, non-distended, bowel sounds present.",
    "Neuro: alert and oriented x3, cranial nerves II-XII intact.",
    "Pain 3/10, improved with acetaminophen.",
    "Patient ambulating with walker, PT and OT following.",
    "Diet: cardiac, 2 g sodium, 1.5 L fluid restriction.",
    "Ferritin 18 ng/mL, iron saturation 12%.",
    "Urinalysis negative for nitrites and leukocyte esterase.",
]


def load(path):
    out = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line.split("\t")[0])
    return out


class Gen:
    def __init__(self, rnd, given, surnames, cities):
        self.r = rnd
        self.given = given
        self.surnames = surnames
        self.cities = cities

    def pick(self, v):
        return self.r.choice(v)

    def m(self, t, s):
        return "{{%s|%s}}" % (t, s)

    def person(self):
        return self.pick(self.given), self.pick(self.surnames)

    def date(self):
        r = self.r
        y, mo, d = r.randint(1995, 2024), r.randint(1, 12), r.randint(1, 28)
        f = r.randint(0, 9)
        if f == 0:
            s = "%04d-%02d-%02d" % (y, mo, d)
        elif f == 1:
            s = "%02d/%02d/%04d" % (mo, d, y)
        elif f == 2:
            s = "%d/%d/%02d" % (mo, d, y % 100)
        elif f == 3:
            s = "%s %d, %d" % (MONTHS[mo - 1], d, y)
        elif f == 4:
            s = "%d %s %d" % (d, MONTHS[mo - 1][:3], y)
        elif f == 5:
            s = "%s. %d, %d" % (MONTHS[mo - 1][:3], d, y)
        elif f == 6:
            s = "%02d-%s-%d" % (d, MONTHS[mo - 1][:3].upper(), y)
        elif f == 7:
            s = "%s %d" % (MONTHS[mo - 1], d)
        elif f == 8:
            s = "%d %s %d" % (d, MONTHS[mo - 1], y)
        else:
            s = "%s %d" % (MONTHS[mo - 1], y)
        return self.m("DATE", s)

    def dob(self):
        r = self.r
        y, mo, d = r.randint(1925, 1995), r.randint(1, 12), r.randint(1, 28)
        return self.m("DATE", self.pick(["%02d/%02d/%04d" % (mo, d, y), "%04d-%02d-%02d" % (y, mo, d),
                                         "%s %d, %d" % (MONTHS[mo - 1], d, y)])), (y, mo, d)

    def phone(self):
        r = self.r
        a, b, c = r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999)
        f = r.randint(0, 3)
        if f == 0:
            return "(%03d) %03d-%04d" % (a, b, c)
        if f == 1:
            return "%03d-%03d-%04d" % (a, b, c)
        if f == 2:
            return "%03d.%03d.%04d" % (a, b, c)
        return "+1 %03d %03d %04d" % (a, b, c)

    def ssn(self):
        r = self.r
        return "%03d-%02d-%04d" % (r.randint(1, 665), r.randint(1, 99), r.randint(1, 9999))

    def mrn(self):
        r = self.r
        v = "%08d" % r.randint(10000000, 99999999)
        f = r.randint(0, 2)
        if f == 1:
            v = v[:4] + "-" + v[4:]
        elif f == 2:
            v = "MR" + v[:6]
        return v

    def street(self):
        r = self.r
        num = str(r.randint(1, 9999))
        nm = self.pick(self.surnames) if r.random() < 0.6 else self.pick(
            ["Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main"])
        s = "%s %s %s" % (num, nm, self.pick(STREET_SUFFIX))
        if r.random() < 0.3:
            s += ", %s %s" % (self.pick(["Apt", "Apt.", "Suite", "Unit"]), r.choice(["4B", "12", "210", "3C"]))
        return s

    def cityline(self):
        st = self.pick(STATES)
        zipc = "%05d" % self.r.randint(1001, 99950)
        return "%s, %s %s" % (self.pick(self.cities), st[1], zipc)

    def email(self, g, s):
        return "%s.%s@%s" % (g.lower(), s.lower(), self.pick(DOMAINS))

    def org(self):
        r = self.r
        f = r.randint(0, 5)
        if f == 0:
            return "%s General Hospital" % self.pick(self.cities)
        if f == 1:
            return "St. %s's Hospital" % self.pick(self.given)
        if f == 2:
            return "%s Medical Center" % self.pick(self.surnames)
        if f == 3:
            return "University of %s" % self.pick(self.cities)
        if f == 4:
            return "%s Family Clinic" % self.pick(self.surnames)
        return "%s Cancer Center" % self.pick(self.cities)

    def age(self):
        a = self.r.randint(90, 104)
        f = self.r.randint(0, 3)
        if f == 0:
            return "%s-year-old" % self.m("AGE", str(a))
        if f == 1:
            return "%s year old" % self.m("AGE", str(a))
        if f == 2:
            return "aged %s" % self.m("AGE", str(a))
        return "%s yo" % self.m("AGE", str(a))

    def young_age(self):
        return "%d-year-old" % self.r.randint(18, 88)

    def negs(self, k):
        return [self.pick(NEG_LINES) for _ in range(k)] + [self.pick(EPONYM_LINES)]

    # ---- note kinds ---------------------------------------------------------------------

    def note_discharge(self):
        g, s = self.person()
        dg, ds = self.person()
        dob, (y, mo, d) = self.dob()
        mrn = self.mrn()
        ctx = []
        if self.r.random() < 0.4:
            ctx = ["PERSON_NAME=%s^%s" % (s.upper(), g.upper()), "MEDICAL_RECORD_NUMBER=%s" % mrn,
                   "DATE=%04d%02d%02d" % (y, mo, d)]
        old = self.r.random() < 0.5
        age = self.age() if old else self.young_age()
        hosp = self.org()
        L = ["DISCHARGE SUMMARY",
             "Patient: %s    MRN: %s" % (self.m("PERSON_NAME", "%s %s" % (g, s)), self.m("MEDICAL_RECORD_NUMBER", mrn)),
             "DOB: %s    Admission: %s    Discharge: %s" % (dob, self.date(), self.date()),
             "Attending: Dr. %s" % self.m("PERSON_NAME", "%s %s" % (dg, ds)),
             "",
             "HISTORY OF PRESENT ILLNESS:",
             "%s is a %s %s with a history of hypertension who presented to %s with chest pain." % (
                 self.m("PERSON_NAME", "%s %s" % (g, s)), age, self.pick(["man", "woman"]), self.m("ORGANIZATION_NAME", hosp)),
             ] + self.negs(2) + [
             "HOSPITAL COURSE:",
             "%s %s was monitored on telemetry. %s" % (self.pick(["Mr.", "Ms.", "Mrs."]), self.m("PERSON_NAME", s), self.pick(EPONYM_LINES)),
             ] + self.negs(2) + [
             "Follow-up with Dr. %s in two weeks; call %s to schedule." % (self.m("PERSON_NAME", ds), self.m("PHONE_NUMBER", self.phone())),
             "Electronically signed by %s, MD on %s" % (self.m("PERSON_NAME", "%s %s" % (dg, ds)), self.date()),
             ]
        return ctx, L

    def note_radiology(self):
        g, s = self.person()
        rg, rs = self.person()
        acc = "%s%07d" % (self.pick(["A", "RAD", "CT", ""]), self.r.randint(1000000, 9999999))
        L = ["RADIOLOGY REPORT",
             "Name: %s    Accession #: %s" % (self.m("PERSON_NAME", "%s, %s" % (s.upper(), g.upper())), self.m("GENERIC_ID", acc)),
             "Exam date: %s" % self.date(),
             "Referring physician: %s" % self.m("PERSON_NAME", "%s %s" % (self.pick(self.given), self.pick(self.surnames))),
             "EXAM: CT chest without contrast.",
             "CLINICAL HISTORY: %s %s with cough." % (self.young_age(), self.pick(["male", "female"])),
             "COMPARISON: Prior study dated %s." % self.date(),
             "FINDINGS: " + " ".join(self.negs(2)),
             "IMPRESSION: No acute abnormality. " + self.pick(EPONYM_LINES),
             "Dictated by: %s, MD" % self.m("PERSON_NAME", "%s %s" % (rg, rs)),
             "Transcribed: %s" % self.date()]
        return [], L

    def note_nursing(self):
        g, s = self.person()
        ng, ns = self.person()
        sg = self.pick(self.given)
        rel = self.pick(["daughter", "son", "wife", "husband", "sister", "brother"])
        L = ["NURSING NOTE %s 0700" % self.date(),
             "Pt %s resting comfortably. " % self.m("PERSON_NAME", "%s %s" % (g, s)) + self.pick(NEG_LINES),
             "Patient's %s %s visited and can be reached at %s." % (rel, self.m("PERSON_NAME", "%s %s" % (sg, s)), self.m("PHONE_NUMBER", self.phone())),
             ] + self.negs(2) + [
             "Ms. %s notified of plan. %s" % (self.m("PERSON_NAME", ns), self.pick(NEG_LINES)),
             "%s, RN" % self.m("PERSON_NAME", "%s %s" % (ng, ns))]
        return [], L

    def note_letter(self):
        g, s = self.person()
        dg, ds = self.person()
        addr = self.street()
        city = self.cityline()
        em = self.email(dg, ds)
        org = self.org()
        L = [self.m("ORGANIZATION_NAME", org),
             self.m("STREET_ADDRESS", self.street()),
             self.m("LOCATION", self.cityline()),
             "Tel %s   Fax %s" % (self.m("PHONE_NUMBER", self.phone()), self.m("FAX_NUMBER", self.phone())),
             "",
             self.date(),
             "",
             "Dear Dr. %s," % self.m("PERSON_NAME", ds),
             "I saw your patient %s (DOB %s), who lives at %s, %s, in clinic today." % (
                 self.m("PERSON_NAME", "%s %s" % (g, s)), self.dob()[0], self.m("STREET_ADDRESS", addr), self.m("LOCATION", city)),
             ] + self.negs(2) + [
             "%s %s" % (self.pick(EPONYM_LINES), self.pick(NEG_LINES)),
             "Please contact me at %s or %s." % (self.m("EMAIL_ADDRESS", em), self.m("PHONE_NUMBER", self.phone())),
             "Sincerely,",
             "%s, MD" % self.m("PERSON_NAME", "%s %s" % (dg, ds)),
             "cc: %s" % self.m("PERSON_NAME", "%s %s" % (self.pick(self.given), self.pick(self.surnames)))]
        return [], L

    def note_clinic(self):
        g, s = self.person()
        dob, (y, mo, d) = self.dob()
        ssn = self.ssn()
        acct = "%09d" % self.r.randint(100000000, 999999999)
        ip = "10.%d.%d.%d" % (self.r.randint(0, 255), self.r.randint(0, 255), self.r.randint(1, 254))
        url = "https://portal.%s/patient/%d" % (self.pick(DOMAINS), self.r.randint(1000, 99999))
        L = ["CLINIC NOTE",
             "Patient Name: %s" % self.m("PERSON_NAME", "%s, %s" % (s, g)),
             "DOB: %s   SSN: %s   Account: %s" % (dob, self.m("US_SOCIAL_SECURITY_NUMBER", ssn), self.m("GENERIC_ID", acct)),
             "Seen at %s on %s by %s." % (self.m("ORGANIZATION_NAME", self.org()), self.date(),
                                          self.m("PERSON_NAME", "Dr. %s" % self.pick(self.surnames))[0:0] + "Dr. " + self.m("PERSON_NAME", self.pick(self.surnames))),
             "%s is a very pleasant %s %s here for follow-up." % (self.m("PERSON_NAME", g), self.age(), self.pick(["gentleman", "lady"])),
             ] + self.negs(3) + [
             "Lives in %s with %s." % (self.m("LOCATION", self.pick(self.cities)), self.pick(["his wife", "her husband", "family", "a roommate"])),
             "Remote monitoring upload from %s; results at %s." % (self.m("IP_ADDRESS", ip), self.m("URL", url)),
             "Return in 3 months."]
        ctx = []
        if self.r.random() < 0.5:
            ctx = ["PERSON_NAME=%s^%s" % (s.upper(), g.upper()), "DATE=%04d%02d%02d" % (y, mo, d)]
        return ctx, L


def build(gen, n, first_no):
    kinds = [gen.note_discharge, gen.note_radiology, gen.note_nursing, gen.note_letter, gen.note_clinic]
    out = []
    for k in range(n):
        f = kinds[k % len(kinds)]
        ctx, lines = f()
        out.append("=== NOTE %d %s" % (first_no + k, f.__name__[5:]))
        out += ["@ctx " + c for c in ctx]
        out += lines
    return "\n".join(out) + "\n"


def main():
    root, outdir = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 160
    ok = lambda w: re.fullmatch(r"[A-Z][a-z]{2,}", w) is not None
    dev_given = [w for w in load(os.path.join(root, "data/text/given-names.txt")) if ok(w)]
    dev_sur = [w for w in load(os.path.join(root, "data/text/name-parts.txt")) if ok(w)]
    dev_city = [w for w in load(os.path.join(root, "data/text/cities.txt")) if ok(w)]
    t_given = [w for w in load(os.path.join(root, "tests/text/heldout/given.txt")) if ok(w)]
    t_sur = [w for w in load(os.path.join(root, "tests/text/heldout/surnames.txt")) if ok(w)]
    t_city = [w for w in load(os.path.join(root, "tests/text/heldout/cities.txt")) if ok(w)]
    dev = Gen(random.Random(20240601), dev_given, dev_sur, dev_city)
    test = Gen(random.Random(20240602), t_given, t_sur, t_city)
    with open(os.path.join(outdir, "dev.txt"), "w", encoding="utf-8") as f:
        f.write(build(dev, n, 1))
    with open(os.path.join(outdir, "test.txt"), "w", encoding="utf-8") as f:
        f.write(build(test, n, n + 1))


if __name__ == "__main__":
    main()
