"""Lineage as a tree: each column of a table with its sources, and theirs, down to the
departments' fields."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from schemas.generate import table_columns
from warehouse.lineage.edges import Edge, registry, tables_by_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from schemas.records.base import CanonicalRecord


class LineageNode(BaseModel):
    """A source of a column, with its own sources below it."""

    model_config = ConfigDict(frozen=True)

    kind: str
    column: str
    label: str | None = None
    table: str | None = None
    feed: str | None = None
    department: str | None = None  # owner of a department field
    resource: str | None = None
    rank: int | None = None
    transform: str = ""
    sources: tuple[LineageNode, ...] = ()


class ColumnLineage(BaseModel):
    """One column of a table and the tree of its sources."""

    model_config = ConfigDict(frozen=True)

    column: str
    label: str
    sources: tuple[LineageNode, ...]


class TableLineage(BaseModel):
    """Every column of a table with the tree of its sources, down to the feed fields."""

    model_config = ConfigDict(frozen=True)

    table: str
    label: str
    columns: tuple[ColumnLineage, ...]


def _labels(models: Iterable[type[CanonicalRecord]]) -> dict[tuple[str, str], str]:
    return {
        (name, col.name): col.standard.label
        for name, (model, history) in tables_by_name(models).items()
        for col in table_columns(model, history=history)
    }


def _edge_order(edge: Edge) -> tuple[Any, ...]:
    return (edge.source_kind, edge.source_table or "", edge.source_feed or "",
            edge.source_resource or "", edge.source_rank or 0, edge.source_column)  # fmt: skip


def lineage_tree(
    table: str,
    edges: Iterable[Edge],
    models: Iterable[type[CanonicalRecord]] | None = None,
) -> TableLineage:
    """Each column of ``table`` with its sources, and theirs, down to department fields.

    History tables (``core.person_history``) are known too. Raises ``KeyError`` (naming
    the known tables) for a table not in the standard.

    >>> edges = [Edge("mart.m", "n", "core_column", "id_number", "core.person", transform="x"),
    ...          Edge("core.person", "id_number", "feed_field", "GMSFHM",
    ...               source_feed="population", source_resource="persons", source_rank=0)]
    >>> tree = lineage_tree("core.person", edges)
    >>> col = next(c for c in tree.columns if c.column == "id_number")
    >>> col.label, [(s.kind, s.feed, s.column) for s in col.sources]
    ('公民身份号码', [('feed_field', 'population', 'GMSFHM')])
    """
    from schemas.records import table as model_of

    models = registry() if models is None else tuple(models)
    known = tables_by_name(models)
    if table not in known:
        model_of(table)  # raises the KeyError that lists the known tables
        known = tables_by_name([model_of(table)])
    model, history = known[table]
    labels = _labels(models)
    owners = {m.__table__: m.__owner__ for m in models}
    by_target: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for edge in edges:
        by_target[(edge.target_table, edge.target_column)].append(edge)

    def sources(target: tuple[str, str], seen: frozenset[tuple[str, str]]) -> list[LineageNode]:
        out = []
        for edge in sorted(by_target.get(target, ()), key=_edge_order):
            key = (edge.source_table or "", edge.source_column)
            below = () if edge.source_table is None or key in seen else sources(key, seen | {key})
            out.append(
                LineageNode(
                    kind=edge.source_kind,
                    column=edge.source_column,
                    label=labels.get(key) if edge.source_table else labels.get(target),
                    table=edge.source_table,
                    feed=edge.source_feed,
                    department=owners.get(target[0]) if edge.source_feed else None,
                    resource=edge.source_resource,
                    rank=edge.source_rank,
                    transform=edge.transform,
                    sources=tuple(below),
                )
            )
        return out

    columns = [
        ColumnLineage(
            column=col.name,
            label=col.standard.label,
            sources=tuple(sources((table, col.name), frozenset({(table, col.name)}))),
        )
        for col in table_columns(model, history=history)
    ]
    label = f"{model.__label__}（历史）" if history else model.__label__
    return TableLineage(table=table, label=label, columns=tuple(columns))
