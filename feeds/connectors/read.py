"""Read a stored delivery as a LazyFrame of text, exactly as the department labelled it.

Every data column is ``String``: nothing is inferred, because inference is where IDs lose
their leading zeros and codes like ``01`` become ``1``. Column names are the department's
field names (all generations; the transforms map them). Two provenance columns follow:

- ``_source``: the file path or, for an API pull, the URL of the page the row came from;
- ``_source_row``: the 1-based record number in that source (for a file, the record's
  position below the header; for an API pull, the item's position across the whole pull).

Nothing here decodes GBK: text files were transcoded to UTF-8 when stored (DESIGN.md
trap), and ``RawDelivery.text_path`` points at that copy.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from feeds.delivery import RawDelivery
from feeds.raw_zone import PAGES_FILE
from feeds.spec import (
    FEEDS,
    FileDropTransport,
    HttpCursorTransport,
    HttpPageTransport,
    ResourceSpec,
)
from schemas.errors import ContractViolation, SpecError, TerminalError

__all__ = [
    "HEADER_SEARCH_ROWS",
    "SOURCE",
    "SOURCE_ROW",
    "dig",
    "read_delivery",
    "read_geojson",
    "read_in_chunks",
    "read_xlsx",
    "scan_text_csv",
    "text_value",
]

logger = logging.getLogger(__name__)

SOURCE = "_source"
SOURCE_ROW = "_source_row"
# Title rows sit above the header on some months' exports; a header further down than
# this is not a header.
HEADER_SEARCH_ROWS = 20


def read_delivery(raw: RawDelivery) -> pl.LazyFrame:
    """The delivery's records: String columns as named by the department, plus provenance.

    Args:
        raw: a delivery from :func:`feeds.connectors.pull` (or the raw zone).

    Returns:
        A LazyFrame with the source's fields (``String``), ``_source`` (``String``) and
        ``_source_row`` (``Int64``, from 1).

    Example::

        for raw in pull("legal_entity", "entities"):
            frame = read_delivery(raw)  # transforms take it from here
    """
    resource = _resource(raw)
    if raw.format == "csv":
        frame = scan_text_csv(raw.text_path or raw.raw_paths[0]).with_row_index(SOURCE_ROW, 1)
    elif raw.format == "xlsx":
        transport = _transport(raw, resource, FileDropTransport)
        frame, _ = read_xlsx(
            raw.raw_paths[0],
            sheet=transport.sheet,
            expected=resource.source_fields(),
            feed=raw.feed,
        )
        frame = frame.lazy()
    elif raw.format == "geojson":
        frame = read_geojson(raw.raw_paths[0], feed=raw.feed).lazy()
    else:
        return _read_pages(raw, resource)
    return _with_provenance(frame, pl.lit(raw.source, dtype=pl.String))


def read_in_chunks(raw: RawDelivery) -> Callable[[int], Iterator[pl.DataFrame]] | None:
    """The rows of :func:`read_delivery`, a chunk at a time, each read once; None where only
    slices of :func:`read_delivery` can be trusted.

    Returns a function of the rows wanted per chunk that yields the chunks in order, as
    :meth:`transforms.batch.NormalizedBatch.write` takes them: every row once, in file
    order, with the same columns, ``_source`` and ``_source_row``. The chunks are equal
    spans of the file's bytes, cut at line ends, so their rows vary a little around the
    number asked for.

    Only for a CSV whose records the pull counted at one per line (``rows_hint`` is
    ``lines - 1``: no field holds a line break, no line is skipped), where a line end
    always ends a record. (A slice of the whole file's scan is found by reading the file
    again from its start: the 5M-resident population export's 8 chunks took 3.9-4.0 CPU-s
    to read as slices, 2.5-2.6 as spans; its whole stage about 1 CPU-s less.)
    """
    records = raw.rows_hint
    if raw.format != "csv" or records is None or raw.lines != records + 1:
        return None
    path, source = raw.text_path or raw.raw_paths[0], raw.source

    def chunks(rows: int) -> Iterator[pl.DataFrame]:
        return _csv_chunks(path, source, -(-records // max(rows, 1)))

    return chunks


# Bytes read at a time while looking for the line end after a cut.
_PROBE = 1 << 16


def _csv_chunks(path: Path, source: str, count: int) -> Iterator[pl.DataFrame]:
    """The records of a one-record-per-line CSV in ``count`` spans of about equal bytes."""
    with path.open("rb") as file:
        header = file.readline()
        fd, start = file.fileno(), len(header)
        size = os.fstat(fd).st_size
        cuts = [_line_start(fd, start + (size - start) * k // count, size) for k in range(1, count)]
        # Each span is parsed under the file's own header line, as the whole file is: the
        # same names, and the header, not the span's first record, says how many fields a
        # record has (a short first record would otherwise drop columns). The span is read
        # in after the header in one buffer, kept from chunk to chunk: each fresh 100 MB
        # costs the kernel some 25k zeroed pages, and Polars takes its text as bytes, one
        # copy of the buffer.
        bounds = [start, *cuts, size]
        longest = max(b - a for a, b in itertools.pairwise(bounds))
        buffer = memoryview(bytearray(len(header) + longest))
        buffer[: len(header)] = header
        done = 0
        for end in bounds[1:]:
            if end <= start:
                continue
            span = len(header) + end - start
            _read_into(fd, buffer[len(header) : span], start, path)
            text = bytes(buffer[:span])
            frame = scan_text_csv(text).with_row_index(SOURCE_ROW, done + 1)
            chunk = _with_provenance(frame, pl.lit(source, dtype=pl.String)).collect()
            del text
            done += chunk.height
            start = end
            yield chunk


def _read_into(fd: int, into: memoryview, at: int, path: Path) -> None:
    """Fill ``into`` with the file's bytes from offset ``at``."""
    done = 0
    while done < len(into):
        got = os.preadv(fd, [into[done:]], at + done)
        if got == 0:
            raise TerminalError(
                f"{path}: ends at byte {at + done}, before the {at + len(into)} it had when "
                "it was stored; the raw zone's copy was changed, so pull the delivery again"
            )
        done += got


