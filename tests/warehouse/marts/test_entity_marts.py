"""Entities, registrations, licences and penalties marts: input rows -> expected rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from polars.testing import assert_frame_equal

from schemas.generate import polars_schema
from schemas.records import table
from tests.warehouse.marts.conftest import build, put, put_core, read

MONTHS = [date(2025 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(7, 19)]


def expected(mart: str, rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=polars_schema(table(mart)), orient="row")


def test_entities_by_area_and_monthly_registrations(con, settings) -> None:
    put_core(
        con,
        "core.legal_entity",
        [
            {"uscc": "E1", "established_date": date(2026, 2, 10)},
            {"uscc": "E2", "established_date": date(2026, 2, 28)},
            # Deregistered in May, established long before the 12-month window.
            {
                "uscc": "E3",
                "status": "DEREGISTERED",
                "established_date": date(2010, 5, 1),
                "deregistered_date": date(2026, 5, 3),
            },
            # Another district and section, with no event in the window: zeros every month.
            {
                "uscc": "E4",
                "region_code": "440105",
                "industry_section": "C",
                "established_date": date(2019, 1, 1),
            },
            # Dated after as_of: not counted yet.
            {"uscc": "E5", "established_date": date(2026, 6, 16)},
            # No district: left out of the area mart.
            {"uscc": "E6", "region_code": None, "established_date": date(2026, 3, 1)},
        ],
    )
    build(con, settings)

    assert_frame_equal(
        read(con, "mart.entities_by_area"),
        expected(
            "mart.entities_by_area",
            [
                ("440105", "district", "440105", "C", "ACTIVE", 1),
                ("440106", "district", "440106", "I", "ACTIVE", 3),
                ("440106", "district", "440106", "I", "DEREGISTERED", 1),
            ],
        ),
    )

    events = {
        ("440106", date(2026, 2, 1)): (2, 0),
        ("440106", date(2026, 5, 1)): (0, 1),
        (None, date(2026, 3, 1)): (1, 0),
    }
    rows = [
        (district, month, *events.get((district, month), (0, 0)))
        for district in ("440105", "440106", None)
        for month in MONTHS
    ]
    assert_frame_equal(
        read(con, "mart.entity_registrations_monthly"),
        expected("mart.entity_registrations_monthly", rows),
    )


def test_licences_by_area_counts_valid_licences_and_those_about_to_expire(con, settings) -> None:
    put_core(con, "core.legal_entity", [{"uscc": "E1", "region_code": "440105"}])
    put_core(
        con,
        "core.licence",
        [
            {"certificate_id": "L1", "holder_code": "X", "valid_to": date(2026, 7, 5)},  # 20 days
            {"certificate_id": "L2", "holder_code": "X", "valid_to": date(2026, 8, 14)},  # 60
            {"certificate_id": "L3", "holder_code": "X", "valid_to": None, "is_perpetual": True},
            # Ends on as_of: still valid that day, and within 30 days.
            {"certificate_id": "L4", "holder_code": "X", "valid_to": date(2026, 6, 15)},
            # Not valid: ended yesterday, revoked, not started yet.
            {"certificate_id": "L5", "holder_code": "X", "valid_to": date(2026, 6, 14)},
            {"certificate_id": "L6", "holder_code": "X", "status": "REVOKED"},
            {"certificate_id": "L7", "holder_code": "X", "valid_from": date(2026, 6, 16)},
            # No region on the licence: its holder's district.
            {
                "certificate_id": "L8",
                "holder_code": "E1",
                "licence_type_code": "T2",
                "region_code": None,
            },
            # No region and an unknown holder: nowhere to count it.
            {
                "certificate_id": "L9",
                "holder_code": "Y",
                "licence_type_code": "T2",
                "region_code": None,
            },
        ],
    )
    build(con, settings)
    t1 = "11100000000013338W001"
    assert_frame_equal(
        read(con, "mart.licences_by_area"),
        expected(
            "mart.licences_by_area",
            [
                ("440105", "district", "440105", "T2", 1, 0, 0),
                ("440106", "district", "440106", t1, 4, 2, 3),
            ],
        ),
    )


def test_penalties_monthly_places_each_penalty_in_its_subjects_district(con, settings) -> None:
    put(con, "core.area", [{"area_code": "440103", "name": "荔湾区", "level": "district"}])
    put_core(con, "core.legal_entity", [{"uscc": "E1", "region_code": "440105"}])
    put_core(con, "core.person", [{"id_number": "P1", "residence_region_code": "440111"}])
    put_core(
        con,
        "core.credit_penalty",
        [
            # The entity's district.
            {
                "decision_no": "D1",
                "subject_code": "E1",
                "decision_date": date(2026, 6, 2),
                "fine_amount": Decimal("5000.00"),
            },
            {
                "decision_no": "D2",
                "subject_code": "E1",
                "decision_date": date(2026, 6, 9),
                "fine_amount": Decimal("1250.50"),
            },
            # A resident: where they live.
            {
                "decision_no": "D3",
                "subject_code": "P1",
                "subject_code_type": "citizen_id",
                "decision_date": date(2026, 1, 20),
                "fine_amount": None,
            },
            # Unknown entity: the deciding authority's district (its credit code, 3-8).
            {
                "decision_no": "D4",
                "subject_code": "UNKNOWN",
                "authority_code": "11440103MB0000000X",
                "decision_date": date(2025, 12, 31),
                "fine_amount": Decimal("200.00"),
            },
            # Unknown entity, authority outside the city's districts: district unknown.
            {
                "decision_no": "D5",
                "subject_code": "UNKNOWN",
                "decision_date": date(2026, 3, 3),
                "fine_amount": Decimal("1.00"),
            },
            # Outside the window, or after as_of: counted nowhere.
            {"decision_no": "D6", "subject_code": "E1", "decision_date": date(2025, 6, 30)},
            {"decision_no": "D7", "subject_code": "E1", "decision_date": date(2026, 6, 16)},
        ],
    )
    build(con, settings)
    found = {
        ("440105", date(2026, 6, 1)): (2, Decimal("6250.50")),
        ("440111", date(2026, 1, 1)): (1, Decimal("0.00")),
        ("440103", date(2025, 12, 1)): (1, Decimal("200.00")),
        (None, date(2026, 3, 1)): (1, Decimal("1.00")),
    }
    rows = sorted(
        (
            (district, month, *found.get((district, month), (0, Decimal("0.00"))))
            for district in ("440103", "440105", "440111", None)
            for month in MONTHS
        ),
        key=lambda r: (r[0] is None, r[0] or "", r[1]),
    )
    assert_frame_equal(
        read(con, "mart.penalties_monthly"), expected("mart.penalties_monthly", rows)
    )
