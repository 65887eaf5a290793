"""Standard code types of the data standard, each with a vectorized Polars check.

Every check takes an expression of raw text and returns a struct expression with at least
``value`` (the canonical value, null when invalid) and ``reason`` (a reason code, null when
valid or when the input is null). Checks never raise on data and never run Python per row.
The pipeline prefixes reason codes with the field name (``id_number.checksum``).

:data:`CHECKS` maps each :data:`schemas.standard.CodeType` to its check, :data:`REASONS`
and :data:`WARNINGS` to the codes it can emit. Plain-Python check-character helpers
(``*_check_char``, ``*_check_digit``) are for data generators only.

>>> import polars as pl
>>> df = pl.DataFrame({"GMSFHM": ["11010519491231002x"]})
>>> df.select(CHECKS["citizen_id"](pl.col("GMSFHM")).struct.field("value")).item()
'11010519491231002X'
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from schemas.codes import citizen_id, credit_code, industry, licence_id, money, person_codes, region
from schemas.codes import phone as phone_module
from schemas.codes.citizen_id import check_citizen_id, citizen_id_check_digit
from schemas.codes.credit_code import (
    PILOT_ERA_CODES,
    check_org_code,
    check_registration_number,
    check_subject_code,
    check_uscc,
    org_code_check_char,
    registration_number_check_digit,
    uscc_check_char,
)
from schemas.codes.dates import parse_date, parse_datetime
from schemas.codes.industry import SECTIONS, check_industry_code, check_industry_section
from schemas.codes.licence_id import check_licence_id, licence_id_check_char
from schemas.codes.money import CURRENCY_SPELLINGS, check_currency, parse_money
from schemas.codes.person_codes import (
    ETHNIC_GROUPS,
    SEX_CODES,
    check_ethnicity_code,
    check_sex_code,
)
from schemas.codes.phone import check_phone
from schemas.codes.region import (
    check_region_code,
    check_statistical_code,
    check_street_code,
    region_table,
)
from schemas.codes.text import NULL_SPELLINGS, clean_text, collapse_spaces

__all__ = [
    "CHECKS",
    "CURRENCY_SPELLINGS",
    "ETHNIC_GROUPS",
    "NULL_SPELLINGS",
    "PILOT_ERA_CODES",
    "REASONS",
    "SECTIONS",
    "SEX_CODES",
    "WARNINGS",
    "check_citizen_id",
    "check_currency",
    "check_ethnicity_code",
    "check_industry_code",
    "check_industry_section",
    "check_licence_id",
    "check_org_code",
    "check_phone",
    "check_region_code",
    "check_registration_number",
    "check_sex_code",
    "check_statistical_code",
    "check_street_code",
    "check_subject_code",
    "check_uscc",
    "citizen_id_check_digit",
    "clean_text",
    "collapse_spaces",
    "licence_id_check_char",
    "org_code_check_char",
    "parse_date",
    "parse_datetime",
    "parse_money",
    "region_table",
    "registration_number_check_digit",
    "uscc_check_char",
]

Check = Callable[[pl.Expr], pl.Expr]

#: The check of each code type (the keys are ``schemas.standard.CodeType``). A community
#: field takes the 9-digit street code too (feeds.md: JZDZ_XZQHDM is 12 or 9 digits).
CHECKS: dict[str, Check] = {
    "citizen_id": check_citizen_id,
    "uscc": check_uscc,
    "registration_number": check_registration_number,
    "subject_code": check_subject_code,
    "region_code": check_region_code,
    "street_code": check_street_code,
    "community_code": check_statistical_code,
    "industry_code": check_industry_code,
    "industry_section": check_industry_section,
    "sex_code": check_sex_code,
    "ethnicity_code": check_ethnicity_code,
    "licence_id": check_licence_id,
    "phone": check_phone,
    "currency": check_currency,
}


def _pick(reasons: dict[str, str], *codes: str) -> dict[str, str]:
    return {code: reasons[code] for code in codes}


#: Reason code → plain-language explanation, per code type.
REASONS: dict[str, dict[str, str]] = {
    "citizen_id": citizen_id.REASONS,
    "uscc": credit_code.REASONS,
    "registration_number": credit_code.REASONS,
    "subject_code": {**citizen_id.REASONS, **credit_code.REASONS},
    "region_code": region.REASONS,
    "street_code": region.REASONS,
    "community_code": region.REASONS,
    "industry_code": _pick(industry.REASONS, "format", "unknown_division", "section_mismatch"),
    "industry_section": _pick(industry.REASONS, "unknown_section"),
    "sex_code": person_codes.REASONS,
    "ethnicity_code": person_codes.REASONS,
    "licence_id": licence_id.REASONS,
    "phone": phone_module.REASONS,
    "currency": _pick(money.REASONS, "unknown_currency"),
}

#: Warning code → explanation, per code type (valid values worth a look).
WARNINGS: dict[str, dict[str, str]] = {
    "citizen_id": citizen_id.WARNINGS,
    "uscc": credit_code.WARNINGS,
    "subject_code": {**citizen_id.WARNINGS, **credit_code.WARNINGS},
    "street_code": region.WARNINGS,
    "community_code": region.WARNINGS,
}
