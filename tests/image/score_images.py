#!/usr/bin/python3
"""score_images.py: run image_tool over a generated set and score it.

    score_images.py IMAGE_TOOL J2K_ENC WORKDIR [--slow] [--mode M]
                    [--workers N] [--jobs J] [--no-gen] [--min-recall R]

Generates the set (gen_images.py) unless --no-gen, then for every case
runs `image_tool plan` and compares the decoded source frames with the
decoded output frames:

  * a planted sensitive word (kind S; every word under REDACT_ALL_TEXT)
    counts as redacted when >= 95% of its glyph box holds the fill value
    (the background) in every frame.  ("Changed" would not do: the glyph
    box of light text on black is mostly black already, and dark text on
    a light page is as dark as the fill);
  * under the sensitive modes, a harmless word (kind H) is kept when all
    of its ink pixels are unchanged;
  * every pixel outside the redaction boxes must be unchanged (exact).

Prints a table and the totals.  Exit 1 when recall < --min-recall
(default 0.99), harmless kept < 0.90 (sensitive modes), or any pixel
outside the boxes changed; 2 on a tool failure.  Also prints the
pre-pass false-positive rate on the no-text images (not asserted).
"""
import concurrent.futures as cf
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def arg(name, default=None):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def dtype_of(case, out_len):
    n = case["rows"] * case["cols"] * case["frames"]
    spp = 3 if case["photometric"] in ("RGB", "YBR_FULL") else 1
    bps = out_len // (n * spp)
    return (np.uint8 if bps == 1 else np.uint16), spp


