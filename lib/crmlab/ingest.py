"""Bring your own data: read a client's exports, map them onto a case's canonical sources, check,
coerce, pseudonymize, and write the canonical input folder of a run.

One config run (:func:`crmlab.runner.run_config`) does, before any kernel starts:

1. :func:`load` - read every source named in the config (CSV in any common encoding, Parquet,
   Excel sheets, a DuckDB query), map the client's columns and values onto the canonical ones
   (:mod:`crmlab.schemas`), validate them with pandera (every problem at once) and coerce types.
   Nothing is changed on disk; the client's files are only opened for reading.
2. :func:`pseudonymize` - replace customer ids and personal columns (listed under ``pii:`` or
   detected by :func:`crmlab.privacy.detect_pii_columns`) by keyed pseudonyms, the same in every
   source so joins still work.
3. :func:`write` - write ``<source>.parquet`` per source and ``ingest_report.json`` into the
   run's ``input/`` folder (atomically); the notebooks then read that folder as ``data_dir``.

Coercions (every one is a sentence in the report, never silent)
    * encodings: UTF-8 with or without byte-order mark, UTF-16 with BOM, GB18030/GBK (Chinese
      Excel exports; accepted when the decoded text is mostly common Chinese characters),
      Windows-1252/Latin-1 otherwise; or ``encoding:`` in the config. Separator detected among
      ``, ; tab |`` unless ``sep:``.
    * numbers stored as text: blanks and ``NA``/``N/A``/``null``/``-`` become missing; thousands
      separators (``1,234.50``; ``1.234,50`` with ``decimal: ","``), currency signs and codes
      (``¥ ￥ $ € £ 元 RMB CNY USD EUR``), full-width digits, accounting negatives ``(12.00)`` and
      percent signs (``12%`` -> 0.12) are handled.
    * yes/no flags: yes/no, y/n, true/false, 1/0, 是/否 (case-insensitive) plus ``values:``.
    * dates: YYYYMMDD numbers or text, Excel serial day numbers (20000-80000, i.e. 1954-2119),
      ISO dates, ``2024年5月1日``, and other formats read one by one (month first for ambiguous
      ``05/01/2024`` unless ``dayfirst: true`` or the column shows day-first values such as
      ``13/01/2024``); or an explicit ``format:``. Not dates: one word of digits other than
      those (``T000000032``, ``2024``: ids and numbers) and years outside 1677-2262.
    * satisfaction on another scale: see :func:`satisfaction_to_five`; drivers on another scale:
      :func:`rescale_linear`; several columns are averaged (mean of the answered ones).
    * a missing key column (``transaction_id``, ``response_id``, ``complaint_id``) is made from
      the row numbers; the survey ``wave`` defaults to the month of ``date``; cancelled orders
      (``cancelled`` mapped) are dropped.

Not done here (the case's ``02_data`` stage does it, reporting each change): dropping duplicate
rows and keys, orphan rows and rows missing required values, and setting out-of-range values to
missing. Validation reports them as warnings.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlab import atomic, paths, privacy, sources
from crmlab.config import CaseConfig, ColumnMap, SourceConfig, pseudonym_key
from crmlab.errors import DataError
from crmlab.schemas import (
    BLOCKING_SHARE,
    DRIVER_RANGE,
    RETAIL_DRIVER_NAMES,
    SATISFACTION_ALIAS,
    Field,
    Hint,
    SourceSpec,
    canonical_schema,
    case_schema,
    format_problems,
    problem,
    problem_table,
    raw_schema,
    run_schema,
)

__all__ = [
    "IngestError",
    "Prepared",
    "detect_encoding",
    "input_files",
    "load",
    "parse_bools",
    "parse_dates",
    "parse_months",
    "parse_numbers",
    "prepare",
    "pseudonymize",
    "query_files",
    "read_source",
    "rescale_linear",
    "satisfaction_to_five",
    "write",
]

REPORT_NAME = "ingest_report.json"

NA_TOKENS = frozenset(
    {"", "na", "n/a", "#n/a", "nan", "null", "none", "nil", "-", "--", "—", "?", "#null!"}
)
"""Text read as a missing value in typed columns (case-insensitive, after trimming)."""

YES = frozenset({"yes", "y", "true", "t", "1", "1.0", "on", "是", "是的", "对", "√", "✓"})
NO = frozenset({"no", "n", "false", "f", "0", "0.0", "off", "否", "不是", "错", "×", "✗"})

_CURRENCY_RE = re.compile(r"(?i)[¥$€£₩₹]|rmb|cny|usd|eur|gbp|hkd|元")
EXCEL_SERIAL_RANGE = (20000, 80000)
"""Excel serial day numbers accepted as dates: 1954-09-03 to 2119-01-11."""
EXCEL_EPOCH = pd.Timestamp("1899-12-30")


class IngestError(DataError):
    """The client's files cannot be used as they are; ``problems`` lists every problem."""

    def __init__(self, message: str, problems: Sequence[Mapping] = ()):
        super().__init__(message)
        self.problems = list(problems)


# --------------------------------------------------------------------------------------------
# reading files
# --------------------------------------------------------------------------------------------
def detect_encoding(data: bytes) -> tuple[str, str]:
    """Guess the text encoding of a CSV export; returns ``(codec, description)``.

    Order: a byte-order mark (UTF-8, UTF-16); valid UTF-8; valid GB18030 whose non-ASCII
    characters are at least 90% in GB2312 (the common simplified Chinese set - text in another
    encoding read as GB18030 gives rare characters); else Windows-1252 (Latin-1 with ``€`` and
    quotes in 0x80-0x9F), or Latin-1 if that fails (it never does: every byte is a character).
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "UTF-8 with byte-order mark"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "UTF-16 with byte-order mark"
    try:
        data.decode("utf-8")
        return "utf-8", "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        wide = [c for c in text if ord(c) > 127][:20000]
        if wide:
            common = sum(1 for c in wide if _in_gb2312(c))
            if common / len(wide) >= 0.9:
                return "gb18030", "GB18030/GBK (Chinese)"
    try:
        data.decode("cp1252")
        return "cp1252", "Windows-1252 (Latin-1)"
    except UnicodeDecodeError:
        return "latin-1", "Latin-1"


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def _sniff_sep(header: str) -> str:
    """The separator that occurs most often in the header line (outside quotes); ',' if none."""
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {s: unquoted.count(s) for s in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


@dataclass
class RawTable:
    """One source as read from the client's file: client columns, values as stored."""

    source: str
    file: str
    frame: pd.DataFrame
    row_offset: int
    details: dict[str, Any] = field(default_factory=dict)


def read_source(
    src: SourceConfig, folder: Path, sources: Sequence[str] = ()
) -> tuple[RawTable | None, list[dict]]:
    """Read one source; returns ``(table, problems)`` - ``table`` is None when it cannot be read.

    CSV values are read as text (so ids keep leading zeros and every conversion is ours to
    report); Excel cells keep their stored type (text, number or date); Parquet and query
    results keep their column types. Column names are trimmed. ``sources``: the config's
    sources (a missing file's hint says the case runs without this one when there are others).
    """
    name, shown = src.name, src.display
    try:
        if src.query is not None:
            frame, details = _read_query(src.query, folder)
            offset = 1
        else:
            path = src.path
            if not path.is_file():
                return None, [_path_problem(src, folder, sources)]
            if path.stat().st_size == 0:
                return None, [
                    problem(
                        name,
                        shown,
                        "*",
                        "the file is empty (0 bytes)",
                        "export the table again, or remove this source from data:",
                    )
                ]
            suffix = path.suffix.lower()
            kind = _workbook_kind(path)
            if kind not in ("", "xlsx"):
                raise _ReadProblem(*_not_a_table(kind, suffix))
            if suffix == ".parquet":
                frame, details, offset = pd.read_parquet(path), {"format": "parquet"}, 1
            elif suffix in (".xlsx", ".xlsm") or kind == "xlsx":
                frame, details = _read_excel(src)
                offset = src.header_row + 1
                if suffix not in (".xlsx", ".xlsm"):
                    details["note"] = (
                        f"an Excel workbook saved with a {suffix or 'no'} name, read as "
                        "Excel: rename it to .xlsx"
                    )
            else:
                frame, details = _read_text(src)
                offset = src.header_row + 1
    except _ReadProblem as e:
        return None, [problem(name, shown, "*", e.rule, e.hint)]
    frame = frame.rename(columns=lambda c: str(c).strip())
    frame = frame.reset_index(drop=True)
    if len(frame.columns) == 0:
        return None, [
            problem(
                name, shown, "*", "no columns found", "is the header row where header_row: says?"
            )
        ]
    if len(frame) == 0:
        return None, [
            problem(
                name,
                shown,
                "*",
                "the table has a header but no rows",
                "export the rows too, or remove this source from data:",
            )
        ]
    dup = [c for c in frame.columns if re.search(r"\.\d+$", c) and c.rsplit(".", 1)[0] in frame]
    if dup:
        details["renamed_duplicate_headers"] = dup
    return RawTable(name, shown, frame, offset, details), []


_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: old .xls, .doc, encrypted .xlsx

_ENCRYPTED_STREAMS = frozenset({"EncryptionInfo", "EncryptedPackage"})
"""Streams of an Office file encrypted with a password to open (ECMA-376 agile or standard
encryption): the .xlsx is then the encrypted package inside a Compound File."""
_OLE2_WORKBOOK_STREAMS = frozenset({"Workbook", "Book"})
"""The stream of an old Excel workbook (.xls, Excel 97-2003 and Excel 5/95)."""
_OLE2_OTHER_FILES = {
    "WordDocument": "a Word document (.doc)",
    "PowerPoint Document": "a PowerPoint presentation (.ppt)",
}


def _ole2_names(path: Path, limit: int = 4096) -> set[str] | None:
    """The names of the storages and streams in a Compound File Binary (OLE2) file, read from
    its directory (MS-CFB: the header's sector size and first directory sector, the FAT
    sectors listed in the header, the directory chain followed through the FAT); at most
    ``limit`` directory sectors. None when the directory cannot be read (a damaged or truncated
    file): the caller then says what the first bytes alone say."""
    import struct

    try:
        data = path.read_bytes()
        if len(data) < 512 or not data.startswith(_OLE2_MAGIC):
            return None
        shift = struct.unpack_from("<H", data, 30)[0]
        if shift not in (9, 12):
            return None
        size = 1 << shift
        n_fat, first_dir = struct.unpack_from("<II", data, 44)
        fat_sectors = [x for x in struct.unpack_from("<109I", data, 76) if x < 0xFFFFFFFA]
        fat_sectors = fat_sectors[:n_fat]  # more than 109 FAT sectors (a >7 MB directory): rare

        def sector(i: int) -> bytes:
            start = (i + 1) * size
            chunk = data[start : start + size]
            if len(chunk) < size:
                raise ValueError("sector beyond the end of the file")
            return chunk

        fat = b"".join(sector(i) for i in fat_sectors)
        n_entries = len(fat) // 4
        names: set[str] = set()
        current, seen = first_dir, set()
        while current < 0xFFFFFFFA and current not in seen and len(seen) < limit:
            seen.add(current)
            block = sector(current)
            for off in range(0, size, 128):
                length, kind = struct.unpack_from("<HB", block, off + 64)
                if kind in (1, 2, 5) and 2 <= length <= 64:  # storage, stream, root
                    names.add(block[off : off + length - 2].decode("utf-16-le", "replace"))
            if current >= n_entries:
                break
            current = struct.unpack_from("<I", fat, current * 4)[0]
        return names
    except (OSError, ValueError, struct.error):
        return None


def _workbook_kind(path: Path) -> str:
    """What the file's bytes say it is, whatever its name: ``xlsx`` (an Excel workbook,
    .xlsx/.xlsm), ``xlsb`` (an Excel binary workbook: a zip with ``xl/workbook.bin``), ``ods``
    (an OpenDocument spreadsheet), ``zip`` (another zip archive), ``encrypted`` (an Office file
    with a password to open: a Compound File holding ``EncryptionInfo``), ``xls`` (an old Excel
    workbook, or a Compound File whose directory cannot be read), ``doc``/``ppt`` (a Word or
    PowerPoint file), ``ole`` (another Compound File), or '' (anything else: text, Parquet ...).
    """
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(_ZIP_MAGIC):
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
        except (zipfile.BadZipFile, OSError, KeyError):
            return "zip"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "xl/workbook.bin" in names:
            return "xlsb"
        if b"opendocument.spreadsheet" in mimetype:
            return "ods"
        return "zip"
    if head != _OLE2_MAGIC:
        return ""
    names = _ole2_names(path)
    if names is None or names & _OLE2_WORKBOOK_STREAMS:
        return "xls"
    if names & _ENCRYPTED_STREAMS:
        return "encrypted"
    if "WordDocument" in names:
        return "doc"
    if "PowerPoint Document" in names:
        return "ppt"
    return "ole"


_SAVE_AS = (
    "open it in Excel and save it as .xlsx (Excel Workbook), or export the sheet as CSV; then "
    "give that file under data:"
)


