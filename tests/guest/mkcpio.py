#!/usr/bin/env python3
"""Write a newc ("070701") cpio archive of a directory tree, for a Linux initramfs.

Standard library only; needs neither root nor the cpio tool. Every entry is owned
by 0:0 and gets the same mtime (SOURCE_DATE_EPOCH, default 0); entries are written
in sorted order with sequential inode numbers, so the same tree gives the same bytes.
Device nodes, which a non-root builder cannot create on disk, are added from
--node arguments.

  mkcpio.py [--gzip] [--node PATH:c|b:MAJOR:MINOR[:MODE]]... ROOTDIR OUTPUT

Example:
  mkcpio.py --gzip --node dev/console:c:5:1:600 --node dev/null:c:1:3:666 root out.cpio.gz
"""

import argparse
import gzip
import os
import stat
import sys

TRAILER = "TRAILER!!!"


class NewcWriter:
    def __init__(self, out, mtime):
        self.out = out
        self.mtime = mtime
        self.ino = 0
        self.pos = 0

    def _write(self, data):
        self.out.write(data)
        self.pos += len(data)

    def _pad4(self):
        if self.pos % 4:
            self._write(b"\0" * (4 - self.pos % 4))

    def entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        self.ino += 1
        name_b = name.encode() + b"\0"
        fields = [
            self.ino if name != TRAILER else 0,  # c_ino
            mode,                               # c_mode
            0, 0,                               # c_uid, c_gid
            nlink,                              # c_nlink
            self.mtime if name != TRAILER else 0,  # c_mtime
            len(data),                          # c_filesize
            0, 0,                               # c_devmajor, c_devminor (of the archive's fs)
            rdev[0], rdev[1],                   # c_rdevmajor, c_rdevminor
            len(name_b),                        # c_namesize
            0,                                  # c_check
        ]
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._write(header)
        self._write(name_b)
        self._pad4()
        if data:
            self._write(data)
            self._pad4()

    def trailer(self):
        self.entry(TRAILER, 0, nlink=1)
        # Pad the archive to a 512-byte boundary, as cpio(1) does.
        if self.pos % 512:
            self._write(b"\0" * (512 - self.pos % 512))


def walk(root):
    """Yield (archive name, path) for every entry under root, parents first, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        names = sorted(dirnames + filenames)
        # os.walk does not descend into symlinked dirs; those are listed in dirnames
        for n in names:
            full = os.path.join(dirpath, n)
            arc = n if rel == "." else os.path.join(rel, n)
            yield arc, full


def parse_node(spec):
    parts = spec.split(":")
    if len(parts) not in (4, 5) or parts[1] not in ("c", "b"):
        raise argparse.ArgumentTypeError("bad --node %r (want PATH:c|b:MAJOR:MINOR[:MODE])" % spec)
    path = parts[0].strip("/")
    kind = stat.S_IFCHR if parts[1] == "c" else stat.S_IFBLK
    perm = int(parts[4], 8) if len(parts) == 5 else 0o600
    return path, kind | perm, (int(parts[2]), int(parts[3]))


def main():
    ap = argparse.ArgumentParser(description="Write a newc cpio archive (owner 0:0) of a directory.")
    ap.add_argument("--gzip", action="store_true", help="gzip the archive (level 9, mtime 0)")
    ap.add_argument("--node", action="append", type=parse_node, default=[],
                    help="add a device node PATH:c|b:MAJOR:MINOR[:MODE] (mode in octal, default 600)")
    ap.add_argument("root")
    ap.add_argument("output", help="output file, or - for stdout")
    args = ap.parse_args()

    if not os.path.isdir(args.root):
        ap.error("not a directory: %s" % args.root)
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))

    if args.output == "-":
        raw = sys.stdout.buffer
    else:
        raw = open(args.output + ".tmp", "wb")
    out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) if args.gzip else raw

    w = NewcWriter(out, mtime)
    nodes = {p: (m, r) for p, m, r in args.node}
    for arc, full in walk(args.root):
        st = os.lstat(full)
        perm = stat.S_IMODE(st.st_mode)
        if arc in nodes:
            continue  # the --node wins over whatever is on disk
        if stat.S_ISDIR(st.st_mode):
            w.entry(arc, stat.S_IFDIR | perm, nlink=2)
        elif stat.S_ISLNK(st.st_mode):
            w.entry(arc, stat.S_IFLNK | 0o777, os.readlink(full).encode())
        elif stat.S_ISREG(st.st_mode):
            with open(full, "rb") as f:
                w.entry(arc, stat.S_IFREG | perm, f.read())
        else:
            sys.exit("mkcpio: unsupported file type: %s" % full)
    for path in sorted(nodes):
        parent = os.path.dirname(path)
        if parent and not os.path.isdir(os.path.join(args.root, parent)):
            sys.exit("mkcpio: --node %s: directory %s is not in the tree" % (path, parent))
        mode, rdev = nodes[path]
        w.entry(path, mode, rdev=rdev)
    w.trailer()

    if out is not raw:
        out.close()
    if args.output != "-":
        raw.close()
        os.replace(args.output + ".tmp", args.output)


if __name__ == "__main__":
    main()