def run_case(tool, case, mode, workers, work):
    base = os.path.join(work, os.path.basename(case["file"])[:-4])
    cmd = [tool, "plan", case["file"], "--mode", mode, "--workers", str(workers),
           "--orig", base + ".orig", "--red", base + ".red", "--boxes", base + ".boxes"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    line = p.stdout.strip().splitlines()[0] if p.stdout.strip() else "{}"
    res = json.loads(line)
    if p.returncode != 0 or "error" in res:
        return {"case": case, "error": p.stdout + p.stderr}
    orig = np.fromfile(base + ".orig", dtype=np.uint8)
    red = np.fromfile(base + ".red", dtype=np.uint8)
    dt, spp = dtype_of(case, len(orig) - (len(orig) % 2 if False else 0))
    n = case["rows"] * case["cols"] * case["frames"] * spp * np.dtype(dt).itemsize
    orig = orig[:n].view(dt).reshape(case["frames"], case["rows"], case["cols"], spp)
    red = red[:n].view(dt).reshape(case["frames"], case["rows"], case["cols"], spp)
    inbox = np.zeros((case["rows"], case["cols"]), dtype=bool)
    for x, y, w, h in res["boxes"]:
        inbox[y:y + h, x:x + w] = True
    changed = np.any(orig != red, axis=(0, 3))      # any frame, any sample
    outside_changed = int(np.count_nonzero(changed & ~inbox))
    fill = np.array(res["fill"][:spp], dtype=np.int64)
    is_fill = np.all(red.astype(np.int64) == fill.reshape(1, 1, 1, spp), axis=(0, 3))
    # YBR / signed: the fill is raw; compare raw bits
    words = []
    for t in case["tokens"]:
        ink = np.zeros(case["rows"] * case["cols"], dtype=bool)
        ink[np.array(t["ink"], dtype=np.int64)] = True
        ink = ink.reshape(case["rows"], case["cols"])
        x, y, w, h = t["box"]
        ink_changed = np.count_nonzero(changed & ink) / max(1, np.count_nonzero(ink))
        boxfill = np.count_nonzero(is_fill[y:y + h, x:x + w]) / max(1, w * h)
        ink_kept = np.count_nonzero(changed & ink) == 0
        words.append({"text": t["text"], "kind": t["kind"], "size": t["size"],
                      "redacted": boxfill >= 0.95,
                      "ink_changed": ink_changed, "boxfill": boxfill, "box": t["box"],
                      "kept": ink_kept})
    if os.environ.get("SCORE_DEBUG"):
        for w in words:
            if not w["redacted"] and (w["kind"] == "S" or mode == "all"):
                print("  missed %s %s size %d box %s ink %.2f fill %.2f" % (
                    os.path.basename(case["file"]), w["kind"], w["size"], w["box"],
                    w["ink_changed"], w["boxfill"]), file=sys.stderr)
    return {"case": case, "res": res, "words": words, "outside": outside_changed,
            "boxes_file": base + ".boxes", "red_file": base + ".red"}


def main():
    tool, j2k, work = sys.argv[1], sys.argv[2], sys.argv[3]
    slow = "--slow" in sys.argv
    mode = arg("--mode", "sensitive")
    workers = int(arg("--workers", "1"))
    jobs = int(arg("--jobs", "2"))
    min_recall = float(arg("--min-recall", "0.99"))
    setdir = os.path.join(work, "set")
    if "--no-gen" not in sys.argv:
        subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_images.py"),
                               setdir, j2k] + (["--slow"] if slow else []))
    truth = json.load(open(os.path.join(setdir, "truth.json")))
    outdir = os.path.join(work, "out-" + mode)
    os.makedirs(outdir, exist_ok=True)
    with cf.ThreadPoolExecutor(jobs) as ex:
        results = list(ex.map(lambda c: run_case(tool, c, mode, workers, outdir),
                              truth["cases"]))
    sens = mode in ("sensitive", "clean")
    tot_s = red_s = tot_h = kept_h = outside = tot_all = red_all = 0
    failed = False
    print("%-28s %6s %5s %5s %6s %6s %8s %s" % ("case", "ms", "ocr", "boxes", "recall",
                                               "kept", "outside", "missed"))
    for r in results:
        name = os.path.basename(r["case"]["file"])
        if "error" in r:
            print("%-28s ERROR %s" % (name, r["error"].strip()[:200]))
            failed = True
            continue
        target = [w for w in r["words"] if w["kind"] == "S"]
        every = [w for w in r["words"] if w["kind"] != "S"] if not sens else []
        tot_all += len(every)
        red_all += sum(w["redacted"] for w in every)
        harmless = [w for w in r["words"] if w["kind"] == "H"] if sens else []
        rs = sum(w["redacted"] for w in target)
        kh = sum(w["kept"] for w in harmless)
        tot_s += len(target)
        red_s += rs
        tot_h += len(harmless)
        kept_h += kh
        outside += r["outside"]
        # missed words: size only (the text is PHI-like test data, but
        # printing it helps nobody more than the size does)
        missed = ["%s@%d" % (w["kind"], w["size"]) for w in target + every
                  if not w["redacted"]]
        print("%-28s %6.0f %5d %5d %3d/%-3d %2d/%-3d %8d %s" % (
            name, r["res"]["ms"], r["res"]["ocr_calls"], len(r["res"]["boxes"]),
            rs, len(target), kh, len(harmless), r["outside"], " ".join(missed)))
    recall = red_s / tot_s if tot_s else 1.0
    kept = kept_h / tot_h if tot_h else 1.0
    print("mode %s workers %d: recall %d/%d = %.3f; harmless kept %d/%d = %.3f; "
          "pixels changed outside boxes: %d" % (mode, workers, red_s, tot_s, recall,
                                                 kept_h, tot_h, kept, outside))
    if not sens:
        print("REDACT_ALL_TEXT, the other words (labels, harmless; single "
              "letters included): %d/%d redacted" % (red_all, tot_all))
    # pre-pass false positives on images without text
    fp = 0
    for f in truth["notext"]:
        p = subprocess.run([tool, "prepass", f], capture_output=True, text=True)
        r = json.loads(p.stdout)
        fp += 1 if r["regions"] else 0
    print("pre-pass: %d/%d generated CT/MR images without text flagged" %
          (fp, len(truth["notext"])))
    if failed:
        return 2
    if recall < min_recall or (sens and kept < 0.90) or outside:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
