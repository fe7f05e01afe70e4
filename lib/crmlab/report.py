"""The client report of a run and the index of all runs.

:func:`build_report` writes one self-contained HTML file into a run directory (``report.html``
in English, ``report.zh.html`` in Simplified Chinese): styles inline, images base64-embedded and,
when the page holds Chinese text, a subset of the shipped CJK font embedded too - so it opens
offline and travels as one e-mail attachment. Its parts:

- **Cover**: title, client, date (the run's finish, UTC), run id and status.
- **Executive summary**: the headline figures, then the goal, baseline vs target, key findings,
  recommended actions and expected effect - rendered by the case's Jinja2 template
  (``templates/cases/<case>.summary.<lang>.html.j2``) from ``results.json``, so no number is
  typed by hand. A case without a template, or a run whose figures do not fill it, gets the
  generic summary (headline figures) with a note saying why.
- **One section per stage**: the stage's key figures, then its narrative, tables and charts taken
  from the executed notebook's *outputs* - never code, and not the parameters cells. In Chinese
  the notebooks' method text (their Markdown cells, written in English) is left out: each stage
  gets the spec's Chinese introduction, every note the stage wrote from its numbers (its Markdown
  outputs, :func:`crmlab.i18n.note`; one without Chinese words stays, in English and marked so),
  tables with translated headers, and its key charts re-drawn with Chinese labels
  (:mod:`crmlab.charts.from_run`); the notebook's own charts follow in a collapsed block.
- **Methods appendix**: definitions, models, assumptions, data-quality notes, the run's
  effective parameters with what each sets (in Chinese from the case spec's
  ``parameter_help_zh:``), crmlab versions, a SHA-256 fingerprint of the input files, and every
  recorded figure.

A failed run's report says so at the top - which stage failed and the error from
``status.json`` - shows the stages that completed and the failed stage up to its error, and has
no executive summary.

:func:`build_index` writes ``<reports>/index.html``: every run with case, title, date, status,
headline figures and links.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import io
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from crmlab import __version__, atomic, casespec, i18n, metrics
from crmlab.errors import CrmlabError
from crmlab.export import MISSING_MARK, dash_missing_cells
from crmlab.results import cell_applies
from crmlab.rundir import Run, runs_in

__all__ = ["build_index", "build_report", "data_fingerprint", "report_filename"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SKIP_TAGS = {"parameters", "injected-parameters", "check", "exercise", "kit-setup"}


def report_filename(lang: str = "en") -> str:
    """``report.html`` for English, ``report.<lang>.html`` for other languages."""
    return "report.html" if i18n.check_lang(lang) == "en" else f"report.{lang}.html"


# --------------------------------------------------------------------------------------------
# data fingerprint
# --------------------------------------------------------------------------------------------
def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_fingerprint(folder: str | Path) -> dict[str, Any]:
    """SHA-256 fingerprint of a folder of input files.

    Each regular file below ``folder`` (hidden files and folders skipped) is hashed; the
    fingerprint is the SHA-256 of the lines ``"<relative path>\\t<size>\\t<sha256>\\n"`` in path
    order. The same files with the same contents give the same fingerprint; renaming, editing,
    adding or removing a file changes it.

    A synthetic data folder (``crmlab.synthetic``: one holding the generator's ``truth.json``)
    also holds the planted truth, which no case reads: ``truth.json`` and the ``truth_*`` files
    beside it (``truth_customers.csv``) are left out.

    Returns
    -------
    dict
        ``{"sha256": hex or None (no files), "files": [{"name", "bytes", "sha256"}, ...]}``.
    """
    root = Path(folder)
    synthetic = (root / "truth.json").is_file()
    named = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if synthetic and len(rel.parts) == 1 and (p.name == "truth.json" or p.name[:6] == "truth_"):
            continue  # the generator's planted truth: not an input of the case
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            named[rel.as_posix()] = p
    return files_fingerprint(named)


def files_fingerprint(files: dict[str, Path]) -> dict[str, Any]:
    """:func:`data_fingerprint` of named files (name -> path, e.g. a config's export files as
    the config names them): the SHA-256 of the lines ``"<name>\t<size>\t<sha256>\n"`` in name
    order. Same return value as :func:`data_fingerprint`."""
    rows, lines = [], []
    for name in sorted(files):
        path = Path(files[name])
        row = {"name": name, "bytes": path.stat().st_size, "sha256": _sha256_file(path)}
        rows.append(row)
        lines.append(f"{row['name']}\t{row['bytes']}\t{row['sha256']}\n")
    total = hashlib.sha256("".join(lines).encode()).hexdigest() if rows else None
    return {"sha256": total, "files": rows}


def _fingerprint_for(run: Run, lang: str) -> dict[str, Any]:
    recorded = run.status.get("data_fingerprint")
    if isinstance(recorded, dict) and recorded.get("sha256"):
        n = len(recorded.get("files") or [])
        # a config run fingerprints the client's export files, not the imported folder
        which = "fingerprint_note_exports" if run.status.get("config") else "fingerprint_note"
        note = i18n.ui(which, lang, n=n, when=i18n.ui("fingerprint_at_run", lang))
        return {**recorded, "note": note}
    folder = run.data_dir()
    if not folder.is_dir():
        return {
            "sha256": None,
            "files": [],
            "note": i18n.ui("fingerprint_missing", lang, folder=folder),
        }
    fp = data_fingerprint(folder)
    note = i18n.ui(
        "fingerprint_note", lang, n=len(fp["files"]), when=i18n.ui("fingerprint_now", lang)
    )
    return {**fp, "note": note}


# --------------------------------------------------------------------------------------------
# notebook outputs -> blocks
# --------------------------------------------------------------------------------------------
_CJK_PUNCTUATION = "：；，。！？、"


def _bold_punctuation_out(text: str) -> str:
    """``**目标：**到 ...`` -> ``**目标**：到 ...``: Markdown (CommonMark) does not close a bold
    that ends in punctuation and is followed by a letter, so its asterisks would show. Each
    line's ``**`` are paired in order (opening, closing); a bold span ending in Chinese
    punctuation before a non-space gives the punctuation to the text after it."""
    lines = []
    for line in text.split("\n"):
        parts = line.split("**")
        if len(parts) % 2 == 0:  # an unpaired marker: leave the line as written
            lines.append(line)
            continue
        for i in range(1, len(parts), 2):  # the bold spans
            after = parts[i + 1]
            if parts[i][-1:] in _CJK_PUNCTUATION and after[:1] not in ("", " "):
                parts[i], parts[i + 1] = parts[i][:-1], parts[i][-1] + after
        lines.append("**".join(parts))
    return "\n".join(lines)


def _markdown_to_html(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = markdown2html_mistune(_bold_punctuation_out(text))
    return re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", out, flags=re.S)


def _demote(markdown: str, drop_title: bool) -> tuple[str, str | None]:
    """Drop a leading '# Title' line (the section has its own heading) and demote the other
    headings by one level, so that a stage's '## Topic' nests under the report's stage heading.
    Returns the new text and the last heading seen."""
    lines, last = [], None
    for line in markdown.splitlines():
        m = re.match(r"^(#{1,5})\s+(.*)$", line)
        if m:
            if drop_title and len(m.group(1)) == 1:
                continue
            last = m.group(2).strip()
            line = "#" + line
        lines.append(line)
    return "\n".join(lines), last


def _clean_table_html(fragment: str, lang: str, headers: dict | None = None) -> str:
    """A pandas HTML table without its scoped style block, missing values shown as a dash
    (:func:`crmlab.export.dash_missing_cells`); column headers renamed by ``headers`` (the stage
    spec's ``table_headers``: which segment a "Segment" column holds); headers/terms translated
    for ``lang``. A reader table (:func:`crmlab.narrative.present`) keeps its style block: it
    only aligns the table's own columns (scoped to the table's id)."""
    out = fragment
    for old, new in (headers or {}).items():
        out = re.sub(
            rf"(<th[^>]*>)\s*{re.escape(html.escape(str(old), quote=False))}\s*(</th>)",
            lambda m, new=new: m[1] + html.escape(str(new), quote=False) + m[2],
            out,
        )
    if 'class="dataframe reader"' not in fragment:
        out = re.sub(r"<style[^>]*>.*?</style>", "", fragment, flags=re.S)
    out = out.strip()
    out = out.replace(' border="1"', "")
    out = dash_missing_cells(out)
    if lang != "en":

        def cell(m: re.Match) -> str:
            text = html.unescape(m.group(2))
            return m.group(1) + html.escape(i18n.translate(text, lang), quote=False) + m.group(3)

        out = _translate_source_column(out, lang)
        out = re.sub(r"(<t[hd][^>]*>)([^<]*)(</t[hd]>)", cell, out)
    return out


def _translate_source_column(table_html: str, lang: str) -> str:
    """The cells under a "Source" header hold source tables (``customers``): name them as tables
    (:func:`crmlab.i18n.source`), before the cell-by-cell term translation would read
    ``customers`` as a count of customers."""
    headers = [html.unescape(h).strip() for h in re.findall(r"<th[^>]*>([^<]*)</th>", table_html)]
    if "Source" not in headers:
        return table_html
    at = headers.index("Source")

    def row(m: re.Match) -> str:
        cells = list(re.finditer(r"(<td[^>]*>)([^<]*)(</td>)", m.group(0)))
        if len(cells) <= at:
            return m.group(0)
        c = cells[at]
        name = i18n.source(html.unescape(c.group(2)).strip(), lang)
        new = c.group(1) + html.escape(name, quote=False) + c.group(3)
        return m.group(0)[: c.start()] + new + m.group(0)[c.end() :]

    return re.sub(r"<tr>.*?</tr>", row, table_html, flags=re.S)


def _column_headers(table_html: str) -> list[str]:
    """The column headers of an HTML table (its ``<thead>``), as plain text."""
    head = re.search(r"<thead>(.*?)</thead>", table_html, flags=re.S)
    cells = re.findall(r"<th[^>]*>(.*?)</th>", head.group(1) if head else "", flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def table_title(titles: dict | None, heading: str | None, headers: list[str], lang: str) -> str:
    """The title of a notebook table in the Chinese report, from the stage spec's
    ``table_titles_zh``: by the notebook heading the table sits under, either one title or - a
    heading with several tables - ``{column header: title}``, the first entry whose header the
    table has. ``{first}`` in a title is the table's first column header, translated. "" when
    the spec names none."""
    entry = (titles or {}).get(heading or "")
    if isinstance(entry, dict):
        entry = next((t for h, t in entry.items() if h in headers), None)
    if not entry:
        return ""
    first = next((h for h in headers if h), "")
    return str(entry).format(first=i18n.translate(first, lang))


def _cell_tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def notebook_blocks(
    nb, lang: str = "en", results: dict | None = None, headers: dict | None = None
) -> tuple[list[dict], list[dict]]:
    """Reader-facing content of an executed notebook, in order, without any code.

    Returns ``(blocks, images)``. Blocks: ``{"kind": "html"}`` (rendered markdown cells -
    English only - and the notes of Markdown outputs, in every language, marked ``finding``:
    :func:`_note_block`), ``{"kind": "table"}`` (HTML tables, with the ``heading``
    they sit under and their column ``headers`` in English), ``{"kind": "image"}``
    (PNG charts - English only; in other languages they go to ``images``) and ``{"kind":
    "error"}`` (the error a failed cell raised, without traceback). Plain-text results (object
    reprs), streams, the parameters/check cells and cells that do not apply to the run's
    ``results`` (:func:`crmlab.results.cell_applies`) are left out. ``headers`` renames
    table columns (:func:`_clean_table_html`); a block's ``headers`` are the notebook's.
    """
    blocks: list[dict] = []
    images: list[dict] = []
    heading = None
    first_markdown = True
    for cell in nb.cells:
        if _cell_tags(cell) & _SKIP_TAGS or not cell_applies(cell, results or {}):
            continue
        if cell.cell_type == "markdown":
            text, last = _demote(cell.source, drop_title=first_markdown)
            first_markdown = False
            heading = last or heading
            if lang == "en" and text.strip():
                blocks.append({"kind": "html", "html": _markdown_to_html(text)})
            continue
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                text = _ANSI.sub("", f"{out.get('ename', 'Error')}: {out.get('evalue', '')}")
                blocks.append({"kind": "error", "text": text})
                continue
            if kind not in ("display_data", "execute_result"):
                continue
            data = out.get("data", {})
            if "image/png" in data:
                img = {
                    "kind": "image",
                    "mime": "image/png",
                    "data": "".join(data["image/png"]).replace("\n", ""),
                    "alt": heading or "chart",
                    "caption": None,
                }
                (blocks if lang == "en" else images).append(img)
            elif "text/html" in data:
                raw = "".join(data["text/html"])
                blocks.append(
                    {
                        "kind": "table",
                        "html": _clean_table_html(raw, lang, headers),
                        "heading": heading,
                        "headers": _column_headers(raw),
                        "title": "",
                    }
                )
            elif "text/markdown" in data:  # a note written from the numbers: in every language
                blocks.append(_note_block("".join(data["text/markdown"]), lang))
    return blocks, images


def _note_block(markdown: str, lang: str) -> dict:
    """A note a stage wrote from its numbers (a Markdown output), as an html block marked
    ``finding``: in English as written; in another language a step it skipped
    (:func:`_skipped_note`), else the note in that language (:func:`crmlab.i18n.note`), else -
    never dropped - the English note, marked ``english`` (the page says it is in English)."""
    block = {"kind": "html", "finding": True, "english": False}
    if lang == "en":
        return {**block, "html": _markdown_to_html(markdown)}
    shown = _skipped_note(markdown, lang) or i18n.note(markdown, lang)
    if shown is None:
        shown = f"{i18n.ui('note_in_english', lang)}\n\n{markdown}"
        block["english"] = True
    return {**block, "html": _markdown_to_html(shown)}


def _skipped_note(markdown, lang: str) -> str | None:
    """A step a stage skipped (:func:`crmlab.narrative.skipped`: "**Skipped: the pilot
    read-out.** A pilot table ... are both needed.") in ``lang``: the step in its words, the
    reason translated, or a pointer to the English report where the glossary lacks it; None
    for any other Markdown output."""
    from crmlab.narrative import read_skipped

    found = read_skipped("".join(markdown))
    if found is None:
        return None
    step, reason = i18n.translate(found[0], lang), found[1]
    shown = i18n.translate(reason, lang) if reason else ""
    if shown == reason and reason:
        shown = i18n.ui("skipped_reason_in_english", lang)
    return f"**{i18n.ui('skipped', lang)}：{step}。** {shown}".rstrip()


def _markdown_zh(text: str, lang: str) -> str:
    """A Markdown output (the cleaning notes of stage 2) in ``lang``: each line translated
    (:func:`crmlab.i18n.translate`); list items the glossary does not know stay in English (a
    note is never dropped), other untranslated lines (narrative) are left out, as the Chinese
    report leaves out the notebooks' narrative."""
    lines = []
    for line in text.splitlines():
        item = re.match(r"^(\s*[-*]\s+)(.*)$", line)
        body = item.group(2) if item else line
        shown = i18n.translate(body, lang)
        if item:
            lines.append(item.group(1) + shown)
        elif not body.strip() or shown != body:
            lines.append(shown)
    return "\n".join(lines)


def _markdown_outputs_under(nb, heading: str, lang: str = "en") -> list[str]:
    """Markdown outputs of the code cells under the markdown heading containing ``heading``
    (in ``lang``: see :func:`_markdown_zh`)."""
    found, inside = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            titles = re.findall(r"^#{1,6}\s+(.*)$", cell.source, flags=re.M)
            if titles:
                inside = any(heading.lower() in t.lower() for t in titles)
            continue
        if inside and cell.cell_type == "code":
            for out in cell.get("outputs", []):
                md = out.get("data", {}).get("text/markdown")
                if md and lang != "en":
                    md = _markdown_zh("".join(md), lang)
                if md and md.strip():
                    found.append(_markdown_to_html(md))
    return found


# --------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------
def plain_value(value: Any, lang: str = "en") -> str:
    """A recorded figure as plain text for the appendix: floats with 4 decimals, integers with
    thousands separators, lists in brackets, dicts as ``key: value`` pairs. In Chinese (``lang``
    "zh") texts, list items and dict keys are translated (:func:`crmlab.i18n.translate`),
    true/false read 是/否 and the separators are Chinese."""
    if value is None:
        return "-"
    zh = lang != "en"
    if isinstance(value, bool):
        return i18n.translate("true" if value else "false", lang)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}"
    if isinstance(value, list):
        return "[" + ("、" if zh else ", ").join(plain_value(v, lang) for v in value) + "]"
    if isinstance(value, dict):
        pair, sep = ("{}：{}", "；") if zh else ("{}: {}", "; ")
        return sep.join(
            pair.format(i18n.translate(str(k), lang), plain_value(v, lang))
            for k, v in value.items()
        )
    return i18n.translate(str(value), lang)


def _kpis(results: dict) -> list[dict]:
    rows = []
    for key, value in results.items():
        if key.startswith("kpi.") and isinstance(value, dict) and "actual" in value:
            rows.append({"name": key[4:], **value})
    return rows


def _playbook(actions_spec: dict) -> dict:
    """The playbook an ``actions`` spec section names (as it applies to the run)."""
    from crmlab import plans

    name = actions_spec.get("playbook")
    return getattr(plans, name, {}) if name else {}


# --------------------------------------------------------------------------------------------
# templates
# --------------------------------------------------------------------------------------------
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(casespec.TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    return env


def _reader_text(text: Any, lang: str) -> str:
    """A name or value a summary sentence quotes (a feature, a stage), as a reader reads it:
    in English as the tables show it (:func:`crmlab.narrative.value_label`: "fee rise (last 6
    months)", "at risk"), else translated (:func:`crmlab.i18n.translate`)."""
    if lang == "en":
        from crmlab.narrative import value_label

        return value_label(str(text)).replace("_", " ")
    return i18n.translate(str(text), lang).replace("_", " ")


def _summary_context(spec: dict, run: Run, lang: str) -> dict:
    from crmlab.actions import tier_contacts
    from crmlab.modeling import discrimination  # how well the churn model foresees leavers

    results = run.results
    # the action list's playbook and contacts as they apply to this run (a churn-flag extract
    # gets its own, casespec.for_run), so the summary names what the list does
    actions_spec = casespec.for_run(spec.get("actions") or {}, results)

    def v(key: str):
        value = casespec.figure_value(results, key)
        if value is None:
            raise KeyError(key)
        return value

    def fig(key: str) -> str:
        shown = casespec.formatted(spec, results, key, lang)
        if shown is None:
            raise KeyError(key)
        return shown

    def has(*keys: str) -> bool:
        return all(casespec.has_figure(results, k) for k in keys)

    def tr(text: Any) -> str:
        return _reader_text(text, lang)

    return {
        "lang": lang,
        "v": v,
        "fig": fig,
        "has": has,
        "tr": tr,
        "ui": lambda key, **kw: i18n.ui(key, lang, **kw),
        "pct": i18n.pct,
        "pts": lambda x: i18n.pts(x, lang),
        "num": i18n.num,
        "param": run.param,
        "currency": casespec.currency(results, lang),  # of the money amounts: CNY, in zh 元
        "kpis": _kpis(results),
        "playbook": _playbook(actions_spec),
        "contacts": tier_contacts(actions_spec) if actions_spec else {},
        "discrimination": discrimination,
        # the run's satisfaction measure in words (scale, threshold, question; crmlab.metrics)
        "measure": lambda what: metrics.measure_text(
            metrics.measure_from_results(results), what, lang
        ),
    }


def render_summary(spec: dict, run: Run, lang: str) -> str:
    """The executive summary (HTML) of a successful run from the case's template; the generic
    summary, with a note saying why, if the case has none or the run's figures do not fill it."""
    import jinja2

    env = _env()
    env.filters["tr"] = lambda t: _reader_text(t, lang)
    context = _summary_context(spec, run, lang)
    name = f"cases/{run.case}.summary.{lang}.html.j2"
    why = None
    if (casespec.TEMPLATES / name).is_file():
        try:
            return env.get_template(name).render(**context)
        except (KeyError, TypeError, IndexError, jinja2.UndefinedError) as e:
            why = f"{type(e).__name__}: {e}"
    keys = casespec.headline_keys(spec) or _scalar_keys(run.results)
    rows = casespec.figure_rows(spec, run.results, keys, lang)
    return env.get_template("summary.generic.html.j2").render(**context, rows=rows, why=why)


def _scalar_keys(results: dict) -> list[str]:
    return [k for k, v in results.items() if isinstance(v, int | float | str) and v is not None]


def _css():
    """The report style sheet (trusted file, inserted unescaped)."""
    return Markup((casespec.TEMPLATES / "report.css").read_text(encoding="utf-8"))


def _font_css(page_text: str) -> str:
    """An @font-face rule embedding the subset of the CJK font needed by ``page_text`` (empty when
    the text holds no CJK characters), so Chinese renders on machines without a CJK font."""
    chars = {c for c in page_text if i18n.has_cjk(c)}
    if not chars:
        return ""
    from fontTools import subset

    opts = subset.Options()
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    font = subset.load_font(str(i18n.cjk_font_path()), opts)
    sub = subset.Subsetter(opts)
    sub.populate(text="".join(sorted(chars)) + "0123456789%.,:;()-+ ")
    sub.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, opts)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        '@font-face { font-family: "crmlab CJK"; font-style: normal; font-weight: 400; '
        f'src: url(data:font/otf;base64,{data}) format("opentype"); }}'
    )


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------
def _stage_number(stage: str) -> str:
    m = re.match(r"^(\d+)", stage)
    return str(int(m.group(1))) if m else stage


