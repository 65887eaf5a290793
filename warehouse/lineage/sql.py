"""Column-level lineage of the mart SQL, by sqlglot.

Each ``warehouse/marts/<table>.sql`` is read with sqlglot's lineage over the schema of the
lake (from :mod:`schemas.generate`, so ``*`` and unqualified columns resolve), giving
edges from every mart column back to the core and meta columns it is computed from; a
history table's columns come from its table's (:func:`history_edges`).

>>> edges = sql_lineage(
...     "SELECT residence_region_code AS district_code, count(*) AS total "
...     "FROM lake.core.person GROUP BY 1", "mart.demo")
>>> [(e.target_column, e.source_table, e.source_column, e.transform) for e in edges]
[('district_code', 'core.person', 'residence_region_code', 'as is'), ('total', 'core.person', 'id_number', 'per row: COUNT(*)')]
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

from schemas.errors import SpecError
from schemas.generate import DIALECT, table_columns, table_name
from warehouse.lineage.edges import COMPUTED, KIND_OF_ZONE, Edge, registry, tables_by_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from schemas.records.base import CanonicalRecord

# A transform longer than this is cut: the catalog shows it, the SQL file has it whole.
_MAX_TRANSFORM = 400
_MAX_COMPUTED = 120


# --- the lake's schema, as sqlglot needs it ---------------------------------------------


def lake_schema(
    models: Iterable[type[CanonicalRecord]] | None = None,
) -> dict[str, dict[str, dict[str, str]]]:
    """``{schema: {table: {column: type}}}`` of every lake table, history tables included.

    >>> lake_schema()["core"]["person"]["birth_date"]
    'DATE'
    >>> "_valid_to" in lake_schema()["core"]["person_history"]
    True
    """
    out: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for name, (model, history) in tables_by_name(registry() if models is None else models).items():
        zone, table = name.split(".")
        out[zone][table] = {c.name: c.sql_type for c in table_columns(model, history=history)}
    return dict(out)


@cache
def _default_schema() -> tuple[dict[str, dict[str, dict[str, str]]], dict[str, tuple[str, ...]]]:
    return lake_schema(), _business_keys(registry())


def _business_keys(models: Iterable[type[CanonicalRecord]]) -> dict[str, tuple[str, ...]]:
    return {name: model.__business_key__ for name, (model, _) in tables_by_name(models).items()}


# --- lineage of one SELECT ----------------------------------------------------------------


def _unqualified(expression: exp.Expression, zones: Iterable[str]) -> exp.Expression:
    # The mart files name tables lake-qualified (lake.core.person) under whatever name the
    # lake is attached as; the schema knows them as core.person.
    zones = set(zones)
    for table in expression.find_all(exp.Table):
        if table.args.get("catalog") is not None and table.db in zones:
            table.set("catalog", None)
    return expression


def _base_tables(
    query: exp.Expression | None, ctes: Mapping[str, exp.Expression], known: set[str]
) -> list[str]:
    """Lake tables a query's rows come from: its FROM, through CTEs and subqueries.

    Joined tables count only when the FROM holds no lake table (a month spine from
    ``generate_series`` joined to the data): a ``count(*)`` or a constant column describes
    the rows of the driving table, not of every lookup joined to it.
    """
    if isinstance(query, exp.Union):
        return _base_tables(query.left, ctes, known) + _base_tables(query.right, ctes, known)
    if isinstance(query, exp.Subquery):
        return _base_tables(query.this, ctes, known)
    if isinstance(query, exp.Table):
        name = f"{query.db}.{query.name}" if query.db else query.name
        if name in known:
            return [name]
        cte = ctes.get(query.name) if not query.db else None
        return _base_tables(cte, ctes, known) if cte is not None else []
    from_ = query.args.get("from") or query.args.get("from_") if query is not None else None
    if not isinstance(query, exp.Select) or from_ is None:
        return []
    out = _base_tables(from_.this, ctes, known)
    for join in query.args.get("joins") or () if not out else ():
        out += _base_tables(join.this, ctes, known)
    return out


def _relation(select: exp.Expression, alias: str) -> exp.Expression | None:
    """The FROM or JOIN item of ``select`` named ``alias``."""
    from_ = select.args.get("from") or select.args.get("from_")
    items = [from_.this] if from_ is not None else []
    items += [j.this for j in select.args.get("joins") or ()]
    return next((i for i in items if i.alias_or_name == alias), None)


def _counted_tables(node: Node, ctes: Mapping[str, exp.Expression], known: set[str]) -> list[str]:
    """Tables whose rows a ``count(x)`` in ``node`` counts: those behind x's relation."""
    value = node.expression.this if isinstance(node.expression, exp.Alias) else None
    if value is None or not isinstance(node.source, exp.Select):
        return []
    out: list[str] = []
    for count in value.find_all(exp.Count):
        for column in count.find_all(exp.Column):
            relation = _relation(node.source, column.table)
            out += _base_tables(relation, ctes, known)
    return out


