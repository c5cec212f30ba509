#!/usr/bin/env python3
"""Byte-identity guard for the FHIR engine on bulk data: the SHA-256 of
every `deid materialize` output, with the default policy and with
deidfs.inspectFreeText false, must equal the committed values.

usage: bulk_hashes.py DEID GEN_NDJSON EXPECTED [--update]

The input is regenerated deterministically: GEN_NDJSON (the bench
generator, tests/bench/gen_fhir_ndjson.py) with seed 7 and 5 MB, plus
Bundles made here from seed 11 (a 2.5 MB collection Bundle with Patients,
Encounters and Observations: REGEN entry chunks and its own patient index;
a small searchset; a single Patient; NDJSON with CRLF, blank lines and a
BOM; a Patient whose resourceType is spelled with a \\u escape).  The key
is fixed.  Every file is also run through `deid file` (the manifest path a
mount serves, REGEN chunks regenerated) and must give the same bytes as
`deid materialize`.  Performance work on dd_fhir must
keep these hashes; a deliberate output change updates EXPECTED with
--update (review why in the commit).
"""
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile

NDJSON_SEED, NDJSON_MB, BUNDLE_SEED = 7, 5, 11


def bundle_files(src):
    rnd = random.Random(BUNDLE_SEED)
    given = ["Ana", "Bruno", "Chiara", "Dmitri", "Esther", "Farid"]
    family = ["Keller", "Osei", "Petrov", "Quinn", "Rossi", "Sato"]
    entries, i = [], 0
    size = 0
    while size < 2500000:
        i += 1
        g, f = rnd.choice(given), rnd.choice(family)
        pu = "urn:uuid:%08x-0000-4000-8000-%012x" % (i, rnd.randrange(1 << 48))
        pat = {"resourceType": "Patient", "id": "bp%d" % i,
               "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                               "system": "urn:oid:1.2.3.4", "value": "B%06d" % i}],
               "name": [{"family": f, "given": [g], "text": "%s %s" % (g, f)}],
               "birthDate": "19%02d-0%d-1%d" % (rnd.randrange(20, 99), rnd.randrange(1, 9), rnd.randrange(0, 9)),
               "telecom": [{"system": "email", "value": "%s.%s@example.org" % (g.lower(), f.lower())}]}
        entries.append({"fullUrl": pu, "resource": pat})
        for k in range(3):
            d = "2020-%02d-%02d" % (rnd.randrange(1, 13), rnd.randrange(1, 29))
            obs = {"resourceType": "Observation", "id": "bo%d-%d" % (i, k), "status": "final",
                   "meta": {"source": "#x", "lastUpdated": d + "T08:00:00Z"},
                   "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}], "text": "Weight"},
                   "subject": {"reference": pu, "display": "%s %s" % (g, f)},
                   "effectiveDateTime": d,
                   "valueQuantity": {"value": round(rnd.uniform(40, 120), 1), "unit": "kg"},
                   "extension": [{"url": "http://example.org/x", "valueString": "secret"}],
                   "note": [{"text": "Weighed %s %s on %s, seen by Dr. %s." % (g, f, d, rnd.choice(family)),
                             "authorString": "Nurse %s" % rnd.choice(given)}]}
            entries.append({"fullUrl": "urn:uuid:%08x-%04x-4000-8000-000000000000" % (i, k), "resource": obs})
        size += len(json.dumps(entries[-1])) * 5
    b = {"resourceType": "Bundle", "id": "big", "type": "collection",
         "meta": {"lastUpdated": "2021-02-03T04:05:06Z"}, "entry": entries}
    with open(os.path.join(src, "bundle-big.json"), "w") as fp:
        json.dump(b, fp, indent=1)
    s = {"resourceType": "Bundle", "id": "ss1", "type": "searchset", "total": 2,
         "link": [{"relation": "self", "url": "http://hospital.example/fhir/Patient?name=Keller"}],
         "entry": entries[:2]}
    with open(os.path.join(src, "bundle-search.json"), "w") as fp:
        json.dump(s, fp)
    with open(os.path.join(src, "patient.json"), "w") as fp:
        json.dump(entries[0]["resource"], fp, indent=2)
    # a resourceType spelled with a \u escape: still a Patient of the
    # patient index (the index scan must not skip it)
    with open(os.path.join(src, "escaped.ndjson"), "w") as fp:
        fp.write('{"resourceType":"\\u0050atient","id":"esc1","identifier":[{"type":{"coding":'
                 '[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},'
                 '"value":"ESC0001"}],"name":[{"family":"Quintero","given":["Ximena"]}],'
                 '"birthDate":"1970-05-06","link":[{"other":{"reference":"Patient/bp1"},"type":"seealso"}]}\n')
        fp.write('{"resourceType":"Observation","id":"esc-o1","status":"final","code":{"text":"note"},'
                 '"subject":{"reference":"Patient/esc1"},"effectiveDateTime":"2020-01-02",'
                 '"note":[{"text":"Ximena Quintero called, MRN ESC0001."}]}\n')
    with open(os.path.join(src, "crlf.ndjson"), "wb") as fp:
        fp.write(b"\xef\xbb\xbf")
        for e in entries[4:40]:
            fp.write(json.dumps(e["resource"]).encode() + b"\r\n\n")