def _stage_heading(spec: dict, stage: str, nb, lang: str) -> str:
    title = casespec.text(casespec.stage_spec(spec, stage).get("title"), lang)
    if not title and nb is not None:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                m = re.search(r"^#\s+(.*)$", cell.source, flags=re.M)
                if m:
                    title = m.group(1).strip()
                    break
    sep = "：" if lang == "zh" else ": "
    return f"{i18n.ui('stage', lang)} {_stage_number(stage)}{sep}{title or stage}"


def _chart_blocks(run: Run, names, lang: str) -> list[dict]:
    from crmlab.charts import from_run

    blocks = []
    for entry in names:  # "name" or {name: {option: value}}
        name, options = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        drawn = from_run.render_png(run, name, lang, **(options or {}))
        if drawn is None:
            continue
        png, title = drawn
        blocks.append(
            {
                "kind": "image",
                "mime": "image/png",
                "data": base64.b64encode(png).decode("ascii"),
                "alt": title or name,
                "caption": None,
            }
        )
    return blocks


def _all_stages(run: Run) -> list[str]:
    from crmlab.cases import get_case

    try:
        known = get_case(run.case).stages
    except CrmlabError:
        known = []
    stages = list(run.stages)
    return stages + [s for s in known if s not in stages]


def _stage_sections(run: Run, spec: dict, lang: str) -> list[dict]:
    sections = []
    for stage in _all_stages(run):
        sspec = casespec.stage_spec(spec, stage)
        ran = stage in run.stages
        nb = run.notebook(stage) if ran else None
        section = {
            "stage": stage,
            "heading": _stage_heading(spec, stage, nb, lang),
            "intro": casespec.text(sspec.get("intro"), lang) if lang != "en" else "",
            "not_run": not ran,
            "figures": casespec.figure_rows(spec, run.results, sspec.get("figures") or [], lang)
            if ran
            else [],
            "blocks": [],
            "more_images": [],
            "note": "",
        }
        if ran:
            blocks, images = notebook_blocks(nb, lang, run.results, sspec.get("table_headers"))
            if lang != "en":
                titles = sspec.get("table_titles_zh")
                for b in blocks:
                    if b["kind"] == "table":
                        b["title"] = table_title(titles, b["heading"], b["headers"], lang)
                charts = _chart_blocks(run, sspec.get("charts_zh") or [], lang)
                blocks = charts + blocks
                section["more_images"] = images
                # only a stage with charts re-drawn in the language says they were
                note = "zh_stage_note" if charts else "zh_stage_note_english_charts"
                section["note"] = i18n.ui(note, lang, stage=stage)
            section["blocks"] = blocks
        sections.append(section)
    return sections


