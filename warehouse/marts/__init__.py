"""The situation marts (态势感知): ``mart.*`` rebuilt from ``core`` and ``meta``.

Each mart is one SELECT in ``warehouse/marts/<table>.sql`` whose output columns are the
mart's columns in the model's order (``schemas.records.mart``); the DDL belongs to the
standard (``init_lake``), so a build only replaces rows. :func:`build_marts` scores the
batches not scored yet (``meta.quality_results``, GB/T 36344) and replaces every mart's
rows in one DuckLake transaction: readers see the old marts or the new ones, never a mix.

The ``.sql`` files name the lake ``lake`` (``lake.core.person``) and take DuckDB named
parameters: ``$as_of`` (the date counts and validity refer to) and ``$built_at`` (UTC).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple

import duckdb
import sqlglot
from sqlglot import exp

from schemas.errors import LakeError
from schemas.generate import DIALECT, table_columns
from warehouse.load import statements as loader_sql
from warehouse.load.statements import requalify
from warehouse.retry import is_busy, transaction, with_retry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from schemas.settings import Settings

MARTS: tuple[str, ...] = (
    "population_by_area",
    "population_monthly",
    "entities_by_area",
    "entity_registrations_monthly",
    "licences_by_area",
    "penalties_monthly",
    "alerts",
    "feed_freshness",
    "quality_scorecard",
)
"""The marts, by table name in schema ``mart`` (= their ``.sql`` file names)."""

AUTHOR = "citybrain marts"
"""Author of the snapshots a build commits (``lake.snapshots()``)."""

# The city's own calendar decides which day "today" is for validity and ages.
CITY_UTC_OFFSET = timedelta(hours=8)


class FeedSla(NamedTuple):
    """A feed's freshness promise as ``meta.feed_slas`` keeps it."""

    feed: str
    department: str
    schedule: str
    freshness_sla_hours: float


def sql_names(folder: str = "") -> list[str]:
    """Names of the ``.sql`` files in ``warehouse/marts/`` (or a sub-folder), sorted.

    >>> sql_names() == sorted(MARTS)
    True
    """
    root = resources.files(__name__)
    if folder:
        root = root.joinpath(folder)
    return sorted(e.name.removesuffix(".sql") for e in root.iterdir() if e.name.endswith(".sql"))


@cache
def mart_sql(name: str, folder: str = "") -> str:
    """The text of ``warehouse/marts/[<folder>/]<name>.sql``."""
    path = resources.files(__name__).joinpath(*filter(None, [folder, f"{name}.sql"]))
    if not path.is_file():
        where = f"warehouse/marts/{folder}" if folder else "warehouse/marts"
        msg = f"no SQL file {name!r} in {where}; there are: {', '.join(sql_names(folder))}"
        raise KeyError(msg)
    return path.read_text(encoding="utf-8")


@cache
def parsed(name: str, folder: str = "") -> exp.Expression:
    """A marts ``.sql`` file as a sqlglot expression (the catalog reads lineage from it)."""
    return sqlglot.parse_one(mart_sql(name, folder), read=DIALECT)


def mart_columns(name: str) -> list[str]:
    """The columns of ``mart.<name>``, in order, as the data standard declares them.

    >>> mart_columns("penalties_monthly")
    ['district_code', 'month', 'penalties', 'fines_yuan']
    """
    from schemas.records import table

    return [c.name for c in table_columns(table(f"mart.{name}"))]


def _table(lake: str, schema: str, name: str) -> exp.Table:
    return exp.table_(name, db=schema, catalog=lake)


def _run(
    con: duckdb.DuckDBPyConnection, expression: exp.Expression, params: dict[str, Any]
) -> list[tuple]:
    # DuckDB refuses parameters a statement does not name: pass only its own.
    wanted = {p.name for p in expression.find_all(exp.Placeholder)}
    given = {k: v for k, v in params.items() if k in wanted}
    return con.execute(expression.sql(dialect=DIALECT), given).fetchall()


def _statement(name: str, lake: str, folder: str = "") -> exp.Expression:
    # A copy: the parsed file is cached, and building a statement around it re-parents it.
    return requalify(parsed(name, folder), lake).copy()


def replace_statements(name: str, lake: str) -> tuple[exp.Delete, exp.Insert]:
    """The DELETE and INSERT that replace the rows of ``mart.<name>`` with its SELECT.

    >>> delete, insert = replace_statements("penalties_monthly", "lake")
    >>> delete.sql("duckdb")
    'DELETE FROM lake.mart.penalties_monthly'
    >>> insert.sql("duckdb")[:73]
    'INSERT INTO lake.mart.penalties_monthly (district_code, month, penalties,'
    """
    target = _table(lake, "mart", name)
    select = _statement(name, lake)
    columns = [exp.to_identifier(c) for c in mart_columns(name)]
    insert = exp.Insert(this=exp.Schema(this=target.copy(), expressions=columns), expression=select)
    return exp.Delete(this=target), insert


def _utc_now() -> datetime:
    # The lake keeps naive UTC timestamps (like _loaded_at).
    return datetime.now(UTC).replace(tzinfo=None)


