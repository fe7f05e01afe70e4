"""Shared helpers of the deliverables tests (report, action list, workshop kit, browser).

``canonical_run`` makes the canonical run of a case (default parameters and data) once per test
session - once in all, under pytest-xdist, guarded by a file lock - since a run takes a while and
the tests only read it. ``assert_well_formed`` checks HTML nesting with the standard parser.
"""

from __future__ import annotations

import fcntl
import html as htmlmod
import os
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from crmlab import runner

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
VOID |= {"track", "wbr"}


def _shared_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def canonical_run(tmp_path_factory, case: str = "retail_satisfaction") -> Path:
    """The run directory of the canonical run of ``case`` (made on first use)."""
    root = _shared_root(tmp_path_factory)
    marker = root / f"canonical-{case}.path"
    with open(root / f"canonical-{case}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return Path(marker.read_text())
        [res] = runner.run_cases([case], {}, out_root=root / f"canonical-{case}", progress=False)
        assert res.ok, res.error
        marker.write_text(str(res.run_dir))
        return res.run_dir


class _Nesting(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple[int, int]]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack:
            self.problems.append(f"</{tag}> at {self.getpos()} closes nothing")
        elif self.stack[-1][0] != tag:
            open_tag, pos = self.stack[-1]
            self.problems.append(f"</{tag}> at {self.getpos()} while <{open_tag}> ({pos}) is open")
        else:
            self.stack.pop()


def assert_well_formed(html: str) -> None:
    """Every non-void element is closed, in order, and the page is one <html> element."""
    parser = _Nesting()
    parser.feed(html)
    parser.close()
    problems = parser.problems + [f"<{t}> at {p} never closed" for t, p in parser.stack]
    assert not problems, "\n".join(problems[:10])
    assert html.lstrip().lower().startswith("<!doctype html>")


CODE_IN_PROSE = ["For analysts", "crmlab.", "engine=", "NormalIndPower", "OrderedModel", "method="]
"""Library code a client should not meet in the narrative (the methods appendix may name the
statistical routines)."""


def code_in_prose(run, report_html: str) -> dict[str, list[str]]:
    """Which of :data:`CODE_IN_PROSE` occur in what the client reads: the report's summary and
    stage sections, and the run's stage pages (html/). ``{page: [found]}``, empty if none."""
    pages = {s: section(report_html, s) for s in ["summary", *(f"stage-{st}" for st in run.stages)]}
    pages |= {p.name: p.read_text(encoding="utf-8") for p in (run.path / "html").glob("*.html")}
    found = {}
    for name, page in pages.items():
        page = re.sub(r"(?s)<(style|script)\b.*?</\1>", "", page)
        text = htmlmod.unescape(re.sub(r"<[^>]+>", " ", page))
        hits = [c for c in CODE_IN_PROSE if c in text]
        if hits:
            found[name] = hits
    return found


def section(html: str, section_id: str) -> str:
    """The text of the ``<section>`` with ``id`` up to its closing tag (sections do not nest)."""
    start = re.search(rf'<section[^>]*\bid="{re.escape(section_id)}"', html).start()
    return html[start : html.index("</section>", start)]


LATIN_OK = {"CSAT", "NPS", "RFM", "LMG", "CRM", "AUC", "SHA", "UTC", "CNY", "crmlab", "rho"}
"""Latin words a Chinese table or title may keep: abbreviations of the method."""


def reader_cells(page: str) -> list[str]:
    """Every table cell and heading a reader of a report sees (th, td, h2, h3, figure
    captions), without code: the parameters table, the provenance and file tables, and the
    recorded figures' results.json names."""
    page = re.sub(r'(?s)<table class="(params|files)">.*?</table>', "", page)
    page = re.sub(r"(?s)<(style|code)\b.*?</\1>", "", page)
    found = re.findall(r"(?s)<(t[hd]|h[23]|figcaption)\b[^>]*>(.*?)</\1>", page)
    return [htmlmod.unescape(re.sub(r"<[^>]+>", "", text)).strip() for _, text in found]


def english_left(cells: list[str], names: Iterable[str] = ()) -> list[str]:
    """The cells holding a Latin word other than :data:`LATIN_OK` (pseudonyms such as
    ``P-5bddb951e55c`` and store ids such as ``S02`` are not words; ``names``, the client's own
    proper names such as store names "Central Plaza", are shown as the client writes them)."""
    left = []
    for text in cells:
        plain = re.sub(r"\bP-[0-9a-f]{6,}\b", "", text)
        for name in names:
            plain = plain.replace(name, "")
        if set(re.findall(r"[A-Za-z]{2,}", plain)) - LATIN_OK:
            left.append(text)
    return left


def table_titles(page: str) -> list[str]:
    """The titles directly above the report's notebook tables ("" for an untitled table)."""
    return [
        htmlmod.unescape(m[1] or "")
        for m in re.finditer(
            r'(?:<h3 class="table-title">([^<]*)</h3>\s*)?<div class="table-wrap">', page
        )
    ]
