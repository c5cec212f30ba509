#!/usr/bin/env python3
"""Independent check of de-identified FHIR output (Python stdlib only).

usage: check_corpus.py SRC_DIR OUT_DIR [--names MAPFILE] [--max-hidden N]

SRC_DIR holds FHIR JSON resources (one per file); OUT_DIR holds the
engine's output for each, under the same name (or, with --names, under the
name given by MAPFILE lines "SRC_NAME<TAB>OUT_NAME").  Nothing here uses the
engine's code or its notion of types: PHI values are collected by the shape
of the JSON (HumanName-like objects under "name", telecom, address,
identifier, birthDate), and references are resolved by FHIR's rules.

Checks:
 1. every output is valid JSON (strict: no NaN, no duplicate keys) with the
    source's resourceType;
 2. no value of a person's name (family, given, text), telecom value,
    address line / city / postal code, identifier value or full birth date
    (YYYY-MM-DD) of ANY source file appears in any output file, nor in any
    output file name (values shorter than 4 characters are not searched;
    given names of 3 characters are);
 3. every reference that resolved in the source (to a file of the corpus,
    to a contained resource, or to a Bundle entry) and is still present at
    the same place in the output resolves in the output.
Prints counts; exit 1 on any failure.
"""
import json
import os
import re
import sys


def strict_load(path):
    def no_dups(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)

    def bad_const(c):
        raise ValueError("invalid constant " + c)

    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # strict UTF-8
    return json.loads(text, object_pairs_hook=no_dups,
                      parse_constant=bad_const), text


