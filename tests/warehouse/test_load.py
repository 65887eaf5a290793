"""load_batch: one transaction per batch, idempotent, newest wins, counts that reconcile."""

from __future__ import annotations

import importlib.util
import json
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import polars_hash  # noqa: F401  (the nchash namespace)
import pytest
import sqlglot
from polars.testing import assert_frame_equal
from sqlglot import exp

from schemas.errors import LakeError
from schemas.generate import polars_schema, table_columns
from schemas.records import table as model_of
from warehouse.lake import attach, init_lake
from warehouse.load import (
    BatchRef,
    ReconciliationError,
    StagedBatchError,
    load_batch,
    read_watermark,
    record_failure,
    register_delivery,
)
from warehouse.load import batch as batch_module
from warehouse.load import ledger as ledger_module
from warehouse.load import versions as versions_module
from warehouse.load.statements import parsed, sql_files, statement

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


@pytest.fixture
def lake(settings: Settings) -> Settings:
    init_lake(settings)
    return settings


def _query(settings: Settings, sql: str, params: dict | None = None) -> list[tuple]:
    con = attach(settings, read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def _reconciles(settings: Settings) -> None:
    bad = _query(
        settings,
        "SELECT batch_id FROM lake.meta.batches "
        "WHERE rows_in <> rows_loaded + rows_quarantined + rows_duplicate",
    )
    assert bad == []


# --- a first load --------------------------------------------------------------------------


def test_first_load_inserts_core_history_quarantine_ledger_and_watermark(
    lake: Settings, tmp_path: Path
) -> None:
    staged = S.stage(
        tmp_path,
        "d1",
        S.persons(range(3)),
        rejected_rows=S.rejected(
            [
                (
                    7,
                    {"GMSFHM": "11010519491231002", "XM": "李四"},
                    ["id_number.format", "name.missing"],
                )
            ]
        ),
        duplicate_rows=S.duplicates([5]),
        cursor_max="2026-01-01 09:30:00",
    )
    result = load_batch(lake, staged)

    assert result.status == "loaded"
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (5, 3, 1)
    assert result.duplicates.superseded_in_delivery == 1
    assert result.rows_duplicate == 1 and result.reconciles()
    assert result.watermark_moved

    core = S.read(lake, "core.person")
    assert core["id_number"].to_list() == [f"{i:018d}" for i in range(3)]
    assert set(core["_feed"]) == {"population"}
    assert set(core["_batch_id"]) == {staged.batch_id}
    assert core["_source_row"].to_list() == [1, 2, 3]
    assert core["_record_hash"].str.contains(r"^\d{39}$").all()
    # The version is the update column: a late older update can be recognized later.
    assert set(core["_version_at"]) == {S.UPDATED}

    history = S.read(lake, "core.person_history")
    assert history.height == 3
    assert history["_is_current"].all() and history["_valid_to"].is_null().all()
    assert set(history["_valid_from"]) == {S.UPDATED}

    quarantine = S.read(lake, "meta.quarantine")
    assert quarantine.select("feed", "resource", "batch_id", "source", "source_row").row(0) == (
        "population",
        "persons",
        staged.batch_id,
        "gaj_rk_full_20260102.csv",
        7,
    )
    assert json.loads(quarantine["raw_record"][0]) == {"GMSFHM": "11010519491231002", "XM": "李四"}
    assert quarantine["reasons"].to_list() == [["id_number.format", "name.missing"]]
    assert quarantine["resolved_at"].is_null().all()

    ledger = S.read(lake, "meta.batches").row(0, named=True)
    assert (ledger["status"], ledger["feed"], ledger["resource"]) == (
        "loaded",
        "population",
        "persons",
    )
    assert (
        ledger["rows_in"],
        ledger["rows_loaded"],
        ledger["rows_quarantined"],
        ledger["rows_duplicate"],
    ) == (5, 3, 1, 1)
    assert "1 superseded in the delivery" in ledger["message"]
    assert (ledger["rows_superseded"], ledger["failed_attempts"]) == (1, 0)
    assert read_watermark(lake, "population", "persons") == "2026-01-01 09:30:00"
    assert S.read(lake, "meta.watermarks").select("feed", "resource", "batch_id").rows() == [
        ("population", "persons", staged.batch_id)
    ]

    # The snapshot the result names is the one this batch committed, and says so.
    (message,) = _query(
        lake,
        "SELECT commit_message FROM lake.snapshots() WHERE snapshot_id = $id",
        {"id": result.snapshot_id},
    )[0]
    assert message == f"load {staged.batch_id} into core.person"


def test_the_same_batch_twice_is_a_no_op_without_a_new_snapshot(
    lake: Settings, tmp_path: Path
) -> None:
    staged = S.stage(tmp_path, "d1", S.persons(range(3)), cursor_max="2026-01-01 09:30:00")
    first = load_batch(lake, staged)
    before, snapshots = S.lake_state(lake), S.snapshot_count(lake)

    again = load_batch(lake, staged)

    assert again.status == "skipped_duplicate"
    assert again.snapshot_id is None
    # The skip reports what the batch did when it loaded, from the ledger.
    assert (again.rows_in, again.rows_loaded) == (first.rows_in, first.rows_loaded)
    assert S.snapshot_count(lake) == snapshots
    after = S.lake_state(lake)
    for name, frame in before.items():
        assert_frame_equal(after[name], frame)
    assert not list(tmp_path.rglob(".load-*"))  # the versions it began are gone


def test_the_versions_are_written_while_the_lake_is_attached(
    lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attach waits until the versions have begun: a loader that wrote them only
    # after attaching would never get past it.
    began = threading.Event()
    write, attach_lake = versions_module.write_versions, batch_module.attach

    def writing(*args, **kwargs):  # type: ignore[no-untyped-def]
        began.set()
        return write(*args, **kwargs)

    def attach_once_begun(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert began.wait(timeout=30), "the versions did not begin before the attach ended"
        return attach_lake(*args, **kwargs)

    monkeypatch.setattr(versions_module, "write_versions", writing)
    monkeypatch.setattr(batch_module, "attach", attach_once_begun)
    assert load_batch(lake, S.stage(tmp_path, "d1", S.persons(range(3)))).rows_inserted == 3


# --- versions ------------------------------------------------------------------------------


def test_a_newer_version_updates_core_and_closes_its_history(
    lake: Settings, tmp_path: Path
) -> None:
    load_batch(lake, S.stage(tmp_path, "d1", S.persons(range(3))))
    newer = datetime(2026, 1, 5, 10, 0)
    result = load_batch(lake, S.stage(tmp_path, "d2", S.persons([1], name="张三丰", updated=newer)))

    assert (result.rows_inserted, result.rows_updated, result.rows_duplicate) == (0, 1, 0)
    core = S.read(lake, "core.person").filter(pl.col("id_number") == f"{1:018d}")
    assert core.height == 1  # one row per key
    assert core.select("name", "_version_at", "_batch_id").row(0) == (
        "张三丰",
        newer,
        S.batch_id("d2"),
    )
    history = (
        S.read(lake, "core.person_history")
        .filter(pl.col("id_number") == f"{1:018d}")
        .sort("_valid_from")
    )
    assert history.select("name", "_valid_from", "_valid_to", "_is_current").rows() == [
        ("张三", S.UPDATED, newer, False),
        ("张三丰", newer, None, True),
    ]
    # Keys the batch did not touch keep their single current version.
    others = S.read(lake, "core.person_history").filter(pl.col("id_number") != f"{1:018d}")
    assert others["_is_current"].all() and others.height == 2


def test_an_older_version_arriving_late_never_overwrites_a_newer_one(
    lake: Settings, tmp_path: Path
) -> None:
    newer = datetime(2026, 1, 5, 10, 0)
    load_batch(lake, S.stage(tmp_path, "d1", S.persons(range(2), name="新", updated=newer)))
    before = S.lake_state(lake)

    late = S.stage(tmp_path, "d0", S.persons(range(2), name="旧", updated=S.UPDATED))
    result = load_batch(lake, late)

    assert result.rows_loaded == 0
    assert result.duplicates.older_than_lake == 2
    after = S.lake_state(lake)
    for name in ("core.person", "core.person_history", "meta.quarantine"):
        assert_frame_equal(after[name], before[name])
    assert set(S.read(lake, "core.person")["name"]) == {"新"}


def test_an_identical_redelivery_under_another_batch_id_is_all_identical(
    lake: Settings, tmp_path: Path
) -> None:
    load_batch(lake, S.stage(tmp_path, "d1", S.persons(range(4))))
    before = S.lake_state(lake)

    # Same records, another delivery: later receipt, other file, other rows.
    again = S.stage(
        tmp_path,
        "d2",
        S.persons(range(4)),
        received_at=datetime(2026, 2, 1, tzinfo=UTC),
        first_row=100,
    )
    result = load_batch(lake, again)

    assert result.status == "loaded"
    assert result.duplicates.identical == 4 and result.rows_loaded == 0
    after = S.lake_state(lake)
    for name in ("core.person", "core.person_history"):
        assert_frame_equal(after[name], before[name])
    _reconciles(lake)


def test_equal_version_times_go_to_the_later_load(lake: Settings, tmp_path: Path) -> None:
    # As inside a delivery, where the later source row wins a tie on the update time.
    load_batch(lake, S.stage(tmp_path, "d1", S.persons([1], name="甲")))
    result = load_batch(lake, S.stage(tmp_path, "d2", S.persons([1], name="乙")))
    assert result.rows_updated == 1
    assert S.read(lake, "core.person")["name"].to_list() == ["乙"]


def test_rows_of_one_key_in_one_valid_file_end_as_one_version(
    lake: Settings, tmp_path: Path
) -> None:
    # The transforms de-duplicate; the loader holds one row per key even if they did not.
    valid = pl.concat(
        [
            S.persons([1], name="旧", updated=datetime(2026, 1, 1)),
            S.persons([1], name="新", updated=datetime(2026, 1, 2)),
            S.persons([2]),
        ]
    )
    result = load_batch(lake, S.stage(tmp_path, "d1", valid))
    assert result.duplicates.superseded_in_delivery == 1
    assert result.rows_loaded == 2
    core = S.read(lake, "core.person").sort("id_number")
    assert core["name"].to_list() == ["新", "张三"]
    _reconciles(lake)


def test_a_row_without_update_time_is_versioned_by_its_receipt(
    lake: Settings, tmp_path: Path
) -> None:
    # core.address_point's update column is optional: a row without one takes the
    # delivery's receipt time (UTC) as its version.
    model = model_of("core.address_point")
    points = (
        pl.DataFrame(
            {
                "address_code": ["A1", "A2"],
                "address": ["朝阳路1号", "朝阳路2号"],
                "lon": [116.4, 116.5],
                "lat": [39.9, 39.8],
                "source_crs": ["WGS84", "GCJ02"],
                "source_updated_at": [datetime(2026, 1, 1, 12, 0), None],
            }
        )
        .with_columns(
            [
                pl.lit(None).cast(t).alias(c)
                for c, t in polars_schema(model).items()
                if c
                not in ("address_code", "address", "lon", "lat", "source_crs", "source_updated_at")
            ]
        )
        .select(list(polars_schema(model)))
    )
    received = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    staged = S.stage(
        tmp_path,
        "a1",
        points.cast(dict(polars_schema(model))),
        table="core.address_point",
        feed="geospatial",
        resource="addresses",
        received_at=received,
    )
    load_batch(lake, staged)
    core = S.read(lake, "core.address_point")
    assert core["_version_at"].to_list() == [
        datetime(2026, 1, 1, 12, 0),
        datetime(2026, 3, 1, 16, 0),
    ]


# --- other shapes: composite key, money, lists, geometry, receipt-time ordering ---------------


def _penalty(no: str, fine: str, types: list[str]) -> dict:
    return {
        "decision_no": no,
        "authority_code": "11110000000000000A",
        "authority_name": "市市场监管局",
        "subject_name": "某公司",
        "subject_category": None,
        "subject_code": None,
        "subject_code_type": None,
        "violation_type": None,
        "facts": None,
        "basis": None,
        "penalty_types": types,
        "content": None,
        "fine_amount": Decimal(fine),
        "decision_date": date(2026, 1, 1),
        "publish_until": None,
        "data_source_name": None,
        "data_source_code": None,
    }


def _penalties(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=polars_schema(model_of("core.credit_penalty")))


def test_a_composite_key_with_money_and_lists_is_versioned_by_receipt_time(
    lake: Settings, tmp_path: Path
) -> None:
    kwargs = {
        "table": "core.credit_penalty",
        "feed": "credit",
        "resource": "penalties",
        "updated_at": None,  # the credit API has no update column: receipt time orders
    }
    jan, feb = datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)
    first = _penalties([_penalty("罚1", "5000.00", ["罚款"]), _penalty("罚2", "10.50", ["警告"])])
    load_batch(lake, S.stage(tmp_path, "c1", first, received_at=jan, **kwargs))
    # A later delivery changes one fine; an earlier one, loaded after it, must not win.
    second = _penalties([_penalty("罚1", "6000.00", ["罚款", "没收违法所得"])])
    assert (
        load_batch(lake, S.stage(tmp_path, "c2", second, received_at=feb, **kwargs)).rows_updated
        == 1
    )
    stale = _penalties([_penalty("罚1", "1.00", ["罚款"])])
    late = load_batch(lake, S.stage(tmp_path, "c0", stale, received_at=jan, **kwargs))
    assert late.duplicates.older_than_lake == 1

    core = S.read(lake, "core.credit_penalty").sort("decision_no")
    assert core.select("decision_no", "fine_amount", "penalty_types").rows() == [
        ("罚1", Decimal("6000.00"), ["罚款", "没收违法所得"]),
        ("罚2", Decimal("10.50"), ["警告"]),
    ]
    history = S.read(lake, "core.credit_penalty_history").filter(pl.col("decision_no") == "罚1")
    assert history.sort("_valid_from")["_is_current"].to_list() == [False, True]


def _square(x: float) -> bytes:
    import struct

    ring = [(x, 0.0), (x + 1, 0.0), (x + 1, 1.0), (x, 1.0), (x, 0.0)]
    return struct.pack("<BIII", 1, 3, 1, len(ring)) + b"".join(
        struct.pack("<dd", a, b) for a, b in ring
    )


def test_geometry_arrives_as_wkb_and_reads_back_the_same(lake: Settings, tmp_path: Path) -> None:
    schema = polars_schema(model_of("core.area"))
    areas = pl.DataFrame(
        {
            "area_code": ["110105", "110105001"],
            "name": ["朝阳区", "建外街道"],
            "level": ["district", "street"],
            "parent_code": [None, "110105"],
            "geometry": [_square(116.0), _square(116.5)],
        },
        schema=schema,
    )
    kwargs = {
        "table": "core.area",
        "feed": "geospatial",
        "resource": "boundaries",
        "updated_at": None,
    }
    load_batch(lake, S.stage(tmp_path, "g1", areas, **kwargs))
    assert S.read(lake, "core.area").sort("area_code")["geometry"].to_list() == [
        _square(116.0),
        _square(116.5),
    ]
    moved = areas.head(1).with_columns(pl.lit(_square(117.0)).alias("geometry"))
    later = datetime(2026, 2, 1, tzinfo=UTC)
    result = load_batch(lake, S.stage(tmp_path, "g2", moved, received_at=later, **kwargs))
    assert result.rows_updated == 1
    same = load_batch(lake, S.stage(tmp_path, "g3", moved, received_at=later, **kwargs))
    assert same.duplicates.identical == 1


# --- how new versions reach the lake ------------------------------------------------------


def _data_files(lake: Settings, table: str) -> list[Path]:
    return sorted((Path(lake.data_path) / "core" / table).glob("*.parquet"))


def test_new_versions_are_one_file_linked_into_core_and_history(
    lake: Settings, tmp_path: Path
) -> None:
    load_batch(lake, S.stage(tmp_path, "d1", S.persons(range(5))))
    core, history = _data_files(lake, "person"), _data_files(lake, "person_history")
    assert len(core) == len(history) == 1
    assert core[0].samefile(history[0])  # written once, by Polars
    assert not list(tmp_path.rglob(".load-*"))  # the scratch copy is gone


def test_a_data_path_on_another_file_system_gets_a_copy(
    lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr("warehouse.load.apply.os.link", cross_device)
    result = load_batch(lake, S.stage(tmp_path, "d1", S.persons(range(5))))
    assert result.rows_inserted == 5
    core, history = _data_files(lake, "person"), _data_files(lake, "person_history")
    assert not core[0].samefile(history[0])
    assert S.read(lake, "core.person").height == S.read(lake, "core.person_history").height == 5


def test_a_failed_load_takes_its_placed_files_back(
    lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The files are placed, then the ledger write fails before COMMIT.
    def broken(*args: object, **kwargs: object) -> None:
        raise LakeError("the ledger write failed on purpose")

    monkeypatch.setattr(ledger_module, "record_loaded", broken)
    with pytest.raises(LakeError, match="on purpose"):
        load_batch(lake, S.stage(tmp_path, "d1", S.persons(range(5))))
    assert _data_files(lake, "person") == _data_files(lake, "person_history") == []
    assert not list(tmp_path.rglob(".load-*"))


# --- the record hash -----------------------------------------------------------------------


def test_record_hash_is_pinned_so_a_format_change_cannot_pass_unnoticed(
    lake: Settings, tmp_path: Path
) -> None:
    # If Polars ever spells a value differently, every row would look changed after an
    # upgrade: this pins the hash of one record, computed here as the module documents it.
    load_batch(lake, S.stage(tmp_path, "d1", S.persons([42], phone="13800138000")))
    # Fields in table order: strings as they are, the date as days and the timestamp as
    # microseconds since 1970, a boolean as Polars casts it; NULL adds nothing.
    fields = [
        "000000000000000042", "pk42", "张三", "1", "7305", "01", "110105", None,
        "110105", None, "北京市朝阳区", "registered", "13800138000", "false", "1767259800000000",
    ]  # fmt: skip
    hashes = [0 if v is None else pl.select(pl.lit(v).nchash.xxh3_128()).item() for v in fields]
    expected = f"{sum((2 * i + 1) * h for i, h in enumerate(hashes)) % 2**128:039d}"
    assert expected == "026781889480548729379677433670876248395"
    assert S.read(lake, "core.person")["_record_hash"].to_list() == [expected]


def test_record_hash_tells_null_from_empty_and_moved_separators() -> None:
    from transforms.versions import record_hash

    rows = pl.concat(
        [
            S.persons([1], name="a\x1fb").with_columns(pl.lit("c").alias("hukou_address")),
            S.persons([2], name="a").with_columns(pl.lit("b\x1fc").alias("hukou_address")),
            S.persons([3], name="a").with_columns(pl.lit("").alias("hukou_address")),
            S.persons([4], name="a").with_columns(pl.lit(None, pl.String).alias("hukou_address")),
            S.persons([5], name="a\x1f:").with_columns(pl.lit("\x1f!").alias("hukou_address")),
            S.persons([6], name="a").with_columns(pl.lit(":\x1f!").alias("hukou_address")),
        ]
    ).with_columns(pl.lit(f"{0:018d}").alias("id_number"), pl.lit("pk").alias("person_key"))
    fields = polars_schema(model_of("core.person"))
    hashes = rows.select(record_hash(fields)).to_series()
    # Six different records of one key: all six hashes differ.
    assert hashes.n_unique() == 6


# --- failures fail loudly and write nothing -------------------------------------------------


def test_a_staged_file_off_the_standard_fails_before_anything_is_written(
    lake: Settings, tmp_path: Path
) -> None:
    valid = S.persons(range(2)).with_columns(pl.col("birth_date").cast(pl.String))
    staged = S.stage(tmp_path, "d1", valid)
    snapshots = S.snapshot_count(lake)
    with pytest.raises(StagedBatchError, match=r"birth_date is String; expected Date"):
        load_batch(lake, staged)
    assert S.snapshot_count(lake) == snapshots


def test_a_pointer_whose_counts_differ_from_its_files_is_refused(
    lake: Settings, tmp_path: Path
) -> None:
    staged = S.stage(tmp_path, "d1", S.persons(range(2)))
    wrong = staged.model_copy(update={"rows_valid": 3, "rows_in": 3})
    with pytest.raises(StagedBatchError, match="valid: 2 rows in the file, 3 in the pointer"):
        load_batch(lake, wrong)


def test_counts_that_do_not_reconcile_roll_the_whole_batch_back(
    lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulate a loader bug: one quarantined row goes missing from the count.
    real = ledger_module.quarantine
    monkeypatch.setattr(ledger_module, "quarantine", lambda *a, **k: real(*a, **k) - 1)
    staged = S.stage(
        tmp_path,
        "d1",
        S.persons(range(2)),
        rejected_rows=S.rejected([(9, {"x": "1"}, ["x.format"])]),
    )
    snapshots = S.snapshot_count(lake)
    with pytest.raises(ReconciliationError, match="does not reconcile"):
        load_batch(lake, staged)
    assert S.snapshot_count(lake) == snapshots
    assert S.read(lake, "core.person").height == 0
    assert S.read(lake, "meta.quarantine").height == 0


def test_a_failure_is_recorded_and_replaced_when_the_batch_loads(
    lake: Settings, tmp_path: Path
) -> None:
    staged = S.stage(tmp_path, "d1", S.persons(range(2)))
    assert record_failure(lake, staged, RuntimeError("disk full"))
    assert record_failure(lake, staged, RuntimeError("disk still full"))
    rows = S.read(lake, "meta.batches")
    assert rows.select("status", "resource", "rows_in", "rows_loaded").rows() == [
        ("failed", "persons", 0, 0)
    ]
    assert rows["message"][0] == "RuntimeError: disk still full (2 rows waiting; none loaded)"
    _reconciles(lake)

    load_batch(lake, staged)
    ledger = S.read(lake, "meta.batches")
    assert ledger.select("status", "resource").rows() == [("loaded", "persons")]
    assert "loaded after 1 failed attempt(s)" in ledger["message"][0]
    assert ledger["failed_attempts"].to_list() == [1]  # what the quality scorecard counts


def test_a_failure_after_the_load_never_marks_a_loaded_batch_failed(
    lake: Settings, tmp_path: Path
) -> None:
    staged = S.stage(tmp_path, "d1", S.persons(range(2)))
    load_batch(lake, staged)
    ref = BatchRef(staged.batch_id, staged.feed, staged.source)
    assert not record_failure(lake, ref, "asset event failed")
    assert S.read(lake, "meta.batches")["status"].to_list() == ["loaded"]


def test_a_failure_known_only_by_its_batch_id_takes_the_resource_the_id_names(
    lake: Settings,
) -> None:
    ref = BatchRef(S.batch_id("d1", "credit", "permits"), "credit", "/exchange/credit")
    assert record_failure(lake, ref, "the credit API answered 503 all night")
    odd = BatchRef("manual-1", "credit", "/exchange/credit")
    assert record_failure(lake, odd, "a batch id of another shape")
    rows = S.read(lake, "meta.batches").select("batch_id", "feed", "resource", "status")
    assert rows.rows() == [
        ("credit-permits-d1", "credit", "permits", "failed"),
        ("manual-1", "credit", None, "failed"),  # NULL rather than a guess
    ]


def test_a_delivery_is_registered_once_per_content(lake: Settings) -> None:
    fields = {
        "sha256": "ab" * 32,
        "feed": "population",
        "resource": "persons",
        "source": "/drop/gaj_rk_full_20260102.csv",
        "raw_path": "/raw/population/persons/abab/gaj_rk_full_20260102.csv",
        "size_bytes": 1234,
        "received_at": datetime(2026, 1, 2, 16, 0, tzinfo=UTC),
    }
    assert register_delivery(lake, **fields)
    assert not register_delivery(lake, **fields)
    rows = S.read(lake, "meta.deliveries")
    assert rows.select("sha256", "resource", "size_bytes", "received_at").rows() == [
        ("ab" * 32, "persons", 1234, datetime(2026, 1, 2, 16, 0))
    ]


def test_the_pull_registers_each_delivery_with_its_resource(lake: Settings, tmp_path: Path) -> None:
    from citybrain.tasks import pull_feed

    drop = tmp_path / "drop"
    drop.mkdir()
    square = [[[116.0, 39.0], [116.1, 39.0], [116.1, 39.1], [116.0, 39.1], [116.0, 39.0]]]
    feature = {
        "type": "Feature",
        "properties": {"code": "110105", "name": "朝阳区", "level": "district"},
        "geometry": {"type": "Polygon", "coordinates": square},
    }
    files = {
        "boundaries_20260102.geojson": json.dumps(
            {"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False
        ),
        "address_20260102.csv": "地址编码,标准地址,更新时间\nA1,朝阳路1号,2026-01-02 08:00:00\n",
    }
    for name, text in files.items():
        (drop / name).write_text(text, encoding="utf-8")
        (drop / f"{name}.ok").touch()

    pulled = pull_feed("geospatial", str(drop), settings=lake)

    by_resource = {d["resource"]: d["sha256"] for d in pulled}
    assert set(by_resource) == {"boundaries", "addresses"}
    rows = S.read(lake, "meta.deliveries").select("sha256", "feed", "resource")
    assert sorted(rows.rows()) == sorted(
        (sha, "geospatial", resource) for resource, sha in by_resource.items()
    )


# --- watermarks ----------------------------------------------------------------------------


def test_the_watermark_moves_forward_only_and_per_resource(lake: Settings, tmp_path: Path) -> None:
    assert read_watermark(lake, "population", "persons") is None
    load_batch(lake, S.stage(tmp_path, "d2", S.persons([1]), cursor_max="2026-01-05 10:00:00"))
    # ISO spellings compare as times: 'T' sorts after ' ' as text, but this is earlier.
    late = load_batch(
        lake, S.stage(tmp_path, "d1", S.persons([2]), cursor_max="2026-01-05T09:00:00")
    )
    assert not late.watermark_moved
    assert read_watermark(lake, "population", "persons") == "2026-01-05 10:00:00"
    load_batch(lake, S.stage(tmp_path, "d3", S.persons([3]), cursor_max="2026-01-06"))
    assert read_watermark(lake, "population", "persons") == "2026-01-06"
    # Another resource of another feed keeps its own cursor.
    assert read_watermark(lake, "geospatial", "addresses") is None
    assert S.read(lake, "meta.watermarks").height == 1


def test_each_resource_of_a_feed_has_its_own_watermark_row(lake: Settings, tmp_path: Path) -> None:
    load_batch(lake, S.stage(tmp_path, "p1", S.persons([1]), cursor_max="2026-01-05"))
    movers = S.stage(tmp_path, "m1", S.persons([2]), resource="movers", cursor_max="2026-01-03")
    assert load_batch(lake, movers).watermark_moved
    assert read_watermark(lake, "population", "persons") == "2026-01-05"
    assert read_watermark(lake, "population", "movers") == "2026-01-03"
    rows = S.read(lake, "meta.watermarks").sort("resource")
    assert rows.select("feed", "resource", "cursor_value").rows() == [
        ("population", "movers", "2026-01-03"),
        ("population", "persons", "2026-01-05"),
    ]
    assert S.read(lake, "meta.batches").sort("batch_id")["resource"].to_list() == [
        "movers",
        "persons",
    ]


def test_a_batch_moving_the_watermark_needs_a_resource_batch_id(
    lake: Settings, tmp_path: Path
) -> None:
    staged = S.stage(tmp_path, "d1", S.persons([1]), cursor_max="2026-01-05")
    odd = staged.model_copy(update={"batch_id": "manual-1"})
    with pytest.raises(StagedBatchError, match="population-persons-"):
        load_batch(lake, odd)


def test_read_watermark_before_the_lake_exists_is_none(settings: Settings) -> None:
    assert read_watermark(settings, "population", "persons") is None


def test_loading_into_a_lake_without_tables_says_to_initialise_it(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(LakeError, match="citybrain lake init"):
        load_batch(settings, S.stage(tmp_path, "d1", S.persons([1])))


# --- a renamed lake, retries ---------------------------------------------------------------


def test_a_lake_attached_under_another_name_loads_the_same(
    settings: Settings, tmp_path: Path
) -> None:
    city = settings.model_copy(update={"lake_name": "city"})
    init_lake(city)
    result = load_batch(city, S.stage(tmp_path, "d1", S.persons(range(2)), cursor_max="2026-01-01"))
    assert result.rows_loaded == 2
    assert read_watermark(city, "population", "persons") == "2026-01-01"
    assert (
        load_batch(
            city, S.stage(tmp_path, "d1", S.persons(range(2)), cursor_max="2026-01-01")
        ).status
        == "skipped_duplicate"
    )


def test_a_commit_beaten_by_another_writer_is_retried_from_a_fresh_snapshot(
    lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = S.stage(tmp_path, "d1", S.persons(range(0, 3)))
    theirs = S.stage(
        tmp_path, "d2", S.persons(range(1, 5), name="他们", updated=datetime(2026, 1, 9))
    )
    other = attach(lake)  # another DuckDB instance: to SQLite, another process
    real = ledger_module.record_loaded
    calls: list[str] = []

    def interleaved(con, lake_name, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["batch_id"])
        if calls == [ours.batch_id]:
            # Another writer commits while our transaction is open: our COMMIT fails.
            load_batch(lake, theirs, con=other)
        return real(con, lake_name, **kwargs)

    written: list[str] = []
    write = versions_module.write_versions

    def counted(job, *args, **kwargs):  # type: ignore[no-untyped-def]
        written.append(job.batch_id)
        return write(job, *args, **kwargs)

    monkeypatch.setattr(ledger_module, "record_loaded", interleaved)
    monkeypatch.setattr(versions_module, "write_versions", counted)
    result = load_batch(lake, ours)
    other.close()

    assert calls == [ours.batch_id, theirs.batch_id, ours.batch_id]  # ours ran twice
    assert written == [ours.batch_id, theirs.batch_id]  # on the versions written once
    # The retry planned against their commit: keys 1-2 (theirs, newer) stay theirs.
    assert (result.rows_inserted, result.duplicates.older_than_lake) == (1, 2)
    core = S.read(lake, "core.person").sort("id_number")
    assert core["name"].to_list() == ["张三", "他们", "他们", "他们", "他们"]
    assert S.read(lake, "meta.batches")["status"].to_list() == ["loaded", "loaded"]
    _reconciles(lake)


# --- the SQL files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "name"), [(f, n) for f in ("load", "quarantine") for n in sql_files(f)]
)
def test_every_loader_sql_file_uses_only_columns_of_the_standard(folder: str, name: str) -> None:
    tree = parsed(folder, name)
    aliases: dict[str, set[str]] = {}
    for tbl in tree.find_all(exp.Table):
        if tbl.catalog == "lake":
            model = model_of(f"{tbl.db}.{tbl.name}")
            aliases[tbl.alias_or_name] = {c.name for c in table_columns(model)}
    for column in tree.find_all(exp.Column):
        if column.table in aliases:
            assert column.name in aliases[column.table], f"{name}: {column.sql()}"
    insert = tree if isinstance(tree, exp.Insert) else None
    if insert is not None and isinstance(insert.this, exp.Schema):
        target = insert.this.this
        allowed = {c.name for c in table_columns(model_of(f"{target.db}.{target.name}"))}
        assert {c.name for c in insert.this.expressions} <= allowed


def test_statements_follow_the_lake_name() -> None:
    sql = statement("load", "batch_status", "city")
    assert "city.meta.batches" in sql and "lake." not in sql
    assert sqlglot.parse_one(sql, read="duckdb")