def _appendix(run: Run, spec: dict, lang: str) -> dict:
    # the definitions and models as they apply to the run (a churn-flag extract has its own)
    app = casespec.for_run(spec.get("appendix") or {}, run.results)
    # a definition marked `measure:` states the run's satisfaction measure (a client's 1-10
    # scale with its own threshold), not the spec's text for the 1-5 question
    measure = metrics.measure_from_results(run.results)
    definitions = [
        (
            casespec.text(d.get("term"), lang),
            metrics.measure_text(measure, d["measure"], lang)
            if d.get("measure")
            else casespec.text(d.get("text"), lang),
        )
        for d in app.get("definitions") or []
    ]
    models = [casespec.text(m, lang) for m in app.get("models") or []]
    assumptions = [casespec.text(a, lang) for a in app.get("assumptions") or []]
    quality_keys = [k for k in run.results if k.startswith("data.")]
    quality_rows = casespec.figure_rows(spec, run.results, quality_keys, lang)
    quality_html: list[str] = []
    qn = app.get("quality_notes") or {}
    if qn.get("stage") in run.stages and qn.get("heading"):
        quality_html = _markdown_outputs_under(run.notebook(qn["stage"]), qn["heading"], lang)
    return {
        "definitions": definitions,
        "models": models,
        "assumptions": assumptions,
        "quality_rows": quality_rows,
        "quality_html": quality_html,
    }


