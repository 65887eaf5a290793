"""The situation page's queries (态势感知): filters, SQL, and the panels' data.

Every panel reads the marts through the governed layer as role ``public``, so the page
shows exactly what an anonymous viewer may see (a person's name in an alert as ``张*``).
The SQL lives in ``warehouse/serve/sql/<name>.sql`` with DuckDB named parameters
(``$district``, ``$month_from``, ``$month_to``); the governed layer takes one SQL text and
no parameters, so :func:`situation_sql` binds them as literals on the parsed statement
with sqlglot — values never pass through string formatting.

A query runs through a :data:`Runner`: :func:`governed_runner` for the page, and
:func:`direct_runner` (plain DuckDB on an attached lake) for the benchmark's baseline, so
both run the very same SQL text.

The district shapes are the one exception: ``core.area`` is not a mart and ``public``
reads marts only, while boundaries are the open base map; :func:`district_shapes` reads
them on its own read-only connection and simplifies them there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlglot import exp

from schemas.errors import TerminalError
from schemas.generate import DIALECT
from warehouse.load.statements import requalify

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

    from schemas.settings import Settings

PAGE_ROLE = "public"
"""The governed role the page reads as: marts only, personal data masked."""

PAGE_PRINCIPAL = "situation-page"
"""Principal name the page's queries are audited under."""

SHAPE_TOLERANCE_DEGREES = 0.0005
"""Simplification of the district polygons (about 50 m): invisible at page scale."""

DEFAULT_MONTHS = 12
"""Months shown when the page opens: the last year the marts hold."""

PANEL_QUERIES: dict[str, tuple[str, ...]] = {
    "map": ("districts",),
    "months": ("months",),
    "tiles": ("tiles",),
    "trends": ("population_trend", "registrations_trend", "penalties_trend"),
    "alerts": ("alert_counts", "alerts"),
    "freshness": ("freshness",),
    "quality": ("quality_latest", "quality_trend"),
}
"""Which ``.sql`` files each ``/api/situation/<panel>`` endpoint runs."""

FILTERED = frozenset(
    {
        "tiles",
        "population_trend",
        "registrations_trend",
        "penalties_trend",
        "alert_counts",
        "alerts",
    }
)
"""Queries that take the district and month filters; the rest are city-wide and timeless."""


class SituationError(TerminalError):
    """The page cannot answer: no lake, no marts yet, or a filter it cannot read."""


# --- filters ------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    """A ``YYYY-MM`` month (as ``<input type=month>`` sends it) as its first day.

    >>> parse_month("2026-03")
    datetime.date(2026, 3, 1)
    >>> parse_month("2026-3")
    Traceback (most recent call last):
    ...
    warehouse.serve.situation.SituationError: month '2026-3': expected YYYY-MM, e.g. 2026-03
    """
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        msg = f"month {text!r}: expected YYYY-MM, e.g. 2026-03"
        raise SituationError(msg)
    return date(int(match[1]), int(match[2]), 1)


_DISTRICT = re.compile(r"^\d{6}$")


def parse_district(text: str | None) -> str | None:
    """A district filter: a 6-digit code, or None (empty) for the whole city.

    >>> parse_district("440106"), parse_district("")
    ('440106', None)
    >>> parse_district("44010")
    Traceback (most recent call last):
    ...
    warehouse.serve.situation.SituationError: district '44010': expected a 6-digit district code (GB/T 2260), e.g. 440106, or nothing for the whole city
    """
    if not text:
        return None
    if _DISTRICT.match(text) is None:
        msg = (
            f"district {text!r}: expected a 6-digit district code (GB/T 2260), e.g. 440106, "
            "or nothing for the whole city"
        )
        raise SituationError(msg)
    return text


def add_months(month: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``month``.

    >>> add_months(date(2026, 1, 1), -11)
    datetime.date(2025, 2, 1)
    >>> add_months(date(2025, 12, 1), 1)
    datetime.date(2026, 1, 1)
    """
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class SituationFilter(BaseModel):
    """What the page's filters select: one district (or the city) and a month range."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    district_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="6-digit district code; None = city."
    )
    month_from: date = Field(description="First month of the range (its first day).")
    month_to: date = Field(description="Last month of the range (its first day).")

    @model_validator(mode="after")
    def _ordered(self) -> SituationFilter:
        if self.month_from.day != 1 or self.month_to.day != 1:
            msg = f"months must be first days of a month, got {self.month_from}, {self.month_to}"
            raise ValueError(msg)
        if self.month_from > self.month_to:
            msg = (
                f"month range {self.month_from:%Y-%m} to {self.month_to:%Y-%m} is reversed: "
                "choose a first month before the last"
            )
            raise ValueError(msg)
        return self

    def params(self) -> dict[str, Any]:
        """The named parameters of the filtered ``.sql`` files."""
        return {
            "district": self.district_code,
            "month_from": self.month_from,
            "month_to": self.month_to,
        }


# --- SQL ------------------------------------------------------------------------------------


def sql_names() -> list[str]:
    """Names of the page's ``.sql`` files, sorted."""
    root = resources.files("warehouse.serve").joinpath("sql")
    return sorted(e.name.removesuffix(".sql") for e in root.iterdir() if e.name.endswith(".sql"))