def _not_a_table(kind: str, suffix: str) -> tuple[str, str]:
    """The rule and hint of a file crmlab cannot read, by what its bytes say it is
    (:func:`_workbook_kind`): what it is, and what to do in the program that made it."""
    usual = {"xls": ".xls", "xlsb": ".xlsb", "ods": ".ods", "doc": ".doc", "ppt": ".ppt"}
    named = f" saved with a {suffix} name" if suffix and suffix != usual.get(kind, ".zip") else ""
    if kind == "encrypted":  # any name: .xlsx, .xls, .csv ... the password is what to fix
        return (
            "the workbook is password-protected (encrypted), which cannot be read",
            "remove the password in Excel (File > Info > Protect Workbook > Encrypt with "
            "Password: clear it) or save a copy without it; then give that file under data:",
        )
    if kind == "xls":
        return f"this is an old Excel workbook (.xls){named}, which cannot be read", _SAVE_AS
    if kind == "xlsb":
        return (
            f"this is an Excel binary workbook (.xlsb){named}, which cannot be read",
            "open it in Excel and save it as .xlsx (File > Save As > Excel Workbook) or .csv; "
            "then give that file under data:",
        )
    if kind == "ods":
        return (
            f"this is an OpenDocument spreadsheet (.ods){named}, which cannot be read",
            "save it as .xlsx (Excel 2007-365) or .csv in LibreOffice or Excel; then give that "
            "file under data:",
        )
    if kind in ("doc", "ppt"):
        what = _OLE2_OTHER_FILES["WordDocument" if kind == "doc" else "PowerPoint Document"]
        return (
            f"this is {what}{named}, not a table",
            "give the client's export itself (a CSV or Excel file) under data:; a table pasted "
            "into a document must be copied into Excel and saved as .xlsx or .csv first",
        )
    if kind == "ole":
        return (
            "this is an Office file that is not an Excel workbook, which cannot be read",
            "open it in the program that made it and export the table as .xlsx or .csv; then "
            "give that file under data:",
        )
    return (
        f"this is a zip archive{named}, not a table",
        "unzip it and give the CSV or Excel file inside under data:",
    )


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parser_problem(error: Exception, sep: str) -> tuple[str, str]:
    """The rule and hint of a text file pandas cannot split into a table, in words (pandas'
    own message is technical and ends in a line break)."""
    text = " ".join(str(error).split())
    hint = "check sep: (the column separator) and header_row: under data:"
    m = _FIELDS_RE.search(text)
    if m:
        header, line, saw = m.groups()
        shown = {"\t": "tab"}.get(sep, f"'{sep}'")
        return (
            f"cannot be read as a table: line {line} has {saw} fields, the header {header}",
            f"a value holding the separator {shown} (a number like 1,234.50, a comma in a "
            "name) must be in quotes in the export; or the separator or the header row is "
            "another one: " + hint,
        )
    return f"cannot be read as a table: {text}", hint


class _ReadProblem(Exception):
    def __init__(self, rule: str, hint: str):
        super().__init__(rule)
        self.rule, self.hint = rule, hint


def _path_problem(src: SourceConfig, folder: Path, sources: Sequence[str] = ()) -> dict:
    """'file not found', with the files of the folder the path points into, a near file only
    when it is really close (:func:`_near_file`), and - every source of a case being optional -
    the way to run without this one when the config has others (``sources``)."""
    path = src.path
    near = ""
    if path.parent.is_dir():
        names = [p.name for p in path.parent.iterdir() if not p.name.startswith(".")]
        close = _near_file(path.name, names)
        near = f" Did you mean '{close}'?" if close else ""
        shown = ", ".join(sorted(names)[:8]) + (" ..." if len(names) > 8 else "")
        where = f"files in {path.parent}: {shown}" if names else f"{path.parent} is empty"
    else:
        where = f"folder {path.parent} does not exist"
    others = [s for s in sources if s != src.name]
    without = f" Or remove `{src.name}:` from data: (the case runs without it)." if others else ""
    return problem(
        src.name,
        src.display,
        "*",
        "file not found",
        f"paths are relative to the config's folder {folder}; {where}.{near}{without}",
    )


NEAR_FILE_CUTOFF = 0.8
"""How alike two file names (without extension) must be to suggest one for the other
(:func:`difflib.get_close_matches` ratio): stores/store 0.91, stores_2025/stores_2026 0.91,
members/member 0.92, 会员/会员2 0.8 are suggested; members/numbers 0.71 and stores/orders 0.67
are not."""


def _near_file(name: str, names: Sequence[str]) -> str | None:
    """The file of ``names`` that is really close to ``name``: the same name with another
    extension (stores.xlsx -> stores.csv), or a name without its extension that differs by a
    character or two (stores_2025.csv -> stores_2026.csv, store.xlsx -> stores.csv; ratio at
    least :data:`NEAR_FILE_CUTOFF`). None otherwise: a near name across unrelated files
    (stores.xlsx, orders.csv) only misleads."""
    import difflib

    by_stem: dict[str, str] = {}
    for n in sorted(names):
        if n != name:
            by_stem.setdefault(Path(n).stem.lower(), n)
    stem = Path(name).stem.lower()
    close = difflib.get_close_matches(stem, list(by_stem), n=1, cutoff=NEAR_FILE_CUTOFF)
    return by_stem[close[0]] if close else None


def _encoding_problem(
    data: bytes, encoding: str, error: UnicodeDecodeError, configured: bool
) -> tuple[str, str]:
    """The rule and hint of a file that cannot be decoded: the line (1-based, counting the
    header), the column the bad bytes are in (named by the header line, which names columns,
    not people) and the bytes themselves - never the line's values, which may be a customer's
    name or phone number - and the encoding the file reads as."""
    readable, how = detect_encoding(data)
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        valid = failing = 0
        for raw_line in data.splitlines():
            if not raw_line.isascii():
                try:
                    raw_line.decode("utf-8")
                    valid += 1
                except UnicodeDecodeError:
                    failing += 1
        if valid >= failing:  # as many lines with valid UTF-8 text: a UTF-8 file, mixed
            readable = encoding
    line_no = data.count(b"\n", 0, error.start) + 1
    start = data.rfind(b"\n", 0, error.start) + 1
    header = data.split(b"\n", 1)[0].decode(readable, "replace").strip().lstrip("\ufeff")
    sep = _sniff_sep(header)
    before = data[start : error.start].decode(readable, "replace")
    names = header.split(sep)
    field = before.count(sep)
    where = f"column '{names[field].strip()}'" if line_no > 1 and field < len(names) else ""
    where = where or ("the header" if line_no == 1 else f"field {field + 1}")
    bad = " ".join(f"0x{b:02X}" for b in data[error.start : error.end])
    rule = f"cannot be read as {encoding}: line {line_no}, {where}, holds bytes that are not "
    rule += f"{encoding} ({bad})"
    if configured and readable.replace("-sig", "") != encoding.lower().replace("_", "-"):
        hint = (
            f"the file reads as {how}: set encoding: {readable} under data: (or remove "
            "encoding: to have it detected)"
        )
    else:  # mixed encodings in one file: no one encoding reads it all
        hint = (
            "the file mixes encodings (parts saved from different programs?): export it again "
            "as UTF-8, or set the right encoding: under data: (e.g. gbk, gb18030, utf-8, latin-1)"
        )
    return rule, hint


def _read_text(src: SourceConfig) -> tuple[pd.DataFrame, dict]:
    data = src.path.read_bytes()
    if src.encoding:
        encoding, how = src.encoding, f"{src.encoding} (from the config)"
    else:
        encoding, how = detect_encoding(data)
        how += " (detected)"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise _ReadProblem(*_encoding_problem(data, encoding, e, bool(src.encoding))) from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise _ReadProblem("the file holds no text", "export the table again")
    lines = text.splitlines()
    if len(lines) < src.header_row:
        raise _ReadProblem(
            f"the file has {len(lines)} line(s), fewer than header_row {src.header_row}",
            "check header_row: under data:",
        )
    header = lines[src.header_row - 1]
    sep = src.sep or (_sniff_sep(header) if src.path.suffix.lower() != ".tsv" else "\t")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skiprows=src.header_row - 1,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as e:
        raise _ReadProblem(*_parser_problem(e, sep)) from None
    details = {
        "format": "text",
        "encoding": how,
        "separator": {"\t": "tab"}.get(sep, sep) + (" (from the config)" if src.sep else ""),
    }
    return frame, details


def _read_excel(src: SourceConfig) -> tuple[pd.DataFrame, dict]:
    try:
        book = pd.ExcelFile(src.path, engine="openpyxl")
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise _ReadProblem(
            f"cannot be opened as an Excel workbook ({type(e).__name__})",
            "save it again as .xlsx from Excel (old .xls files are not supported)",
        ) from None
    sheets = book.sheet_names
    sheet = 0 if src.sheet is None else src.sheet
    if isinstance(sheet, int):
        if not 0 <= sheet < len(sheets):
            raise _ReadProblem(
                f"sheet number {sheet} does not exist",
                f"sheets are numbered from 0; this workbook has {len(sheets)}: {', '.join(sheets)}",
            )
        sheet_name = sheets[sheet]
    else:
        if sheet not in sheets:
            raise _ReadProblem(
                f"sheet '{sheet}' not found",
                f"set sheet: to one of {', '.join(repr(s) for s in sheets)}",
            )
        sheet_name = sheet
    frame = pd.read_excel(book, sheet_name=sheet_name, dtype=object, header=src.header_row - 1)
    frame = frame.dropna(how="all")
    return frame, {"format": "excel", "sheet": sheet_name}


