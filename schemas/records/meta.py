"""The lake's own records: deliveries, batches, quarantine, watermarks, query audit."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord, JsonText
from schemas.standard import std

_OWNER = "市政务服务数据管理局（数据大脑）"

# At the end of each table, nullable: a lake made before the column existed takes it with
# a plain ALTER TABLE ... ADD COLUMN (what `citybrain lake init` reports).
_RESOURCE = (
    "The feed's resource (persons, penalties, boundaries ...: ResourceSpec.name). NULL on "
    "rows written before the column existed; their batch id begins <feed>-<resource>-."
)

BatchStatus = Literal["running", "loaded", "failed", "skipped_duplicate"]


class Delivery(CanonicalRecord):
    """A delivery stored in the raw zone as received (DESIGN.md decision 3)."""

    __table__: ClassVar[str] = "meta.deliveries"
    __business_key__: ClassVar[tuple[str, ...]] = ("sha256",)
    __label__: ClassVar[str] = "原始交付登记"
    __owner__: ClassVar[str] = _OWNER

    sha256: str = std("内容摘要", "SHA-256 of the bytes as received.", business_key=True)
    feed: str = std("数据源", "Feed name (population, legal_entity, ...).")
    source: str = std("来源", "File path or URL the bytes came from.")
    raw_path: str = std("原始区路径", "Where the bytes are kept in the raw zone.")
    size_bytes: int = std("字节数", "Size of the delivery.")
    received_at: datetime = std("接收时间", "When citybrain received it.")
    resource: str | None = std("资源", _RESOURCE, default=None)


class Batch(CanonicalRecord):
    """One ingested delivery and how its rows ended (`meta.batches`)."""

    __table__: ClassVar[str] = "meta.batches"
    __business_key__: ClassVar[tuple[str, ...]] = ("batch_id",)
    __label__: ClassVar[str] = "批次台账"
    __owner__: ClassVar[str] = _OWNER

    batch_id: str = std(
        "批次号", "Derived from the feed and the delivery's content.", business_key=True
    )
    feed: str = std("数据源", "Feed name.")
    source: str = std("来源", "File, folder or URL of the delivery.")
    rows_in: int = std("输入行数", "Rows read from the delivery.")
    rows_loaded: int = std("入库行数", "Rows merged into core.")
    rows_quarantined: int = std("隔离行数", "Rows sent to meta.quarantine.")
    rows_duplicate: int = std("重复行数", "Rows superseded by a newer or identical record.")
    status: BatchStatus = std("状态", "running, loaded, failed or skipped_duplicate.")
    started_at: datetime = std("开始时间", "When the load began.")
    finished_at: datetime | None = std(
        "结束时间", "When the load committed or failed.", default=None
    )
    message: str | None = std("说明", "Failure reason or note, in plain language.", default=None)
    resource: str | None = std("资源", _RESOURCE, default=None)
    rows_superseded: int | None = std(
        "同批取代行数",
        "Of rows_duplicate: rows a newer row of the same key in the same delivery replaced "
        "(the department sent the key twice). NULL on rows written before the column existed.",
        default=None,
    )
    failed_attempts: int | None = std(
        "失败尝试次数",
        "Load attempts of this batch that failed before it committed. NULL on rows written "
        "before the column existed.",
        default=None,
    )


class QuarantineRow(CanonicalRecord):
    """A source row that could not be loaded, with its raw record and reasons."""

    __table__: ClassVar[str] = "meta.quarantine"
    __business_key__: ClassVar[tuple[str, ...]] = ("batch_id", "source_row")
    __label__: ClassVar[str] = "隔离区"
    __owner__: ClassVar[str] = _OWNER

    feed: str = std("数据源", "Feed name.")
    batch_id: str = std("批次号", "Batch that received the row.", business_key=True)
    source: str = std("来源", "File, URL or page the row came from.")
    source_row: int = std("来源行号", "Row or item number in that source.", business_key=True)
    # The raw record holds whatever the department sent, ID numbers included.
    raw_record: JsonText = std(
        "原始记录", "The record as received, as JSON.", pi="sensitive_pi", masking="redact"
    )
    reasons: list[str] = std("原因代码", "Reason codes, e.g. id_number.checksum.")
    quarantined_at: datetime = std("隔离时间", "When the row was quarantined.")
    resolved_at: datetime | None = std("解决时间", "When a replay loaded it.", default=None)
    resolved_batch_id: str | None = std(
        "解决批次", "The replay batch that loaded it.", default=None
    )
    resource: str | None = std("资源", _RESOURCE, default=None)


class Watermark(CanonicalRecord):
    """How far a feed has been pulled: the incremental cursor (`meta.watermarks`)."""

    __table__: ClassVar[str] = "meta.watermarks"
    __business_key__: ClassVar[tuple[str, ...]] = ("feed",)
    __label__: ClassVar[str] = "增量水位"
    __owner__: ClassVar[str] = _OWNER

    feed: str = std("数据源", "Feed name.", business_key=True)
    cursor_field: str = std("游标字段", "Source field the cursor follows (GXSJ, file date ...).")
    cursor_value: str = std("游标值", "Largest cursor value loaded.")
    batch_id: str = std("批次号", "Batch that moved the watermark.")
    updated_at: datetime = std("更新时间", "When the watermark moved.")
    resource: str | None = std("资源", _RESOURCE, default=None)


class QueryAudit(CanonicalRecord):
    """A governed query, allowed or refused (`meta.query_audit`)."""

    __table__: ClassVar[str] = "meta.query_audit"
    __business_key__: ClassVar[tuple[str, ...]] = ("query_id",)
    __label__: ClassVar[str] = "查询审计"
    __owner__: ClassVar[str] = _OWNER

    query_id: str = std("查询号", "Unique id of the query.", business_key=True)
    at: datetime = std("时间", "When the query was received.")
    principal: str = std("用户", "Who asked.")
    role: str = std("角色", "Role the query ran under.")
    sql: str = std("语句", "SQL as received.")
    tables: list[str] = std("涉及表", "Tables the query read.")
    sensitive_columns: list[str] = std("涉及敏感列", "Personal-data columns it touched.")
    rows_returned: int | None = std("返回行数", "Rows returned; NULL when refused.", default=None)
    allowed: bool = std("是否允许", "Whether the query ran.")
    reason: str | None = std("原因", "Why it was refused or rewritten.", default=None)