@cache
def parsed_sql(name: str) -> exp.Expression:
    """``warehouse/serve/sql/<name>.sql`` parsed as one DuckDB statement."""
    path = resources.files("warehouse.serve").joinpath("sql", f"{name}.sql")
    if not path.is_file():
        msg = f"no SQL file {name!r} in warehouse/serve/sql; there are: {', '.join(sql_names())}"
        raise KeyError(msg)
    return sqlglot.parse_one(path.read_text(encoding="utf-8"), read=DIALECT)


def literal(value: Any) -> exp.Expression:
    """A Python value as a typed SQL literal (NULLs typed, so ``$x IS NULL`` plans well).

    >>> literal(None).sql("duckdb")
    'CAST(NULL AS TEXT)'
    >>> literal(date(2026, 3, 1)).sql("duckdb")
    "CAST('2026-03-01' AS DATE)"
    >>> literal("440103").sql("duckdb")
    "'440103'"
    """
    if value is None:
        return exp.cast(exp.null(), exp.DataType.Type.VARCHAR)
    return exp.convert(value)


def bind(statement: exp.Expression, params: dict[str, Any]) -> exp.Expression:
    """A copy of ``statement`` with every ``$name`` replaced by the literal of its value.

    >>> s = sqlglot.parse_one("SELECT * FROM t WHERE d = $district", read="duckdb")
    >>> bind(s, {"district": "440103"}).sql("duckdb")
    "SELECT * FROM t WHERE d = '440103'"
    >>> bind(s, {})
    Traceback (most recent call last):
    ...
    KeyError: 'the SQL names $district but no value was given for it (given: none)'
    """

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in params:
                given = ", ".join(sorted(params)) or "none"
                msg = f"the SQL names ${node.name} but no value was given for it (given: {given})"
                raise KeyError(msg)
            return literal(params[node.name])
        return node

    return statement.copy().transform(replace, copy=False)


def situation_sql(
    name: str, situation: SituationFilter | None = None, *, lake: str = "lake", **params: Any
) -> str:
    """DuckDB text of a page query with its filters bound as literals.

    >>> f = SituationFilter(district_code="440106", month_from=date(2026, 1, 1),
    ...                     month_to=date(2026, 3, 1))
    >>> sql = situation_sql("penalties_trend", f)
    >>> "district_code = '440106'" in sql and "CAST('2026-03-01' AS DATE)" in sql
    True
    """
    if name in FILTERED:
        if situation is None:
            msg = f"situation query {name!r} needs a district/month filter"
            raise SituationError(msg)
        params = situation.params() | params
    statement = requalify(bind(parsed_sql(name), params), lake)
    return statement.sql(dialect=DIALECT, comments=False)


# --- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """A query's answer: column names and rows, in order."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Runner(Protocol):
    """Runs one page query (a SQL text) and returns its rows."""

    def __call__(self, sql: str) -> Rows: ...


def governed_runner(settings: Settings, *, role: str = PAGE_ROLE) -> Runner:
    """Queries through the governed layer as ``role`` (masked, scoped, audited)."""
    from warehouse.governed import principal_for, run_query

    principal = principal_for(role, PAGE_PRINCIPAL, settings=settings)

    def run(sql: str) -> Rows:
        result = run_query(sql, principal, settings=settings)
        return Rows(list(result.columns), [tuple(r) for r in result.rows])

    return run


def direct_runner(con: duckdb.DuckDBPyConnection, lake: str = "lake") -> Runner:
    """Queries straight on ``con`` (the lake attached as ``lake``): no policy, no audit.

    For measuring what governance costs (``benchmarks/bench_situation.py``) and for the
    district shapes. Each query gets its own cursor: FastAPI answers from several threads
    and a DuckDB connection must not be shared between them.
    """
    use = exp.Use(this=exp.to_identifier(lake)).sql(dialect=DIALECT)

    def run(sql: str) -> Rows:
        with con.cursor() as cursor:
            cursor.execute(use)
            cursor.execute(sql)
            return Rows([d[0] for d in cursor.description], cursor.fetchall())

    return run