_QUOTED_RE = re.compile(r"'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"")
_GLOB_CHARS = re.compile(r"[*?\[]")


def query_files(query: str, folder: str | Path) -> dict[str, Path]:
    """The files a ``query:`` source reads: each quoted text of the query (``'exports/a.csv'``,
    a glob ``'exports/complaints_*.csv'``, ``read_csv(['a.csv', 'b.csv'])``) that names existing
    files, relative to ``folder`` (the config's folder, as DuckDB resolves them) or absolute.
    Returns name -> path, the name relative to ``folder`` (``exports/a.csv``) or absolute when
    outside it. Quoted texts that name no file (values such as ``'测试'``, aliases) are skipped."""
    folder = Path(folder)
    out: dict[str, Path] = {}
    for m in _QUOTED_RE.finditer(query):
        one = m.group(1) is not None
        text = (m.group(1).replace("''", "'") if one else m.group(2).replace('""', '"')).strip()
        if not text or "\n" in text:
            continue
        if _GLOB_CHARS.search(text):
            pattern = Path(text)
            base = Path(pattern.anchor) if pattern.is_absolute() else folder
            rel = pattern.relative_to(pattern.anchor) if pattern.is_absolute() else pattern
            try:
                found = [p for p in base.glob(rel.as_posix()) if p.is_file()]
            except (ValueError, OSError):
                continue
        else:
            p = Path(text) if Path(text).is_absolute() else folder / text
            found = [p] if p.is_file() else []
        for p in found:
            try:
                name = p.resolve().relative_to(folder.resolve()).as_posix()
            except ValueError:
                name = str(p.resolve())
            out[name] = p
    return out


def input_files(cfg: CaseConfig) -> dict[str, Path]:
    """Every client file a config's import reads: name -> path. A source's file under its
    name in the config (``exports/orders.csv``); the files a ``query:`` reads
    (:func:`query_files`) relative to the config's folder. Missing files are left out."""
    files: dict[str, Path] = {}
    for s in cfg.sources.values():
        if s.path is not None:
            if Path(s.path).is_file():
                files[s.display] = Path(s.path)
        elif s.query is not None:
            files.update(query_files(s.query, cfg.folder))
    return files


def _read_query(query: str, folder: Path) -> tuple[pd.DataFrame, dict]:
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as e:
        raise _ReadProblem(f"the query is not valid SQL: {e}", "check the query: text") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise _ReadProblem(
            "the query must be exactly one SELECT statement",
            "crmlab only reads: write one SELECT ... FROM 'file.csv' query",
        )
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET file_search_path = ?", [str(folder)])
        frame = con.sql(query).df()
    except duckdb.Error as e:
        raise _ReadProblem(
            f"the query failed: {str(e).splitlines()[0]}",
            f"file paths in the query are relative to {folder}",
        ) from None
    finally:
        con.close()
    return frame, {"format": "DuckDB query"}


# --------------------------------------------------------------------------------------------
# parsing values: each returns (values, bad, counts)
# --------------------------------------------------------------------------------------------
def _plain(s: pd.Series) -> pd.Series:
    """Values as text, ids written alike (1001.0 -> '1001'), not yet NFKC-normalized."""
    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        return s.astype("str")
    return privacy._normalize_ids(s).astype("str")


def _text(s: pd.Series, plain: pd.Series | None = None) -> pd.Series:
    """Values as trimmed text (NFKC: full-width digits and signs become ASCII); missing stays NA.
    ``plain``: :func:`_plain` of ``s`` when already computed."""
    t = _plain(s) if plain is None else plain
    wide = t.str.contains(r"[^\x00-\x7f]", regex=True).fillna(False).astype(bool)
    if wide.any():  # NFKC only changes non-ASCII text; skip the slow per-value call otherwise
        t = t.copy()
        t[wide] = t[wide].map(lambda x: unicodedata.normalize("NFKC", x))
    return t.str.strip()


@dataclass
class _Texts:
    """One column's values normalized once, for the readers that each used to normalize them
    again (:func:`_auto_type` tries yes/no, numbers, dates and text on the same column): the
    forms are element-wise, so a subset of rows is the same subset of these."""

    plain: pd.Series  # :func:`_plain`
    text: pd.Series  # :func:`_text`
    lower: pd.Series  # ``text`` in lower case

    @classmethod
    def of(cls, s: pd.Series) -> _Texts:
        plain = _plain(s)
        text = _text(s, plain)
        return cls(plain, text, text.str.lower())

    def take(self, positions) -> _Texts:
        """The forms of the rows at ``positions`` (as ``s.iloc[positions]``)."""
        return _Texts(*(x.iloc[positions] for x in (self.plain, self.text, self.lower)))


def _blank(s: pd.Series, texts: _Texts | None = None) -> tuple[pd.Series, pd.Series]:
    """(blank mask, NA-word mask): empty cells, and words like ``N/A`` read as missing.
    ``texts``: the column's :class:`_Texts` when already computed."""
    if _texty(s):
        lower = _text(s).str.lower() if texts is None else texts.lower
        empty = s.isna() | (lower == "").fillna(True)
        na_word = ~empty & lower.isin(NA_TOKENS - {""}).fillna(False)
        return empty.astype(bool), na_word.astype(bool)
    empty = s.isna()
    return empty, pd.Series(False, index=s.index)


def _missing_word(s: pd.Series) -> pd.Series:
    """Per cell, how a missing value is written: '' for a blank cell, the word as written
    (trimmed) for a word read as missing (``N/A``, ``null`` ...), NA for a filled value."""
    empty, na_word = _blank(s)
    out = pd.Series(pd.NA, index=s.index, dtype="object")
    out[empty] = ""
    if na_word.any():
        out[na_word] = _text(s[na_word]).astype("object")
    return out


@dataclass
class Parsed:
    """Result of parsing one column: canonical values, rows that could not be read, counts."""

    values: pd.Series
    bad: pd.Series
    counts: dict[str, int] = field(default_factory=dict)
    example: dict[str, tuple] = field(default_factory=dict)


def _split_object(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Masks of (date-like, number, other) cells of an object column (Excel mixes them)."""
    if not pd.api.types.is_object_dtype(s):
        false = pd.Series(False, index=s.index)
        if pd.api.types.is_datetime64_any_dtype(s):
            return s.notna(), false, false
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            return false, s.notna(), false
        return false, false, s.notna()
    kinds = s.map(
        lambda v: (
            "d"
            if isinstance(v, dt.datetime | dt.date | pd.Timestamp | np.datetime64)
            else "n"
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            else "t"
        ),
        na_action="ignore",
    )
    return (kinds == "d").fillna(False), (kinds == "n").fillna(False), (kinds == "t").fillna(False)


def parse_numbers(s: pd.Series, decimal: str = ".", texts: _Texts | None = None) -> Parsed:
    """Read numbers stored as numbers or as text (see the module docstring); float64.

    Counts: ``blank`` (empty cells), ``na_word`` (``N/A`` ...), ``thousands``, ``currency``,
    ``percent`` (divided by 100), ``parentheses`` (accounting negatives), ``decimal_comma``.
    ``texts``: the column's normalized text (:class:`_Texts`) when already computed.
    """
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    counts: dict[str, int] = {}
    if pd.api.types.is_bool_dtype(s):
        return Parsed(s.astype("float64"), pd.Series(False, index=s.index), {"bool": len(s)})
    if pd.api.types.is_numeric_dtype(s):
        vals = pd.to_numeric(s, errors="coerce").astype("float64")
        counts["blank"] = int(vals.isna().sum())
        return Parsed(vals, pd.Series(False, index=s.index), counts)
    empty, na_word = _blank(s, texts)
    _, is_num, _ = _split_object(s)
    if is_num.any():
        out[is_num] = pd.to_numeric(s[is_num], errors="coerce").astype("float64")
    todo = ~empty & ~na_word & ~is_num
    t = _text(s[todo]) if texts is None else texts.text[todo]
    t = t.str.replace(r"[\s']", "", regex=True)
    pct = t.str.endswith("%")
    t = t.str.rstrip("%")
    paren = t.str.fullmatch(r"\(.*\)")
    t = t.mask(paren, "-" + t.str.slice(1, -1))
    cur = t.str.contains(_CURRENCY_RE)
    t = t.str.replace(_CURRENCY_RE, "", regex=True)
    if decimal == ",":
        thousands = t.str.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")
        t = t.mask(thousands, t.str.replace(".", "", regex=False))
        comma = t.str.contains(",", regex=False)
        t = t.str.replace(",", ".", regex=False)
        counts["decimal_comma"] = int(comma.sum())
    else:
        thousands = t.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
        t = t.mask(thousands, t.str.replace(",", "", regex=False))
    nums = pd.to_numeric(t, errors="coerce").astype("float64")
    nums = nums.mask(pct, nums / 100)
    out[todo] = nums
    bad = (todo & out.isna()).astype(bool)
    ok = todo & ~bad
    counts.update(
        blank=int(empty.sum()),
        na_word=int(na_word.sum()),
        thousands=int((thousands & ok[todo]).sum()),
        currency=int((cur & ok[todo]).sum()),
        percent=int((pct & ok[todo]).sum()),
        parentheses=int((paren & ok[todo]).sum()),
    )
    example = {}
    for kind, mask in (("thousands", thousands), ("currency", cur), ("percent", pct)):
        m = mask & ok[todo]
        if m.any():
            i = m[m].index[0]
            example[kind] = (str(s[i]), float(out[i]))
    return Parsed(out, bad, {k: v for k, v in counts.items() if v}, example)


_ZH_DATE_RE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?(.*)$")
_TIME_ONLY_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s*[ap]\.?\s?m\.?)?$", re.IGNORECASE)
"""A time of day without a date ('12:00', '9:30 pm'): the lenient reading would date it today."""
_SLASH_RE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")


def _ns(d: pd.Series) -> pd.Series:
    """Dates as ``datetime64[ns]``; a value outside the range those hold (1677-2262) is missing:
    text that only a lenient reading takes for a date (an order number 'T000000001' read as a
    time in year 1, '1/1/0001') is not a client's date, and must not stop the import."""
    if d.dtype == "datetime64[ns]":
        return d
    d = pd.to_datetime(d, errors="coerce")
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_localize(None)
    inside = d.isna() | ((d >= pd.Timestamp.min) & (d <= pd.Timestamp.max))
    return d.where(inside).astype("datetime64[ns]")


def parse_dates(s: pd.Series, fmt: str | None = None, dayfirst: bool = False) -> Parsed:
    """Read dates (see the module docstring); returns datetime64 values (NaT when missing).

    Counts: ``blank``, ``na_word``, ``native`` (stored as dates), ``yyyymmdd``, ``excel_serial``,
    ``chinese``, ``format`` (read with ``fmt``), ``other_format`` (read one by one), ``ambiguous``
    (day and month both 12 or less, read in the order stated), ``dayfirst_detected``.
    """
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    counts: dict[str, int] = {}
    empty, na_word = _blank(s)
    is_date, is_num, is_text = _split_object(s)
    is_date &= ~empty
    is_num &= ~empty
    is_text &= ~empty & ~na_word
    if is_date.any():
        d = pd.to_datetime(s[is_date], errors="coerce")
        if getattr(d.dt, "tz", None) is not None:
            d = d.dt.tz_localize(None)
        out[is_date] = _ns(d)
        counts["native"] = int(is_date.sum())
    if is_num.any():
        v = pd.to_numeric(s[is_num], errors="coerce").astype("float64")
        if fmt is not None:
            whole = v.where(v % 1 == 0)
            txt = whole.map(lambda x: str(int(x)), na_action="ignore").astype("str")
            out[is_num] = _ns(pd.to_datetime(txt, format=fmt, errors="coerce"))
            counts["format"] = int(out[is_num].notna().sum())
        else:
            ymd = (v >= 19000101) & (v <= 21001231) & (v % 1 == 0)
            serial = v.between(*EXCEL_SERIAL_RANGE)
            if ymd.any():
                txt = v[ymd].astype("int64").astype("str")
                out[ymd[ymd].index] = _ns(pd.to_datetime(txt, format="%Y%m%d", errors="coerce"))
                counts["yyyymmdd"] = int(ymd.sum())
            if serial.any():
                idx = serial[serial].index
                out[idx] = EXCEL_EPOCH + pd.to_timedelta(v[serial], unit="D")
                counts["excel_serial"] = int(serial.sum())
    if is_text.any():
        t = _text(s[is_text])
        parsed = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")
        if fmt is not None:
            parsed = _ns(pd.to_datetime(t, format=fmt, errors="coerce"))
            counts["format"] = counts.get("format", 0) + int(parsed.notna().sum())
        else:
            todo = pd.Series(True, index=t.index)

            def take(mask, values, kind):
                nonlocal todo
                ok = mask & values.notna()
                parsed[ok[ok].index] = values[ok]
                if ok.any():
                    counts[kind] = counts.get(kind, 0) + int(ok.sum())
                todo = todo & ~ok

            iso = t.str.match(r"^\d{4}-\d{1,2}-\d{1,2}([ T].*)?$")
            take(iso, _ns(pd.to_datetime(t.where(iso), format="ISO8601", errors="coerce")), "iso")
            todo &= ~iso  # year-month-day text that is no date (2024-13-01) stays invalid
            ymd = todo & t.str.fullmatch(r"\d{8}")
            take(
                ymd, _ns(pd.to_datetime(t.where(ymd), format="%Y%m%d", errors="coerce")), "yyyymmdd"
            )
            num = pd.to_numeric(t.where(todo & t.str.fullmatch(r"\d{5}(\.\d+)?")), errors="coerce")
            serial = num.between(*EXCEL_SERIAL_RANGE)
            take(serial, EXCEL_EPOCH + pd.to_timedelta(num.where(serial), unit="D"), "excel_serial")
            zh = todo & t.str.match(_ZH_DATE_RE.pattern)
            if zh.any():
                iso_text = t[zh].str.replace(_ZH_DATE_RE, r"\1-\2-\3\4", regex=True)
                take(zh, _ns(pd.to_datetime(iso_text, format="mixed", errors="coerce")), "chinese")
            # one word of digits, perhaps after letters (T000000032, 2024, 123456): an id or a
            # number, which the lenient reading below would take for a date (the year 2032)
            todo &= ~t.str.fullmatch(r"[^\W\d_]*\d+")
            todo &= ~t.str.match(_TIME_ONLY_RE.pattern, case=False)  # no date: not today's
            if todo.any():
                rest = t[todo]
                parts = rest.str.extract(_SLASH_RE).astype("float64")
                first_gt12, second_gt12 = (parts[0] > 12), (parts[1] > 12)
                use_dayfirst = dayfirst
                if not dayfirst and first_gt12.any() and not second_gt12.any():
                    use_dayfirst = True
                    counts["dayfirst_detected"] = int(first_gt12.sum())
                amb = (parts[0] <= 12) & (parts[1] <= 12) & (parts[0] != parts[1])
                if amb.any():
                    counts["ambiguous"] = int(amb.sum())
                counts["_dayfirst"] = int(use_dayfirst)
                vals = _ns(
                    pd.to_datetime(rest, format="mixed", dayfirst=use_dayfirst, errors="coerce")
                )
                take(pd.Series(True, index=rest.index), vals, "other_format")
        out[is_text] = parsed.astype("datetime64[ns]")
    bad = (~empty & ~na_word & out.isna()).astype(bool)
    counts.update(blank=int(empty.sum()), na_word=int(na_word.sum()))
    return Parsed(out, bad, {k: v for k, v in counts.items() if v})


def _token(v) -> str:
    """Comparable form of a value: trimmed, lower-case text; 1, 1.0 and '1' are '1'."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return unicodedata.normalize("NFKC", privacy._normalize_id(v)).strip().lower()


def _tokens(s: pd.Series) -> pd.Series:
    return _text(s).str.lower()


def _as_bool_key(k) -> bool | None:
    t = _token(k)
    return True if t in YES else False if t in NO else None


def _yaml_bool_tokens(v) -> set[str]:
    """A client value from YAML; an unquoted Yes/No/On/Off arrives as a bool: match those words."""
    if v is True:
        return {"true", "yes", "on", "y"}
    if v is False:
        return {"false", "no", "off", "n"}
    return {_token(v)}


def parse_bools(s: pd.Series, mapping: Mapping | None = None) -> Parsed:
    """Read yes/no values as pandas ``boolean`` (see :data:`YES`, :data:`NO`, ``values:``)."""
    counts: dict[str, int] = {}
    if pd.api.types.is_bool_dtype(s):
        return Parsed(s.astype("boolean"), pd.Series(False, index=s.index))
    empty, na_word = _blank(s)
    lookup: dict[str, bool] = {}
    if mapping:
        for key, clients in mapping.items():
            b = _as_bool_key(key)
            for c in clients:
                for tok in _yaml_bool_tokens(c):
                    lookup[tok] = bool(b)
    tok = _tokens(s)
    mapped = tok.map(lookup) if lookup else pd.Series(np.nan, index=s.index, dtype="object")
    default = tok.map(lambda x: True if x in YES else False if x in NO else None)
    vals = mapped.where(mapped.notna(), default)
    vals = vals.where(~(empty | na_word))
    bad = (~empty & ~na_word & vals.isna()).astype(bool)
    counts.update(
        blank=int(empty.sum()),
        na_word=int(na_word.sum()),
        mapped=int(mapped.notna().sum()),
        words=int((default.notna() & ~tok.isin({"true", "false"}) & mapped.isna()).sum()),
    )
    return Parsed(vals.astype("boolean"), bad, {k: v for k, v in counts.items() if v})


def parse_months(s: pd.Series) -> Parsed:
    """Read months as ``"YYYY-MM"`` text: ``2025-05``, ``2025/5``, ``202505``, or any date."""
    empty, na_word = _blank(s)
    out = pd.Series(pd.NA, index=s.index, dtype="str")
    is_date, is_num, is_text = _split_object(s)
    t = _text(s.where(is_num | is_text))
    m = t.str.extract(r"^(\d{4})[-/.年]?(\d{1,2})月?$")
    ok = m[0].notna() & m[1].astype("float64").between(1, 12)
    out[ok] = m.loc[ok, 0] + "-" + m.loc[ok, 1].str.zfill(2)
    rest = ~ok & ~empty & ~na_word
    if rest.any():
        d = parse_dates(s[rest])
        out[d.values.notna()[d.values.notna()].index] = d.values.dropna().dt.strftime("%Y-%m")
    bad = (~empty & ~na_word & out.isna()).astype(bool)
    return Parsed(out, bad, {k: v for k, v in {"blank": int(empty.sum())}.items() if v})


def parse_ids(s: pd.Series) -> Parsed:
    """Identifiers as text (1001, 1001.0 and ' 1001 ' are the same id); blanks missing.

    ``counts``: ``blank``, ``na_word`` (such as 'N/A'), ``trimmed`` (ids with spaces around
    them), ``float_ids`` (ids stored as decimal numbers)."""
    empty, na_word = _blank(s)
    ids = privacy._normalize_ids(s).astype("str")  # text, without surrounding spaces
    present = ~(empty | na_word)
    ids = ids.where(present)
    counts = {"blank": int(empty.sum()), "na_word": int(na_word.sum())}
    if pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s):
        raw = s.astype("str")
        counts["trimmed"] = int((present & (raw.str.strip() != raw)).sum())
    if pd.api.types.is_float_dtype(s):
        counts["float_ids"] = int(s.notna().sum())
    return Parsed(ids, pd.Series(False, index=s.index), {k: v for k, v in counts.items() if v})


def parse_text(s: pd.Series, texts: _Texts | None = None) -> Parsed:
    """Text, trimmed; empty cells missing. ``texts``: the column's :class:`_Texts` when
    already computed."""
    empty, _ = _blank(s, texts)
    if pd.api.types.is_datetime64_any_dtype(s):
        t = s.dt.strftime("%Y-%m-%d").astype("str")
    elif texts is not None:
        t = texts.plain.str.strip()
    else:
        t = privacy._normalize_ids(s).astype("str").str.strip()
    t = t.where(~empty)
    return Parsed(
        t, pd.Series(False, index=s.index), {"blank": int(empty.sum())} if empty.any() else {}
    )


def apply_value_map(s: pd.Series, mapping: Mapping | None) -> tuple[pd.Series, int]:
    """Replace client values by canonical ones (``values:``); returns (series, n replaced).

    Matching ignores case and surrounding spaces; 1, 1.0 and '1' match each other. Values not
    listed are kept as they are.
    """
    if not mapping:
        return s, 0
    lookup = {}
    for canon, clients in mapping.items():
        for c in clients:
            for tok in _yaml_bool_tokens(c):
                lookup[tok] = canon
    tok = _tokens(s)
    hit = tok.isin(set(lookup)).fillna(False)
    if not hit.any():
        return s, 0
    out = s.astype("object").copy()
    out[hit] = tok[hit].map(lookup)
    return out, int(hit.sum())


# --------------------------------------------------------------------------------------------
# rating scales
# --------------------------------------------------------------------------------------------
def _round_half_up(x: pd.Series) -> pd.Series:
    return np.floor(x + 0.5)


def satisfaction_to_five(
    x: pd.Series, scale: tuple[float, float] = (1, 5), satisfied_at: float = 4
) -> pd.Series:
    """Map satisfaction ratings on ``scale`` to the canonical 1-5 scale, keeping who is satisfied.

    The notebooks compute CSAT as the share of 4-5 ratings on a 1-5 scale. A rating ``x`` on the
    client's scale ``[lo, hi]`` with threshold ``t = satisfied_at`` becomes

    * below the threshold (``x < t``): ``1 + 2 (x - lo) / (t - 1 - lo)``, rounded half up and
      kept within 1-3 (all 1 when ``t - 1 <= lo``);
    * at or above it (``x >= t``): ``4 + (x - t) / (hi - t)``, rounded half up and kept within
      4-5 (5 when ``t == hi``).

    So a rating counts as satisfied on 1-5 (4 or 5) exactly when it reached ``satisfied_at`` on
    the client's scale: CSAT is unchanged. On 1-10 with ``satisfied_at: 7``: 1-2 -> 1, 3-4 -> 2,
    5-6 -> 3, 7-8 -> 4, 9-10 -> 5. On 1-5 with 4 it is the identity for whole ratings. Averages
    of several questions are rounded the same way. Values outside ``scale`` must be removed first
    (they give NaN here).
    """
    lo, hi = float(scale[0]), float(scale[1])
    t = float(satisfied_at)
    v = pd.to_numeric(x, errors="coerce").astype("float64")
    v = v.where(v.between(lo, hi))
    span = t - 1 - lo
    below = (1 + 2 * (v - lo) / span) if span > 0 else v * 0 + 1
    below = _round_half_up(below).clip(1, 3)
    above = (4 + (v - t) / (hi - t)) if hi > t else v * 0 + 5
    above = _round_half_up(above).clip(4, 5)
    return below.where(v < t, above).where(v.notna())


def rescale_linear(
    x: pd.Series, scale: tuple[float, float], target: tuple[float, float] = DRIVER_RANGE
) -> pd.Series:
    """Linear map of ``scale`` onto ``target`` (driver ratings: onto 1-5), not rounded.

    ``y = target_lo + (x - lo) (target_hi - target_lo) / (hi - lo)``. Key-driver importance
    (R-squared shares) does not change under a linear map of a driver; the driver means in the
    priority matrix are then on 1-5.
    """
    lo, hi = scale
    a, b = target
    v = pd.to_numeric(x, errors="coerce").astype("float64")
    return a + (v - lo) * (b - a) / (hi - lo)


# --------------------------------------------------------------------------------------------
# mapping one source
# --------------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return re.sub(r"[\s\-./]+", "_", str(name).strip().lower())


def _find(columns: Sequence[str], name: str) -> str | None:
    """The client column called ``name`` (exact, else ignoring case and spaces)."""
    if name in columns:
        return name
    by_norm = {_norm(c): c for c in columns}
    return by_norm.get(_norm(name))


@dataclass
class SourceResult:
    """A source after mapping and coercion (canonical table + what happened to it)."""

    spec: SourceSpec
    raw: RawTable
    table: pd.DataFrame
    used: dict[str, Any]  # canonical -> client column(s) / "generated" / "from date"
    labels: dict[str, str]  # canonical -> "client (canonical)" for messages
    extras: dict[str, str]  # extra column -> type
    pii: dict[str, str]  # column -> reason
    problems: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    survey: dict | None = None
    dropped: set[str] = field(default_factory=set)  # canonical columns 02_data needs in a row
    mappings: dict[str, str] = field(default_factory=dict)  # canonical -> where the config maps it
    unread: dict[str, pd.Series] = field(default_factory=dict)  # required -> values not read
    wrong: set[str] = field(default_factory=set)  # canonical columns probably mapped wrong
    # required -> per row, how the export leaves the value out: '' blank, or the word ('N/A')
    missing_as: dict[str, pd.Series] = field(default_factory=dict)


def _dropped_if_missing(case: str, spec: SourceSpec, present) -> set[str]:
    """The canonical columns of ``spec`` without which ``02_data`` drops a row: the ``required``
    columns of the case's cleaning rules for the source (of its shape: a finance customer list
    with a churn flag has its own rules, :func:`crmlab.sources.variant_rules`), the same rules
    the report's data-quality table calls a missing value an error by."""
    rules = sources.cleaning_rules(case) or {}
    shape = sources.variant_rules(case, {spec.name: pd.DataFrame(columns=list(present))})
    rule = shape.get(spec.name) or rules.get(spec.name) or {}
    return set(rule.get("required", []))


_DROPPED = "rows without {name} cannot be used: 02_data drops them ({name} is required)"


def _dropped_hint(hint: str | Hint, name: str) -> str | Hint:
    """The warning of a check whose values are set to missing, for a column 02_data needs in
    every row (:func:`_dropped_if_missing`): it says first that those rows are then dropped, as
    the blank ones are (the error, which blocks the run, is left as it is)."""
    if not isinstance(hint, Hint):
        return hint
    why = f"rows without {name} cannot be used: {name} is required"
    for start, then in (
        ("set to missing on import", "set to missing on import, so 02_data drops these rows"),
        ("02_data sets them to missing", "02_data sets them to missing, then drops these rows"),
    ):
        if hint.warning.startswith(start):
            rest = hint.warning[len(start) :].lstrip(":;, ")
            return replace(hint, warning=f"{then} ({why})" + (f"; {rest}" if rest else ""))
    return hint


def _fields(spec: SourceSpec, cfg: CaseConfig) -> list[Field]:
    """The source's canonical fields, with the config's drivers for a survey."""
    fields = list(spec.fields)
    if spec.drivers and cfg.drivers:
        fields = [f for f in fields if f.name not in RETAIL_DRIVER_NAMES]
        at = next(i for i, f in enumerate(fields) if f.name == "comment")
        custom = [
            Field(d, "rating", range=DRIVER_RANGE, help=f"driver rating {d}") for d in cfg.drivers
        ]
        fields[at:at] = custom
    return fields


def _resolve(
    cfg: CaseConfig, spec: SourceSpec, fields: list[Field], columns: list[str]
) -> tuple[dict[str, ColumnMap], dict[str, str]]:
    """Canonical field -> ColumnMap for this source, and how each was found.

    Precedence: the source's own ``columns:`` block (and ``drivers:``), then global ``columns:``
    entries whose client column(s) this file has, then a client column with the canonical name.
    """
    own = dict(cfg.columns.get(spec.name, {}))
    if spec.drivers and cfg.drivers:
        own.update(cfg.drivers)
    maps: dict[str, ColumnMap] = {}
    how: dict[str, str] = {}
    names = {f.name for f in fields}
    for canon, m in own.items():
        if canon in names:
            maps[canon], how[canon] = m, "config"
    for canon, m in cfg.global_columns.items():
        if canon in names and canon not in maps and all(_find(columns, c) for c in m.columns):
            maps[canon], how[canon] = m, "config"
    taken = {_find(columns, c) for m in maps.values() for c in m.columns}
    for f in fields:
        if f.name in maps:
            continue
        c = _find(columns, f.name)
        if c is not None and c not in taken:
            maps[f.name], how[f.name] = ColumnMap(f.name, (c,)), "same name"
            taken.add(c)
    return maps, how


_NUMBER_KINDS = ("number", "integer", "rating", "flag")


def _words_hint(name: str) -> Hint:
    """The hint for values of a yes/no or 1/0 column that are neither: the client's own words
    (是/否, 流失/在网) go under ``values:``."""
    words = f"add the client's words: values: {name}: {{true: [...], false: [...]}}"
    return Hint(
        f"set to missing on import; {words}",
        f"{words}, or fix or blank the other values in the export",
    )


MAPPING_SHARE = 0.5
"""A mapped column whose filled values are at least this share not of the field's type at all
(text in a date or number column, not dates in another format nor numbers with a decimal comma)
is probably the wrong column: its problem names the field it is mapped to (``Amount (date)``)
and the hint says to check the mapping first."""


def _wrong_column(s: pd.Series, bad: pd.Series, misread=None) -> tuple[int, int] | None:
    """``(n_bad, n_filled)`` when the ``bad`` values of ``s`` are at least :data:`MAPPING_SHARE`
    of its filled cells (the share the raw pass reports) and ``misread`` (values -> the mask of
    those another reading still cannot read, e.g. with the other decimal mark) leaves most of
    them unread; None otherwise."""
    bad = bad.astype(bool)
    n_bad, n_filled = int(bad.sum()), int((~_blank(s)[0]).sum())
    if not n_bad or n_bad < MAPPING_SHARE * n_filled:
        return None
    if misread is not None and int(misread(s[bad]).sum()) * 2 < n_bad:
        return None
    return n_bad, n_filled


def _other(decimal: str) -> str:
    return "," if decimal == "." else "."


def _mapping_path(cfg: CaseConfig, spec: SourceSpec, canon: str, how: str, col: str) -> str:
    """Where the config maps ``canon`` of ``spec``, as the user finds it in the file:
    ``columns: transactions: date: at config.yaml line 40`` (the source's own block, the
    survey's ``drivers:``, or a ``columns:`` line for every source); for a column taken by its
    name (``how`` == 'same name') that it is not in the config."""
    src, name = spec.name, cfg.path.name
    config_names = [canon] + [a for a, c in SATISFACTION_ALIAS.items() if c == canon]
    keys = []
    if spec.drivers and cfg.drivers and canon in cfg.drivers:
        keys.append(("columns", src, "drivers", canon))
    keys += [("columns", src, n) for n in config_names]
    if how == "config":
        keys += [("columns", n) for n in config_names]
    for key in keys:
        line = cfg.lines.get(key)
        if line is not None:
            return " ".join(f"{k}:" for k in key) + f" at {name} line {line}"
    if how == "same name":
        return (
            f"columns: {src}: {canon}: (not in {name}: the file's column '{col}' was taken for "
            "its name)"
        )
    return f"columns: {src}: {canon}:"


def _not_a_flag(s: pd.Series, vals: pd.Series) -> pd.Series | None:
    """The values of a yes/no (flag) column read as numbers other than 1/0, when they are so
    many (:func:`_wrong_column`) that the column is probably not the flag; None otherwise."""
    other = vals.notna() & ~vals.isin([0, 1])
    return other if _wrong_column(s, other) else None


def _holds_yes_no(values: pd.Series) -> bool:
    """Whether a column holds yes/no values (for a hint only): its first 200 filled values are
    all yes/no words or 1/0."""
    if pd.api.types.is_bool_dtype(values):
        return True
    empty, na_word = _blank(values)
    head = _tokens(values[~empty & ~na_word]).head(200)
    return bool(len(head)) and bool(head.isin(YES | NO).all())


def _not_a_flag_hint(
    s: pd.Series,
    vals: pd.Series,
    bad: pd.Series,
    name: str,
    col: str,
    mapping: str,
    raw: pd.DataFrame,
) -> Hint:
    """The hint for a yes/no field mapped to a column of amounts or counts: what the column
    holds, the mapping to check first and the file's columns that hold yes/no values."""
    frac = bad & (vals % 1 != 0)
    what = "amounts" if frac.sum() * 2 >= bad.sum() else "numbers other than 1/0"
    flags = [c for c in raw.columns if c != col and _holds_yes_no(raw[c])]
    where = (
        f"the columns of the file that hold yes/no values: {', '.join(flags[:6])}"
        if flags
        else "no column of the file holds yes/no values"
    )
    wrong = (
        f"{col} holds {what}{{eg}}, not yes/no values: probably the wrong column is mapped; "
        f"check the mapping first: {mapping} names {col}; {where}"
    )
    return Hint(
        f"02_data sets them to missing; {wrong}",
        wrong,
        {"eg": list(dict.fromkeys(s[bad].astype("str").str.strip()))[:2]},
    )


def _check(name: str, bad: pd.Series, rule: str, hint: str | Hint, always: bool = False):
    """A raw-pass check built from a precomputed mask of bad rows; ``always``: it blocks the run
    at any share (:attr:`crmlab.schemas.Field.blank_means`)."""
    bad = bad.astype(bool)
    return (name, lambda s, bad=bad: ~bad.reindex(s.index, fill_value=False), rule, hint, always)


def _coerce_field(
    raw: pd.DataFrame,
    f: Field,
    m: ColumnMap,
    value_map: Mapping | None,
    spec: SourceSpec,
    decimal: str,
    notes: list[str],
    checks: dict[str, list],
    mapping: str = "",
    suspect: set | None = None,
) -> pd.Series | None:
    """Canonical values of field ``f`` from the client column(s) of ``m``; records the raw-pass
    checks of every client column in ``checks`` and the coercions in ``notes``.

    ``mapping``: where the config maps the field (:func:`_mapping_path`), for the hints; the
    checks whose values show a wrong mapping (:func:`_wrong_column`) are added to ``suspect`` as
    ``(client column, check name)``."""
    src = spec.name
    mapping = mapping or f"columns: {src}: {f.name}:"
    cols = [c for c in (_find(list(raw.columns), c) for c in m.columns) if c is not None]
    if len(cols) < len(m.columns):
        return None  # the raw pass reports the missing column
    where = f"{src}.{f.name}"
    per_col: list[pd.Series] = []
    for col in cols:
        label = f"{src}: column {col}" + (f" ({f.name})" if col != f.name else "")
        s, n_mapped = apply_value_map(raw[col], value_map)
        if n_mapped:
            notes.append(f"{label}: {n_mapped:,} value(s) replaced as listed under values:.")
        c_checks = checks.setdefault(col, [])
        if f.kind in _NUMBER_KINDS:
            words = f.kind == "flag" and not pd.api.types.is_numeric_dtype(s)
            if words:  # a flag written as words: yes/no first, numbers for the rest
                b = parse_bools(s)
                num = parse_numbers(s, decimal)
                vals = (
                    b.values.astype("Float64").astype("float64").where(b.values.notna(), num.values)
                )
                bad = b.bad & num.bad
                p = Parsed(vals, bad, num.counts)
            else:
                p = parse_numbers(s, decimal)
            _number_notes(p, label, notes)
            what = "not a number"
            if words:  # 流失/在网: the client's yes and no, not broken numbers
                what, hint = "neither 1/0 nor a yes/no word", _words_hint(f.name)
            elif f.kind == "rating":
                how = f"map text labels to numbers under values: {f.name}: {{NUMBER: [labels]}}"
                hint = Hint(
                    f"set to missing on import; {how}",
                    f"{how}, or fix or blank the other values in the export",
                )
            else:
                how = (
                    "numbers may have blanks, thousands separators, currency or % signs; "
                    f"for a decimal comma set decimal: ',' under data: {src}"
                )
                wrong = f.kind in ("number", "integer") and _wrong_column(
                    s, p.bad, lambda v: parse_numbers(v, _other(decimal)).bad
                )
                if wrong:
                    n_bad, n_filled = wrong
                    which = (
                        "none of the values are numbers"
                        if n_bad == n_filled
                        else f"{n_bad:,} of the {n_filled:,} values are not numbers"
                    )
                    error = (
                        f"{which}: probably the wrong column is mapped; check the mapping "
                        f"first: {mapping} names {col}; else {how}"
                    )
                    if suspect is not None:
                        suspect.add((col, "number"))
                else:
                    error = (
                        "this many values that are not numbers usually mean a wrong column or "
                        f"a decimal comma: check {mapping}; {how}; fix or blank the other "
                        "values in the export"
                    )
                hint = Hint(f"set to missing on import; {how}", error)
            c_checks.append(_check("number", p.bad, what, hint))
            vals = p.values
            not_flag = _not_a_flag(s, vals) if f.kind == "flag" else None
            if not_flag is not None:  # amounts or counts mapped to a yes/no field
                hint = _not_a_flag_hint(s, vals, not_flag, f.name, col, mapping, raw)
                c_checks.append(_check("flag", not_flag, "a number, not 1/0 or yes/no", hint))
                if suspect is not None:
                    suspect.add((col, "flag"))
            elif f.kind in ("integer", "flag"):
                frac = vals.notna() & (vals % 1 != 0)
                hint = Hint(
                    "kept as they are; check the column",
                    f"{f.name} counts whole things: check that columns: {src}: {f.name}: "
                    "names the right column, or round the values in the export",
                )
                if _wrong_column(s, frac):
                    hint = replace(
                        hint,
                        error=f"{col} holds amounts{{eg}}, not whole "
                        f"numbers: probably the wrong column is mapped; check the mapping first: "
                        f"{mapping} names {col}; else round the values in the export",
                        examples={"eg": list(dict.fromkeys(s[frac].astype("str").str.strip()))[:2]},
                    )
                    if suspect is not None:
                        suspect.add((col, "whole"))
                c_checks.append(_check("whole", frac, "not a whole number", hint))
            scale = m.scale
            if not_flag is not None:
                pass  # one cause, one problem: the range 0-1 is the check above
            elif scale is not None:
                out = vals.notna() & ~vals.between(*scale)
                c_checks.append(
                    _check(
                        "in_scale",
                        out,
                        f"outside the scale {scale[0]:g}-{scale[1]:g} given in the config",
                        Hint(
                            "set to missing on import; check scale: under columns:",
                            "check scale: under columns: (the client's scale, lowest and "
                            "highest answer) and the column; or fix the values in the export",
                        ),
                    )
                )
                if out.any():
                    notes.append(
                        f"{label}: {int(out.sum()):,} rating(s) outside the scale "
                        f"{scale[0]:g}-{scale[1]:g} set to missing."
                    )
                vals = vals.where(~out)
            elif f.range is not None:
                lo, hi = f.range
                out = vals.notna() & ((vals < lo) if lo is not None else False)
                out |= vals.notna() & ((vals > hi) if hi is not None else False)
                rng = f"{lo:g}-{hi:g}" if lo is not None and hi is not None else f">= {lo:g}"
                give = ""
                if f.kind == "rating" and spec.drivers and f.name != "recommend":
                    give = f"columns: {src}: " + (
                        "satisfaction: {column: ..., scale: [1, 10], satisfied_at: 7}"
                        if f.name == "overall_satisfaction"
                        else f"drivers: {f.name}: {{column: ..., scale: [1, 10]}}"
                    )
                hint = Hint(
                    "02_data sets them to missing"
                    + (f"; if the client's scale is not {rng}, give it: {give}" if give else ""),
                    f"this many values outside {rng} mean "
                    + (
                        f"the client's scale is probably not {rng}: give it: {give}"
                        if give
                        else f"a wrong column or unit: check columns: {src}: {f.name}:"
                    ),
                )
                standard = {"overall_satisfaction", "recommend", *RETAIL_DRIVER_NAMES}
                if f.kind == "rating" and spec.drivers and f.name not in standard:
                    # 02_data's cleaning rules know the standard driver names only: a driver
                    # under another name is cleaned here, with a note
                    hint = Hint(
                        f"set to missing on import (a driver rating is {rng})",
                        f"a driver rating is {rng}: the client's scale is probably another "
                        f"one: give it: {give}",
                    )
                    if out.any():
                        notes.append(
                            f"{label}: {int(out.sum()):,} rating(s) outside {rng} set to missing."
                        )
                    vals = vals.where(~out)
                c_checks.append(_check("in_range", out, f"outside the allowed range {rng}", hint))
            per_col.append(vals)
        elif f.kind == "date":
            p = parse_dates(s, m.format, m.dayfirst)
            _date_notes(p, label, notes, m.format)
            hint, wrong = _date_hint(s, p, m, src, f.name, col, mapping, raw, f.blank_means)
            if wrong and suspect is not None:
                suspect.add((col, "date"))
            rule = "not a date" + (f" in format {m.format}" if m.format else "")
            c_checks.append(_check("date", p.bad, rule, hint, always=bool(f.blank_means)))
            per_col.append(p.values)
        elif f.kind == "bool":
            p = parse_bools(s, None)
            _bool_notes(p, label, notes)
            c_checks.append(
                _check(
                    "yes_no",
                    p.bad,
                    "not a yes/no value",
                    _words_hint(f.name),
                )
            )
            per_col.append(p.values)
        elif f.kind == "month":
            p = parse_months(s)
            c_checks.append(
                _check(
                    "month",
                    p.bad,
                    "not a month (YYYY-MM)",
                    Hint(
                        "set to missing on import; write months as 2025-05 or give dates",
                        f"check columns: {src}: {f.name}:; write months as 2025-05 (or give "
                        "dates) in the export, or blank the other values",
                    ),
                )
            )
            per_col.append(p.values)
        elif f.kind == "id":
            p = parse_ids(s)
            if p.counts.get("trimmed"):
                notes.append(
                    f"{label}: {p.counts['trimmed']:,} id(s) with spaces around them trimmed "
                    "(' C001 ' -> 'C001': the same customer as 'C001')."
                )
            if p.counts.get("float_ids"):
                notes.append(
                    f"{label}: ids stored as decimal numbers written as whole numbers "
                    "(1001.0 -> 1001)."
                )
            per_col.append(p.values)
        else:  # text, category
            p = parse_text(s)
            if f.categories:
                allowed = set(f.categories)
                outside = p.values.notna() & ~p.values.str.lower().isin(allowed)
                c_checks.append(
                    _check(
                        "category",
                        outside,
                        f"not one of {', '.join(f.categories)}",
                        Hint(
                            "set to missing on import; map the client's labels: values: "
                            f"{f.name}: {{{f.categories[0]}: [...], ...}}",
                            f"map the client's labels: values: {f.name}: "
                            f"{{{f.categories[0]}: [...], ...}}, or fix them in the export",
                        ),
                    )
                )
                if outside.any():
                    notes.append(
                        f"{label}: {int(outside.sum()):,} value(s) not among "
                        f"{', '.join(f.categories)} set to missing."
                    )
                p = Parsed(p.values.str.lower().where(~outside), p.bad)
            per_col.append(p.values)
    if len(per_col) == 1:
        values = per_col[0]
    else:
        frame = pd.concat(per_col, axis=1)
        values = frame.mean(axis=1, skipna=True)
        partial = frame.notna().any(axis=1) & frame.isna().any(axis=1)
        notes.append(
            f"{where} = mean of {', '.join(cols)} (the answered ones"
            + (f"; {int(partial.sum()):,} row(s) had only some answered" if partial.any() else "")
            + ")."
        )
    return values


def _number_notes(p: Parsed, label: str, notes: list[str]) -> None:
    c = p.counts
    if c.get("blank"):
        notes.append(f"{label}: {c['blank']:,} blank value(s) in a numeric column set to missing.")
    if c.get("na_word"):
        notes.append(f"{label}: {c['na_word']:,} value(s) such as 'N/A' or '-' set to missing.")
    words = {
        "thousands": "had thousands separators removed",
        "currency": "had a currency sign or code removed",
        "percent": "were percentages, divided by 100",
        "parentheses": "in parentheses read as negative (accounting style)",
        "decimal_comma": "had a decimal comma read as a decimal point",
    }
    for k, text in words.items():
        if c.get(k):
            ex = p.example.get(k)
            eg = f" (e.g. '{ex[0]}' -> {ex[1]:.15g})" if ex else ""  # as stored: 805536.46
            notes.append(f"{label}: {c[k]:,} value(s) {text}{eg}.")
    if p.bad.any():
        notes.append(f"{label}: {int(p.bad.sum()):,} value(s) that are not numbers set to missing.")


def _date_notes(p: Parsed, label: str, notes: list[str], fmt: str | None) -> None:
    c = p.counts
    if c.get("blank"):
        notes.append(f"{label}: {c['blank']:,} blank date(s) left missing.")
    if c.get("na_word"):
        notes.append(f"{label}: {c['na_word']:,} value(s) such as 'N/A' read as missing dates.")
    words = {
        "yyyymmdd": "were YYYYMMDD numbers or text (e.g. 20240501)",
        "excel_serial": "were Excel serial day numbers (days since 1899-12-30)",
        "chinese": "were written like 2024年5月1日",
        "format": f"were read with the format {fmt}",
        "other_format": "were in other formats, read one by one",
    }
    for k, text in words.items():
        if c.get(k):
            notes.append(f"{label}: {c[k]:,} date(s) {text}.")
    if c.get("dayfirst_detected"):
        notes.append(
            f"{label}: values such as 13/01/2024 show the dates are written day first; "
            "all such dates were read day first."
        )
    if c.get("ambiguous"):
        order = "day first" if c.get("_dayfirst") else "month first"
        notes.append(
            f"{label}: {c['ambiguous']:,} date(s) such as 05/01/2024 could be read either way; "
            f"read {order} (set dayfirst: or format: under columns: to change)."
        )
    if p.bad.any():
        notes.append(f"{label}: {int(p.bad.sum()):,} value(s) that are not dates set to missing.")


_YMD_RE = r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$"
_DMY_RE = r"^(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})$"


def guess_date_format(texts: pd.Series, dayfirst: bool = False) -> str | None:
    """The one date format all of ``texts`` are written in, from their separators and the
    order of year, month and day: ``%Y%m%d``, ``%Y-%m-%d`` (any of ``- / .``), ``%d/%m/%Y`` or
    ``%m/%d/%Y`` (a day above 12 in either place decides; else ``dayfirst``), two-digit years as
    ``%y``, ``%Y年%m月%d日``. None when the values are written in several ways, hold a time, or
    the format does not read every one of them (so a suggested format never breaks a date that
    was read)."""
    t = texts.dropna().astype("str").str.strip()
    t = t[t != ""]
    if t.empty:
        return None
    fmt = None
    if t.str.fullmatch(r"(19|20)\d{6}").all():
        fmt = "%Y%m%d"
    elif t.str.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日").all():
        fmt = "%Y年%m月%d日"
    else:
        ymd = t.str.extract(_YMD_RE)
        dmy = t.str.extract(_DMY_RE)
        if ymd[0].notna().all() and ymd[1].nunique() == 1:
            sep = ymd[1].iloc[0]
            fmt = f"%Y{sep}%m{sep}%d"
        elif dmy[0].notna().all() and dmy[1].nunique() == 1 and dmy[3].str.len().nunique() == 1:
            sep, year = dmy[1].iloc[0], "%Y" if len(dmy[3].iloc[0]) == 4 else "%y"
            first, second = dmy[0].astype("int64"), dmy[2].astype("int64")
            if (first > 12).any() and (second > 12).any():
                return None
            day_first = True if (first > 12).any() else False if (second > 12).any() else dayfirst
            fmt = f"%d{sep}%m{sep}{year}" if day_first else f"%m{sep}%d{sep}{year}"
    if fmt is None or pd.to_datetime(t, format=fmt, errors="coerce").isna().any():
        return None
    return fmt


def _date_hint(
    s: pd.Series,
    p: Parsed,
    m: ColumnMap,
    src: str,
    name: str,
    col: str,
    mapping: str = "",
    raw: pd.DataFrame | None = None,
    blank_means: str = "",
) -> tuple[Hint, bool]:
    """The hint for values of a date column that were not read as dates, worded for a warning
    (they are set to missing on import) and for an error (the run stops: fix them). It says what
    the values are: not dates at all (text such as 'unknown', or impossible dates), or dates
    written in another format - and suggests a format only when one, derived from the values
    themselves (:func:`guess_date_format`), reads them and the dates that were read.

    Returns ``(hint, wrong column)``: when most values are not dates at all
    (:func:`_wrong_column`), the column is probably the wrong one - the error says to check the
    mapping (``mapping``, :func:`_mapping_path`) first and names the columns of ``raw`` (the
    file) that hold dates.

    ``blank_means`` (:attr:`crmlab.schemas.Field.blank_means`): what a blank value means; the
    error then says why the values cannot be blanked or set to missing, and what to write."""
    bad = p.bad.astype(bool)
    if not bad.any():
        return Hint("", ""), False
    fmt = m.format
    bad_text = _text(s[bad])
    read = p.values.notna()
    _, is_num, is_text = _split_object(s)
    read_text = _text(s[read & (is_num | is_text)])
    # dates in another format: what crmlab reads by itself when no format: is given
    other = parse_dates(s[bad], None, m.dayfirst).values.notna() if fmt else bad_text.isna()
    dayfirst = m.dayfirst or bool(p.counts.get("_dayfirst"))
    suggest, fixed = None, pd.Series(False, index=bad_text.index)
    if fmt is None:
        guess = guess_date_format(read_text, dayfirst)
        if guess is not None:
            fixed = pd.to_datetime(bad_text, format=guess, errors="coerce").notna()
            suggest = guess if fixed.any() else None
    elif other.any():
        written = bad_text[other] if not read.any() else pd.concat([read_text, bad_text[other]])
        suggest = guess_date_format(written, dayfirst)
    not_dates = bad_text[~other & ~fixed]
    times = not_dates[not_dates.str.match(_TIME_ONLY_RE.pattern, case=False)]  # '12:00'
    not_dates = not_dates[~not_dates.index.isin(times.index)]
    impossible = not_dates[not_dates.str.match(_DATE_LIKE)]  # shaped like dates: 32/13/2024
    not_dates = not_dates[~not_dates.str.match(_DATE_LIKE)]  # text: 'unknown', 'yesterday'
    examples = {
        "eg": list(dict.fromkeys(not_dates))[:2],
        "eg_impossible": list(dict.fromkeys(impossible))[:2],
        "eg_other": list(dict.fromkeys(bad_text[other]))[:2],
        "eg_times": list(dict.fromkeys(times))[:2],
    }
    warn, err = [], []
    if fmt is not None and other.any():
        n_other = int(other.sum())
        if suggest is not None:
            remedy = f"give format: '{suggest}' (the way the dates are written)"
        elif not parse_dates(s, None, m.dayfirst).bad.any():
            remedy = "remove format: (each date is then read by its own shape)"
        else:
            remedy = "write them all one way in the export"
        if not read.any():
            what = f"none of the values match '{fmt}': they are dates written like "
            what += f"'{bad_text[other].iloc[0]}'; {remedy}"
        else:
            what = f"{n_other:,} value(s) are dates in another format{{eg_other}}: {remedy}"
        warn.append(what)
        err.append(what)
    if fixed.any():
        what = (
            f"{int(fixed.sum()):,} value(s) read with the format the others are written in: "
            f"columns: {src}: {name}: {{column: {col}, format: '{suggest}'}}"
        )
        warn.append(what)
        err.append(what)
    wrong = []
    if len(not_dates):
        wrong.append(f"{len(not_dates):,} value(s) are not dates at all{{eg}}")
    if len(impossible):
        wrong.append(f"{len(impossible):,} value(s) are impossible dates{{eg_impossible}}")
    if len(times):
        wrong.append(f"{len(times):,} value(s) are times of day without a date{{eg_times}}")
    text = pd.Series(False, index=s.index)
    text[not_dates.index] = True
    wrong_column = _wrong_column(s, text)
    if wrong and blank_means:  # 已销户 in a closure date: blank would mean still open
        err.append(
            " and ".join(wrong)
            + f": a blank {name} means {blank_means}, so they cannot be set to missing (the "
            + f"rows would read as if {blank_means}): write the date in {col}, or leave it "
            + f"blank only if {blank_means}"
        )
        warn.append(err[-1])
    elif wrong:
        warn.append(" and ".join(wrong) + ": fix them in the export to keep them")
        err.append(" and ".join(wrong) + ": fix them in the export or blank them")
    if wrong_column:
        n_text, n_filled = wrong_column
        dated = [] if raw is None else [c for c in raw.columns if c != col and _holds_dates(raw[c])]
        err[-1] = (
            (
                "none of the values are dates{eg}"
                if n_text == n_filled
                else f"{n_text:,} of the {n_filled:,} values are not dates at all{{eg}}"
            )
            + ": probably the wrong column is mapped; check the mapping first: "
            + f"{mapping or f'columns: {src}: {name}:'} names {col}; "
            + (
                f"the columns of the file that hold dates: {', '.join(dated[:6])}"
                if dated
                else "no column of the file holds dates"
            )
            + ("" if n_text == n_filled else "; else fix them in the export or blank them")
            + (
                f"; and {len(impossible):,} value(s) are impossible dates{{eg_impossible}}"
                if len(impossible)
                else ""
            )
        )
    if read.any():
        others = f"the others match '{fmt}'" if fmt else "the others are read as dates"
        warn.append(others)
        err.append(others)
    hint = Hint("set to missing on import: " + "; ".join(warn), "; ".join(err), examples)
    return hint, wrong_column is not None


def _bool_notes(p: Parsed, label: str, notes: list[str]) -> None:
    c = p.counts
    if c.get("blank"):
        notes.append(f"{label}: {c['blank']:,} blank yes/no value(s) left missing.")
    if c.get("words"):
        notes.append(
            f"{label}: {c['words']:,} yes/no word(s) such as yes/no, Y/N, 1/0, 是/否 read as "
            "true/false."
        )
    if p.bad.any():
        notes.append(f"{label}: {int(p.bad.sum()):,} value(s) that are not yes/no set to missing.")


def _auto_type(s: pd.Series, decimal: str, label: str, notes: list[str]) -> tuple[pd.Series, str]:
    """Type an extra column: yes/no words, numbers, dates (text with separators), else text.

    Conversions from text are reported in ``notes`` like those of canonical columns.
    """
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), "yes/no"
    if pd.api.types.is_datetime64_any_dtype(s):
        return s, "date"
    if pd.api.types.is_numeric_dtype(s):
        return s, "number"
    # every reader below needs the values as normalized text: computed once (:class:`_Texts`)
    texts = _Texts.of(s) if _texty(s) else None
    empty, na_word = _blank(s, texts)
    filled = ~empty & ~na_word
    if not filled.any():
        return parse_text(s, texts).values, "text (empty)"
    tok = _tokens(s[filled]) if texts is None else texts.lower[filled]
    words = tok[~tok.str.fullmatch(r"[+-]?\d+(\.\d+)?")]
    if len(words) and tok.isin(YES | NO).all():
        p = parse_bools(s)
        _bool_notes(p, label, notes)
        return p.values, "yes/no"
    if _may_be_numbers(s, filled, decimal, texts):
        p = parse_numbers(s, decimal, texts)
        if not p.bad[filled].any():
            _number_notes(p, label, notes)
            return p.values, "number"
    if _may_be_dates(s[filled]):  # parse_dates reads value by value: only where it may pay
        d = parse_dates(s)
        if _dated(s, d, filled) >= AUTO_DATE_SHARE * int(filled.sum()):
            _date_notes(d, label, notes, None)
            return d.values, "date"
    return parse_text(s, texts).values, "text"