def _transform(path: Sequence[Node]) -> str:
    steps: list[str] = []
    for node in path:
        if node.name == "UNION" or not isinstance(node.expression, exp.Alias):
            continue
        inner = node.expression.this
        if isinstance(inner, exp.Column):
            continue
        text = inner.sql(dialect=DIALECT)
        if text not in steps:
            steps.append(text)
    return _cut(" ← ".join(steps) or "as is")


def _cut(text: str, limit: int = _MAX_TRANSFORM) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _paths(node: Node, path: tuple[Node, ...] = ()) -> Iterable[tuple[Node, ...]]:
    path = (*path, node)
    if not node.downstream:
        yield path
        return
    for child in node.downstream:
        if child not in path:  # sqlglot shares nodes between columns; never loop
            yield from _paths(child, path)


def _parse(sql: str, where: str, zones: Iterable[str]) -> exp.Query:
    try:
        expression = sqlglot.parse_one(sql, read=DIALECT)
    except SqlglotError as exc:
        msg = f"{where}: the SQL does not parse as DuckDB ({exc}); fix the statement"
        raise SpecError(msg) from exc
    if not isinstance(expression, exp.Query):
        msg = (
            f"{where}: expected one SELECT or WITH statement, got "
            f"{expression.key.upper()}; a mart file holds only its query"
        )
        raise SpecError(msg)
    _unqualified(expression, zones)
    return expression


class _Tracer:
    """Turns the paths of sqlglot's lineage graph into (lake table, column) sources."""

    def __init__(
        self,
        schema: Mapping[str, Mapping[str, Mapping[str, str]]],
        keys: Mapping[str, tuple[str, ...]],
        ctes: Mapping[str, exp.Expression],
        where: str,
    ) -> None:
        self.schema, self.keys, self.ctes, self.where = schema, keys, ctes, where

    def sources(
        self, column: str, path: Sequence[Node]
    ) -> tuple[list[tuple[str | None, str]], str]:
        """(table, column) sources at the end of one path, and the path's transform.

        A ``None`` table is a computed source (a table function such as
        ``generate_series``, or a constant outside any lake table's rows): its column is
        the generating expression.
        """
        end = path[-1]
        found: list[tuple[str | None, str]]
        if isinstance(end.expression, exp.Table):
            table = f"{end.expression.db}.{end.expression.name}"
            if isinstance(end.expression.this, exp.Identifier):
                if table not in self.keys:
                    msg = (
                        f"{self.where}: column {column!r} reads table {table}, which is not a "
                        "table of the data standard; read core.*, meta.* or mart.* tables"
                    )
                    raise SpecError(msg)
                found = [(table, end.name.split(".")[-1])]
            else:
                found = [(None, _cut(end.expression.this.sql(dialect=DIALECT), _MAX_COMPUTED))]
            transform = _transform(path)
        elif isinstance(end.source, exp.Values):
            found = [(None, _cut(end.source.sql(dialect=DIALECT), _MAX_COMPUTED))]
            transform = _transform(path)
        else:
            value = end.expression.this if isinstance(end.expression, exp.Alias) else None
            if value is None or value.find(exp.Column) is not None:
                msg = (
                    f"{self.where}: column {column!r} reads {end.expression.sql(DIALECT)!r}, "
                    "which resolves to no lake column; name the table it comes from"
                )
                raise SpecError(msg)
            tables = dict.fromkeys(_base_tables(end.source, self.ctes, set(self.keys)))
            found = [(t, k) for t in tables for k in self.keys[t]]
            found = found or [(None, _cut(value.sql(dialect=DIALECT), _MAX_COMPUTED))]
            transform = "per row: " + _transform(path)
        # count(x) counts rows: trace it to the rows behind x too, which sqlglot does not.
        for node in path:
            for table in dict.fromkeys(_counted_tables(node, self.ctes, set(self.keys))):
                found += [(table, k) for k in self.keys[table] if (table, k) not in found]
        for table, source_column in found:
            if table is None:
                continue
            zone, _, name = table.partition(".")
            if source_column not in self.schema.get(zone, {}).get(name, {}):
                msg = (
                    f"{self.where}: column {column!r} reads {table}.{source_column}, which "
                    "is not in the data standard"
                )
                raise SpecError(msg)
        return found, transform


