"""init_lake: the lake equals the standard, is created once, and never drifts silently."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import polars as pl
import pytest
from sqlglot import exp

from schemas.errors import SpecError
from schemas.generate import table_columns, table_name
from schemas.records import TABLES, table
from schemas.records.base import CanonicalRecord
from schemas.standard import std
from warehouse.lake import LAKE_SCHEMAS, SchemaDrift, attach, init_lake
from warehouse.sql import load_sql

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

    import duckdb

    from schemas.settings import Settings


def _snapshots(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(load_sql("lake_snapshots"), {"lake": "lake"}).fetchone()[0]


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str, bool, str]]]:
    out: dict[str, list[tuple[str, str, bool, str]]] = {}
    for schema, name, column, sql_type, nullable, comment in con.execute(
        load_sql("lake_columns"), {"lake": "lake"}
    ).fetchall():
        out.setdefault(f"{schema}.{name}", []).append((column, sql_type, nullable, comment))
    return out


@pytest.fixture(scope="module")
def standard_lake(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[duckdb.DuckDBPyConnection]:
    from schemas.settings import Settings

    settings = Settings(
        home=tmp_path_factory.mktemp("lake"), lake_catalog=None, lake_data_path=None
    )
    init_lake(settings)
    con = attach(settings, read_only=True)
    yield con
    con.close()


def _standard_tables() -> list[tuple[type[CanonicalRecord], bool]]:
    return [(m, h) for m in TABLES for h in ((False, True) if m.__history__ else (False,))]


@pytest.mark.parametrize(
    ("model", "history"),
    _standard_tables(),
    ids=[table_name(m, history=h) for m, h in _standard_tables()],
)
def test_lake_table_equals_its_model(
    standard_lake: duckdb.DuckDBPyConnection, model: type[CanonicalRecord], history: bool
) -> None:
    found = _columns(standard_lake)[table_name(model, history=history)]
    wanted = [
        (c.name, c.sql_type, c.nullable, c.standard.label)
        for c in table_columns(model, history=history)
    ]
    assert found == wanted


def test_lake_has_exactly_the_standard_tables_and_zones(
    standard_lake: duckdb.DuckDBPyConnection,
) -> None:
    tables = {
        f"{s}.{t}"
        for s, t, _ in standard_lake.execute(load_sql("lake_tables"), {"lake": "lake"}).fetchall()
    }
    assert tables == {table_name(m, history=h) for m, h in _standard_tables()}
    schemas = {
        r[0] for r in standard_lake.execute(load_sql("lake_schemas"), {"lake": "lake"}).fetchall()
    }
    assert set(LAKE_SCHEMAS) <= schemas
    labels = dict(
        (f"{s}.{t}", c)
        for s, t, c in standard_lake.execute(load_sql("lake_tables"), {"lake": "lake"}).fetchall()
    )
    assert labels["core.person"] == "人口基础信息"
    assert labels["core.person_history"] == "人口基础信息（历史）"


def test_init_creates_catalog_and_data_folders(settings: Settings) -> None:
    report = init_lake(settings)
    assert report.changed
    assert (settings.home / "lake" / "catalog.sqlite").is_file()
    assert (settings.home / "lake" / "data").is_dir()
    assert set(report.created_schemas) == set(LAKE_SCHEMAS)


def test_init_twice_changes_nothing(settings: Settings) -> None:
    first = init_lake(settings)
    con = attach(settings, read_only=True)
    before = (_snapshots(con), _columns(con))
    con.close()

    second = init_lake(settings)

    con = attach(settings, read_only=True)
    after = (_snapshots(con), _columns(con))
    con.close()
    assert first.changed
    assert first.snapshot_id is not None
    assert not second.changed
    assert second.snapshot_id is None
    assert after == before  # no new snapshot, same tables, same columns


class Probe(CanonicalRecord):
    __table__: ClassVar[str] = "meta.probe"
    __business_key__: ClassVar[tuple[str, ...]] = ("code",)
    __label__: ClassVar[str] = "探针"
    __owner__: ClassVar[str] = "测试"

    code: str = std("代码", "Business key.", business_key=True)
    count: int = std("数量", "A number.")
    note: str | None = std("备注", "Optional text.", default=None)
    legacy: str | None = std("旧字段", "Dropped in the next version.", default=None)


class ProbeDrifted(CanonicalRecord):
    __table__: ClassVar[str] = "meta.probe"
    __business_key__: ClassVar[tuple[str, ...]] = ("code",)
    __label__: ClassVar[str] = "探针"
    __owner__: ClassVar[str] = "测试"

    code: str = std("代码", "Business key.", business_key=True)
    count: str = std("数量", "Now text.")  # BIGINT -> VARCHAR
    note: str = std("备注", "Now required.")  # nullable -> NOT NULL
    added: dt.date | None = std("新字段", "New column.", default=None)  # not in the lake


class ProbeRelabelled(CanonicalRecord):
    __table__: ClassVar[str] = "meta.probe"
    __business_key__: ClassVar[tuple[str, ...]] = ("code",)
    __label__: ClassVar[str] = "探针表"
    __owner__: ClassVar[str] = "测试"

    code: str = std("编码", "Business key.", business_key=True)
    count: int = std("数量", "A number.")
    note: str | None = std("备注", "Optional text.", default=None)
    legacy: str | None = std("旧字段", "Dropped in the next version.", default=None)


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """One writable connection per test: each attach costs ~0.3 s of extension loading."""
    con = attach(settings)
    yield con
    con.close()


def test_drifted_table_stops_init_with_the_migration_to_write(
    settings: Settings, con: duckdb.DuckDBPyConnection
) -> None:
    init_lake(settings, [Probe], con=con)
    before = (_snapshots(con), _columns(con))

    with pytest.raises(SchemaDrift) as caught:
        init_lake(settings, [ProbeDrifted], con=con)

    message = str(caught.value)
    assert "meta.probe.count: the lake has BIGINT, the model says VARCHAR" in message
    assert "meta.probe.note: the lake allows NULL, the model requires a value" in message
    assert "meta.probe.added: in the model (DATE), missing from the lake" in message
    assert "ALTER TABLE lake.meta.probe ADD COLUMN added DATE" in message
    assert "meta.probe.legacy: in the lake (VARCHAR), not in the model" in message
    assert "migration" in message
    assert {(d.table, d.column) for d in caught.value.drifts} == {
        ("meta.probe", "count"),
        ("meta.probe", "note"),
        ("meta.probe", "added"),
        ("meta.probe", "legacy"),
    }
    assert (_snapshots(con), _columns(con)) == before  # nothing was altered


def test_drift_is_reported_before_anything_is_created(
    settings: Settings, con: duckdb.DuckDBPyConnection
) -> None:
    init_lake(settings, [Probe], con=con)
    with pytest.raises(SchemaDrift):
        init_lake(settings, [ProbeDrifted, *TABLES], con=con)
    assert "core.person" not in _columns(con)


def test_changed_labels_are_refreshed_without_a_migration(
    settings: Settings, con: duckdb.DuckDBPyConnection
) -> None:
    init_lake(settings, [Probe], con=con)
    report = init_lake(settings, [ProbeRelabelled], con=con)
    assert report.relabelled == ("meta.probe",)
    columns = _columns(con)["meta.probe"]
    tables = {t: c for _, t, c in con.execute(load_sql("lake_tables"), {"lake": "lake"}).fetchall()}
    assert columns[0][3] == "编码"
    assert tables["probe"] == "探针表"
    assert not init_lake(settings, [ProbeRelabelled], con=con).changed


def test_new_model_adds_only_its_table(settings: Settings, con: duckdb.DuckDBPyConnection) -> None:
    init_lake(settings, [Probe], con=con)
    report = init_lake(settings, [Probe, table("core.person")], con=con)
    assert report.created_tables == ("core.person", "core.person_history")


def test_same_table_declared_twice_is_a_spec_error(settings: Settings) -> None:
    with pytest.raises(SpecError, match=r"meta\.probe is declared twice"):
        init_lake(settings, [Probe, ProbeDrifted])


# --- a lake made before meta.* had a resource column ---------------------------------------

RESOURCE_TABLES = ("meta.batches", "meta.deliveries", "meta.quarantine", "meta.watermarks")


def _support() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_support", Path(__file__).with_name("test_load_support.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lake_before_the_resource_column(settings: Settings, legacy_row: dict[str, str]) -> None:
    """A lake as the loader left it before meta.* had a resource column: the tables without
    it, a watermark and a quarantined row known only by their batch ids."""
    init_lake(settings)
    con = attach(settings)
    try:
        for name in RESOURCE_TABLES:
            drop = exp.Drop(tables=[exp.column("resource")], kind="COLUMN")
            table = exp.to_table(name)
            table.set("catalog", exp.to_identifier("lake"))
            con.execute(exp.Alter(this=table, kind="TABLE", actions=[drop]).sql("duckdb"))
        con.execute(
            "INSERT INTO lake.meta.watermarks VALUES "
            "('population', 'GXSJ', '2026-01-01 00:00:00', 'population-persons-old', "
            "TIMESTAMP '2026-01-01 01:00:00')"
        )
        con.execute(
            "INSERT INTO lake.meta.quarantine VALUES ('population', 'population-persons-old', "
            "'gaj_rk_old.csv', 9, CAST($raw AS JSON), ['name.missing'], "
            "TIMESTAMP '2026-01-01 01:00:00', NULL, NULL)",
            {"raw": json.dumps(legacy_row, ensure_ascii=False)},
        )
    finally:
        con.close()


@pytest.mark.slow  # ~20 s: init, migrate, load and replay on one lake
def test_a_lake_from_before_the_resource_column_takes_it_with_the_reported_alter(
    settings: Settings, tmp_path: Path
) -> None:
    from feeds.spec import FEEDS
    from warehouse.load import load_batch, read_watermark
    from warehouse.quarantine import list_quarantine, replay

    support = _support()
    legacy_id = support.citizen_id("11010519800808001")
    _lake_before_the_resource_column(settings, support.population_row(legacy_id))

    with pytest.raises(SchemaDrift) as caught:
        init_lake(settings)
    drifts = caught.value.drifts
    assert {(d.table, d.column) for d in drifts} == {(t, "resource") for t in RESOURCE_TABLES}
    # Nullable at the end of each table: a plain ADD COLUMN, nothing to fill first.
    assert {d.fix for d in drifts} == {
        f"ALTER TABLE lake.{t} ADD COLUMN resource TEXT" for t in RESOURCE_TABLES
    }

    con = attach(settings)
    try:
        for drift in drifts:
            con.execute(drift.fix)
    finally:
        con.close()
    assert set(init_lake(settings).relabelled) == set(RESOURCE_TABLES)  # labels only
    assert not init_lake(settings).changed

    # Rows written before the column are still found by their batch id's prefix.
    assert read_watermark(settings, "population", "persons") == "2026-01-01 00:00:00"
    assert read_watermark(settings, "population", "movers") is None
    assert list_quarantine(settings, resource="persons").total == 1
    assert list_quarantine(settings, resource="movers").total == 0

    staged = support.stage(tmp_path, "d1", support.persons([1]), cursor_max="2026-01-02")
    assert load_batch(settings, staged).watermark_moved
    watermarks = support.read(settings, "meta.watermarks")
    assert watermarks.select("resource", "cursor_value", "batch_id").rows() == [
        ("persons", "2026-01-02", staged.batch_id)  # the old row, moved and filled in
    ]
    assert support.read(settings, "meta.batches")["resource"].to_list() == ["persons"]

    fields = dict(FEEDS["population"].resources[0].fields)
    result = replay(
        settings, "population", "core.person", fields, resource="persons",
        person_key=b"test-person-key", updated_at="source_updated_at",
    )  # fmt: skip
    assert (result.replayed, result.resolved) == (1, 1)
    assert support.read(settings, "core.person")["id_number"].to_list() == [
        f"{1:018d}",
        legacy_id,
    ]
    replayed = support.read(settings, "meta.batches").filter(
        pl.col("batch_id") == result.load.batch_id
    )
    assert replayed["resource"].to_list() == ["persons"]
