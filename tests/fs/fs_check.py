#!/usr/bin/env python3
"""fs_check.py: checks of the real-mount tests that are easier in Python.

    fs_check.py times SRC MNT        no view timestamp equals a source one
    fs_check.py attrs MNT UID GID UMASK
                                     owner and modes of every entry
    fs_check.py erofs MNT            every write path fails with EROFS
    fs_check.py sizes MNT            st_size == bytes read, for every file
    fs_check.py readers MNT N [SECONDS]
                                     N threads read random ranges of every
                                     file; all equal one sequential read
    fs_check.py first_opens MNT N REF
                                     N threads open and read every file of
                                     a fresh mount at once (each in its own
                                     order); all get the bytes listed in
                                     REF ("sha256 size path" lines)
    fs_check.py digests MNT          prints REF for first_opens
    fs_check.py pydicom MNT          pydicom reads every DICOM file
    fs_check.py counters MNT         the counters xattr: JSON, not listed

Exit 0 on success, 1 with a message on failure.
"""
import errno
import json
import os
import random
import stat
import sys
import threading
import time


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def walk(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            yield os.path.join(dirpath, n)


def files(root):
    return sorted(p for p in walk(root) if stat.S_ISREG(os.lstat(p).st_mode))


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def run_threads(fn, n, errors):
    """fn(i) in n threads at once; the first error collected fails."""
    th = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if errors:
        fail(errors[0])


def cmd_times(src, mnt):
    src_times = set()
    for p in list(walk(src)) + [src]:
        st = os.lstat(p)
        src_times.update((int(st.st_mtime), int(st.st_atime),
                          int(st.st_ctime)))
    n = 0
    for p in list(walk(mnt)) + [mnt]:
        st = os.lstat(p)
        for t in (st.st_mtime, st.st_atime, st.st_ctime):
            if int(t) in src_times:
                fail("%s: timestamp %d equals a source timestamp" % (p, t))
            y = time.gmtime(t).tm_year
            if y != 2000:
                fail("%s: timestamp %d is not in the view's year" % (p, t))
        if not (st.st_mtime == st.st_atime == st.st_ctime):
            fail("%s: atime/mtime/ctime differ" % p)
        n += 1
    print("# %d view entries: no source timestamp" % n)


def cmd_attrs(mnt, uid, gid, umask):
    uid, gid, umask = int(uid), int(gid), int(umask, 8)
    for p in list(walk(mnt)) + [mnt]:
        st = os.lstat(p)
        if st.st_uid != uid or st.st_gid != gid:
            fail("%s: owner %d:%d, expected %d:%d" % (p, st.st_uid,
                                                     st.st_gid, uid, gid))
        if stat.S_ISDIR(st.st_mode):
            want = 0o555 & ~umask
        elif stat.S_ISREG(st.st_mode):
            want = 0o444 & ~umask
        else:
            fail("%s: neither a file nor a directory (%o)" % (p, st.st_mode))
        if stat.S_IMODE(st.st_mode) != want:
            fail("%s: mode %o, expected %o" % (p, stat.S_IMODE(st.st_mode),
                                              want))


def expect_erofs(what, fn, *args):
    try:
        fn(*args)
    except OSError as e:
        if e.errno != errno.EROFS:
            fail("%s: errno %s, expected EROFS" % (what,
                                                   errno.errorcode.get(e.errno)))
        return
    fail("%s: succeeded on a read-only view" % what)


def cmd_erofs(mnt):
    fs = files(mnt)
    if not fs:
        fail("no file in the view")
    f = fs[0]
    d = os.path.dirname(f)
    expect_erofs("open O_WRONLY", os.open, f, os.O_WRONLY)
    expect_erofs("open O_RDWR", os.open, f, os.O_RDWR)
    expect_erofs("open O_TRUNC", os.open, f, os.O_WRONLY | os.O_TRUNC)
    expect_erofs("create", os.open, os.path.join(d, "new_file"),
                 os.O_WRONLY | os.O_CREAT, 0o644)
    expect_erofs("mkdir", os.mkdir, os.path.join(mnt, "new_dir"))
    expect_erofs("unlink", os.unlink, f)
    expect_erofs("rename", os.rename, f, f + ".x")
    expect_erofs("chmod", os.chmod, f, 0o644)
    expect_erofs("utime", os.utime, f, (0, 0))
    expect_erofs("symlink", os.symlink, "x", os.path.join(mnt, "lnk"))
    expect_erofs("link", os.link, f, os.path.join(mnt, "hardlink"))
    expect_erofs("setxattr", os.setxattr, f, "user.x", b"1")
    expect_erofs("truncate", os.truncate, f, 0)
    print("# every write path fails with EROFS")


def cmd_sizes(mnt):
    n = 0
    for f in files(mnt):
        size = os.stat(f).st_size
        data = read_all(f)
        if len(data) != size:
            fail("%s: st_size %d, read %d bytes" % (f, size, len(data)))
        n += 1
    print("# %d files: st_size equals the bytes read" % n)


def cmd_readers(mnt, nthreads, seconds="3"):
    nthreads, seconds = int(nthreads), float(seconds)
    fs = files(mnt)
    if not fs:
        fail("no file in the view")
    want = {f: read_all(f) for f in fs}
    errors = []
    counts = [0] * nthreads

    def reader(i):
        try:
            read_loop(i)
        except Exception as e:  # a thread's exception must fail the run
            errors.append("reader %d: %s" % (i, e))

    def read_loop(i):
        rng = random.Random(i)
        fds = {f: os.open(f, os.O_RDONLY) for f in fs}
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end and not errors:
                f = rng.choice(fs)
                data = want[f]
                off = rng.randrange(0, len(data) + 1)
                n = rng.choice([1, 7, 512, 4096, 65536, 200000])
                got = os.pread(fds[f], n, off)
                if got != data[off:off + n]:
                    errors.append("%s: %d bytes at %d differ" % (f, n, off))
                counts[i] += 1
        finally:
            for fd in fds.values():
                os.close(fd)

    run_threads(reader, nthreads, errors)
    print("# %d readers, %d random reads over %d files: same bytes as a "
          "sequential read" % (nthreads, sum(counts), len(fs)))


def cmd_digests(mnt):
    import hashlib
    for f in files(mnt):
        data = read_all(f)
        print(hashlib.sha256(data).hexdigest(), len(data),
              os.path.relpath(f, mnt))


def cmd_first_opens(mnt, nthreads, ref):
    """The first opens of a fresh mount, at once: a file's first open stores
    it in the kernel's page cache (prefill) while other threads open it
    too; they must wait for the store and get the same bytes, and nothing
    may hang (the caller runs this under a timeout)."""
    import hashlib
    nthreads = int(nthreads)
    want = {}
    with open(ref) as f:
        for line in f:
            digest, size, path = line.rstrip("\n").split(" ", 2)
            want[os.path.join(mnt, path)] = (digest, int(size))
    if not want:
        fail("no file in " + ref)
    errors = []
    start = threading.Barrier(nthreads)

    def reader(i):
        order = sorted(want)
        random.Random(i).shuffle(order)
        start.wait()
        try:
            for f in order:
                data = read_all(f)
                if (hashlib.sha256(data).hexdigest(), len(data)) != want[f]:
                    errors.append("reader %d: %s differs" % (i, f))
        except Exception as e:  # a thread's exception must fail the run
            errors.append("reader %d: %s" % (i, e))

    run_threads(reader, nthreads, errors)
    print("# %d readers opened %d files at once on a fresh mount: the "
          "bytes of a mount without prefill" % (nthreads, len(want)))


def is_dicom(path):
    with open(path, "rb") as f:
        head = f.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def cmd_pydicom(mnt):
    import pydicom
    n = 0
    for f in files(mnt):
        if not is_dicom(f):
            continue
        ds = pydicom.dcmread(f)
        if "SOPInstanceUID" not in ds:
            fail("%s: no SOPInstanceUID" % f)
        if "PixelData" in ds:
            ds.PixelData  # the whole value must be there
        n += 1
    if n == 0:
        fail("no DICOM file in the view")
    print("# pydicom read %d DICOM files through the mount" % n)


def cmd_counters(mnt):
    name = "user.deidfs.counters"
    if name in os.listxattr(mnt):
        fail("listxattr lists the counters")
    c = json.loads(os.getxattr(mnt, name))
    for k in ("served_files", "hidden", "cache_hits", "cache_misses",
              "errors", "name_collisions"):
        if k not in c:
            fail("counters: no %s" % k)
    try:
        os.getxattr(mnt, "user.other")
        fail("getxattr of another name succeeded")
    except OSError as e:
        if e.errno != errno.ENODATA:
            fail("getxattr of another name: %s" % e)
    print("# counters: %d served, %d hidden, %d hits, %d misses" % (
        c["served_files"], c["hidden_files"], c["cache_hits"],
        c["cache_misses"]))


def main():
    cmds = {"times": cmd_times, "attrs": cmd_attrs, "erofs": cmd_erofs,
            "digests": cmd_digests, "first_opens": cmd_first_opens,
            "sizes": cmd_sizes, "readers": cmd_readers,
            "pydicom": cmd_pydicom, "counters": cmd_counters}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        fail(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