def _line_start(fd: int, at: int, size: int) -> int:
    """The offset just after the first line end at or after ``at`` (``size`` if none)."""
    while at < size:
        window = os.pread(fd, _PROBE, at)
        if not window:  # cut short meanwhile: the read of the span will say so
            return size
        found = window.find(b"\n")
        if found >= 0:
            return at + found + 1
        at += len(window)
    return size


def _with_provenance(frame: pl.LazyFrame, source: pl.Expr) -> pl.LazyFrame:
    return frame.select(
        pl.exclude(SOURCE_ROW),
        source.alias(SOURCE),
        pl.col(SOURCE_ROW).cast(pl.Int64),
    )


def _resource(raw: RawDelivery) -> ResourceSpec:
    try:
        spec = FEEDS[raw.feed]
    except KeyError:
        raise SpecError(f"delivery {raw.batch_id}: unknown feed {raw.feed!r}") from None
    for resource in spec.resources:
        if resource.name == raw.resource:
            return resource
    known = ", ".join(r.name for r in spec.resources)
    raise SpecError(
        f"delivery {raw.batch_id}: feed {raw.feed} has no resource {raw.resource!r}; known: {known}"
    )


def _transport(raw: RawDelivery, resource: ResourceSpec, kind: type | tuple[type, ...]) -> Any:
    for transport in resource.transports:
        if isinstance(transport, kind):
            return transport
    msg = f"delivery {raw.batch_id}: resource {raw.resource} has no {kind} transport"
    raise SpecError(msg)


