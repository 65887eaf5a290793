"""The population steps' shortcuts give exactly what the general path gives."""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from feeds.spec import FEEDS
from schemas.codes.citizen_id import citizen_id_check_digit
from tests.transforms.test_population import BASE
from transforms.batch import begin, reason_lists, run_steps
from transforms.context import NormalizeContext
from transforms.population import STEPS

CTX = NormalizeContext(
    fields=FEEDS["population"].resources[0].fields, today=date(2026, 11, 1), person_key=b"k"
)
COLUMNS = ("GMSFHM", "XM", "XBDM", "CSRQ", "MZDM", "HJDZ_XZQHDM", "HJDZ", "JZDZ_XZQHDM")
COLUMNS += ("JZDZ", "RKLX", "LXDH", "SWBS", "GXSJ")


def _people(rng: random.Random, n: int) -> list[dict[str, str | None]]:
    """Rows whose declared birth date is mostly the ID's own digits, with every way the
    shortcut must not fire: invalid IDs (checksum, impossible or future date, before 1880),
    15-digit IDs, other dates, empty dates."""
    rows = []
    for _ in range(n):
        born = date(1875, 1, 1) + timedelta(days=rng.randrange(55_000))  # up to 2025
        digits = born.strftime("%Y%m%d")
        kind = rng.random()
        if kind < 0.05:
            digits = f"{born.year}0231"  # not a calendar date
        elif kind < 0.08:
            digits = "20300101"  # after today
        body = f"440106{digits}{rng.randrange(1000):03d}"
        number = body + citizen_id_check_digit(body)
        if rng.random() < 0.05:
            number = body + ("0" if number[-1] != "0" else "1")  # wrong check digit
        if rng.random() < 0.05 and digits.startswith("19"):
            number = body[:6] + body[8:]  # the legacy 15-digit form
        declared = rng.choice([digits] * 6 + ["19900307", None, "NULL", f"{digits[:4]}1301"])
        rows.append({**BASE, "GMSFHM": number, "CSRQ": declared})
    return rows


def _stepped(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    frame = pl.LazyFrame(
        {c: [r[c] for r in rows] for c in COLUMNS}
        | {"_source": ["f.csv"] * len(rows), "_source_row": range(1, len(rows) + 1)},
        schema={**dict.fromkeys(COLUMNS, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )
    steps = [build(CTX) for build in STEPS]
    out = run_steps(begin(frame), steps).pipe(reason_lists)
    return out.select("id_number", "birth_date", "_reasons", "_warnings").collect()


def _dashed(value: str | None) -> str | None:
    """The same date spelled ``yyyy-MM-dd``: a spelling only the date parser reads."""
    if value is None or len(value) != 8 or not value.isdigit():
        return value
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def test_birth_date_spelled_as_the_id_skips_the_parser_with_the_same_result() -> None:
    # A birth date written as the ID's digits takes the shortcut; the same date written with
    # dashes goes through the parser. Value, reasons and warnings must not differ, row by row.
    rows = _people(random.Random(11), 3000)
    compact = _stepped(rows)
    dashed = _stepped([r | {"CSRQ": _dashed(r["CSRQ"])} for r in rows])
    assert_frame_equal(compact, dashed)
    # The cases that matter are all there: shortcut rows, mismatches, fills, bad IDs.
    reasons = compact["_reasons"].explode().value_counts()["_reasons"].to_list()
    assert {"birth_date.mismatch_id", "birth_date.invalid_date", "id_number.checksum"} <= set(
        reasons
    )
    assert {"id_number.birth_date", "id_number.future_birth_date"} <= set(reasons)
    assert "birth_date.from_id" in compact["_warnings"].explode().to_list()
    as_id = pl.Series([r["CSRQ"] for r in rows]) == compact["id_number"].str.slice(6, 8)
    assert as_id.sum() > 1500
