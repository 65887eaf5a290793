"""法人 — the legal-entity base (owner: 市市场监督管理局)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord, Money
from schemas.standard import std

EntityStatus = Literal[
    "ACTIVE",
    "MOVED_OUT",
    "SUSPENDED",
    "LIQUIDATING",
    "REVOKED",
    "DEREGISTERED",
    "REGISTRATION_CANCELLED",
]


class LegalEntity(CanonicalRecord):
    """One registered market entity, current version (`core.legal_entity`)."""

    __table__: ClassVar[str] = "core.legal_entity"
    __business_key__: ClassVar[tuple[str, ...]] = ("uscc",)
    __label__: ClassVar[str] = "法人基础信息"
    __owner__: ClassVar[str] = "市市场监督管理局"
    __history__: ClassVar[bool] = True

    uscc: str = std(
        "统一社会信用代码",
        "Unified social credit code, GB 32100, 18 characters upper-case.",
        code="uscc",
        business_key=True,
        min_length=18,
        max_length=18,
    )
    registration_number: str | None = std(
        "注册号",
        "Legacy 15-digit registration number (GS 15-2006), when delivered.",
        default=None,
        code="registration_number",
    )
    name: str = std("企业名称", "Registered name; brackets in their NFKC (half-width) form.")
    entity_type: str | None = std("企业类型", "Entity type as registered (企业类型).", default=None)
    legal_rep_name: str | None = std(
        "法定代表人",
        "Legal representative (a natural person: personal information).",
        default=None,
        pi="pi",
        masking="name",
    )
    legal_rep_id_number: str | None = std(
        "法定代表人证件号码",
        "Citizen ID of the legal representative.",
        default=None,
        code="citizen_id",
        pi="sensitive_pi",
        masking="id_number",
    )
    industry_code: str | None = std(
        "行业代码",
        "GB/T 4754-2017 class with its section letter, e.g. I6510.",
        default=None,
        code="industry_code",
    )
    industry_section: str | None = std(
        "行业门类", "GB/T 4754-2017 section letter A–T.", default=None, code="industry_section"
    )
    registered_capital: Money | None = std(
        "注册资本",
        "Registered capital in units of capital_currency (e.g. 5000000).",
        default=None,
    )
    capital_currency: str | None = std(
        "注册资本币种",
        "ISO 4217 currency of the registered capital.",
        default=None,
        code="currency",
    )
    established_date: date | None = std("成立日期", "Date of establishment.", default=None)
    term_from: date | None = std("营业期限自", "Start of the business term.", default=None)
    term_to: date | None = std(
        "营业期限至", "End of the business term; NULL when 长期 (no end).", default=None
    )
    approved_date: date | None = std("核准日期", "Date of the latest approval.", default=None)
    deregistered_date: date | None = std("注销日期", "Date of deregistration.", default=None)
    revoked_date: date | None = std(
        "吊销日期", "Date the business licence was revoked.", default=None
    )
    registration_authority: str | None = std("登记机关", "Registering authority.", default=None)
    status: EntityStatus = std(
        "登记状态", "Canonical registration status (standards.md §4.4).", code_table="EntityStatus"
    )
    status_raw: str | None = std("登记状态原文", "Status as the bureau wrote it.", default=None)
    region_code: str | None = std(
        "住所所在行政区划",
        "County-level code of the domicile, current.",
        default=None,
        code="region_code",
    )
    address: str | None = std("住所", "Domicile address.", default=None)
    business_scope: str | None = std("经营范围", "Business scope, as registered.", default=None)