def _figure_meaning(spec: dict, key: str, lang: str, results: dict | None = None) -> str:
    """What a recorded figure is, in words: its label in the case spec ("" when it has none)."""
    label = casespec.figure_label(spec, key, lang, results)
    return "" if label == key else label


def _config_folder(status: dict) -> Path | None:
    """The folder of a config run's case config (its paths are shown relative to it)."""
    return Path(status["config"]).parent if status.get("config") else None


def _shown_path(path: Path, base: Path | None = None) -> str:
    """A path relative to ``base`` (a config run: the config's folder) or to the project folder
    when inside it - no machine-specific prefix such as the consultant's home folder."""
    from crmlab import paths

    for root in (base, paths.project_root()):
        if root is None:
            continue
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


def parameter_value(value: Any) -> str:
    """A parameter's value as it would be written in a config: ``0.05``, ``3``, ``-0.2``,
    ``150`` (not ``0.0500``); an empty text (not set: the default behaviour) as an en dash."""
    if value == "" or value is None:
        return MISSING_MARK
    if isinstance(value, float) and not isinstance(value, bool):
        return str(int(value)) if value.is_integer() else repr(value)
    return plain_value(value)


PATH_PARAMETERS = ("data_dir", "run_dir")
"""Parameters holding a folder: the appendix shows them as the provenance shows the data folder
(relative to the config's folder or the project), not with the machine's home folder."""


