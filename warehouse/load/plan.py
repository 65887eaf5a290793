"""Plan a load: classify every version of the batch against the lake in one statement.

Classification is set-based (no Python per row): the versions file
(:mod:`warehouse.load.versions`, one row per business key with its record hash and
version time) is joined on the keys to the current core rows, and the temporary table
``_cb_incoming`` keeps each key with the action the batch takes for it:

- ``insert``: the key is new to the lake;
- ``identical``: same record hash as the lake's current version;
- ``older_than_lake``: an older version than the lake's, arriving late: it never
  overwrites a newer one;
- ``update``: a different record at least as new as the lake's (on equal version times
  the later load wins, as the later source row wins inside a delivery).

Rows superseded by a newer row of their key in the same batch never reach the versions
file; they are counted there (``superseded_in_delivery``). Only keys, hashes and version
times are read, from the file and from core: the rows themselves are not copied. Into an
empty core table (a table's first load) every version is an ``insert``, and nothing is
joined (:func:`any_row`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from schemas.generate import PROVENANCE_COLUMNS, table_columns

if TYPE_CHECKING:
    from collections.abc import Sequence

    from schemas.generate import Column
    from schemas.records.base import CanonicalRecord

INCOMING = "_cb_incoming"
"""Temporary (never lake) table holding the planned rows of the batch being loaded."""


class Action(enum.StrEnum):
    """What the load does with one valid row."""

    INSERT = "insert"
    UPDATE = "update"
    IDENTICAL = "identical"
    OLDER_THAN_LAKE = "older_than_lake"
    SUPERSEDED_IN_DELIVERY = "superseded_in_delivery"


WRITTEN = (Action.INSERT, Action.UPDATE)
"""Actions that write a new version to core and history."""


def param(name: str) -> exp.Placeholder:
    """A DuckDB named parameter (``$name``)."""
    return exp.Placeholder(this=name)


def lake_table(model: type[CanonicalRecord], lake: str, *, history: bool = False) -> exp.Table:
    """``<lake>.core.<table>`` (or its ``_history``) as a sqlglot table."""
    schema, name = model.__table__.split(".")
    return exp.table_(f"{name}_history" if history else name, db=schema, catalog=lake)


def fields(model: type[CanonicalRecord]) -> list[Column]:
    """The model's own columns (no provenance), in table order."""
    provenance = {c.name for c in PROVENANCE_COLUMNS}
    return [c for c in table_columns(model) if c.name not in provenance]


def _keys_equal(keys: Sequence[str], left: str, right: str) -> exp.Expression:
    return exp.and_(*[exp.column(k, table=left).eq(exp.column(k, table=right)) for k in keys])


def incoming_statement(
    model: type[CanonicalRecord], lake: str, *, left_out: bool = False
) -> exp.Create:
    """``CREATE TEMP TABLE _cb_incoming``: each key of the versions files (``$versions_path``,
    one path or a list) with its record hash, version time and action; with ``left_out``,
    not the rows whose ``_source_row`` the file ``$left_out_path`` lists.

    >>> from schemas.records import table
    >>> sql = incoming_statement(table("core.area"), "lake").sql("duckdb")
    >>> sql.split(" FROM ")[-1]
    'READ_PARQUET($versions_path) AS i LEFT JOIN lake.core.area AS cur ON i.area_code = cur.area_code'
    """
    keys = list(model.__business_key__)
    incoming, current = "i", "cur"
    action = (
        exp.case()
        .when(exp.column(keys[0], table=current).is_(exp.null()), exp.Literal.string(Action.INSERT))
        .when(
            exp.column("_record_hash", table=incoming).eq(
                exp.column("_record_hash", table=current)
            ),
            exp.Literal.string(Action.IDENTICAL),
        )
        .when(
            exp.column("_version_at", table=incoming) < exp.column("_version_at", table=current),
            exp.Literal.string(Action.OLDER_THAN_LAKE),
        )
        .else_(exp.Literal.string(Action.UPDATE))
    )
    target = lake_table(model, lake)
    target.set("alias", exp.TableAlias(this=exp.to_identifier(current)))
    versions = exp.Table(
        this=exp.func("read_parquet", param("versions_path")),
        alias=exp.TableAlias(this=exp.to_identifier(incoming)),
    )
    planned = exp.select(
        *[exp.column(k, table=incoming) for k in keys],
        exp.column("_record_hash", table=incoming),
        exp.column("_version_at", table=incoming),
        exp.alias_(action, "_action"),
    ).from_(versions)
    if left_out:
        planned = planned.join(
            exp.Table(
                this=exp.func("read_parquet", param("left_out_path")),
                alias=exp.TableAlias(this=exp.to_identifier("x")),
            ),
            on=exp.column("_source_row", table=incoming).eq(exp.column("_source_row", table="x")),
            join_type="anti",
        )
    planned = planned.join(target, on=_keys_equal(keys, incoming, current), join_type="left")
    return exp.Create(
        this=exp.to_table(INCOMING),
        kind="TABLE",
        replace=True,
        expression=planned,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def any_row(model: type[CanonicalRecord], lake: str) -> exp.Select:
    """One row of the core table if it has any: whether there is anything to plan against.

    >>> from schemas.records import table
    >>> any_row(table("core.person"), "lake").sql("duckdb")
    'SELECT 1 FROM lake.core.person LIMIT 1'
    """
    return exp.select(exp.Literal.number(1)).from_(lake_table(model, lake)).limit(1)


def newest_loaded_at(model: type[CanonicalRecord], lake: str) -> exp.Select:
    """The newest ``_loaded_at`` of the table's history (every version it ever took).

    >>> from schemas.records import table
    >>> newest_loaded_at(table("core.person"), "lake").sql("duckdb")
    'SELECT MAX(_loaded_at) FROM lake.core.person_history'
    """
    history = lake_table(model, lake, history=True)
    return exp.select(exp.func("max", exp.column("_loaded_at"))).from_(history)


def written_keys(model: type[CanonicalRecord]) -> exp.Select:
    """The keys whose version the batch writes (inserted and updated).

    >>> from schemas.records import table
    >>> written_keys(table("core.person")).sql("duckdb")
    "SELECT id_number FROM _cb_incoming WHERE _action IN ('insert', 'update')"
    """
    return (
        exp.select(*[exp.column(k) for k in model.__business_key__])
        .from_(INCOMING)
        .where(exp.column("_action").isin(*[exp.Literal.string(a) for a in WRITTEN]))
    )


def action_counts() -> exp.Select:
    """Rows of ``_cb_incoming`` per action."""
    return (
        exp.select(exp.column("_action"), exp.func("count", exp.Star()))
        .from_(INCOMING)
        .group_by(exp.column("_action"))
    )


@dataclass(frozen=True)
class Plan:
    """How many valid rows take each action."""

    counts: dict[Action, int]

    def __getitem__(self, action: Action) -> int:
        return self.counts.get(action, 0)

    @property
    def written(self) -> int:
        return self[Action.INSERT] + self[Action.UPDATE]

    @property
    def total(self) -> int:
        return sum(self.counts.values())
