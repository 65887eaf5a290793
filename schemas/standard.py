"""How a field of the data standard is described: label, code table, governance.

Every canonical field is declared with :func:`std`, which stores a :class:`FieldStandard`
in the field's JSON-schema extras. Generators (Polars schema, DuckLake DDL, data
dictionary), the validator and the governed query layer all read it from there, so the
model is the single source of truth.

>>> from pydantic import BaseModel
>>> class Demo(BaseModel):
...     phone: str | None = std("联系电话", "Contact phone", code="phone",
...                             pi="pi", masking="phone", open_level="not_open")
>>> field_standard(Demo.model_fields["phone"]).masking
'phone'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

# GB/T 43697-2024: core > important > general; "general" is commonly sub-graded 4 (high)
# to 1 (low) per its Annex H. The grade of a column is the legal team's call: these are
# defaults, overridable by CITYBRAIN_SECURITY_LEVEL_OVERRIDES.
SecurityLevel = Literal["core", "important", "general-4", "general-3", "general-2", "general-1"]
# PIPL: personal information, and sensitive personal information (Art. 28).
PICategory = Literal["none", "pi", "sensitive_pi"]
# Open-data level (无条件开放 / 有条件开放 / 不予开放) and inter-department sharing level.
OpenLevel = Literal["unconditional", "conditional", "not_open"]
ShareLevel = Literal["unconditional", "conditional", "not_shared"]
# Display masking applied by the governed query layer (standards.md §8.3).
Masking = Literal[
    "none",  # shown as stored
    "id_number",  # keep first 6 + last 4: 110105********002X
    "name",  # keep the surname: 张*, 欧阳**
    "phone",  # keep 3 + last 4: 138****1234
    "address",  # truncate below the street
    "date_to_year",  # 1949-12-31 -> 1949
    "redact",  # never shown to roles below steward
]
# The standard code types of schemas.codes; each compiles to a vectorized Polars check.
CodeType = Literal[
    "citizen_id",  # GB 11643
    "uscc",  # GB 32100
    "registration_number",  # GS 15-2006 legacy 15-digit 注册号
    "subject_code",  # a USCC or a citizen ID (credit and licence subjects)
    "region_code",  # GB/T 2260, 6 digits, current
    "street_code",  # statistical code, 9 digits
    "community_code",  # statistical code, 12 digits
    "industry_code",  # GB/T 4754-2017 I6510
    "industry_section",  # GB/T 4754-2017 section letter
    "sex_code",  # GB/T 2261.1
    "ethnicity_code",  # GB/T 3304
    "licence_id",  # 电子证照标识, MOD 37,36
    "phone",
    "currency",  # ISO 4217
]

SECURITY_ORDER: tuple[SecurityLevel, ...] = (
    "general-1",
    "general-2",
    "general-3",
    "general-4",
    "important",
    "core",
)


class FieldStandard(BaseModel):
    """What the standard says of one field besides its Python type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str  # Chinese label, as shown to users (中文名称)
    description: str
    code: CodeType | None = None
    code_table: str | None = None  # name of a code table or enum, for the dictionary
    standard: str | None = None  # the national standard it follows
    security_level: SecurityLevel = "general-2"
    pi: PICategory = "none"
    open_level: OpenLevel = "unconditional"
    share_level: ShareLevel = "unconditional"
    masking: Masking = "none"
    business_key: bool = False


_STANDARDS: dict[str, str] = {
    "citizen_id": "GB 11643-1999",
    "uscc": "GB 32100-2015",
    "registration_number": "GS 15-2006",
    "subject_code": "GB 32100-2015 / GB 11643-1999",
    "region_code": "GB/T 2260",
    "street_code": "GB/T 10114-2003 / 统计用区划代码",
    "community_code": "统计用区划代码",
    "industry_code": "GB/T 4754-2017",
    "industry_section": "GB/T 4754-2017",
    "sex_code": "GB/T 2261.1-2003",
    "ethnicity_code": "GB/T 3304-1991",
    "licence_id": "GB/T 36904-2018 电子证照标识",
    "currency": "ISO 4217",
}

_KEY = "x-citybrain"


def std(
    label: str,
    description: str,
    *,
    default: Any = ...,
    code: CodeType | None = None,
    code_table: str | None = None,
    standard: str | None = None,
    security_level: SecurityLevel | None = None,
    pi: PICategory = "none",
    open_level: OpenLevel | None = None,
    share_level: ShareLevel | None = None,
    masking: Masking = "none",
    business_key: bool = False,
    **field_kwargs: Any,
) -> Any:
    """Declare a field of the data standard.

    Governance defaults follow from the personal-information category, so that a field is
    safe unless someone decides otherwise: sensitive PI is ``general-4`` and never open,
    PI is ``general-3`` and open only on conditions, anything else ``general-2`` and open.
    """
    meta = FieldStandard(
        label=label,
        description=description,
        code=code,
        code_table=code_table,
        standard=standard or (_STANDARDS.get(code) if code else None),
        security_level=security_level
        or {"sensitive_pi": "general-4", "pi": "general-3"}.get(pi, "general-2"),
        pi=pi,
        open_level=open_level
        or {"sensitive_pi": "not_open", "pi": "conditional"}.get(pi, "unconditional"),
        share_level=share_level or ("conditional" if pi != "none" else "unconditional"),
        masking=masking,
        business_key=business_key,
    )
    return Field(
        default,
        title=label,
        description=description,
        json_schema_extra={_KEY: meta.model_dump()},
        **field_kwargs,
    )


def field_standard(info: FieldInfo) -> FieldStandard:
    """The :class:`FieldStandard` of a model field declared with :func:`std`."""
    extra = info.json_schema_extra
    if not isinstance(extra, dict) or _KEY not in extra:
        msg = f"field {info.title or info!r} was not declared with schemas.standard.std()"
        raise TypeError(msg)
    return FieldStandard.model_validate(extra[_KEY])
