#!/usr/bin/env python3
"""fs_tree_state.py DIR: one line per entry of DIR: path, mode, size,
mtime, atime, ctime (ns), inode and, for regular files, sha256 of the
content.  Files and directories are read with O_NOATIME, so taking the
state does not change the atimes it reports (run it as the owner of the
tree or as root)."""
import hashlib
import os
import stat
import sys

NOATIME = getattr(os, "O_NOATIME", 0)


def digest(dirfd, name):
    h = hashlib.sha256()
    fd = os.open(name, os.O_RDONLY | NOATIME | os.O_NOFOLLOW, dir_fd=dirfd)
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def line(rel, st):
    return "%s %o %d %d %d %d %d" % (rel, st.st_mode, st.st_size,
                                      st.st_mtime_ns, st.st_atime_ns,
                                      st.st_ctime_ns, st.st_ino)


def walk(dirfd, rel, out):
    names = sorted(e.name for e in os.scandir(dirfd))
    for name in names:
        st = os.lstat(name, dir_fd=dirfd)
        path = os.path.join(rel, name)
        text = line(path, st)
        if stat.S_ISREG(st.st_mode):
            text += " " + digest(dirfd, name)
        out.append(text)
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | NOATIME |
                         os.O_NOFOLLOW, dir_fd=dirfd)
            try:
                walk(fd, path, out)
            finally:
                os.close(fd)


def main():
    root = sys.argv[1]
    out = [line(".", os.lstat(root))]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | NOATIME)
    try:
        walk(fd, ".", out)
    finally:
        os.close(fd)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