def text_value(value: Any) -> str | None:
    """A JSON value as the text a department would have written in a CSV cell.

    >>> [text_value(v) for v in ("0012", 440103, 1.5, True, None, {"a": 1})]
    ['0012', '440103', '1.5', 'true', None, '{"a":1}']
    """
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dig(document: Any, path: tuple[str, ...]) -> Any:
    """``document[path[0]][path[1]]...``, or None when any step is missing.

    >>> dig({"data": {"records": [1]}}, ("data", "records"))
    [1]
    >>> dig({"data": None}, ("data", "records")) is None
    True
    """
    for step in path:
        if not isinstance(document, dict):
            return None
        document = document.get(step)
    return document


# --- CSV -------------------------------------------------------------------------------


def scan_text_csv(path: Path | bytes) -> pl.LazyFrame:
    """A UTF-8 CSV (BOM or not; a file, or its bytes) as String columns, ``""`` kept as
    ``""``, no inference.

    Empty fields stay empty strings rather than nulls: that is what was received, and the
    transforms treat every null spelling of the contract (``""``, ``无``, ``NULL``...)
    alike. A record with fewer fields than the header gets nulls for the missing ones.
    """
    return pl.scan_csv(
        path,
        infer_schema=False,
        empty_string_is_null=False,
        # Header cells padded with blanks are the same field; nothing else is touched.
        with_column_names=lambda names: [name.strip() for name in names],
    )


# --- XLSX ------------------------------------------------------------------------------


def read_xlsx(
    path: Path, *, sheet: str | None, expected: set[str], feed: str
) -> tuple[pl.DataFrame, list[str]]:
    """An Excel sheet as String columns under its header row, and notes about it.

    The header is the first of the top ``HEADER_SEARCH_ROWS`` rows naming the most of
    ``expected`` (the spec's field names): some months carry a title row above it.
    Numbers keep their text (an Excel serial date stays ``44260``: the transforms parse
    serials); cells typed as dates become ISO text (``2021-03-05 00:00:00``). Fully empty
    rows are dropped and counted in the notes; ``_source_row`` still numbers them, so it
    stays the record's position below the header.
    """
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
    except fastexcel.FastExcelError as exc:
        raise ContractViolation(
            feed, None, f"{path.name}: {exc}", "a readable XLSX workbook"
        ) from exc
    name = sheet or reader.sheet_names[0]
    if name not in reader.sheet_names:
        raise ContractViolation(
            feed, None, f"{path.name} with sheets {reader.sheet_names}", f"a sheet named {name!r}"
        )
    try:
        grid = reader.load_sheet_by_name(name, header_row=None, dtypes="string").to_polars()
    except fastexcel.FastExcelError as exc:
        raise ContractViolation(
            feed, None, f"{path.name} sheet {name}: {exc}", "a readable sheet"
        ) from exc

    top = grid.head(HEADER_SEARCH_ROWS).rows()
    scores = [
        sum(1 for cell in row if cell is not None and cell.strip() in expected) for row in top
    ]
    if not scores or max(scores) == 0:
        shown = sorted(expected)[:6]
        raise ContractViolation(
            feed,
            None,
            f"{path.name} sheet {name}: first rows {top[:3]}",
            f"a header row within the first {HEADER_SEARCH_ROWS} rows naming fields such as {shown}",
        )
    header_at = scores.index(max(scores))
    notes = []
    if header_at:
        above = " / ".join(" ".join(c for c in row if c) for row in top[:header_at]).strip()
        notes.append(
            f"{path.name}: header on sheet row {header_at + 1}; skipped above it: {above!r}"
        )

    names = _unique_names(top[header_at])
    body = grid.slice(header_at + 1).rename(dict(zip(grid.columns, names, strict=True)))
    body = body.with_row_index(SOURCE_ROW, 1)
    unnamed_empty = [
        n for n in names if n.startswith("_col") and body.get_column(n).null_count() == body.height
    ]
    body = body.drop(unnamed_empty)
    data = [c for c in body.columns if c != SOURCE_ROW]
    empty = pl.all_horizontal(pl.col(data).is_null()) if data else pl.lit(value=True)
    dropped = body.select(empty.sum()).item() if body.height else 0
    if dropped:
        body = body.filter(~empty)
        notes.append(f"{path.name}: {dropped} fully empty rows dropped (numbered, not read)")
    return body, notes


