"""Accuracy of the lake against the demo city's ground truth (issue 4, "Must show").

    uv run python scripts/check_accuracy.py --truth DIR/truth [--home CITYBRAIN_HOME]

Three measures per core table:

- **accuracy**: the lake's current rows matched to ``truth/<table>/current`` by business
  key; every column both sides have is compared exactly (``lon``/``lat`` within 1e-6
  degrees, ``geometry`` as WKB after parsing the truth's WKT in DuckDB spatial). A key is
  an exact match when every column is equal; a missing key is a miss.
- **quarantine**: every truth row with outcome ``quarantine`` (in a complete delivery)
  must be in ``meta.quarantine`` with the truth's reason among the row's reasons.
  ``source``/``source_row`` map to the truth's ``delivery``/``row`` as follows: a file's
  ``source`` is its path, whose part after ``deliveries/`` is the truth's ``delivery``,
  and ``source_row`` is 1-based (``row = source_row - 1``). An API row's ``source`` is
  the page URL and ``source_row`` its 1-based position across the whole pull; the pulls
  of one resource cover the tail of its ``.jsonl`` contiguously (the server serves lines
  by ``updated_at``; the first pull starts after the watermark), so a batch's first item
  is line ``lines - pulled_total + pulled_before``. ``id_number`` values ending ``000``
  with a wrong check digit are reported ``excel_float`` by the pipeline and ``checksum``
  by the truth: counted apart as a documented ambiguity, not an error.
- **unaccounted**: batches whose ``rows_in`` differ from loaded + quarantined + duplicate,
  and truth rows of complete deliveries that no batch covers.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import duckdb

    from schemas.settings import Settings

# table -> (feed, business key columns)
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "person": ("population", ("id_number",)),
    "legal_entity": ("legal_entity", ("uscc",)),
    "area": ("geospatial", ("area_code",)),
    "address_point": ("geospatial", ("address_code",)),
    "credit_penalty": ("credit", ("decision_no", "authority_code")),
    "credit_permit": ("credit", ("decision_no", "authority_code")),
    "credit_list": ("credit", ("subject_code", "list_type", "listed_at")),
    "licence": ("licence", ("certificate_id",)),
}
# API resource (last URL path segment) -> folder under deliveries/
API_FOLDERS = {"population": "population_api", "credit": "credit_api"}
FLOAT_TOLERANCE = 1e-6
TRUTH_ONLY = {"business_key", "geometry_wkt"}
AMBIGUOUS_REASON = "excel_float"


@dataclass
class Mismatch:
    key: str
    column: str
    lake: Any
    truth: Any


@dataclass
class TableAccuracy:
    table: str
    normalizable: int = 0  # keys in truth/current
    exact: int = 0
    missing: int = 0  # truth keys absent from the lake
    extra: int = 0  # lake keys absent from the truth
    columns_compared: list[str] = field(default_factory=list)
    columns_not_in_lake: list[str] = field(default_factory=list)
    column_mismatches: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)  # first few
    quarantine_expected: int = 0
    quarantine_right: int = 0
    quarantine_ambiguous: int = 0  # excel_float vs checksum
    quarantine_wrong_reason: list[tuple[str, int, list[str], list[str]]] = field(
        default_factory=list
    )
    quarantine_missing: list[tuple[str, int, list[str]]] = field(default_factory=list)
    false_quarantine: int = 0  # truth valid/duplicate rows the lake quarantined
    unaccounted: int = 0  # truth rows of complete deliveries no batch covers

    @property
    def accuracy(self) -> float:
        return 1.0 if self.normalizable == 0 else self.exact / self.normalizable

    @property
    def quarantine_ok(self) -> bool:
        return self.quarantine_right + self.quarantine_ambiguous == self.quarantine_expected


@dataclass
class AccuracyReport:
    tables: dict[str, TableAccuracy]
    unreconciled_batches: list[dict[str, Any]]

    @property
    def normalizable(self) -> int:
        return sum(t.normalizable for t in self.tables.values())

    @property
    def exact(self) -> int:
        return sum(t.exact for t in self.tables.values())

    @property
    def accuracy(self) -> float:
        return 1.0 if self.normalizable == 0 else self.exact / self.normalizable

    @property
    def unaccounted(self) -> int:
        return sum(t.unaccounted for t in self.tables.values()) + len(self.unreconciled_batches)


# --- mapping lake provenance to the truth's delivery/row ---------------------------------


def _delivery_of(source: str, feed: str) -> str:
    """``deliveries/``-relative file name of a batch/quarantine ``source``."""
    if re.match(r"https?://", source):
        segment = source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return f"{API_FOLDERS.get(feed, feed + '_api')}/{segment}.jsonl"
    marker = "deliveries/"
    posix = source.replace("\\", "/")
    return posix[posix.rindex(marker) + len(marker) :] if marker in posix else posix


def _batch_offsets(batches: pl.DataFrame, truth_lines: dict[str, int]) -> pl.DataFrame:
    """Per batch: its delivery and the truth row of its first source row (0-based)."""
    rows = []
    pulled: dict[str, int] = {}
    totals: dict[str, int] = {}
    ordered = batches.sort("started_at")
    for b in ordered.iter_rows(named=True):
        delivery = _delivery_of(b["source"], b["feed"])
        totals[delivery] = totals.get(delivery, 0) + b["rows_in"]
    for b in ordered.iter_rows(named=True):
        delivery = _delivery_of(b["source"], b["feed"])
        offset = 0
        if re.match(r"https?://", b["source"]):
            before = pulled.get(delivery, 0)
            offset = truth_lines.get(delivery, totals[delivery]) - totals[delivery] + before
            pulled[delivery] = before + b["rows_in"]
        rows.append(
            {
                "batch_id": b["batch_id"],
                "delivery": delivery,
                "offset": offset,
                "rows_in": b["rows_in"],
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "batch_id": pl.String,
            "delivery": pl.String,
            "offset": pl.Int64,
            "rows_in": pl.Int64,
        },
    )


# --- comparisons ----------------------------------------------------------------------


def _key_expr(columns: tuple[str, ...]) -> pl.Expr:
    return pl.concat_str(
        [pl.col(c).cast(pl.String) for c in columns], separator="|", ignore_nulls=False
    )


def _lake_current(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    cols = [r[0] for r in con.execute(f"DESCRIBE lake.core.{table}").fetchall()]
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE lake.core.{table}").fetchall()}
    select = ", ".join(
        f'ST_AsWKB("{c}") AS "{c}"' if types[c].startswith("GEOMETRY") else f'"{c}"'
        for c in cols
        if not c.startswith("_")
    )
    return con.sql(f"SELECT {select} FROM lake.core.{table}").pl()


def _truth_current(con: duckdb.DuckDBPyConnection, truth_dir: Path, table: str) -> pl.DataFrame:
    frame = pl.read_parquet(truth_dir / table / "current" / "*.parquet")
    if "geometry_wkt" in frame.columns:
        wkt = frame.select("geometry_wkt")  # noqa: F841  (read by DuckDB below)
        wkb = con.sql("SELECT ST_AsWKB(ST_GeomFromText(geometry_wkt)) AS geometry FROM wkt").pl()
        frame = frame.with_columns(wkb["geometry"])
    return frame


def _equal(lake: pl.Expr, truth: pl.Expr, column: str, dtype: pl.DataType) -> pl.Expr:
    if column in {"lon", "lat"} or dtype.is_float():
        close = (lake - truth).abs() <= FLOAT_TOLERANCE
        return (lake.is_null() & truth.is_null()) | close.fill_null(False)
    return lake.eq_missing(truth)


def _compare(
    con: duckdb.DuckDBPyConnection, truth_dir: Path, table: str, out: TableAccuracy, sample: int
) -> None:
    _, key = TABLES[table]
    truth = _truth_current(con, truth_dir, table).with_columns(_key_expr(key).alias("_key"))
    lake = _lake_current(con, table).with_columns(_key_expr(key).alias("_key"))
    out.normalizable = truth.height
    compared = [c for c in truth.columns if c in lake.columns and c not in (*key, "_key")]
    out.columns_compared = compared
    out.columns_not_in_lake = [
        c for c in truth.columns if c not in lake.columns and c not in TRUTH_ONLY | {"_key"}
    ]
    lake_side = lake.select("_key", *[pl.col(c).alias(f"{c}__lake") for c in compared])
    # Casting the lake side to the truth's types keeps e.g. Decimal scales comparable.
    for c in compared:
        if lake.schema[c] != truth.schema[c]:
            lake_side = lake_side.with_columns(
                pl.col(f"{c}__lake").cast(truth.schema[c], strict=False)
            )
    joined = truth.join(lake_side, on="_key", how="left")
    present = joined["_key"].is_in(lake["_key"].implode())
    joined = joined.with_columns(present.alias("_present"))
    out.missing = int((~joined["_present"]).sum())
    out.extra = int((~lake["_key"].is_in(truth["_key"].implode())).sum())
    checks = joined.select(
        "_key",
        "_present",
        *[
            _equal(pl.col(f"{c}__lake"), pl.col(c), c, truth.schema[c]).alias(f"{c}__ok")
            for c in compared
        ],
    )
    ok_cols = [f"{c}__ok" for c in compared]
    all_ok = pl.all_horizontal(ok_cols) if ok_cols else pl.lit(True)
    checks = checks.with_columns((pl.col("_present") & all_ok).alias("_exact"))
    out.exact = int(checks["_exact"].sum())
    present_rows = checks.filter(pl.col("_present"))
    out.column_mismatches = {
        c: n for c in compared if (n := int((~present_rows[f"{c}__ok"]).sum())) > 0
    }
    bad = joined.with_columns(checks[ok_cols]).filter(pl.col("_present")).head(10_000)
    for c in out.column_mismatches:  # a couple of examples of every mismatching column
        for r in bad.filter(~pl.col(f"{c}__ok")).head(2).iter_rows(named=True):
            out.mismatches.append(Mismatch(r["_key"], c, r[f"{c}__lake"], r[c]))
    for r in (
        joined.filter(~pl.col("_present"))
        .head(max(0, sample - len(out.mismatches)))
        .iter_rows(named=True)
    ):
        out.mismatches.append(Mismatch(r["_key"], "(missing from lake)", None, "present"))


def _check_rows(
    truth_dir: Path,
    table: str,
    quarantine: pl.DataFrame,
    offsets: pl.DataFrame,
    out: TableAccuracy,
) -> None:
    rows = pl.read_parquet(
        truth_dir / table / "rows" / "*.parquet",
        columns=["delivery", "row", "outcome", "reasons", "delivery_complete", "id_number"]
        if table == "person"
        else ["delivery", "row", "outcome", "reasons", "delivery_complete"],
    ).filter(pl.col("delivery_complete"))
    # Coverage: every truth row must fall in some batch's [offset, offset + rows_in).
    cover = offsets.filter(pl.col("delivery").is_in(rows["delivery"].unique().implode()))
    covered = rows.join(cover, on="delivery", how="left").filter(
        (pl.col("row") >= pl.col("offset")) & (pl.col("row") < pl.col("offset") + pl.col("rows_in"))
    )
    out.unaccounted = rows.height - covered.select("delivery", "row").unique().height

    q = quarantine.filter(pl.col("delivery").is_in(rows["delivery"].unique().implode()))
    expected = rows.filter(pl.col("outcome") == "quarantine")
    out.quarantine_expected = expected.height
    matched = expected.join(
        q.select("delivery", "row", pl.col("reasons").alias("lake_reasons")),
        on=["delivery", "row"],
        how="left",
    )
    for r in matched.iter_rows(named=True):
        truth_reasons = list(r["reasons"] or [])
        lake_reasons = list(r["lake_reasons"] or [])
        if r["lake_reasons"] is None:
            if len(out.quarantine_missing) < 1000:
                out.quarantine_missing.append((r["delivery"], r["row"], truth_reasons))
            continue
        if any(t in lake_reasons for t in truth_reasons):
            out.quarantine_right += 1
        elif (
            table == "person"
            and (r.get("id_number") or "").endswith("000")
            and any(t.endswith(".checksum") for t in truth_reasons)
            and any(x.endswith(AMBIGUOUS_REASON) for x in lake_reasons)
        ):
            out.quarantine_ambiguous += 1
        else:
            out.quarantine_wrong_reason.append(
                (r["delivery"], r["row"], truth_reasons, lake_reasons)
            )
    not_expected = q.join(
        rows.filter(pl.col("outcome") != "quarantine").select("delivery", "row"),
        on=["delivery", "row"],
        how="semi",
    )
    out.false_quarantine = not_expected.height


def check_accuracy(settings: Settings, truth_dir: Path, *, sample: int = 5) -> AccuracyReport:
    """Compare the lake of ``settings`` with the simulator's ``truth_dir`` (``OUT/truth``)."""
    from warehouse.extensions import load_extension
    from warehouse.lake import attach

    truth_dir = Path(truth_dir)
    con = attach(settings, read_only=True)
    load_extension(con, "spatial")  # GEOMETRY -> WKB, and the truth's WKT -> WKB
    try:
        batches = con.sql(
            "SELECT batch_id, feed, source, rows_in, rows_loaded, rows_quarantined, "
            "rows_duplicate, status, started_at FROM lake.meta.batches"
        ).pl()
        unreconciled = batches.filter(
            pl.col("rows_in")
            != pl.col("rows_loaded") + pl.col("rows_quarantined") + pl.col("rows_duplicate")
        ).to_dicts()
        truth_lines: dict[str, int] = {}
        for table in TABLES:
            counts = (
                pl.read_parquet(truth_dir / table / "rows" / "*.parquet", columns=["delivery"])
                .group_by("delivery")
                .len()
            )
            truth_lines.update(dict(counts.iter_rows()))
        offsets = _batch_offsets(batches, truth_lines)
        raw_q = con.sql(
            "SELECT q.feed, q.batch_id, q.source_row, q.reasons FROM lake.meta.quarantine q "
            "WHERE q.resolved_at IS NULL"
        ).pl()
        quarantine = (
            raw_q.join(offsets.select("batch_id", "delivery", "offset"), on="batch_id", how="left")
            .with_columns((pl.col("source_row") - 1 + pl.col("offset")).alias("row"))
            .group_by("delivery", "row")
            .agg(pl.col("reasons").list.explode(keep_nulls=False, empty_as_null=False).unique())
        )
        report = AccuracyReport(tables={}, unreconciled_batches=unreconciled)
        for table in TABLES:
            out = TableAccuracy(table)
            _compare(con, truth_dir, table, out, sample)
            _check_rows(truth_dir, table, quarantine, offsets, out)
            report.tables[table] = out
        return report
    finally:
        con.close()


