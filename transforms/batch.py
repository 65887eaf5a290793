"""The frame every normalization step works on, and how it ends: valid, rejected, duplicate.

A feed's steps are pure ``LazyFrame -> LazyFrame`` functions. They share these columns:

- ``_raw.<field>``: each source field as received (the raw record, for quarantine and replay);
- ``_reason.<n>.<field>``: one per :func:`flag`, the code (``checksum`` ...) where that
  check rejects the row, else null; reasons are collected, never raised;
- ``_warning.<n>.<field>``: one per :func:`warn`, soft findings that do not reject the row.

``split`` ends the chain: rows with reasons are rejected (with the list of their
``<field>.<code>`` in the order flagged), the rest are de-duplicated by business key
(newest update wins) and shaped to the standard's Polars schema, with their ``_warnings``
list. :func:`reason_lists` shows a stepped frame's ``_reasons`` and ``_warnings`` lists.

The lists are built once, at the end: appending to a list column per check cost a
``list.concat`` over every row (about 0.06 s per check per million rows), although only
1-2% of rows ever get a reason.

>>> import polars as pl
>>> lf = begin(pl.LazyFrame({"GMSFHM": ["11010519491231002X", "bad"], "_source": ["f"] * 2,
...                          "_source_row": [1, 2]}))
>>> lf = flag(lf, "id_number", pl.when(pl.col("GMSFHM") == "bad").then(pl.lit("format")))
>>> lf.pipe(reason_lists).select("_source_row", "_reasons").collect().to_dicts()
[{'_source_row': 1, '_reasons': []}, {'_source_row': 2, '_reasons': ['id_number.format']}]
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from schemas.errors import TerminalError
from transforms.staged import SUPERSEDED, scan_valid  # noqa: F401 (the doctest reads with it)

RAW_PREFIX = "_raw."
REASONS = "_reasons"
WARNINGS = "_warnings"
REASON_PREFIX = "_reason."
WARNING_PREFIX = "_warning."
# Joins a row's codes before they are split into its list: no code contains it.
_CODE_SEPARATOR = "\x1f"
_NO_CODES = pl.lit([], dtype=pl.List(pl.String))
# Numbers the code columns in the order they are noted, which the lists keep. Counted
# process-wide, not per frame: counting a frame's columns resolves its schema, which grows
# with every step (0.6 CPU-s for the ~40 flags of one legal-entity delivery).
_NOTE_NUMBERS = itertools.count()
SOURCE = "_source"
SOURCE_ROW = "_source_row"
PROVENANCE_IN = (SOURCE, SOURCE_ROW)

Step = Callable[[pl.LazyFrame], pl.LazyFrame]

#: Source rows normalized at a time when a batch is written. Measured on the 5M-resident
#: population export: peak 2.7 GiB with 1M-row chunks, 3.7 GiB with 1.5M; and a 1M export
#: stays one chunk (a second chunk costs a pass over the valid rows to drop repeated keys).
CHUNK_ROWS = 1_250_000
# Staging files live for minutes between two tasks: fast to write beats small. Measured on
# the 1M-resident population's valid rows: lz4 0.9 CPU-s to write (152 MB), uncompressed
# 0.5 CPU-s (248 MB); DuckDB reads either in the same time (1.2 CPU-s).
STAGING_COMPRESSION = "uncompressed"
# Nor do they need column statistics: the load reads every row, so no row group is ever
# skipped, and computing min/max of every column cost 0.3 of the 0.8 CPU-s that writing
# those valid rows takes.
STAGING_PARQUET = {"compression": STAGING_COMPRESSION, "statistics": False}
_SUPERSEDED = pl.lit("superseded_in_delivery").alias("reason")


@dataclass(frozen=True)
class NormalizedBatch:
    """The three ways a source row can end (DESIGN.md decision 5: nothing lost).

    - ``valid``: canonical columns of the table plus ``_source``, ``_source_row``;
    - ``rejected``: ``_source``, ``_source_row``, ``raw_record``, ``reasons``;
    - ``duplicates``: ``_source``, ``_source_row``, ``raw_record``, ``reason`` — rows
      superseded inside the delivery by a newer update of the same business key.

    :attr:`stepped` is the frame after every step; the three are views of it.
    :meth:`collect` computes ``stepped`` once, then splits it in memory: collecting the three
    lazy frames together re-ran every check per output when the source was a file scan (3x
    the work).
    """

    ending: Ending
    # The delivery as read, and the steps from it to ``stepped``: :meth:`write` runs them on
    # one slice of the delivery at a time. (Slicing ``stepped`` itself is not pushed below
    # the steps by the optimizer, and the streaming engine's batches run ahead unbounded:
    # both held the whole delivery in memory, 5.8 GiB for 5M persons.)
    delivery: pl.LazyFrame | None = None
    steps: Step | None = None
    # The stepped frame, when it was given as such rather than as delivery and steps.
    frame: pl.LazyFrame | None = None

    @cached_property
    def stepped(self) -> pl.LazyFrame:
        """The rows after every step. Built on first use: :meth:`write` builds its own
        plan per slice, and building a feed's plan costs Python time (0.3-0.6 s)."""
        if self.frame is not None:
            return self.frame
        assert self.delivery is not None and self.steps is not None  # split() checked
        return self.steps(self.delivery)

    @property
    def valid(self) -> pl.LazyFrame:
        return self.ending(self.stepped)[0]

    @property
    def rejected(self) -> pl.LazyFrame:
        return self.ending(self.stepped)[1]

    @property
    def duplicates(self) -> pl.LazyFrame:
        return self.ending(self.stepped)[2]

    def collect(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """Run the steps once, then split: (valid, rejected, duplicates)."""
        stepped = self.stepped.collect().lazy()
        valid, rejected, duplicates = pl.collect_all(self.ending(stepped))
        return valid, rejected, duplicates

    def _chunks(self, chunk_rows: int) -> Iterator[pl.DataFrame]:
        """The stepped rows, ``chunk_rows`` source rows at a time (none for no rows)."""
        if self.delivery is None or self.steps is None:
            yield from self.stepped.collect_batches(chunk_size=chunk_rows)
            return
        offset = 0
        while True:
            chunk = self.steps(self.delivery.slice(offset, chunk_rows)).collect()
            if chunk.height:
                yield chunk
            if chunk.height < chunk_rows:
                return
            offset += chunk_rows

    def write(self, folder: Path, *, chunk_rows: int | None = None) -> WrittenBatch:
        """Write valid, rejected and duplicate rows as Parquet, ``chunk_rows`` at a time
        (default :data:`CHUNK_ROWS`).

        Memory stays bounded by the chunk, whatever the delivery's size: the steps run on
        one slice of the delivery at a time, each chunk is split on its own, and only the
        business keys of valid rows are kept across chunks. (A step that looks across rows,
        like the credit feed's in-batch authority names, then sees one chunk at a time.)

        A delivery of one chunk is written exactly as :meth:`collect` splits it, its valid
        rows as ``valid.parquet``. Several chunks give a folder ``valid/`` of parts, one per
        chunk, read with :func:`transforms.staged.scan_valid`: a key seen in several chunks
        keeps its newest version, and the others become duplicates (their raw records read
        back from the delivery) and are listed in the folder's ``superseded.parquet``.

        >>> import tempfile
        >>> lf = begin(pl.LazyFrame({"k": ["a", "b", "a", "c", "a"], "t": [3, 1, 2, 1, 1],
        ...                          "_source": ["f"] * 5, "_source_row": [1, 2, 3, 4, 5]}))
        >>> batch = split(lf, columns=["k", "t"], schema=pl.Schema({"k": pl.String, "t": pl.Int64}),
        ...               business_key=["k"], updated_at="t")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = batch.write(Path(tmp), chunk_rows=2)
        ...     valid = scan_valid(out.valid_path).sort("k").select("k", "_source_row").collect().rows()
        ...     dups = pl.read_parquet(out.duplicates_path).sort("_source_row")["_source_row"].to_list()
        >>> valid, dups, out.rows
        ([('a', 1), ('b', 2), ('c', 4)], [3, 5], (3, 0, 2))
        """
        chunk_rows = chunk_rows or CHUNK_ROWS
        folder.mkdir(parents=True, exist_ok=True)
        parts_dir = folder / "valid"
        # A rerun (after a failure) starts from nothing: a stale part would be read as valid.
        shutil.rmtree(parts_dir, ignore_errors=True)
        (folder / "valid.parquet").unlink(missing_ok=True)
        parts_dir.mkdir()
        key, updated_at = list(self.ending.business_key), self.ending.updated_at
        kept = [*key, *([updated_at] if updated_at else []), SOURCE_ROW]
        parts: list[Path] = []
        rejected: list[pl.DataFrame] = []
        duplicates: list[pl.DataFrame] = []
        # Per chunk: its rows' keys, and which of them are valid (filtered only when a
        # second chunk makes keys meet across chunks).
        keys: list[tuple[pl.DataFrame, pl.Series]] = []
        rows_valid = 0
        for chunk in self._chunks(chunk_rows):
            valid, bad, dups = pl.collect_all(self.ending(chunk.lazy()))
            part = parts_dir / f"part-{len(parts):05d}.parquet"
            valid.write_parquet(part, **STAGING_PARQUET)
            parts.append(part)
            # The update column may be a helper the valid rows no longer carry (licences
            # order versions by a parsed version number): take it from the chunk.
            keys.append((pl.DataFrame([chunk.get_column(c) for c in kept]), valid[SOURCE_ROW]))
            rows_valid += valid.height
            rejected.append(bad)
            duplicates.append(dups)
        if not parts:  # an empty delivery: still three files, with their columns
            valid, bad, dups = self.collect()
            parts.append(parts_dir / "part-00000.parquet")
            valid.write_parquet(parts[0], **STAGING_PARQUET)
            rejected.append(bad)
            duplicates.append(dups)
        valid_path = parts_dir
        if len(parts) == 1:  # the usual case: one file
            valid_path = parts[0].replace(folder / "valid.parquet")
            parts_dir.rmdir()
        else:
            won = [rows.filter(pl.col(SOURCE_ROW).is_in(ids.implode())) for rows, ids in keys]
            losers = _losers(pl.concat(won), key, updated_at)
            if not losers.is_empty():
                # Left in their parts, and left out by scan_valid (see there why).
                losers.to_frame().write_parquet(parts_dir / SUPERSEDED)
                rows_valid -= losers.len()
                # The raw record is in the ``_raw.*`` columns begin() adds: from the
                # delivery, a duplicate found across chunks gets it without running the
                # steps again.
                source = begin(self.delivery) if self.delivery is not None else self.stepped
                duplicates.append(
                    source.filter(pl.col(SOURCE_ROW).is_in(losers.implode()))
                    .select(SOURCE, SOURCE_ROW, raw_record(source), _SUPERSEDED)
                    .collect()
                )
        written = {}
        for name, frames in (("rejected", rejected), ("duplicates", duplicates)):
            frame = pl.concat(frames, how="vertical_relaxed")
            frame.write_parquet(folder / f"{name}.parquet", **STAGING_PARQUET)
            written[name] = frame.height
        return WrittenBatch(
            valid_path=valid_path,
            rejected_path=folder / "rejected.parquet",
            duplicates_path=folder / "duplicates.parquet",
            rows=(rows_valid, written["rejected"], written["duplicates"]),
        )


@dataclass(frozen=True)
class WrittenBatch:
    """Where :meth:`NormalizedBatch.write` put the three parts, and their rows
    (valid, rejected, duplicates)."""

    valid_path: Path
    rejected_path: Path
    duplicates_path: Path
    rows: tuple[int, int, int]


def _losers(keys: pl.DataFrame, key: list[str], updated_at: str | None) -> pl.Series:
    """``_source_row`` of every version a newer one of the same key beats (across chunks)."""
    order = [updated_at, SOURCE_ROW] if updated_at else [SOURCE_ROW]
    return (
        keys.filter(pl.struct(key).is_duplicated())
        .sort(order, descending=True, nulls_last=True)
        .filter(pl.int_range(pl.len()).over(key) > 0)[SOURCE_ROW]
    )


def begin(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Keep the source columns as received (for the raw record).

    The raw record is JSON, but only rejected and duplicate rows need it (about 1-2% of a
    delivery): each source column is kept under ``_raw.<name>`` (a zero-copy alias, safe
    from any step that reuses a source name) and :func:`split` encodes just those rows.
    """
    source_cols = [c for c in frame.collect_schema().names() if not c.startswith("_")]
    return frame.with_columns(*[pl.col(c).alias(RAW_PREFIX + c) for c in source_cols])


def raw_record(frame: pl.LazyFrame) -> pl.Expr:
    """The source row as received, as JSON, from the ``_raw.*`` columns :func:`begin` kept.

    >>> lf = begin(pl.LazyFrame({"XM": ["张三"], "GMSFHM": [None]}))
    >>> lf.select(raw_record(lf)).collect().item()
    '{"XM":"张三","GMSFHM":null}'
    """
    names = [c for c in frame.collect_schema().names() if c.startswith(RAW_PREFIX)]
    fields = [pl.col(c).alias(c.removeprefix(RAW_PREFIX)) for c in names]
    return pl.struct(fields).struct.json_encode().alias("raw_record")


def _note(frame: pl.LazyFrame, prefix: str, field: str, code: pl.Expr) -> pl.LazyFrame:
    n = next(_NOTE_NUMBERS)
    return frame.with_columns(code.cast(pl.String).alias(f"{prefix}{n}.{field}"))


def flag(frame: pl.LazyFrame, field: str, reason: pl.Expr) -> pl.LazyFrame:
    """Reject the row with ``<field>.<reason>`` where ``reason`` is not null."""
    return _note(frame, REASON_PREFIX, field, reason)


def warn(frame: pl.LazyFrame, field: str, warning: pl.Expr) -> pl.LazyFrame:
    """Note ``<field>.<warning>`` on the row where ``warning`` is not null; keep the row."""
    return _note(frame, WARNING_PREFIX, field, warning)


def _noted(names: Sequence[str], prefix: str) -> list[tuple[str, str]]:
    """(column, field) of every code column with ``prefix``, in the order they were noted."""
    found = [name for name in names if name.startswith(prefix)]
    order = sorted(found, key=lambda name: int(name[len(prefix) :].split(".", 1)[0]))
    return [(name, name[len(prefix) :].split(".", 1)[1]) for name in order]


def _any(columns: Sequence[tuple[str, str]]) -> pl.Expr:
    return (
        pl.any_horizontal([pl.col(c).is_not_null() for c, _ in columns])
        if columns
        else pl.lit(False)
    )


def _listed(columns: Sequence[tuple[str, str]]) -> pl.Expr:
    """Each row's ``<field>.<code>`` list, in the order noted (empty: none)."""
    if not columns:
        return _NO_CODES
    tagged = [pl.concat_str(pl.lit(f"{field}."), pl.col(c)) for c, field in columns]
    joined = pl.concat_str(tagged, separator=_CODE_SEPARATOR, ignore_nulls=True)
    # Only the few rows with a code get a string to split: the rest are null, then [].
    return pl.when(_any(columns)).then(joined).str.split(_CODE_SEPARATOR).fill_null(_NO_CODES)


def has_reasons(frame: pl.LazyFrame) -> pl.Expr:
    """True where a step has flagged the row so far.

    >>> lf = begin(pl.LazyFrame({"name": ["a", None]}))
    >>> lf = require(lf, ["name"])
    >>> lf.select(has_reasons(lf)).collect().to_series().to_list()
    [False, True]
    """
    return _any(_noted(frame.collect_schema().names(), REASON_PREFIX))


def reason_lists(frame: pl.LazyFrame) -> pl.LazyFrame:
    """A stepped frame with its ``_reasons`` and ``_warnings`` lists instead of the code
    columns, as :func:`split` gives them (to look at, or test, the steps' findings).

    >>> lf = begin(pl.LazyFrame({"a": [None, "x"], "b": [None, None]}))
    >>> lf = warn(require(lf, ["a", "b"]), "a", pl.when(pl.col("a") == "x").then(pl.lit("odd")))
    >>> lf.pipe(reason_lists).select("_reasons", "_warnings").collect().rows()
    [(['a.missing', 'b.missing'], []), (['b.missing'], ['a.odd'])]
    """
    names = frame.collect_schema().names()
    reasons, warnings = _noted(names, REASON_PREFIX), _noted(names, WARNING_PREFIX)
    return frame.with_columns(
        _listed(reasons).alias(REASONS), _listed(warnings).alias(WARNINGS)
    ).drop([c for c, _ in [*reasons, *warnings]])


def require(frame: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """Reject rows where a required canonical column is null (``<column>.missing``).

    >>> lf = begin(pl.LazyFrame({"name": ["a", None], "_source_row": [1, 2]}))
    >>> require(lf, ["name"]).pipe(reason_lists).collect()[REASONS].to_list()
    [[], ['name.missing']]
    """
    for col in columns:
        frame = flag(frame, col, pl.when(pl.col(col).is_null()).then(pl.lit("missing")))
    return frame


def run_steps(frame: pl.LazyFrame, steps: Sequence[Step]) -> pl.LazyFrame:
    """Apply steps in order, like sqlglot's optimizer RULES."""
    for step in steps:
        frame = step(frame)
    return frame


@dataclass(frozen=True)
class Ending:
    """How a feed's stepped rows end: its columns, schema, business key and update column."""

    columns: tuple[str, ...]
    schema: pl.Schema
    business_key: tuple[str, ...]
    updated_at: str | None

    def __call__(self, frame: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
        names = frame.collect_schema().names()
        reasons = _noted(names, REASON_PREFIX)
        warnings = _listed(_noted(names, WARNING_PREFIX)).alias(WARNINGS)
        key = [pl.col(c) for c in self.business_key]
        bad, repeated = pl.col("_bad"), pl.col("_repeated")
        # Most keys occur once: only the rows of a repeated key are sorted and ranked (a
        # sort of the whole batch cost 5 s per million rows). A rejected row's key does
        # not count: its null stands in, and the filters below keep only good rows. Both
        # marks are columns, computed once for the three outputs (as expressions, each
        # output's filters computed them again: 0.5 s per million rows).
        marked = frame.with_columns(_any(reasons).alias("_bad")).with_columns(
            pl.when(~bad).then(pl.struct(key)).is_duplicated().alias("_repeated")
        )
        rejected = marked.filter(bad).select(
            SOURCE, SOURCE_ROW, raw_record(frame), _listed(reasons).alias("reasons")
        )
        unique = marked.filter(~bad & ~repeated)
        order = [self.updated_at, SOURCE_ROW] if self.updated_at else [SOURCE_ROW]
        # Rank within each key: the newest update (then the last row) is kept.
        contested = (
            marked.filter(~bad & repeated)
            .sort(order, descending=True, nulls_last=True)
            .with_columns(pl.int_range(pl.len()).over(key).alias("_rank"))
        )
        shape = [*[pl.col(c).cast(self.schema[c]) for c in self.columns], SOURCE, SOURCE_ROW]
        valid = pl.concat(
            [
                unique.select(*shape, warnings),
                contested.filter(pl.col("_rank") == 0).select(*shape, warnings),
            ]
        )
        duplicates = contested.filter(pl.col("_rank") > 0).select(
            SOURCE, SOURCE_ROW, raw_record(frame), _SUPERSEDED
        )
        return valid, rejected, duplicates


def split(
    frame: pl.LazyFrame | None,
    *,
    columns: Sequence[str],
    schema: pl.Schema,
    business_key: Sequence[str],
    updated_at: str | None,
    delivery: pl.LazyFrame | None = None,
    steps: Step | None = None,
) -> NormalizedBatch:
    """End a chain: rejected rows, then newest-update-wins de-duplication, then shape.

    Ties on the update time go to the later source row: a department that sends the same
    key twice in one file means the second line. ``frame`` is the stepped frame; None: the
    steps applied to the delivery, when needed.

    >>> lf = begin(pl.LazyFrame({"k": ["a", "a", "b"], "t": [1, 2, 1],
    ...                          "_source": ["f"] * 3, "_source_row": [1, 2, 3]}))
    >>> batch = split(lf, columns=["k", "t"], schema=pl.Schema({"k": pl.String, "t": pl.Int64}),
    ...               business_key=["k"], updated_at="t")
    >>> valid, rejected, dups = batch.collect()
    >>> valid.select("k", "t", "_source_row").sort("k").rows()
    [('a', 2, 2), ('b', 1, 3)]
    >>> dups.select("_source_row", "reason", "raw_record").rows()
    [(1, 'superseded_in_delivery', '{"k":"a","t":1}')]
    """
    if frame is None and (delivery is None or steps is None):
        raise TerminalError(
            "split() needs the stepped frame, or the delivery and its steps to build it from"
        )
    ending = Ending(tuple(columns), schema, tuple(business_key), updated_at)
    return NormalizedBatch(ending=ending, delivery=delivery, steps=steps, frame=frame)