def _may_be_numbers(
    s: pd.Series, filled: pd.Series, decimal: str, texts: _Texts | None, sample: int = 200
) -> bool:
    """Whether every ``filled`` value of ``s`` may read as a number: the first ``sample`` do
    (:func:`parse_numbers` reads each value on its own, so one that fails there fails in the
    whole column: a column of free-text comments is known to be no number column from its first
    values, without the regular expressions on all of them)."""
    positions = np.flatnonzero(filled.to_numpy())[:sample]
    head = parse_numbers(s.iloc[positions], decimal, texts.take(positions) if texts else None)
    return not bool(head.bad.any())


def _may_be_dates(filled: pd.Series, sample: int = 200) -> bool:
    """Whether a column's filled values could reach :data:`AUTO_DATE_SHARE` of dates: at
    least that share of the first ``sample`` are stored as dates, are numbers, or are text
    written like a date (:data:`_DATE_SHAPE`) - a cheap look before :func:`parse_dates`, which
    on a column of free-text comments would cost seconds for nothing."""
    head = filled.head(sample)
    is_date, is_num, is_text = _split_object(head)
    shaped = _text(head[is_text]).str.match(_DATE_SHAPE).reindex(head.index, fill_value=False)
    return bool((is_date | is_num | shaped.astype(bool)).mean() >= AUTO_DATE_SHARE)


