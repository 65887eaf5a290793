"""mart.population_by_area and mart.population_monthly: input rows -> expected rows."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from polars.testing import assert_frame_equal

from schemas.generate import polars_schema
from schemas.records import table
from tests.warehouse.marts.conftest import AS_OF, build, put, put_core, read


def expected(mart: str, rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=polars_schema(table(mart)), orient="row")


def test_population_by_area_counts_the_living_by_district_and_street_with_age_bands(
    con, settings
) -> None:
    put(con, "core.area", [{"area_code": "440106", "name": "天河区", "level": "district"}])
    put(
        con,
        "core.area",
        [
            {
                "area_code": "440106001",
                "name": "五山街道",
                "level": "street",
                "parent_code": "440106",
            }
        ],
    )
    put_core(
        con,
        "core.person",
        [
            # 14 on as_of: the youngest band's last year.
            {
                "id_number": "A",
                "birth_date": date(2011, 12, 31),
                "residence_street_code": "440106001",
            },
            # 15 the day before as_of.
            {
                "id_number": "B",
                "birth_date": date(2011, 6, 14),
                "population_type": "floating",
                "residence_street_code": "440106001",
            },
            # 60 on as_of exactly; no street: counted in its district only.
            {"id_number": "C", "birth_date": date(1966, 6, 15)},
            # No residence: counted where the hukou is.
            {
                "id_number": "D",
                "residence_region_code": None,
                "hukou_region_code": "440105",
                "birth_date": date(1990, 1, 1),
            },
            # The dead are not residents.
            {"id_number": "E", "is_deceased": True},
        ],
    )
    build(con, settings)
    want = expected(
        "mart.population_by_area",
        [
            ("440105", "district", None, "440105", 1, 0, 1, 0, 1, 0, AS_OF),
            ("440106", "district", "天河区", "440106", 2, 1, 3, 1, 1, 1, AS_OF),
            ("440106001", "street", "五山街道", "440106", 1, 1, 2, 1, 1, 0, AS_OF),
        ],
    )
    assert_frame_equal(read(con, "mart.population_by_area"), want)


def test_population_monthly_counts_each_resident_in_the_version_in_force(con, settings) -> None:
    history = [
        # A moves from 440105 to 440106 on 20 May; before its first version (10 March), that
        # version stands for it.
        {"id_number": "A", "residence_region_code": "440105", "_version_at": datetime(2026, 3, 10)},
        {"id_number": "A", "residence_region_code": "440106", "_version_at": datetime(2026, 5, 20)},
        # B dies on 5 April: counted up to the end of March only.
        {"id_number": "B", "residence_region_code": "440105", "_version_at": datetime(2026, 1, 1)},
        {
            "id_number": "B",
            "residence_region_code": "440105",
            "is_deceased": True,
            "_version_at": datetime(2026, 4, 5),
        },
        # C is born in September 2025: not counted before.
        {
            "id_number": "C",
            "population_type": "floating",
            "birth_date": date(2025, 9, 3),
            "_version_at": datetime(2026, 6, 1),
        },
    ]
    put(con, "core.person", history, history=True)
    build(con, settings)

    months = [date(2025 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(7, 19)]
    rows = []
    for month in months:
        a_in_105 = month < date(2026, 5, 1)
        b_alive = month < date(2026, 4, 1)
        c_born = month >= date(2025, 9, 1)
        n105 = a_in_105 + b_alive
        n106 = (not a_in_105) + c_born
        rows.append(("440105", month, n105, n105, 0))
        rows.append(("440106", month, n106, int(not a_in_105), int(c_born)))
    rows.sort()
    assert_frame_equal(
        read(con, "mart.population_monthly"), expected("mart.population_monthly", rows)
    )
