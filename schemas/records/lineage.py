"""Column-level lineage of the lake (`meta.lineage`): where every column's values came from.

One row per edge, pointing from a column back to one of its sources: a mart column to the
core (or meta) column it is computed from, a core column to the department's field it is
mapped from (each generation of field names its own edge), or a derived core column to the
core column it is computed from. Rewritten as a whole by ``citybrain catalog --refresh``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord
from schemas.standard import std

SourceKind = Literal["feed_field", "core_column", "meta_column", "mart_column", "computed"]


class LineageEdge(CanonicalRecord):
    """One source of one lake column (`meta.lineage`)."""

    __table__: ClassVar[str] = "meta.lineage"
    __business_key__: ClassVar[tuple[str, ...]] = (
        "target_table",
        "target_column",
        "source_kind",
        "source_feed",
        "source_resource",
        "source_table",
        "source_column",
    )
    __label__: ClassVar[str] = "字段血缘"
    __owner__: ClassVar[str] = "市政务服务数据管理局（数据大脑）"

    target_table: str = std(
        "目标表", "Lake table of the column, e.g. mart.population_by_area.", business_key=True
    )
    target_column: str = std("目标字段", "The column whose source this is.", business_key=True)
    source_kind: SourceKind = std(
        "来源类型",
        "feed_field: a department's field; core_column / meta_column / mart_column: a "
        "column of a lake table; computed: no column (generate_series, a constant).",
        business_key=True,
    )
    source_feed: str | None = std(
        "来源数据源",
        "Feed of a department field (population, ...).",
        default=None,
        business_key=True,
    )
    source_resource: str | None = std(
        "来源资源",
        "Resource of that feed (persons, penalties ...).",
        default=None,
        business_key=True,
    )
    source_table: str | None = std(
        "来源表",
        "Lake table of a source column; NULL for a department field.",
        default=None,
        business_key=True,
    )
    source_column: str = std(
        "来源字段",
        "The department's field name as delivered (GMSFHM, 统一社会信用代码), the lake "
        "column, or the generating expression of a computed value.",
        business_key=True,
    )
    source_rank: int | None = std(
        "字段名顺位",
        "Among a department's names for the same field: 0 is the name used now, higher "
        "ranks older generations or alternatives (CF_XDR_MC, then CF_XDR).",
        default=None,
    )
    transform: str = std(
        "加工方式", "How the value is obtained: mapped, derived, or the SQL expression."
    )
    recorded_at: datetime = std("记录时间", "When the lineage was recorded, UTC.")