AUTO_DATE_SHARE = 0.95
"""An extra column (``features: auto``) becomes a date column when at least this share of its
filled values are written like dates and read as dates by :func:`parse_dates` - the reading of
a mapped date column (mixed formats: ``2025/3/1``, ``2025年3月1日``, ``2025-03-01``,
``20250301``); the others are set to missing, with a note."""

_DATE_SHAPE = re.compile(
    r"^(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}|\d{8}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}\s+[a-z]{3,}\.?,?\s+\d{4}|[a-z]{3,}\.?\s+\d{1,2},?\s+\d{4})(?!\d)",
    re.IGNORECASE,
)
"""How a date is written, for the automatic typing of an extra column: year-month-day with
separators or in Chinese, YYYYMMDD, day and month with a year, or a month's name with a day and
a year. A month (``2025-03``), a band (``25-34``) or a number is not."""


def _dated(s: pd.Series, d: Parsed, filled: pd.Series) -> int:
    """How many ``filled`` values of ``s`` are dates: read by ``d`` (:func:`parse_dates`) and
    stored as dates, YYYYMMDD numbers, or text written like a date (:data:`_DATE_SHAPE`) -
    not Excel serial numbers, which an extra column of amounts or counts would hold too."""
    is_date, is_num, is_text = _split_object(s)
    read = d.values.notna() & filled
    text = read & is_text
    shaped = _text(s[text]).str.match(_DATE_SHAPE).reindex(s.index, fill_value=False)
    whole = pd.to_numeric(s.where(read & is_num), errors="coerce")
    ymd = whole.between(19000101, 21001231) & (whole % 1 == 0)
    return int((read & is_date).sum() + shaped.astype(bool).sum() + ymd.sum())