def city_date(at: datetime) -> date:
    """The city's calendar date at a naive UTC time.

    >>> city_date(datetime(2026, 3, 31, 17, 30))
    datetime.date(2026, 4, 1)
    """
    return (at + CITY_UTC_OFFSET).date()


def _fail(what: str, exc: duckdb.Error) -> LakeError:
    return LakeError(
        f"{what} failed: {exc}. The marts were left as they were (one transaction); fix the "
        "SQL file or the lake and run `citybrain marts build` again."
    )


def score_new_batches(con: duckdb.DuckDBPyConnection, lake: str, built_at: datetime) -> int:
    """Add GB/T 36344 rule results for every loaded batch not scored yet; return how many.

    Runs in the caller's transaction. A batch is scored once: its results stay as they
    were when it arrived, so the scorecard keeps the trend, and scoring again adds nothing.
    """
    count = _statement("scored_batches", lake, "meta")
    before = _run(con, count, {})[0][0]
    insert = exp.Insert(
        this=exp.Schema(
            this=_table(lake, "meta", "quality_results"),
            expressions=[exp.to_identifier(c) for c in _quality_columns()],
        ),
        expression=_statement("new_quality_results", lake, "meta"),
    )
    try:
        _run(con, insert, {"built_at": built_at})
    except duckdb.Error as exc:
        if is_busy(exc):
            raise
        what = "scoring the new batches (warehouse/marts/meta/new_quality_results.sql)"
        raise _fail(what, exc) from exc
    return int(_run(con, count, {})[0][0] - before)


def _label(con: duckdb.DuckDBPyConnection, lake: str, message: str, extra: dict) -> None:
    # `lake.snapshots()` then says what each marts snapshot was.
    _run(
        con,
        requalify(loader_sql.parsed("load", "commit_message"), lake),
        {"author": AUTHOR, "message": message, "extra_info": json.dumps(extra, default=str)},
    )


def _quality_columns() -> list[str]:
    from schemas.records import table

    return [c.name for c in table_columns(table("meta.quality_results"))]


def _replace(con: duckdb.DuckDBPyConnection, lake: str, name: str, params: dict[str, Any]) -> int:
    delete, insert = replace_statements(name, lake)
    try:
        _run(con, delete, params)
        rows = _run(con, insert, params)
    except duckdb.Error as exc:
        if is_busy(exc):
            raise
        raise _fail(f"building mart.{name} (warehouse/marts/{name}.sql)", exc) from exc
    return int(rows[0][0]) if rows else 0


class MartBuild(NamedTuple):
    """What one build did: rows per mart, and batches newly scored."""

    rows: dict[str, int]
    batches_scored: int


def build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    as_of: date | None = None,
    built_at: datetime | None = None,
) -> MartBuild:
    """Score new batches and replace every mart's rows, in one transaction (with retries).

    ``built_at`` (naive UTC) defaults to now, ``as_of`` to the city's date at
    ``built_at``; tests pin both.
    """
    built_at = built_at or _utc_now()
    params = {"as_of": as_of or city_date(built_at), "built_at": built_at}
    lake = settings.lake_name

    def attempt() -> MartBuild:
        with transaction(con):
            scored = score_new_batches(con, lake, built_at)
            rows = {name: _replace(con, lake, name, params) for name in MARTS}
            _label(con, lake, "marts rebuilt", {"as_of": params["as_of"], "scored": scored})
        return MartBuild(rows, scored)

    return with_retry(attempt, what="build the marts")


def build_marts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    as_of: date | None = None,
    built_at: datetime | None = None,
) -> dict[str, int]:
    """Rows per mart after replacing every mart in one transaction (see :func:`build`)."""
    return build(con, settings, as_of=as_of, built_at=built_at).rows


def write_feed_slas(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    slas: Sequence[FeedSla],
    *,
    updated_at: datetime | None = None,
) -> list[str]:
    """Record the feeds' SLAs in ``meta.feed_slas``; return the feeds whose SLA changed.

    Only new or changed SLAs are written (their ``updated_at`` says when they changed), so
    an unchanged registry adds no snapshot. Feeds no longer in ``slas`` are kept: their
    batches still need an SLA to be judged by.
    """
    lake = settings.lake_name
    updated_at = updated_at or _utc_now()

    def attempt() -> list[str]:
        with transaction(con):
            known = {
                row[0]: FeedSla(*row)
                for row in _run(con, _statement("feed_slas", lake, "meta"), {})
            }
            changed = [s for s in slas if known.get(s.feed) != s]
            for sla in changed:
                params = {**sla._asdict(), "updated_at": updated_at}
                _run(con, _statement("feed_sla_delete", lake, "meta"), params)
                _run(con, _statement("feed_sla_insert", lake, "meta"), params)
            if changed:
                _label(con, lake, "feed SLAs recorded", {"feeds": [s.feed for s in changed]})
        return [s.feed for s in changed]

    return with_retry(attempt, what="record the feeds' SLAs")


__all__ = [
    "MARTS",
    "FeedSla",
    "MartBuild",
    "build",
    "build_marts",
    "city_date",
    "mart_columns",
    "mart_sql",
    "parsed",
    "replace_statements",
    "score_new_batches",
    "sql_names",
    "write_feed_slas",
]
