"""Data quality and service levels of the feeds: rule results per batch, freshness SLAs.

Rules follow GB/T 36344-2018 (standards.md §9): each rule counts the elements that meet
it (A, ``passed``) among those evaluated (B, ``evaluated``); its score is ``100·A/B``.
Results are kept per batch, so trends and the departments' issue lists come from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord
from schemas.standard import std

_OWNER = "市政务服务数据管理局（数据大脑）"

Dimension = Literal[
    "conformity", "completeness", "accuracy", "consistency", "timeliness", "accessibility"
]


class QualityResult(CanonicalRecord):
    """One quality rule evaluated on one batch (`meta.quality_results`)."""

    __table__: ClassVar[str] = "meta.quality_results"
    __business_key__: ClassVar[tuple[str, ...]] = ("batch_id", "rule_id")
    __label__: ClassVar[str] = "数据质量检查结果"
    __owner__: ClassVar[str] = _OWNER

    feed: str = std("数据源", "Feed name.")
    department: str | None = std("提供部门", "Department that owns the feed.", default=None)
    batch_id: str = std("批次号", "The batch evaluated (meta.batches).", business_key=True)
    scored_at: datetime = std("评分时间", "When the batch was scored (UTC).")
    rule_id: str = std("规则编号", "Rule identifier, e.g. accuracy.content.", business_key=True)
    dimension: Dimension = std(
        "质量维度",
        "GB/T 36344 dimension: conformity 规范性, completeness 完整性, accuracy 准确性, "
        "consistency 一致性, timeliness 时效性, accessibility 可访问性.",
    )
    sub_indicator: str = std("质量子指标", "GB/T 36344 sub-indicator, e.g. 数据格式合规性.")
    passed: int = std("合格数（A）", "Elements meeting the rule.")
    evaluated: int = std("检查数（B）", "Elements evaluated; a rule with none is not stored.")
    score: float = std("得分", "100·A/B.")


class FeedSla(CanonicalRecord):
    """A feed's schedule and freshness promise, from its FeedSpec (`meta.feed_slas`)."""

    __table__: ClassVar[str] = "meta.feed_slas"
    __business_key__: ClassVar[tuple[str, ...]] = ("feed",)
    __label__: ClassVar[str] = "数据源时效承诺"
    __owner__: ClassVar[str] = _OWNER

    feed: str = std("数据源", "Feed name.", business_key=True)
    department: str = std("提供部门", "Department that owns the feed.")
    schedule: str = std("更新周期", "Cron expression of the feed's pulls (city time).")
    freshness_sla_hours: float = std(
        "时效承诺（小时）", "Data older than this is stale on the situation page."
    )
    updated_at: datetime = std("更新时间", "When this SLA was last recorded or changed (UTC).")