def _parameters(run: Run, lang: str = "en") -> list[tuple[str, dict]]:
    """The run's parameters for the appendix: value as a config writes it, who set it, and what
    it means - in English the help comment of the stage's parameter cell, in Chinese the case
    spec's ``parameter_help_zh:`` text (:func:`crmlab.casespec.parameter_help`; a parameter
    without one has a blank cell rather than English) - and whether the run used it: the
    spec's ``appendix.parameter_use:`` names the condition (:func:`crmlab.results.
    condition_holds`) under which a parameter is used (a churn-flag extract has no balances
    for ``margin_rate``; ``salary_share_target`` needs the salary-deposit KPI); the others
    are used."""
    from crmlab.results import condition_holds

    spec = casespec.load_spec(run.case)
    meanings: dict[str, str] = casespec.parameter_help(spec, lang)
    use = (spec.get("appendix") or {}).get("parameter_use") or {}
    if lang == "en":
        try:
            from crmlab.cases import get_case
            from crmlab.params import case_parameters

            meanings = {n: p.help for n, p in case_parameters(get_case(run.case)).items()}
        except CrmlabError:  # a run of a case this installation does not have
            meanings = {}
    rows = []
    base = _config_folder(run.status)
    for name, p in sorted(run.parameters.items()):
        shown = parameter_value(p["value"])
        if name in PATH_PARAMETERS and p["value"]:  # no machine-specific prefix
            shown = _shown_path(Path(p["value"]), base)
        used = name not in use or condition_holds(run.results, use[name])
        row = {"shown": shown, "user": p["user"], "meaning": meanings.get(name), "used": used}
        rows.append((name, row))
    return rows