def _unique_names(cells: tuple[str | None, ...]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = (cell or "").strip() or f"_col{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_duplicated_{seen[name] - 1}"  # as Polars names CSV duplicates
        else:
            seen[name] = 0
        names.append(name)
    return names


# --- GeoJSON ---------------------------------------------------------------------------


def read_geojson(path: Path, *, feed: str) -> pl.DataFrame:
    """A FeatureCollection as one row per feature: properties as text, ``geometry`` as JSON.

    Property numbers become their JSON text (``440103``); the geometry is re-serialized
    compactly (coordinates keep their exact float value).
    """
    with path.open("rb") as handle:
        try:
            document = json.load(handle)
        except ValueError as exc:
            raise ContractViolation(feed, None, f"{path.name}: {exc}", "valid GeoJSON") from exc
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or document.get("type") != "FeatureCollection":
        kind = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise ContractViolation(
            feed, None, f"{path.name}: GeoJSON of type {kind!r}", "a FeatureCollection"
        )
    rows: list[dict[str, str | None]] = []
    columns: dict[str, None] = {}  # first-seen order
    for number, feature in enumerate(features, 1):
        if not isinstance(feature, dict):
            raise ContractViolation(
                feed,
                None,
                f"{path.name}: feature {number} is {feature!r:.80}",
                "a GeoJSON Feature object",
            )
        properties = feature.get("properties") or {}
        row = {str(k): text_value(v) for k, v in properties.items() if k != "geometry"}
        geometry = feature.get("geometry")
        row["geometry"] = None if geometry is None else text_value(geometry)
        row[SOURCE_ROW] = str(number)
        columns.update(dict.fromkeys(row))
        rows.append(row)
    names = [c for c in columns if c not in ("geometry", SOURCE_ROW)]
    schema = {SOURCE_ROW: pl.String, **dict.fromkeys(names, pl.String), "geometry": pl.String}
    return pl.DataFrame(rows, schema=schema).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))


# --- API pages -------------------------------------------------------------------------


def _read_pages(raw: RawDelivery, resource: ResourceSpec) -> pl.LazyFrame:
    transport = _transport(raw, resource, (HttpPageTransport, HttpCursorTransport))
    manifest = raw.raw_paths[0].parent / PAGES_FILE if raw.raw_paths else None
    entries = (
        [json.loads(line) for line in manifest.read_text("utf-8").splitlines() if line]
        if manifest is not None and manifest.exists()
        else []
    )
    urls = {e["file"]: e["url"] for e in entries}
    frames: list[pl.DataFrame] = []
    first = 1
    for path in raw.raw_paths:
        # Numbers are kept as the text that was sent (no float rounding of money).
        document = json.loads(path.read_bytes(), parse_int=str, parse_float=str, parse_constant=str)
        records = dig(document, transport.records_path) or []
        rows = [{str(k): text_value(v) for k, v in record.items()} for record in records]
        if not rows:
            continue
        names = list(dict.fromkeys(k for row in rows for k in row))
        frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String)).with_columns(
            pl.lit(urls.get(path.name, raw.source), dtype=pl.String).alias(SOURCE),
            pl.int_range(first, first + len(rows), dtype=pl.Int64).alias(SOURCE_ROW),
        )
        frames.append(frame)
        first += len(rows)
    if not frames:
        # No records: still the columns a consumer expects (current field names).
        names = [names[0] for names in resource.fields.values()]
        schema = {**dict.fromkeys(names, pl.String), SOURCE: pl.String, SOURCE_ROW: pl.Int64}
        return pl.LazyFrame(schema=schema)
    combined = pl.concat(frames, how="diagonal")
    data = [c for c in combined.columns if c not in (SOURCE, SOURCE_ROW)]
    return combined.select(*data, SOURCE, SOURCE_ROW).lazy()
