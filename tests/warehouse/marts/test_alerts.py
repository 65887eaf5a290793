"""mart.alerts: each of the six kinds raised where it should be, and only there.

One scene holds a positive and a negative case of every kind; the mart must hold exactly
the positives.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from polars.testing import assert_frame_equal

from schemas.generate import polars_schema
from schemas.records import table
from tests.warehouse.marts.conftest import LOADED_AT, build, put, put_core, read

LATER = datetime(2026, 6, 10, 2, 0)


def test_every_alert_kind_is_raised_on_its_positive_case_only(con, settings) -> None:
    put(con, "core.area", [{"area_code": "440103", "name": "荔湾区", "level": "district"}])
    put_core(
        con,
        "core.legal_entity",
        [
            {"uscc": "BLACK", "name": "失信公司", "region_code": "440105"},
            {"uscc": "WHITE", "name": "守信公司"},
            {"uscc": "REVOKED", "name": "吊销公司", "status": "REVOKED"},
            {"uscc": "LIQUIDATING", "name": "清算公司", "status": "LIQUIDATING"},
            {"uscc": "DEADREP", "name": "遗孀公司", "legal_rep_id_number": "DEAD"},
            {"uscc": "LIVEREP", "name": "在营公司", "legal_rep_id_number": "ALIVE"},
            # Deregistered: a dead legal representative no longer matters.
            {
                "uscc": "GONE",
                "name": "注销公司",
                "status": "DEREGISTERED",
                "legal_rep_id_number": "DEAD",
            },
        ],
    )
    put_core(
        con,
        "core.person",
        [
            {
                "id_number": "DEAD",
                "name": "李四",
                "is_deceased": True,
                "residence_region_code": "440111",
            },
            {"id_number": "ALIVE", "name": "王五"},
        ],
    )
    # The black-list entry arrived later than the licence: detected when it did.
    put_core(con, "core.credit_list", [{"subject_code": "BLACK", "_loaded_at": LATER}])
    put_core(
        con,
        "core.credit_list",
        [
            # Negative: removed before as_of, expired, or a red list.
            {"subject_code": "WHITE", "removed_at": date(2026, 3, 1)},
            {
                "subject_code": "WHITE",
                "listed_at": date(2025, 1, 1),
                "expires_at": date(2026, 1, 1),
            },
            {"subject_code": "WHITE", "list_type": "red", "listed_at": date(2026, 2, 2)},
        ],
    )
    put_core(
        con,
        "core.licence",
        [
            {"certificate_id": "L-BLACK", "holder_code": "BLACK"},
            {"certificate_id": "L-WHITE", "holder_code": "WHITE"},
            {"certificate_id": "L-REVOKED", "holder_code": "REVOKED"},
            {"certificate_id": "L-LIQUIDATING", "holder_code": "LIQUIDATING"},
            # An expired licence of a revoked entity raises nothing.
            {
                "certificate_id": "L-REVOKED-OLD",
                "holder_code": "REVOKED",
                "valid_to": date(2026, 1, 1),
            },
            {"certificate_id": "L-NOBODY", "holder_code": "NOBODY", "holder_name": "无名氏"},
            {
                "certificate_id": "L-DEAD",
                "holder_code": "DEAD",
                "holder_code_type": "citizen_id",
                "holder_name": "李四",
            },
            {
                "certificate_id": "L-ALIVE",
                "holder_code": "ALIVE",
                "holder_code_type": "citizen_id",
                "holder_name": "王五",
            },
        ],
    )
    put_core(
        con,
        "core.credit_penalty",
        [
            {
                "decision_no": "P-UNKNOWN",
                "subject_code": "GHOST",
                "subject_name": "幽灵公司",
                "authority_code": "11440103MB0000000X",
                "authority_name": "荔湾区市场监督管理局",
                "decision_date": date(2026, 5, 5),
            },
            # Negative: a known entity, and a person (not in the entity base by nature).
            {"decision_no": "P-KNOWN", "subject_code": "WHITE", "decision_date": date(2026, 5, 5)},
            # An entity penalty delivered without its code: nothing to look up.
            {"decision_no": "P-NOCODE", "subject_code": None, "decision_date": date(2026, 5, 5)},
            {
                "decision_no": "P-PERSON",
                "subject_code": "STRANGER",
                "subject_code_type": "citizen_id",
                "decision_date": date(2026, 5, 5),
            },
        ],
    )
    build(con, settings)

    licence = "食品经营许可证"
    want = pl.DataFrame(
        [
            (
                "deceased_holds_licence",
                "high",
                "DEAD",
                "李四",
                "person",
                "440111",
                "L-DEAD",
                f"已登记死亡，仍持有有效证照：{licence}",
                LOADED_AT,
            ),
            (
                "deceased_legal_rep",
                "medium",
                "DEAD",
                "李四",
                "person",
                "440106",
                "DEADREP",
                "已登记死亡，仍为市场主体的法定代表人：遗孀公司",
                LOADED_AT,
            ),
            (
                "dishonest_with_valid_licence",
                "high",
                "BLACK",
                "失信公司",
                "entity",
                "440105",
                "L-BLACK",
                f"列入严重失信主体名单，仍持有有效证照：{licence}",
                LATER,
            ),
            (
                "inactive_entity_with_valid_licence",
                "high",
                "REVOKED",
                "吊销公司",
                "entity",
                "440106",
                "L-REVOKED",
                f"登记状态为REVOKED，仍持有有效证照：{licence}",
                LOADED_AT,
            ),
            (
                "licence_holder_unknown",
                "medium",
                "NOBODY",
                "无名氏",
                "entity",
                "440106",
                "L-NOBODY",
                f"有效证照的持证主体不在法人库和人口库中：{licence}",
                LOADED_AT,
            ),
            (
                "penalty_subject_unknown",
                "low",
                "GHOST",
                "幽灵公司",
                "entity",
                "440103",
                "P-UNKNOWN",
                "行政处罚的相对人不在法人库中：P-UNKNOWN（荔湾区市场监督管理局）",
                LOADED_AT,
            ),
        ],
        schema=polars_schema(table("mart.alerts")),
        orient="row",
    )
    assert_frame_equal(read(con, "mart.alerts"), want)
