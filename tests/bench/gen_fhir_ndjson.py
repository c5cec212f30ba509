#!/usr/bin/env python3
"""Generate bulk FHIR NDJSON (Patients, Encounters, Observations with
notes) for benchmarks: gen_fhir_ndjson.py OUTDIR MEGABYTES [SEED].

Deterministic for a seed.  Names, phones and addresses are made up from
small built-in lists; every Observation has a free-text note mentioning
its patient, so free-text inspection has real work to do."""
import json
import os
import random
import sys

GIVEN = ["Adaeze", "Maria", "John", "Wei", "Fatima", "Liam", "Olga", "Kenji",
         "Aisha", "Carlos", "Ingrid", "Tomas", "Priya", "Samuel", "Nora"]
FAMILY = ["Okonkwo", "Garcia", "Smith", "Zhang", "Haddad", "Murphy", "Ivanova",
          "Tanaka", "Bello", "Silva", "Larsen", "Novak", "Sharma", "Cohen"]
STREETS = ["Larkspur Lane", "Main Street", "Oak Avenue", "Harbor Road", "Elm Court"]
CITIES = ["Fairview", "Springfield", "Riverton", "Lakewood", "Georgetown"]
NOTES = ["{g} {f} reports chest pain since {d}; call {p} with results.",
         "Patient {g} {f} seen with daughter; lives at {a}. Follow up in 2 weeks.",
         "BP rechecked. {f}, {g} tolerating lisinopril well. MRN {m}.",
         "Discussed results with Mr. {f} by phone ({p}). No acute distress."]


def main():
    out, mb = sys.argv[1], float(sys.argv[2])
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    os.makedirs(out, exist_ok=True)
    target = int(mb * 1e6)
    fp = open(os.path.join(out, "Patient.ndjson"), "w")
    fe = open(os.path.join(out, "Encounter.ndjson"), "w")
    fo = open(os.path.join(out, "Observation.ndjson"), "w")
    total, i = 0, 0
    while total < target:
        i += 1
        g, f = rnd.choice(GIVEN), rnd.choice(FAMILY)
        mrn = "MRN%07d" % i
        phone = "555-%03d-%04d" % (rnd.randrange(1000), rnd.randrange(10000))
        addr = "%d %s" % (rnd.randrange(1, 999), rnd.choice(STREETS))
        city = rnd.choice(CITIES)
        pid = "pat%d" % i
        p = {"resourceType": "Patient", "id": pid,
             "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                             "system": "urn:oid:1.2.3.4", "value": mrn}],
             "name": [{"use": "official", "family": f, "given": [g]}],
             "telecom": [{"system": "phone", "value": phone, "use": "home"}],
             "gender": rnd.choice(["male", "female"]),
             "birthDate": "%04d-%02d-%02d" % (rnd.randrange(1930, 2015), rnd.randrange(1, 13), rnd.randrange(1, 29)),
             "address": [{"line": [addr], "city": city, "state": "OR", "postalCode": "97%03d" % rnd.randrange(1000)}]}
        line = json.dumps(p, separators=(",", ":")) + "\n"
        fp.write(line)
        total += len(line)
        for k in range(2):
            d = "2021-%02d-%02d" % (rnd.randrange(1, 13), rnd.randrange(1, 29))
            e = {"resourceType": "Encounter", "id": "enc%d-%d" % (i, k), "status": "finished",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "subject": {"reference": "Patient/" + pid, "display": g + " " + f},
                 "period": {"start": d + "T09:00:00Z", "end": d + "T10:30:00Z"}}
            line = json.dumps(e, separators=(",", ":")) + "\n"
            fe.write(line)
            total += len(line)
            for j in range(3):
                o = {"resourceType": "Observation", "id": "obs%d-%d-%d" % (i, k, j), "status": "final",
                     "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"}]},
                     "subject": {"reference": "Patient/" + pid},
                     "encounter": {"reference": "Encounter/enc%d-%d" % (i, k)},
                     "effectiveDateTime": d + "T09:%02d:00Z" % (10 + j),
                     "valueQuantity": {"value": rnd.randrange(95, 180), "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
                     "note": [{"text": rnd.choice(NOTES).format(g=g, f=f, d=d, p=phone, a=addr, m=mrn)}]}
                line = json.dumps(o, separators=(",", ":")) + "\n"
                fo.write(line)
                total += len(line)
    for x in (fp, fe, fo):
        x.close()
    print("%d patients, %.1f MB" % (i, total / 1e6))


if __name__ == "__main__":
    main()