def materialize(deid, src, dest, policy, key, cache):
    env = dict(os.environ, DEIDFS_CACHE_DIR=cache)
    r = subprocess.run([deid, "materialize", src, dest, "-p", policy,
                        "--key-file", key, "-q"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.exit("materialize failed (%d): %s" % (r.returncode, r.stderr))
    out = {}
    for name in sorted(os.listdir(dest)):
        with open(os.path.join(dest, name), "rb") as fp:
            out[name] = hashlib.sha256(fp.read()).hexdigest()
    # the manifest path (what a mount serves) must give the same bytes
    # (view names may differ from source names: compare the sets)
    files = set()
    for name in sorted(os.listdir(src)):
        r = subprocess.run([deid, "file", os.path.join(src, name), "-", "-p", policy,
                            "--key-file", key, "--src", src], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode:
            sys.exit("%s: `deid file` exit %d: %s"
                     % (name, r.returncode, r.stderr.decode(errors="replace")))
        files.add(hashlib.sha256(r.stdout).hexdigest())
    if files != set(out.values()):
        sys.exit("`deid file` outputs differ from `deid materialize` outputs")
    return out


def main():
    deid, gen, expected = sys.argv[1], sys.argv[2], sys.argv[3]
    update = "--update" in sys.argv[4:]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        subprocess.run([sys.executable, gen, src, str(NDJSON_MB), str(NDJSON_SEED)],
                       check=True, stdout=subprocess.DEVNULL)
        bundle_files(src)
        key = os.path.join(tmp, "key")
        with open(key, "w") as fp:
            fp.write(base64.b64encode(b"bulk hashes test key, 32 bytes!!").decode() + "\n")
        os.chmod(key, 0o600)
        pol = json.loads(subprocess.check_output([deid, "policy", "default"]))
        on = os.path.join(tmp, "on.json")
        with open(on, "w") as fp:
            json.dump(pol, fp)
        pol["deidfs"]["inspectFreeText"] = False
        off = os.path.join(tmp, "off.json")
        with open(off, "w") as fp:
            json.dump(pol, fp)
        lines = []
        for tag, p in (("on", on), ("off", off)):
            h = materialize(deid, src, os.path.join(tmp, "out-" + tag), p, key,
                            os.path.join(tmp, "cache-" + tag))
            lines += ["%s %s %s" % (tag, v, k) for k, v in sorted(h.items())]
    got = "\n".join(lines) + "\n"
    if update:
        with open(expected, "w") as fp:
            fp.write(got)
        print("updated %s" % expected)
        return
    with open(expected) as fp:
        want = fp.read()
    if got != want:
        sys.stdout.write("expected:\n" + want + "got:\n" + got)
        sys.exit("bulk_hashes: outputs changed")
    print("bulk_hashes: %d outputs identical" % len(lines))


if __name__ == "__main__":
    main()