def _map_source(cfg: CaseConfig, spec: SourceSpec, raw: RawTable) -> SourceResult:
    """Map, check (raw pass) and coerce one source; see the module docstring."""
    src = spec.name
    df = raw.frame
    columns = list(df.columns)
    fields = _fields(spec, cfg)
    maps, how = _resolve(cfg, spec, fields, columns)
    notes: list[str] = []
    checks: dict[str, list] = {}
    used: dict[str, Any] = {}
    labels: dict[str, str] = {}
    table = pd.DataFrame(index=df.index)
    required_absent: dict[str, str] = {}
    source_opts = cfg.sources[src]
    survey: dict | None = None
    extra_problems: list[dict] = []
    # mapped client columns must exist
    absent_hints: dict[str, str] = {}
    kinds = {f.name: f for f in fields}
    for canon, m in maps.items():
        for c in m.columns:
            if _find(columns, c) is None:
                checks.setdefault(c, [])
                absent_hints[c] = _absent_hint(c, columns, src, kinds.get(canon), df)
    needed = _dropped_if_missing(cfg.case, spec, maps)
    mappings = {
        canon: _mapping_path(cfg, spec, canon, how.get(canon, ""), m.columns[0])
        for canon, m in maps.items()
    }
    suspect: set[tuple[str, str]] = set()  # (client column, check): probably a wrong mapping
    owner: dict[tuple[str, str], str] = {}  # (client column, check) -> canonical field
    for f in fields:
        m = maps.get(f.name)
        if m is None:
            continue
        value_map = cfg.values_for(src, f.name)
        before = {c: len(v) for c, v in checks.items()}
        coerce = {"mapping": mappings[f.name], "suspect": suspect}
        if f.kind == "bool" and value_map:
            vals = _coerce_bool_mapped(df, f, m, value_map, raw, notes, checks, extra_problems)
        elif f.kind == "rating" and f.name == "overall_satisfaction":
            vals, survey = _coerce_satisfaction(
                df, f, m, value_map, spec, source_opts, notes, checks
            )
        elif f.kind == "rating" and m.scale is not None and f.name == "recommend":
            extra_problems.append(
                problem(
                    src,
                    raw.file,
                    ", ".join(m.columns),
                    "scale: given for recommend",
                    "recommend must be the 0-10 likelihood-to-recommend answer (NPS); remove "
                    "scale:",
                )
            )
            vals = None
        elif f.kind == "rating" and m.scale is not None:
            vals = _coerce_field(
                df, f, m, value_map, spec, source_opts.decimal, notes, checks, **coerce
            )
            if vals is not None:
                target = f.range or DRIVER_RANGE
                vals = rescale_linear(vals, m.scale, target)
                notes.append(
                    f"{src}.{f.name}: ratings on {m.scale[0]:g}-{m.scale[1]:g} mapped "
                    f"linearly onto {target[0]:g}-{target[1]:g} (not rounded)."
                )
        else:
            vals = _coerce_field(
                df, f, m, value_map, spec, source_opts.decimal, notes, checks, **coerce
            )
        for c, added in checks.items():
            for i in range(before.get(c, 0), len(added)):
                check, fn, rule, hint, *always = added[i]
                owner[(c, check)] = f.name
                if f.name in needed:
                    added[i] = (check, fn, rule, _dropped_hint(hint, f.name), *always)
        if vals is None:
            continue
        if f.kind == "integer" and vals.notna().all() and (vals % 1 == 0).all():
            vals = vals.astype("int64")
        if f.kind == "flag":
            vals = vals.astype("int64") if vals.notna().all() else vals.astype("float64")
        table[f.name] = vals
        used[f.name] = list(m.columns) if m.averaged else m.columns[0]
        client = ", ".join(_find(columns, c) or c for c in m.columns)
        labels[f.name] = client if client == f.name else f"{client} ({f.name})"
        if how.get(f.name) == "same name" and m.columns[0] != f.name:
            notes.append(f"{src}: column '{m.columns[0]}' used as {f.name} (same name).")
    # derived columns
    if spec.key and spec.key not in table and spec.key_generated:
        table[spec.key] = [f"{src}-{i + raw.row_offset}" for i in range(len(df))]
        used[spec.key] = "generated from row numbers"
        notes.append(
            f"{src}: no {spec.key} column; each row numbered by its row in the file "
            f"({src}-{raw.row_offset} ...)."
        )
    if spec.drivers and "wave" not in table and "date" in table:
        table["wave"] = table["date"].dt.strftime("%Y-%m").astype("str")
        used["wave"] = "month of date"
        notes.append(f"{src}: no wave column; wave = month of the answer date (YYYY-MM).")
    if "cancelled" in table:
        cancelled = table["cancelled"].fillna(False).astype(bool)
        if cancelled.any():
            notes.append(
                f"{src}: {int(cancelled.sum()):,} cancelled order(s) dropped "
                f"({labels['cancelled']} = yes)."
            )
        table = table[~cancelled].drop(columns="cancelled")
    if "amount" in table and spec.name == "transactions":
        neg = int((table["amount"] < 0).sum())
        if neg:
            notes.append(f"{src}: {neg:,} negative amount(s) kept: returns (02_data flags them).")
    # missing required columns
    required = spec.required_names(maps)
    for f in fields:
        if f.name in required and f.name not in table and f.name not in maps:
            required_absent[f.name] = _missing_hint(spec, f, columns)
    # extra columns
    consumed = {_find(columns, c) for m in maps.values() for c in m.columns}
    extras: dict[str, str] = {}
    wanted = cfg.features_for(src)
    pii_listed = [c for c in cfg.pii if c in columns]
    detected = privacy.detect_pii_columns(df)
    pii = {c: "listed under pii:" for c in pii_listed}
    pii.update({c: f"detected ({why})" for c, why in detected.items() if c not in pii})
    for c in columns:
        if c in consumed:
            continue
        keep = (
            wanted == "auto"
            or (isinstance(wanted, list) and c in wanted)
            or c in pii_listed  # pseudonymized below, dropped by 02_data if detected
        )
        if not keep:
            continue
        if c in table.columns or c in {f.name for f in fields}:
            notes.append(
                f"{src}: column '{c}' not kept: its name is a canonical column taken from "
                "another column."
            )
            continue
        if c in pii:  # personal data stays text (a phone number is not a number)
            table[c] = parse_ids(df[c].loc[table.index]).values
            extras[c] = "personal data (pseudonymized)"
            continue
        label = f"{src}: extra column {c}"
        vals, kind = _auto_type(df[c].loc[table.index], source_opts.decimal, label, notes)
        table[c] = vals
        extras[c] = kind
    # personal data among the mapped columns (e.g. phone numbers used as customer numbers)
    for canon, m in maps.items():
        f = next((f for f in fields if f.name == canon), None)
        client = [_find(columns, c) for c in m.columns]
        if f is not None and f.kind in ("id", "text") and canon in table:
            hit = [c for c in client if c in pii]
            if hit:
                pii[canon] = pii[hit[0]]
    pii = {c: why for c, why in pii.items() if c in table.columns}
    dropped = [c for c in columns if c not in consumed and c not in table.columns]
    if dropped and wanted != "auto":
        notes.append(
            f"{src}: {len(dropped)} column(s) not listed under features: left out "
            f"({', '.join(dropped[:10])}{' ...' if len(dropped) > 10 else ''})."
        )
    if isinstance(wanted, list):
        missing = [c for c in wanted if c not in columns]
        for c in missing:
            extra_problems.append(
                problem(
                    src,
                    raw.file,
                    c,
                    "column listed under features: is missing",
                    "check the name",
                    n_rows=0,
                )
            )
    redact = set(pii_listed) | set(detected)
    id_columns = (
        {_find(columns, c) or c for c in maps["customer_id"].columns}
        if "customer_id" in maps
        else set()
    )
    # the raw pass
    n_filled = {c: int((~_blank(df[c])[0]).sum()) for c in checks if c in df.columns}
    bundle = raw_schema(
        src,
        raw.file,
        {c: v for c, v in checks.items() if c in df.columns or not v},
        required_absent,
        n_filled,
        raw.row_offset,
        sorted(redact | id_columns | {"customer_id"}),
        absent_hints=absent_hints,
    )
    for key in suspect:  # a probably wrong mapping: name the field, as the canonical pass does
        if key in bundle.rules and key in owner:
            rule = bundle.rules[key]
            bundle.rules[key] = replace(rule, column=f"{rule.column} ({owner[key]})")
    problems = extra_problems + run_schema(bundle, df)
    # values of the client's columns that are there but could not be used (reported above):
    # the canonical pass's 'required value missing' counts the others - blank cells and words
    # such as 'N/A', which the import reads as missing
    unread, missing_as = {}, {}
    for canon in spec.required_names(table.columns) & set(table.columns):
        cells = [df[c] for c in (_find(columns, c) for c in maps[canon].columns) if c is not None]
        words = [_missing_word(c.loc[table.index]) for c in cells]
        left_out = pd.concat(words, axis=1).notna().all(axis=1)
        word = words[0]
        for w in words[1:]:  # averaged columns: the first word, if any cell holds one
            word = word.mask(word.eq("").fillna(False), w)
        unread[canon] = table[canon].isna() & ~left_out
        missing_as[canon] = word.where(left_out)
    ordered = [f.name for f in fields if f.name in table] + [
        c for c in table if c not in {f.name for f in fields}
    ]
    table = table[ordered]
    drivers = [
        f.name
        for f in fields
        if f.name in table and (f.name in RETAIL_DRIVER_NAMES or f.name in (cfg.drivers or {}))
    ]
    return SourceResult(
        spec,
        raw,
        table,
        used,
        labels,
        extras,
        pii,
        problems,
        notes,
        drivers,
        survey,
        needed,
        mappings,
        unread,
        {owner[k] for k in suspect if k in owner},
        missing_as,
    )