def sql_lineage(
    sql: str,
    target_table: str,
    *,
    models: Iterable[type[CanonicalRecord]] | None = None,
    where: str | None = None,
) -> list[Edge]:
    """Edges from every output column of one SELECT back to the lake columns it reads.

    A column computed from no column at all (``count(*)``, a constant) is traced to the
    business key of the table its rows come from, with ``per row:`` in the transform.
    A reference that resolves to no lake column raises :class:`SpecError`.

    Args:
        sql: one DuckDB ``SELECT``/``WITH`` statement; tables may be lake-qualified.
        target_table: the table it fills, e.g. ``mart.population_by_area``.
        models: the tables it may read (default: the whole standard).
        where: what to name in error messages (default: ``target_table``).

    >>> sql = '''WITH p AS (SELECT * FROM core.person)
    ...     SELECT a.name AS area_name,
    ...            sum(CASE WHEN p.is_deceased THEN 0 ELSE 1 END) AS alive
    ...     FROM p JOIN core.area AS a ON a.area_code = p.residence_street_code GROUP BY 1'''
    >>> for e in sql_lineage(sql, "mart.demo"):
    ...     print(e.target_column, "←", e.source_table, e.source_column, "|", e.transform)
    area_name ← core.area name | as is
    alive ← core.person is_deceased | SUM(CASE WHEN p.is_deceased THEN 0 ELSE 1 END)
    """
    where = where or target_table
    if models is None:
        schema, keys = _default_schema()
    else:
        models = tuple(models)
        schema, keys = lake_schema(models), _business_keys(models)
    expression = _parse(sql, where, schema)
    tracer = _Tracer(schema, keys, {c.alias: c.this for c in expression.find_all(exp.CTE)}, where)
    try:
        roots = lineage(None, expression, schema, dialect=DIALECT)
    except SqlglotError as exc:
        msg = (
            f"{where}: cannot trace its columns ({exc}); every table must be a lake table "
            "of the data standard and every column one of its columns"
        )
        raise SpecError(msg) from exc
    assert isinstance(roots, dict)  # column=None gives every output column

    edges: dict[tuple[str, str | None, str], list[str]] = {}
    for column, root in roots.items():
        for path in _paths(root):
            found, transform = tracer.sources(column, path)
            for table, source_column in found:
                steps = edges.setdefault((column, table, source_column), [])
                if transform not in steps:
                    steps.append(transform)
    return [
        Edge(
            target_table=target_table,
            target_column=column,
            source_kind=KIND_OF_ZONE[table.split(".")[0]] if table else COMPUTED,
            source_table=table,
            source_column=source_column,
            transform="; ".join(steps),
        )
        for (column, table, source_column), steps in edges.items()
    ]


def output_columns(sql: str) -> list[str]:
    """The names of a SELECT's output columns, in order (``*`` expanded over the lake).

    >>> output_columns("SELECT area_code, name AS area_name FROM lake.core.area")
    ['area_code', 'area_name']
    """
    from sqlglot.optimizer.qualify import qualify

    schema, _ = _default_schema()
    expression = _unqualified(sqlglot.parse_one(sql, read=DIALECT), schema)
    qualified = qualify(expression, schema=schema, dialect=DIALECT, validate_qualify_columns=False)
    assert isinstance(qualified, exp.Query)
    return [s.alias_or_name for s in qualified.selects]


# --- the mart files -----------------------------------------------------------------------


def mart_sql_files() -> dict[str, Path]:
    """``mart.<name>`` -> ``warehouse/marts/<name>.sql``, for every mart file present."""
    from pathlib import Path

    folder = Path(str(resources.files("warehouse"))) / "marts"
    if not folder.is_dir():
        return {}
    return {f"mart.{path.stem}": path for path in sorted(folder.glob("*.sql"))}


def mart_lineage(models: Iterable[type[CanonicalRecord]] | None = None) -> list[Edge]:
    """Edges of every mart column back to core/meta columns, from the mart SQL files."""
    edges: list[Edge] = []
    for table, path in mart_sql_files().items():
        sql = path.read_text(encoding="utf-8")
        edges += sql_lineage(sql, table, models=models, where=f"warehouse/marts/{path.name}")
    return edges


def history_edges(models: Iterable[type[CanonicalRecord]] | None = None) -> list[Edge]:
    """Edges from each column of ``core.<table>_history`` to the same column of the table.

    >>> edges = history_edges()
    >>> next((e.source_table, e.transform) for e in edges if e.target_table == "core.area_history")
    ('core.area', 'every version of the row (SCD type 2)')
    """
    edges = []
    for model in registry() if models is None else models:
        if not model.__history__:
            continue
        for col in table_columns(model):
            edges.append(
                Edge(
                    target_table=table_name(model, history=True),
                    target_column=col.name,
                    source_kind=KIND_OF_ZONE[model.__table__.split(".")[0]],
                    source_column=col.name,
                    source_table=model.__table__,
                    transform="every version of the row (SCD type 2)",
                )
            )
    return edges