# --- printing -------------------------------------------------------------------------


def _short(value: Any, width: int = 48) -> str:
    text = value.hex() if isinstance(value, bytes | bytearray) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_report(report: AccuracyReport, sample: int = 5) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = Table(title="Accuracy against the demo city's ground truth")
    for name in (
        "table",
        "normalizable",
        "exact",
        "accuracy %",
        "missing",
        "extra",
        "quarantine expected",
        "right reason",
        "excel_float≈checksum",
        "false quarantine",
        "unaccounted",
    ):
        summary.add_column(name, justify="left" if name == "table" else "right")
    for t in report.tables.values():
        summary.add_row(
            t.table,
            f"{t.normalizable:,}",
            f"{t.exact:,}",
            f"{100 * t.accuracy:.3f}",
            f"{t.missing:,}",
            f"{t.extra:,}",
            f"{t.quarantine_expected:,}",
            f"{t.quarantine_right:,}",
            f"{t.quarantine_ambiguous:,}",
            f"{t.false_quarantine:,}",
            f"{t.unaccounted:,}",
        )
    summary.add_row(
        "[b]all[/b]",
        f"{report.normalizable:,}",
        f"{report.exact:,}",
        f"{100 * report.accuracy:.3f}",
        "",
        "",
        f"{sum(t.quarantine_expected for t in report.tables.values()):,}",
        f"{sum(t.quarantine_right for t in report.tables.values()):,}",
        f"{sum(t.quarantine_ambiguous for t in report.tables.values()):,}",
        f"{sum(t.false_quarantine for t in report.tables.values()):,}",
        f"{report.unaccounted:,}",
    )
    console.print(summary)
    console.print(
        "Geometry (core.area) is compared as WKB after ST_GeomFromText of the truth's WKT."
    )
    for b in report.unreconciled_batches:
        console.print(f"[red]batch does not reconcile[/red]: {b}")
    for t in report.tables.values():
        if t.columns_not_in_lake:
            console.print(
                f"{t.table}: truth columns not in the lake (not compared): {t.columns_not_in_lake}"
            )
        if t.column_mismatches:
            console.print(f"{t.table}: mismatching rows per column: {t.column_mismatches}")
        if t.mismatches:
            mm = Table(title=f"{t.table}: first mismatches")
            for name in ("key", "column", "lake", "truth"):
                mm.add_column(name)
            for m in t.mismatches[: max(sample, 2 * len(t.column_mismatches))]:
                mm.add_row(m.key, m.column, _short(m.lake), _short(m.truth))
            console.print(mm)
        for d, r, reasons in t.quarantine_missing[:sample]:
            console.print(f"{t.table}: not quarantined: {d} row {r} (truth {reasons})")
        for d, r, tr, lr in t.quarantine_wrong_reason[:sample]:
            console.print(f"{t.table}: wrong reason: {d} row {r}: truth {tr}, lake {lr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truth", type=Path, required=True, help="the simulator's OUT/truth")
    parser.add_argument("--home", type=Path, help="CITYBRAIN_HOME of the lake (default: env)")
    parser.add_argument("--sample", type=int, default=5, help="mismatches shown per table")
    args = parser.parse_args(argv)
    import os

    if args.home:
        os.environ["CITYBRAIN_HOME"] = str(args.home)
    from schemas.settings import get_settings

    report = check_accuracy(get_settings(), args.truth, sample=args.sample)
    print_report(report, args.sample)
    return 0 if report.accuracy >= 0.999 and report.unaccounted == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