def _plain(value: Any) -> Any:
    # JSON for the page: money as numbers (yuan), times as ISO text.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def records(rows: Rows) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts.

    >>> records(Rows(["month", "fines"], [(date(2026, 3, 1), Decimal("12.50"))]))
    [{'month': '2026-03-01', 'fines': 12.5}]
    """
    return [{k: _plain(v) for k, v in row.items()} for row in rows.to_dicts()]


# --- panels ---------------------------------------------------------------------------------


def month_range(run: Runner) -> dict[str, Any]:
    """The months the marts cover and the page's default range (the last year of data)."""
    row = records(run(situation_sql("months")))[0]
    last = row["last_month"]
    if last is None:
        return {**row, "default_from": None, "default_to": None}
    last_month = date.fromisoformat(last)
    first_month = date.fromisoformat(row["first_month"])
    default_from = max(first_month, add_months(last_month, 1 - DEFAULT_MONTHS))
    return {**row, "default_from": default_from.isoformat(), "default_to": last}


def default_filter(run: Runner, district_code: str | None = None) -> SituationFilter:
    """The filter the page opens with: the city (or one district) over the last year."""
    months = month_range(run)
    if months["default_to"] is None:
        msg = (
            "the marts hold no monthly rows yet: build them (`citybrain marts build`, or "
            "`make demo`) before opening the situation page"
        )
        raise SituationError(msg)
    return SituationFilter(
        district_code=district_code,
        month_from=date.fromisoformat(months["default_from"]),
        month_to=date.fromisoformat(months["default_to"]),
    )


def districts(run: Runner) -> list[dict[str, Any]]:
    """Every district with its residents (the map's colours and the select's options)."""
    return records(run(situation_sql("districts")))


def tiles(run: Runner, situation: SituationFilter) -> dict[str, Any]:
    """The indicator tiles for the filter, one dict."""
    return records(run(situation_sql("tiles", situation)))[0]


def trends(run: Runner, situation: SituationFilter) -> dict[str, list[dict[str, Any]]]:
    """Monthly series: residents, registrations/deregistrations, penalties/fines."""
    return {
        "population": records(run(situation_sql("population_trend", situation))),
        "registrations": records(run(situation_sql("registrations_trend", situation))),
        "penalties": records(run(situation_sql("penalties_trend", situation))),
    }


def alerts(run: Runner, situation: SituationFilter) -> dict[str, Any]:
    """Alert counts per kind and the newest, most severe alerts (masked for ``public``)."""
    counts = records(run(situation_sql("alert_counts", situation)))
    return {
        "total": sum(c["alerts"] for c in counts),
        "counts": counts,
        "items": records(run(situation_sql("alerts", situation))),
    }


def freshness(run: Runner) -> list[dict[str, Any]]:
    """Each feed's last load and lag against its SLA."""
    return records(run(situation_sql("freshness")))


def quality(run: Runner) -> dict[str, Any]:
    """Per department and feed: the latest batch's scores and the overall score's trend."""
    latest = records(run(situation_sql("quality_latest")))
    departments: dict[str, dict[str, Any]] = {}
    for row in latest:
        dept = departments.setdefault(
            row["department"], {"department": row["department"], "feeds": {}}
        )
        feed = dept["feeds"].setdefault(
            row["feed"],
            {
                "feed": row["feed"],
                "batch_id": row["batch_id"],
                "scored_at": row["scored_at"],
                "overall": row["overall"],
                "grade": row["grade"],
                "dimensions": {},
            },
        )
        feed["dimensions"][row["dimension"]] = row["score"]
    out = []
    for dept in departments.values():
        feeds = list(dept["feeds"].values())
        scores = [f["overall"] for f in feeds if f["overall"] is not None]
        out.append(
            {
                "department": dept["department"],
                "overall": round(sum(scores) / len(scores), 1) if scores else None,
                "feeds": feeds,
            }
        )
    return {"latest": out, "trend": records(run(situation_sql("quality_trend")))}


# --- the map --------------------------------------------------------------------------------


def district_shapes(
    settings: Settings, *, tolerance: float = SHAPE_TOLERANCE_DEGREES
) -> list[dict[str, Any]]:
    """District polygons as GeoJSON geometries (simplified), read from ``core.area``."""
    from warehouse.lake import attach

    con = attach(settings, read_only=True, spatial=True)
    try:
        sql = situation_sql("district_shapes", lake=settings.lake_name, tolerance=tolerance)
        rows = direct_runner(con, settings.lake_name)(sql).to_dicts()
    finally:
        con.close()
    return [
        {
            "district_code": r["district_code"],
            "area_name": r["area_name"],
            "geometry": json.loads(r["geojson"]),
        }
        for r in rows
    ]


def district_map(run: Runner, shapes: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the districts, each with its population figures."""
    values = {d["district_code"]: d for d in districts(run)}
    features = []
    for shape in shapes():
        figures = values.get(shape["district_code"], {})
        features.append(
            {
                "type": "Feature",
                "id": shape["district_code"],
                "geometry": shape["geometry"],
                "properties": {
                    "district_code": shape["district_code"],
                    "area_name": figures.get("area_name") or shape["area_name"],
                    "total": figures.get("total"),
                    "registered": figures.get("registered"),
                    "floating": figures.get("floating"),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
