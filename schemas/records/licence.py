"""电子证照 — electronic licences (owner: 市政务服务数据管理局)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord
from schemas.standard import std

LicenceStatus = Literal[
    "VALID", "SUSPENDED", "REVOKED", "CANCELLED", "EXPIRED", "TRANSFERRED", "OTHER"
]


class Licence(CanonicalRecord):
    """One electronic licence version (`core.licence`)."""

    __table__: ClassVar[str] = "core.licence"
    __business_key__: ClassVar[tuple[str, ...]] = ("certificate_id",)
    __label__: ClassVar[str] = "电子证照信息"
    __owner__: ClassVar[str] = "市政务服务数据管理局"
    __history__: ClassVar[bool] = True

    certificate_id: str = std(
        "证照标识",
        "1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>.",
        code="licence_id",
        business_key=True,
    )
    licence_type_code: str = std("证照类型代码", "Defining authority USCC + 3-digit serial.")
    licence_name: str = std("证照名称", "Name of the licence type.")
    licence_number: str | None = std("证照编号", "The number printed on the licence.", default=None)
    holder_name: str = std(
        "持证主体", "Holder's name.", pi="pi", masking="name", open_level="conditional"
    )
    holder_code: str = std(
        "持证主体代码",
        "USCC or citizen ID of the holder.",
        code="subject_code",
        pi="sensitive_pi",
        masking="id_number",
    )
    holder_code_type: Literal["uscc", "citizen_id"] = std(
        "持证主体代码类型", "001 统一社会信用代码 → uscc, 111 公民身份号码 → citizen_id."
    )
    issuer_name: str | None = std("颁证单位", "Issuing authority.", default=None)
    issuer_code: str | None = std("颁证单位代码", "USCC of the issuer.", default=None, code="uscc")
    issue_date: date | None = std("颁证日期", "Date of issue.", default=None)
    valid_from: date | None = std("有效期起始", "Start of validity.", default=None)
    valid_to: date | None = std("有效期截止", "End of validity; NULL when perpetual.", default=None)
    is_perpetual: bool = std("长期有效", "True when the licence has no end date (长期).")
    status: LicenceStatus = std("证照状态", "Canonical status.", code_table="LicenceStatus")
    region_code: str | None = std(
        "所属区划", "County-level code, current.", default=None, code="region_code"
    )
    version: str | None = std("版本号", "Version segment of the identifier.", default=None)
    predecessor_id: str | None = std(
        "关联证照标识", "The identifier this version renews.", default=None, code="licence_id"
    )
