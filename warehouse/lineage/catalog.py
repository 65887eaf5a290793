"""The catalog: every table and column of the data standard with its Chinese label,
owner, classification, open and share level, masking, and the freshness of the feeds it
is built from (``meta.batches`` against ``meta.feed_slas``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from schemas.generate import code_cell, security_level, table_columns, table_name
from warehouse.lineage.edges import Edge, registry
from warehouse.lineage.store import LakeState, read_lake_state

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from schemas.records.base import CanonicalRecord
    from schemas.settings import Settings


class Freshness(BaseModel):
    """How old a feed's newest load is, against its SLA."""

    model_config = ConfigDict(frozen=True)

    feed: str
    last_loaded_at: datetime | None
    freshness_sla_hours: float | None
    lag_hours: float | None
    is_stale: bool | None  # None: never loaded, or no SLA known


class CatalogColumn(BaseModel):
    """A column as the catalog shows it."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    description: str
    sql_type: str
    nullable: bool
    business_key: bool
    code: str
    security_level: str
    pi: str
    open_level: str
    share_level: str
    masking: str
    has_lineage: bool


class CatalogTable(BaseModel):
    """A table as the catalog shows it, with the freshness of the feeds it is built from."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    owner: str
    zone: str
    business_key: tuple[str, ...]
    history_table: str | None
    feeds: tuple[str, ...]
    freshness: tuple[Freshness, ...]
    is_stale: bool | None
    columns: tuple[CatalogColumn, ...]


class Catalog(BaseModel):
    """Every table of the data standard, its columns, governance and freshness."""

    model_config = ConfigDict(frozen=True)

    generated_at: datetime
    lake_found: bool
    lineage_recorded_at: datetime | None
    feeds: tuple[Freshness, ...]
    tables: tuple[CatalogTable, ...]
    notes: tuple[str, ...]


def freshness(
    last_loads: Mapping[str, datetime],
    slas: Mapping[str, float],
    now: datetime,
    feeds: Iterable[str] = (),
) -> list[Freshness]:
    """Each feed's lag since its last load, and whether that breaks its SLA.

    ``now`` and the load times are naive UTC, as the lake keeps them.

    >>> t = datetime(2026, 11, 22, 12)
    >>> [(f.feed, f.lag_hours, f.is_stale) for f in freshness(
    ...     {"population": datetime(2026, 11, 21, 12)}, {"population": 30.0, "licence": 840.0}, t)]
    [('licence', None, None), ('population', 24.0, False)]
    """
    out = []
    for feed in sorted({*last_loads, *slas, *feeds}):
        last = last_loads.get(feed)
        sla = slas.get(feed)
        lag = round((now - last).total_seconds() / 3600, 2) if last is not None else None
        stale = None if lag is None or sla is None else lag > sla
        out.append(
            Freshness(
                feed=feed,
                last_loaded_at=last,
                freshness_sla_hours=sla,
                lag_hours=lag,
                is_stale=stale,
            )
        )
    return out


def upstream_feeds(table: str, edges: Iterable[Edge]) -> list[str]:
    """Feeds a table's columns come from, following lineage through marts and core tables.

    >>> edges = [Edge("mart.m", "n", "core_column", "id_number", "core.person"),
    ...          Edge("core.person", "id_number", "feed_field", "GMSFHM",
    ...               source_feed="population", source_resource="persons")]
    >>> upstream_feeds("mart.m", edges)
    ['population']
    """
    by_target: dict[str, list[Edge]] = defaultdict(list)
    for edge in edges:
        by_target[edge.target_table].append(edge)
    feeds: set[str] = set()
    seen: set[str] = set()
    todo = [table]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for edge in by_target.get(current, ()):
            if edge.source_feed:
                feeds.add(edge.source_feed)
            if edge.source_table:
                todo.append(edge.source_table)
    return sorted(feeds)


def build_catalog(
    models: Iterable[type[CanonicalRecord]],
    state: LakeState,
    *,
    overrides: Mapping[str, str] | None = None,
    fallback_slas: Mapping[str, float] | None = None,
    now: datetime | None = None,
) -> Catalog:
    """The catalog of ``models`` with what ``state`` knows of lineage and freshness.

    ``fallback_slas`` fill in feeds whose SLA the lake does not hold (``meta.feed_slas``).
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    slas = dict(fallback_slas or {}) | state.slas
    feeds = freshness(state.last_loads, slas, now)
    by_feed = {f.feed: f for f in feeds}
    traced = {(e.target_table, e.target_column) for e in state.edges}
    tables = []
    for model in models:
        name = model.__table__
        upstream = upstream_feeds(name, state.edges)
        fresh = tuple(by_feed[f] for f in upstream if f in by_feed)
        stale_flags = [f.is_stale for f in fresh if f.is_stale is not None]
        columns = []
        for col in table_columns(model):
            meta = col.standard
            columns.append(
                CatalogColumn(
                    name=col.name,
                    label=meta.label,
                    description=meta.description,
                    sql_type=col.sql_type,
                    nullable=col.nullable,
                    business_key=meta.business_key,
                    code=code_cell(model, col),
                    security_level=security_level(model, col, overrides),
                    pi=meta.pi,
                    open_level=meta.open_level,
                    share_level=meta.share_level,
                    masking=meta.masking,
                    has_lineage=(name, col.name) in traced,
                )
            )
        tables.append(
            CatalogTable(
                name=name,
                label=model.__label__,
                owner=model.__owner__,
                zone=name.split(".")[0],
                business_key=model.__business_key__,
                history_table=table_name(model, history=True) if model.__history__ else None,
                feeds=tuple(upstream),
                freshness=fresh,
                is_stale=any(stale_flags) if stale_flags else None,
                columns=tuple(columns),
            )
        )
    return Catalog(
        generated_at=now,
        lake_found=state.found,
        lineage_recorded_at=state.recorded_at,
        feeds=tuple(feeds),
        tables=tuple(tables),
        notes=state.notes,
    )


def catalog(
    settings: Settings,
    *,
    models: Iterable[type[CanonicalRecord]] | None = None,
    fallback_slas: Mapping[str, float] | None = None,
) -> Catalog:
    """The catalog of the data standard with lineage and freshness from the lake."""
    return build_catalog(
        registry() if models is None else models,
        read_lake_state(settings),
        overrides=settings.security_level_overrides,
        fallback_slas=fallback_slas,
    )
