"""人口 — the population base (owner: 市公安局)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord
from schemas.standard import std


class Person(CanonicalRecord):
    """One resident, current version (`core.person`)."""

    __table__: ClassVar[str] = "core.person"
    __business_key__: ClassVar[tuple[str, ...]] = ("id_number",)
    __label__: ClassVar[str] = "人口基础信息"
    __owner__: ClassVar[str] = "市公安局"
    __history__: ClassVar[bool] = True

    id_number: str = std(
        "公民身份号码",
        "Citizen ID number, 18 characters, upper-case X; 15-digit numbers converted.",
        code="citizen_id",
        pi="sensitive_pi",
        masking="id_number",
        business_key=True,
        min_length=18,
        max_length=18,
    )
    person_key: str = std(
        "人员标识",
        "Keyed HMAC-SHA256 of id_number: the join key for analysts; not reversible "
        "without the key held in configuration.",
        pi="pi",
        open_level="not_open",
    )
    name: str = std("姓名", "Name as registered, inner spaces removed.", pi="pi", masking="name")
    sex_code: str = std(
        "性别代码", "Sex, GB/T 2261.1 code.", code="sex_code", code_table="GB/T 2261.1", pi="pi"
    )
    birth_date: date = std("出生日期", "Date of birth.", pi="pi", masking="date_to_year")
    # 民族 reveals a specific identity; graded high and never opened (就高从严).
    ethnicity_code: str | None = std(
        "民族代码",
        "Ethnic group, 2-digit GB/T 3304 code.",
        default=None,
        code="ethnicity_code",
        code_table="GB/T 3304",
        pi="sensitive_pi",
        masking="redact",
    )
    hukou_region_code: str | None = std(
        "户籍地行政区划代码",
        "County-level code of the registered residence, retired codes mapped to successors.",
        default=None,
        code="region_code",
        pi="pi",
    )
    hukou_address: str | None = std(
        "户籍地址", "Registered residence address.", default=None, pi="pi", masking="address"
    )
    residence_region_code: str | None = std(
        "居住地行政区划代码",
        "County-level code of the actual residence.",
        default=None,
        code="region_code",
        pi="pi",
    )
    residence_street_code: str | None = std(
        "居住地街道代码",
        "9-digit statistical code of the street (街道/镇) of residence.",
        default=None,
        code="street_code",
        pi="pi",
    )
    residence_address: str | None = std(
        "居住地址", "Actual residence address.", default=None, pi="pi", masking="address"
    )
    population_type: Literal["registered", "floating"] = std(
        "人口类型", "registered (户籍人口) or floating (流动人口).", code_table="RKLX"
    )
    phone: str | None = std(
        "联系电话",
        "Mobile as 11 digits, landline as area code-number.",
        default=None,
        code="phone",
        pi="pi",
        masking="phone",
    )
    is_deceased: bool = std("死亡标识", "True once the bureau has recorded the death.")
    source_updated_at: datetime = std("更新时间", "GXSJ: when the bureau last updated the record.")