def _coerce_bool_mapped(df, f, m, value_map, raw, notes, checks, problems) -> pd.Series | None:
    col = _find(list(df.columns), m.columns[0])
    if col is None:
        return None
    bad_keys = [k for k in value_map if _as_bool_key(k) is None]
    if bad_keys:
        problems.append(
            problem(
                raw.source,
                raw.file,
                col,
                f"values: {f.name}: {bad_keys} are not true/false",
                f"write values: {f.name}: {{true: [...], false: [...]}}",
            )
        )
        return None
    p = parse_bools(df[col], value_map)
    label = f"{raw.source}: column {col}" + (f" ({f.name})" if col != f.name else "")
    if p.counts.get("mapped"):
        notes.append(
            f"{label}: {p.counts['mapped']:,} value(s) read as yes/no as listed under values:."
        )
    _bool_notes(p, label, notes)
    checks.setdefault(col, []).append(
        _check(
            "yes_no",
            p.bad,
            "not a yes/no value",
            _words_hint(f.name),
        )
    )
    return p.values


def _coerce_satisfaction(df, f, m, value_map, spec, opts, notes, checks):
    """overall_satisfaction on the canonical 1-5 scale (see :func:`satisfaction_to_five`)."""
    scale = m.scale or (1.0, 5.0)
    sat = m.satisfied_at if m.satisfied_at is not None else (4.0 if scale == (1.0, 5.0) else None)
    m0 = ColumnMap(m.field, m.columns, scale=m.scale)
    vals = _coerce_field(df, f, m0, value_map, spec, opts.decimal, notes, checks)
    if vals is None:
        return None, None
    in_scale = vals.between(*scale)
    mapped = satisfaction_to_five(vals.where(in_scale), scale, sat)
    out = vals.where(~in_scale, mapped)  # out-of-range values (no scale given) stay for 02_data
    changed = in_scale & (mapped != vals)
    info = {
        "columns": list(m.columns),
        "scale": list(scale),
        "satisfied_at": sat,
        "canonical": "1-5, satisfied = 4 or 5",
    }
    if scale != (1.0, 5.0) or sat != 4.0:
        grid = np.arange(scale[0], scale[1] + 1)
        table = dict(
            zip(
                grid.tolist(),
                satisfaction_to_five(pd.Series(grid), scale, sat).tolist(),
                strict=True,
            )
        )
        info["mapping"] = {f"{k:g}": int(v) for k, v in table.items()}
        notes.append(
            f"{spec.name}.overall_satisfaction: ratings on {scale[0]:g}-{scale[1]:g} with "
            f"{sat:g}+ satisfied mapped onto 1-5 with 4+ satisfied, so CSAT is unchanged: "
            + ", ".join(f"{k:g}->{int(v)}" for k, v in table.items())
            + "."
        )
    elif changed.any():
        notes.append(
            f"{spec.name}.overall_satisfaction: {int(changed.sum()):,} non-whole rating(s) "
            "rounded (below 4 kept below 4)."
        )
    return out, info


_DATE_LIKE = re.compile(
    r"^(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}|\d{8}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d)"
)


def _holds_dates(values: pd.Series) -> bool:
    """Whether a column looks like dates (for a hint only): stored as dates, or its first 50
    filled values all written like 2024-01-05, 2024/1/5, 2024年1月5日, 20240105 or 05.01.2024."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    head = values.dropna().astype("str").str.strip()
    head = head[head != ""].head(50)
    return bool(len(head)) and bool(head.str.match(_DATE_LIKE).all())


def _absent_hint(
    name: str, columns: list[str], source: str = "", field: Field | None = None, df=None
) -> str:
    """What to do about a mapped column the file lacks: the nearest name - for a date field only
    among the columns that hold dates (an order number is no order date) - what the column is
    for, and the file's columns."""
    import difflib

    candidates = columns
    dated = None
    if field is not None and field.kind == "date" and df is not None:
        dated = [c for c in columns if _holds_dates(df[c])]
        candidates = dated
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    near = f"is it '{close[0]}'? " if close else ""
    if dated is not None and not close:
        near = (
            f"the columns that hold dates are: {', '.join(dated[:6])}; "
            if dated
            else "no column of the file holds dates; "
        )
    need = ""
    if field is not None:
        what = "required: the case cannot run without it" if field.required else "optional"
        need = f"it is {source}.{field.name} ({what}); "
    shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
    return f"{near}{need}check the name under columns:; the file has: {shown}"