def build_report(
    run_dir: str | Path,
    lang: str = "en",
    title: str | None = None,
    out: str | Path | None = None,
) -> Path:
    """Write the client report of a run; returns its path.

    Parameters
    ----------
    run_dir : path
        A run directory (``reports/<case>/<run>`` or its ``latest`` link).
    lang : {"en", "zh"}
        Language of headings, summary, table headers and chart labels.
    title : str, optional
        Report title; default: the case spec's title in ``lang``, else the run's case title.
    out : path, optional
        Where to write; default ``<run_dir>/report.html`` (``report.zh.html`` for Chinese).
    """
    from crmlab.actions import past_due_note

    lang = i18n.check_lang(lang)
    run = Run.open(run_dir)
    spec = casespec.load_spec(run.case)
    status = run.status
    title = title or run_title(run, spec, lang)
    client = run_client(run, spec, lang)
    finished = status.get("finished") or status.get("started") or dt.date.today().isoformat()
    headline = casespec.figure_rows(spec, run.results, casespec.headline_keys(spec), lang)
    summary_html = render_summary(spec, run, lang) if run.ok else ""
    context = {
        "html_lang": "zh-Hans" if lang == "zh" else "en",
        "version": __version__,
        "title": title,
        "client": client,
        "date": i18n.long_date(finished, lang),
        "run_name": run.name,
        "ok": run.ok,
        "failed_stage": run.failed_stage,
        "error": _ANSI.sub("", status.get("error") or ""),
        "stages_done": run.stages_done,
        "headline": headline,
        "summary_html": summary_html,
        "plan_note": past_due_note(run, lang) if run.ok else None,
        "stages": _stage_sections(run, spec, lang),
        "appendix": _appendix(run, spec, lang),
        "parameters": _parameters(run, lang),
        "run_version": status.get("crmlab_version", "-"),
        "started": status.get("started", "-"),
        "finished": status.get("finished", "-"),
        "data_folder": _shown_path(run.data_dir(), _config_folder(status)),
        "config_file": Path(status["config"]).name if status.get("config") else None,
        "fingerprint": _fingerprint_for(run, lang),
        "all_figures": [
            (k, _figure_meaning(spec, k, lang, run.results), plain_value(v, lang))
            for k, v in sorted(run.results.items())
        ],
        "css": _css(),
        "ui": lambda key, **kw: i18n.ui(key, lang, **kw),
    }

    context["summary_html"] = Markup(summary_html)
    for section in context["stages"]:
        for block in section["blocks"]:
            if "html" in block:
                block["html"] = Markup(block["html"])
    for key in ("quality_html",):
        context["appendix"][key] = [Markup(h) for h in context["appendix"][key]]
    template = _env().get_template("report.html.j2")
    page = template.render(**context, font_css="")
    font_css = _font_css(re.sub(r"<[^>]+>", " ", page))
    if font_css:
        page = template.render(**context, font_css=Markup(font_css))
    target = Path(out) if out else run.path / report_filename(lang)
    return atomic.write_text(target, page)