def walk(o, fn, path=()):
    fn(o, path)
    if isinstance(o, dict):
        for k, v in o.items():
            walk(v, fn, path + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            walk(v, fn, path + (i,))


PEOPLE = ("Patient", "Practitioner", "RelatedPerson", "Person")
# coded values are kept by design ("codes, systems, units survive")
CODED = ("code", "system", "unit", "version")


def collect_phi(doc, out):
    """Identifying values of the people (Patient, Practitioner,
    RelatedPerson, Person resources, wherever they are: top level, Bundle
    entries, contained) by shape alone."""
    def add(kind, v):
        if isinstance(v, str):
            v = v.strip()
            if len(v) >= 4 or (kind == "given" and len(v) >= 3):
                out.add((kind, v))

    def name(o):
        if not isinstance(o, dict):
            return
        add("family", o.get("family"))
        g = o.get("given")
        for x in g if isinstance(g, list) else []:
            add("given", x)
        add("name", o.get("text"))

    def person(r):
        for n in r.get("name", []) if isinstance(r.get("name"), list) else []:
            name(n)
        for t in r.get("telecom", []) if isinstance(r.get("telecom"), list) else []:
            if isinstance(t, dict):
                add("telecom", t.get("value"))
        addrs = r.get("address", [])
        for a in addrs if isinstance(addrs, list) else []:
            if isinstance(a, dict):
                for ln in a.get("line", []) if isinstance(a.get("line"), list) else []:
                    add("line", ln)
                add("city", a.get("city"))
                add("postal", a.get("postalCode"))
        for i in r.get("identifier", []) if isinstance(r.get("identifier"), list) else []:
            if isinstance(i, dict):
                add("identifier", i.get("value"))
        bd = r.get("birthDate")
        if isinstance(bd, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", bd):
            add("birthDate", bd)
        for c in r.get("contact", []) if isinstance(r.get("contact"), list) else []:
            if isinstance(c, dict):
                name(c.get("name"))
                person({k: c[k] for k in ("telecom",) if k in c})
                if isinstance(c.get("address"), dict):
                    person({"address": [c["address"]]})

    def fn(o, path):
        if isinstance(o, dict) and o.get("resourceType") in PEOPLE:
            person(o)
    walk(doc, fn)


def found(v, blob):
    """v as a whole token of blob (not inside a longer word or number)."""
    for m in re.finditer(re.escape(v), blob):
        a, b = m.start(), m.end()
        if (a == 0 or not blob[a - 1].isalnum()) and \
                (b == len(blob) or not blob[b].isalnum()):
            return True
    return False


REL = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/.*)?$")


def resolves(ref, doc, corpus_ids, bundle_urls, bundle_ids, contained):
    if ref.startswith("#"):
        return ref[1:] in contained or ref == "#"
    if ref in bundle_urls:
        return True
    m = REL.match(ref)
    if m:
        t, i = m.group(1), m.group(2)
        if (t, i) in bundle_ids or (t, i) in corpus_ids:
            return True
        return any(u.endswith("/%s/%s" % (t, i)) for u in bundle_urls)
    m = re.match(r"^https?://.*/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/.*)?$", ref)
    if m and (m.group(1), m.group(2)) in corpus_ids:
        return False  # absolute URLs resolve only inside their Bundle
    return False


def bundle_targets(doc):
    urls, ids, cont = set(), set(), set()

    def fn(o, path):
        if isinstance(o, dict):
            if isinstance(o.get("fullUrl"), str):
                urls.add(o["fullUrl"])
            r = o.get("resource")
            if isinstance(r, dict) and "id" in r and "resourceType" in r:
                ids.add((r["resourceType"], r["id"]))
            if path and path[-2:-1] == ("contained",) or (len(path) >= 2 and path[-2] == "contained"):
                if "id" in o:
                    cont.add(o["id"])
    walk(doc, fn)
    return urls, ids, cont


def refs_at(doc):
    found = {}

    def fn(o, path):
        if isinstance(o, dict) and isinstance(o.get("reference"), str):
            found[path] = o["reference"]
    walk(doc, fn)
    return found


def get_path(doc, path):
    o = doc
    for p in path:
        if isinstance(p, int):
            if not isinstance(o, list) or p >= len(o):
                return None
        elif not isinstance(o, dict) or p not in o:
            return None
        o = o[p]
    return o


def main():
    args = sys.argv[1:]
    names = None
    max_hidden = 0
    if "--names" in args:
        i = args.index("--names")
        names = {}
        with open(args[i + 1]) as f:
            for line in f:
                a, b = line.rstrip("\n").split("\t")
                names[a] = b
        del args[i:i + 2]
    words = set()
    if "--words" in args:
        i = args.index("--words")
        with open(args[i + 1], encoding="utf-8") as f:
            words = {w.strip().lower() for w in f if w.strip()}
        del args[i:i + 2]
    if "--max-hidden" in args:
        i = args.index("--max-hidden")
        max_hidden = int(args[i + 1])
        del args[i:i + 2]
    known = set()
    if "--known" in args:
        i = args.index("--known")
        with open(args[i + 1], encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    a, b, _why = line.rstrip("\n").split("\t")
                    known.add((a, b))
        del args[i:i + 2]
    src, out = args
    files = sorted(f for f in os.listdir(src) if f.endswith(".json"))
    srcdocs, outdocs, outtext = {}, {}, {}
    fails = []
    hidden = []
    for f in files:
        srcdocs[f], _ = strict_load(os.path.join(src, f))
        on = names.get(f) if names is not None else f
        op = os.path.join(out, on) if on else None
        if not op or not os.path.exists(op):
            hidden.append(f)
            continue
        try:
            outdocs[f], outtext[f] = strict_load(op)
        except Exception as e:  # noqa: BLE001
            fails.append("%s: output is not valid JSON: %s" % (f, e))
            continue
        if outdocs[f].get("resourceType") != srcdocs[f].get("resourceType"):
            fails.append("%s: resourceType %r != %r" % (
                f, outdocs[f].get("resourceType"), srcdocs[f].get("resourceType")))
    # 2. PHI values; names that are ordinary English words ("Family",
    # "Primary", "Valve") are counted but not searched: the output keeps
    # ordinary words.  --words FILE gives the word list (one per line).
    phi = set()
    for d in srcdocs.values():
        collect_phi(d, phi)
    skipped = set()
    if words:
        for kind, v in list(phi):
            if kind in ("given", "family") and v.lower() in words:
                phi.discard((kind, v))
                skipped.add(v)
    leaks = 0
    n_known = 0
    outnames = {f: (names.get(f) if names is not None else f) for f in outdocs}
    for f, text in outtext.items():
        # search the decoded string values, and the raw text
        strings = []
        walk(outdocs[f], lambda o, p: strings.append(o)
             if isinstance(o, str) and not (p and p[-1] in CODED) else None)
        blob = "\n".join(strings)
        for kind, v in phi:
            if found(v, blob):
                if (f, v) in known:
                    n_known += 1
                    continue
                leaks += 1
                fails.append("%s: %s value %r appears in the output" % (f, kind, v))
        if names is not None:
            for kind, v in phi:
                if found(v, outnames[f]):
                    fails.append("%s: %s value %r appears in its file name" % (f, kind, v))
    # 3. references
    src_ids = {(d.get("resourceType"), d.get("id")) for d in srcdocs.values()}
    out_ids = {(d.get("resourceType"), d.get("id")) for d in outdocs.values()}
    n_resolved = n_kept = n_removed = 0
    for f, sd in srcdocs.items():
        if f not in outdocs:
            continue
        od = outdocs[f]
        su, si, sc = bundle_targets(sd)
        ou, oi, oc = bundle_targets(od)
        for path, ref in refs_at(sd).items():
            if not resolves(ref, sd, src_ids, su, si, sc):
                continue
            n_resolved += 1
            o = get_path(od, path)
            if not isinstance(o, dict) or not isinstance(o.get("reference"), str):
                n_removed += 1
                continue
            n_kept += 1
            if not resolves(o["reference"], od, out_ids, ou, oi, oc):
                fails.append("%s: reference at %s (%s) no longer resolves: %s" % (
                    f, "/".join(map(str, path)), ref, o["reference"]))
    print("files: %d, served: %d, hidden: %d" % (len(files), len(outdocs), len(hidden)))
    print("PHI values searched: %d, found in output: %d (explained in the known list: %d;"
          " ordinary-word names not searched: %d)" % (len(phi), leaks, n_known, len(skipped)))
    print("references resolving in the source: %d, kept: %d, removed with their element: %d"
          % (n_resolved, n_kept, n_removed))
    if len(hidden) > max_hidden:
        fails.append("%d files hidden (at most %d expected): %s" % (
            len(hidden), max_hidden, ", ".join(hidden[:10])))
    for x in fails[:60]:
        print("FAIL", x)
    if len(fails) > 60:
        print("FAIL ... and %d more" % (len(fails) - 60))
    print("failures: %d" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