def _missing_hint(spec: SourceSpec, f: Field, columns: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(f.name, columns, n=1, cutoff=0.5)
    near = f" (is it '{close[0]}'?)" if close else ""
    name = "satisfaction" if f.name == "overall_satisfaction" else f.name
    shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
    alt = "".join(
        f" Or, for {v.help}, map {v.trigger}: YOUR_COLUMN."
        for v in spec.variants
        if f.name not in v.required
    )
    return (
        f"the case needs {f.help or f.name}: map your column under columns: {spec.name}: "
        f"{name}: YOUR_COLUMN{near}.{alt} The file has: {shown}"
    )


# --------------------------------------------------------------------------------------------
# the whole case
# --------------------------------------------------------------------------------------------
@dataclass
class Prepared:
    """A config's data, read, checked and coerced (not yet written).

    ``tables``: source -> canonical DataFrame; ``problems``: problem rows (see
    :mod:`crmlab.schemas`); ``notes``: one sentence per coercion; ``sources``: per-source details
    for the report.
    """

    cfg: CaseConfig
    tables: dict[str, pd.DataFrame]
    problems: list[dict]
    notes: list[str]
    sources: dict[str, dict]
    survey: dict | None = None
    drivers: list[str] = field(default_factory=list)
    pii: dict[str, dict[str, str]] = field(default_factory=dict)
    pseudonymized: dict[str, list[str]] = field(default_factory=dict)
    key_source: str | None = None

    @property
    def errors(self) -> list[dict]:
        return [p for p in self.problems if p["severity"] == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> dict:
        """The ingest report (JSON-ready): sources, coercions, warnings, pseudonymized columns."""
        return {
            "case": self.cfg.case,
            "title": self.cfg.title,
            "config": self.cfg.path.name,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sources": self.sources,
            "coercions": self.notes,
            "problems": self.problems,
            "survey": self.survey,
            "drivers": self.drivers,
            "pseudonymized": self.pseudonymized,
            "pseudonym_key": self.key_source,
        }

    def summary(self) -> str:
        lines = [f"Case {self.cfg.case}" + (f" - {self.cfg.title}" if self.cfg.title else "")]
        for name, info in self.sources.items():
            bits = [info.get("file", "")]
            bits.append(info.get("note", ""))
            for k in ("encoding", "sheet", "separator"):
                if info.get(k):
                    bits.append(f"{k} {info[k]}")
            if "rows_read" in info:
                bits.append(f"{info['rows_read']:,} rows read, {info.get('rows_kept', 0):,} kept")
            lines.append(f"  {name:<13} " + "; ".join(b for b in bits if b))
        return "\n".join(lines)


def load(cfg: CaseConfig) -> Prepared:
    """Read, map, check and coerce every source of ``cfg`` (no pseudonymization, nothing written).

    Never raises for problems in the data: they are collected in ``Prepared.problems`` (the
    config itself was checked by :func:`crmlab.config.load_config`).
    """
    schema = case_schema(cfg.case)
    results: dict[str, SourceResult] = {}
    problems: list[dict] = []
    notes: list[str] = []
    sources_info: dict[str, dict] = {}
    for name in schema:
        src = cfg.sources.get(name)
        if src is None:
            if schema[name].required:
                problems.append(_required_source_problem(cfg, schema[name]))
            continue
        # a missing file's hint offers running without it only for an optional source
        others = [] if schema[name].required else list(cfg.sources)
        raw, read_problems = read_source(src, cfg.folder, others)
        problems += read_problems
        if raw is None:
            sources_info[name] = {"file": src.display, "read": False}
            continue
        res = _map_source(cfg, schema[name], raw)
        results[name] = res
        problems += res.problems
        if raw.details.get("encoding"):
            notes.append(f"{name}: {src.display} read as {raw.details['encoding']}.")
        if raw.details.get("note"):
            notes.append(f"{name}: {src.display} is {raw.details['note']}.")
        if raw.details.get("renamed_duplicate_headers"):
            notes.append(
                f"{name}: repeated column names made unique: "
                f"{', '.join(raw.details['renamed_duplicate_headers'])}."
            )
        notes += res.notes
        sources_info[name] = {
            "file": src.display,
            **{k: v for k, v in raw.details.items() if k != "renamed_duplicate_headers"},
            "rows_read": int(len(raw.frame)),
            "rows_kept": int(len(res.table)),
            "columns": res.used,
            "extra_columns": res.extras,
        }
    # a file that could not be read may hold the columns the config names for every file: the
    # read problem is the one to report (not four "in none of the files" echoes of it)
    all_read = all(info.get("read", True) for info in sources_info.values())
    if all_read:
        problems += _global_mapping_problems(cfg, results)
    problems += _canonical_pass(results)
    if all_read:
        problems += _pii_listed_problems(cfg, results)
    survey = next((r.survey for r in results.values() if r.survey), None)
    drivers = next((r.drivers for r in results.values() if r.spec.drivers), [])
    if drivers and cfg.drivers:
        nonstandard = [d for d in drivers if d not in RETAIL_DRIVER_NAMES]
        if nonstandard:
            notes.append(
                f"survey: drivers {', '.join(nonstandard)} are not among the standard names "
                f"({', '.join(RETAIL_DRIVER_NAMES)}); they are listed under drivers in this report."
            )
    return Prepared(
        cfg,
        {n: r.table for n, r in results.items()},
        problems,
        notes,
        sources_info,
        survey,
        drivers,
        {n: r.pii for n, r in results.items() if r.pii},
    )


def _required_source_problem(cfg: CaseConfig, spec: SourceSpec) -> dict:
    """A source the case cannot run without (:attr:`SourceSpec.required`) is not under data:."""
    return problem(
        spec.name,
        cfg.path.name,
        "*",
        f"source {spec.name} is required by the {cfg.case} case",
        f"the case cannot run without it: add `{spec.name}: exports/YOUR_FILE.csv` ({spec.help}) "
        "under data:; the other sources are optional",
    )


def _global_mapping_problems(cfg: CaseConfig, results: Mapping[str, SourceResult]) -> list[dict]:
    out = []
    for canon, m in cfg.global_columns.items():
        found = any(
            all(_find(list(r.raw.frame.columns), c) for c in m.columns) for r in results.values()
        )
        if not found and results:
            out.append(
                problem(
                    "*",
                    cfg.path.name,
                    ", ".join(m.columns),
                    f"column mapped to {canon} is in none of the files",
                    f"check the name under columns: {canon}: (or map it per source)",
                )
            )
    return out


def _pii_listed_problems(cfg: CaseConfig, results: Mapping[str, SourceResult]) -> list[dict]:
    """A name under ``pii:`` that no file has, with the files' closest column names
    (:func:`_near_columns`) and the config line, as a wrong column mapping gets."""
    out = []
    columns = list(dict.fromkeys(str(c) for r in results.values() for c in r.raw.frame.columns))
    for i, c in enumerate(cfg.pii):
        if results and c not in columns:
            near = _near_columns(c, columns)
            line = cfg.lines.get(("pii", i))
            where = f"pii: at {cfg.path.name} line {line}" if line else "pii:"
            if near:
                ask = "is it " + " or ".join(f"'{n}'" for n in near) + "? "
                files = ""
            else:
                ask = ""
                files = "; the files have: " + ", ".join(columns[:12])
                files += " ..." if len(columns) > 12 else ""
            out.append(
                problem(
                    "*",
                    cfg.path.name,
                    c,
                    "column listed under pii: is in none of the files",
                    f"{ask}check the spelling under {where}: a misspelt personal column would "
                    f"not be pseudonymized{files}",
                )
            )
    return out


def _near_columns(name: str, columns: Sequence[str], n: int = 3) -> list[str]:
    """The columns of ``columns`` nearest to ``name``: the same ignoring case and spaces, those
    holding it or held in it (姓名 -> 客户姓名), then those :mod:`difflib` finds alike."""
    import difflib

    key = _norm(name)
    same = [c for c in columns if _norm(c) == key]
    within = [
        c for c in columns if key and _norm(c) != key and (key in _norm(c) or _norm(c) in key)
    ]
    within = [c for c in within if len(_norm(c)) >= 2]
    alike = difflib.get_close_matches(name, list(columns), n=n, cutoff=0.5)
    return list(dict.fromkeys(same + within + alike))[:n]


def _canonical_pass(results: Mapping[str, SourceResult]) -> list[dict]:
    """Keys unique, foreign keys found, required values present, no exact duplicate rows."""
    parents = {
        name: r.table[r.spec.key]
        for name, r in results.items()
        if r.spec.key and r.spec.key in r.table
    }
    out = []
    for r in results.values():
        bundle = canonical_schema(
            r.spec,
            r.table,
            r.raw.file,
            r.labels,
            parents,
            r.raw.row_offset,
            redact=["customer_id", *r.pii],
        )
        for canon in r.dropped:
            rule = bundle.rules.get((canon, "not_nullable"))
            if rule is not None:
                hint = _missing_value_hint(canon, r.mappings.get(canon, ""))
                bundle.rules[(canon, "not_nullable")] = replace(rule, hint=hint)
        problems = run_schema(bundle, r.table)
        out += _duplicate_problems(r, _blank_only(r, bundle, problems))
    return out


def _missing_value_hint(name: str, mapping: str) -> Hint:
    """The hint of 'required value missing' for a column 02_data needs in every row. Its
    warning says why it is only a warning here although the report's data-quality table lists
    the same rows as an error: ``crmlab validate``'s errors block the run, the report's mean
    rows dropped; these rows are dropped, and a few of them do not block."""
    share = f"{BLOCKING_SHARE:.0%}"
    return Hint(
        f"{_DROPPED.format(name=name)}, which the report's data-quality table lists as an error "
        f"(rows dropped). Here it is only a warning, because an error here stops the run and "
        f"these are under {share} of the rows, the others being used ({share} or more would "
        f"stop it, as a sign of a wrong mapping). Fill in {name} in the export to keep these rows",
        f"rows without {name} cannot be used; this many blanks mean a column that is mostly "
        f"empty is mapped (check {mapping or 'the mapping under columns:'}), or the export "
        "left it out",
    )


def _blank_only(r: SourceResult, bundle, problems: list[dict]) -> list[dict]:
    """The canonical pass's 'required value missing' counts the rows whose value the export
    leaves out - blank, or a word read as missing (``N/A``, ``null`` ...), every row that ends
    up without the value, said by kind (``21 blank, 15 'N/A'``) when there are such words:
    values there that could not be read (not a number, not a date, ...) are the raw pass's
    problem, with their own rows - one cause, one problem. None for a column the raw pass found
    probably mapped wrong (its blanks are not the field's)."""
    out = []
    for p in problems:
        canon = next(
            (
                c
                for c in r.spec.names
                if p["rule"].startswith(f"required value {c} is missing")
                and p["column"] == r.labels.get(c, c)
            ),
            None,
        )
        if canon in r.wrong:
            continue
        if canon is not None and canon in r.unread and r.unread[canon].any():
            blank = r.table[canon].isna() & ~r.unread[canon]
            rows = blank[blank].index
            cases = pd.DataFrame(
                {"column": canon, "check": "not_nullable", "index": rows, "failure_case": None}
            )
            if not len(rows):
                continue
            [p] = problem_table(cases, bundle)
        if canon is not None and canon in r.missing_as:
            missing = r.table[canon].isna()
            if canon in r.unread:
                missing &= ~r.unread[canon]
            kinds = _missing_kinds(r.missing_as[canon][missing])
            if kinds:
                p = {**p, "rule": f"{p['rule']}: {kinds}"}
        out.append(p)
    return out


def _missing_kinds(words: pd.Series) -> str:
    """``21 blank, 15 'N/A'``: how the export leaves out the values of ``words`` (per row ''
    for a blank cell, else the word read as missing); '' when all are blank (nothing to say)."""
    words = words.dropna()
    counts = words[words != ""].value_counts(sort=False)
    if not len(counts):
        return ""
    counts = counts.sort_values(ascending=False, kind="stable")
    n_blank = int((words == "").sum())
    parts = [f"{n_blank:,} blank"] if n_blank else []
    parts += [f"{int(n):,} '{w}'" for w, n in counts.items()]
    return ", ".join(parts)


def _duplicate_problems(r: SourceResult, problems: list[dict]) -> list[dict]:
    """The canonical pass's problems of one source plus its exact duplicate rows, counted as
    ``02_data`` drops them and as the report's data-quality table counts them: on the imported
    table, by :func:`crmlab.quality.duplicate_ids` (the key problem, from
    :func:`crmlab.schemas.canonical_schema`, counts only ids with differing contents; an id
    repeated by exact copies alone is counted here). Rows that differ in the export only in
    values mapped to the same canonical value (``done`` and ``已完成`` both ``cancelled: false``)
    become exact copies there: the message says how many are copies in the export and how many
    become copies once values are mapped. Copies in an export without a key column each get
    their own generated key, so ``02_data`` keeps them: a warning says so."""
    from crmlab.quality import duplicate_ids

    table, raw = r.table, r.raw.frame.loc[r.table.index]
    offset = r.raw.row_offset
    dup = duplicate_ids(table, None).copies
    raw_dup = raw.duplicated(keep="first")
    n_dup, n_raw = int(dup.sum()), int((dup & raw_dup).sum())
    key = r.spec.key
    generated = key is not None and str(r.used.get(key, "")).startswith("generated")
    out = list(problems)
    if n_dup:
        mapped = n_dup - n_raw
        hint = "02_data drops the copies (keeps the first)"
        if mapped:
            hint += (
                (
                    f"; {n_raw:,} are exact copies in the export, the other {mapped:,} differ "
                    "there only"
                    if n_raw
                    else "; they differ in the export only"
                )
                + " in values that become the same on import (client values mapped to one "
                "canonical value under values:, text read as the same number or date, columns "
                "not kept), so they are exact copies once imported"
            )
        rows = (dup[dup].index + offset).tolist()
        out.append(
            problem(
                r.spec.name,
                r.raw.file,
                "*",
                "exact duplicate rows" + (" (once values are mapped)" if mapped else ""),
                hint,
                "warning",
                n_dup,
                [],
                rows[:5],
            )
        )
    kept = raw_dup & ~dup
    if generated and kept.any():
        rows = (kept[kept].index + offset).tolist()
        out.append(
            problem(
                r.spec.name,
                r.raw.file,
                "*",
                "exact duplicate rows in the export",
                f"the export has no {key} column: each row gets its own {key} from its row "
                "number, so 02_data keeps the copies; remove them from the export if they are "
                "the same record twice",
                "warning",
                int(kept.sum()),
                [],
                rows[:5],
            )
        )
    return out


def pseudonymize(prepared: Prepared, key: bytes, key_source: str = "") -> Prepared:
    """Replace customer ids and personal columns by keyed pseudonyms, in place; returns it.

    Pseudonymized: every ``customer_id``, the columns listed under ``pii:``, and text columns
    :func:`crmlab.privacy.detect_pii_columns` flags (e-mail, phone, id-number values or names).
    Values become ``P-`` + 12 hex characters of HMAC-SHA256(key, value): the same value gets the
    same pseudonym in every source, so joins still work.
    """
    for name, df in prepared.tables.items():
        texty = [c for c in df.columns if _texty(df[c])]
        detected = privacy.detect_pii_columns(df[texty]) if texty else {}
        cols = [c for c in df.columns if c == "customer_id"]
        cols += [c for c in prepared.pii.get(name, {}) if c in df.columns and c not in cols]
        cols += [c for c in detected if c not in cols]
        if cols:
            prepared.tables[name] = privacy.pseudonymize(df, cols, [], key)
            prepared.pseudonymized[name] = cols
        _redact_free_text(prepared, name, [c for c in texty if c not in cols])
    prepared.key_source = key_source or "given key"
    return prepared


def _redact_free_text(prepared: Prepared, name: str, columns: Sequence[str]) -> None:
    """Contact details written inside the text of ``columns`` (a survey comment "call me on
    139...") replaced by ``[phone]``, ``[e-mail]``, ``[id]`` (:func:`crmlab.privacy.
    redact_contacts`), each replacement told in the import notes. Id columns (``*_id``) are
    codes, not text, and are left alone."""
    df = prepared.tables[name]
    for col in columns:
        if str(col).endswith("_id"):
            continue
        text, counts = privacy.redact_contacts(df[col])
        if counts:
            df[col] = text
            found = ", ".join(f"{n:,} {kind}" for kind, n in counts.items())
            prepared.notes.append(
                f"{name}.{col}: contact details in the text replaced ({found}): the text keeps "
                "[phone], [e-mail] or [id] in their place"
            )


def _texty(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)


def prepare(cfg: CaseConfig, key: bytes | None = None) -> Prepared:
    """:func:`load`, stop on blocking problems, then :func:`pseudonymize` - ready to write.

    Raises :class:`IngestError` (a :class:`DataError`) with the problem table when any problem
    blocks, and :class:`ConfigError` when there is no pseudonymization key for client data.
    """
    prepared = load(cfg)
    if not prepared.ok:
        raise IngestError(
            f"{cfg.path}: the data cannot be used as it is.\n"
            + format_problems(prepared.problems)
            + "\nFix the config or the export, then check again with "
            f"`crmlab validate --config {paths.from_cwd(cfg.path)}`.",
            prepared.problems,
        )
    if key is None:
        key, source = pseudonym_key(cfg)
    else:
        source = "given key"
    return pseudonymize(prepared, key, source)


def write(prepared: Prepared, folder: str | Path) -> Path:
    """Write ``<source>.parquet`` per source and ``ingest_report.json`` into ``folder``.

    Each file is written atomically, timestamps in microseconds (the unit every engine reads:
    Spark refuses pandas' nanoseconds; a client's dates never need more, and pyarrow raises
    rather than truncate one that does). Refuses tables that were not pseudonymized.
    """
    if prepared.key_source is None:
        raise DataError("write: pseudonymize the tables first (ingest.prepare does).")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in prepared.tables.items():
        atomic.write_parquet(df, folder / f"{name}.parquet", index=False, coerce_timestamps="us")
    atomic.write_json(folder / REPORT_NAME, _jsonable(prepared.report()))
    return folder


def _jsonable(obj):
    from crmlab.results import to_jsonable

    return to_jsonable(obj)
