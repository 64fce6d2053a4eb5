"""The large corpus for benchmarks/scale.py: Debian's documentation packages as text files.

Real text that nobody on this project wrote, installed from a package: the Linux kernel's
documentation (`linux-doc-6.1`, 2,711 Sphinx pages with article text) and the Java SE 17
API documentation (`openjdk-17-doc`, 4,960 Javadoc pages). Together about 9.4 million
words, which our chunker (170 cl100k tokens, 40 overlap) cuts into about 117,000 chunks:
55k from the kernel, 62k from Java. (python3.11-doc, the other obvious candidate, gives
only 15k.)

Each page's article body (the element with role="main"; navigation menus, sidebars and
"¶" permalinks left out) is converted to a plain .txt file with a .meta.json sidecar
(title, publisher), in a fixed order.

Why pre-convert rather than let `qa ingest` read the HTML (it can): speed. On the 38 pages
of the 1,000-chunk tier, ingest took 26 s to load and clean the HTML and 14 s to chunk it,
against 4.5 s and 7 s for the converted text (the conversion itself: 2 s, once). Its HTML
reader collapses <pre> code blocks into one line, which the chunker then has to cut word
by word; the converter keeps their lines. Both give about the same chunks (1,018 vs 1,008):
the manuals' menus sit in <nav>, which ingest drops too.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

# Bump when the conversion changes: converted files are rewritten.
CONVERTER_VERSION = 1


@dataclass(frozen=True)
class Source:
    name: str          # folder name inside the corpus
    package: str       # Debian package that installs it
    root: str          # where the package puts its HTML
    publisher: str
    title_suffix: str  # removed from <title>
    exclude: str       # regular expression: paths (relative to root) left out


SOURCES = (
    Source("linux", "linux-doc-6.1", "/usr/share/doc/linux-doc-6.1/html",
           "The Linux Kernel documentation (6.1)", "— The Linux Kernel documentation",
           # translations/ is not English; the rest is generated navigation.
           r"^(_sources|_static|_downloads|_images|translations)/|^(genindex|search)\.html$"),
    Source("java", "openjdk-17-doc", "/usr/share/doc/openjdk-17-jre-headless/api",
           "Java SE 17 API documentation", "(Java SE 17 & JDK 17)",
           # Generated lists and indexes that only repeat what the class pages say.
           r"(^|/)(class-use|index-files|src-html|legal)/|(^|/)(package-tree|package-use|overview-tree|"
           r"allclasses-index|allpackages-index|constant-values|serialized-form|deprecated-list|help-doc|"
           r"index|search|new-list|system-properties|external-specs)\.html$"),
)

_BLOCKS = frozenset({
    "p", "div", "section", "article", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
    "h5", "h6", "table", "tr", "blockquote", "pre", "figure", "figcaption", "caption", "hr",
    "details", "summary", "aside", "header",
})
_DROPPED = frozenset({"script", "style", "nav", "footer", "form", "button", "svg", "template", "noscript"})
_VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _Converter(HTMLParser):
    """Text of the element with role="main": blocks become paragraphs, <pre> keeps its lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.in_title = False
        self.main_tag: str | None = None   # tag of the role="main" element, once inside it
        self.main_depth = 0                # nesting of main_tag inside itself
        self.done = False
        self.drop_tag: str | None = None
        self.drop_depth = 0
        self.pre = 0
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = dict(attrs)
        if tag == "title":
            self.in_title = True
        if self.done:
            return
        if self.main_tag is None:
            if attributes.get("role") == "main":
                self.main_tag, self.main_depth = tag, 1
            return
        if tag == self.main_tag and tag not in _VOID:
            self.main_depth += 1
        if self.drop_tag is not None:
            if tag == self.drop_tag and tag not in _VOID:
                self.drop_depth += 1
            return
        classes = (attributes.get("class") or "").split()
        if (tag in _DROPPED or attributes.get("role") == "navigation" or "headerlink" in classes
                or "sphinxsidebar" in classes):
            if tag not in _VOID:
                self.drop_tag, self.drop_depth = tag, 1
            return
        if tag == "pre":
            self.pre += 1
            self.out.append("\n\n")
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n\n")
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if self.done or self.main_tag is None:
            return
        if self.drop_tag is not None:
            if tag == self.drop_tag:
                self.drop_depth -= 1
                if self.drop_depth == 0:
                    self.drop_tag = None
            if tag == self.main_tag:
                self.main_depth -= 1
            return
        if tag == self.main_tag:
            self.main_depth -= 1
            if self.main_depth == 0:
                self.done = True
                return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.out.append("\n\n")
        elif tag in _BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        if self.main_tag is None or self.done or self.drop_tag is not None:
            return
        if self.pre:
            self.out.append(data)
        else:
            self.out.append(_SPACES.sub(" ", data.replace("\n", " ")))

    def text(self) -> str:
        joined = "".join(self.out)
        paragraphs = []
        for block in re.split(r"\n\s*\n", joined):
            lines = [line.rstrip() for line in block.split("\n")]
            # Outside <pre> every line was joined; inside, keep the lines but not blank runs.
            kept = "\n".join(line if line.strip() else "" for line in lines).strip("\n")
            if kept.strip():
                paragraphs.append(kept if "\n" in kept else kept.strip())
        return "\n\n".join(paragraphs) + "\n"


