"""What lineage is made of: an :class:`Edge` per source of a lake column, and the
standard's tables by name (history tables included), which every step here looks up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from schemas.generate import table_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from schemas.records.base import CanonicalRecord

KIND_OF_ZONE = {"core": "core_column", "meta": "meta_column", "mart": "mart_column"}
"""Source kind of a column of each lake zone."""
COMPUTED = "computed"
"""Source kind of a value no lake column gives: a table function, a constant."""


@dataclass(frozen=True)
class Edge:
    """One source of one lake column: a row of ``meta.lineage`` without its timestamp."""

    target_table: str
    target_column: str
    source_kind: str  # feed_field, core_column, meta_column, mart_column, computed
    source_column: str
    source_table: str | None = None
    source_feed: str | None = None
    source_resource: str | None = None
    source_rank: int | None = None
    transform: str = ""


def registry() -> tuple[type[CanonicalRecord], ...]:
    """Every model of the data standard (:data:`schemas.records.TABLES`)."""
    from schemas.records import TABLES

    return TABLES


def tables_by_name(
    models: Iterable[type[CanonicalRecord]],
) -> dict[str, tuple[type[CanonicalRecord], bool]]:
    """``{"core.person": (Person, False), "core.person_history": (Person, True), ...}``."""
    out: dict[str, tuple[type[CanonicalRecord], bool]] = {}
    for model in models:
        for history in (False, True) if model.__history__ else (False,):
            out[table_name(model, history=history)] = (model, history)
    return out
