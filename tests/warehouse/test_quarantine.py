"""The quarantine: list with filters and counts, show with explanations, replay after a fix."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from feeds.spec import FEEDS
from warehouse.lake import init_lake
from warehouse.quarantine import (
    QuarantineRowNotFound,
    explain,
    list_quarantine,
    replay,
    show_quarantined,
)

if TYPE_CHECKING:
    from types import ModuleType

    from schemas.settings import Settings


def support() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_support", Path(__file__).with_name("test_load_support.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = support()
FIELDS = dict(FEEDS["population"].resources[0].fields)
KEY = b"test-person-key"
ID_A = S.citizen_id("11010519900101001")
ID_B = S.citizen_id("11010519850505003")  # odd 17th digit: a man, as XBDM says
ID_C = S.citizen_id("11010519700303003")
BAD_ID = ID_A[:-1] + ("1" if ID_A[-1] != "1" else "2")  # wrong check character


@pytest.fixture
def quarantined(settings: Settings, tmp_path: Path) -> tuple[Settings, str]:
    """A delivery whose name column the bureau renamed XM → XM_NEW before our mapping knew.

    Rows 1-2 fail only for the name; row 3 also has a wrong check character; row 4 keeps
    the old column but has a birth date that does not exist.
    """
    init_lake(settings)
    rows = [
        S.population_row(ID_A, XM=None, XM_NEW="张三"),
        S.population_row(ID_B, XM=None, XM_NEW="李四"),
        S.population_row(BAD_ID, XM=None, XM_NEW="王五"),
        S.population_row(ID_C, CSRQ="1970-02-30"),
    ]
    result = S.normalize_and_load(settings, tmp_path, "d1", rows, FIELDS, person_key=KEY)
    assert (result.rows_in, result.rows_quarantined, result.rows_loaded) == (4, 4, 0)
    return settings, result.batch_id


def test_list_filters_and_counts_reasons(quarantined: tuple[Settings, str]) -> None:
    settings, batch = quarantined
    listing = list_quarantine(settings, feed="population")
    assert listing.total == 4
    assert [r.source_row for r in listing.rows] == [1, 2, 3, 4]
    counts = {r.reason: r.rows for r in listing.reasons}
    assert counts["name.missing"] == 3
    assert counts["id_number.checksum"] == 1
    assert explain("id_number.checksum") in {r.explanation for r in listing.reasons}

    by_field = list_quarantine(settings, reason="id_number")  # every code of the field
    assert [r.source_row for r in by_field.rows] == [3]
    assert list_quarantine(settings, reason="name.missing", limit=2).total == 3
    assert len(list_quarantine(settings, reason="name.missing", limit=2).rows) == 2
    assert list_quarantine(settings, batch_id=batch).total == 4
    assert list_quarantine(settings, feed="credit").total == 0
    assert {r.resource for r in listing.rows} == {"persons"}
    assert list_quarantine(settings, feed="population", resource="persons").total == 4
    assert list_quarantine(settings, resource="persons", reason="id_number").total == 1
    other = list_quarantine(settings, resource="movers")
    assert (other.total, other.reasons) == (0, ())


def test_show_gives_the_raw_record_and_plain_reasons(quarantined: tuple[Settings, str]) -> None:
    settings, batch = quarantined
    row = show_quarantined(settings, batch, 3, table="core.person")
    assert (row.feed, row.resource) == ("population", "persons")
    assert row.raw_record["GMSFHM"] == BAD_ID
    assert row.raw_record["XM_NEW"] == "王五"
    explained = {r.code: r.explanation for r in row.explained}
    assert explained["id_number.checksum"] == explain("id_number.checksum")
    assert explained["name.missing"].startswith("a required value is empty")
    with pytest.raises(QuarantineRowNotFound, match="no quarantined row 99"):
        show_quarantined(settings, batch, 99)


def test_replay_loads_fixed_rows_marks_them_resolved_and_refreshes_the_rest(
    quarantined: tuple[Settings, str],
) -> None:
    settings, _ = quarantined
    fixed = FIELDS | {"name": ("XM", "XM_NEW")}  # the mapping learned the new column

    result = replay(
        settings,
        "population",
        "core.person",
        fixed,
        resource="persons",
        person_key=KEY,
        updated_at="source_updated_at",
    )

    assert result.status == "loaded"
    assert (result.replayed, result.resolved, result.still_failing) == (4, 2, 2)
    assert result.reasons_changed == 1  # row 3 no longer lacks its name
    load = result.load
    assert load is not None and load.reconciles()
    assert (load.rows_in, load.rows_loaded, load.rows_quarantined) == (4, 2, 2)
    assert load.batch_id.startswith("population-persons-replay-")

    core = S.read(settings, "core.person")
    assert core.select("id_number", "name", "_source_row", "_batch_id").rows() == [
        (ID_B, "李四", 2, load.batch_id),
        (ID_A, "张三", 1, load.batch_id),
    ]
    assert S.read(settings, "core.person_history").height == 2
    quarantine = S.read(settings, "meta.quarantine")
    resolved = quarantine.filter(quarantine["resolved_at"].is_not_null())
    assert resolved["source_row"].to_list() == [1, 2]
    assert set(resolved["resolved_batch_id"]) == {load.batch_id}
    assert set(quarantine["resource"]) == {"persons"}
    ledger = S.read(settings, "meta.batches").filter(pl.col("batch_id") == load.batch_id)
    assert ledger.select("feed", "resource", "status").rows() == [
        ("population", "persons", "loaded")
    ]
    still = quarantine.filter(quarantine["resolved_at"].is_null())
    assert still.select("source_row", "reasons").rows() == [
        (3, ["id_number.checksum"]),
        (4, ["birth_date.invalid_date"]),
    ]
    assert list_quarantine(settings).total == 2
    assert list_quarantine(settings, unresolved_only=False).total == 4

    # Nothing new passes a second time: reasons unchanged, nothing written.
    snapshots = S.snapshot_count(settings)
    again = replay(
        settings, "population", "core.person", fixed, resource="persons", person_key=KEY,
        updated_at="source_updated_at",
    )  # fmt: skip
    assert (again.status, again.replayed, again.resolved, again.snapshot_id) == (
        "still_failing", 2, 0, None,
    )  # fmt: skip
    assert S.snapshot_count(settings) == snapshots


def test_a_replayed_row_never_overwrites_a_newer_version_loaded_since(
    quarantined: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, _ = quarantined
    newer = [S.population_row(ID_A, XM="张三新", GXSJ="2026-02-01 08:00:00")]
    S.normalize_and_load(settings, tmp_path, "d2", newer, FIELDS, person_key=KEY)

    fixed = FIELDS | {"name": ("XM", "XM_NEW")}
    result = replay(
        settings, "population", "core.person", fixed, resource="persons", person_key=KEY,
        updated_at="source_updated_at",
    )  # fmt: skip
    assert result.resolved == 2
    assert result.load.duplicates.older_than_lake == 1  # row 1: ID_A, older than d2's
    names = dict(S.read(settings, "core.person").select("id_number", "name").rows())
    assert names == {ID_A: "张三新", ID_B: "李四"}


def test_replay_of_a_resource_leaves_other_resources_rows_alone(
    quarantined: tuple[Settings, str],
) -> None:
    settings, _ = quarantined
    result = replay(
        settings,
        "population",
        "core.person",
        FIELDS,
        resource="other_resource",
        person_key=KEY,
        today=date(2026, 1, 2),
    )
    assert result.status == "nothing_to_replay"
    assert list_quarantine(settings).total == 4


@pytest.mark.parametrize(
    ("reason", "table", "expected"),
    [
        ("hukou_region_code.unknown", "core.person", "not a GB/T 2260 code of any period"),
        ("fine_amount.negative", "core.credit_penalty", "the amount is negative"),
        ("decision_date.format", None, "not a date in an accepted spelling"),
        ("whatever.zero", None, "the coordinates are zero: the point was never placed"),
        ("name.some_new_code", None, None),
    ],
)
def test_reasons_are_explained_from_the_standards_tables(
    reason: str, table: str | None, expected: str | None
) -> None:
    got = explain(reason, table)
    if expected is None:
        assert got is None
    else:
        assert got is not None and got.startswith(expected[:20])