def convert_page(html: str, title_suffix: str = "") -> tuple[str, str]:
    """(title, article text) of one Sphinx HTML page; text is empty when it has no main part."""
    parser = _Converter()
    parser.feed(html)
    parser.close()
    title = " ".join(unescape("".join(parser.title_parts)).split())
    if title_suffix:
        suffix = " ".join(title_suffix.split())
        if title.endswith(suffix):
            title = title[: -len(suffix)].rstrip()
    title = re.sub(r"^(\d+\.)+\s*", "", title)  # "1.2. Device Initialization" -> "Device Initialization"
    return title, parser.text() if parser.main_tag else ""


def source_pages(source: Source) -> list[Path]:
    root = Path(source.root)
    if not root.is_dir():
        return []
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root).as_posix()
        if not re.search(source.exclude, rel):
            pages.append(path)
    return pages


def _write_if_changed(path: Path, text: str) -> bool:
    """Leave an unchanged file alone, so its mtime (and the indexes built on it) stay current."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def convert_source(source: Source, out_dir: Path, min_words: int = 30) -> list[str]:
    """Convert every page of one package into out_dir/<source.name>/...txt (plus sidecars).
    Returns the relative paths (to out_dir) of the text files, sorted. Pages with fewer than
    `min_words` words of article text (tables of contents, empty stubs) are left out."""
    root = Path(source.root)
    written = []
    for page in source_pages(source):
        rel = page.relative_to(root).with_suffix(".txt")
        title, text = convert_page(page.read_text(encoding="utf-8", errors="replace"), source.title_suffix)
        if len(text.split()) < min_words:
            continue
        target = out_dir / source.name / rel
        _write_if_changed(target, text)
        meta = {"title": title or rel.stem, "publisher": source.publisher}
        _write_if_changed(target.with_name(target.name + ".meta.json"), json.dumps(meta, ensure_ascii=False) + "\n")
        written.append((Path(source.name) / rel).as_posix())
    return written


def stable_order(paths: list[str], first: list[str] = ()) -> list[str]:
    """`first` (the documents the benchmark questions come from, in the order given), then
    every other path in an order fixed by a hash of its name: each size tier is then a
    spread over both manuals rather than the alphabetically first folders of one."""
    present = set(paths)
    head = [p for p in dict.fromkeys(first) if p in present]
    rest = sorted((p for p in paths if p not in set(head)), key=lambda p: hashlib.sha1(p.encode()).hexdigest())
    return head + rest


__all__ = ["SOURCES", "Source", "convert_page", "convert_source", "source_pages", "stable_order",
           "CONVERTER_VERSION"]