# --------------------------------------------------------------------------------------------
# the index
# --------------------------------------------------------------------------------------------
def run_title(run: Run, spec: dict, lang: str) -> str:
    """A run's title: the config's ``title:`` for a config run, else the case spec's title in
    ``lang``, else the title the run recorded, else the case name."""
    status = run.status
    if status.get("config") and status.get("title"):
        return status["title"]
    return casespec.text(spec.get("title"), lang) or status.get("title") or run.case


def run_client(run: Run, spec: dict, lang: str) -> str:
    """The report's "Client" line: a ``client`` parameter or the config's ``client:``; the case
    spec's demonstration client only for a run on the shipped synthetic data (no ``data_dir``);
    else "-" (a client's data is never called synthetic)."""
    named = run.param("client") or run.status.get("client")
    if named:
        return str(named)
    if not run.param("data_dir"):
        return casespec.text(spec.get("client"), lang) or "-"
    return "-"


def build_index(reports_root: str | Path | None = None, lang: str = "en") -> Path:
    """Write ``<reports_root>/index.html`` listing every run, newest first within each case:
    case, title, date, status (with the failed stage), headline figures, and links to the
    run's reports (or its stage pages when no report was built). Default root: ``reports/``."""
    from crmlab import paths

    lang = i18n.check_lang(lang)
    root = Path(reports_root) if reports_root else paths.reports_dir()
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    cases = (p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith("."))
    runs = [r for case_dir in cases for r in runs_in(case_dir)]
    runs.sort(key=lambda r: (r.case, r.status.get("finished") or ""), reverse=False)
    by_case: dict[str, list[Run]] = {}
    for r in runs:
        by_case.setdefault(r.case, []).append(r)
    for case in sorted(by_case):
        latest = (root / case / "latest").resolve() if (root / case / "latest").exists() else None
        for r in sorted(by_case[case], key=lambda r: r.status.get("finished") or "", reverse=True):
            spec = casespec.load_spec(case)
            rel = r.path.relative_to(root.resolve()).as_posix()
            links = [
                (f"{rel}/{p.name}", p.name)
                for p in sorted(r.path.glob("report*.html"))
                if not p.name.startswith(".")
            ]
            if not links and (r.path / "html").is_dir():
                first = sorted((r.path / "html").glob("*.html"))
                if first:
                    links = [(f"{rel}/html/{first[0].name}", i18n.ui("stage_pages", lang))]
            status = i18n.ui("status_ok" if r.ok else "status_failed", lang)
            if not r.ok and r.failed_stage:
                status += f" ({r.failed_stage})"
            rows.append(
                {
                    "case": case,
                    "title": run_title(r, spec, lang),
                    "date": (r.status.get("finished") or r.status.get("started") or "")[
                        :16
                    ].replace("T", " "),
                    "run": r.name,
                    "ok": r.ok,
                    "status": status,
                    "latest": latest is not None and latest == r.path,
                    "headline": casespec.figure_rows(
                        spec, r.results, casespec.headline_keys(spec), lang
                    ),
                    "links": links,
                }
            )
    css = _css()
    page = (
        _env()
        .get_template("index.html.j2")
        .render(
            rows=rows,
            css=css,
            version=__version__,
            html_lang="zh-Hans" if lang == "zh" else "en",
            ui=lambda key, **kw: i18n.ui(key, lang, **kw),
        )
    )
    font_css = _font_css(re.sub(r"<[^>]+>", " ", page))
    if font_css:
        page = page.replace("/*FONT*/", font_css, 1)
    return atomic.write_text(root / "index.html", page)
