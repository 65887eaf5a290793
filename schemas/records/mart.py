"""The situation marts (态势感知): aggregates and alerts built from ``core`` and ``meta``.

Every mart row carries ``district_code`` (NULL only on city-wide rows, or where the
district cannot be told), so the situation page and the ``district_analyst`` role scope
by district. Personal columns keep the governance of the core column they come from:
the governed query layer masks them the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord, Money
from schemas.standard import std

_OWNER = "市政务服务数据管理局（数据大脑）"

AreaLevel = Literal["district", "street", "grid"]
AlertType = Literal[
    "dishonest_with_valid_licence",
    "inactive_entity_with_valid_licence",
    "licence_holder_unknown",
    "deceased_holds_licence",
    "deceased_legal_rep",
    "penalty_subject_unknown",
]


def _district(key: bool = False) -> str | None:
    return std(
        "所属区县代码",
        "6-digit GB/T 2260 code of the district; NULL on city-wide rows or where the "
        "district cannot be told.",
        default=None,
        code="region_code",
        business_key=key,
    )


def _area_code() -> str:
    return std(
        "区域代码",
        "6-digit district, 9-digit street or grid code.",
        business_key=True,
    )


def _area_level() -> AreaLevel:
    return std("区域层级", "district, street or grid.", business_key=True)


def _month() -> date:
    return std("月份", "First day of the month.", business_key=True)


class PopulationByArea(CanonicalRecord):
    """Residents by district, street and grid: registered, floating, age structure."""

    __table__: ClassVar[str] = "mart.population_by_area"
    __business_key__: ClassVar[tuple[str, ...]] = ("area_code", "area_level")
    __label__: ClassVar[str] = "分区域人口统计"
    __owner__: ClassVar[str] = _OWNER

    area_code: str = _area_code()
    area_level: AreaLevel = _area_level()
    area_name: str | None = std("区域名称", "Name of the area (core.area).", default=None)
    district_code: str | None = _district()
    registered: int = std("户籍人口", "Living residents registered here (户籍人口).")
    floating: int = std("流动人口", "Living floating residents (流动人口).")
    total: int = std("常住人口合计", "registered + floating.")
    age_0_14: int = std("0-14岁人口", "Residents aged 0 to 14 on as_of.")
    age_15_59: int = std("15-59岁人口", "Residents aged 15 to 59 on as_of.")
    age_60_plus: int = std("60岁及以上人口", "Residents aged 60 or more on as_of.")
    as_of: date = std("统计日期", "Date the counts and ages refer to.")


class PopulationMonthly(CanonicalRecord):
    """Residents per district at the end of each of the last 12 months."""

    __table__: ClassVar[str] = "mart.population_monthly"
    __business_key__: ClassVar[tuple[str, ...]] = ("district_code", "month")
    __label__: ClassVar[str] = "分区县人口月度趋势"
    __owner__: ClassVar[str] = _OWNER

    district_code: str | None = _district(key=True)
    month: date = _month()
    total: int = std(
        "常住人口合计",
        "Living residents at the month's end (as_of for the current month), each "
        "resident in the version of their record in force then.",
    )
    registered: int = std("户籍人口", "Of which registered (户籍人口).")
    floating: int = std("流动人口", "Of which floating (流动人口).")


class EntitiesByArea(CanonicalRecord):
    """Market entities by district, GB/T 4754 section and registration status."""

    __table__: ClassVar[str] = "mart.entities_by_area"
    __business_key__: ClassVar[tuple[str, ...]] = (
        "area_code",
        "area_level",
        "industry_section",
        "status",
    )
    __label__: ClassVar[str] = "分区域市场主体统计"
    __owner__: ClassVar[str] = _OWNER

    area_code: str = _area_code()
    area_level: AreaLevel = _area_level()
    district_code: str | None = _district()
    industry_section: str | None = std(
        "行业门类",
        "GB/T 4754-2017 section letter; NULL when the bureau gave no industry.",
        default=None,
        code="industry_section",
        business_key=True,
    )
    status: str = std(
        "登记状态", "Canonical registration status.", code_table="EntityStatus", business_key=True
    )
    entities: int = std("主体数", "Market entities.")


class EntityRegistrationsMonthly(CanonicalRecord):
    """New registrations and deregistrations per district and month (last 12 months)."""

    __table__: ClassVar[str] = "mart.entity_registrations_monthly"
    __business_key__: ClassVar[tuple[str, ...]] = ("district_code", "month")
    __label__: ClassVar[str] = "市场主体月度登记注销"
    __owner__: ClassVar[str] = _OWNER

    district_code: str | None = _district(key=True)
    month: date = _month()
    registrations: int = std("新设登记数", "Entities established in the month.")
    deregistrations: int = std("注销数", "Entities deregistered in the month.")


class LicencesByArea(CanonicalRecord):
    """Valid licences per district and licence type, and those about to expire."""

    __table__: ClassVar[str] = "mart.licences_by_area"
    __business_key__: ClassVar[tuple[str, ...]] = ("area_code", "area_level", "licence_type_code")
    __label__: ClassVar[str] = "分区域有效证照统计"
    __owner__: ClassVar[str] = _OWNER

    area_code: str = _area_code()
    area_level: AreaLevel = _area_level()
    district_code: str | None = _district()
    licence_type_code: str = std(
        "证照类型代码", "Defining authority USCC + 3-digit serial.", business_key=True
    )
    valid: int = std("有效证照数", "Licences in status VALID and within their validity on as_of.")
    expiring_30d: int = std("30日内到期", "Valid licences ending within 30 days of as_of.")
    expiring_90d: int = std(
        "90日内到期", "Valid licences ending within 90 days of as_of (includes the 30-day ones)."
    )


class PenaltiesMonthly(CanonicalRecord):
    """Administrative penalties and fines per district and month (last 12 months)."""

    __table__: ClassVar[str] = "mart.penalties_monthly"
    __business_key__: ClassVar[tuple[str, ...]] = ("district_code", "month")
    __label__: ClassVar[str] = "行政处罚月度统计"
    __owner__: ClassVar[str] = _OWNER

    district_code: str | None = std(
        "所属区县代码",
        "District of the penalized entity or person, else of the deciding authority; "
        "NULL when neither is known.",
        default=None,
        code="region_code",
        business_key=True,
    )
    month: date = _month()
    penalties: int = std("处罚决定数", "Penalty decisions dated in the month.")
    fines_yuan: Money = std("罚款金额（元）", "Sum of the fines of those decisions, in yuan.")


class Alert(CanonicalRecord):
    """A cross-department finding: what the joined base feeds show and no single one does."""

    __table__: ClassVar[str] = "mart.alerts"
    __business_key__: ClassVar[tuple[str, ...]] = ("alert_type", "subject_code", "related_id")
    __label__: ClassVar[str] = "跨部门预警"
    __owner__: ClassVar[str] = _OWNER

    alert_type: AlertType = std(
        "预警类型",
        "dishonest_with_valid_licence, inactive_entity_with_valid_licence, "
        "licence_holder_unknown, deceased_holds_licence, deceased_legal_rep, "
        "penalty_subject_unknown.",
        business_key=True,
    )
    severity: Literal["high", "medium", "low"] = std("严重程度", "high, medium or low.")
    # Same governance as the core columns they come from (licence.holder_code, ...):
    # a subject may be a natural person.
    subject_code: str = std(
        "主体代码",
        "USCC of the entity or citizen ID of the person the alert is about.",
        code="subject_code",
        pi="sensitive_pi",
        masking="id_number",
        business_key=True,
    )
    subject_name: str | None = std(
        "主体名称",
        "Name of the entity or person.",
        default=None,
        pi="pi",
        masking="name",
        open_level="conditional",
    )
    subject_kind: Literal["entity", "person"] = std("主体类别", "entity or person.")
    district_code: str | None = _district()
    related_id: str = std(
        "关联记录",
        "The record that raised it: a certificate_id, an entity's USCC or a penalty's "
        "decision number.",
        business_key=True,
    )
    detail: str = std("预警说明", "What was found, in plain words (no personal data).")
    detected_at: datetime = std(
        "发现时间", "When the lake first held every record the finding rests on (UTC)."
    )


class FeedFreshness(CanonicalRecord):
    """How fresh each feed is against the freshness SLA in its spec."""

    __table__: ClassVar[str] = "mart.feed_freshness"
    __business_key__: ClassVar[tuple[str, ...]] = ("feed",)
    __label__: ClassVar[str] = "数据时效"
    __owner__: ClassVar[str] = _OWNER

    feed: str = std("数据源", "Feed name.", business_key=True)
    department: str | None = std("提供部门", "Department that owns the feed.", default=None)
    last_loaded_at: datetime | None = std(
        "最近入库时间", "When the feed's latest batch committed (UTC).", default=None
    )
    last_source_updated_at: datetime | None = std(
        "最近源数据更新时间",
        "Newest version time the lake holds from the feed: the department's update "
        "time, else the receipt time (UTC).",
        default=None,
    )
    freshness_sla_hours: float | None = std(
        "时效承诺（小时）", "Data older than this is stale (meta.feed_slas).", default=None
    )
    lag_hours: float | None = std(
        "滞后（小时）", "Hours from the latest load to the build of the mart.", default=None
    )
    is_stale: bool = std("是否超期", "True when never loaded or lag_hours > the SLA.")


class QualityScore(CanonicalRecord):
    """Data-quality scorecard per feed, batch and GB/T 36344 dimension."""

    __table__: ClassVar[str] = "mart.quality_scorecard"
    __business_key__: ClassVar[tuple[str, ...]] = ("batch_id", "dimension")
    __label__: ClassVar[str] = "数据质量评分卡"
    __owner__: ClassVar[str] = _OWNER

    feed: str = std("数据源", "Feed name.")
    department: str | None = std("提供部门", "Department that owns the feed.", default=None)
    batch_id: str = std("批次号", "The scored batch (meta.batches).", business_key=True)
    scored_at: datetime = std("评分时间", "When the batch was scored (UTC).")
    dimension: str = std(
        "质量维度",
        "GB/T 36344 dimension: conformity 规范性, completeness 完整性, accuracy 准确性, "
        "consistency 一致性, timeliness 时效性, accessibility 可访问性.",
        business_key=True,
    )
    score: float = std("维度得分", "Mean of the dimension's applicable rule scores, 0-100.")
    overall: float = std(
        "综合得分", "Weighted mean of the batch's dimension scores, 0-100 (same per batch)."
    )
    grade: Literal["A", "B", "C", "D", "E"] = std(
        "质量等级", "A >= 95, B >= 90, C >= 80, D >= 60, else E (of overall)."
    )
    # Beyond the agreed columns: trends follow when batches arrived, not when they were
    # scored (a first build scores every earlier batch at once).
    loaded_at: datetime | None = std(
        "批次入库时间", "When the batch committed (meta.batches.finished_at, UTC).", default=None
    )
