"""Delivery files, written the way the departments write them, appended chunk by chunk.

- CSV in the file's encoding (GBK, GB18030, UTF-8 with or without BOM) and line ending.
- XLSX written by hand as SpreadsheetML: rows are appended to the sheet's XML as chunks
  arrive and the workbook is zipped at the end, so a sheet of a million rows never sits
  in memory (xlsxwriter keeps one workbook object per open file and writes ~10x slower).
  Cells are inline strings; a value starting with :data:`NUMBER` is a number cell, with
  :data:`DATE_CELL` a number cell formatted as a date (a real Excel date).
- API data (JSONL) is staged per chunk and sorted by update time at the end, the order
  the feed server serves it in.
Every file gets its ``.ok`` marker after it is complete, unless it is still "being written".
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl

__all__ = ["DATE_CELL", "NUMBER", "CsvSink", "JsonlSink", "Sink", "XlsxSink", "sha256"]

NUMBER = "\x01"
DATE_CELL = "\x02"
_CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "gbk": "gbk", "gb18030": "gb18030"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same seed gives the same bytes


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _entry(sink: Sink, rel: str, rows: int) -> dict[str, object]:
    path = sink.root / rel
    return {
        "feed": rel.split("/", maxsplit=1)[0],
        "path": f"deliveries/{rel}",
        "kind": sink.kind,
        "encoding": sink.encoding,
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": sha256(path),
        "marker": path.with_name(path.name + ".ok").exists(),
        "delivered_at": sink.delivered_at.isoformat(),
    }


@dataclass
class Sink:
    """One delivery file: where it goes, how it is encoded, how many records it has."""

    root: Path  # OUT/deliveries
    rel: str  # <feed>/<name>
    kind: str
    encoding: str
    delivered_at: datetime
    marker: bool = True  # a file drop: complete once its .ok marker exists
    still_writing: bool = False  # a file drop whose marker is not there yet
    rows: int = 0

    @property
    def path(self) -> Path:
        return self.root / self.rel

    @property
    def marker_path(self) -> Path:
        return self.path.with_name(self.path.name + ".ok")

    def finish(self) -> None:
        if self.marker and not self.still_writing:
            self.marker_path.touch()

    def manifest(self) -> list[dict[str, object]]:
        return [_entry(self, self.rel, self.rows)]


@dataclass
class CsvSink(Sink):
    header: tuple[str, ...] = ()
    newline: str = "\n"

    def _start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        head = ",".join(self.header) + self.newline
        bom = b"\xef\xbb\xbf" if self.encoding == "utf-8-sig" else b""
        self.path.write_bytes(bom + head.encode(_CODECS[self.encoding]))

    def append(self, frame: pl.DataFrame) -> list[tuple[str, int, int]]:
        """Append records (columns in header order); returns (file, first row, count)."""
        if not self.path.exists():
            self._start()
        first = self.rows
        if frame.height:
            text = frame.select(self.header).write_csv(
                include_header=False, line_terminator=self.newline
            )
            with self.path.open("ab") as fh:
                fh.write(text.encode(_CODECS[self.encoding]))
            self.rows += frame.height
        return [(self.rel, first, frame.height)]

    def finish(self) -> None:
        if not self.path.exists():
            self._start()
        super().finish()


def _column_letters(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _cells(col: str, letter: str, row: pl.Expr) -> pl.Expr:
    value = pl.col(col)
    ref = pl.concat_str(pl.lit(f'<c r="{letter}'), row)
    # Control characters other than tab and newline are not allowed in XML 1.0.
    text = value.str.replace_all(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "").str.replace_many(
        ["&", "<", ">"], ["&amp;", "&lt;", "&gt;"]
    )
    number = value.str.slice(1)
    return (
        pl.when(value.is_null() | (value == ""))
        .then(pl.lit(""))
        .when(value.str.starts_with(NUMBER))
        .then(pl.concat_str(ref, pl.lit('"><v>'), number, pl.lit("</v></c>")))
        .when(value.str.starts_with(DATE_CELL))
        .then(pl.concat_str(ref, pl.lit('" s="1"><v>'), number, pl.lit("</v></c>")))
        .otherwise(
            pl.concat_str(
                ref,
                pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
                text,
                pl.lit("</t></is></c>"),
            )
        )
    )


_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"""
# Style 1 is the built-in date format 14 (m/d/yyyy in the user's locale).
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""
_SHEET_HEAD = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"""


@dataclass
class _Sheet:
    """One workbook file of an export: its sheet XML grows in the staging folder."""

    rel: str
    part: Path
    rows: int = 0


@dataclass
class XlsxSink(Sink):
    """A one-sheet workbook; ``title`` (if any) sits in a merged row above the header.

    An export larger than a sheet holds (1,048,576 rows) continues in ``<name>_2.xlsx``,
    ``<name>_3.xlsx``, ... as departments split big exports.
    """

    staging: Path = Path()
    sheet: str = "Sheet1"
    header: tuple[str, ...] = ()
    title: str | None = None
    max_rows: int = 1_048_576
    _sheets: list[_Sheet] = field(default_factory=list, repr=False)

    @property
    def _offset(self) -> int:
        return 2 if self.title else 1  # rows above the first record

    def _open(self) -> _Sheet:
        n = len(self._sheets) + 1
        rel = self.rel if n == 1 else self.rel.removesuffix(".xlsx") + f"_{n}.xlsx"
        sheet = _Sheet(rel, self.staging / (rel.replace("/", "__") + ".sheet.xml"))
        sheet.part.parent.mkdir(parents=True, exist_ok=True)
        rows = ""
        if self.title:
            rows += (
                f'<row r="1"><c r="A1" t="inlineStr"><is><t>{escape(self.title)}</t></is></c></row>'
            )
        sheet.part.write_text(_SHEET_HEAD + rows + "\n", encoding="utf-8")
        self._write_rows(
            sheet.part, self._rows(pl.DataFrame({h: [h] for h in self.header}), self._offset)
        )
        self._sheets.append(sheet)
        return sheet

    def _rows(self, frame: pl.DataFrame, first_row: int) -> pl.DataFrame:
        """One ``<row>`` element per record, as a one-column frame (lines of the sheet)."""
        row = (pl.int_range(pl.len()) + first_row).cast(pl.String)
        cells = [_cells(c, _column_letters(i), row) for i, c in enumerate(self.header)]
        return frame.select(
            pl.concat_str(pl.lit('<row r="'), row, pl.lit('">'), *cells, pl.lit("</row>"))
        )

    def _write_rows(self, path: Path, rows: pl.DataFrame) -> None:
        # Streamed by Polars' CSV writer without quoting: one row element per line.
        with path.open("ab") as fh:
            rows.write_csv(fh, include_header=False, quote_style="never")

    def append(self, frame: pl.DataFrame) -> list[tuple[str, int, int]]:
        sheet = self._sheets[-1] if self._sheets else self._open()
        frame = frame.select(self.header)
        out = []
        while frame.height:
            room = self.max_rows - self._offset - sheet.rows
            if room <= 0:
                sheet = self._open()
                continue
            block, frame = frame.head(room), frame.slice(room)
            self._write_rows(sheet.part, self._rows(block, self._offset + 1 + sheet.rows))
            out.append((sheet.rel, sheet.rows, block.height))
            sheet.rows += block.height
            self.rows += block.height
        return out

    def finish(self) -> None:
        if not self._sheets:
            self._open()
        merge = ""
        if self.title:
            last = _column_letters(len(self.header) - 1)
            merge = f'<mergeCells count="1"><mergeCell ref="A1:{last}1"/></mergeCells>'
        for sheet in self._sheets:
            with sheet.part.open("a", encoding="utf-8") as fh:
                fh.write("</sheetData>" + merge + "</worksheet>")
            path = self.root / sheet.rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                for name, text in (
                    ("[Content_Types].xml", _CONTENT_TYPES),
                    ("_rels/.rels", _RELS),
                    ("xl/workbook.xml", _WORKBOOK.format(sheet=escape(self.sheet))),
                    ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                    ("xl/styles.xml", _STYLES),
                ):
                    z.writestr(zipfile.ZipInfo(name, _ZIP_TIME), text, zipfile.ZIP_DEFLATED)
                info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", _ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                with z.open(info, "w") as dst, sheet.part.open("rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
            sheet.part.unlink()
            if self.marker and not self.still_writing:
                path.with_name(path.name + ".ok").touch()

    def manifest(self) -> list[dict[str, object]]:
        return [_entry(self, s.rel, s.rows) for s in self._sheets]


@dataclass
class JsonlSink(Sink):
    """API data: ``{"updated_at": ..., "record": {...}}`` lines, sorted by ``updated_at``.

    Chunks stage their lines (with whatever the caller keeps beside them, e.g. the ground
    truth) as Parquet parts sorted by time; :meth:`collect` merges them month by month, so
    memory holds one month of lines, not the whole API.
    """

    staging: Path = Path()
    marker: bool = False  # an API's data file is not a file drop

    @property
    def _dir(self) -> Path:
        return self.staging / self.rel.replace("/", "__")

    def append(self, frame: pl.DataFrame, chunk: int) -> None:
        """``frame`` needs ``served_at``, ``_order`` and ``line``."""
        self._dir.mkdir(parents=True, exist_ok=True)
        frame.with_columns(pl.lit(chunk).alias("_chunk")).sort("served_at", "_order").write_parquet(
            self._dir / f"part-{chunk:05d}.parquet", row_group_size=20_000
        )

    def collect(self) -> Iterator[pl.DataFrame]:
        """Write the file; yield the staged frames (without the lines) in file order, each
        with the line's index in ``row``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        parts = sorted(self._dir.glob("part-*.parquet")) if self._dir.exists() else []
        self.path.write_bytes(b"")
        if not parts:
            return
        scan = pl.scan_parquet(parts)
        lo, hi = (
            scan.select(
                pl.col("served_at").min().alias("lo"), pl.col("served_at").max().alias("hi")
            )
            .collect()
            .row(0)
        )
        if lo is None:  # every chunk staged an empty part
            shutil.rmtree(self._dir)
            return
        month = datetime(lo.year, lo.month, 1)
        with self.path.open("w", encoding="utf-8", newline="\n") as fh:
            while month <= hi:
                following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
                frame = (
                    scan.filter(pl.col("served_at").is_between(month, following, closed="left"))
                    .sort("served_at", "_chunk", "_order")
                    .collect()
                )
                month = following
                if frame.height == 0:
                    continue
                for block in _batched(frame["line"], 100_000):
                    fh.write("\n".join(block) + "\n")
                frame = frame.drop("line", "_chunk", "_order").with_columns(
                    (pl.int_range(pl.len()) + self.rows).cast(pl.Int64).alias("row")
                )
                self.rows += frame.height
                yield frame
        shutil.rmtree(self._dir)


def _batched(series: pl.Series, size: int):
    for i in range(0, len(series), size):
        yield series.slice(i, size).to_list()
